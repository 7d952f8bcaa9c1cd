import HaulFormat
import HaulRepository

/// Sizes of snapshots, as `haul stats` reports them: what a restore would write, or what the repository stores.
///
/// Both walks load each distinct tree once: the restore figures of a subtree are a function of its blob id, so a
/// subtree shared by several snapshots (or several places of one snapshot) is summed from a memo.
public struct SnapshotStats: Sendable {
    /// What restoring the snapshots would create.
    public struct RestoreSize: Sendable, Hashable, Codable {
        public var snapshots = 0
        /// Regular files, counting every name of a hard-linked file.
        public var files = 0
        public var directories = 0
        /// Symlinks, FIFOs and device nodes.
        public var otherEntries = 0
        /// Names that are a second or later link to a file already counted in `bytes`.
        public var extraHardlinks = 0
        /// The sum of the file sizes (holes included), each hard-linked file counted once per snapshot.
        public var bytes: UInt64 = 0
        public init() {}
    }

    /// What the snapshots take in the repository (format.md §6, §7).
    public struct RawData: Sendable, Hashable, Codable {
        public var snapshots = 0
        /// Distinct blobs referenced by the snapshots (data and tree blobs).
        public var blobs = 0
        public var dataBlobs = 0
        public var treeBlobs = 0
        /// Sum of the uncompressed lengths of those blobs.
        public var rawBytes: UInt64 = 0
        /// The part of `rawBytes` in data blobs: the deduplicated file content.
        public var dataRawBytes: UInt64 = 0
        /// Sum of their stored lengths (compressed and sealed) as the index records them.
        public var storedBytes: UInt64 = 0
        /// `rawBytes / storedBytes`; 0 when nothing is stored.
        public var compressionRatio: Double = 0
        /// Referenced blobs the index does not know (a damaged repository: run `haul check`).
        public var missingBlobs = 0
        /// The whole repository: packs, their bytes, and snapshots.
        public var repositoryPacks = 0
        public var repositoryPackBytes: UInt64 = 0
        public var repositorySnapshots = 0
        public init() {}
    }

    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    /// Totals of a subtree: plain files plus the multi-link files keyed by (device, inode).
    struct TreeTotals: Sendable {
        var files = 0
        var directories = 0
        var otherEntries = 0
        var multiLinkNames = 0
        var plainBytes: UInt64 = 0
        var linked: [HardlinkKey: UInt64] = [:]

        mutating func add(_ other: TreeTotals) {
            files += other.files
            directories += other.directories
            otherEntries += other.otherEntries
            multiLinkNames += other.multiLinkNames
            plainBytes += other.plainBytes
            linked.merge(other.linked) { first, _ in first }
        }
    }

    struct HardlinkKey: Sendable, Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// What a restore of each of `snapshots` would write, summed (hard links are counted once within a snapshot).
    ///
    /// - Throws: what loading a tree throws (`notFound`, `corrupted`).
    public func restoreSize(of snapshots: [StoredSnapshot]) async throws -> RestoreSize {
        var memo: [BlobID: TreeTotals] = [:]
        var out = RestoreSize()
        for s in snapshots {
            let t = try await totals(of: try s.snapshot.treeID(), memo: &memo)
            out.snapshots += 1
            out.files += t.files
            out.directories += t.directories
            out.otherEntries += t.otherEntries
            out.extraHardlinks += t.multiLinkNames - t.linked.count
            out.bytes += t.plainBytes + t.linked.values.reduce(0, +)
        }
        return out
    }

    private func totals(of id: BlobID, memo: inout [BlobID: TreeTotals]) async throws -> TreeTotals {
        if let known = memo[id] { return known }
        var t = TreeTotals()
        for node in try await repository.loadTree(id).nodes {
            switch node.kind {
            case .file:
                t.files += 1
                if node.linkCount > 1 {
                    t.multiLinkNames += 1
                    t.linked[HardlinkKey(device: node.device, inode: node.inode), default: node.size] = node.size
                } else {
                    t.plainBytes += node.size
                }
            case .directory:
                t.directories += 1
                if let sub = node.subtree { t.add(try await totals(of: sub, memo: &memo)) }
            case .symlink, .fifo, .characterDevice, .blockDevice:
                t.otherEntries += 1
            }
        }
        memo[id] = t
        return t
    }

    /// The distinct blobs `snapshots` reference and their raw and stored sizes, plus repository totals.
    ///
    /// Sizes come from the loaded index (`Repository.loadIndex` must have run); no data blob is read.
    /// - Throws: what loading a tree throws.
    public func rawData(of snapshots: [StoredSnapshot], repositorySnapshots: Int) async throws -> RawData {
        var out = RawData()
        var trees = Set<BlobID>()  // accounted
        var walked = Set<BlobID>()  // entries counted; a delta's base is accounted before it is walked
        var data = Set<BlobID>()
        // A group of small blobs (format.md §4) is stored once for all its members: its whole record counts once,
        // with the first member met (what these snapshots keep stored; prune shares it by raw length instead, to
        // weigh how much of a pack is still used).
        var groups = Set<GroupRecord>()
        func account(_ id: BlobID) {
            if let loc = repository.index.location(of: id) {
                out.rawBytes += UInt64(loc.entry.rawLength)
                if loc.entry.type == .data { out.dataRawBytes += UInt64(loc.entry.rawLength) }
                if loc.entry.memberOffset == nil
                    || groups.insert(GroupRecord(pack: loc.pack, offset: loc.entry.offset)).inserted
                {
                    out.storedBytes += UInt64(loc.entry.storedLength)
                }
            } else {
                out.missingBlobs += 1
            }
        }
        func walk(_ id: BlobID) async throws {
            guard walked.insert(id).inserted else { return }
            if trees.insert(id).inserted { account(id) }
            let chain = try await repository.loadTreeChain(id)
            // A delta tree's bases are stored for it (format.md §9).
            for base in chain.blobs.dropFirst() where trees.insert(base).inserted { account(base) }
            for node in chain.tree.nodes {
                switch node.kind {
                case .file:
                    for c in node.chunks where data.insert(c.blob).inserted { account(c.blob) }
                case .directory:
                    if let sub = node.subtree { try await walk(sub) }
                default:
                    break
                }
            }
        }
        for s in snapshots { try await walk(try s.snapshot.treeID()) }
        out.snapshots = snapshots.count
        out.treeBlobs = trees.count
        out.dataBlobs = data.count
        out.blobs = trees.count + data.count
        out.compressionRatio = out.storedBytes == 0 ? 0 : Double(out.rawBytes) / Double(out.storedBytes)
        let packs = repository.index.packs
        out.repositoryPacks = packs.count
        out.repositoryPackBytes = packs.reduce(0) { $0 + $1.size }
        out.repositorySnapshots = repositorySnapshots
        return out
    }
}

/// A sealed group's place: its pack and offset.
private struct GroupRecord: Hashable {
    var pack: PackID
    var offset: UInt32
}
