import HaulFormat
import HaulStorage
import Synchronization

/// Small data blobs gathered to be compressed and sealed as one record (format.md §4).
struct BlobGroup: Sendable {
    struct Member: Sendable {
        var id: BlobID
        var offset: UInt32
        var length: UInt32
    }
    var plaintext: [UInt8] = []
    var members: [Member] = []

    mutating func append(id: BlobID, _ bytes: some BlobBytes) {
        members.append(Member(id: id, offset: UInt32(plaintext.count), length: UInt32(bytes.count)))
        bytes.withBytes { plaintext.append(contentsOf: $0) }
    }
}

/// The bytes a blob is saved from: an array, or `BorrowedBytes`.
public protocol BlobBytes: Sendable {
    var count: Int { get }
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: BlobBytes where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }
}

/// Bytes in a buffer of the caller's, which keeps them alive and unchanged until the call it passes them to returns
/// (a backup's chunks, straight from the file's read buffer: no copy of every chunk into an array of its own).
/// Whatever takes `BlobBytes` (`BlobSaver.save`, `add`) uses them only before it returns and never keeps them:
/// it copies what it needs to keep (a group's plaintext) and seals the rest at once.
public struct BorrowedBytes: BlobBytes, @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    public var count: Int { bytes.count }
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(bytes) }
}

/// Collects new blobs into packs, stores finished packs and writes index files (format.md §6, §7, §11).
///
/// Callers compute ids and compress outside (in parallel). The actor only deduplicates and keeps account; sealing a
/// blob and appending it to a pack (AES-GCM, the pack's SHA-256, the copy into the pack file: a quarter of a backup's
/// CPU on incompressible data) also happen outside it: the caller checks a pack writer out, seals into it and checks
/// it back in. Up to `sealingLanes` writers per blob type exist at once, so that many callers seal in parallel; a
/// writer is only ever used by the one caller holding it. Data blobs under `groupMemberLimit` are gathered into
/// groups (format.md §4); the caller whose blob fills a group compresses it, outside the actor, before it is sealed.
/// A pack is stored before any index file names it, and an index file is written for every `packsPerIndex` packs, so
/// an interrupted backup's packs are found and reused.
public actor BlobSaver {
    public struct Statistics: Sendable, Hashable {
        public var blobsNew: [BlobType: Int] = [:]
        public var bytesRaw: UInt64 = 0
        public var bytesStored: UInt64 = 0
        public var packs: Int = 0
        public var indexFiles: Int = 0
    }

    /// Data blobs shorter than this are sealed in groups (format.md §4).
    public static let groupMemberLimit = 16 << 10
    /// Pack writers per blob type that may be open at once, each sealed into by one caller at a time.
    public static let sealingLanes = 2
    /// Full packs being stored at once; a new blob waits while this many are: the store's
    /// `StagingBlobStore.commitsAtOnce`, or two for a store without staging (each one a whole pack in memory).
    nonisolated let packsStoring: Int
    /// A group is sealed once its plaintext reaches this size.
    public static let groupTarget = 64 << 10

    let repository: Repository
    let packsPerIndex: Int
    /// The group being gathered, per blob type (only data blobs are grouped).
    private var groups: [BlobType: BlobGroup] = [:]
    /// False when repacking: blobs already indexed elsewhere must still be written again.
    nonisolated let dedupeAgainstIndex: Bool
    /// Pack writers nobody holds, per type (the last one given back is the next one handed out, so one pack fills
    /// at a time unless callers contend), and how many writers of each type exist, held or not.
    private var idleWriters: [BlobType: [PackWriter]] = [:]
    private var openWriters: [BlobType: Int] = [:]
    /// Callers waiting for a writer of a type whose every lane is held.
    private var laneWaiting: [CheckedContinuation<Void, Never>] = []
    /// Blobs added to a pack that is not indexed yet; readable without a hop (`isPending`).
    private let pending = Mutex(Set<BlobID>())
    /// Packs being stored right now, and the producers waiting for that to finish.
    private var storing = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Blobs and full groups handed to their callers to compress or seal and not yet back in a pack writer, and
    /// `flush` calls waiting for none.
    private var inFlight = 0
    private var flushWaiting: [CheckedContinuation<Void, Never>] = []
    /// The first failure to seal or store: blobs it lost are already pending or returned as saved, so every later
    /// call, and `flush`, throws it and no snapshot can refer to them.
    private var failure: (any Error)?
    /// Blobs this saver stored (tracked only when not deduplicating against the index).
    private var written: Set<BlobID> = []
    /// Packs this saver stored, with their entries.
    public private(set) var storedPacks: [IndexFile.PackInfo] = []
    private var unindexed: [IndexFile.PackInfo] = []
    public private(set) var statistics = Statistics()

    public init(repository: Repository, packsPerIndex: Int = 8, dedupeAgainstIndex: Bool = true) {
        self.repository = repository
        self.packsPerIndex = packsPerIndex
        self.dedupeAgainstIndex = dedupeAgainstIndex
        self.packsStoring = (repository.store as? any StagingBlobStore)?.commitsAtOnce ?? 2
    }

    /// Whether the blob is stored, or in a pack being written.
    public func isKnown(_ id: BlobID) -> Bool {
        isPending(id) || written.contains(id) || (dedupeAgainstIndex && repository.index.contains(id))
    }

    /// Whether the blob sits in a pack this saver has not indexed yet. A lock, not an actor hop: the archiver asks
    /// this for every chunk before compressing it.
    public nonisolated func isPending(_ id: BlobID) -> Bool { pending.withLock { $0.contains(id) } }

    /// Hashes, compresses and saves a blob if it is new (a small data blob in a group); returns its id. Convenience
    /// for trees and for blobs copied by prune.
    public nonisolated func save(type: BlobType, plaintext: [UInt8]) async throws -> BlobID {
        let id = plaintext.withUnsafeBytes { repository.blobID(of: $0) }
        if dedupeAgainstIndex && repository.index.contains(id) { return id }
        try await save(id: id, type: type, plaintext: plaintext)
        return id
    }

    /// Saves blob `id` (the caller computed it) if it is new: a data blob under `groupMemberLimit` joins the group
    /// being gathered, and when that group is full this caller compresses it (outside the actor) before it is
    /// sealed into the pack (format.md §4); any other blob is compressed here, outside the actor, and added alone.
    public nonisolated func save(id: BlobID, type: BlobType, plaintext: some BlobBytes) async throws {
        guard type == .data && plaintext.count < Self.groupMemberLimit else {
            let (compression, compressed) = try plaintext.withBytes { try repository.compress($0) }
            if let compressed {
                try await add(
                    id: id, type: type, compression: compression, rawLength: plaintext.count, payload: compressed)
            } else {
                try await add(
                    id: id, type: type, compression: compression, rawLength: plaintext.count, payload: plaintext)
            }
            return
        }
        guard let full = try await gather(id: id, type: type, plaintext: plaintext) else { return }
        let compressed = Self.compress(full, with: repository)
        let sealing = ((try? compressed.get())?.1?.count) ?? full.plaintext.count
        try await sealInFlight(type: type, sealing: sealing) { writer in
            let (compression, payload) = try compressed.get()
            try (payload ?? full.plaintext).withUnsafeBytes {
                try writer.addGroup(full, compression: compression, payload: $0)
            }
        }
    }

    /// A group's plaintext compressed at the small-blob level, or the error doing so.
    private static func compress(_ group: BlobGroup, with repository: Repository) -> Result<
        (BlobCompression, [UInt8]?), any Error
    > {
        Result { try group.plaintext.withUnsafeBytes { try repository.compressGroup($0) } }
    }

    /// Adds a blob to its type's group; returns the group when it is full (the caller compresses and seals it).
    private func gather(id: BlobID, type: BlobType, plaintext: some BlobBytes) async throws -> BlobGroup? {
        while storing >= packsStoring && failure == nil {
            await withCheckedContinuation { waiting.append($0) }
        }
        if let failure { throw failure }
        if isKnown(id) { return nil }
        var group = groups.removeValue(forKey: type) ?? BlobGroup()
        group.append(id: id, plaintext)
        pending.withLock { _ = $0.insert(id) }
        statistics.blobsNew[type, default: 0] += 1
        statistics.bytesRaw += UInt64(plaintext.count)
        if group.plaintext.count >= Self.groupTarget {
            inFlight += 1
            return group
        }
        groups[type] = group
        return nil
    }

    /// Seals what the caller holds in flight (a full group from `gather`, a blob from `reserve`; `sealing` bytes of
    /// payload) into a pack writer it checks out: `body` runs outside the actor on a writer nobody else holds, once
    /// the writer's staged file has room for the sealed bytes (the task, not its thread, waits for the disk). The
    /// writer comes back, and is stored if full; if `body` fails, the writer and the blobs already in it are
    /// dropped and the failure becomes the saver's.
    private nonisolated func sealInFlight(
        type: BlobType, sealing: Int, _ body: (inout PackWriter) throws -> Void
    ) async throws {
        var writer: PackWriter
        do {
            writer = try await checkOut(type)
        } catch {
            try? await landed(nil, type: type, failure: error)
            throw error
        }
        await writer.waitForRoom(toSeal: sealing)
        do {
            try body(&writer)
        } catch {
            try? await landed(writer, type: type, failure: error)
            throw error
        }
        try await landed(writer, type: type, failure: nil)
    }

    /// Hands out an idle writer of `type`, or a new one while fewer than `sealingLanes` exist; otherwise waits for one.
    func checkOut(_ type: BlobType) async throws -> PackWriter {
        while true {
            if let failure { throw failure }
            if let writer = idleWriters[type]?.popLast() { return writer }
            if openWriters[type, default: 0] < Self.sealingLanes {
                let writer = try newWriter(type)
                openWriters[type, default: 0] += 1
                return writer
            }
            await withCheckedContinuation { laneWaiting.append($0) }
        }
    }

    /// Takes back a checked-out writer (nil: none was checked out) once the caller has sealed into it, or failed to
    /// (`failure`, recorded as the saver's and rethrown here when the writer was fine). A full writer is handed to a
    /// task that stores it (`storeInBackground`).
    func landed(_ writer: consuming PackWriter?, type: BlobType, failure error: (any Error)?) async throws {
        defer {
            inFlight -= 1
            let lanes = laneWaiting
            laneWaiting = []
            for c in lanes { c.resume() }
            if inFlight == 0 {
                let resumed = flushWaiting
                flushWaiting = []
                for c in resumed { c.resume() }
            }
        }
        guard let writer else {
            if failure == nil, let error { failure = error }
            return
        }
        if let error {
            openWriters[type, default: 1] -= 1
            writer.discard()
            if failure == nil { failure = error }
            return
        }
        if writer.size >= repository.config.packSize {
            openWriters[type, default: 1] -= 1
            if let failure { throw failure }
            storeInBackground(writer)
        } else {
            idleWriters[type, default: []].append(writer)
        }
    }

    /// Runs `body`; its error becomes the saver's failure (the first one is kept) before it is thrown.
    private func recordingFailure(_ body: () async throws -> Void) async throws {
        if let failure { throw failure }
        do {
            try await body()
        } catch {
            if failure == nil { failure = error }
            throw error
        }
    }

    /// Adds a prepared blob; a duplicate is dropped. Returns true if the blob was new. The blob is sealed outside the
    /// actor, into a writer checked out for it.
    @discardableResult
    public nonisolated func add(
        id: BlobID, type: BlobType, compression: BlobCompression, rawLength: Int, payload: some BlobBytes
    ) async throws -> Bool {
        guard try await reserve(id: id, type: type, rawLength: rawLength) else { return false }
        try await sealInFlight(type: type, sealing: payload.count) { writer in
            try payload.withBytes {
                try writer.add(id: id, compression: compression, rawLength: rawLength, payload: $0)
            }
        }
        return true
    }

    /// Claims a new blob for its caller to seal (it is pending from here on); false for a known one.
    func reserve(id: BlobID, type: BlobType, rawLength: Int) async throws -> Bool {
        // Back-pressure: while `packsStoring` full packs are being stored, new blobs wait, so whatever the number of
        // producers at most `sealingLanes` packs per type are being filled and `packsStoring` are being stored (in
        // memory only without staging).
        while storing >= packsStoring && failure == nil {
            await withCheckedContinuation { waiting.append($0) }
        }
        if let failure { throw failure }
        if isKnown(id) { return false }
        pending.withLock { _ = $0.insert(id) }
        statistics.blobsNew[type, default: 0] += 1
        statistics.bytesRaw += UInt64(rawLength)
        inFlight += 1
        return true
    }

    /// A new pack, streamed to a staged file when the store supports it.
    private func newWriter(_ type: BlobType) throws -> PackWriter {
        let staged = try (repository.store as? any StagingBlobStore)?.stage(.data)
        return try PackWriter(
            type: type, keys: repository.keys,
            capacity: repository.config.packSize + repository.maxChunkSize + (64 << 10), staged: staged)
    }

    /// Stores a full pack in a task of its own, so that the caller that filled it goes on with its file at once
    /// (storing a pack on a local disk waits for its `fsync`s: 20-100 ms on this VM). It counts in `storing` from
    /// here on, for the back-pressure and for `flush`, which waits for it; a failure becomes the saver's.
    private func storeInBackground(_ writer: consuming PackWriter) {
        storing += 1
        let full = writer
        Task { await self.storeCounted(full) }
    }

    /// Stores a pack that `storing` counts and uncounts it, whatever happens: after a failure (the saver's, from
    /// before or from this store) the pack is dropped, and the failure is the saver's.
    private func storeCounted(_ writer: consuming PackWriter) async {
        defer {
            storing -= 1
            let resumed = waiting
            waiting = []
            for c in resumed { c.resume() }
        }
        guard failure == nil else { return writer.discard() }
        do {
            try await store(writer)
        } catch {
            if failure == nil { failure = error }
        }
    }

    /// Stores a finished pack and indexes it (an index file every `packsPerIndex` packs).
    private func store(_ writer: consuming PackWriter) async throws {
        try await repository.prepareForWriting()
        await writer.waitForRoomToFinish()
        let (output, info) = try writer.finish()
        switch output {
        case .bytes(let bytes):
            try await repository.store.put(ObjectKey(.data, info.id), bytes)
        case .staged(let staged):
            try await staged.commit(as: ObjectKey(.data, info.id))
        }
        statistics.packs += 1
        statistics.bytesStored += info.size
        repository.index.add(info)
        pending.withLock { set in for e in info.entries { set.remove(e.id) } }
        if !dedupeAgainstIndex { for e in info.entries { written.insert(e.id) } }
        storedPacks.append(info)
        unindexed.append(info)
        if unindexed.count >= packsPerIndex { try await writeIndex() }
    }

    private func writeIndex() async throws {
        guard !unindexed.isEmpty else { return }
        let packs = unindexed
        unindexed = []
        _ = try await repository.writeIndexFile(IndexFile(packs: packs))
        statistics.indexFiles += 1
    }

    /// Stores the open groups and packs and the last index file, after the groups other callers are compressing;
    /// throws the saver's first failure if there was one. Call before writing a snapshot that refers to the blobs.
    public func flush() async throws {
        while inFlight > 0 {
            await withCheckedContinuation { flushWaiting.append($0) }
        }
        do {
            if let failure { throw failure }
            for (type, group) in groups {
                groups[type] = nil
                let (compression, payload) = try Self.compress(group, with: repository).get()
                var writer = try idleWriters[type]?.popLast() ?? newWriter(type)
                await writer.waitForRoom(toSeal: (payload ?? group.plaintext).count)
                try (payload ?? group.plaintext).withUnsafeBytes {
                    try writer.addGroup(group, compression: compression, payload: $0)
                }
                idleWriters[type, default: []].append(writer)
            }
            // The last packs are stored at once, beside those still being stored, and the index file after all.
            for type in BlobType.allCases {
                for writer in idleWriters.removeValue(forKey: type) ?? [] { storeInBackground(writer) }
                openWriters[type] = nil
            }
        } catch {
            if failure == nil { failure = error }
        }
        // Whatever failed, no pack is still being written when this returns or throws.
        while storing > 0 {
            await withCheckedContinuation { waiting.append($0) }
        }
        if let failure {
            for writer in idleWriters.values.joined() { writer.discard() }
            idleWriters = [:]
            throw failure
        }
        try await recordingFailure { try await writeIndex() }
    }
}
