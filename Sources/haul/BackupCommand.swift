import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up files and directories into a new snapshot.",
        discussion: """
            Unchanged files (same size, mtime, ctime and inode as in the previous snapshot of the same paths on this \
            host) are not read again. Exclude patterns are globs matched against the path inside the snapshot, \
            which starts with the last component of each PATH: `*` within a name, `**` across directories, a \
            pattern without `/` matches a name at any depth, a trailing `/` only directories (docs/patterns.md).

            Exit status 3 means the snapshot was written but some files could not be read (they are listed).

            Example: haul backup --repo /backup/repo /srv/data --exclude '*.tmp' --exclude 'cache/' --tag daily
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or directories to back up.")
    var paths: [String]

    @Option(name: .long, help: "Exclude paths matching this glob (repeatable).")
    var exclude: [String] = []

    @Option(name: .long, help: "Tag the snapshot (repeatable).")
    var tag: [String] = []

    @Option(name: .long, help: "Use this snapshot as parent for change detection (default: latest of the same paths).")
    var parent: String?

    @Flag(name: .long, help: "Read every file again (ignore the parent snapshot's metadata).")
    var force = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one PATH to back up") }
    }

    func run() async throws {
        let repository = try await global.openRepository()
        let patterns = try exclude.map { try PathPattern($0) }
        let absolute = paths.map { p -> [UInt8] in
            p.hasPrefix("/") ? argumentBytes(p) : argumentBytes(FileManager.default.currentDirectoryPath + "/" + p)
        }
        var options = BackupOptions(hostname: Host.currentName, username: Host.userName)
        options.excludes = patterns
        // Tuning knobs for benchmarks (docs/architecture.md); the defaults suit a 2-core machine.
        let env = ProcessInfo.processInfo.environment
        if let v = env["HAUL_FILE_CONCURRENCY"].flatMap(Int.init), v > 0 { options.fileConcurrency = v }
        if let v = env["HAUL_CHUNK_CONCURRENCY"].flatMap(Int.init), v > 0 { options.chunkConcurrency = v }
        options.tags = tag
        if !force {
            if let parent {
                options.parent = try await repository.resolveSnapshot(parent)
            } else {
                let wanted = absolute.map(LosslessBytes.init)
                options.parent = try await repository.listSnapshots().last {
                    $0.snapshot.hostname == options.hostname && $0.snapshot.paths == wanted
                }
            }
        }
        let counters = ProgressCounters()
        let json = global.json
        let warnings = WarningLog { w in if !json { printErr("warning: \(w)") } }
        let archiver = Archiver(repository: repository, progress: counters, warnings: warnings)
        let opts = options
        let result = try await global.leases(repository).withLease(.shared, purpose: "backup") {
            try await ProgressDisplay(counters: counters, verb: "backed up").run(enabled: global.showProgress) {
                try await archiver.backup(paths: absolute, options: opts)
            }
        }
        let s = result.snapshot.summary
        if global.json {
            struct Out: Encodable {
                let snapshot: String
                let parent: String?
                let summary: Snapshot.Summary
                let warnings: [Warning]
            }
            struct Warning: Encodable {
                let path: LosslessBytes
                let message: String
            }
            try printJSON(
                Out(
                    snapshot: result.snapshotID.hex, parent: result.snapshot.parent, summary: s,
                    warnings: result.warnings.map { Warning(path: LosslessBytes($0.path), message: $0.message) }))
        } else if !global.quiet {
            let secs = Double(result.snapshot.endNanos - result.snapshot.startNanos) / 1e9
            print(
                "Files: \(s.filesNew) new, \(s.filesChanged) changed, \(s.filesUnchanged) unchanged; \(s.directories) directories"
            )
            print(
                "Data: \(formatBytes(s.bytes)) scanned, \(formatBytes(s.bytesRead)) read, \(formatBytes(s.bytesAdded)) new, \(formatBytes(s.bytesStored)) stored"
            )
            print(String(format: "snapshot %@ saved in %.2f s", String(result.snapshotID.hex.prefix(16)), secs))
            if !result.warnings.isEmpty {
                print("\(result.warnings.count) warnings: the snapshot is incomplete for those paths")
            }
        }
        if !result.warnings.isEmpty { throw ExitCode(ExitStatus.warnings) }
    }
}
