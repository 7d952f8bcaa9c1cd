import HaulFormat
import HaulStorage

/// A valid key whose 64-hex name starts with `prefix` and ends with `n` in hex.
func testKey(_ kind: ObjectKind, _ n: Int, prefix: String = "") -> ObjectKey {
    let tail = String(n, radix: 16)
    let name = prefix + String(repeating: "0", count: 64 - prefix.count - tail.count) + tail
    return try! ObjectKey(kind, name)
}

/// `count` bytes of a simple repeating pattern.
func testBytes(_ count: Int, _ seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed }
}

/// Records the waits a `RetryingBlobStore` asks for, without waiting.
actor SleepRecorder {
    private(set) var sleeps: [Duration] = []
    func record(_ duration: Duration) { sleeps.append(duration) }
    nonisolated var sleep: @Sendable (Duration) async throws -> Void {
        { [self] duration in await record(duration) }
    }
}
