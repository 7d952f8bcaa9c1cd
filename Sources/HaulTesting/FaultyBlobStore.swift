import HaulFormat
import HaulStorage

/// A store that injects faults into calls to another store: a real `BlobStore` for fault-injection tests.
///
/// Faults combine. Each call first consumes a pending transient failure, if any; writes then meet `failNthWrite`;
/// reads that succeed then have their bytes truncated and bit-flipped as configured. `head` and `list` report the
/// wrapped store's true sizes, so a reader can notice a truncated read.
public actor FaultyBlobStore: BlobStore {
    /// One kind of injected fault.
    public enum Fault: Sendable, Hashable {
        /// The n-th mutating call (`put` or `delete`, counted from 1 across all of them) throws a permanent
        /// `HaulError(.io)` without reaching the wrapped store.
        case failNthWrite(Int)
        /// Reads of `key` (every key when `nil`) return the byte at `byteOffset` of the object with its lowest bit
        /// flipped, when that byte is part of the read.
        case flipBit(key: ObjectKey?, byteOffset: Int)
        /// Reads of `key` (every key when `nil`) return at most the first `to` bytes of the object.
        case truncateReads(key: ObjectKey?, to: Int)
        /// The next `count` calls of any kind throw a transient `HaulError(.io)` without reaching the wrapped store.
        case transientFailures(count: Int)
    }

    public let base: any BlobStore
    public let faults: [Fault]
    /// Mutating calls received (including those that failed by injection).
    public private(set) var writeCalls = 0
    /// Calls of any kind received.
    public private(set) var calls = 0
    /// Faults that have fired so far, in order.
    public private(set) var injected: [Fault] = []
    private var transientRemaining: Int

    public nonisolated let capabilities: StoreCapabilities

    public init(base: any BlobStore, faults: [Fault]) {
        self.base = base
        self.faults = faults
        self.capabilities = base.capabilities
        self.transientRemaining = faults.reduce(0) { total, fault in
            if case .transientFailures(let count) = fault { return total + count }
            return total
        }
    }

    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        try enter()
        return damaged(try await base.get(key), key: key, offset: 0)
    }

    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        try enter()
        return damaged(try await base.get(key, offset: offset, length: length), key: key, offset: offset)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        try enter()
        return try await base.head(key)
    }

    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        try enter()
        return try await base.list(kind)
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        try enter(writing: key)
        try await base.put(key, bytes, mode: mode)
    }

    public func delete(_ key: ObjectKey) async throws {
        try enter(writing: key)
        try await base.delete(key)
    }

    /// Counts the call and throws an injected failure if one is due; runs before any suspension.
    private func enter(writing key: ObjectKey? = nil) throws {
        calls += 1
        if key != nil { writeCalls += 1 }
        if transientRemaining > 0 {
            transientRemaining -= 1
            injected.append(.transientFailures(count: 1))
            throw HaulError(.io, "injected transient failure (call \(calls))", transient: true)
        }
        if let key, faults.contains(.failNthWrite(writeCalls)) {
            injected.append(.failNthWrite(writeCalls))
            throw HaulError(.io, "injected failure of write #\(writeCalls) (\(key.path))")
        }
    }

    /// Applies the read faults to `bytes`, which start at `offset` of the object under `key`.
    private func damaged(_ bytes: [UInt8], key: ObjectKey, offset: Int64) -> [UInt8] {
        var bytes = bytes
        for fault in faults {
            guard case .truncateReads(let target, let limit) = fault, target == nil || target == key else { continue }
            let keep = max(0, Int64(limit) - offset)
            if keep < bytes.count {
                bytes.removeLast(bytes.count - Int(keep))
                injected.append(fault)
            }
        }
        for fault in faults {
            guard case .flipBit(let target, let byteOffset) = fault, target == nil || target == key else { continue }
            let index = Int64(byteOffset) - offset
            if index >= 0, index < bytes.count {
                bytes[Int(index)] ^= 0x01
                injected.append(fault)
            }
        }
        return bytes
    }
}
