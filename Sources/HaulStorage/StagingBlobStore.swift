import HaulFormat

/// An object written piece by piece whose name is known only when it is complete (a pack is named by the SHA-256
/// of its bytes, format.md §6), so a writer need not hold the whole object in memory.
///
/// Appends are buffered by the store and not yet durable or visible. `commit` makes the object durable and visible
/// atomically under its final key; `discard` removes the staged bytes. A crash before `commit` leaves at most a
/// temporary file that `list` never reports and housekeeping removes.
public protocol StagedObject: Sendable {
    /// Appends bytes at the end of the staged object.
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object durable and visible under `key`; an existing object of that key is replaced (content-addressed
    /// objects: same name, same bytes).
    func commit(as key: ObjectKey) async throws
    /// Drops the staged bytes. Safe to call after a failed append or commit.
    func discard()
    /// Whether small appends are cheap (the object gathers them into large writes itself), so a writer may pass
    /// every piece straight on instead of copying it into a buffer of its own first. False unless an object says so.
    var gathersAppends: Bool { get }
    /// Suspends the calling task until `append` of `byteCount` bytes would not put its thread to sleep (an object
    /// whose appends queue writes to a disk slower than its caller). The caller that appends calls it first, from
    /// Swift's task threads, so that a core waits for the disk only when no other task has work for it.
    func waitForRoom(toAppend byteCount: Int) async
}

extension StagedObject {
    public var gathersAppends: Bool { false }
    public func waitForRoom(toAppend byteCount: Int) async {}
}

/// A store that can receive objects as a stream (the filesystem store). Stores without it get whole objects.
public protocol StagingBlobStore: BlobStore {
    /// Starts a staged object that will become an object of `kind`. Quick (creates a local file), hence synchronous.
    func stage(_ kind: ObjectKind) throws -> any StagedObject
    /// How many staged objects a writer should have committing at once (a backup's packs): enough to hide a commit's
    /// latency, few enough for the memory each holds while it commits. Two unless a store says otherwise.
    var commitsAtOnce: Int { get }
}

extension StagingBlobStore {
    public var commitsAtOnce: Int { 2 }
}
