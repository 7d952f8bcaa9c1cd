import Crypto
import Glibc
import HaulFormat

/// Read-only bytes that outlive the call that made them: a private read-only file mapping (pages are file-backed,
/// so they are not anonymous memory and the kernel may evict them) or a heap block (the fallback without a cache
/// directory).
final class CacheRegion: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let isMapping: Bool

    private init(base: UnsafeRawPointer, count: Int, isMapping: Bool) {
        self.base = base
        self.count = count
        self.isMapping = isMapping
    }

    /// Takes ownership of a block from `malloc`/`realloc`.
    convenience init(heap: UnsafeMutableRawPointer, count: Int) {
        self.init(base: UnsafeRawPointer(heap), count: count, isMapping: false)
    }

    /// Maps the whole file read-only with `mmap(PROT_READ, MAP_PRIVATE)`; the descriptor may be closed afterwards.
    static func map(fd: Int32, what: String) throws -> CacheRegion {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CacheIOError("cannot stat \(what)", errno: errno) }
        let count = Int(st.st_size)
        guard count > 0 else { throw HaulError(.corrupted, "\(what) is empty") }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            throw CacheIOError("cannot map \(what)", errno: errno)
        }
        return CacheRegion(base: UnsafeRawPointer(p), count: count, isMapping: true)
    }

    /// Tells the kernel that lookups touch pages at random (no read-ahead around them).
    func adviseRandomAccess() {
        if isMapping { _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_RANDOM) }
    }

    /// Tells the kernel that the pages are read once, front to back (read-ahead, early reclaim): a table being
    /// merged into its extension.
    func adviseSequentialAccess() {
        if isMapping { _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_SEQUENTIAL) }
    }

    deinit {
        if isMapping {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            free(UnsafeMutableRawPointer(mutating: base))
        }
    }
}

/// A failure of the local cache file system (not of the repository): the caller falls back to memory.
struct CacheIOError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String, errno code: Int32) {
        description = "\(message): \(String(cString: strerror(code)))"
    }
}

/// The base level of the index: every blob of the loaded index files as a sorted table of fixed-size entries
/// (format.md §15), searched through a bucket directory on the top bits of the blob id.
///
/// The entries stay in the `CacheRegion` (a file mapping); only the directory, 4 bytes per bucket with about four
/// to eight blobs per bucket, is anonymous memory. A lookup compares the full 32-byte id, so two ids that share a
/// prefix never match each other. Immutable after `init`, which verifies everything a lookup relies on.
final class IndexTable: @unchecked Sendable {
    static let magic = Array("HAULIDXC".utf8)
    static let version: UInt32 = 3
    static let headerLength = 104
    static let entryLength = 56
    static let packRecordLength = 72
    static let checksumOffset = 72

    let region: CacheRegion
    /// The index-set hash the table was built for (format.md §15).
    let setHash: Digest256
    /// The index files listed when the table was built: the files in use first (in list order, an extension's new
    /// files after the old table's), then the superseded ones.
    let listedIDs: [IndexID]
    /// The files in use (not superseded), in the order of `listedIDs`.
    var usedFiles: ArraySlice<IndexID> { listedIDs[..<usedCount] }
    var listedFiles: Int { listedIDs.count }
    /// Every id named by the `supersedes` list of a listed file, ascending (format.md §15).
    let supersededIDs: [IndexID]
    private let usedCount: Int
    let packs: [MemoryIndex.PackRecord]
    let count: Int
    /// The first entry; entries are `entryLength` bytes apart.
    let entries: UnsafeRawPointer
    private let shift: UInt64
    private let directory: [UInt32]

    /// Parses and verifies a table: header, size, checksum, strictly ascending ids, valid pack ordinals, types and
    /// compressions; then builds the bucket directory.
    ///
    /// - Parameter expectedSetHash: when given, a table built for another set of index files is refused.
    /// - Throws: `corrupted` naming `what` for any mismatch.
    init(region: CacheRegion, expectedSetHash: Digest256?, what: String) throws {
        self.region = region
        let base = region.base
        let size = region.count
        func fail(_ why: String) -> HaulError { HaulError(.corrupted, "\(what) \(why)") }
        guard size >= Self.headerLength else { throw fail("is truncated (\(size) bytes)") }
        guard Self.magic.indices.allSatisfy({ base.load(fromByteOffset: $0, as: UInt8.self) == Self.magic[$0] }) else {
            throw fail("is not a Haul index cache")
        }
        guard Self.u32(base, 8) == Self.version, Self.u32(base, 12) == UInt32(Self.entryLength) else {
            throw fail("has version \(Self.u32(base, 8)), entry length \(Self.u32(base, 12))")
        }
        setHash = Self.digest(base + 16)
        if let expectedSetHash, setHash != expectedSetHash { throw fail("was built for another set of index files") }
        let listedCount = Int(Self.u32(base, 48))
        let usedCount = Int(Self.u32(base, 52))
        let packCount = Int(Self.u32(base, 56))
        let supersededCount = Int(Self.u32(base, 60))
        let entryCount = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 64, as: UInt64.self))
        guard entryCount < UInt64(UInt32.max) else { throw fail("claims \(entryCount) entries") }
        count = Int(entryCount)
        let packsStart = Self.headerLength + (listedCount + supersededCount) * 32
        let entriesStart = packsStart + packCount * Self.packRecordLength
        let expected = entriesStart + count * Self.entryLength
        guard usedCount <= listedCount, expected == size else {
            throw fail("has \(size) bytes but its header describes \(expected)")
        }
        let checksum = Self.digest(base + Self.checksumOffset)
        let actual = SHA256.hash(data: UnsafeRawBufferPointer(start: base + Self.headerLength, count: size - 104))
            .withUnsafeBytes { Self.digest($0.baseAddress!) }
        guard checksum == actual else { throw fail("fails its checksum") }

        self.usedCount = usedCount
        listedIDs = (0..<listedCount).map { ObjectID(Self.digest(base + Self.headerLength + $0 * 32)) }
        let supersededStart = Self.headerLength + listedCount * 32
        supersededIDs = (0..<supersededCount).map { ObjectID(Self.digest(base + supersededStart + $0 * 32)) }
        packs = (0..<packCount).map { i in
            let p = base + packsStart + i * Self.packRecordLength
            return MemoryIndex.PackRecord(
                id: ObjectID(Self.digest(p)),
                size: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
                salt: Array(UnsafeRawBufferPointer(start: p + 40, count: 32)))
        }
        entries = base + entriesStart

        // About 4–8 entries per bucket keeps the directory at 0.5–1 byte per blob.
        var bits = 0
        while (4 << (bits + 1)) <= count && bits < 32 { bits += 1 }
        shift = UInt64(64 - bits)
        var directory = [UInt32](repeating: 0, count: (1 << bits) + 1)
        var previous: Digest256?
        for i in 0..<count {
            let e = entries + i * Self.entryLength
            let id = Self.digest(e)
            if let previous, !(previous < id) { throw fail("is not sorted at entry \(i)") }
            previous = id
            guard Int(Self.u32(e, 32)) < packCount,
                BlobType(rawValue: e.load(fromByteOffset: 48, as: UInt8.self)) != nil,
                BlobCompression(rawValue: e.load(fromByteOffset: 49, as: UInt8.self)) != nil
            else { throw fail("has an invalid entry \(i)") }
            directory[Int(id.w0 >> shift) + 1] += 1
        }
        for b in 1..<directory.count { directory[b] += directory[b - 1] }
        self.directory = directory
        region.adviseRandomAccess()
    }

    /// The position of `id` in the table, comparing all 32 bytes.
    func find(_ id: BlobID) -> Int? {
        let key = id.digest
        let bucket = Int(key.w0 >> shift)
        var lo = Int(directory[bucket])
        var hi = Int(directory[bucket + 1])
        while lo < hi {
            let mid = (lo + hi) >> 1
            let e = entries + mid * Self.entryLength
            let order = Self.compare(e, key)
            if order == 0 { return mid }
            if order < 0 { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    func slot(at i: Int) -> MemoryIndex.Slot {
        let e = entries + i * Self.entryLength
        return MemoryIndex.Slot(
            pack: Self.u32(e, 32), offset: Self.u32(e, 36), storedLength: Self.u32(e, 40), rawLength: Self.u32(e, 44),
            type: BlobType(rawValue: e.load(fromByteOffset: 48, as: UInt8.self))!,
            compression: BlobCompression(rawValue: e.load(fromByteOffset: 49, as: UInt8.self))!,
            memberOffset: Self.u32(e, 52))
    }

    func id(at i: Int) -> BlobID { BlobID(Self.digest(entries + i * Self.entryLength)) }

    // MARK: Byte access (ids are big-endian words, so word order equals byte order; integers are little-endian)

    static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    static func word(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
    }

    static func digest(_ p: UnsafeRawPointer) -> Digest256 {
        Digest256(w0: word(p, 0), w1: word(p, 1), w2: word(p, 2), w3: word(p, 3))
    }

    /// Three-way comparison of the id stored at `p` with `key`: negative, zero or positive.
    @inline(__always)
    static func compare(_ p: UnsafeRawPointer, _ key: Digest256) -> Int {
        let a0 = word(p, 0)
        if a0 != key.w0 { return a0 < key.w0 ? -1 : 1 }
        let a1 = word(p, 1)
        if a1 != key.w1 { return a1 < key.w1 ? -1 : 1 }
        let a2 = word(p, 2)
        if a2 != key.w2 { return a2 < key.w2 ? -1 : 1 }
        let a3 = word(p, 3)
        if a3 != key.w3 { return a3 < key.w3 ? -1 : 1 }
        return 0
    }
}
