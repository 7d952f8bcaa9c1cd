import HaulFormat

/// A `BlobStore` that retries calls of another store when they fail with a transient error.
///
/// Only `HaulError`s with `isTransient == true` are retried; permanent errors and foreign errors pass through at once.
/// Between attempts it sleeps for `backoff.delay(beforeRetry:)` through the injected `sleep` closure, so tests run
/// without waiting. Cancellation of the sleep ends the retries with the cancellation error.
///
/// A retried mutation can observe its own earlier, unacknowledged success: a `createOnly` put may then report
/// `.alreadyExists` and a `delete` `.notFound`. Content-addressed callers treat both as success.
public struct RetryingBlobStore: BlobStore {
    /// How long to wait before each retry: `initial`, multiplied by `multiplier` per retry, capped at `maximum`.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var multiplier: Double
        public var maximum: Duration

        public init(initial: Duration, multiplier: Double = 2, maximum: Duration) {
            self.initial = initial
            self.multiplier = multiplier
            self.maximum = maximum
        }

        /// 100 ms, doubling, at most 5 s.
        public static let standard = Backoff(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(5))

        /// No waiting at all.
        public static let none = Backoff(initial: .zero, multiplier: 1, maximum: .zero)

        /// The wait before retry number `retry` (1 for the first retry).
        public func delay(beforeRetry retry: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(retry, 1) {
                delay = delay * multiplier
                if delay >= maximum { return maximum }
            }
            return min(delay, maximum)
        }
    }

    public let base: any BlobStore
    /// Total attempts per call, at least 1.
    public let attempts: Int
    public let backoff: Backoff
    private let sleep: @Sendable (Duration) async throws -> Void

    /// - Parameters:
    ///   - base: the store whose calls are retried.
    ///   - attempts: total attempts per call including the first; values below 1 count as 1.
    ///   - backoff: the waits between attempts.
    ///   - sleep: how to wait; defaults to `Task.sleep(for:)`. Tests pass a closure that records and returns.
    public init(
        base: any BlobStore,
        attempts: Int = 5,
        backoff: Backoff = .standard,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.base = base
        self.attempts = max(attempts, 1)
        self.backoff = backoff
        self.sleep = sleep
    }

    public var capabilities: StoreCapabilities { base.capabilities }

    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        try await retrying { try await base.get(key) }
    }

    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        try await retrying { try await base.get(key, offset: offset, length: length) }
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        try await retrying { try await base.head(key) }
    }

    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        try await retrying { try await base.list(kind) }
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        try await retrying { try await base.put(key, bytes, mode: mode) }
    }

    public func delete(_ key: ObjectKey) async throws {
        try await retrying { try await base.delete(key) }
    }

    private func retrying<T>(_ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as HaulError where error.isTransient && attempt < attempts {
                try await sleep(backoff.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }
}
