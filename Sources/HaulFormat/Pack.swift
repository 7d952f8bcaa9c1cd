/// Byte layout of packs (format.md §6). No cryptography here: HaulCrypto seals, this file lays out.
public enum PackLayout {
    public static let magic: [UInt8] = Array("HAULPACK".utf8)
    public static let version: UInt8 = 1
    /// magic (8) ‖ version (1) ‖ type (1) ‖ reserved (2) ‖ salt (32).
    public static let preambleLength = 44
    public static let saltLength = 32
    public static let tagLength = 16
    public static let entryLength = 46
    /// Nonce domain of the header: blobs use 0, the header 0xFFFFFFFF.
    public static let headerNonceDomain: UInt32 = 0xFFFF_FFFF

    public static func preamble(type: BlobType, salt: [UInt8]) -> [UInt8] {
        precondition(salt.count == saltLength)
        return magic + [version, type.rawValue, 0, 0] + salt
    }

    /// Parses a preamble, returning the blob type and salt.
    public static func parsePreamble(_ bytes: ArraySlice<UInt8>, what: String) throws -> (BlobType, [UInt8]) {
        guard bytes.count >= preambleLength, Array(bytes.prefix(8)) == magic else {
            throw HaulError(.corrupted, "\(what) is not a Haul pack (bad magic)")
        }
        let b = Array(bytes.prefix(preambleLength))
        guard b[8] == version else { throw HaulError(.unsupportedVersion, "\(what) has pack version \(b[8])") }
        guard let type = BlobType(rawValue: b[9]) else {
            throw HaulError(.corrupted, "\(what) has an unknown blob type")
        }
        return (type, Array(b[12..<44]))
    }
}

/// One blob's entry in a pack header and in the in-memory index.
public struct PackEntry: Sendable, Hashable {
    public var id: BlobID
    public var type: BlobType
    public var compression: BlobCompression
    /// Position of the blob's ciphertext within the pack.
    public var offset: UInt32
    /// Ciphertext length including the tag.
    public var storedLength: UInt32
    /// Plaintext length before compression.
    public var rawLength: UInt32

    public init(
        id: BlobID, type: BlobType, compression: BlobCompression, offset: UInt32, storedLength: UInt32,
        rawLength: UInt32
    ) {
        self.id = id
        self.type = type
        self.compression = compression
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
    }
}

/// The plaintext of a pack header: the entries in file order.
public struct PackHeader: Sendable, Hashable {
    public var entries: [PackEntry]
    public init(entries: [PackEntry]) { self.entries = entries }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 4 + entries.count * PackLayout.entryLength)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.digest(e.id.digest)
            w.u8(e.type.rawValue)
            w.u8(e.compression.rawValue)
            w.u32(e.offset)
            w.u32(e.storedLength)
            w.u32(e.rawLength)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8], what: String) throws {
        var r = ByteReader(bytes, what: what)
        let count = Int(try r.u32())
        guard count * PackLayout.entryLength == r.remaining else {
            throw HaulError(.corrupted, "\(what) header declares \(count) blobs but holds \(r.remaining) bytes")
        }
        var entries = [PackEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = BlobID(try r.digest())
            guard let type = BlobType(rawValue: try r.u8()), let comp = BlobCompression(rawValue: try r.u8()) else {
                throw HaulError(.corrupted, "\(what) header holds an unknown blob type or compression")
            }
            entries.append(
                PackEntry(
                    id: id, type: type, compression: comp, offset: try r.u32(), storedLength: try r.u32(),
                    rawLength: try r.u32()))
        }
        self.entries = entries
    }
}
