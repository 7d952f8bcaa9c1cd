import HaulFormat
import HaulRepository

/// The differences between two snapshot trees, as `haul diff` prints them.
///
/// Both trees are walked together in name order; two directories with the same subtree blob id hold the same
/// entries (tree ids are content ids, format.md §9), so they are skipped without being loaded. That makes a diff of
/// two backups of a mostly unchanged tree cost about as many tree loads as there are changed directories.
public struct SnapshotDiff: Sendable {
    /// How an entry differs.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Only in the second snapshot (`+`).
        case added
        /// Only in the first snapshot (`-`).
        case removed
        /// A file whose content differs: another chunk list or size (`M`).
        case modified
        /// Same type and content, but mode, owner, mtime, xattrs, device number or link target differ (`U`).
        case metadata
        /// The entry's type differs, such as a file that became a symlink (`T`).
        case typeChanged

        /// The one-letter marker of the listing.
        public var marker: String {
            switch self {
            case .added: "+"
            case .removed: "-"
            case .modified: "M"
            case .metadata: "U"
            case .typeChanged: "T"
            }
        }
    }

    /// One changed entry. `path` is the path inside the snapshot; `isDirectory` is true when the entry is a
    /// directory in the snapshot it is listed for (the second one, except for removals).
    public struct Change: Sendable, Hashable, Codable {
        public var path: LosslessBytes
        public var kind: Kind
        public var isDirectory: Bool
        public init(path: [UInt8], kind: Kind, isDirectory: Bool) {
            self.path = LosslessBytes(path)
            self.kind = kind
            self.isDirectory = isDirectory
        }
    }

    /// Counts per kind, and the data that came and went.
    public struct Summary: Sendable, Hashable, Codable {
        public var added = 0
        public var removed = 0
        public var modified = 0
        public var metadata = 0
        public var typeChanged = 0
        /// Data blobs referenced by the changed parts of the second tree and not by the changed parts of the first
        /// (so a file moved into an unchanged directory still counts), with their uncompressed bytes.
        public var blobsAdded = 0
        public var bytesAdded: UInt64 = 0
        /// The same from the first tree's side.
        public var blobsRemoved = 0
        public var bytesRemoved: UInt64 = 0
        public init() {}

        mutating func count(_ kind: Kind) {
            switch kind {
            case .added: added += 1
            case .removed: removed += 1
            case .modified: modified += 1
            case .metadata: metadata += 1
            case .typeChanged: typeChanged += 1
            }
        }
    }

    public struct Result: Sendable, Hashable, Codable {
        /// In path order (component by component, each in byte order; a directory before what it holds).
        public var changes: [Change]
        public var summary: Summary
    }

    public let source: any BlobSource
    /// The uncompressed length of a data blob, or nil when unknown.
    public let blobSize: @Sendable (BlobID) -> UInt64?

    public init(source: any BlobSource, blobSize: @escaping @Sendable (BlobID) -> UInt64?) {
        self.source = source
        self.blobSize = blobSize
    }

    /// A diff over a repository: trees from it, blob sizes from its loaded index.
    public init(repository: Repository) {
        self.source = repository
        self.blobSize = { id in repository.index.location(of: id).map { UInt64($0.entry.rawLength) } }
    }

    /// Compares the tree `old` with the tree `new`.
    ///
    /// - Throws: what loading a tree throws (`notFound`, `corrupted`).
    public func compare(old: BlobID, new: BlobID) async throws -> Result {
        var walk = Walk()
        if old != new { try await compareTrees(old, new, path: [], into: &walk) }
        var summary = walk.summary
        let added = walk.newBlobs.subtracting(walk.oldBlobs)
        let removed = walk.oldBlobs.subtracting(walk.newBlobs)
        summary.blobsAdded = added.count
        summary.bytesAdded = added.reduce(0) { $0 + (blobSize($1) ?? 0) }
        summary.blobsRemoved = removed.count
        summary.bytesRemoved = removed.reduce(0) { $0 + (blobSize($1) ?? 0) }
        return Result(changes: walk.changes, summary: summary)
    }

    struct Walk {
        var changes: [Change] = []
        var summary = Summary()
        var oldBlobs = Set<BlobID>()
        var newBlobs = Set<BlobID>()

        mutating func record(_ path: [UInt8], _ kind: Kind, directory: Bool) {
            changes.append(Change(path: path, kind: kind, isDirectory: directory))
            summary.count(kind)
        }
    }

    private func compareTrees(_ old: BlobID, _ new: BlobID, path: [UInt8], into walk: inout Walk) async throws {
        let a = try await source.loadTree(old).nodes
        let b = try await source.loadTree(new).nodes
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].name.lexicographicallyPrecedes(b[j].name)) {
                try await whole(a[i], path: join(path, a[i].name), kind: .removed, into: &walk)
                i += 1
            } else if i == a.count || b[j].name.lexicographicallyPrecedes(a[i].name) {
                try await whole(b[j], path: join(path, b[j].name), kind: .added, into: &walk)
                j += 1
            } else {
                try await compareNodes(a[i], b[j], path: join(path, a[i].name), into: &walk)
                i += 1
                j += 1
            }
        }
    }

    private func compareNodes(_ a: Node, _ b: Node, path: [UInt8], into walk: inout Walk) async throws {
        guard a.kind == b.kind else {
            walk.record(path, .typeChanged, directory: b.kind == .directory)
            // What the old directory held is gone, what the new one holds is new.
            try await contents(of: a, path: path, kind: .removed, into: &walk)
            try await contents(of: b, path: path, kind: .added, into: &walk)
            collectBlobs(a, into: &walk.oldBlobs)
            collectBlobs(b, into: &walk.newBlobs)
            return
        }
        if a.kind == .file && (a.chunks != b.chunks || a.size != b.size) {
            walk.record(path, .modified, directory: false)
            collectBlobs(a, into: &walk.oldBlobs)
            collectBlobs(b, into: &walk.newBlobs)
        } else if !Self.sameMetadata(a, b) {
            walk.record(path, .metadata, directory: a.kind == .directory)
        }
        if a.kind == .directory, let sa = a.subtree, let sb = b.subtree, sa != sb {
            try await compareTrees(sa, sb, path: path, into: &walk)
        }
    }

    /// Lists `node` and everything below it as added or removed.
    private func whole(_ node: Node, path: [UInt8], kind: Kind, into walk: inout Walk) async throws {
        walk.record(path, kind, directory: node.kind == .directory)
        if kind == .added { collectBlobs(node, into: &walk.newBlobs) } else { collectBlobs(node, into: &walk.oldBlobs) }
        try await contents(of: node, path: path, kind: kind, into: &walk)
    }

    private func contents(of node: Node, path: [UInt8], kind: Kind, into walk: inout Walk) async throws {
        guard node.kind == .directory, let sub = node.subtree else { return }
        for child in try await source.loadTree(sub).nodes {
            try await whole(child, path: join(path, child.name), kind: kind, into: &walk)
        }
    }

    private func collectBlobs(_ node: Node, into set: inout Set<BlobID>) {
        for c in node.chunks { set.insert(c.blob) }
    }

    /// Equal in what a restore sets besides content: mode, owner, mtime, xattrs, link target, device number.
    /// Inode, device, link count and ctime are not compared: they change without the user changing anything.
    static func sameMetadata(_ a: Node, _ b: Node) -> Bool {
        a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime == b.mtime && a.linkTarget == b.linkTarget
            && a.rdev == b.rdev
            && a.xattrs.sorted { $0.name.lexicographicallyPrecedes($1.name) }
                == b.xattrs.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    private func join(_ path: [UInt8], _ name: [UInt8]) -> [UInt8] { path.isEmpty ? name : path + [47] + name }
}
