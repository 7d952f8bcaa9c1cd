import CLinux
import Glibc
import HaulFormat
import HaulStorageFS
import Synchronization

/// The state of one `Restorer.restore` call: shared by the tasks that write files.
final class RestoreRun: Sendable {
    let source: any BlobSource
    let options: RestoreOptions
    let progress: ProgressCounters
    let warnings: WarningLog
    /// The target directory; hard links are resolved from here.
    let root: DirectoryHandle
    /// (device, inode) of restored multi-link files → path components of their first name below `root`.
    private let firstLinks = Mutex<[HardlinkKey: [[UInt8]]]>([:])
    /// Subdirectories restored by tasks of their own beside the walk (at most this many at once; the rest inline),
    /// only in a restore without multi-link files (`multiLinkFiles`, set by the totals pass): the names of one
    /// inode must be met in walk order, so that the first is complete before a later one links to it, and so that a
    /// resumed restore keeps the same first name.
    private let directorySlots = AsyncSemaphore(RestoreRun.extraDirectoryTasks)
    static let extraDirectoryTasks = 2
    private let multiLinkFiles = Atomic(false)
    /// Trees the totals pass loaded, kept for the restore pass (up to `treeCacheNodes` nodes in all) so that each tree
    /// is fetched, authenticated and decoded once.
    private let treeCache = Mutex<(trees: [BlobID: Tree], nodes: Int)>(([:], 0))
    static let treeCacheNodes = 250_000
    private let warningsAdded = Mutex(0)
    /// New files are written as unnamed files (`O_TMPFILE`) and linked under their names when complete; cleared when
    /// the target's file system cannot make them; off from the start when neither `linkat(AT_EMPTY_PATH)` (root, or
    /// anyone on Linux 6.10 and later) nor `/proc/self/fd` can be counted on to name them.
    private let unnamedFiles: Atomic<Bool>

    struct HardlinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// How much of a node the include patterns select.
    enum Selection {
        /// The node and everything below it.
        case all
        /// Only what lies below it and matches (directories only).
        case descend
        case none
    }

    /// What to do about the target entry of a node.
    enum Disposition {
        case create
        /// An existing non-directory entry is replaced (a file by `renameat` over it, anything else after `unlinkat`).
        case replace
        /// An existing directory receives a directory node's content.
        case merge
        /// Left alone: `OverwritePolicy.never`, or an existing directory is in the way (`blocked`).
        case skip
        /// A directory is in the way of a non-directory node (a warning; left alone).
        case blocked
        /// An existing regular file with the node's size and mtime, kept under `OverwritePolicy.ifChanged`.
        case unchanged
    }

    /// Prefix of the temporary name a file is written under until it is complete (then renamed to its own name).
    static let temporaryPrefix = Array(".haul-restore-".utf8)

    init(
        source: any BlobSource, options: RestoreOptions, progress: ProgressCounters, warnings: WarningLog,
        root: DirectoryHandle
    ) {
        self.source = source
        self.options = options
        self.progress = progress
        self.warnings = warnings
        self.root = root
        self.unnamedFiles = Atomic(options.unnamedFiles && (geteuid() == 0 || access("/proc/self/fd", X_OK) == 0))
    }

    var warningCount: Int { warningsAdded.withLock { $0 } }

    func warn(_ path: [UInt8], _ message: String) {
        warningsAdded.withLock { $0 += 1 }
        progress.update { $0.warnings += 1 }
        warnings.add(EngineWarning(path: path, message: message))
    }

    // MARK: Loading

    func loadTree(_ id: BlobID, path: [UInt8], keep: Bool = false) async throws -> Tree {
        if let cached = treeCache.withLock({ $0.trees.removeValue(forKey: id) }) {
            treeCache.withLock { $0.nodes -= cached.nodes.count }
            return cached
        }
        do {
            let tree = try await source.loadTree(id)
            if keep {
                treeCache.withLock { cache in
                    if cache.nodes + tree.nodes.count <= Self.treeCacheNodes, cache.trees[id] == nil {
                        cache.trees[id] = tree
                        cache.nodes += tree.nodes.count
                    }
                }
            }
            return tree
        } catch let error as HaulError {
            throw HaulError(
                error.code, "cannot restore directory \(printable(path)): \(error.message)",
                transient: error.isTransient, cause: error.cause)
        }
    }

    func loadData(_ id: BlobID, path: [UInt8]) async throws -> [UInt8] {
        do {
            return try await source.loadData(id)
        } catch let error as HaulError {
            throw HaulError(
                error.code, "cannot restore file \(printable(path)): \(error.message)",
                transient: error.isTransient, cause: error.cause)
        }
    }

    // MARK: Selection and totals

    func selection(of node: Node, path: [UInt8], parentIncluded: Bool) -> Selection {
        Self.selection(of: node, path: path, parentIncluded: parentIncluded, includes: options.includes)
    }

    static func selection(of node: Node, path: [UInt8], parentIncluded: Bool, includes: [PathPattern]) -> Selection {
        if parentIncluded { return .all }
        let isDirectory = node.kind == .directory
        if includes.contains(where: { $0.matches(path, isDirectory: isDirectory) }) { return .all }
        if isDirectory && includes.contains(where: { $0.mayMatchBelow(path) }) { return .descend }
        return .none
    }

    /// Regular files and their logical bytes that the restore will visit (the progress totals); also notes whether
    /// any of them has several links. Runs before `restoreContents`.
    func totals(of tree: Tree, path: [UInt8], included: Bool) async throws -> (files: Int, bytes: UInt64) {
        var files = 0
        var bytes: UInt64 = 0
        for node in tree.nodes {
            try Task.checkCancellation()
            let nodePath = joinPath(path, node.name)
            let selected = selection(of: node, path: nodePath, parentIncluded: included)
            if selected == .none { continue }
            switch node.kind {
            case .file:
                files += 1
                bytes += node.size
                if node.linkCount > 1 { multiLinkFiles.store(true, ordering: .relaxed) }
            case .directory:
                guard let subtree = node.subtree else { continue }
                let sub = try await totals(
                    of: try await loadTree(subtree, path: nodePath, keep: true), path: nodePath,
                    included: selected == .all)
                files += sub.files
                bytes += sub.bytes
            default:
                break
            }
        }
        return (files, bytes)
    }

    // MARK: Walking

    /// Restores the entries of `tree` into `dir`; returns when all of them (and their subtrees) are done.
    func restoreContents(
        of tree: Tree, into dir: DirectoryHandle, path: [UInt8], components: [[UInt8]], included: Bool
    ) async throws -> RestoreSummary {
        let width = options.fileConcurrency
        if options.overwrite != .refuseNonEmptyTarget { try removeLeftovers(in: dir, tree: tree) }
        // Files (single-link) and, while a slot is free, subdirectories run as tasks; hard-link candidates and the
        // other subdirectories are restored here in order. The bool says whether a task was a directory.
        return try await withThrowingTaskGroup(of: (RestoreSummary, Bool).self) { group in
            var summary = RestoreSummary()
            var files = 0
            func collect() async throws {
                guard let (done, isDirectory) = try await group.next() else { return }
                summary += done
                if !isDirectory { files -= 1 }
            }
            for node in tree.nodes {
                try Task.checkCancellation()
                try Self.checkName(node.name, in: path)
                let nodePath = joinPath(path, node.name)
                let selected = selection(of: node, path: nodePath, parentIncluded: included)
                if selected == .none { continue }
                if node.kind == .file && node.linkCount <= 1 {
                    while files >= width { try await collect() }
                    group.addTask { (try await self.restoreFile(node, in: dir, path: nodePath), false) }
                    files += 1
                } else if node.kind == .directory && !multiLinkFiles.load(ordering: .relaxed)
                    && directorySlots.tryWait()
                {
                    group.addTask {
                        defer { self.directorySlots.signal() }
                        return (
                            try await self.restoreEntry(
                                node, in: dir, path: nodePath, components: components, selection: selected), true
                        )
                    }
                } else {
                    summary += try await restoreEntry(
                        node, in: dir, path: nodePath, components: components, selection: selected)
                }
            }
            while let (done, _) = try await group.next() { summary += done }
            return summary
        }
    }

    private func restoreEntry(
        _ node: Node, in dir: DirectoryHandle, path: [UInt8], components: [[UInt8]], selection: Selection
    ) async throws -> RestoreSummary {
        switch node.kind {
        case .directory:
            return try await restoreDirectory(node, in: dir, path: path, components: components, selection: selection)
        case .file:
            return try await restoreMultiLinkFile(node, in: dir, path: path, components: components)
        case .symlink:
            return try restoreSymlink(node, in: dir, path: path)
        case .fifo, .characterDevice, .blockDevice:
            return try restoreSpecial(node, in: dir, path: path)
        }
    }

    // MARK: Existing entries

    /// What `policy` does with `node` when the target holds `existing` (nil: nothing) under its name.
    static func disposition(of node: Node, existing: FileStat?, policy: OverwritePolicy) -> Disposition {
        guard let existing else { return .create }
        if existing.kind == .directory && node.kind == .directory { return .merge }
        switch policy {
        case .never:
            return .skip
        case .always, .refuseNonEmptyTarget:
            return existing.kind == .directory ? .blocked : .replace
        case .ifChanged:
            if existing.kind == .directory { return .blocked }
            if node.kind == .file && existing.kind == .file && existing.size == node.size
                && existing.mtime == node.mtime
            {
                return .unchanged
            }
            return .replace
        }
    }

    /// Decides about an existing target entry per `OverwritePolicy`; removes a non-file entry that is to be
    /// replaced (a file is replaced by renaming the new one over it) and warns about a blocked one.
    private func disposition(of node: Node, in dir: DirectoryHandle, path: [UInt8]) throws -> Disposition {
        if options.overwrite == .refuseNonEmptyTarget { return .create }  // the target was empty: nothing to meet
        let existing: FileStat
        do {
            existing = try dir.stat(node.name)
        } catch let error as HaulError where error.code == .notFound {
            return .create
        }
        let disposition = Self.disposition(of: node, existing: existing, policy: options.overwrite)
        switch disposition {
        case .blocked:
            warn(path, "not restored: an existing directory is in the way")
        case .replace where node.kind != .file:
            let rc = withCString(node.name) { unlinkat(dir.fd, $0, 0) }
            if rc != 0 { throw SystemCallError.make("replace", path) }
        default:
            break
        }
        return disposition
    }

    /// Removes temporary files an interrupted restore left in `dir` (names the snapshot does not hold).
    func removeLeftovers(in dir: DirectoryHandle, tree: Tree) throws {
        let prefix = Self.temporaryPrefix
        for name in try dir.entryNames() where name.starts(with: prefix) {
            if tree.nodes.contains(where: { $0.name == name }) { continue }
            guard (try? dir.stat(name))?.kind == .file else { continue }
            _ = withCString(name) { unlinkat(dir.fd, $0, 0) }
        }
    }

    /// An empty unnamed file in `dir` (`O_TMPFILE`), or nil where the file system cannot make one (remembered for the
    /// rest of the restore) or the call fails (a named temporary file then meets the same error and reports it).
    /// It gets the permission bits of `mode` from the start (less the umask): no other process can open it.
    private func openUnnamedFile(in dir: DirectoryHandle, mode: UInt32) -> Int32? {
        guard unnamedFiles.load(ordering: .relaxed) else { return nil }
        let fd = haul_open_tmpfile(dir.fd, mode_t(mode & 0o777))
        if fd >= 0 { return fd }
        let code = errno
        if code == haul_eopnotsupp() || code == haul_eisdir() { unnamedFiles.store(false, ordering: .relaxed) }
        return nil
    }

    /// Creates an empty file under a fresh temporary name in `dir`; returns its descriptor and name.
    private func createTemporaryFile(in dir: DirectoryHandle, path: [UInt8]) throws -> (Int32, [UInt8]) {
        let flags = O_WRONLY | O_CREAT | O_EXCL | haul_o_nofollow() | haul_o_cloexec()
        while true {
            var random = SystemRandomNumberGenerator()
            let suffix = String(random.next() as UInt64, radix: 16)
            let name = Self.temporaryPrefix + Array(suffix.utf8)
            let fd = withCString(name) { haul_openat(dir.fd, $0, flags, 0o600) }
            if fd >= 0 { return (fd, name) }
            if errno != EEXIST { throw SystemCallError.make("create file", path) }
        }
    }

    // MARK: Entries

    private func restoreDirectory(
        _ node: Node, in dir: DirectoryHandle, path: [UInt8], components: [[UInt8]], selection: Selection
    ) async throws -> RestoreSummary {
        guard let subtree = node.subtree else {
            throw HaulError(.corrupted, "cannot restore directory \(printable(path)): its node has no subtree")
        }
        var summary = RestoreSummary()
        let disposition = try disposition(of: node, in: dir, path: path)
        if disposition == .skip || disposition == .blocked {
            summary.skipped += 1
            return summary
        }
        if disposition == .create || disposition == .replace {
            let rc = withCString(node.name) { mkdirat(dir.fd, $0, 0o700) }
            if rc != 0 { throw SystemCallError.make("create directory", path) }
        }
        let child = try DirectoryHandle(parent: dir, name: node.name)
        let tree = try await loadTree(subtree, path: path)
        summary += try await restoreContents(
            of: tree, into: child, path: path, components: components + [node.name], included: selection == .all)
        if selection == .descend && disposition != .merge && summary.restoredEntries == 0 {
            // Only on the way to included paths, and none were found below: leave no empty directory behind.
            _ = withCString(node.name) { unlinkat(dir.fd, $0, haul_at_removedir()) }
            return summary
        }
        summary.directories += 1
        progress.update { $0.directories += 1 }
        if !(options.overwrite == .never && disposition == .merge) {
            applyMetadata(node, fd: nil, in: dir, path: path)
        }
        return summary
    }

    /// Writes a regular file in `dir` without a name or under a temporary one (`writeFile`): chunks at their offsets,
    /// then the size, then metadata (the mtime last); only then does it get its own name, so a file under its own
    /// name is always complete.
    func restoreFile(_ node: Node, in dir: DirectoryHandle, path: [UInt8]) async throws -> RestoreSummary {
        var summary = RestoreSummary()
        let disposition = try disposition(of: node, in: dir, path: path)
        switch disposition {
        case .skip, .blocked:
            summary.skipped += 1
        case .unchanged:
            summary.unchanged += 1
        case .create, .replace, .merge:
            summary = try await writeFile(node, in: dir, path: path, isNew: disposition == .create)
            summary.files += 1
        }
        progress.addFile(path: printable(path))
        if node.size > summary.bytesWritten { progress.addBytes(node.size - summary.bytesWritten) }
        return summary
    }

    /// A file for a name that does not exist yet (`isNew`) is written as an unnamed file and linked under its name
    /// when complete; one that replaces an existing file, or where unnamed files are not available, under a
    /// temporary name that is renamed over its own. On ext4 in this VM creating 200k small files took 9.2 s with
    /// `O_TMPFILE` + `linkat`, 12.2 s with a temporary name + `renameat` (and 7.8 s under the final name directly).
    private func writeFile(_ node: Node, in dir: DirectoryHandle, path: [UInt8], isNew: Bool) async throws
        -> RestoreSummary
    {
        var summary = RestoreSummary()
        let unnamed = isNew ? openUnnamedFile(in: dir, mode: node.mode) : nil
        let (fd, temporary): (Int32, [UInt8]?) =
            try unnamed.map { ($0, nil) } ?? createTemporaryFile(in: dir, path: path)
        var named = false
        defer {
            close(fd)
            if !named, let temporary { _ = withCString(temporary) { unlinkat(dir.fd, $0, 0) } }
        }
        // A large file goes through a DirectFileWriter while its chunks come in order (as backups write them); a
        // chunk before the end of the previous one (not something Haul writes) sends the rest through pwrite.
        var writer =
            options.directWrites && node.size >= RestoreOptions.directWriteMinimum
            ? try DirectFileWriter(fd: fd, path: printable(path), direct: true) : nil
        var end: UInt64 = 0
        var furthest: UInt64 = 0
        // Bytes that go through the page cache (no direct writer, one that fell back to plain writes, or the rest of
        // a file whose chunks came out of order) are handed to the disk as the file is written. A range handed over
        // may cover bytes written directly before: they are not dirty, and cost nothing.
        var writeback = node.size >= RestoreOptions.writebackMinimum ? WritebackWindow() : nil
        var throughPageCache: Bool { writer.map { !$0.isDirect } ?? true }
        for chunk in node.chunks {
            try Task.checkCancellation()
            let data = try await loadData(chunk.blob, path: path)
            if let w = writer, chunk.offset < end {
                try await w.finish()
                writer = nil
            }
            if let writer {
                try await writer.write(data, at: Int64(chunk.offset))
            } else {
                try Self.writeAll(data, to: fd, at: chunk.offset, path: path)
            }
            end = chunk.offset + UInt64(data.count)
            furthest = max(furthest, end)
            if throughPageCache, let range = writeback?.written(upTo: furthest) { Self.startWriteback(fd, range) }
            summary.bytesWritten += UInt64(data.count)
            progress.addBytes(UInt64(data.count))
        }
        try await writer?.finish()
        if throughPageCache, let range = writeback?.complete(at: furthest) { Self.startWriteback(fd, range) }
        // The size is set only where the data does not reach it (a hole at the end, or no data at all): on ext4 a
        // truncate to the size a file already has still cost a tenth of a restore of 200k small files.
        if furthest != node.size, ftruncate(fd, off_t(clamping: node.size)) != 0 {
            throw SystemCallError.make("set the size of", path)
        }
        var st = stat()
        applyMetadata(node, fd: fd, in: dir, path: path, current: fstat(fd, &st) == 0 ? FileStat(st) : nil)
        if let temporary {
            let rc = withCString(temporary) { from in withCString(node.name) { renameat(dir.fd, from, dir.fd, $0) } }
            if rc != 0 { throw SystemCallError.make("rename the finished file into", path) }
        } else {
            let rc = withCString(node.name) { haul_link_open_file(fd, dir.fd, $0) }
            if rc != 0 { throw SystemCallError.make("link the finished file into", path) }
        }
        named = true
        return summary
    }

    /// A file with several links: `linkat` to the first name this restore created for its (device, inode), or a
    /// regular restore that becomes that first name.
    private func restoreMultiLinkFile(
        _ node: Node, in dir: DirectoryHandle, path: [UInt8], components: [[UInt8]]
    ) async throws -> RestoreSummary {
        let key = HardlinkKey(device: node.device, inode: node.inode)
        guard let first = firstLinks.withLock({ $0[key] }) else {
            let summary = try await restoreFile(node, in: dir, path: path)
            if summary.files == 1 || summary.unchanged == 1 {
                firstLinks.withLock { $0[key] = components + [node.name] }
            }
            return summary
        }
        var summary = RestoreSummary()
        let firstDir = try openBelowRoot(Array(first.dropLast()), reusing: dir, at: components)
        if options.overwrite == .ifChanged, let existing = try? dir.stat(node.name),
            let firstStat = try? firstDir.stat(first.last!), existing.kind == .file,
            existing.inode == firstStat.inode, existing.device == firstStat.device
        {
            // Linked before an interruption.
            summary.unchanged += 1
            progress.addFile(path: printable(path))
            progress.addBytes(node.size)
            return summary
        }
        switch try disposition(of: node, in: dir, path: path) {
        case .skip, .blocked:
            summary.skipped += 1
            return summary
        case .replace, .unchanged:
            // A separate file (or one from another group) under a later name: replaced by the link.
            let rc = withCString(node.name) { unlinkat(dir.fd, $0, 0) }
            if rc != 0 { throw SystemCallError.make("replace", path) }
        case .create, .merge:
            break
        }
        let rc = withCString(first.last!) { from in
            withCString(node.name) { to in linkat(firstDir.fd, from, dir.fd, to, 0) }
        }
        guard rc == 0 else {
            let code = errno
            warn(
                path,
                "cannot hard-link to \(printable(Array(first.joined(separator: [47])))): "
                    + "\(String(cString: strerror(code))); restored as a separate file")
            return try await restoreFile(node, in: dir, path: path)
        }
        summary.hardlinks += 1
        progress.addFile(path: printable(path))
        progress.addBytes(node.size)
        return summary
    }

    /// Opens the directory at `components` below the target root without following symlinks.
    private func openBelowRoot(
        _ components: [[UInt8]], reusing current: DirectoryHandle, at currentComponents: [[UInt8]]
    ) throws -> DirectoryHandle {
        if components == currentComponents { return current }
        var dir = root
        for name in components { dir = try DirectoryHandle(parent: dir, name: name) }
        return dir
    }

    private func restoreSymlink(_ node: Node, in dir: DirectoryHandle, path: [UInt8]) throws -> RestoreSummary {
        var summary = RestoreSummary()
        if [.skip, .blocked].contains(try disposition(of: node, in: dir, path: path)) {
            summary.skipped += 1
            return summary
        }
        let rc = withCString(node.linkTarget) { target in
            withCString(node.name) { symlinkat(target, dir.fd, $0) }
        }
        guard rc == 0 else { throw SystemCallError.make("create symlink", path) }
        applyMetadata(node, fd: nil, in: dir, path: path)
        summary.symlinks += 1
        return summary
    }

    private func restoreSpecial(_ node: Node, in dir: DirectoryHandle, path: [UInt8]) throws -> RestoreSummary {
        var summary = RestoreSummary()
        if [.skip, .blocked].contains(try disposition(of: node, in: dir, path: path)) {
            summary.skipped += 1
            return summary
        }
        let rc: Int32
        switch node.kind {
        case .fifo:
            rc = withCString(node.name) { mkfifoat(dir.fd, $0, 0o600) }
        default:
            let what = node.kind == .characterDevice ? "character device" : "block device"
            guard getuid() == 0 else {
                warn(path, "\(what) not restored: creating device nodes needs root")
                return summary
            }
            let type: mode_t = node.kind == .characterDevice ? 0o020000 : 0o060000
            rc = withCString(node.name) { haul_mknodat(dir.fd, $0, type | 0o600, dev_t(node.rdev)) }
            if rc != 0 && (errno == EPERM || errno == EACCES) {
                warn(path, "\(what) not restored: \(String(cString: strerror(errno)))")
                return summary
            }
        }
        guard rc == 0 else { throw SystemCallError.make("create", path) }
        applyMetadata(node, fd: nil, in: dir, path: path)
        summary.specialFiles += 1
        return summary
    }

    // MARK: Metadata

    /// Owner, extended attributes, mode, times, in that order (see `Restorer`). Uses `fd` when the entry is open,
    /// else `dir` and the node's name without following a symlink. Failures are warnings.
    ///
    /// `current` is the entry's status when this restore just created it: an owner it already has is not set again,
    /// nor a mode when there are no xattrs (an ACL changes the mode). On ext4 each `fchown` or `fchmod` journals the
    /// inode even when nothing changes; they were 6 % of the CPU of a restore of 200k small files.
    private func applyMetadata(
        _ node: Node, fd: Int32?, in dir: DirectoryHandle, path: [UInt8], current: FileStat? = nil
    ) {
        let name = node.name
        let nofollow = haul_at_symlink_nofollow()
        if options.restoreOwnership, current.map({ $0.uid != node.uid || $0.gid != node.gid }) ?? true {
            let rc =
                fd.map { fchown($0, node.uid, node.gid) }
                ?? withCString(name) { fchownat(dir.fd, $0, node.uid, node.gid, nofollow) }
            if rc != 0 { warn(path, "cannot set owner \(node.uid):\(node.gid): \(String(cString: strerror(errno)))") }
        }
        if !node.xattrs.isEmpty {
            let procPath = fd == nil ? dir.procPath(of: name) : []
            for attribute in node.xattrs {
                do {
                    if let fd {
                        try ExtendedAttributes.write(attribute, fd: fd, displayPath: path)
                    } else {
                        try ExtendedAttributes.write(attribute, at: procPath, displayPath: path)
                    }
                } catch let error as HaulError {
                    warn(path, error.message)
                } catch {
                    warn(path, "\(error)")
                }
            }
        }
        let modeIsSet = node.xattrs.isEmpty && current?.mode == node.mode & 0o7777
        if node.kind != .symlink && !modeIsSet {  // Linux has no symlink modes (fchmodat(AT_SYMLINK_NOFOLLOW) fails)
            let mode = mode_t(node.mode & 0o7777)
            let rc = fd.map { fchmod($0, mode) } ?? withCString(name) { fchmodat(dir.fd, $0, mode, 0) }
            if rc != 0 {
                warn(path, "cannot set mode \(String(node.mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
        }
        let time = timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds))
        let times = [time, time]
        let rc = times.withUnsafeBufferPointer { buffer in
            fd.map { futimens($0, buffer.baseAddress) }
                ?? withCString(name) { utimensat(dir.fd, $0, buffer.baseAddress, nofollow) }
        }
        if rc != 0 { warn(path, "cannot set times: \(String(cString: strerror(errno)))") }
    }

    // MARK: Helpers

    static func checkName(_ name: [UInt8], in path: [UInt8]) throws {
        guard Node.isValidName(name) else {
            throw HaulError(
                .corrupted,
                "the tree of \(printable(path)) holds the invalid name \(String(reflecting: printable(name)))")
        }
    }

    /// Starts writing `range` of the file's dirty pages to the disk without waiting for them to be written. Advisory:
    /// a failure only leaves the pages to the kernel's own writeback, and an error writing them surfaces, as for any
    /// buffered write, to a later `fsync` or `syncfs` of the file.
    static func startWriteback(_ fd: Int32, _ range: Range<UInt64>) {
        _ = haul_start_writeback(fd, off_t(clamping: range.lowerBound), off_t(clamping: range.count))
    }

    /// `pwrite` until every byte is written, retrying `EINTR`.
    static func writeAll(_ data: [UInt8], to fd: Int32, at offset: UInt64, path: [UInt8]) throws {
        try data.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemCallError.make("write", path)
                }
                done += n
            }
        }
    }
}

/// Which of a file's written bytes to hand to the disk next, as a restore writes it front to back through the page
/// cache (RestoreOptions.writebackStep).
struct WritebackWindow {
    var step = RestoreOptions.writebackStep
    /// Bytes before this are handed over already.
    private(set) var handedOver: UInt64 = 0

    /// After the file's bytes up to `end` are written: the range to hand over now, once a step of them waits.
    mutating func written(upTo end: UInt64) -> Range<UInt64>? {
        guard end >= handedOver && end - handedOver >= step else { return nil }
        defer { handedOver = end }
        return handedOver..<end
    }

    /// When the file is complete at `end`: what is left.
    mutating func complete(at end: UInt64) -> Range<UInt64>? {
        guard end > handedOver else { return nil }
        defer { handedOver = end }
        return handedOver..<end
    }
}
