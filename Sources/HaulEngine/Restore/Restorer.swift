import Glibc
import HaulFormat

/// Recreates a snapshot's tree on the local file system from a `BlobSource` (format.md §9).
///
/// Everything is created relative to directory descriptors (`mkdirat`, `openat`, `symlinkat`, `linkat`,
/// `mkfifoat`, `mknodat`), never through a symlink, so paths longer than `PATH_MAX` work and a symlink in the
/// snapshot cannot redirect a later write. Per entry:
///
/// - files: each chunk's blob is loaded and written at its offset (`pwrite`); gaps stay holes, and `ftruncate` to
///   the stored size creates trailing holes and empty files;
/// - hard links: a file node whose (device, inode) equals that of a file already restored by this restore and whose
///   link count is above 1 becomes `linkat` to the first one, across directories too;
/// - device nodes only as root (otherwise a warning);
/// - metadata, in this order: owner (`fchownat(AT_SYMLINK_NOFOLLOW)`, when `restoreOwnership`), extended attributes
///   including ACLs (`fsetxattr` on a file's descriptor, else `lsetxattr` on `/proc/self/fd/<dirfd>/<name>`), mode
///   including setuid/setgid/sticky (`fchmod`/`fchmodat`, after `chown`, which clears setuid), times with nanoseconds
///   (`utimensat(AT_SYMLINK_NOFOLLOW)`; the access time is set to the stored mtime). Directories get theirs after
///   their content (post-order). A file this restore created is not given an owner or a mode it already has.
///
/// Metadata that cannot be set (an xattr the target file system refuses, an owner without root) is a warning in the
/// `WarningLog`; a blob that cannot be loaded or a write that fails stops the restore with an error.
/// Files of one directory are written by up to `RestoreOptions.fileConcurrency` tasks at once, and up to two
/// subdirectories are restored by tasks of their own beside the walk, unless the snapshot holds files with several
/// links (then directories go one after another, so the names of an inode are met in walk order).
///
/// A regular file gets its own name only when its content and metadata are complete, its mtime set last: a new one is
/// written as an unnamed file in its directory (`O_TMPFILE`) and linked under its name (`linkat`); one that replaces
/// an existing file, or any where the file system has no `O_TMPFILE`, is written under a temporary name
/// (`.haul-restore-<random>`) and renamed over its own. So an interrupted restore leaves only complete files under
/// their own names, and a second restore with `OverwritePolicy.ifChanged` into the same target keeps them (same size
/// and mtime), removes the temporary files left behind, and writes the rest; hard links and directory metadata come
/// out as from one uninterrupted restore.
public struct Restorer: Sendable {
    public let source: any BlobSource
    public let options: RestoreOptions
    public let progress: ProgressCounters
    public let warnings: WarningLog

    public init(source: any BlobSource, options: RestoreOptions, progress: ProgressCounters, warnings: WarningLog) {
        self.source = source
        self.options = options
        self.progress = progress
        self.warnings = warnings
    }

    /// Restores the tree `root` into the directory `target`.
    ///
    /// The target (and missing parents) is created if missing; its own metadata is not changed. A first pass over
    /// the trees sets `progress.totalFiles` (regular files) and `progress.totalBytes` (their logical sizes; a file's
    /// holes are counted as done when it is finished, so `bytes` reaches `totalBytes`).
    ///
    /// - Returns: counts of what was restored.
    /// - Throws: `HaulError(.invalidArgument)` when the target is not empty under `.refuseNonEmptyTarget`; the
    ///   source's error (`.notFound` naming the blob, `.corrupted`, …) prefixed with the path being restored;
    ///   `.io`/`.permissionDenied`/`.alreadyExists` from the file system naming the path.
    public func restore(root: BlobID, to target: [UInt8]) async throws -> RestoreSummary {
        let targetDir = try Self.openOrCreate(target)
        if options.overwrite == .refuseNonEmptyTarget, try !targetDir.entryNames().isEmpty {
            throw Self.nonEmptyTarget(target)
        }
        let run = RestoreRun(
            source: source, options: options, progress: progress, warnings: warnings, root: targetDir)
        let rootTree = try await run.loadTree(root, path: [])
        let totals = try await run.totals(of: rootTree, path: [], included: options.includes.isEmpty)
        progress.update {
            $0.totalFiles = totals.files
            $0.totalBytes = totals.bytes
        }
        var summary = try await run.restoreContents(
            of: rootTree, into: targetDir, path: [], components: [], included: options.includes.isEmpty)
        summary.warnings = run.warningCount
        return summary
    }

    /// Works out what `restore(root:to:)` would do with the same options, without creating or changing anything.
    ///
    /// - Parameter listEntries: also list every selected entry with its action (`RestorePlan.entries`).
    /// - Throws: as `restore` would before writing: `.invalidArgument` for a non-empty target under
    ///   `.refuseNonEmptyTarget`, the source's errors for trees that cannot be loaded.
    public func plan(root: BlobID, to target: [UInt8], listEntries: Bool = false) async throws -> RestorePlan {
        var targetDir: DirectoryHandle?
        do {
            targetDir = try DirectoryHandle(path: target)
        } catch let error as HaulError where error.code == .notFound {
            targetDir = nil
        }
        if options.overwrite == .refuseNonEmptyTarget, let targetDir, try !targetDir.entryNames().isEmpty {
            throw Self.nonEmptyTarget(target)
        }
        var links = Set<RestoreRun.HardlinkKey>()
        let planner = RestorePlanner(source: source, options: options, listEntries: listEntries)
        return try await planner.plan(
            try await source.loadTree(root), in: targetDir, path: [], included: options.includes.isEmpty,
            links: &links)
    }

    static func nonEmptyTarget(_ target: [UInt8]) -> HaulError {
        HaulError(
            .invalidArgument,
            "the restore target \(printable(target)) is not empty; restore into an empty directory, or pass "
                + "--overwrite if-changed (resume an interrupted restore: keep files already restored, write the "
                + "rest), --overwrite always (replace existing entries) or --overwrite never (keep existing entries)")
    }

    /// Opens `path`, creating it and its missing parents (`mkdir`, mode 0755) first if needed.
    private static func openOrCreate(_ path: [UInt8]) throws -> DirectoryHandle {
        do {
            return try DirectoryHandle(path: path)
        } catch let error as HaulError where error.code == .notFound {
            let slash = UInt8(ascii: "/")
            var ends = path.indices.filter { path[$0] == slash && $0 > 0 }
            ends.append(path.count)
            for end in ends {
                let prefix = Array(path[..<end])
                if prefix.last == slash { continue }
                let rc = withCString(prefix) { mkdir($0, 0o755) }
                if rc != 0 && errno != EEXIST { throw SystemCallError.make("create directory", prefix) }
            }
            return try DirectoryHandle(path: path)
        }
    }
}
