import HaulFormat
import HaulRepository

/// Finds entries by name across snapshots, as `haul find` does: a `PathPattern` (docs/patterns.md) matched against
/// each entry's path inside the snapshot.
public struct SnapshotSearch: Sendable {
    /// One matching entry of one snapshot.
    public struct Match: Sendable, Hashable {
        public var snapshot: SnapshotID
        public var path: [UInt8]
        public var node: Node
    }

    public let source: any BlobSource

    public init(source: any BlobSource) { self.source = source }

    /// Every entry below `root` that matches any of `patterns`, in path order.
    ///
    /// Directories no pattern can match inside (`mayMatchBelow`) are not loaded, so an anchored pattern such as
    /// `/data/etc/*.conf` reads only the trees on its way.
    /// - Throws: what loading a tree throws (`notFound`, `corrupted`).
    public func matches(in root: BlobID, snapshot: SnapshotID, patterns: [PathPattern]) async throws -> [Match] {
        var out: [Match] = []
        try await walk(root, path: [], snapshot: snapshot, patterns: patterns, into: &out)
        return out
    }

    /// `matches(in:snapshot:patterns:)` over several snapshots, in the order given.
    public func matches(in snapshots: [StoredSnapshot], patterns: [PathPattern]) async throws -> [Match] {
        var out: [Match] = []
        for s in snapshots { out += try await matches(in: try s.snapshot.treeID(), snapshot: s.id, patterns: patterns) }
        return out
    }

    private func walk(
        _ id: BlobID, path: [UInt8], snapshot: SnapshotID, patterns: [PathPattern], into out: inout [Match]
    ) async throws {
        for node in try await source.loadTree(id).nodes {
            let p = path.isEmpty ? node.name : path + [47] + node.name
            let isDirectory = node.kind == .directory
            if patterns.contains(where: { $0.matches(p, isDirectory: isDirectory) }) {
                out.append(Match(snapshot: snapshot, path: p, node: node))
            }
            if isDirectory, let sub = node.subtree, patterns.contains(where: { $0.mayMatchBelow(p) }) {
                try await walk(sub, path: p, snapshot: snapshot, patterns: patterns, into: &out)
            }
        }
    }
}
