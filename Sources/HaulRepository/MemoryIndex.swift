import HaulFormat
import Synchronization

/// Where a blob is stored: enough to read and open it with one ranged read (format.md §6, §7).
public struct BlobLocation: Sendable, Hashable {
    public var pack: PackID
    public var salt: [UInt8]
    public var entry: PackEntry

    public init(pack: PackID, salt: [UInt8], entry: PackEntry) {
        self.pack = pack
        self.salt = salt
        self.entry = entry
    }
}

/// The index of every blob in the loaded index files plus the packs written by this process.
///
/// Two levels: the **base**, an `IndexTable` built by `Repository.loadIndex` from the index files (a sorted table in a
/// memory-mapped local cache file, format.md §15, searched through a small bucket directory), and an **overlay**
/// dictionary that holds only the blobs added with `add(_:)` during this run. A blob keeps its first location: the
/// base wins over the overlay, and `add` skips blobs already known. The pack table (ordinal → id, size, salt) stays
/// in memory; base packs come first, in the table's order.
///
/// Thread-safe. Anonymous memory per base blob is about one byte (bench/index-memory.md).
public final class MemoryIndex: Sendable {
    struct Slot: Sendable {
        var pack: UInt32
        var offset: UInt32
        var storedLength: UInt32
        var rawLength: UInt32
        var type: BlobType
        var compression: BlobCompression
        /// As stored: `PackLayout.noMember` for a blob sealed alone (format.md §6).
        var memberOffset: UInt32
    }

    struct PackRecord: Sendable {
        var id: PackID
        var size: UInt64
        var salt: [UInt8]
    }

    struct State: Sendable {
        var base: IndexTable?
        var packs: [PackRecord] = []
        var packOrdinal: [PackID: UInt32] = [:]
        var blobs: [BlobID: Slot] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Forgets everything (before reloading the index files).
    public func removeAll() { state.withLock { $0 = State() } }

    /// Replaces everything with a freshly loaded base level.
    func replaceBase(with table: IndexTable) {
        var s = State(base: table, packs: table.packs)
        s.packOrdinal.reserveCapacity(table.packs.count)
        for (i, p) in table.packs.enumerated() where s.packOrdinal[p.id] == nil { s.packOrdinal[p.id] = UInt32(i) }
        state.withLock { $0 = s }
    }

    public var blobCount: Int { state.withLock { ($0.base?.count ?? 0) + $0.blobs.count } }
    public var packCount: Int { state.withLock { $0.packs.count } }

    public func contains(_ id: BlobID) -> Bool {
        let (base, inOverlay) = state.withLock { ($0.base, $0.blobs[id] != nil) }
        return inOverlay || base?.find(id) != nil
    }

    public func location(of id: BlobID) -> BlobLocation? {
        state.withLock { s in
            let slot: Slot
            if let base = s.base, let i = base.find(id) {
                slot = base.slot(at: i)
            } else if let overlay = s.blobs[id] {
                slot = overlay
            } else {
                return nil
            }
            let p = s.packs[Int(slot.pack)]
            return BlobLocation(
                pack: p.id, salt: p.salt,
                entry: PackEntry(
                    id: id, type: slot.type, compression: slot.compression, offset: slot.offset,
                    storedLength: slot.storedLength, rawLength: slot.rawLength,
                    memberOffset: PackEntry.memberOffset(stored: slot.memberOffset)))
        }
    }

    /// Adds every blob of a pack to the overlay; an already known blob keeps its first location.
    public func add(_ pack: IndexFile.PackInfo) {
        state.withLock { s in
            let ordinal: UInt32
            if let o = s.packOrdinal[pack.id] {
                ordinal = o
            } else {
                ordinal = UInt32(s.packs.count)
                s.packs.append(PackRecord(id: pack.id, size: pack.size, salt: pack.salt))
                s.packOrdinal[pack.id] = ordinal
            }
            for e in pack.entries where s.blobs[e.id] == nil && s.base?.find(e.id) == nil {
                s.blobs[e.id] = Slot(
                    pack: ordinal, offset: e.offset, storedLength: e.storedLength, rawLength: e.rawLength, type: e.type,
                    compression: e.compression, memberOffset: e.storedMemberOffset)
            }
        }
    }

    /// Every pack known to the index with its size.
    public var packs: [(id: PackID, size: UInt64)] { state.withLock { $0.packs.map { ($0.id, $0.size) } } }
}
