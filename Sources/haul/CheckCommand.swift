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

            --read-data-subset reads only some packs, and every form rolls: N/M splits the packs into M fixed \
            groups by id and reads group N, so running 1/M, 2/M … M/M (say one a day) reads every pack exactly \
            once. P% and a size (500M, 2G; K, M, G, T are powers of 1024) continue from a cursor kept per \
            repository in the local cache (check-cursor.json): P% reads the next share of the packs in id order, so \
            ceil(100/P) runs read every pack exactly once; a size reads the next packs until that many bytes are \
            read. Without a cache directory (or after it was deleted) they start again from the first pack.

            Example: haul check --repo /backup/repo --read-data
            Example: haul check --repo /backup/repo --read-data-subset 3/7
            Example: haul check --repo /backup/repo --read-data-subset 10%
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Read and verify all data.")
    var readData = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read and verify only a rolling subset of the packs: N/M (group N of M), P% (the next P percent) or a "
                + "size (the next packs up to that many bytes).",
            valueName: "subset"))
    var readDataSubset: String?

    func validate() throws {
        if readData && readDataSubset != nil {
            throw ValidationError("give either --read-data or --read-data-subset, not both")
        }
        if let readDataSubset {
            do {
                _ = try PackSubset(parsing: readDataSubset)
            } catch let e as HaulError {
                throw ValidationError("--read-data-subset: \(e.message)")
            }
        }
    }

    func run() async throws {
        let subset = try readDataSubset.map { try PackSubset(parsing: $0) } ?? .all
        let repository = try await global.openRepository(loadIndex: false)
        let counters = ProgressCounters()
        let checker = Checker(repository: repository, progress: counters)
        let readData = self.readData || readDataSubset != nil
        let cursorDirectory = repository.cacheDirectory.map { "\($0)/\(repository.config.id)" }
        let cursor = subset.usesCursor ? cursorDirectory.map { SubsetCursor.load(directory: $0) } : nil
        let report = try await global.leases(repository).withLease(.shared, purpose: "check") {
            try await ProgressDisplay(counters: counters, verb: "checked").run(enabled: global.showProgress && readData)
            {
                try await checker.check(readData: readData, subset: subset, cursor: cursor)
            }
        }
        if let next = report.cursor, let cursorDirectory { try next.save(directory: cursorDirectory) }
        if global.json {
            try printJSON(report)
        } else {
            print(
                "\(report.indexFiles) index files, \(report.packs) packs, \(report.blobs) blobs, \(report.snapshots) snapshots, \(report.trees) trees"
            )
            if readData {
                let of =
                    readDataSubset.map { " (subset \($0): \(report.readPacks.count) of \(report.packs) packs)" } ?? ""
                print("read \(report.packsRead) packs, \(formatBytes(report.bytesRead))\(of)")
            }
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
