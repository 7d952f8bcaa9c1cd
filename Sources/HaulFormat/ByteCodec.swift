/// Appends fixed-width little-endian integers, LEB128 varints and byte strings (format.md conventions).
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { fixed(UInt64(v), 2) }
    public mutating func u32(_ v: UInt32) { fixed(UInt64(v), 4) }
    public mutating func u64(_ v: UInt64) { fixed(v, 8) }
    public mutating func u32BE(_ v: UInt32) {
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }
    public mutating func u64BE(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }

    private mutating func fixed(_ v: UInt64, _ n: Int) {
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }

    public mutating func uvarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func svarint(_ v: Int64) { uvarint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    public mutating func raw<C: Collection>(_ c: C) where C.Element == UInt8 { bytes.append(contentsOf: c) }

    /// A uvarint length followed by the bytes.
    public mutating func lengthPrefixed<C: Collection>(_ c: C) where C.Element == UInt8 {
        uvarint(UInt64(c.count))
        bytes.append(contentsOf: c)
    }

    public mutating func digest(_ d: Digest256) {
        u64BE(d.w0)
        u64BE(d.w1)
        u64BE(d.w2)
        u64BE(d.w3)
    }
}

/// Reads what `ByteWriter` writes; every read is bounds-checked and throws `corrupted` past the end.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    let what: String

    /// - Parameter what: names the object being parsed, for error messages.
    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.offset = 0
        self.what = what
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw HaulError(.corrupted, "\(what) is truncated at byte \(offset) (wanted \(n) more bytes)")
        }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    private mutating func fixed(_ n: Int) throws -> UInt64 {
        let s = try take(n)
        var v: UInt64 = 0
        for (i, b) in s.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        return v
    }

    public mutating func u8() throws -> UInt8 { try take(1).first! }
    public mutating func u16() throws -> UInt16 { UInt16(try fixed(2)) }
    public mutating func u32() throws -> UInt32 { UInt32(try fixed(4)) }
    public mutating func u64() throws -> UInt64 { try fixed(8) }
    public mutating func u64BE() throws -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }

    public mutating func uvarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw HaulError(.corrupted, "\(what) has an overlong varint at byte \(offset)") }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw HaulError(.corrupted, "\(what) has an overlong varint at byte \(offset)") }
        }
    }

    public mutating func svarint() throws -> Int64 {
        let u = try uvarint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A uvarint that must fit an `Int` no larger than `limit`.
    public mutating func count(limit: Int) throws -> Int {
        let v = try uvarint()
        guard v <= UInt64(limit) else {
            throw HaulError(.corrupted, "\(what) declares \(v) items, above the limit \(limit)")
        }
        return Int(v)
    }

    public mutating func raw(_ n: Int) throws -> [UInt8] { Array(try take(n)) }

    public mutating func lengthPrefixed(limit: Int = 1 << 26) throws -> [UInt8] {
        let n = try count(limit: limit)
        return try raw(n)
    }

    public mutating func digest() throws -> Digest256 {
        Digest256(w0: try u64BE(), w1: try u64BE(), w2: try u64BE(), w3: try u64BE())
    }

    public mutating func expect(magic: String) throws {
        let m = Array(magic.utf8)
        guard try raw(m.count) == m else { throw HaulError(.corrupted, "\(what) does not start with \(magic)") }
    }
}
