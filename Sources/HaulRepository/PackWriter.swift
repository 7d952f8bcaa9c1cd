import Crypto
import HaulCrypto
import HaulFormat

/// Builds one pack in memory (format.md §6): preamble, sealed blobs, sealed header, trailer. The SHA-256 that names
/// the pack is computed as bytes are appended.
struct PackWriter {
    let type: BlobType
    let sealer: PackSealer
    let salt: [UInt8]
    private(set) var bytes: [UInt8]
    private(set) var entries: [PackEntry] = []
    private var preamble: [UInt8]

    init(type: BlobType, keys: MasterKeys, capacity: Int) {
        self.type = type
        self.salt = PackSealer.newSalt()
        self.sealer = PackSealer(keys: keys, salt: salt)
        self.preamble = PackLayout.preamble(type: type, salt: salt)
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: preamble)
    }

    var count: Int { entries.count }
    var size: Int { bytes.count }

    /// Seals `payload` (already compressed if `compression == .zstd`) and appends it.
    mutating func add(id: BlobID, compression: BlobCompression, rawLength: Int, payload: UnsafeRawBufferPointer) throws
    {
        let offset = UInt64(bytes.count)
        let sealed = try sealer.sealBlob(index: offset, type: type, id: id, plaintext: payload)
        bytes.append(contentsOf: sealed)
        entries.append(
            PackEntry(
                id: id, type: type, compression: compression, offset: UInt32(offset),
                storedLength: UInt32(sealed.count),
                rawLength: UInt32(rawLength)))
    }

    /// Appends the sealed header and trailer; returns the finished bytes, the pack id and its index record.
    consuming func finish() throws -> (bytes: [UInt8], info: IndexFile.PackInfo) {
        let header = try sealer.sealHeader(PackHeader(entries: entries).encoded(), preamble: preamble)
        bytes.append(contentsOf: header)
        var w = ByteWriter(capacity: 4)
        w.u32(UInt32(header.count))
        bytes.append(contentsOf: w.bytes)
        let id = PackID(bytes.withUnsafeBytes { Hashing.sha256($0) })
        return (bytes, IndexFile.PackInfo(id: id, size: UInt64(bytes.count), salt: salt, entries: entries))
    }
}
