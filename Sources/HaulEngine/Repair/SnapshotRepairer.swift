import HaulFormat
import HaulRepository
import HaulStorage

/// What `repair snapshots` found and did for one damaged snapshot.
public struct RepairedSnapshot: Sendable, Codable {
    /// The damaged snapshot.
    public var snapshot: String
    /// The salvaged snapshot written in its place; `nil` in a dry run.
    public var repaired: String?
    /// Files left out because some of their chunks are not in the index.
    public var removedFiles: [LosslessBytes] = []
    /// Directories whose tree blob is missing or unreadable: they become empty directories (the root too).
    public var emptiedDirectories: [LosslessBytes] = []
    /// Whether `repaired` was written by an earlier run (same salvaged tree, this snapshot as parent).
    public var reused = false
    /// Whether the damaged snapshot was deleted (`--forget`).
    public var forgotten = false
}

public struct SnapshotRepairReport: Sendable, Codable {
    public var dryRun = false
    public var snapshots = 0
    public var intact = 0
    public var damaged: [RepairedSnapshot] = []
}

/// Salvages snapshots whose data is partly lost (`haul repair snapshots`). The caller holds the exclusive lease.
///
/// Every snapshot's trees are walked. A file with a chunk the index does not know is left out, a directory whose
/// tree blob is missing or fails to open becomes an empty directory. The trees along the damaged paths are
/// rewritten bottom-up and saved as new tree blobs, the packs are flushed with their index file, and only then is a
/// new snapshot written (format.md §11): same time, paths, host and tags plus `repaired`, `parent` = the damaged
/// snapshot. With `forget` the damaged snapshot is deleted afterwards. Undamaged snapshots are not touched. Running it
/// again finds the damaged snapshots again but reuses their salvaged copies, so `forget` may be given on a later run.
///
/// Damage is judged by the index, so every pack the index names must be present: after a pack is lost, run
/// `IndexRebuilder` (`haul repair index`) first; `repair` refuses otherwise.
public struct SnapshotRepairer: Sendable {
    public let repository: Repository
    public static let tag = "repaired"

    public init(repository: Repository) { self.repository = repository }

    public func repair(forget: Bool, dryRun: Bool) async throws -> SnapshotRepairReport {
        var report = SnapshotRepairReport()
        report.dryRun = dryRun
        try await repository.loadIndex()
        let present = Set(try await repository.store.list(.data).compactMap { ObjectID(hex: $0.key.name) })
        let missing = repository.index.packs.map(\.id).filter { !present.contains($0) }.sorted()
        if let first = missing.first {
            throw HaulError(
                .corrupted,
                "the index names \(missing.count) pack(s) missing from the repository (first: \(first.hex)); "
                    + "run `haul repair index` first, then `haul repair snapshots`")
        }

        let snapshots = try await repository.listSnapshots()
        report.snapshots = snapshots.count
        var walker = Walker(repository: repository, saver: dryRun ? nil : BlobSaver(repository: repository))
        var pending: [(StoredSnapshot, BlobID, Walker.Damage)] = []
        for s in snapshots {
            let result = try await walker.repair(try s.snapshot.treeID())
            if result.damage.isEmpty {
                report.intact += 1
            } else {
                pending.append((s, result.tree, result.damage))
            }
        }
        // Every rewritten tree is durable and indexed before a snapshot refers to it.
        try await walker.saver?.flush()

        // A salvaged copy written by an earlier run (without `forget`) is reused, not written twice.
        var earlier: [String: SnapshotID] = [:]
        for s in snapshots where s.snapshot.tags.contains(Self.tag) {
            if let parent = s.snapshot.parent { earlier[parent + s.snapshot.tree] = s.id }
        }
        for (s, root, damage) in pending {
            var entry = RepairedSnapshot(snapshot: s.id.hex)
            entry.removedFiles = damage.files.map(LosslessBytes.init)
            entry.emptiedDirectories = damage.directories.map(LosslessBytes.init)
            if let copy = earlier[s.id.hex + root.hex] {
                entry.repaired = copy.hex
                entry.reused = true
                if forget && !dryRun {
                    try await repository.deleteSnapshot(s.id)
                    entry.forgotten = true
                }
            } else if !dryRun {
                var fixed = s.snapshot
                fixed.tree = root.hex
                fixed.parent = s.id.hex
                if !fixed.tags.contains(Self.tag) { fixed.tags.append(Self.tag) }
                fixed.summary.files = max(0, fixed.summary.files - damage.files.count)
                fixed.summary.bytes -= min(fixed.summary.bytes, damage.bytes)
                entry.repaired = try await repository.saveSnapshot(fixed).hex
                if forget {
                    try await repository.deleteSnapshot(s.id)
                    entry.forgotten = true
                }
            }
            report.damaged.append(entry)
        }
        return report
    }

    /// Walks trees once each, remembering the result per tree id (trees are shared across snapshots).
    struct Walker {
        /// Damage below one tree, with paths relative to it.
        struct Damage: Sendable {
            var files: [[UInt8]] = []
            var directories: [[UInt8]] = []
            var bytes: UInt64 = 0
            var isEmpty: Bool { files.isEmpty && directories.isEmpty }

            mutating func append(_ other: Damage, under prefix: [UInt8]) {
                files += other.files.map { Self.join(prefix, $0) }
                directories += other.directories.map { Self.join(prefix, $0) }
                bytes += other.bytes
            }

            static func join(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
                a.isEmpty ? b : (b.isEmpty ? a : a + [UInt8(ascii: "/")] + b)
            }
        }

        let repository: Repository
        let saver: BlobSaver?
        private var done: [BlobID: (tree: BlobID, damage: Damage)] = [:]

        init(repository: Repository, saver: BlobSaver?) {
            self.repository = repository
            self.saver = saver
        }

        /// The id of the salvaged tree (the same id when nothing below is damaged) and the damage found.
        mutating func repair(_ id: BlobID) async throws -> (tree: BlobID, damage: Damage) {
            if let known = done[id] { return known }
            let result = try await rewrite(id)
            done[id] = result
            return result
        }

        private mutating func rewrite(_ id: BlobID) async throws -> (tree: BlobID, damage: Damage) {
            var damage = Damage()
            let tree: Tree
            do {
                tree = try await repository.loadTree(id)
            } catch let e as HaulError where [.notFound, .corrupted, .authenticationFailed].contains(e.code) {
                // The directory itself survives, empty (the empty path is the tree's own directory).
                damage.directories.append([])
                return (try await save(Tree(nodes: [])), damage)
            }
            var nodes: [Node] = []
            nodes.reserveCapacity(tree.nodes.count)
            for var node in tree.nodes {
                switch node.kind {
                case .file
                where node.chunks.contains(where: { !repository.index.contains($0.blob) })
                    || ChunkLayoutFault.first(in: node, index: repository.index) != nil:
                    damage.files.append(node.name)
                    damage.bytes += node.size
                    continue
                case .directory:
                    if let sub = node.subtree {
                        let child = try await repair(sub)
                        damage.append(child.damage, under: node.name)
                        node.subtree = child.tree
                    }
                default:
                    break
                }
                nodes.append(node)
            }
            if damage.isEmpty { return (id, damage) }
            return (try await save(Tree(nodes: nodes)), damage)
        }

        private func save(_ tree: Tree) async throws -> BlobID {
            let bytes = tree.encoded()
            guard let saver else { return bytes.withUnsafeBytes { repository.blobID(of: $0) } }
            return try await saver.save(type: .tree, plaintext: bytes)
        }
    }
}
