import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify the repository's structure, and with --read-data every stored byte.",
        discussion: """
            Without --read-data: every index file opens, every indexed pack exists with the right size, every \
            snapshot's trees load and name only indexed blobs. With --read-data also: every pack's SHA-256 matches its \
            name and every blob authenticates and matches its id. Damaged packs are named with the files they affect.

            Example: haul check --repo /backup/repo --read-data
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Read and verify all data.")
    var readData = false

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let counters = ProgressCounters()
        let checker = Checker(repository: repository, progress: counters)
        let readData = self.readData
        let report = try await global.leases(repository).withLease(.shared, purpose: "check") {
            try await ProgressDisplay(counters: counters, verb: "checked").run(enabled: global.showProgress && readData)
            {
                try await checker.check(readData: readData)
            }
        }
        if global.json {
            try printJSON(report)
        } else {
            print(
                "\(report.indexFiles) index files, \(report.packs) packs, \(report.blobs) blobs, \(report.snapshots) snapshots, \(report.trees) trees"
            )
            if readData { print("read \(report.packsRead) packs, \(formatBytes(report.bytesRead))") }
            if !report.unreferencedPacks.isEmpty {
                print(
                    "\(report.unreferencedPacks.count) packs are not in any index (left by an interrupted backup; `haul prune` removes them)"
                )
            }
            for p in report.problems { print("error: \(p.message)") }
            if !report.affectedFiles.isEmpty {
                print("files whose content is damaged:")
                for f in report.affectedFiles { print("  snapshot \(f.snapshot.prefix(16)): /\(f.path)") }
            }
            print(report.isClean ? "no errors were found" : "\(report.problems.count) errors were found")
        }
        if !report.isClean { throw ExitCode(ExitStatus.fatal) }
    }
}
