import Testing

@testable import HaulEngine

/// The zero test that lets a backup reuse the id of an all-zero chunk (`Run.isAllZero`).
@Suite struct ZeroChunkTests {
    @Test func aSingleNonZeroByteAnywhereIsFound() {
        for count in [0, 1, 63, 64, 65, 200, 4096, 4099] {
            var bytes = [UInt8](repeating: 0, count: count)
            #expect(bytes.withUnsafeBytes { Run.isAllZero($0) }, "\(count) zero bytes")
            for position in Set([0, count / 2, count - 1, (count / 64) * 64, (count / 64) * 64 - 1]) {
                guard position >= 0 && position < count else { continue }
                bytes[position] = 0x80
                #expect(!bytes.withUnsafeBytes { Run.isAllZero($0) }, "non-zero byte \(position) of \(count)")
                bytes[position] = 0
            }
        }
    }
}
