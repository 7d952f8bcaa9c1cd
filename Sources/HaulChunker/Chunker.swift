import HaulFormat

/// The 256-entry gear table of keyed FastCDC (format.md §3, §4).
///
/// A repository's table comes from its chunker secret (`MasterKeys.gearValues()` in HaulCrypto), so chunk boundaries
/// do not reveal whether a repository holds a known file.
public struct GearTable: Sendable {
    /// Exactly 256 values, indexed by byte.
    public let values: [UInt64]

    /// - Precondition: `values.count == 256`.
    public init(_ values: [UInt64]) {
        precondition(values.count == 256, "a gear table has 256 entries")
        self.values = values
    }
}

/// Keyed FastCDC content-defined chunking, exactly as format.md §4 "Chunking" defines it.
///
/// Precise rules (`L` is the length, counted from the chunk start, of the candidate chunk that ends after the byte
/// just absorbed):
/// - `fp` starts at 0 at the chunk start and absorbs every byte: `fp = (fp << 1) &+ gear[byte]` (wrapping).
/// - For `min ≤ L < avg` a cut is made when `fp & maskS == 0`; for `avg ≤ L < max` when `fp & maskL == 0`;
///   at `L == max` unconditionally. With `bits = log2(avg)`, `maskS` has the top `bits + 2` bits set and `maskL`
///   the top `bits - 2` bits set.
/// - The last chunk ends at end of input; input not longer than `min` is one chunk.
///
/// Only the last 64 absorbed bytes influence the 64-bit `fp`, so the loop starts absorbing at `min - 64` rather
/// than at 0 and still produces exactly the fingerprints of absorbing from the chunk start.
public struct Chunker: Sendable {
    public let parameters: ChunkerClass
    public let gear: GearTable
    let maskS: UInt64
    let maskL: UInt64

    /// - Precondition: `min ≥ 1`, `min < avg < max`, `avg` a power of two of at least 4
    ///   (`ChunkerClass.validate()` is stricter).
    public init(parameters: ChunkerClass, gear: GearTable) {
        precondition(
            parameters.min >= 1 && parameters.min < parameters.avg && parameters.avg < parameters.max
                && parameters.avg.nonzeroBitCount == 1 && parameters.avg.trailingZeroBitCount >= 2,
            "invalid chunker parameters \(parameters)")
        self.parameters = parameters
        self.gear = gear
        let bits = parameters.avg.trailingZeroBitCount
        self.maskS = ~UInt64(0) << UInt64(64 - (bits + 2))
        self.maskL = bits - 2 == 0 ? 0 : ~UInt64(0) << UInt64(64 - (bits - 2))
    }

    /// The length of the next chunk (format.md §4 "Chunking").
    ///
    /// `buffer` starts at a chunk start. The caller guarantees `buffer.count >= parameters.max` unless `isFinal`
    /// (the buffer then holds the rest of the file). Returns a length in `1...buffer.count`; with `isFinal` and an
    /// empty buffer returns 0.
    public func nextCut(in buffer: UnsafeRawBufferPointer, isFinal: Bool) -> Int {
        let count = buffer.count
        precondition(isFinal || count >= parameters.max, "the chunker needs max bytes unless at end of file")
        let minLength = parameters.min
        if count <= minLength { return count }
        let maxLength = Swift.min(count, parameters.max)
        let avgLength = Swift.min(maxLength, parameters.avg)
        let base = buffer.baseAddress!
        let maskS = self.maskS
        let maskL = self.maskL
        return gear.values.withUnsafeBufferPointer { g in
            let gp = g.baseAddress!
            var fp: UInt64 = 0
            // Warm up over the (at most) 64 bytes before min: earlier bytes are shifted out of fp by then.
            var i = Swift.max(0, minLength - 64)
            while i < minLength - 1 {
                fp = (fp << 1) &+ gp[Int(base.load(fromByteOffset: i, as: UInt8.self))]
                i += 1
            }
            // Here i == min - 1; absorbing byte i makes a candidate chunk of length i + 1 (held in i after += 1).
            while i < avgLength - 1 {
                fp = (fp << 1) &+ gp[Int(base.load(fromByteOffset: i, as: UInt8.self))]
                i += 1
                if fp & maskS == 0 { return i }
            }
            while i < maxLength - 1 {
                fp = (fp << 1) &+ gp[Int(base.load(fromByteOffset: i, as: UInt8.self))]
                i += 1
                if fp & maskL == 0 { return i }
            }
            return maxLength
        }
    }
}
