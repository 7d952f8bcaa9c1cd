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

    /// Sorts the nodes by name and each node's extended attributes by name, as they are encoded, so that equal
    /// trees compare equal before and after a round trip.
    public init(nodes: [Node]) {
        var nodes = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        for i in nodes.indices where nodes[i].xattrs.count > 1 {
            nodes[i].xattrs.sort { $0.name.lexicographicallyPrecedes($1.name) }
        }
        self.nodes = nodes
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
        Self.encode(nodes, into: &w)
        return w.bytes
    }

    /// Parses a full tree blob; throws `corrupted` with the position on any malformed input.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "tree blob")
        try Self.expectHeader(&r, magic: Self.magic, version: Self.version)
        let nodes = try Self.decodeNodes(from: &r, limit: bytes.count)
        guard r.isAtEnd else { throw HaulError(.corrupted, "tree blob has \(r.remaining) trailing bytes") }
        self.nodes = nodes
    }

    /// The magic and version a full or delta tree blob starts with.
    static func expectHeader(_ r: inout ByteReader, magic: String, version: UInt8) throws {
        try r.expect(magic: magic)
        let found = try r.u8()
        guard found == version else {
            throw HaulError(.unsupportedVersion, "\(r.what) has version \(found); this Haul reads version \(version)")
        }
    }

    /// `uvarint count` then each node (format.md §9); shared by full and delta trees.
    static func encode(_ nodes: [Node], into w: inout ByteWriter) {
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
    }

    /// Reads what `encode(_:into:)` wrote; names must be valid. Their order is not checked: writers sort them
    /// (`Tree(nodes:)`, `TreeDelta`), and a blob's id and tag vouch for what its writer wrote.
    static func decodeNodes(from r: inout ByteReader, limit: Int) throws -> [Node] {
        let count = try r.count(limit: limit)
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
        return nodes
    }
}

/// A directory's entries as a change to another tree blob, its base (format.md §9, "Delta trees").
public struct TreeDelta: Sendable, Hashable {
    /// The tree blob this delta applies to.
    public var base: BlobID
    /// Delta trees in the chain, this one included: 1 when `base` is a full tree.
    public var depth: Int
    /// Names of the base's entries that are gone, sorted by name bytes.
    public var removed: [[UInt8]]
    /// Entries added or changed, sorted by name bytes.
    public var nodes: [Node]

    /// Longest chain a reader follows; longer is `corrupted`.
    public static let readableDepth = 32
    /// Longest chain a backup writes; the next change of such a directory stores its full tree.
    public static let writtenDepth = 16

    static let magic = "HTRD"
    static let version: UInt8 = 1

    public init(base: BlobID, depth: Int, removed: [[UInt8]], nodes: [Node]) {
        self.base = base
        self.depth = depth
        self.removed = removed.sorted { $0.lexicographicallyPrecedes($1) }
        self.nodes = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// The change from `old` (stored as blob `base` at chain depth `baseDepth`) to `new`.
    public init(from old: Tree, to new: Tree, base: BlobID, baseDepth: Int) {
        var removed: [[UInt8]] = []
        var changed: [Node] = []
        var i = 0
        var j = 0
        while i < old.nodes.count || j < new.nodes.count {
            if j == new.nodes.count
                || (i < old.nodes.count && old.nodes[i].name.lexicographicallyPrecedes(new.nodes[j].name))
            {
                removed.append(old.nodes[i].name)
                i += 1
            } else if i == old.nodes.count || new.nodes[j].name.lexicographicallyPrecedes(old.nodes[i].name) {
                changed.append(new.nodes[j])
                j += 1
            } else {
                if old.nodes[i] != new.nodes[j] { changed.append(new.nodes[j]) }
                i += 1
                j += 1
            }
        }
        self.init(base: base, depth: baseDepth + 1, removed: removed, nodes: changed)
    }

    /// The base's entries with this change applied.
    /// - Throws: `corrupted` when a removed name is not in the base.
    public func applied(to base: Tree) throws -> Tree {
        var out: [Node] = []
        out.reserveCapacity(base.nodes.count + nodes.count)
        var r = 0
        var n = 0
        for old in base.nodes {
            while n < nodes.count && nodes[n].name.lexicographicallyPrecedes(old.name) {
                out.append(nodes[n])
                n += 1
            }
            if r < removed.count && removed[r] == old.name {
                r += 1
                continue
            }
            if n < nodes.count && nodes[n].name == old.name {
                out.append(nodes[n])
                n += 1
                continue
            }
            out.append(old)
        }
        out.append(contentsOf: nodes[n...])
        guard r == removed.count else {
            throw HaulError(.corrupted, "delta tree removes an entry its base tree \(self.base.hex) does not have")
        }
        var tree = Tree(nodes: [])
        tree.nodes = out
        return tree
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + removed.count * 16 + nodes.count * 96)
        w.raw(Array(Self.magic.utf8))
        w.u8(Self.version)
        w.digest(base.digest)
        w.uvarint(UInt64(depth))
        w.uvarint(UInt64(removed.count))
        for name in removed { w.lengthPrefixed(name) }
        Tree.encode(nodes, into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "delta tree blob")
        try Tree.expectHeader(&r, magic: Self.magic, version: Self.version)
        base = BlobID(try r.digest())
        let depth = try r.uvarint()
        guard depth >= 1, depth <= UInt64(Self.readableDepth) else {
            throw HaulError(.corrupted, "delta tree blob has chain depth \(depth) (1 to \(Self.readableDepth))")
        }
        self.depth = Int(depth)
        let count = try r.count(limit: bytes.count)
        var removed: [[UInt8]] = []
        removed.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.lengthPrefixed(limit: 1 << 16)
            guard Node.isValidName(name), removed.last.map({ $0.lexicographicallyPrecedes(name) }) ?? true else {
                throw HaulError(.corrupted, "delta tree blob holds an invalid or unsorted removed name")
            }
            removed.append(name)
        }
        self.removed = removed
        nodes = try Tree.decodeNodes(from: &r, limit: bytes.count)
        guard r.isAtEnd else { throw HaulError(.corrupted, "delta tree blob has \(r.remaining) trailing bytes") }
    }
}

/// A tree blob's plaintext: a full tree or a delta tree (format.md §9).
public enum TreeBlob: Sendable, Hashable {
    case full(Tree)
    case delta(TreeDelta)

    public init(decoding bytes: [UInt8]) throws {
        if bytes.starts(with: Array(TreeDelta.magic.utf8)) {
            self = .delta(try TreeDelta(decoding: bytes))
        } else {
            self = .full(try Tree(decoding: bytes))
        }
    }
}
