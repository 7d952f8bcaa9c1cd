import HaulFormat

/// Writes what a snapshot holds to a byte stream, as `haul dump` does: a file's content (holes as zeros, so the
/// stream equals the original file), or any entry and everything below it as a tar archive (`TarWriter`).
///
/// Data blobs are fetched a few at a time ahead of the writer (`readAhead`), and written in order; memory stays at
/// about `readAhead` chunks.
public struct SnapshotDump: Sendable {
    /// Receives the stream in order; a throw stops the dump.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    public let source: any BlobSource
    public let readAhead: Int

    public init(source: any BlobSource, readAhead: Int = 4) {
        self.source = source
        self.readAhead = max(1, readAhead)
    }

    /// Writes exactly `node.size` bytes: the chunks at their offsets, zeros for the gaps (holes).
    ///
    /// - Parameter path: the node's path, for error messages.
    /// - Throws: `invalidArgument` when `node` is not a regular file; `corrupted` when its chunks overlap or reach
    ///   past its size; what loading a blob throws; what `sink` throws.
    public func writeContent(of node: Node, path: [UInt8], to sink: Sink) async throws {
        guard node.kind == .file else {
            throw HaulError(.invalidArgument, "/\(String(decoding: path, as: UTF8.self)) is not a regular file")
        }
        let chunks = node.chunks.sorted { $0.offset < $1.offset }
        var position: UInt64 = 0
        func corrupted(_ why: String) -> HaulError {
            HaulError(
                .corrupted, "file /\(String(decoding: path, as: UTF8.self)) in this snapshot is damaged: \(why)")
        }
        try await fetchInOrder(chunks.map(\.blob)) { index, bytes in
            let offset = chunks[index].offset
            guard offset >= position else { throw corrupted("chunks overlap at offset \(offset)") }
            guard offset + UInt64(bytes.count) <= node.size else {
                throw corrupted("a chunk at offset \(offset) reaches past the size \(node.size)")
            }
            try Self.writeZeros(offset - position, to: sink)
            try bytes.withUnsafeBytes { try sink($0) }
            position = offset + UInt64(bytes.count)
        }
        try Self.writeZeros(node.size - position, to: sink)
    }

    /// Writes `node` (and, for a directory, everything below it) as a tar archive, with `name` as the path of
    /// `node` in the archive; ends the archive. An empty `name` (the snapshot root) writes only what it contains.
    ///
    /// Hard links (files with several links and the same device and inode) are written once; later names become
    /// hard-link members pointing at the first. Extended attributes go into `SCHILY.xattr.*` records.
    /// - Throws: what loading a tree or blob throws; what `sink` throws.
    public func writeTar(of node: Node, name: [UInt8], to sink: Sink) async throws {
        var links: [HardlinkKey: [UInt8]] = [:]
        if name.isEmpty {
            guard node.kind == .directory, let sub = node.subtree else {
                throw HaulError(.invalidArgument, "an archive of a non-directory needs a name")
            }
            try await writeTree(sub, prefix: [], links: &links, to: sink)
        } else {
            try await writeMember(node, name: name, links: &links, to: sink)
        }
        try TarWriter.trailer.withUnsafeBytes { try sink($0) }
    }

    struct HardlinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private func writeTree(_ id: BlobID, prefix: [UInt8], links: inout [HardlinkKey: [UInt8]], to sink: Sink)
        async throws
    {
        for child in try await source.loadTree(id).nodes {
            try await writeMember(
                child, name: prefix.isEmpty ? child.name : prefix + [47] + child.name, links: &links, to: sink)
        }
    }

    private func writeMember(_ node: Node, name: [UInt8], links: inout [HardlinkKey: [UInt8]], to sink: Sink)
        async throws
    {
        var entry = TarWriter.Entry(
            name: name, kind: .file, mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime,
            xattrs: node.xattrs)
        switch node.kind {
        case .file:
            if node.linkCount > 1 {
                let key = HardlinkKey(device: node.device, inode: node.inode)
                if let first = links[key] {
                    entry.kind = .hardlink
                    entry.linkName = first
                    try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
                    return
                }
                links[key] = name
            }
            entry.size = node.size
            try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
            try await writeContent(of: node, path: name, to: sink)
            try Self.writeZeros(UInt64(TarWriter.padding(forSize: node.size)), to: sink)
        case .directory:
            entry.kind = .directory
            try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
            if let sub = node.subtree { try await writeTree(sub, prefix: name, links: &links, to: sink) }
        case .symlink:
            entry.kind = .symlink
            entry.linkName = node.linkTarget
            try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
        case .fifo:
            entry.kind = .fifo
            try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
        case .characterDevice, .blockDevice:
            entry.kind = node.kind == .characterDevice ? .characterDevice : .blockDevice
            // Linux dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
            entry.deviceMajor = UInt32(truncatingIfNeeded: ((node.rdev >> 8) & 0xfff) | ((node.rdev >> 32) & ~0xfff))
            entry.deviceMinor = UInt32(truncatingIfNeeded: (node.rdev & 0xff) | ((node.rdev >> 12) & ~0xff))
            try TarWriter.header(for: entry).withUnsafeBytes { try sink($0) }
        }
    }

    /// Loads `ids` with up to `readAhead` loads in flight and hands them to `body` in order.
    private func fetchInOrder(_ ids: [BlobID], _ body: (Int, [UInt8]) throws -> Void) async throws {
        let source = self.source
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var next = 0
            var ready: [Int: [UInt8]] = [:]
            func start() {
                guard next < ids.count else { return }
                let i = next
                let id = ids[i]
                group.addTask { (i, try await source.loadData(id)) }
                next += 1
            }
            for _ in 0..<min(readAhead, ids.count) { start() }
            var emitted = 0
            while emitted < ids.count {
                if let bytes = ready.removeValue(forKey: emitted) {
                    try body(emitted, bytes)
                    emitted += 1
                    start()
                    continue
                }
                guard let (i, bytes) = try await group.next() else { break }
                ready[i] = bytes
            }
        }
    }

    private static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    static func writeZeros(_ count: UInt64, to sink: Sink) throws {
        var left = count
        while left > 0 {
            let n = Int(min(left, UInt64(zeros.count)))
            try zeros.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            left -= UInt64(n)
        }
    }

    /// Whether `prefix` (the start of a stream) looks like binary data: a NUL byte or invalid UTF-8 (a sequence cut
    /// at the end is allowed). `haul dump` refuses to send such data to a terminal.
    public static func looksBinary(_ prefix: UnsafeRawBufferPointer) -> Bool {
        if prefix.contains(0) { return true }
        var bytes = Array(prefix)
        for _ in 0..<3 where String(validating: bytes, as: UTF8.self) == nil && !bytes.isEmpty {
            bytes.removeLast()
        }
        return String(validating: bytes, as: UTF8.self) == nil
    }
}
