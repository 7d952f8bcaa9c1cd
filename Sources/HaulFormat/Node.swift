/// One entry of a directory as stored in a tree blob (format.md §9).
public struct Node: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case file = 1
        case directory = 2
        case symlink = 3
        case fifo = 4
        case characterDevice = 5
        case blockDevice = 6
    }

    /// One stored chunk of a file: where it starts in the file and which blob holds it. Gaps are holes.
    public struct Chunk: Sendable, Hashable {
        public var offset: UInt64
        public var blob: BlobID
        public init(offset: UInt64, blob: BlobID) {
            self.offset = offset
            self.blob = blob
        }
    }

    public struct Timestamp: Sendable, Hashable, Comparable {
        public var seconds: Int64
        public var nanoseconds: UInt32
        public init(seconds: Int64, nanoseconds: UInt32) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
        /// Nanoseconds since the epoch.
        public var totalNanoseconds: Int64 { seconds &* 1_000_000_000 &+ Int64(nanoseconds) }
        public static func < (a: Timestamp, b: Timestamp) -> Bool {
            (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
        }
    }

    public struct ExtendedAttribute: Sendable, Hashable {
        public var name: [UInt8]
        public var value: [UInt8]
        public init(name: [UInt8], value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// The name as raw bytes (any bytes but "/" and NUL).
    public var name: [UInt8]
    public var kind: Kind
    /// `st_mode & 0o7777`.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Timestamp
    public var ctime: Timestamp
    public var device: UInt64
    public var inode: UInt64
    public var linkCount: UInt64
    public var size: UInt64
    public var rdev: UInt64
    public var xattrs: [ExtendedAttribute]
    /// Files only.
    public var chunks: [Chunk]
    /// Directories only.
    public var subtree: BlobID?
    /// Symlinks only.
    public var linkTarget: [UInt8]

    public init(
        name: [UInt8], kind: Kind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: Timestamp = .init(seconds: 0, nanoseconds: 0), ctime: Timestamp = .init(seconds: 0, nanoseconds: 0),
        device: UInt64 = 0, inode: UInt64 = 0, linkCount: UInt64 = 1, size: UInt64 = 0, rdev: UInt64 = 0,
        xattrs: [ExtendedAttribute] = [], chunks: [Chunk] = [], subtree: BlobID? = nil, linkTarget: [UInt8] = []
    ) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.ctime = ctime
        self.device = device
        self.inode = inode
        self.linkCount = linkCount
        self.size = size
        self.rdev = rdev
        self.xattrs = xattrs
        self.chunks = chunks
        self.subtree = subtree
        self.linkTarget = linkTarget
    }

    /// The name for people: UTF-8 where valid, otherwise with invalid bytes replaced.
    public var displayName: String { String(decoding: name, as: UTF8.self) }

    /// True when `name` is acceptable as one path component.
    public static func isValidName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name != [46] && name != [46, 46] && !name.contains(0) && !name.contains(47)
    }
}

/// The entries of one directory, sorted by name bytes (format.md §9).
public struct Tree: Sendable, Hashable {
    public var nodes: [Node]

    public init(nodes: [Node]) {
        self.nodes = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    public func node(named name: [UInt8]) -> Node? {
        var lo = 0
        var hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].name == name { return nodes[mid] }
            if nodes[mid].name.lexicographicallyPrecedes(name) { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    static let magic = "HTRE"
    static let version: UInt8 = 1

    /// Serializes the tree deterministically: equal trees give equal bytes, hence equal blob ids.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + nodes.count * 96)
        w.raw(Array(Self.magic.utf8))
        w.u8(Self.version)
        w.uvarint(UInt64(nodes.count))
        for n in nodes {
            w.lengthPrefixed(n.name)
            w.u8(n.kind.rawValue)
            w.uvarint(UInt64(n.mode))
            w.uvarint(UInt64(n.uid))
            w.uvarint(UInt64(n.gid))
            w.svarint(n.mtime.seconds)
            w.uvarint(UInt64(n.mtime.nanoseconds))
            w.svarint(n.ctime.seconds)
            w.uvarint(UInt64(n.ctime.nanoseconds))
            w.uvarint(n.device)
            w.uvarint(n.inode)
            w.uvarint(n.linkCount)
            w.uvarint(n.size)
            w.uvarint(n.rdev)
            let xattrs = n.xattrs.sorted { $0.name.lexicographicallyPrecedes($1.name) }
            w.uvarint(UInt64(xattrs.count))
            for x in xattrs {
                w.lengthPrefixed(x.name)
                w.lengthPrefixed(x.value)
            }
            switch n.kind {
            case .file:
                w.uvarint(UInt64(n.chunks.count))
                for c in n.chunks {
                    w.uvarint(c.offset)
                    w.digest(c.blob.digest)
                }
            case .directory:
                w.digest((n.subtree ?? BlobID(.zero)).digest)
            case .symlink:
                w.lengthPrefixed(n.linkTarget)
            case .fifo, .characterDevice, .blockDevice:
                break
            }
        }
        return w.bytes
    }

    /// Parses a tree blob; throws `corrupted` with the position on any malformed input.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "tree blob")
        try r.expect(magic: Self.magic)
        let version = try r.u8()
        guard version == Self.version else {
            throw HaulError(.unsupportedVersion, "tree blob has version \(version); this Haul reads version 1")
        }
        let count = try r.count(limit: bytes.count)
        var nodes = [Node]()
        nodes.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.lengthPrefixed(limit: 1 << 16)
            guard Node.isValidName(name) else { throw HaulError(.corrupted, "tree blob holds an invalid name") }
            guard let kind = Node.Kind(rawValue: try r.u8()) else {
                throw HaulError(.corrupted, "tree blob holds an unknown node kind")
            }
            var n = Node(name: name, kind: kind)
            n.mode = UInt32(truncatingIfNeeded: try r.uvarint())
            n.uid = UInt32(truncatingIfNeeded: try r.uvarint())
            n.gid = UInt32(truncatingIfNeeded: try r.uvarint())
            n.mtime = .init(seconds: try r.svarint(), nanoseconds: UInt32(truncatingIfNeeded: try r.uvarint()))
            n.ctime = .init(seconds: try r.svarint(), nanoseconds: UInt32(truncatingIfNeeded: try r.uvarint()))
            n.device = try r.uvarint()
            n.inode = try r.uvarint()
            n.linkCount = try r.uvarint()
            n.size = try r.uvarint()
            n.rdev = try r.uvarint()
            let xcount = try r.count(limit: 1 << 16)
            for _ in 0..<xcount {
                n.xattrs.append(.init(name: try r.lengthPrefixed(limit: 1 << 16), value: try r.lengthPrefixed()))
            }
            switch kind {
            case .file:
                let ccount = try r.count(limit: r.remaining)
                n.chunks.reserveCapacity(ccount)
                for _ in 0..<ccount {
                    let offset = try r.uvarint()
                    n.chunks.append(.init(offset: offset, blob: BlobID(try r.digest())))
                }
            case .directory:
                n.subtree = BlobID(try r.digest())
            case .symlink:
                n.linkTarget = try r.lengthPrefixed(limit: 1 << 20)
            case .fifo, .characterDevice, .blockDevice:
                break
            }
            nodes.append(n)
        }
        guard r.isAtEnd else { throw HaulError(.corrupted, "tree blob has \(r.remaining) trailing bytes") }
        self.nodes = nodes
    }
}
