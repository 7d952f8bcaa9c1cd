/// How `S3BlobStore` retries one HTTP request that failed transiently (docs/s3.md, "Retries").
///
/// Retried: connection errors and timeouts, HTTP 429, 500, 502, 503, 504, and the S3 error codes `SlowDown`,
/// `InternalError`, `ServiceUnavailable`, `RequestTimeout`, `BadDigest` (bytes changed on the wire). Each retry
/// resends the same request (a single part of a multipart upload, not the whole object), re-signed with a fresh date.
///
/// The wait before retry `n` is "equal jitter": half of `min(maximum, initial · multiplier^(n-1))` plus a random
/// fraction of the other half, so concurrent clients spread out but never retry at once. Sleep and randomness are
/// injected so tests run without waiting and with known draws.
public struct S3RetryPolicy: Sendable {
    /// Total attempts per request including the first; at least 1.
    public var attempts: Int
    public var initial: Duration
    public var multiplier: Double
    public var maximum: Duration
    /// Waits; `Task.sleep(for:)` by default. Cancellation ends the retries with the cancellation error.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// A uniform draw from `0..<1`.
    public var random: @Sendable () -> Double

    public init(
        attempts: Int = 6,
        initial: Duration = .milliseconds(100),
        multiplier: Double = 2,
        maximum: Duration = .seconds(5),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.attempts = max(attempts, 1)
        self.initial = initial
        self.multiplier = multiplier
        self.maximum = maximum
        self.sleep = sleep
        self.random = random
    }

    /// 6 attempts, 100 ms doubling up to 5 s, with jitter: about 3 s of waiting in all before giving up.
    public static let standard = S3RetryPolicy()

    /// One attempt: nothing is retried.
    public static let none = S3RetryPolicy(attempts: 1)

    /// The ceiling of the wait before retry `retry` (1 for the first retry), before jitter.
    public func ceiling(beforeRetry retry: Int) -> Duration {
        var delay = initial
        for _ in 1..<max(retry, 1) {
            delay = delay * multiplier
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The wait before retry `retry`: half the ceiling plus `random()` times the other half.
    public func delay(beforeRetry retry: Int) -> Duration {
        let half = ceiling(beforeRetry: retry) / 2
        return half + half * min(max(random(), 0), 1)
    }
}
