import HaulFormat
import HaulRepository
import HaulStorage

public struct PruneReport: Sendable, Codable {
    public var dryRun = false
    public var snapshots = 0
    public var blobsUsed = 0
    public var packsKept = 0
    public var packsDeleted = 0
    public var packsRepacked = 0
    public var packsWritten = 0
    public var unreferencedPacksDeleted = 0
    public var bytesFreed: UInt64 = 0
    public var indexFilesWritten = 0
    public var indexFilesDeleted = 0
}

/// Removes data no snapshot refers to (format.md §11). The caller holds the exclusive lease.
///
/// Order: repack still-used blobs of mostly-unused packs → write index files that supersede every old one → delete
/// old index files → delete packs nothing refers to. A crash at any step leaves a repository that checks clean.
public struct Pruner: Sendable {
    public let repository: Repository
    /// A pack whose unused bytes exceed this fraction is rewritten.
    public var repackThreshold: Double = 0.2

    public init(repository: Repository) { self.repository = repository }

    public func prune(dryRun: Bool) async throws -> PruneReport {
        var report = PruneReport()
        report.dryRun = dryRun
        try await repository.loadIndex()
        let oldIndexIDs = Set(try await repository.store.list(.index).map { ObjectID(hex: $0.key.name)! })
        let loaded = repository.indexFiles

        // Mark.
        var used = Set<BlobID>()
        var walked = Set<BlobID>()
        let snapshots = try await repository.listSnapshots()
        report.snapshots = snapshots.count
        for s in snapshots {
            try await mark(try s.snapshot.treeID(), &used, &walked)
        }
        report.blobsUsed = used.count

        // Classify packs by their canonical entries.
        var packs: [PackID: IndexFile.PackInfo] = [:]
        for id in loaded {
            for p in try await repository.readIndexFile(id).packs { packs[p.id] = p }
        }
        var keep: [IndexFile.PackInfo] = []
        var drop: [IndexFile.PackInfo] = []
        var repack: [(IndexFile.PackInfo, [PackEntry])] = []
        for p in packs.values.sorted(by: { $0.id < $1.id }) {
            let live = p.entries.filter { used.contains($0.id) && repository.index.location(of: $0.id)?.pack == p.id }
            if live.isEmpty {
                drop.append(p)
            } else {
                let liveBytes = Self.storedBytes(of: live, in: p)
                let total = Self.storedBytes(of: p.entries, in: p)
                if total - liveBytes > repackThreshold * total {
                    repack.append((p, live))
                } else {
                    keep.append(p)
                }
            }
        }
        let present = try await repository.store.list(.data)
        let known = Set(packs.keys)
        let unreferenced = present.filter { !known.contains(ObjectID(hex: $0.key.name)!) }

        report.packsKept = keep.count
        report.packsDeleted = drop.count
        report.packsRepacked = repack.count
        report.unreferencedPacksDeleted = unreferenced.count
        report.bytesFreed = drop.reduce(0) { $0 + $1.size } + unreferenced.reduce(0) { $0 + UInt64($1.size) }
        if dryRun { return report }

        // Repack live blobs into new packs (their own index files are written by the saver).
        var newPacks: [IndexFile.PackInfo] = []
        if !repack.isEmpty {
            let saver = BlobSaver(repository: repository, dedupeAgainstIndex: false)
            for (_, live) in repack {
                for e in live {
                    _ = try await saver.save(type: e.type, plaintext: try await repository.loadBlob(e.id, type: e.type))
                }
            }
            try await saver.flush()
            newPacks = await saver.storedPacks
            report.packsWritten = newPacks.count
            let before = repack.reduce(0) { $0 + $1.0.size }
            let after = newPacks.reduce(0) { $0 + $1.size }
            report.bytesFreed += before > after ? before - after : 0
        }
        // New index files superseding every old one; then delete old index files, then packs.
        let supersedes = oldIndexIDs.sorted()
        var batches = stride(from: 0, to: keep.count, by: 2048).map { Array(keep[$0..<min($0 + 2048, keep.count)]) }
        if batches.isEmpty { batches = [[]] }
        for batch in batches {
            _ = try await repository.writeIndexFile(IndexFile(supersedes: supersedes, packs: batch))
            report.indexFilesWritten += 1
        }
        for id in oldIndexIDs {
            try await repository.store.delete(ObjectKey(.index, id))
            report.indexFilesDeleted += 1
        }
        for p in drop + repack.map(\.0) {
            try await deleteIfPresent(ObjectKey(.data, p.id))
        }
        for info in unreferenced { try await deleteIfPresent(info.key) }
        return report
    }

    private func deleteIfPresent(_ key: ObjectKey) async throws {
        do {
            try await repository.store.delete(key)
        } catch let e as HaulError where e.code == .notFound {}
    }

    /// Marks `tree`, the trees its chain is read through and everything below it as used. `walked` holds the trees
    /// whose entries were marked: a delta's base is used before it is walked (when a snapshot refers to it too).
    private func mark(_ tree: BlobID, _ used: inout Set<BlobID>, _ walked: inout Set<BlobID>) async throws {
        guard walked.insert(tree).inserted else { return }
        used.insert(tree)
        let t: Tree
        do {
            // A delta tree's bases are kept with it (format.md §9).
            let chain = try await repository.loadTreeChain(tree)
            t = chain.tree
            used.formUnion(chain.blobs)
        } catch {
            throw HaulError(
                .corrupted, "prune stopped: tree \(tree.hex) cannot be read (\(error)); run `haul check`", cause: error)
        }
        for node in t.nodes {
            switch node.kind {
            case .directory: if let sub = node.subtree { try await mark(sub, &used, &walked) }
            case .file: for c in node.chunks { used.insert(c.blob) }
            default: break
            }
        }
    }

    /// The stored bytes that `entries` of `pack` stand for: a blob sealed alone its record, a member of a group its
    /// share of the group's record by raw length (format.md §4), so a group counts once among all its members.
    static func storedBytes(of entries: [PackEntry], in pack: IndexFile.PackInfo) -> Double {
        var groupRaw: [UInt32: UInt64] = [:]
        for e in pack.entries where e.memberOffset != nil { groupRaw[e.offset, default: 0] += UInt64(e.rawLength) }
        return entries.reduce(0.0) { sum, e in
            guard e.memberOffset != nil, let raw = groupRaw[e.offset], raw > 0 else {
                return sum + Double(e.storedLength)
            }
            return sum + Double(e.storedLength) * Double(e.rawLength) / Double(raw)
        }
    }
}
