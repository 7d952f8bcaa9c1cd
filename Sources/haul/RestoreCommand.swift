import ArgumentParser
import Foundation
import Glibc
import HaulEngine
import HaulFormat
import HaulRepository

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot into a directory.",
        discussion: """
            Recreates files, directories, symlinks, hard links, sparse files (as holes), FIFOs and device nodes, \
            with modes, times (nanoseconds), extended attributes and ACLs; owners when run as root. The target must \
            be empty or missing unless --overwrite says how to treat existing files.

            Example: haul restore --repo /backup/repo latest --target /srv/restore --include 'data/etc/**'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Snapshot id prefix or `latest`.")
    var snapshot: String

    @Option(name: .long, help: "Directory to restore into (created if missing).")
    var target: String

    @Option(name: .long, help: "Restore only paths matching this glob, and what they contain (repeatable).")
    var include: [String] = []

    @Option(name: .long, help: "How to treat existing files in a non-empty target: always (replace) or never (keep).")
    var overwrite: String?

    func run() async throws {
        var options = RestoreOptions()
        options.includes = try include.map { try PathPattern($0) }
        switch overwrite {
        case nil: options.overwrite = .refuseNonEmptyTarget
        case "always": options.overwrite = .always
        case "never": options.overwrite = .never
        case let other?: throw ValidationError("--overwrite takes always or never, not \(other)")
        }
        let repository = try await global.openRepository()
        let snap = try await repository.resolveSnapshot(snapshot)
        let counters = ProgressCounters()
        let json = global.json
        let warnings = WarningLog { w in if !json { printErr("warning: \(w)") } }
        let restorer = Restorer(source: repository, options: options, progress: counters, warnings: warnings)
        let target = argumentBytes(target)
        let root = try snap.snapshot.treeID()
        let start = Date()
        let summary = try await global.leases(repository).withLease(.shared, purpose: "restore") {
            try await ProgressDisplay(counters: counters, verb: "restored").run(enabled: global.showProgress) {
                try await restorer.restore(root: root, to: target)
            }
        }
        if global.json {
            try printJSON(summary)
        } else if !global.quiet {
            let secs = Date().timeIntervalSince(start)
            print(
                "restored snapshot \(snap.id.hex.prefix(16)): \(summary.files) files, \(summary.directories) directories, "
                    + "\(formatBytes(summary.bytesWritten)) in \(String(format: "%.2f", secs)) s")
        }
        if summary.warnings > 0 { throw ExitCode(ExitStatus.warnings) }
    }
}
