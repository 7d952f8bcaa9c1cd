import HaulFormat

/// A store that only reads: wraps any `BlobStoreReader` and refuses every mutation.
///
/// Hand it to code that must not write (a restore, a check, a second location opened for reading). It is a
/// `BlobStore` so it fits wherever one is expected, but `put` and `delete` throw `HaulError(.permissionDenied)`
/// without reaching the wrapped store.
public struct ReadOnlyBlobStore: BlobStore {
    public let base: any BlobStoreReader

    public init(_ base: any BlobStoreReader) {
        self.base = base
    }

    /// The wrapped store's capabilities (they describe its reads; writes are refused here).
    public var capabilities: StoreCapabilities { base.capabilities }

    public func get(_ key: ObjectKey) async throws -> [UInt8] { try await base.get(key) }

    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        try await base.get(key, offset: offset, length: length)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? { try await base.head(key) }

    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] { try await base.list(kind) }

    /// Always throws `HaulError(.permissionDenied)`.
    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        throw HaulError(.permissionDenied, "cannot write \(key.path): the store is opened read-only")
    }

    /// Always throws `HaulError(.permissionDenied)`.
    public func delete(_ key: ObjectKey) async throws {
        throw HaulError(.permissionDenied, "cannot delete \(key.path): the store is opened read-only")
    }
}

extension BlobStoreReader {
    /// This store behind a `ReadOnlyBlobStore`.
    public var readOnly: ReadOnlyBlobStore { ReadOnlyBlobStore(self) }
}
