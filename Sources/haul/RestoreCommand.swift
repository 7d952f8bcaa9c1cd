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
            be empty or missing unless --overwrite says how to treat existing files: always (replace them), never \
            (keep them) or if-changed (keep a file whose size and mtime equal the snapshot's, replace the rest).

            A file appears under its own name only when it is complete (it is written as an unnamed file, or \
            under a temporary .haul-restore-* name where the file system has no O_TMPFILE, its mtime set last), so \
            an interrupted restore is resumed by running it again with --overwrite if-changed: finished files are \
            kept, leftovers removed, the rest written.

            --dry-run writes nothing and reports what would be written (files and their bytes; every entry with \
            -v or --json). --verify reads every restored file back and checks each chunk's id recomputed with the \
            repository keys; any difference is listed and the exit status is 1.

            Files are written through the page cache and not fsynced: run sync(1) when the restore must be durable. \
            --direct-io writes files of 1 MiB or more past the page cache instead.

            Example: haul restore --repo /backup/repo latest --target /srv/restore --include 'data/etc/**'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Snapshot id prefix or `latest`.")
    var snapshot: String

    @Option(name: .long, help: "Directory to restore into (created if missing).")
    var target: String

    @Option(name: .long, help: "Restore only paths matching this glob, and what they contain (repeatable).")
    var include: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How to treat existing files in a non-empty target: always (replace), if-changed (keep files with the "
                + "snapshot's size and mtime; resumes an interrupted restore) or never (keep).",
            valueName: "always|if-changed|never"))
    var overwrite: String?

    @Flag(name: .long, help: "Write nothing; report what would be written.")
    var dryRun = false

    @Flag(name: .long, help: "After restoring, read every restored file back and compare it with the snapshot.")
    var verify = false

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Write files of 1 MiB or more with O_DIRECT, past the page cache: a large restore then does not evict "
                + "what the machine has cached (slower on journaled ext4, bench/RESULTS.md)."))
    var directIO = false

    @Flag(name: .shortAndLong, help: "With --dry-run, list every entry and what would happen to it.")
    var verbose = false

    func validate() throws {
        if dryRun && verify { throw ValidationError("--dry-run writes nothing, so there is nothing to --verify") }
    }

    func run() async throws {
        var options = RestoreOptions()
        options.includes = try argumentBytes(include).map { try PathPattern(bytes: $0) }
        switch overwrite {
        case nil: options.overwrite = .refuseNonEmptyTarget
        case "always": options.overwrite = .always
        case "if-changed": options.overwrite = .ifChanged
        case "never": options.overwrite = .never
        case let other?: throw ValidationError("--overwrite takes always, if-changed or never, not \(other)")
        }
        options.directWrites = directIO
        let repository = try await global.openRepository()
        let snap = try await repository.resolveSnapshot(snapshot)
        let counters = ProgressCounters()
        let json = global.json
        let warnings = WarningLog { w in if !json { printErr("warning: \(w)") } }
        let restorer = Restorer(source: repository, options: options, progress: counters, warnings: warnings)
        let target = argumentBytes(target)
        let root = try snap.snapshot.treeID()
        if dryRun {
            let listEntries = global.json || verbose
            let plan = try await global.leases(repository).withLease(.shared, purpose: "restore") {
                try await restorer.plan(root: root, to: target, listEntries: listEntries)
            }
            printPlan(plan)
            return
        }
        let start = Date()
        let verify = self.verify
        let includes = options.includes
        let (summary, verification) = try await global.leases(repository).withLease(.shared, purpose: "restore") {
            let summary = try await ProgressDisplay(counters: counters, verb: "restored").run(
                enabled: global.showProgress
            ) {
                try await restorer.restore(root: root, to: target)
            }
            guard verify else { return (summary, RestoreVerification?.none) }
            let verifier = RestoreVerifier(repository: repository, includes: includes, progress: ProgressCounters())
            return (summary, try await verifier.verify(root: root, at: target))
        }
        if global.json {
            try printJSON(Output(summary: summary, warnings: warnings.all, verification: verification))
        } else if !global.quiet {
            let secs = Date().timeIntervalSince(start)
            var line =
                "restored snapshot \(snap.id.hex.prefix(16)): \(summary.files) files, \(summary.directories) directories, "
                + "\(formatBytes(summary.bytesWritten)) in \(String(format: "%.2f", secs)) s"
            if summary.unchanged > 0 { line += "; \(summary.unchanged) files unchanged" }
            if summary.skipped > 0 { line += "; \(summary.skipped) existing entries kept" }
            print(line)
            if let verification, verification.isClean {
                print(
                    "verified \(verification.files) files, \(formatBytes(verification.bytes)): all equal the snapshot")
            }
        }
        if let verification, !verification.isClean {
            for m in verification.mismatches { printErr("mismatch: \(m.path): \(m.reason)") }
            printErr(
                "haul: \(verification.mismatches.count) of \(verification.files) restored files differ from the "
                    + "snapshot; restore them again (--overwrite always) and check the target's disk")
            throw ExitCode(ExitStatus.fatal)
        }
        if summary.warnings > 0 { throw ExitCode(ExitStatus.warnings) }
    }

    private func printPlan(_ plan: RestorePlan) {
        if global.json {
            try? printJSON(plan)
            return
        }
        if verbose {
            for entry in plan.entries ?? [] {
                let size = entry.kind == "file" && entry.bytes > 0 ? " (\(formatBytes(entry.bytes)))" : ""
                print("\(entry.action.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(entry.path)\(size)")
            }
        }
        if global.quiet { return }
        var line =
            "would restore \(plan.files) files (\(formatBytes(plan.bytes))), \(plan.directories) directories, "
            + "\(plan.hardlinks) hard links, \(plan.otherEntries) other entries"
        if plan.unchanged > 0 { line += "; \(plan.unchanged) files unchanged" }
        if plan.skipped > 0 { line += "; \(plan.skipped) existing entries kept" }
        print(line + " (dry run: nothing was written)")
    }

    /// The restore summary's fields, with `warnings` as the list of warnings (path and message, as `backup --json`
    /// prints them) and their number as `warningCount`, plus `verification` with --verify.
    struct Output: Encodable {
        let summary: RestoreSummary
        let warnings: [EngineWarning]
        let verification: RestoreVerification?

        struct Warning: Encodable {
            let path: LosslessBytes
            let message: String
        }

        enum Keys: String, CodingKey {
            case files, directories, symlinks, hardlinks, specialFiles, bytesWritten, skipped, unchanged
            case warningCount, warnings, verification
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(summary.files, forKey: .files)
            try c.encode(summary.directories, forKey: .directories)
            try c.encode(summary.symlinks, forKey: .symlinks)
            try c.encode(summary.hardlinks, forKey: .hardlinks)
            try c.encode(summary.specialFiles, forKey: .specialFiles)
            try c.encode(summary.bytesWritten, forKey: .bytesWritten)
            try c.encode(summary.skipped, forKey: .skipped)
            try c.encode(summary.unchanged, forKey: .unchanged)
            try c.encode(summary.warnings, forKey: .warningCount)
            try c.encode(
                warnings.map { Warning(path: LosslessBytes($0.path), message: $0.message) }, forKey: .warnings)
            try c.encodeIfPresent(verification, forKey: .verification)
        }
    }
}
