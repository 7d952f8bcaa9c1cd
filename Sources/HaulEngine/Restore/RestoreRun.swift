import CLinux
import Glibc
import HaulFormat
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
    /// Trees the totals pass loaded, kept for the restore pass (up to `treeCacheNodes` nodes in all) so that each tree
    /// is fetched, authenticated and decoded once.
    private let treeCache = Mutex<(trees: [BlobID: Tree], nodes: Int)>(([:], 0))
    static let treeCacheNodes = 250_000
    private let warningsAdded = Mutex(0)

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
        /// An existing directory receives a directory node's content.
        case merge
        case skip
    }

    init(
        source: any BlobSource, options: RestoreOptions, progress: ProgressCounters, warnings: WarningLog,
        root: DirectoryHandle
    ) {
        self.source = source
        self.options = options
        self.progress = progress
        self.warnings = warnings
        self.root = root
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
        if parentIncluded { return .all }
        let isDirectory = node.kind == .directory
        if options.includes.contains(where: { $0.matches(path, isDirectory: isDirectory) }) { return .all }
        if isDirectory && options.includes.contains(where: { $0.mayMatchBelow(path) }) { return .descend }
        return .none
    }

    /// Regular files and their logical bytes that the restore will visit (the progress totals).
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
        return try await withThrowingTaskGroup(of: RestoreSummary.self) { group in
            var summary = RestoreSummary()
            var running = 0
            for node in tree.nodes {
                try Task.checkCancellation()
                try Self.checkName(node.name, in: path)
                let nodePath = joinPath(path, node.name)
                let selected = selection(of: node, path: nodePath, parentIncluded: included)
                if selected == .none { continue }
                if node.kind == .file && node.linkCount <= 1 {
                    if running >= width, let done = try await group.next() {
                        summary += done
                        running -= 1
                    }
                    group.addTask { try await self.restoreFile(node, in: dir, path: nodePath) }
                    running += 1
                } else {
                    // Directories recurse here; hard-link candidates stay sequential so a first name is complete
                    // before a later name links to it.
                    summary += try await restoreEntry(
                        node, in: dir, path: nodePath, components: components, selection: selected)
                }
            }
            while let done = try await group.next() { summary += done }
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

    /// Decides about an existing target entry per `OverwritePolicy`, removing it when it is to be replaced.
    private func disposition(of node: Node, in dir: DirectoryHandle, path: [UInt8]) throws -> Disposition {
        if options.overwrite == .refuseNonEmptyTarget { return .create }  // the target was empty: nothing to meet
        let existing: FileStat
        do {
            existing = try dir.stat(node.name)
        } catch let error as HaulError where error.code == .notFound {
            return .create
        }
        let bothDirectories = existing.kind == .directory && node.kind == .directory
        switch options.overwrite {
        case .never:
            return bothDirectories ? .merge : .skip
        case .always, .refuseNonEmptyTarget:
            if bothDirectories { return .merge }
            if existing.kind == .directory {
                warn(path, "not restored: an existing directory is in the way")
                return .skip
            }
            let rc = withCString(node.name) { unlinkat(dir.fd, $0, 0) }
            if rc != 0 { throw SystemCallError.make("replace", path) }
            return .create
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
        if disposition == .skip {
            summary.skipped += 1
            return summary
        }
        if disposition == .create {
            let rc = withCString(node.name) { mkdirat(dir.fd, $0, 0o700) }
            if rc != 0 { throw SystemCallError.make("create directory", path) }
        }
        let child = try DirectoryHandle(parent: dir, name: node.name)
        let tree = try await loadTree(subtree, path: path)
        summary += try await restoreContents(
            of: tree, into: child, path: path, components: components + [node.name], included: selection == .all)
        if selection == .descend && disposition == .create && summary.restoredEntries == 0 {
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

    /// Writes a regular file: chunks at their offsets, then the size, then metadata.
    func restoreFile(_ node: Node, in dir: DirectoryHandle, path: [UInt8]) async throws -> RestoreSummary {
        var summary = RestoreSummary()
        if try disposition(of: node, in: dir, path: path) == .skip {
            summary.skipped += 1
            progress.addFile(path: printable(path))
            progress.addBytes(node.size)
            return summary
        }
        let flags = O_WRONLY | O_CREAT | O_EXCL | haul_o_nofollow() | haul_o_cloexec()
        let fd = withCString(node.name) { haul_openat(dir.fd, $0, flags, 0o600) }
        guard fd >= 0 else { throw SystemCallError.make("create file", path) }
        defer { close(fd) }
        for chunk in node.chunks {
            try Task.checkCancellation()
            let data = try await loadData(chunk.blob, path: path)
            try Self.writeAll(data, to: fd, at: chunk.offset, path: path)
            summary.bytesWritten += UInt64(data.count)
            progress.addBytes(UInt64(data.count))
        }
        if ftruncate(fd, off_t(clamping: node.size)) != 0 { throw SystemCallError.make("set the size of", path) }
        applyMetadata(node, fd: fd, in: dir, path: path)
        summary.files += 1
        progress.addFile(path: printable(path))
        if node.size > summary.bytesWritten { progress.addBytes(node.size - summary.bytesWritten) }
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
            if summary.files == 1 { firstLinks.withLock { $0[key] = components + [node.name] } }
            return summary
        }
        var summary = RestoreSummary()
        if try disposition(of: node, in: dir, path: path) == .skip {
            summary.skipped += 1
            return summary
        }
        let firstDir = try openBelowRoot(Array(first.dropLast()), reusing: dir, at: components)
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
        if try disposition(of: node, in: dir, path: path) == .skip {
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
        if try disposition(of: node, in: dir, path: path) == .skip {
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
    /// else `dir` and the name without following a symlink. Failures are warnings.
    private func applyMetadata(_ node: Node, fd: Int32?, in dir: DirectoryHandle, path: [UInt8]) {
        let nofollow = haul_at_symlink_nofollow()
        if options.restoreOwnership {
            let rc =
                fd.map { fchown($0, node.uid, node.gid) }
                ?? withCString(node.name) { fchownat(dir.fd, $0, node.uid, node.gid, nofollow) }
            if rc != 0 { warn(path, "cannot set owner \(node.uid):\(node.gid): \(String(cString: strerror(errno)))") }
        }
        if !node.xattrs.isEmpty {
            let procPath = dir.procPath(of: node.name)
            for attribute in node.xattrs {
                do {
                    try ExtendedAttributes.write(attribute, at: procPath, displayPath: path)
                } catch let error as HaulError {
                    warn(path, error.message)
                } catch {
                    warn(path, "\(error)")
                }
            }
        }
        if node.kind != .symlink {  // Linux has no symlink modes (fchmodat(AT_SYMLINK_NOFOLLOW) fails)
            let mode = mode_t(node.mode & 0o7777)
            let rc = fd.map { fchmod($0, mode) } ?? withCString(node.name) { fchmodat(dir.fd, $0, mode, 0) }
            if rc != 0 {
                warn(path, "cannot set mode \(String(node.mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
        }
        let time = timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds))
        let times = [time, time]
        let rc = times.withUnsafeBufferPointer { buffer in
            fd.map { futimens($0, buffer.baseAddress) }
                ?? withCString(node.name) { utimensat(dir.fd, $0, buffer.baseAddress, nofollow) }
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
