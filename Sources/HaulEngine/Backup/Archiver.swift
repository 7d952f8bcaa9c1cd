import Foundation
import Glibc
import HaulFormat
import HaulRepository
import Synchronization

/// What a backup is asked to do.
public struct BackupOptions: Sendable {
    public var excludes: [PathPattern] = []
    public var tags: [String] = []
    public var hostname: String
    public var username: String
    /// The snapshot whose files cache is used (format.md §12); `nil` reads everything.
    public var parent: StoredSnapshot?
    /// Files larger than `smallFileSize` read at once.
    public var fileConcurrency: Int = 2
    /// Files of at most `smallFileSize` bytes read at once, beside the larger ones. A small file costs more per byte
    /// outside its bytes (open, stat, its one chunk's round through the saver) than a core spends on its bytes, so
    /// two at a time left a core idle on a tree of small files; their buffers are small, so four cost little memory.
    public var smallFileConcurrency: Int = 4
    public static let smallFileSize: UInt64 = 1 << 20
    /// Chunks of one file hashed and compressed at once while the next ones are read.
    public var chunkConcurrency: Int = 2
    /// Stay on the file system of each path given: a directory on another one (a mount point) is recorded as an
    /// empty directory with its own metadata, anything else on another one is left out.
    public var oneFileSystem = false
    /// Leave out the content of directories holding a valid `CACHEDIR.TAG` (one starting with
    /// `CacheDirectoryTag.signature`); the directory and the tag file are kept.
    public var excludeCaches = false

    public init(hostname: String, username: String) {
        self.hostname = hostname
        self.username = username
    }
}

public struct BackupResult: Sendable {
    public var snapshotID: SnapshotID
    public var snapshot: Snapshot
    public var warnings: [EngineWarning]
}

/// Backs up paths into a repository (DESIGN §2): walks with directory fds, reuses unchanged files from the parent
/// snapshot, chunks changed files with keyed FastCDC, stores new blobs through a `BlobSaver`, then writes trees and
/// the snapshot last (format.md §11).
public struct Archiver: Sendable {
    public let repository: Repository
    public let progress: ProgressCounters
    public let warnings: WarningLog

    public init(
        repository: Repository, progress: ProgressCounters = ProgressCounters(), warnings: WarningLog = WarningLog()
    ) {
        self.repository = repository
        self.progress = progress
        self.warnings = warnings
    }

    /// Backs up what a stream yields as one regular file `name` in the snapshot root and writes a snapshot whose
    /// `paths` is `[name]`. The stream is read once, front to back (`read(2)`), and cut into chunks as it comes,
    /// with the repository's chunker class for small files; nothing holds the whole stream. The node has mode
    /// 0644, the owner of this process and the time the stream ended as mtime.
    ///
    /// - Parameters:
    ///   - fd: a readable descriptor (standard input: 0); not closed.
    ///   - name: the file's name; a valid node name (no `/`, not `.` or `..`).
    /// - Throws: `invalidArgument` for an invalid name, `.io` naming `name` when the stream cannot be read, I/O
    ///   errors of the repository. A failed backup writes no snapshot.
    public func backup(stream fd: Int32, name: [UInt8], options: BackupOptions) async throws -> BackupResult {
        guard Node.isValidName(name) else {
            throw HaulError(
                .invalidArgument,
                "the stdin file name \(String(reflecting: String(decoding: name, as: UTF8.self))) is not a valid file "
                    + "name (no \"/\", not \".\" or \"..\"); pass a plain name such as db.sql")
        }
        return try await backup(paths: [name], options: options) { run in
            let (chunks, size) = try await run.readStream(fd: fd, name: name)
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            var node = Node(
                name: name, kind: .file, mode: 0o644, uid: getuid(), gid: getgid(),
                mtime: Node.Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: UInt32(ts.tv_nsec)), size: size,
                chunks: chunks)
            node.ctime = node.mtime
            run.count {
                $0.files += 1
                $0.filesNew += 1
                $0.bytes += size
                $0.bytesRead += size
            }
            self.progress.addFile(path: String(decoding: name, as: UTF8.self))
            return [node]
        }
    }

    /// Backs up `paths` (raw bytes) and writes a snapshot.
    ///
    /// - Throws: `invalidArgument` for a missing path or two paths with the same last component; I/O errors of the
    ///   repository. Unreadable source files are warnings, not errors.
    public func backup(paths: [[UInt8]], options: BackupOptions) async throws -> BackupResult {
        var parentRoot: ParentTree?
        if let parent = options.parent, let id = try? parent.snapshot.treeID() {
            parentRoot = await ParentTree(id, in: repository)
        }
        return try await backup(paths: paths, options: options, parentRoot: parentRoot) { run in
            try await self.rootNodes(paths: paths, run: run, parentRoot: parentRoot?.tree)
        }
    }

    /// Saves the nodes `makeRootNodes` produces as the root tree and writes the snapshot.
    private func backup(
        paths: [[UInt8]], options: BackupOptions, parentRoot: ParentTree? = nil,
        makeRootNodes: (Run) async throws -> [Node]
    ) async throws -> BackupResult {
        let start = Self.realtimeNanos()
        let saver = BlobSaver(repository: repository)
        let run = Run(
            archiver: self, saver: saver, options: options,
            parentStart: options.parent?.snapshot.startNanos,
            semaphore: AsyncSemaphore(max(1, options.fileConcurrency)),
            smallFileSemaphore: AsyncSemaphore(max(1, options.smallFileConcurrency)))
        let rootNodes = try await makeRootNodes(run)
        let rootID = try await Self.saveTree(Tree(nodes: rootNodes), parent: parentRoot, saver: saver)
        try await saver.flush()
        let stats = await saver.statistics
        var summary = run.summary
        summary.dataBlobsNew = stats.blobsNew[.data] ?? 0
        summary.bytesAdded = stats.bytesRaw
        summary.bytesStored = stats.bytesStored
        summary.warnings = warnings.all.count
        let snapshot = Snapshot(
            startNanos: start, endNanos: Self.realtimeNanos(), tree: rootID, paths: paths.map(LosslessBytes.init),
            hostname: options.hostname, username: options.username, uid: getuid(), gid: getgid(),
            tags: options.tags, parent: options.parent?.id, summary: summary)
        let id = try await repository.saveSnapshot(snapshot)
        return BackupResult(snapshotID: id, snapshot: snapshot, warnings: warnings.all)
    }

    /// A directory's tree in the parent snapshot: its blob id, its entries and its delta-chain depth.
    struct ParentTree {
        let id: BlobID
        let tree: Tree
        let depth: Int

        /// Nil when the tree cannot be read: the directory is then saved as if new.
        init?(_ id: BlobID, in repository: Repository) async {
            guard let (tree, blobs) = try? await repository.loadTreeChain(id) else { return nil }
            self.id = id
            self.tree = tree
            self.depth = blobs.count - 1
        }
    }

    /// Saves a directory's tree (format.md §9, "Delta trees"): the parent's blob when the entries are unchanged, a
    /// delta tree against it when that is at most half the full tree's size and the chain stays within
    /// `TreeDelta.writtenDepth`, else the full tree.
    static func saveTree(_ tree: Tree, parent: ParentTree?, saver: BlobSaver) async throws -> BlobID {
        if let parent, parent.tree == tree { return parent.id }
        let full = tree.encoded()
        if let parent, parent.depth < TreeDelta.writtenDepth {
            let delta = TreeDelta(from: parent.tree, to: tree, base: parent.id, baseDepth: parent.depth).encoded()
            if delta.count * 2 <= full.count { return try await saver.save(type: .tree, plaintext: delta) }
        }
        return try await saver.save(type: .tree, plaintext: full)
    }

    private func rootNodes(paths: [[UInt8]], run: Run, parentRoot: Tree?) async throws -> [Node] {
        var rootNodes: [Node] = []
        var seen = Set<[UInt8]>()
        for path in paths {
            var (dirPath, name) = Self.split(Self.cleanPath(path))
            if name == [46] || name == [46, 46] {
                // A relative path up from here ("." or ".."): the directory it names, by its own name.
                let cwd = Array(FileManager.default.currentDirectoryPath.utf8)
                (dirPath, name) = Self.split(Self.cleanPath(cwd + [47] + path))
            }
            guard seen.insert(name).inserted else {
                throw HaulError(
                    .invalidArgument,
                    "two paths end in \"\(String(decoding: name, as: UTF8.self))\"; back them up separately")
            }
            let dir = try DirectoryHandle(path: dirPath)
            let st: FileStat
            do {
                st = try dir.stat(name)
            } catch {
                throw HaulError(.invalidArgument, "cannot back up \(String(decoding: path, as: UTF8.self)): \(error)")
            }
            if let node = try await run.save(
                in: dir, name: name, stat: st, relativePath: name, parent: parentRoot?.node(named: name),
                device: st.device)
            {
                var node = node
                node.name = name
                rootNodes.append(node)
            }
        }
        return rootNodes
    }

    /// `path` without empty and `.` components, each `..` removing the component before it (lexically, as
    /// restic's and Go's path cleaning do; `/..` is `/`), so that a path such as `.`, `dir/` or `a/../b` names an
    /// entry whose last component is a real name. An empty relative result is `.`.
    public static func cleanPath(_ path: [UInt8]) -> [UInt8] {
        let absolute = path.first == 47
        var parts: [ArraySlice<UInt8>] = []
        for part in path.split(separator: 47, omittingEmptySubsequences: true) {
            if part.elementsEqual([46]) { continue }
            if part.elementsEqual([46, 46]) {
                if let last = parts.last, !last.elementsEqual([46, 46]) {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = Array(parts.joined(separator: [47]))
        if absolute { return [47] + joined }
        return joined.isEmpty ? [46] : joined
    }

    /// Splits "/a/b/c" into ("/a/b", "c"); "/" becomes ("/", "root"); a relative "c" into (".", "c").
    static func split(_ path: [UInt8]) -> ([UInt8], [UInt8]) {
        var p = path
        while p.count > 1 && p.last == 47 { p.removeLast() }
        if p == [47] { return ([47], Array("root".utf8)) }
        guard let slash = p.lastIndex(of: 47) else { return ([46], p) }
        let dir = slash == 0 ? [UInt8]([47]) : Array(p[..<slash])
        return (dir, Array(p[(slash + 1)...]))
    }

    static func realtimeNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// State of one backup run.
final class Run: Sendable {
    /// The size of the read buffer a file larger than it slides through (see `cutAndStore`).
    static let slidingBuffer = 2 << 20
    let archiver: Archiver
    let saver: BlobSaver
    let options: BackupOptions
    let parentStart: Int64?
    let semaphore: AsyncSemaphore
    let smallFileSemaphore: AsyncSemaphore
    /// Subdirectories saved by tasks of their own beside the walk (at most this many at once; the rest inline).
    let directorySlots = AsyncSemaphore(Run.extraDirectoryTasks)
    static let extraDirectoryTasks = 2
    /// Files of at most this many bytes are saved in batches: up to `batchFiles` files, and a batch is started once
    /// its files reach `batchBytes` bytes (or before a subdirectory walked inline).
    static let batchFileSize: UInt64 = 64 << 10
    static let batchFiles = 16
    static let batchBytes: UInt64 = 256 << 10
    private let counters = Mutex(Snapshot.Summary())
    /// Ids of all-zero chunks by length: a zero run in a disk image is cut into chunks of a few lengths (mostly the
    /// class's maximum), so a length is hashed about once, not for every chunk. Full at `zeroIDLimit` lengths, the
    /// cache starts over, so the odd lengths of zero files and of runs' last chunks cannot crowd out the maximum.
    private let zeroIDs = Mutex<[Int: BlobID]>([:])
    static let zeroIDLimit = 64
    /// Chunks shorter than this are hashed without the zero test.
    static let zeroTestMinimum = 4096

    init(
        archiver: Archiver, saver: BlobSaver, options: BackupOptions, parentStart: Int64?, semaphore: AsyncSemaphore,
        smallFileSemaphore: AsyncSemaphore
    ) {
        self.archiver = archiver
        self.saver = saver
        self.options = options
        self.parentStart = parentStart
        self.semaphore = semaphore
        self.smallFileSemaphore = smallFileSemaphore
    }

    /// Updates the summary; a lock, not an actor hop, since it runs once per file.
    func count(_ body: (inout Snapshot.Summary) -> Void) { counters.withLock { body(&$0) } }

    var summary: Snapshot.Summary { counters.withLock { $0 } }

    var repository: Repository { archiver.repository }

    func warn(_ path: [UInt8], _ message: String) {
        archiver.warnings.add(EngineWarning(path: path, message: message))
        archiver.progress.update { $0.warnings += 1 }
    }

    /// Saves one entry; returns its node, or nil when it is skipped (socket, excluded, unreadable, on another file
    /// system than `device` under `oneFileSystem`).
    func save(
        in dir: DirectoryHandle, name: [UInt8], stat st: FileStat, relativePath: [UInt8], parent: Node?,
        device: UInt64
    )
        async throws -> Node?
    {
        if options.oneFileSystem && st.device != device {
            guard st.kind == .directory else { return nil }
            // A mount point: the directory itself, empty.
            var node: Node
            do {
                node = try MetadataReader.node(in: dir, name: name, stat: st)
            } catch {
                warn(relativePath, "cannot read directory: \(error)")
                return nil
            }
            node.subtree = try await saver.save(type: .tree, plaintext: Tree(nodes: []).encoded())
            count { $0.directories += 1 }
            archiver.progress.update { $0.directories += 1 }
            return node
        }
        switch st.kind {
        case .socket:
            warn(relativePath, "socket skipped (sockets cannot be backed up)")
            return nil
        case .directory:
            return try await saveDirectory(
                in: dir, name: name, stat: st, relativePath: relativePath, parent: parent, device: device)
        case .file:
            return try await saveFile(in: dir, name: name, stat: st, relativePath: relativePath, parent: parent)
        case .symlink, .fifo, .characterDevice, .blockDevice:
            do {
                let node = try MetadataReader.node(in: dir, name: name, stat: st)
                count { $0.otherEntries += 1 }
                return node
            } catch {
                warn(relativePath, "cannot read metadata: \(error)")
                return nil
            }
        }
    }

    func isExcluded(_ relativePath: [UInt8], isDirectory: Bool) -> Bool {
        options.excludes.contains { $0.matches(relativePath, isDirectory: isDirectory) }
    }

    func saveDirectory(
        in dir: DirectoryHandle, name: [UInt8], stat st: FileStat, relativePath: [UInt8], parent: Node?,
        device: UInt64
    )
        async throws -> Node?
    {
        let handle: DirectoryHandle
        var names: [[UInt8]]
        var node: Node
        do {
            node = try metadata(in: dir, name: name, stat: st, parent: parent)
            handle = try DirectoryHandle(parent: dir, name: name)
            names = try handle.entryNames()
        } catch {
            warn(relativePath, "cannot read directory: \(error)")
            return nil
        }
        if options.excludeCaches && names.contains(CacheDirectoryTag.name) && CacheDirectoryTag.isValid(in: handle) {
            names = [CacheDirectoryTag.name]
        }
        var parentSaved: Archiver.ParentTree?
        if let sub = parent?.subtree, parent?.kind == .directory {
            parentSaved = await Archiver.ParentTree(sub, in: repository)
        }
        let parentTree = parentSaved?.tree
        var children: [Node?] = Array(repeating: nil, count: names.count)
        let width = max(1, options.fileConcurrency) + max(1, options.smallFileConcurrency)
        // Files that must be read and, while a slot is free, subdirectories run as tasks (reads stay bounded by
        // `semaphore` and `smallFileSemaphore`); other entries and the other subdirectories are saved here in order.
        // Files of at most `batchFileSize` go in batches, one task saving each batch's files in turn (a task per
        // file cost more than the file on a tree of many small files); a failure elsewhere stops a batch between
        // files, and a larger file's task started after it reads nothing. A task's result holds the nodes it saved
        // by position; its bool says whether it was a directory.
        try await withThrowingTaskGroup(of: ([(Int, Node?)], Bool).self) { group in
            var files = 0
            /// Takes one task's nodes; false when no task is left.
            @discardableResult func collect() async throws -> Bool {
                guard let (saved, isDirectory) = try await group.next() else { return false }
                for (j, n) in saved { children[j] = n }
                if !isDirectory { files -= 1 }
                return true
            }
            typealias Entry = (index: Int, name: [UInt8], stat: FileStat, path: [UInt8], parent: Node?)
            /// Starts a task saving `taken` in turn: a batch of small files, or one larger file.
            func startFiles(_ taken: [Entry]) async throws {
                while files >= width { try await collect() }
                group.addTask {
                    var saved: [(Int, Node?)] = []
                    saved.reserveCapacity(taken.count)
                    for f in taken {
                        try Task.checkCancellation()  // another task failed: the rest of the files is not read
                        let node = try await self.save(
                            in: handle, name: f.name, stat: f.stat, relativePath: f.path, parent: f.parent,
                            device: device)
                        saved.append((f.index, node))
                    }
                    return (saved, false)
                }
                files += 1
            }
            var batch: [Entry] = []
            var batchBytes: UInt64 = 0
            func startBatch() async throws {
                guard !batch.isEmpty else { return }
                let taken = batch
                batch = []
                batchBytes = 0
                try await startFiles(taken)
            }
            for (i, childName) in names.enumerated() {
                let childPath = relativePath + [47] + childName
                let cst: FileStat
                do {
                    cst = try handle.stat(childName)
                } catch {
                    warn(childPath, "cannot stat: \(error)")
                    continue
                }
                if isExcluded(childPath, isDirectory: cst.kind == .directory) { continue }
                let parentChild = parentTree?.node(named: childName)
                if cst.kind == .file, let cached = unchangedFile(name: childName, stat: cst, parent: parentChild) {
                    // Unchanged: no read, no syscall, no task (format.md §12).
                    children[i] = cached
                    countUnchanged(cached, relativePath: childPath)
                } else if cst.kind == .file && cst.size <= Self.batchFileSize {
                    batch.append((i, childName, cst, childPath, parentChild))
                    batchBytes += cst.size
                    if batch.count >= Self.batchFiles || batchBytes >= Self.batchBytes { try await startBatch() }
                } else if cst.kind == .file {
                    try await startFiles([(i, childName, cst, childPath, parentChild)])
                } else if cst.kind == .directory && directorySlots.tryWait() {
                    group.addTask {
                        defer { self.directorySlots.signal() }
                        let node = try await self.save(
                            in: handle, name: childName, stat: cst, relativePath: childPath, parent: parentChild,
                            device: device)
                        return ([(i, node)], true)
                    }
                } else {
                    // Saved here, in order (a subdirectory can take long): the small files seen before it go first,
                    // so that none is read long after the walk's stat of it.
                    if cst.kind == .directory { try await startBatch() }
                    children[i] = try await save(
                        in: handle, name: childName, stat: cst, relativePath: childPath, parent: parentChild,
                        device: device)
                }
            }
            try await startBatch()
            while try await collect() {}
        }
        let tree = Tree(nodes: children.compactMap { $0 })
        node.subtree = try await Archiver.saveTree(tree, parent: parentSaved, saver: saver)
        count { $0.directories += 1 }
        archiver.progress.update { $0.directories += 1 }
        return node
    }

    /// The node of a file or directory. When the parent snapshot's node has the same inode and ctime, every
    /// attribute that changes ctime (mode, owner, links, extended attributes and ACLs) is unchanged, so the parent's
    /// extended attributes are reused instead of listing them again (format.md §12).
    ///
    /// With `extendedAttributesFromFile`, a node not taken from the parent (`attributesUnchanged` is false) comes
    /// without extended attributes: the caller reads them from the open file.
    func metadata(
        in dir: DirectoryHandle, name: [UInt8], stat st: FileStat, parent: Node?,
        extendedAttributesFromFile: Bool = false
    ) throws -> Node {
        guard let p = parent, Self.attributesUnchanged(p, stat: st) else {
            return try MetadataReader.node(
                in: dir, name: name, stat: st, extendedAttributes: !extendedAttributesFromFile)
        }
        var node = Node(
            name: name, kind: p.kind, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime, ctime: st.ctime,
            device: st.device, inode: st.inode, linkCount: st.linkCount, size: p.kind == .file ? st.size : 0,
            rdev: p.kind == .characterDevice || p.kind == .blockDevice ? st.rdev : 0)
        node.xattrs = p.xattrs
        return node
    }

    /// Whether `parent` is the same inode with the same ctime, so its extended attributes still hold.
    static func attributesUnchanged(_ p: Node, stat st: FileStat) -> Bool {
        p.kind == st.kind.nodeKind && p.inode == st.inode && p.ctime == st.ctime && p.device == st.device
    }

    /// The files cache (format.md §12): the parent's node, updated from `stat`, when size, mtime, ctime and inode
    /// are unchanged, the parent recorded the file before it last changed, and all its chunks are still indexed.
    func unchangedFile(name: [UInt8], stat st: FileStat, parent: Node?) -> Node? {
        guard let p = parent, p.kind == .file, p.size == st.size, p.mtime == st.mtime, p.ctime == st.ctime,
            p.inode == st.inode, p.device == st.device,
            let parentStart, p.mtime.totalNanoseconds < parentStart,
            p.chunks.allSatisfy({ repository.index.contains($0.blob) })
        else { return nil }
        var node = Node(
            name: name, kind: .file, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime, ctime: st.ctime,
            device: st.device, inode: st.inode, linkCount: st.linkCount, size: st.size)
        node.xattrs = p.xattrs
        node.chunks = p.chunks
        return node
    }

    func countUnchanged(_ node: Node, relativePath: [UInt8]) {
        count {
            $0.files += 1
            $0.filesUnchanged += 1
            $0.bytes += node.size
        }
        archiver.progress.addFile(path: String(decoding: relativePath, as: UTF8.self))
        archiver.progress.addBytes(node.size)
    }

    func saveFile(
        in dir: DirectoryHandle, name: [UInt8], stat st: FileStat, relativePath: [UInt8], parent: Node?
    )
        async throws -> Node?
    {
        if let cached = unchangedFile(name: name, stat: st, parent: parent) {
            countUnchanged(cached, relativePath: relativePath)
            return cached
        }
        var node: Node
        // A new or changed inode's extended attributes are read from the file once it is open (no path lookup).
        let attributesFromFile = !(parent.map { Self.attributesUnchanged($0, stat: st) } ?? false)
        do {
            node = try metadata(
                in: dir, name: name, stat: st, parent: parent, extendedAttributesFromFile: attributesFromFile)
        } catch {
            warn(relativePath, "cannot read metadata: \(error)")
            return nil
        }
        do {
            let permits = st.size <= BackupOptions.smallFileSize ? smallFileSemaphore : semaphore
            let (chunks, size, changed, attributes) = try await permits.withPermit {
                try await self.readChunks(in: dir, name: name, expected: st, extendedAttributes: attributesFromFile)
            }
            node.chunks = chunks
            if let attributes { node.xattrs = attributes }
            if changed {
                warn(
                    relativePath,
                    "file changed while it was being read; the snapshot may hold a mix of old and new content")
            }
            _ = size
        } catch let e as HaulError where e.code == .io || e.code == .permissionDenied || e.code == .notFound {
            warn(relativePath, "cannot read: \(e.message)")
            return nil
        }
        let isNew = parent == nil
        count {
            $0.files += 1
            if isNew { $0.filesNew += 1 } else { $0.filesChanged += 1 }
            $0.bytes += st.size
            $0.bytesRead += st.size
        }
        archiver.progress.addFile(path: String(decoding: relativePath, as: UTF8.self))
        return node
    }

    /// Reads a file's data ranges, cuts them into chunks and saves new chunks. Returns the chunk list, the bytes
    /// read, whether the file changed while being read, and with `extendedAttributes` the file's extended
    /// attributes (read from the open file before its data).
    func readChunks(in dir: DirectoryHandle, name: [UInt8], expected: FileStat, extendedAttributes: Bool = false)
        async throws -> ([Node.Chunk], UInt64, Bool, [Node.ExtendedAttribute]?)
    {
        let reader = try FileReader(dir: dir, name: name)
        let attributes = extendedAttributes ? try ExtendedAttributes.read(fd: reader.fd, displayPath: reader.path) : nil
        // The file is read as the walk's `lstat` saw it (the node records that size); one `fstat` after the read
        // finds a file replaced since (another inode) or changed before or while it was read.
        let size = expected.size
        let chunks: [Node.Chunk]
        let total: UInt64
        let shrank: Bool
        if size > 0 && size < UInt64(repository.config.chunkerClass(forFileSize: size).min)
            && UInt64(expected.blocks) * 512 >= size
        {
            // One chunk (no cut before the class's minimum) without holes: read into the chunk itself and store it
            // from this task, without a read buffer, a copy or a task group.
            let chunk = try [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, initialized in
                initialized = try reader.read(into: UnsafeMutableRawBufferPointer(buffer), at: 0)
            }
            archiver.progress.addBytes(UInt64(chunk.count))
            chunks = chunk.isEmpty ? [] : [Node.Chunk(offset: 0, blob: try await store(chunk))]
            (total, shrank) = (UInt64(chunk.count), UInt64(chunk.count) < size)
        } else {
            let ranges: [Range<UInt64>]
            if size > 0 && UInt64(expected.blocks) * 512 < size {
                ranges = try reader.dataRanges(size: size)
            } else {
                ranges = size > 0 ? [0..<size] : []
            }
            (chunks, total, shrank) = try await cutAndStore(ranges: ranges, sizeHint: size) { buffer, offset in
                try reader.read(into: buffer, at: offset)
            }
        }
        let after = try reader.stat()
        let changed =
            shrank || after.inode != expected.inode || after.device != expected.device || after.size != size
            || after.mtime != expected.mtime || after.ctime != expected.ctime
        return (chunks, total, changed, attributes)
    }

    /// Reads `ranges` through `read` (which returns fewer bytes than asked only at the end of the data), cuts them
    /// into chunks with the chunker class for `sizeHint` (nil: a stream of unknown length, cut with the class for
    /// small files) and saves new chunks. Returns the chunk list, the bytes read,
    /// and whether the data ended before a range did.
    func cutAndStore(
        ranges: [Range<UInt64>], sizeHint: UInt64?,
        read: (UnsafeMutableRawBufferPointer, UInt64) throws -> Int
    ) async throws -> ([Node.Chunk], UInt64, Bool) {
        let chunker = repository.chunker(forFileSize: sizeHint ?? 0)
        let maxChunk = repository.config.chunkerClass(forFileSize: sizeHint ?? 0).max
        // A file that fits gets a buffer of its own size, read once and never moved. A longer file or a stream
        // slides through a buffer of `slidingBuffer` bytes or two maximal chunks: when less than a maximal chunk is
        // left behind the window, the window (less than a maximal chunk) moves to the front of the other buffer
        // (below). With the large-file class (max 512 KiB) that moves under a third of the data, once; the
        // small-file class slides only for a stream.
        let sliding = max(2 * maxChunk, Self.slidingBuffer)
        let capacity = max(4096, min(sliding, sizeHint.map { Int(clamping: $0) + 4096 } ?? Int.max))
        // Chunks go to their tasks as slices of the buffer they were read into (`BorrowedBytes`), not copies, so no
        // byte of a chunk in flight is written: reads go past the window's end (chunks in flight lie before its
        // start), a sliding window moves to the other of two buffers (the second made at the first move) once no
        // chunk in flight lies in that one, and a new range of a sparse file waits for every chunk.
        var buffers = [UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)]
        defer { for b in buffers { b.deallocate() } }
        var active = 0
        var inFlightIn = [0, 0]  // chunks in flight in each buffer
        var bufferOf: [Int] = []  // the buffer each chunk was read into
        var offsets: [UInt64] = []
        var ids: [BlobID?] = []
        var total: UInt64 = 0
        var shrank = false
        // Chunks are identified, compressed and handed to the saver by up to `chunkConcurrency` tasks while this task
        // reads and cuts the next ones (read → chunk here; hash → compress → seal in the group).
        try await withThrowingTaskGroup(of: (Int, BlobID).self) { group in
            var inFlight = 0
            /// Takes the result of one chunk in flight; false when none is.
            func collect() async throws -> Bool {
                guard let (i, id) = try await group.next() else { return false }
                ids[i] = id
                inFlight -= 1
                inFlightIn[bufferOf[i]] -= 1
                return true
            }
            for (r, range) in ranges.enumerated() {
                if r > 0 { while try await collect() {} }  // the range is read from the front of the buffer
                var start = 0  // window start in buffer
                var end = 0  // window end in buffer
                var filePos = range.lowerBound  // file offset of buffer[start]
                var readPos = range.lowerBound  // file offset of buffer[end]
                var eof = false
                while true {
                    // Room to read is made only while there is more to read: a range that fits is read once and
                    // never moved (moving after every chunk cost a copy of the rest of the file per chunk).
                    if !eof && readPos < range.upperBound && capacity - start < min(maxChunk, capacity) {
                        let other = 1 - active
                        if buffers.count == 1 {
                            buffers.append(.allocate(byteCount: capacity, alignment: 64))
                        }
                        while inFlightIn[other] > 0 { _ = try await collect() }
                        let n = end - start
                        if n > 0 {
                            buffers[other].baseAddress!.copyMemory(
                                from: buffers[active].baseAddress! + start, byteCount: n)
                        }
                        active = other
                        start = 0
                        end = n
                    }
                    let buffer = buffers[active]
                    while !eof && end - start < min(maxChunk, capacity) {
                        let want = min(capacity - end, Int(clamping: range.upperBound - readPos))
                        if want <= 0 {
                            eof = true
                            break
                        }
                        let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[end..<(end + want)]), readPos)
                        if n == 0 {
                            eof = true
                            shrank = true
                            break
                        }
                        end += n
                        readPos += UInt64(n)
                        archiver.progress.addBytes(UInt64(n))
                    }
                    let window = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                    // A window shorter than a maximal chunk only happens at the end of the range, or when a small file
                    // grew past its buffer while being read (a cut there is still a valid chunk).
                    let cut = chunker.nextCut(in: window, isFinal: eof || window.count < maxChunk)
                    if cut == 0 { break }
                    let chunk = BorrowedBytes(UnsafeRawBufferPointer(rebasing: window[0..<cut]))
                    let position = offsets.count
                    offsets.append(filePos)
                    ids.append(nil)
                    bufferOf.append(active)
                    if inFlight >= options.chunkConcurrency { _ = try await collect() }
                    group.addTask { (position, try await self.store(chunk)) }
                    inFlight += 1
                    inFlightIn[active] += 1
                    start += cut
                    filePos += UInt64(cut)
                    total += UInt64(cut)
                }
            }
            while try await collect() {}
        }
        return (zip(offsets, ids).map { Node.Chunk(offset: $0, blob: $1!) }, total, shrank)
    }

    /// Reads a stream (a pipe, standard input) to its end with `read(2)` and saves it as chunks; returns the chunk
    /// list and the stream's length.
    func readStream(fd: Int32, name: [UInt8]) async throws -> ([Node.Chunk], UInt64) {
        let (chunks, total, _) = try await cutAndStore(ranges: [0..<UInt64.max], sizeHint: nil) { buffer, _ in
            var done = 0
            while done < buffer.count {
                let n = Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemCallError.make("read standard input for", name)
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        return (chunks, total)
    }

    /// The keyed id of a chunk (format.md §4); an all-zero chunk's from `zeroIDs` once its length was hashed. The zero
    /// test stops at the first 64 bytes that are not all zero: it costs next to nothing on data that starts with a
    /// non-zero byte, and at most a read of the chunk on data that starts with a zero run.
    func blobID(of bytes: UnsafeRawBufferPointer) -> BlobID {
        guard bytes.count >= Self.zeroTestMinimum, Self.isAllZero(bytes) else { return repository.blobID(of: bytes) }
        if let id = zeroIDs.withLock({ $0[bytes.count] }) { return id }
        let id = repository.blobID(of: bytes)
        zeroIDs.withLock { cache in
            if cache.count >= Self.zeroIDLimit { cache.removeAll(keepingCapacity: true) }
            cache[bytes.count] = id
        }
        return id
    }

    /// Whether every byte of `bytes` is zero.
    static func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i + 64 <= count {
            var any: UInt64 = 0
            for k in stride(from: 0, to: 64, by: 8) {
                any |= base.loadUnaligned(fromByteOffset: i + k, as: UInt64.self)
            }
            if any != 0 { return false }
            i += 64
        }
        while i < count {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }

    /// Identifies a chunk and saves it if new (a small one in a group, format.md §4).
    func store(_ chunk: some BlobBytes) async throws -> BlobID {
        let id = chunk.withBytes { blobID(of: $0) }
        if repository.index.contains(id) { return id }
        if saver.isPending(id) { return id }
        try await saver.save(id: id, type: .data, plaintext: chunk)
        return id
    }
}
