/// The plaintext of an index file (format.md §7): which blobs live in which packs.
public struct IndexFile: Sendable, Hashable {
    public struct PackInfo: Sendable, Hashable {
        public var id: PackID
        public var size: UInt64
        public var entries: [PackEntry]
        /// The pack's 32-byte salt (format.md §6), so a blob opens with one ranged read.
        public var salt: [UInt8]
        public init(id: PackID, size: UInt64, salt: [UInt8], entries: [PackEntry]) {
            precondition(salt.count == 32)
            self.id = id
            self.size = size
            self.salt = salt
            self.entries = entries
        }
    }

    public var supersedes: [IndexID]
    public var packs: [PackInfo]

    public init(supersedes: [IndexID] = [], packs: [PackInfo]) {
        self.supersedes = supersedes
        self.packs = packs
    }

    static let magic = "HIDX"
    /// The version new index files are written with; 1 (before groups of small blobs) is still read.
    static let version: UInt8 = 2
    static func entryLength(version: UInt8) -> Int { version == 1 ? 50 : 54 }

    public var blobCount: Int { packs.reduce(0) { $0 + $1.entries.count } }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + packs.count * 76 + blobCount * Self.entryLength(version: Self.version))
        w.raw(Array(Self.magic.utf8))
        w.u8(Self.version)
        w.raw([0, 0, 0])
        w.u32(UInt32(supersedes.count))
        for s in supersedes { w.digest(s.digest) }
        w.u32(UInt32(packs.count))
        var all: [(PackEntry, UInt32)] = []
        all.reserveCapacity(blobCount)
        for (ordinal, p) in packs.enumerated() {
            w.digest(p.id.digest)
            w.u64(p.size)
            w.u32(UInt32(p.entries.count))
            w.raw(p.salt)
            for e in p.entries { all.append((e, UInt32(ordinal))) }
        }
        all.sort {
            ($0.0.id, $0.1, $0.0.offset, $0.0.storedMemberOffset) < (
                $1.0.id, $1.1, $1.0.offset, $1.0.storedMemberOffset
            )
        }
        w.u32(UInt32(all.count))
        for (e, ordinal) in all {
            w.digest(e.id.digest)
            w.u8(e.type.rawValue)
            w.u8(e.compression.rawValue)
            w.u32(ordinal)
            w.u32(e.offset)
            w.u32(e.storedLength)
            w.u32(e.rawLength)
            w.u32(e.storedMemberOffset)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8], what: String) throws {
        var r = ByteReader(bytes, what: what)
        try r.expect(magic: Self.magic)
        let version = try r.u8()
        guard version == 1 || version == Self.version else {
            throw HaulError(
                .unsupportedVersion, "\(what) has index version \(version); this Haul reads versions 1 and 2")
        }
        _ = try r.raw(3)
        let sCount = Int(try r.u32())
        guard sCount * 32 <= r.remaining else { throw HaulError(.corrupted, "\(what) is truncated") }
        supersedes = try (0..<sCount).map { _ in ObjectID(try r.digest()) }
        let pCount = Int(try r.u32())
        guard pCount * 76 <= r.remaining else { throw HaulError(.corrupted, "\(what) is truncated") }
        var packs = [PackInfo]()
        var declared = [Int]()
        for _ in 0..<pCount {
            let id = ObjectID(try r.digest())
            let size = try r.u64()
            declared.append(Int(try r.u32()))
            packs.append(PackInfo(id: id, size: size, salt: try r.raw(32), entries: []))
        }
        let eCount = Int(try r.u32())
        guard eCount * Self.entryLength(version: version) == r.remaining else {
            throw HaulError(.corrupted, "\(what) declares \(eCount) entries but holds \(r.remaining) bytes")
        }
        for _ in 0..<eCount {
            let id = BlobID(try r.digest())
            guard let type = BlobType(rawValue: try r.u8()), let comp = BlobCompression(rawValue: try r.u8()) else {
                throw HaulError(.corrupted, "\(what) holds an unknown blob type or compression")
            }
            let ordinal = Int(try r.u32())
            guard ordinal < packs.count else {
                throw HaulError(.corrupted, "\(what) refers to pack #\(ordinal) of \(packs.count)")
            }
            let (offset, storedLength, rawLength) = (try r.u32(), try r.u32(), try r.u32())
            let member = version == 1 ? nil : PackEntry.memberOffset(stored: try r.u32())
            packs[ordinal].entries.append(
                PackEntry(
                    id: id, type: type, compression: comp, offset: offset, storedLength: storedLength,
                    rawLength: rawLength, memberOffset: member))
        }
        for (i, p) in packs.enumerated() where p.entries.count != declared[i] {
            throw HaulError(
                .corrupted, "\(what) lists \(p.entries.count) blobs for pack \(p.id) but declared \(declared[i])")
        }
        for i in packs.indices {
            packs[i].entries.sort { ($0.offset, $0.storedMemberOffset) < ($1.offset, $1.storedMemberOffset) }
        }
        self.packs = packs
    }
}
