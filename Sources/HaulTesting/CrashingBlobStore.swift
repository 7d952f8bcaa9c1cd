import HaulFormat
import HaulStorage

/// A store that "crashes" after a number of writes: a real `BlobStore` wrapping another, for crash-consistency tests.
///
/// The first `crashAfterWrites` mutating calls (`put`, `delete`) go to the wrapped store. The next one, and every
/// later call of any kind (reads too), throws `HaulError(.io, "simulated crash")`, which is not transient. By default
/// the crashing write does not reach the wrapped store; with `crashingWriteLands` it does, but the caller still sees
/// the crash (a write that became durable without being acknowledged). Afterwards, the wrapped store holds the state
/// a restarted process would find: reopen it directly (or `MemoryBlobStore(contents: snapshot)`).
public actor CrashingBlobStore: BlobStore {
    public let base: any BlobStore
    public let crashAfterWrites: Int
    public let crashingWriteLands: Bool
    /// Mutating calls passed to the wrapped store before the crash (at most `crashAfterWrites`).
    public private(set) var writesPerformed = 0
    /// Whether the crash has happened.
    public private(set) var hasCrashed = false
    /// The write that crashed: its key, and whether it was a `delete` (else a `put`).
    public private(set) var crashingWrite: (key: ObjectKey, isDelete: Bool)?

    public nonisolated let capabilities: StoreCapabilities

    /// - Parameters:
    ///   - base: the store that receives the writes before the crash.
    ///   - n: how many mutating calls succeed before the crash.
    ///   - crashingWriteLands: whether the crashing write is applied to `base` before the crash is reported.
    public init(base: any BlobStore, crashAfterWrites n: Int, crashingWriteLands: Bool = false) {
        self.base = base
        self.crashAfterWrites = n
        self.crashingWriteLands = crashingWriteLands
        self.capabilities = base.capabilities
    }

    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        try checkAlive()
        return try await base.get(key)
    }

    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        try checkAlive()
        return try await base.get(key, offset: offset, length: length)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        try checkAlive()
        return try await base.head(key)
    }

    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        try checkAlive()
        return try await base.list(kind)
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        switch try admitWrite(key, isDelete: false) {
        case .proceed:
            try await base.put(key, bytes, mode: mode)
        case .crash(let lands):
            if lands { try? await base.put(key, bytes, mode: mode) }
            throw Self.crash
        }
    }

    public func delete(_ key: ObjectKey) async throws {
        switch try admitWrite(key, isDelete: true) {
        case .proceed:
            try await base.delete(key)
        case .crash(let lands):
            if lands { try? await base.delete(key) }
            throw Self.crash
        }
    }

    private enum Admission {
        case proceed
        case crash(lands: Bool)
    }

    /// Counts the write before any suspension, so concurrent writers are admitted in a definite order.
    private func admitWrite(_ key: ObjectKey, isDelete: Bool) throws -> Admission {
        try checkAlive()
        if writesPerformed < crashAfterWrites {
            writesPerformed += 1
            return .proceed
        }
        hasCrashed = true
        crashingWrite = (key, isDelete)
        return .crash(lands: crashingWriteLands)
    }

    private func checkAlive() throws {
        if hasCrashed { throw Self.crash }
    }

    private static var crash: HaulError { HaulError(.io, "simulated crash") }
}
