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

            Paths come from the arguments and from --files-from FILE (one per line, `-` reads standard input; \
            blank lines and lines starting with # are ignored). Each is made absolute and cleaned (`.`, `..`, \
            repeated and trailing `/`), so `haul backup .` backs up the current directory under its own name. \
            --exclude-file FILE reads patterns the same way. --one-file-system stays on the file system of each PATH (a mount point below it is kept as an empty \
            directory). --exclude-caches leaves out the content of directories holding a valid CACHEDIR.TAG.

            --stdin backs up standard input as one file, --stdin-filename NAME (default stdin), in the snapshot \
            root, streamed through the chunker: `pg_dump db | haul backup --stdin --stdin-filename db.sql`.

            --pre-command CMD runs `/bin/sh -c CMD` first; if it fails, nothing is written and the exit status is \
            1. --post-command CMD runs afterwards, also after a failed backup, with HAUL_BACKUP_STATUS=ok or failed \
            (and HAUL_SNAPSHOT_ID when a snapshot was written) in its environment; a failing post-command makes \
            the exit status 1. Their output goes to standard error.

            On a terminal a progress line shows files, bytes, rate and, once a previous snapshot of the same paths \
            exists, an ETA: the total is estimated as that snapshot's size (no pre-scan), so the first backup of \
            some paths shows no ETA.

            Exit status 3 means the snapshot was written but some files could not be read (they are listed).

            Example: haul backup --repo /backup/repo /srv/data --exclude '*.tmp' --exclude 'cache/' --tag daily
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or directories to back up.")
    var paths: [String] = []

    @Option(name: .long, help: "Exclude paths matching this glob (repeatable).")
    var exclude: [String] = []

    @Option(name: .long, help: "Exclude paths matching the patterns in FILE, one per line (repeatable).")
    var excludeFile: [String] = []

    @Option(name: .long, help: "Back up the paths listed in FILE, one per line; `-` reads standard input (repeatable).")
    var filesFrom: [String] = []

    @Flag(name: .long, help: "Do not cross into other file systems (mount points are kept as empty directories).")
    var oneFileSystem = false

    @Flag(name: .long, help: "Leave out the content of directories holding a valid CACHEDIR.TAG.")
    var excludeCaches = false

    @Flag(name: .long, help: "Back up standard input as one file (see --stdin-filename).")
    var stdin = false

    @Option(name: .long, help: "The name of the file --stdin makes in the snapshot.")
    var stdinFilename = "stdin"

    @Option(name: .long, help: "Run this shell command before the backup; stop if it fails.")
    var preCommand: String?

    @Option(name: .long, help: "Run this shell command after the backup, with HAUL_BACKUP_STATUS=ok|failed.")
    var postCommand: String?

    @Option(name: .long, help: "Tag the snapshot (repeatable).")
    var tag: [String] = []

    @Option(name: .long, help: "Use this snapshot as parent for change detection (default: latest of the same paths).")
    var parent: String?

    @Flag(name: .long, help: "Read every file again (ignore the parent snapshot's metadata).")
    var force = false

    func validate() throws {
        if stdin {
            if !paths.isEmpty || !filesFrom.isEmpty {
                throw ValidationError("--stdin backs up standard input only; give no PATH and no --files-from")
            }
        } else if paths.isEmpty && filesFrom.isEmpty {
            throw ValidationError("give at least one PATH to back up, --files-from FILE, or --stdin")
        }
        if filesFrom.filter({ $0 == "-" }).count > 1 { throw ValidationError("--files-from - can be given once") }
    }

    func run() async throws {
        if let preCommand {
            let errors = try ShellHook(role: "pre-command", command: preCommand).run()
            FileHandle.standardError.write(Data(errors.utf8))
        }
        var snapshotID: SnapshotID?
        let outcome: Result<Void, any Error>
        do {
            try await backup { snapshotID = $0 }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        if let postCommand {
            var environment = ["HAUL_BACKUP_STATUS": snapshotID == nil ? "failed" : "ok"]
            if let snapshotID { environment["HAUL_SNAPSHOT_ID"] = snapshotID.hex }
            do {
                let errors = try ShellHook(role: "post-command", command: postCommand).run(environment: environment)
                FileHandle.standardError.write(Data(errors.utf8))
            } catch {
                guard case .failure = outcome else { throw error }
                printErr("haul: \(error)")  // the backup's own error below is the one that counts
            }
        }
        try outcome.get()
    }

    /// The backup itself; calls `saved` as soon as the snapshot is written.
    private func backup(saved: (SnapshotID) -> Void) async throws {
        let repository = try await global.openRepository()
        var patterns = try argumentBytes(exclude).map { try PathPattern(bytes: $0) }
        for file in excludeFile {
            patterns += try ListFile.patterns(try readArgumentFile(file, option: "--exclude-file"), file: file)
        }
        var given = argumentBytes(paths)
        for file in filesFrom {
            given += ListFile.entries(try readArgumentFile(file, option: "--files-from"))
        }
        let cwd = RawArguments.currentDirectory()
        // Absolute and cleaned (`.`, `dir/`, `a/../b`), as the snapshot records them and as parents are matched.
        let absolute = given.map {
            Archiver.cleanPath($0.first == UInt8(ascii: "/") ? $0 : cwd + [UInt8(ascii: "/")] + $0)
        }
        var options = BackupOptions(hostname: Host.currentName, username: Host.userName)
        options.excludes = patterns
        options.oneFileSystem = oneFileSystem
        options.excludeCaches = excludeCaches
        // Tuning knobs for benchmarks (docs/architecture.md); the defaults suit a 2-core machine.
        let env = ProcessInfo.processInfo.environment
        if let v = env["HAUL_FILE_CONCURRENCY"].flatMap(Int.init), v > 0 { options.fileConcurrency = v }
        if let v = env["HAUL_CHUNK_CONCURRENCY"].flatMap(Int.init), v > 0 { options.chunkConcurrency = v }
        if let v = env["HAUL_SMALL_FILE_CONCURRENCY"].flatMap(Int.init), v > 0 { options.smallFileConcurrency = v }
        options.tags = tag
        // The previous snapshot of the same paths on this host: the parent for change detection (not with --force),
        // and in any case the estimate of the bytes to scan that gives the progress line its ETA.
        var previous: StoredSnapshot?
        if !stdin {
            if let parent {
                previous = try await repository.resolveSnapshot(parent)
            } else {
                let wanted = absolute.map(LosslessBytes.init)
                previous = try await repository.listSnapshots().last {
                    $0.snapshot.hostname == options.hostname && $0.snapshot.paths == wanted
                }
            }
        }
        if !force { options.parent = previous }
        let counters = ProgressCounters()
        if let previous { counters.update { $0.totalBytes = previous.snapshot.summary.bytes } }
        let json = global.json
        let warnings = WarningLog { w in if !json { printErr("warning: \(w)") } }
        let archiver = Archiver(repository: repository, progress: counters, warnings: warnings)
        let opts = options
        let stdinName = stdin ? argumentBytes(stdinFilename) : nil
        let leases = global.leases(repository)
        let quiet = global.quiet || global.json
        let result = try await leases.withLease(.shared, purpose: "backup") {
            // Packs a killed backup stored but did not index yet are indexed now, and reused (format.md §11).
            let adopted = try await OrphanPackRecovery(repository: repository, leases: leases).adopt()
            if adopted.packsAdopted > 0 && !quiet {
                printErr("reusing \(adopted.packsAdopted) packs an interrupted backup left unindexed")
            }
            return try await ProgressDisplay(counters: counters, verb: "backed up").run(enabled: global.showProgress) {
                if let stdinName {
                    try await archiver.backup(stream: 0, name: stdinName, options: opts)
                } else {
                    try await archiver.backup(paths: absolute, options: opts)
                }
            }
        }
        saved(result.snapshotID)
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

    /// The bytes of a file named on the command line; `-` is standard input.
    private func readArgumentFile(_ path: String, option: String) throws -> [UInt8] {
        let data =
            path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
        guard let data else {
            throw HaulError(
                .invalidArgument, "cannot read \(path) (given to \(option)); check the path and permissions")
        }
        return [UInt8](data)
    }
}
