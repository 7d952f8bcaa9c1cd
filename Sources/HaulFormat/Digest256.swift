/// 32 bytes held as four words: cheap to hash, compare and store in large tables.
public struct Digest256: Hashable, Comparable, Sendable {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Builds a digest from exactly 32 bytes (big-endian words, so ordering equals byte-wise ordering).
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == 32, "a Digest256 is 32 bytes")
        var words: [UInt64] = [0, 0, 0, 0]
        for (i, byte) in bytes.enumerated() { words[i / 8] = words[i / 8] << 8 | UInt64(byte) }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// Parses 64 lowercase or uppercase hex digits.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = Self.nibble(utf8[2 * i]), let lo = Self.nibble(utf8[2 * i + 1]) else { return nil }
            bytes[i] = hi << 4 | lo
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift)))
            }
        }
        return out
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (a: Digest256, b: Digest256) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }

    public static let zero = Digest256(w0: 0, w1: 0, w2: 0, w3: 0)
}

/// The keyed id of a blob: HMAC-SHA256(idKey, plaintext) (format.md §4).
public struct BlobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var digest: Digest256
    public init(_ digest: Digest256) { self.digest = digest }
    public init?(hex: some StringProtocol) {
        guard let d = Digest256(hex: hex) else { return nil }
        digest = d
    }
    public var hex: String { digest.hex }
    public var description: String { String(hex.prefix(16)) }
    public static func < (a: BlobID, b: BlobID) -> Bool { a.digest < b.digest }
}

/// The name of a content-addressed object: SHA-256 of its stored bytes (format.md §1).
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var digest: Digest256
    public init(_ digest: Digest256) { self.digest = digest }
    /// Parses a canonical name: exactly 64 lowercase hex digits.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }),
            let d = Digest256(hex: hex)
        else { return nil }
        digest = d
    }
    public var hex: String { digest.hex }
    public var description: String { String(hex.prefix(16)) }
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.digest < b.digest }
}

/// Packs, index files and snapshots are named by their SHA-256.
public typealias PackID = ObjectID
public typealias IndexID = ObjectID
public typealias SnapshotID = ObjectID

/// The two kinds of blob (format.md §4).
public enum BlobType: UInt8, Sendable, Hashable, CaseIterable {
    case data = 0
    case tree = 1
}

/// How a blob's plaintext is stored before encryption.
public enum BlobCompression: UInt8, Sendable, Hashable {
    case raw = 0
    case zstd = 1
}
