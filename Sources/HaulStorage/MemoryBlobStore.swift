import HaulFormat

/// A `BlobStore` held in memory: the test double of every real store.
///
/// Each call is one actor-isolated step, so every `put` is atomic and `createOnly` is atomic against concurrent
/// creators. A completed `put` is part of `snapshot()`, the store's "durable state": a test simulates a crash by
/// dropping a store (or wrapping it in `CrashingBlobStore`) and "reboots" with `init(contents:)` from the snapshot.
/// Within that model writes are durable, so `capabilities.durableWrites` is `true`; nothing survives the process.
public actor MemoryBlobStore: BlobStore {
    private var objects: [ObjectKey: [UInt8]]

    /// `atomicCreateOnly` and `durableWrites` (in the snapshot model above) are both `true`.
    public nonisolated let capabilities = StoreCapabilities(atomicCreateOnly: true, durableWrites: true)

    /// An empty store.
    public init() {
        objects = [:]
    }

    /// A store holding exactly `contents`, typically a `snapshot()` of another store.
    public init(contents: [ObjectKey: [UInt8]]) {
        objects = contents
    }

    /// Every object the store holds, by key: the state a "reboot" starts from.
    public func snapshot() -> [ObjectKey: [UInt8]] {
        objects
    }

    /// The whole object.
    /// - Throws: `HaulError(.notFound)` if there is no object under `key`.
    public func get(_ key: ObjectKey) throws -> [UInt8] {
        guard let bytes = objects[key] else { throw Self.notFound(key) }
        return bytes
    }

    /// `length` bytes from `offset`; fewer only at the end of the object, none when `offset` equals the size.
    /// - Throws: `.notFound` for a missing object; `.invalidArgument` for a negative offset or length, or an offset
    ///   past the end.
    public func get(_ key: ObjectKey, offset: Int64, length: Int) throws -> [UInt8] {
        guard let bytes = objects[key] else { throw Self.notFound(key) }
        let start = try ByteRange.validatedStart(offset: offset, length: length, size: Int64(bytes.count), key: key)
        let end = start + min(length, bytes.count - start)
        return Array(bytes[start..<end])
    }

    /// The size of the object, or `nil`.
    public func head(_ key: ObjectKey) -> ObjectInfo? {
        objects[key].map { ObjectInfo(key: key, size: Int64($0.count)) }
    }

    /// Every object of `kind`, sorted by name (callers must not rely on the order).
    public func list(_ kind: ObjectKind) -> [ObjectInfo] {
        objects.filter { $0.key.kind == kind }
            .map { ObjectInfo(key: $0.key, size: Int64($0.value.count)) }
            .sorted { $0.key.name < $1.key.name }
    }

    /// Stores `bytes` under `key`.
    /// - Throws: `.alreadyExists` for `.createOnly` when the object exists.
    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) throws {
        if mode == .createOnly, objects[key] != nil {
            throw HaulError(.alreadyExists, "object \(key.path) already exists in the memory store")
        }
        objects[key] = bytes
    }

    /// Removes the object.
    /// - Throws: `.notFound` if there is no object under `key`.
    public func delete(_ key: ObjectKey) throws {
        guard objects.removeValue(forKey: key) != nil else { throw Self.notFound(key) }
    }

    private static func notFound(_ key: ObjectKey) -> HaulError {
        HaulError(.notFound, "object \(key.path) not found in the memory store")
    }
}
