/// Byte layout of packs (format.md §6). No cryptography here: HaulCrypto seals, this file lays out.
public enum PackLayout {
    public static let magic: [UInt8] = Array("HAULPACK".utf8)
    /// The version new packs are written with; 1 (before groups of small blobs) is still read.
    public static let version: UInt8 = 2
    /// magic (8) ‖ version (1) ‖ type (1) ‖ reserved (2) ‖ salt (32).
    public static let preambleLength = 44
    public static let saltLength = 32
    public static let tagLength = 16
    /// The length of a header entry in a pack of `version`.
    public static func entryLength(version: UInt8) -> Int { version == 1 ? 46 : 50 }
    /// `memberOffset` on disk for a blob sealed alone.
    public static let noMember: UInt32 = 0xFFFF_FFFF
    /// Nonce domain of the header: blobs use 0, the header 0xFFFFFFFF.
    public static let headerNonceDomain: UInt32 = 0xFFFF_FFFF

    /// The preamble of a new pack (`version` other than the current one only for known-answer tests of version 1).
    public static func preamble(type: BlobType, salt: [UInt8], version: UInt8 = version) -> [UInt8] {
        precondition(salt.count == saltLength)
        return magic + [version, type.rawValue, 0, 0] + salt
    }

    /// Parses a preamble, returning the blob type and salt.
    public static func parsePreamble(_ bytes: ArraySlice<UInt8>, what: String) throws -> (BlobType, [UInt8]) {
        guard bytes.count >= preambleLength, Array(bytes.prefix(8)) == magic else {
            throw HaulError(.corrupted, "\(what) is not a Haul pack (bad magic)")
        }
        let b = Array(bytes.prefix(preambleLength))
        guard b[8] == 1 || b[8] == version else {
            throw HaulError(.unsupportedVersion, "\(what) has pack version \(b[8]); this Haul reads versions 1 and 2")
        }
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
    /// For a member of a group of small blobs (format.md §4): the blob's position in the group's plaintext, while
    /// `offset`, `storedLength` and `compression` are the group's. Nil for a blob sealed alone.
    public var memberOffset: UInt32?

    public init(
        id: BlobID, type: BlobType, compression: BlobCompression, offset: UInt32, storedLength: UInt32,
        rawLength: UInt32, memberOffset: UInt32? = nil
    ) {
        self.id = id
        self.type = type
        self.compression = compression
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.memberOffset = memberOffset
    }

    /// `memberOffset` as stored: `PackLayout.noMember` for a blob sealed alone.
    public var storedMemberOffset: UInt32 { memberOffset ?? PackLayout.noMember }

    /// `memberOffset` from its stored form.
    public static func memberOffset(stored: UInt32) -> UInt32? { stored == PackLayout.noMember ? nil : stored }
}

/// The plaintext of a pack header: the entries in file order.
public struct PackHeader: Sendable, Hashable {
    public var entries: [PackEntry]
    public init(entries: [PackEntry]) { self.entries = entries }

    /// The header of a pack of the current version (`PackLayout.version`).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 4 + entries.count * PackLayout.entryLength(version: PackLayout.version))
        w.u32(UInt32(entries.count))
        for e in entries {
            w.digest(e.id.digest)
            w.u8(e.type.rawValue)
            w.u8(e.compression.rawValue)
            w.u32(e.offset)
            w.u32(e.storedLength)
            w.u32(e.rawLength)
            w.u32(e.storedMemberOffset)
        }
        return w.bytes
    }

    /// Decodes the header of a pack of `version` (1 or 2, from the preamble).
    public init(decoding bytes: [UInt8], version: UInt8 = PackLayout.version, what: String) throws {
        var r = ByteReader(bytes, what: what)
        let count = Int(try r.u32())
        guard count * PackLayout.entryLength(version: version) == r.remaining else {
            throw HaulError(.corrupted, "\(what) header declares \(count) blobs but holds \(r.remaining) bytes")
        }
        var entries = [PackEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = BlobID(try r.digest())
            guard let type = BlobType(rawValue: try r.u8()), let comp = BlobCompression(rawValue: try r.u8()) else {
                throw HaulError(.corrupted, "\(what) header holds an unknown blob type or compression")
            }
            let (offset, storedLength, rawLength) = (try r.u32(), try r.u32(), try r.u32())
            let member = version == 1 ? nil : PackEntry.memberOffset(stored: try r.u32())
            entries.append(
                PackEntry(
                    id: id, type: type, compression: comp, offset: offset, storedLength: storedLength,
                    rawLength: rawLength, memberOffset: member))
        }
        self.entries = entries
    }
}
