import Testing

@testable import HaulEngine

/// The zero test that lets a backup reuse the id of an all-zero chunk (`Run.isAllZero`).
@Suite struct ZeroChunkTests {
    /// Buffers of several lengths, at an aligned start and one byte after it (a chunk starts anywhere in its read
    /// buffer), with one non-zero byte at the edges of the 64-byte blocks and of the tail.
    @Test(arguments: [0, 1]) func aSingleNonZeroByteAnywhereIsFound(start: Int) {
        for count in [0, 1, 63, 64, 65, 200, 4096, 4099] {
            var bytes = [UInt8](repeating: 0, count: start + count)
            func allZero() -> Bool {
                bytes.withUnsafeBytes { Run.isAllZero(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            }
            #expect(allZero(), "\(count) zero bytes")
            for position in Set([0, count / 2, count - 1, (count / 64) * 64, (count / 64) * 64 - 1]) {
                guard position >= 0 && position < count else { continue }
                bytes[start + position] = 0x80
                #expect(!allZero(), "non-zero byte \(position) of \(count)")
                bytes[start + position] = 0
            }
        }
    }
}
