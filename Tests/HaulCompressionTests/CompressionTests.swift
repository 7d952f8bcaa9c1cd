import HaulCompression
import HaulFormat
import Testing

private func pseudoRandom(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return UInt8(truncatingIfNeeded: x >> 24)
    }
}

private let text: [UInt8] = Array(
    String(repeating: "Haul backs up trees of files into packs of sealed blobs. ", count: 2000).utf8)

@Suite struct CompressionTests {
    @Test(arguments: [0, 1, 100, 65536])
    func roundTrip(prefix: Int) throws {
        let src = Array(text.prefix(prefix))
        let c = ZstdCompressor(level: 3)
        let d = ZstdDecompressor()
        let packed = try src.withUnsafeBytes { try c.compress($0) }
        let back = try packed.withUnsafeBytes { try d.decompress($0, rawLength: src.count) }
        #expect(back == src)
    }

    @Test func contextsAreReusable() throws {
        let c = ZstdCompressor(level: 1)
        let d = ZstdDecompressor()
        for seed in 1...5 as ClosedRange<UInt64> {
            let src = text + pseudoRandom(1000, seed: seed) + text
            let packed = try src.withUnsafeBytes { try c.compress($0) }
            #expect(packed.count < src.count / 4)
            #expect(try packed.withUnsafeBytes { try d.decompress($0, rawLength: src.count) } == src)
            // A failed decompression must not spoil the context.
            #expect(throws: HaulError.self) { try packed.withUnsafeBytes { try d.decompress($0, rawLength: 10) } }
        }
    }

    @Test func compressibleDataIsCompressed() throws {
        let (kind, out) = try text.withUnsafeBytes {
            try Compression.compressIfUseful($0, with: ZstdCompressor(level: 3))
        }
        #expect(kind == .zstd)
        let packed = try #require(out)
        #expect(try packed.withUnsafeBytes { try ZstdDecompressor().decompress($0, rawLength: text.count) } == text)
    }

    @Test func incompressibleDataIsStoredRaw() throws {
        let c = ZstdCompressor(level: 3)
        for src in [pseudoRandom(1 << 20, seed: 7), pseudoRandom(10, seed: 8), []] {
            let (kind, out) = try src.withUnsafeBytes { try Compression.compressIfUseful($0, with: c) }
            #expect(kind == .raw)
            #expect(out == nil)
        }
        // The compressor still works after a "too small" outcome.
        #expect(try text.withUnsafeBytes { try Compression.compressIfUseful($0, with: c) }.0 == .zstd)
    }

    @Test func barelyCompressibleDataIsStoredRaw() throws {
        // Half random, half zero compresses by ~50 %; 97 % random and 3 % zeros saves less than 1/32.
        let c = ZstdCompressor(level: 3)
        let half = pseudoRandom(1 << 16, seed: 9) + [UInt8](repeating: 0, count: 1 << 16)
        #expect(try half.withUnsafeBytes { try Compression.compressIfUseful($0, with: c) }.0 == .zstd)
        let slight = pseudoRandom(97_000, seed: 10) + [UInt8](repeating: 0, count: 2_000)
        #expect(try slight.withUnsafeBytes { try Compression.compressIfUseful($0, with: c) }.0 == .raw)
    }

    @Test func corruptedInputIsDetected() throws {
        let c = ZstdCompressor(level: 3)
        let d = ZstdDecompressor()
        let packed = try text.withUnsafeBytes { try c.compress($0) }
        var damaged = packed
        damaged[0] ^= 0xFF  // magic
        #expect { try damaged.withUnsafeBytes { try d.decompress($0, rawLength: text.count) } } throws: { error in
            error.haulCode == .corrupted
        }
        let truncated = Array(packed.prefix(packed.count / 2))
        #expect { try truncated.withUnsafeBytes { try d.decompress($0, rawLength: text.count) } } throws: { error in
            error.haulCode == .corrupted
        }
        let garbage = pseudoRandom(500, seed: 3)
        #expect { try garbage.withUnsafeBytes { try d.decompress($0, rawLength: 1000) } } throws: { error in
            error.haulCode == .corrupted
        }
    }

    @Test func wrongRawLengthIsDetected() throws {
        let c = ZstdCompressor(level: 3)
        let d = ZstdDecompressor()
        let packed = try text.withUnsafeBytes { try c.compress($0) }
        for wrong in [0, 1, text.count - 1, text.count + 1, text.count * 2] {
            #expect { try packed.withUnsafeBytes { try d.decompress($0, rawLength: wrong) } } throws: { error in
                error.haulCode == .corrupted
            }
        }
        #expect(try packed.withUnsafeBytes { try d.decompress($0, rawLength: text.count) } == text)
    }
}
