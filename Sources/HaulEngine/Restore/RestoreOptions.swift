import Glibc
import HaulFormat

/// What a restore does with entries that already exist in the target.
public enum OverwritePolicy: String, Sendable, Codable, CaseIterable {
    /// Refuse to start unless the target is missing or empty (the default: a restore never mixes trees by accident).
    case refuseNonEmptyTarget
    /// Replace existing entries (an existing directory is reused and gets the stored metadata; an existing
    /// directory where the snapshot holds something else is left alone with a warning).
    case always
    /// Keep existing entries untouched and restore only what is missing (`RestoreSummary.skipped` counts them).
    case never
    /// Keep an existing regular file whose size and mtime equal the snapshot's (`RestoreSummary.unchanged` counts
    /// them) and replace everything else like `.always`. Since a restored file gets its final name only when its
    /// content and metadata are complete, and its mtime is set last, this also resumes an interrupted restore.
    case ifChanged
}

/// How a `Restorer` works.
public struct RestoreOptions: Sendable {
    /// Restore only paths matching one of these (and the directories leading to them); everything when empty.
    /// Everything below a matching directory is restored.
    public var includes: [PathPattern]
    public var overwrite: OverwritePolicy
    /// Set owners and groups (`fchownat`); needs root. Defaults to whether the process runs as root.
    public var restoreOwnership: Bool
    /// How many files of one directory are written at once.
    public var fileConcurrency: Int
    /// Write files of `directWriteMinimum` bytes or more with `O_DIRECT` where the target's file system supports it
    /// (`DirectFileWriter`): past the page cache, in 1 MiB blocks written while the next chunks are decoded. Off by
    /// default: on journaled ext4 a restore of the mixed dataset took 9.3–11.3 s with it and 6.7–7.3 s without (and
    /// 12.3–13.4 s against 10.9–11.9 s with the `sync` after it, 150–154 MiB of peak RSS against 105–111;
    /// bench/RESULTS.md, on the host of the afternoon of 2026-12-07, before `writebackStep`).
    /// It keeps a large restore from evicting what the machine has cached (`haul restore --direct-io`).
    public var directWrites: Bool
    public static let directWriteMinimum: UInt64 = 1 << 20
    /// A file of `writebackMinimum` bytes or more whose bytes go through the page cache hands them to the disk while
    /// the restore goes on: whenever `writebackStep` bytes or more were written since the last hand-over, and the
    /// rest when the file is complete (`sync_file_range` starts the writes and does not wait for them to complete,
    /// though it may block while it submits them). The disk then works during the restore instead of all in the
    /// `sync` after it (bench/RESULTS.md: restore + sync of the mixed tree 7.6–8.1 s against 8.4–9.5 s). Smaller
    /// files are left to the kernel: handing over every file, the small ones too, made the restore of the mixed tree
    /// 2.5 s slower.
    public static let writebackMinimum: UInt64 = 1 << 20
    public static let writebackStep: UInt64 = 8 << 20
    /// Write a file whose name is new in the target as an unnamed file (`O_TMPFILE`) and link it under its name when
    /// complete, where the file system can (else, and for files that replace existing ones, under a temporary
    /// `.haul-restore-*` name renamed when complete). Either way a file appears under its own name only complete.
    public var unnamedFiles: Bool

    public init(
        includes: [PathPattern] = [],
        overwrite: OverwritePolicy = .refuseNonEmptyTarget,
        restoreOwnership: Bool = getuid() == 0,
        fileConcurrency: Int = 4,
        directWrites: Bool = false,
        unnamedFiles: Bool = true
    ) {
        self.includes = includes
        self.overwrite = overwrite
        self.restoreOwnership = restoreOwnership
        self.fileConcurrency = max(1, fileConcurrency)
        self.directWrites = directWrites
        self.unnamedFiles = unnamedFiles
    }
}

/// What a restore did.
public struct RestoreSummary: Sendable, Codable, Hashable {
    /// Regular files written (the first of each hard-link group included).
    public var files = 0
    /// Directories created or (with `.always`) updated.
    public var directories = 0
    public var symlinks = 0
    /// Second and later names of hard-linked files (`linkat`).
    public var hardlinks = 0
    /// FIFOs and device nodes.
    public var specialFiles = 0
    /// File content bytes written (holes excluded).
    public var bytesWritten: UInt64 = 0
    /// Existing entries left alone under `OverwritePolicy.never` or because they are directories.
    public var skipped = 0
    /// Existing regular files kept under `OverwritePolicy.ifChanged` because their size and mtime matched.
    public var unchanged = 0
    /// Warnings added to the `WarningLog` by this restore.
    public var warnings = 0

    public init() {}

    /// Entries this summary counts as restored.
    var restoredEntries: Int { files + directories + symlinks + hardlinks + specialFiles }

    static func += (a: inout RestoreSummary, b: RestoreSummary) {
        a.files += b.files
        a.directories += b.directories
        a.symlinks += b.symlinks
        a.hardlinks += b.hardlinks
        a.specialFiles += b.specialFiles
        a.bytesWritten += b.bytesWritten
        a.skipped += b.skipped
        a.unchanged += b.unchanged
        a.warnings += b.warnings
    }
}
