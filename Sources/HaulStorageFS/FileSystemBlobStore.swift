import Glibc
import HaulFormat
import HaulStorage
import Synchronization

/// A `BlobStore` in a local directory, laid out exactly as format.md §1:
///
/// ```
/// <root>/config
/// <root>/keys/<64 hex>
/// <root>/data/<2 hex>/<64 hex>
/// <root>/index/<64 hex>   <root>/snapshots/<64 hex>   <root>/leases/<64 hex>
/// ```
///
/// Writes are atomic and durable: `put` writes a temporary file `<dir>/.tmp-<random>` beside the target, `fsync`s
/// it, renames it into place (`rename(2)`, or `renameat2(2)` with `RENAME_NOREPLACE` for `.createOnly`) and
/// `fsync`s the directory. Missing folders are made on demand (`mkdir(2)`, then `fsync` of the parent; a missing
/// fan-out folder of `data/` makes all 256 of them at once). A crash leaves at most a temporary file, which `list`
/// ignores and `removeStaleTemporaryFiles(olderThan:)` removes.
///
/// Reads use `open(2)` + `pread(2)`; ranged reads of packs keep their descriptors open (`PackDescriptors`). Files and
/// folders that are not named by the format are ignored, not errors. Blocking system calls run on threads of their
/// own (`DedicatedThreads.systemCalls`), never on the threads that run Swift's tasks. Objects are created with mode
/// 0600 and folders with 0700.
public struct FileSystemBlobStore: BlobStore {
    /// The repository directory, without a trailing slash.
    public let root: String

    /// `atomicCreateOnly` (`RENAME_NOREPLACE`) and `durableWrites` (`fsync` of file and directory) are both `true`.
    public var capabilities: StoreCapabilities { StoreCapabilities(atomicCreateOnly: true, durableWrites: true) }

    /// Staged objects (packs) are written with `O_DIRECT` where the file system supports it, past the page cache
    /// (`StagedFile`). Off: ordinary buffered writes.
    public var directStagedWrites = true

    /// Descriptors of packs kept open for ranged reads (shared by copies of this store).
    let packDescriptors = PackDescriptors()

    static let temporaryPrefix = ".tmp-"
    static let fileMode: mode_t = 0o600
    static let directoryMode: mode_t = 0o700

    /// Opens the store in `root`, which must be an existing directory (checked with `stat(2)`).
    /// - Throws: `.notFound` if `root` does not exist, `.invalidArgument` if it is not a directory, or the mapped
    ///   `stat` error; every message names `root`.
    public init(root: String) throws {
        var trimmed = root
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard !trimmed.isEmpty else { throw HaulError(.invalidArgument, "the storage root path is empty") }
        guard let info = try SystemCall.statIfPresent(trimmed) else {
            throw HaulError(.notFound, "storage root \(trimmed) does not exist; create the directory first")
        }
        guard info.isDirectory else {
            throw HaulError(.invalidArgument, "storage root \(trimmed) is not a directory")
        }
        self.root = trimmed
    }

    // MARK: Paths

    /// The absolute path of an object (`<root>/` + `ObjectKey.path`).
    public func path(of key: ObjectKey) -> String { "\(root)/\(key.path)" }

    /// The folder holding an object: the root for config, `<root>/<kind>` or `<root>/data/<2 hex>` otherwise.
    func directory(of key: ObjectKey) -> String {
        switch key.kind {
        case .config: root
        case .data: "\(root)/data/\(key.name.prefix(2))"
        default: "\(root)/\(key.kind.rawValue)"
        }
    }

    // MARK: BlobStoreReader

    /// The whole object: `open(2)`, `fstat(2)`, `pread(2)`.
    /// - Throws: `.notFound` if the object does not exist; mapped I/O errors otherwise.
    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        let path = path(of: key)
        return try await Self.blocking { () throws in
            try Self.withObject(path, key) { fd, size in
                try SystemCall.readAll(fd, offset: 0, length: Int(size), path)
            }
        }
    }

    /// `length` bytes from `offset` with `pread(2)`; fewer only at the end, none when `offset` equals the size.
    /// - Throws: `.notFound` for a missing object; `.invalidArgument` for a negative offset or length or an offset
    ///   past the end.
    ///
    /// Reads of at most `inlineReadLimit` bytes (a restore's small blobs) run on the calling thread: from the page
    /// cache they take microseconds, less than a hop to the I/O threads and back.
    ///
    /// Packs are read through descriptors kept open across reads (`PackDescriptors`).
    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        let path = path(of: key)
        let packs = key.kind == .data ? packDescriptors : nil
        let read: @Sendable () throws -> [UInt8] = {
            let body = { (fd: Int32, size: Int64) throws -> [UInt8] in
                let start = try ByteRange.validatedStart(offset: offset, length: length, size: size, key: key)
                return try SystemCall.readAll(fd, offset: Int64(start), length: min(length, Int(size) - start), path)
            }
            guard let packs else { return try Self.withObject(path, key, body) }
            return try packs.with(path, open: { try Self.openObject(path, key) }, body)
        }
        if length <= Self.inlineReadLimit { return try read() }
        return try await Self.blocking(read)
    }

    static let inlineReadLimit = 256 << 10

    /// The object's size from `stat(2)`, or `nil` if no regular file has its name.
    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        let path = path(of: key)
        return try await Self.blocking { () throws in
            guard let info = try SystemCall.statIfPresent(path), info.isRegularFile else { return nil }
            return ObjectInfo(key: key, size: Int64(info.st_size))
        }
    }

    /// Every object of `kind`, found with `opendir(3)`/`readdir(3)` and sized with `stat(2)`.
    ///
    /// Only regular files whose names the format defines are listed (for data, also in the right fan-out folder);
    /// temporary files and stray entries are skipped. An object removed while listing is left out.
    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        let root = root
        return try await Self.blocking { () throws in
            switch kind {
            case .config:
                guard let info = try SystemCall.statIfPresent("\(root)/config"), info.isRegularFile else { return [] }
                return [ObjectInfo(key: .config, size: Int64(info.st_size))]
            case .data:
                let dataDirectory = "\(root)/data"
                var found: [ObjectInfo] = []
                for fanOut in try SystemCall.directoryEntries(dataDirectory) ?? [] where Self.isFanOutName(fanOut) {
                    let folder = "\(dataDirectory)/\(fanOut)"
                    guard let info = try SystemCall.statIfPresent(folder), info.isDirectory else { continue }
                    found += try Self.objects(in: folder, kind: .data) { $0.hasPrefix(fanOut) }
                }
                return found
            case .keys, .index, .snapshots, .leases:
                return try Self.objects(in: "\(root)/\(kind.rawValue)", kind: kind) { _ in true }
            }
        }
    }

    // MARK: BlobStore

    /// Writes the object atomically and durably.
    ///
    /// `open(2)` of `<dir>/.tmp-<random>` with `O_EXCL`, `write(2)`, `fsync(2)`, `close(2)`, then `rename(2)` for
    /// `.overwrite` or `renameat2(2)` with `RENAME_NOREPLACE` for `.createOnly`, then `fsync(2)` of the directory.
    /// On failure the temporary file is unlinked, so nothing becomes visible.
    /// - Throws: `.alreadyExists` for `.createOnly` when the object exists; `.io` naming the path when the disk is
    ///   full; `.permissionDenied`; other mapped I/O errors.
    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        let root = root
        let directory = directory(of: key)
        let target = path(of: key)
        defer { if key.kind == .data { packDescriptors.drop(target) } }
        try await Self.blocking { () throws in
            try Self.makeDirectories(for: key, root: root)
            let temporary = "\(directory)/\(Self.temporaryPrefix)\(Self.randomSuffix())"
            let described = "\(temporary) (temporary file of \(target))"
            do {
                let fd = try SystemCall.open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode: Self.fileMode)
                do {
                    try SystemCall.writeAll(fd, bytes, described)
                    try SystemCall.fsync(fd, described)
                } catch {
                    Glibc.close(fd)
                    throw error
                }
                try SystemCall.close(fd, described)
                switch mode {
                case .overwrite: try SystemCall.rename(temporary, target)
                case .createOnly: try SystemCall.renameNoReplace(temporary, target)
                }
            } catch {
                Glibc.unlink(temporary)
                if mode == .createOnly, error.haulCode == .alreadyExists {
                    throw HaulError(
                        .alreadyExists, "object \(key.path) already exists in \(root); it is never rewritten")
                }
                throw error
            }
            try SystemCall.fsyncDirectory(directory)
        }
    }

    /// Removes the object with `unlink(2)` and `fsync(2)`s its directory, except for a lease: a dropped lease that a
    /// crash brings back is one of a process that no longer exists, which takers already ignore (format.md §10). On
    /// ext4 that `fsync` waited for the journal to commit every file a restore had just written (1–1.5 s of a 9 s
    /// restore of the mixed dataset, docs/architecture.md).
    /// - Throws: `.notFound` if the object does not exist.
    public func delete(_ key: ObjectKey) async throws {
        let target = path(of: key)
        let directory = directory(of: key)
        defer { if key.kind == .data { packDescriptors.drop(target) } }
        try await Self.blocking { () throws in
            if Glibc.unlink(target) != 0 {
                let code = errno
                if code == ENOENT || code == ENOTDIR {
                    throw HaulError(.notFound, "object \(key.path) not found in \(directory)")
                }
                throw SystemCall.error("unlink", target, errno: code)
            }
            if key.kind != .leases { try SystemCall.fsyncDirectory(directory) }
        }
    }

    // MARK: Helpers

    /// Runs blocking system calls off the threads that run Swift's tasks (`DedicatedThreads.systemCalls`).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await DedicatedThreads.systemCalls.perform(body)
    }

    /// Opens an object read-only and passes its descriptor and size; a missing object is `.notFound`.
    private static func withObject<T>(
        _ path: String, _ key: ObjectKey, _ body: (Int32, Int64) throws -> T
    ) throws -> T {
        let (fd, size) = try openObject(path, key)
        defer { Glibc.close(fd) }
        return try body(fd, size)
    }

    /// Opens an object read-only; returns its descriptor and size. A missing object is `.notFound`.
    static func openObject(_ path: String, _ key: ObjectKey) throws -> (fd: Int32, size: Int64) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw HaulError(.notFound, "object \(key.path) not found (\(path) does not exist)")
            }
            throw SystemCall.error("open", path, errno: code)
        }
        do {
            let info = try SystemCall.fstat(fd, path)
            guard info.isRegularFile else {
                throw HaulError(.io, "\(path) is not a regular file; move it out of the way")
            }
            return (fd, Int64(info.st_size))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Makes the object's folders that are missing (`mkdir(2)`), `fsync`ing each parent after a creation.
    static func makeDirectories(for key: ObjectKey, root: String) throws {
        guard key.kind != .config else { return }
        let kindDirectory = "\(root)/\(key.kind.rawValue)"
        if try SystemCall.makeDirectory(kindDirectory, mode: directoryMode) {
            try SystemCall.fsyncDirectory(root)
        }
        if key.kind == .data {
            // A pack in a missing fan-out folder makes all 256 at once, made durable by one `fsync` of `data`:
            // otherwise most of the first few hundred packs paid a third `fsync` (a cache flush of the disk, 10-30 ms
            // on this VM's) for a folder of their own. Under a lock, so that a concurrent commit that finds its folder
            // made by another one's loop goes on only once that folder is durable too.
            try fanOutLock.withLock { _ throws(HaulError) in
                guard try SystemCall.makeDirectory("\(kindDirectory)/\(key.name.prefix(2))", mode: directoryMode)
                else { return }
                for i in 0..<256 {
                    let hex = String(i, radix: 16)
                    // Another folder that cannot be made (a stray file of that name) fails only its own packs.
                    _ = try? SystemCall.makeDirectory(
                        "\(kindDirectory)/\(hex.count == 1 ? "0" + hex : hex)", mode: directoryMode)
                }
                try SystemCall.fsyncDirectory(kindDirectory)
            }
        }
    }

    /// Held while fan-out folders are made and made durable (`makeDirectories`).
    private static let fanOutLock = Mutex(())

    /// 16 random hex digits for a temporary name (`O_EXCL` makes a collision an error, never a shared file).
    static func randomSuffix() -> String {
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Two lowercase hex digits.
    static func isFanOutName(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The regular files in `folder` whose names are valid object names of `kind` and pass `accept`.
    static func objects(in folder: String, kind: ObjectKind, accept: (String) -> Bool) throws -> [ObjectInfo] {
        var found: [ObjectInfo] = []
        for name in try SystemCall.directoryEntries(folder) ?? [] where accept(name) {
            guard let key = try? ObjectKey(kind, name),
                let info = try SystemCall.statIfPresent("\(folder)/\(name)"), info.isRegularFile
            else { continue }
            found.append(ObjectInfo(key: key, size: Int64(info.st_size)))
        }
        return found
    }
}
