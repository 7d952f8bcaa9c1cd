import Crypto
import HaulCrypto
import HaulFormat
import HaulStorage

/// Builds one pack (format.md §6): preamble, sealed blobs, sealed header, trailer. The SHA-256 that names the pack is
/// computed as bytes are appended. With a staging store the bytes stream to a temporary file (1 MiB at a time; a larger
/// sealed blob straight from the sealed box; every piece straight on when the staged object gathers appends itself),
/// so a pack costs no memory; otherwise the pack is built in memory and stored whole.
struct PackWriter: Sendable {
    /// A finished pack: its bytes, or the staged file holding them.
    enum Output {
        case bytes([UInt8])
        case staged(any StagedObject)
    }

    let type: BlobType
    let sealer: PackSealer
    let salt: [UInt8]
    private let staged: (any StagedObject)?
    private var buffer: [UInt8]
    private var hasher = SHA256()
    private(set) var size = 0
    private(set) var entries: [PackEntry] = []
    private let preamble: [UInt8]
    static let flushSize = 1 << 20

    init(type: BlobType, keys: MasterKeys, capacity: Int, staged: (any StagedObject)?) throws {
        self.type = type
        self.salt = PackSealer.newSalt()
        self.sealer = PackSealer(keys: keys, salt: salt)
        self.preamble = PackLayout.preamble(type: type, salt: salt)
        self.staged = staged
        buffer = []
        if staged?.gathersAppends != true {
            buffer.reserveCapacity(staged == nil ? capacity : Self.flushSize + (64 << 10))
        }
        try emit(preamble)
    }

    var count: Int { entries.count }

    private mutating func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private mutating func emit(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        size += bytes.count
        if let staged, staged.gathersAppends {
            // The staged object gathers pieces into its own blocks: a copy into `buffer` first would be one more copy
            // of every byte of the pack.
            try staged.append(bytes)
            return
        }
        if let staged, buffer.count + bytes.count > Self.flushSize {
            // The staging buffer never grows past `flushSize`: what it holds goes to the file first, and a piece of
            // at least `flushSize` (a large sealed blob) follows it there directly, without a copy.
            try flush(staged)
            if bytes.count >= Self.flushSize {
                try staged.append(bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    private mutating func flush(_ staged: any StagedObject) throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try staged.append($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Suspends the task until sealing `payloadCount` bytes into the pack (`add`, `addGroup`) would not put its
    /// thread to sleep in the staged object's queue (`StagedObject.waitForRoom`).
    func waitForRoom(toSeal payloadCount: Int) async {
        guard let staged else { return }
        let appended = payloadCount + PackLayout.tagLength
        await staged.waitForRoom(toAppend: staged.gathersAppends ? appended : buffer.count + appended)
    }

    /// `waitForRoom` for `finish`: the sealed header of the entries so far and the trailer.
    func waitForRoomToFinish() async {
        await waitForRoom(toSeal: 4 + entries.count * PackLayout.entryLength(version: PackLayout.version) + 4)
    }

    /// Seals `payload` (already compressed if `compression == .zstd`) and appends it.
    mutating func add(id: BlobID, compression: BlobCompression, rawLength: Int, payload: UnsafeRawBufferPointer) throws
    {
        let offset = UInt64(size)
        // The sealed pieces go straight from the sealed box into the pack buffer and its hash.
        let sealedLength = try sealer.sealBlob(index: offset, type: type, id: id, plaintext: payload) {
            try emit($0)
        }
        entries.append(
            PackEntry(
                id: id, type: type, compression: compression, offset: UInt32(offset),
                storedLength: UInt32(sealedLength),
                rawLength: UInt32(rawLength)))
    }

    /// Seals a group of small blobs as one record (format.md §4, §6) and appends it: `payload` is the group's
    /// plaintext, compressed if `compression == .zstd`. Each member gets an entry with the record's offset and length.
    mutating func addGroup(_ group: BlobGroup, compression: BlobCompression, payload: UnsafeRawBufferPointer) throws {
        let offset = UInt64(size)
        let sealedLength = try sealer.sealBlob(index: offset, type: type, id: PackSealer.groupID, plaintext: payload) {
            try emit($0)
        }
        for m in group.members {
            entries.append(
                PackEntry(
                    id: m.id, type: type, compression: compression, offset: UInt32(offset),
                    storedLength: UInt32(sealedLength), rawLength: m.length, memberOffset: m.offset))
        }
    }

    /// Appends the sealed header and trailer; returns the pack's bytes (or staged file) and its index record.
    consuming func finish() throws -> (output: Output, info: IndexFile.PackInfo) {
        let header = try sealer.sealHeader(PackHeader(entries: entries).encoded(), preamble: preamble)
        try emit(header)
        var w = ByteWriter(capacity: 4)
        w.u32(UInt32(header.count))
        try emit(w.bytes)
        let id = PackID(Digest256(bytes: Array(hasher.finalize())))
        let info = IndexFile.PackInfo(id: id, size: UInt64(size), salt: salt, entries: entries)
        if let staged {
            try flush(staged)
            return (.staged(staged), info)
        }
        return (.bytes(buffer), info)
    }

    /// Drops a pack that will not be finished (its staged file, if any).
    func discard() { staged?.discard() }
}
