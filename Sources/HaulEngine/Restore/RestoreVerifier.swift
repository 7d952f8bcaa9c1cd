import Glibc
import HaulFormat
import HaulRepository

/// The outcome of `RestoreVerifier.verify`.
public struct RestoreVerification: Sendable, Codable, Hashable {
    public struct Mismatch: Sendable, Codable, Hashable {
        public var path: LosslessBytes
        public var reason: String
    }

    /// Regular files read back.
    public var files = 0
    /// Bytes read back (chunk data; holes are checked with `SEEK_DATA` and read only where data sits).
    public var bytes: UInt64 = 0
    /// Files whose content on disk differs from the snapshot, in tree order.
    public var mismatches: [Mismatch] = []

    public init() {}

    public var isClean: Bool { mismatches.isEmpty }
}

/// Reads restored regular files back and checks them against the snapshot: the size, each chunk's blob id
/// recomputed from the bytes on disk with the repository's keys (`Repository.blobID(of:)`, format.md §4), and zeros
/// everywhere no chunk lies. A file's bytes are never compared by size alone.
///
/// Every regular file the includes select is checked, also files a restore kept (`OverwritePolicy.never`): the
/// question answered is whether the target holds the snapshot's content.
public struct RestoreVerifier: Sendable {
    public let repository: Repository
    public let includes: [PathPattern]
    public let progress: ProgressCounters

    public init(repository: Repository, includes: [PathPattern] = [], progress: ProgressCounters = ProgressCounters()) {
        self.repository = repository
        self.includes = includes
        self.progress = progress
    }

    /// Checks the files of the tree `root` restored into `target`.
    ///
    /// - Throws: `.notFound` when `target` does not exist, an error of the repository when a tree cannot be loaded.
    ///   Differences (including missing or unreadable files) are reported, not thrown.
    public func verify(root: BlobID, at target: [UInt8]) async throws -> RestoreVerification {
        let dir = try DirectoryHandle(path: target)
        var result = RestoreVerification()
        try await verify(try await repository.loadTree(root), in: dir, path: [], included: includes.isEmpty, &result)
        return result
    }

    private func verify(
        _ tree: Tree, in dir: DirectoryHandle?, path: [UInt8], included: Bool, _ result: inout RestoreVerification
    ) async throws {
        for node in tree.nodes {
            try Task.checkCancellation()
            let nodePath = joinPath(path, node.name)
            let selected = RestoreRun.selection(
                of: node, path: nodePath, parentIncluded: included, includes: includes)
            if selected == .none { continue }
            switch node.kind {
            case .directory:
                guard let subtree = node.subtree else { continue }
                // A missing directory shows up as its missing files.
                let child = dir.flatMap { try? DirectoryHandle(parent: $0, name: node.name) }
                try await verify(
                    try await repository.loadTree(subtree), in: child, path: nodePath, included: selected == .all,
                    &result)
            case .file:
                result.files += 1
                let reason: String?
                do {
                    reason = try await check(node, in: dir, &result.bytes)
                } catch let error as HaulError {
                    reason = "cannot read: \(error.message)"
                }
                if let reason {
                    result.mismatches.append(.init(path: LosslessBytes(nodePath), reason: reason))
                }
                progress.addFile(path: printable(nodePath))
            default:
                break
            }
        }
    }

    /// Nil when the file matches, else what differs.
    private func check(_ node: Node, in dir: DirectoryHandle?, _ bytes: inout UInt64) async throws -> String? {
        guard let dir, let stat = try? dir.stat(node.name) else { return "missing" }
        guard stat.kind == .file else { return "not a regular file" }
        guard stat.size == node.size else { return "size \(stat.size), the snapshot has \(node.size)" }
        let reader = try FileReader(dir: dir, name: node.name)
        var covered: [Range<UInt64>] = []
        var buffer = [UInt8]()
        for (index, chunk) in node.chunks.enumerated() {
            let length: Int
            if let entry = repository.index.location(of: chunk.blob)?.entry {
                length = Int(entry.rawLength)
            } else {
                length = try await repository.loadData(chunk.blob).count
            }
            if buffer.count < length { buffer = [UInt8](repeating: 0, count: length) }
            let got = try buffer.withUnsafeMutableBytes { raw in
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]), at: chunk.offset)
            }
            bytes += UInt64(got)
            progress.addBytes(UInt64(got))
            guard got == length else { return "chunk \(index) at offset \(chunk.offset) is short" }
            let id = buffer.withUnsafeBytes { repository.blobID(of: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            guard id == chunk.blob else { return "content differs in chunk \(index) at offset \(chunk.offset)" }
            covered.append(chunk.offset..<(chunk.offset + UInt64(length)))
        }
        // Between and after the chunks the file must read as zeros; only its data ranges need reading.
        covered.sort { $0.lowerBound < $1.lowerBound }
        for data in try reader.dataRanges(size: node.size) {
            var position = data.lowerBound
            for range in covered where range.upperBound > position && range.lowerBound < data.upperBound {
                if range.lowerBound > position {
                    if let offset = try firstNonZero(reader, position..<range.lowerBound) {
                        return "data at offset \(offset) where the snapshot has a hole"
                    }
                }
                position = max(position, range.upperBound)
            }
            if position < data.upperBound, let offset = try firstNonZero(reader, position..<data.upperBound) {
                return "data at offset \(offset) where the snapshot has a hole"
            }
        }
        return nil
    }

    private func firstNonZero(_ reader: FileReader, _ range: Range<UInt64>) throws -> UInt64? {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var position = range.lowerBound
        while position < range.upperBound {
            let want = Int(min(UInt64(buffer.count), range.upperBound - position))
            let got = try buffer.withUnsafeMutableBytes {
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: position)
            }
            if let i = buffer[0..<got].firstIndex(where: { $0 != 0 }) { return position + UInt64(i) }
            if got < want { return nil }
            position += UInt64(got)
        }
        return nil
    }
}
