import HaulFormat
import HaulStorage
import Synchronization

/// Collects new blobs into packs, stores finished packs and writes index files (format.md §6, §7, §11).
///
/// Callers compute ids and compress outside (in parallel). Sealing, hashing the pack and writing its bytes happen in
/// the caller's task too, on a pack writer it takes for the call: several packs of one type can be filled at once (at
/// most one per concurrent caller), so both cores seal, hash and write instead of queueing behind one pack. A pack is
/// stored before any index file names it, and an index file is written for every `packsPerIndex` packs, so an
/// interrupted backup's packs are found and reused.
public final class BlobSaver: Sendable {
    public struct Statistics: Sendable, Hashable {
        public var blobsNew: [BlobType: Int] = [:]
        public var bytesRaw: UInt64 = 0
        public var bytesStored: UInt64 = 0
        public var packs: Int = 0
        public var indexFiles: Int = 0
    }

    /// What the lock guards: idle pack writers, the packs stored so far, and the back-pressure queue.
    private struct State: ~Copyable {
        /// Writers not in use by a caller, per type.
        var idle: [BlobType: [PackWriter]] = [:]
        var storedPacks: [IndexFile.PackInfo] = []
        var unindexed: [IndexFile.PackInfo] = []
        var statistics = Statistics()
        /// Packs being stored right now, and the producers waiting for that number to drop.
        var storing = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// Blobs this saver stored (tracked only when not deduplicating against the index).
        var written: Set<BlobID> = []
    }

    let repository: Repository
    let packsPerIndex: Int
    /// At most this many full packs are being stored at once; producers wait beyond it (bounded memory).
    let maxStoring: Int
    /// False when repacking: blobs already indexed elsewhere must still be written again.
    let dedupeAgainstIndex: Bool
    private let state = Mutex(State())
    /// Blobs added to a pack that is not indexed yet, and blobs being added right now.
    private let pending = Mutex(Set<BlobID>())

    public init(repository: Repository, packsPerIndex: Int = 8, dedupeAgainstIndex: Bool = true, maxStoring: Int = 2) {
        self.repository = repository
        self.packsPerIndex = packsPerIndex
        self.dedupeAgainstIndex = dedupeAgainstIndex
        self.maxStoring = max(1, maxStoring)
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }
    /// Packs this saver stored, with their entries.
    public var storedPacks: [IndexFile.PackInfo] { state.withLock { $0.storedPacks } }

    /// Whether the blob sits in a pack this saver has not indexed yet (or is being added). A lock: the archiver asks
    /// this for every chunk before compressing it.
    public func isPending(_ id: BlobID) -> Bool { pending.withLock { $0.contains(id) } }

    /// Hashes, compresses and saves a blob if it is new; returns its id. Convenience for small blobs (trees).
    public func save(type: BlobType, plaintext: [UInt8]) async throws -> BlobID {
        let id = plaintext.withUnsafeBytes { repository.blobID(of: $0) }
        if dedupeAgainstIndex && repository.index.contains(id) { return id }
        let (compression, compressed) = try plaintext.withUnsafeBytes { try repository.compress($0) }
        try await add(
            id: id, type: type, compression: compression, rawLength: plaintext.count, payload: compressed ?? plaintext)
        return id
    }

    /// Adds a prepared blob; a duplicate is dropped. Returns true if the blob was new.
    @discardableResult
    public func add(id: BlobID, type: BlobType, compression: BlobCompression, rawLength: Int, payload: [UInt8])
        async throws -> Bool
    {
        await waitWhileStoringIsFull()
        // Claim the id first: of two callers with the same blob, only one writes it.
        let known = state.withLock { $0.written.contains(id) } || (dedupeAgainstIndex && repository.index.contains(id))
        if known { return false }
        guard pending.withLock({ $0.insert(id).inserted }) else { return false }
        var writer: PackWriter
        do {
            writer = try state.withLock { $0.idle[type]?.popLast() } ?? newWriter(type)
        } catch {
            pending.withLock { _ = $0.remove(id) }
            throw error
        }
        do {
            try payload.withUnsafeBytes {
                try writer.add(id: id, compression: compression, rawLength: rawLength, payload: $0)
            }
        } catch {
            // The writer may hold a partial blob: drop the whole pack; its other blobs are written again later.
            pending.withLock { set in
                set.remove(id)
                for e in writer.entries { set.remove(e.id) }
            }
            writer.discard()
            throw error
        }
        state.withLock {
            $0.statistics.blobsNew[type, default: 0] += 1
            $0.statistics.bytesRaw += UInt64(rawLength)
        }
        if writer.size >= repository.config.packSize {
            try await store(writer)
        } else {
            state.withLock { $0.idle[type, default: []].append(writer) }
        }
        return true
    }

    /// Back-pressure: while `maxStoring` full packs are being stored, new blobs wait, so memory stays bounded
    /// whatever the number of producers.
    private func waitWhileStoringIsFull() async {
        while state.withLock({ $0.storing >= maxStoring }) {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let mustWait = state.withLock { s in
                    guard s.storing >= maxStoring else { return false }
                    s.waiting.append(c)
                    return true
                }
                if !mustWait { c.resume() }
            }
        }
    }

    /// A new pack, streamed to a staged file when the store supports it.
    private func newWriter(_ type: BlobType) throws -> PackWriter {
        let staged = try (repository.store as? any StagingBlobStore)?.stage(.data)
        return try PackWriter(
            type: type, keys: repository.keys,
            capacity: repository.config.packSize + repository.maxChunkSize + (64 << 10), staged: staged)
    }

    private func store(_ writer: consuming PackWriter) async throws {
        state.withLock { $0.storing += 1 }
        defer {
            let resumed = state.withLock { s in
                s.storing -= 1
                defer { s.waiting = [] }
                return s.waiting
            }
            for c in resumed { c.resume() }
        }
        let (output, info) = try writer.finish()
        switch output {
        case .bytes(let bytes):
            try await repository.store.put(ObjectKey(.data, info.id), bytes)
        case .staged(let staged):
            try await staged.commit(as: ObjectKey(.data, info.id))
        }
        repository.index.add(info)
        pending.withLock { set in for e in info.entries { set.remove(e.id) } }
        let dedupe = dedupeAgainstIndex
        let batch: [IndexFile.PackInfo]? = state.withLock { s in
            s.statistics.packs += 1
            s.statistics.bytesStored += info.size
            if !dedupe { for e in info.entries { s.written.insert(e.id) } }
            s.storedPacks.append(info)
            s.unindexed.append(info)
            guard s.unindexed.count >= packsPerIndex else { return nil }
            defer { s.unindexed = [] }
            return s.unindexed
        }
        if let batch { try await writeIndex(batch) }
    }

    private func writeIndex(_ packs: [IndexFile.PackInfo]) async throws {
        guard !packs.isEmpty else { return }
        do {
            _ = try await repository.writeIndexFile(IndexFile(packs: packs))
        } catch {
            // Keep them for the next index file (flush), so a stored pack is never left out of every index.
            state.withLock { $0.unindexed.insert(contentsOf: packs, at: 0) }
            throw error
        }
        state.withLock { $0.statistics.indexFiles += 1 }
    }

    /// Stores the open packs and the last index file. Call, after every `add` and `save` has returned, before writing
    /// a snapshot that refers to the blobs.
    public func flush() async throws {
        for type in BlobType.allCases {
            while let writer = state.withLock({ $0.idle[type]?.popLast() }) { try await store(writer) }
        }
        let rest = state.withLock { s in
            defer { s.unindexed = [] }
            return s.unindexed
        }
        try await writeIndex(rest)
    }
}
