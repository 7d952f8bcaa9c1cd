import HaulFormat
import HaulRepository

/// How a file node's chunks break the rule of format.md §9: chunks ascend and never overlap, each ends (its offset
/// plus its blob's raw length) at or before the next one's offset, and the last at or before the file's size.
/// `check` reports such a file and `repair snapshots` leaves it out, since a restore of it would give other bytes
/// without an error.
enum ChunkLayoutFault: Equatable, CustomStringConvertible {
    /// The chunk at `offset` starts before the chunk before it ends, at `previousEnd`.
    case overlap(offset: UInt64, previousEnd: UInt64)
    /// The chunks end at `end` (nil: past the largest 64-bit offset), past the file's `size`.
    case pastSize(end: UInt64?, size: UInt64)

    var description: String {
        switch self {
        case .overlap(let offset, let previousEnd):
            "the chunk at byte \(offset) starts before the chunk before it ends, at byte \(previousEnd)"
        case .pastSize(let end?, let size):
            "the chunks end at byte \(end), past the file's size of \(size) bytes"
        case .pastSize(nil, let size):
            "a chunk ends past the largest 64-bit offset, past the file's size of \(size) bytes"
        }
    }

    /// The first fault of `node`'s chunk list against `index`, or nil.
    static func first(in node: Node, index: MemoryIndex) -> ChunkLayoutFault? {
        first(in: node, rawLengths: node.chunks.map { index.location(of: $0.blob).map { UInt64($0.entry.rawLength) } })
    }

    /// The first fault of `node`'s chunk list, or nil. `rawLengths` holds each chunk's raw length, nil for a blob
    /// not in the index (such a chunk is skipped: the file is damaged anyway).
    static func first(in node: Node, rawLengths: [UInt64?]) -> ChunkLayoutFault? {
        precondition(rawLengths.count == node.chunks.count, "one raw length per chunk")
        var end: UInt64 = 0
        for (c, rawLength) in zip(node.chunks, rawLengths) {
            if c.offset < end { return .overlap(offset: c.offset, previousEnd: end) }
            guard let length = rawLength else { continue }
            let (next, overflow) = c.offset.addingReportingOverflow(length)
            if overflow { return .pastSize(end: nil, size: node.size) }
            end = next
        }
        return end > node.size ? .pastSize(end: end, size: node.size) : nil
    }
}
