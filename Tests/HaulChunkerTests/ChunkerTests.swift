import Foundation
import HaulChunker
import HaulFormat
import Testing

/// Deterministic test inputs, documented in the fixture file so other implementations can reproduce them.
enum TestInput {
    static let seed: UInt64 = 0x0123_4567_89AB_CDEF
    static let length = 20 << 20

    /// xorshift64 (x ^= x << 13; x ^= x >> 7; x ^= x << 17) from `seed`; each step emits x as 8 bytes little-endian.
    static func xorshift(count: Int, seed: UInt64 = seed) -> [UInt8] {
        var x = seed
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                var w = x
                for _ in 0..<8 where i < count {
                    buffer[i] = UInt8(truncatingIfNeeded: w)
                    w >>= 8
                    i += 1
                }
            }
            initialized = count
        }
    }

    /// gear[i] = splitmix64 finalizer of (i + 1) · 0x9E3779B97F4A7C15.
    static let gear: GearTable = GearTable(
        (0..<256).map { i in
            var z = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        })

    static let small = ChunkerClass(minFileSize: 0, min: 2 << 10, avg: 8 << 10, max: 64 << 10)
    static let defaults = RepositoryConfig.defaultChunker[0]

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// Chunks `data` the way a file reader does: windows of `max` bytes, the last one final. Returns chunk end offsets.
func cutOffsets(_ data: [UInt8], _ chunker: Chunker) -> [Int] {
    var cuts = [Int]()
    data.withUnsafeBytes { all in
        var pos = 0
        while pos < all.count {
            let end = min(all.count, pos + chunker.parameters.max)
            let isFinal = end == all.count
            let n = chunker.nextCut(in: UnsafeRawBufferPointer(rebasing: all[pos..<end]), isFinal: isFinal)
            precondition(n >= 1)
            pos += n
            cuts.append(pos)
        }
    }
    return cuts
}

struct ChunkerFixture: Codable {
    struct Case: Codable {
        var min: Int
        var avg: Int
        var max: Int
        var cuts: [Int]
    }
    var input: String
    var seed: String
    var length: Int
    var firstBytes: String
    var gear: String
    var gearFirst: [String]
    var cases: [Case]
}

@Suite struct ChunkerTests {
    static let fixtureName = "chunker-vectors"
    static let input = TestInput.xorshift(count: TestInput.length)

    static func makeFixture() -> ChunkerFixture {
        let cases = [TestInput.small, TestInput.defaults].map { p in
            ChunkerFixture.Case(
                min: p.min, avg: p.avg, max: p.max,
                cuts: cutOffsets(input, Chunker(parameters: p, gear: TestInput.gear)))
        }
        return ChunkerFixture(
            input:
                "xorshift64 (x ^= x << 13; x ^= x >> 7; x ^= x << 17) from seed; each step emits x as 8 bytes little-endian",
            seed: TestInput.hex(TestInput.seed), length: TestInput.length,
            firstBytes: input.prefix(16).map { String(format: "%02x", $0) }.joined(),
            gear:
                "gear[i] = splitmix64 finalizer of (i + 1) * 0x9e3779b97f4a7c15: z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31",
            gearFirst: TestInput.gear.values.prefix(4).map(TestInput.hex), cases: cases)
    }

    /// Writes the fixture into the source tree. Run once: `HAUL_REGENERATE_FIXTURES=1 swift test --filter regenerate`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HAUL_REGENERATE_FIXTURES"] == "1"))
    func regenerateFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/\(Self.fixtureName).json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(Self.makeFixture()).write(to: url)
    }

    @Test func knownAnswerVectors() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(Self.fixtureName)", withExtension: "json"))
        let fixture = try JSONDecoder().decode(ChunkerFixture.self, from: Data(contentsOf: url))
        let current = Self.makeFixture()
        #expect(fixture.length == TestInput.length)
        #expect(fixture.firstBytes == current.firstBytes)
        #expect(fixture.gearFirst == current.gearFirst)
        #expect(fixture.cases.count == 2)
        for (stored, computed) in zip(fixture.cases, current.cases) {
            #expect(stored.min == computed.min && stored.avg == computed.avg && stored.max == computed.max)
            #expect(stored.cuts.count == computed.cuts.count)
            #expect(stored.cuts == computed.cuts, "cut points differ for avg \(stored.avg)")
        }
        // Sanity: the vectors are not degenerate.
        #expect(fixture.cases[0].cuts.count > 1500)
        #expect(fixture.cases[1].cuts.count > 8)
    }

    @Test(arguments: [TestInput.small, TestInput.defaults])
    func chunksStayWithinBounds(parameters: ChunkerClass) {
        let cuts = cutOffsets(Self.input, Chunker(parameters: parameters, gear: TestInput.gear))
        #expect(cuts.last == Self.input.count)
        var previous = 0
        for (k, end) in cuts.enumerated() {
            let length = end - previous
            if k < cuts.count - 1 {
                #expect(length >= parameters.min && length <= parameters.max, "chunk \(k) has length \(length)")
            } else {
                #expect(length >= 1 && length <= parameters.max)
            }
            previous = end
        }
        // The average lands in the right neighbourhood.
        let mean = Double(Self.input.count) / Double(cuts.count)
        #expect(mean > Double(parameters.avg) * 0.7 && mean < Double(parameters.avg) * 2.5, "mean chunk \(mean)")
    }

    @Test func cutsAtMaxWhenNothingMatches() {
        // All-zero input: fp settles on a constant; with this gear table it never satisfies the masks.
        let zeros = [UInt8](repeating: 0, count: 300 << 10)
        let cuts = cutOffsets(zeros, Chunker(parameters: TestInput.small, gear: TestInput.gear))
        #expect(cuts == [65536, 131072, 196608, 262144, 307200])
    }

    @Test func smallAndEmptyInputs() {
        let chunker = Chunker(parameters: TestInput.small, gear: TestInput.gear)
        let empty = [UInt8]()
        #expect(empty.withUnsafeBytes { chunker.nextCut(in: $0, isFinal: true) } == 0)
        let tiny = Array(Self.input.prefix(100))
        #expect(tiny.withUnsafeBytes { chunker.nextCut(in: $0, isFinal: true) } == 100)
        let exactlyMin = Array(Self.input.prefix(TestInput.small.min))
        #expect(exactlyMin.withUnsafeBytes { chunker.nextCut(in: $0, isFinal: true) } == TestInput.small.min)
    }

    @Test func windowSizeDoesNotMatter() {
        // Passing the whole rest of the input gives the same cuts as max-sized windows.
        let chunker = Chunker(parameters: TestInput.small, gear: TestInput.gear)
        let data = Array(Self.input.prefix(2 << 20))
        var cuts = [Int]()
        data.withUnsafeBytes { all in
            var pos = 0
            while pos < all.count {
                pos += chunker.nextCut(in: UnsafeRawBufferPointer(rebasing: all[pos...]), isFinal: true)
                cuts.append(pos)
            }
        }
        #expect(cuts == cutOffsets(data, chunker))
    }

    @Test func boundariesResyncAfterInsertion() {
        let chunker = Chunker(parameters: TestInput.small, gear: TestInput.gear)
        let original = Array(Self.input.prefix(4 << 20))
        let editAt = 2 << 20
        let inserted = TestInput.xorshift(count: 100, seed: 42)
        let edited = Array(original[..<editAt]) + inserted + Array(original[editAt...])
        let before = cutOffsets(original, chunker)
        let after = Set(cutOffsets(edited, chunker))
        // Cuts before the edit are unchanged.
        for c in before where c < editAt { #expect(after.contains(c)) }
        // After the edit, nearly all cuts reappear shifted by the insertion.
        let later = before.filter { $0 > editAt + TestInput.small.max }
        let kept = later.filter { after.contains($0 + inserted.count) }.count
        #expect(later.count > 100)
        #expect(Double(kept) >= 0.95 * Double(later.count), "only \(kept) of \(later.count) cuts resynced")
    }

    @Test func keyedTablesCutDifferently() {
        var other = TestInput.gear.values
        other.swapAt(0, 255)
        other = other.map { $0 ^ 0x5555_5555_5555_5555 }
        let data = Array(Self.input.prefix(1 << 20))
        let a = cutOffsets(data, Chunker(parameters: TestInput.small, gear: TestInput.gear))
        let b = cutOffsets(data, Chunker(parameters: TestInput.small, gear: GearTable(other)))
        #expect(a != b)
    }
}
