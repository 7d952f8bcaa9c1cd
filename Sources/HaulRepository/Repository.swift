import Foundation
import HaulChunker
import HaulCompression
import HaulCrypto
import HaulFormat
import HaulStorage
import Synchronization

/// A snapshot together with its id.
public struct StoredSnapshot: Sendable, Hashable {
    public let id: SnapshotID
    public let snapshot: Snapshot
    public init(id: SnapshotID, snapshot: Snapshot) {
        self.id = id
        self.snapshot = snapshot
    }
}

/// An open repository: its keys, config and index over one `BlobStore` location (format.md §2).
///
/// Readers (`loadBlob`, `loadTree`, snapshots) may be used concurrently. Writing blobs goes through `BlobSaver`.
public final class Repository: Sendable {
    public let store: any BlobStore
    public let config: RepositoryConfig
    public let keys: MasterKeys
    public let index = MemoryIndex()
    public let gear: GearTable
    /// The root of the local cache (format.md §15), or `nil` to keep the index table in memory.
    public let cacheDirectory: String?
    let loadedIndexFiles = Mutex<[IndexID]>([])
    /// The name of the key file (in `keys/`) that opened or created this repository (format.md §3).
    let openedWith: Mutex<ObjectID>
    let decompressors = Pool<ZstdDecompressor> { ZstdDecompressor() }
    let sealers = Mutex<[PackID: PackSealer]>([:])
    let compressors: Pool<ZstdCompressor>
    /// Compressors for blobs below `config.compression.smallBlobSize` and for groups of small blobs (format.md §4).
    let smallBlobCompressors: Pool<ZstdCompressor>
    /// The groups of small blobs opened last (format.md §4), so the members of one group are read and opened once.
    let groupCache = Mutex(GroupCache(capacity: 16))
    /// Whether `prepareForWriting` raised a version 1 config in this process.
    let configRaised = Mutex(false)

    init(
        store: any BlobStore, config: RepositoryConfig, keys: MasterKeys, keyID: ObjectID,
        cacheDirectory: String? = nil
    ) {
        self.store = store
        self.openedWith = Mutex(keyID)
        self.cacheDirectory = cacheDirectory
        self.config = config
        self.keys = keys
        self.gear = GearTable(keys.gearValues())
        let level = config.compression.level
        self.compressors = Pool { ZstdCompressor(level: level) }
        let smallLevel = config.compression.smallBlobLevel ?? level
        self.smallBlobCompressors = Pool { ZstdCompressor(level: smallLevel) }
    }

    /// Creates a new repository in an empty location: config, then the first key file (format.md §2, §3).
    ///
    /// - Parameter cacheDirectory: the local cache root (`LocalCache.defaultDirectory()`), `nil` for none.
    /// - Throws: `alreadyExists` if the location already holds a config.
    public static func initialize(
        store: any BlobStore, passphrase: [UInt8], kdf: KDFParameters, hostname: String, username: String,
        chunker: [ChunkerClass] = RepositoryConfig.defaultChunker, packSize: Int = 32 << 20, now: Date = Date(),
        cacheDirectory: String? = nil
    ) async throws -> Repository {
        if try await store.head(.config) != nil {
            throw HaulError(.alreadyExists, "a repository already exists at this location")
        }
        let keys = MasterKeys.generate()
        let config = RepositoryConfig(id: keys.repositoryID, created: now, chunker: chunker, packSize: packSize)
        try config.validate()
        let keyFile = try KeyFile.create(
            wrapping: keys, passphrase: passphrase, parameters: kdf, hostname: hostname, username: username, now: now)
        let sealedConfig = try ObjectSealer.seal(
            kind: .config, plaintext: try JSONEncoder.haul.encode(config).asBytes, compression: .raw, keys: keys)
        try await store.put(.config, sealedConfig, mode: .createOnly)
        let keyID = ObjectID(Digest256.random())
        try await store.put(ObjectKey(.keys, keyID), try keyFile.encoded(), mode: .createOnly)
        return Repository(store: store, config: config, keys: keys, keyID: keyID, cacheDirectory: cacheDirectory)
    }

    /// Opens a repository with a passphrase: tries every key file, then reads and checks the config.
    ///
    /// - Parameter cacheDirectory: the local cache root for the index table (format.md §15), usually
    ///   `LocalCache.defaultDirectory()`; `nil` keeps the table in memory.
    /// - Throws: `repositoryNotFound` when the location holds no config, `wrongPassword` when no key file opens.
    public static func open(store: any BlobStore, passphrase: [UInt8], cacheDirectory: String? = nil) async throws
        -> Repository
    {
        guard try await store.head(.config) != nil else {
            throw HaulError(
                .repositoryNotFound, "no Haul repository here (no config object); create one with `haul init`")
        }
        let keyInfos = try await store.list(.keys)
        guard !keyInfos.isEmpty else { throw HaulError(.corrupted, "the repository has no key files (keys/ is empty)") }
        var keys: MasterKeys?
        var keyID: ObjectID?
        var lastError: (any Error)?
        for info in keyInfos.sorted(by: { $0.key.name < $1.key.name }) {
            do {
                let file = try KeyFile(decoding: try await store.get(info.key))
                keys = try file.unwrap(passphrase: passphrase)
                keyID = ObjectID(hex: info.key.name)
                break
            } catch let e as HaulError where e.code == .wrongPassword {
                continue
            } catch {
                lastError = error
            }
        }
        guard let keys, let keyID else {
            if let lastError, keyInfos.count == 1 { throw lastError }
            throw HaulError(.wrongPassword, "wrong password: no key file of this repository opens with it")
        }
        let (_, plain) = try ObjectSealer.open(try await store.get(.config), kind: .config, keys: keys, what: "config")
        let config: RepositoryConfig
        do {
            config = try JSONDecoder.haul.decode(RepositoryConfig.self, from: Data(plain))
        } catch {
            throw HaulError(.corrupted, "the repository config cannot be parsed", cause: error)
        }
        try config.validate()
        guard config.id == keys.repositoryID.hex else {
            throw HaulError(
                .corrupted, "the config belongs to repository \(config.id), the key to \(keys.repositoryID.hex)")
        }
        return Repository(store: store, config: config, keys: keys, keyID: keyID, cacheDirectory: cacheDirectory)
    }

    // MARK: Index

    /// What `loadIndex` found.
    public struct IndexLoadReport: Sendable {
        public var files: Int
        public var superseded: Int
        public var packs: Int
        public var blobs: Int
        /// The local cache file the index table is mapped from (format.md §15); `nil` when it is in memory.
        public var cacheFile: String? = nil
        /// Whether the cache file was reused rather than built from the index files.
        public var cacheReused = false
        /// How many index files were read: none when the cache file was reused, those added since it was built when
        /// it was extended, all of them when it was built (format.md §15).
        public var indexFilesRead = 0
    }

    /// Loads every index file that no other index file supersedes into `index` (format.md §7), replacing what the
    /// index held. The blobs go into a table in the local cache (format.md §15), reused without reading any index
    /// file when the set of index files is unchanged.
    @discardableResult
    public func loadIndex() async throws -> IndexLoadReport {
        let loaded = try await loadIndexTable()
        index.replaceBase(with: loaded.table)
        loadedIndexFiles.withLock { $0 = Array(loaded.table.usedFiles) }
        let used = loaded.table.usedFiles.count
        return IndexLoadReport(
            files: used, superseded: loaded.table.listedFiles - used, packs: index.packCount, blobs: index.blobCount,
            cacheFile: loaded.cacheFile, cacheReused: loaded.reused, indexFilesRead: loaded.indexFilesRead)
    }

    /// The index files `loadIndex` used.
    public var indexFiles: [IndexID] { loadedIndexFiles.withLock { $0 } }

    public func readIndexFile(_ id: IndexID) async throws -> IndexFile {
        let bytes = try await store.get(ObjectKey(.index, id))
        try verifyName(bytes, id, what: "index file \(id.hex)")
        let plain = try openSealed(bytes, kind: .index, what: "index file \(id.hex)")
        return try IndexFile(decoding: plain, what: "index file \(id.hex)")
    }

    /// Writes an index file and returns its id.
    public func writeIndexFile(_ file: IndexFile) async throws -> IndexID {
        try await prepareForWriting()
        return try await writeSealed(file.encoded(), kind: .index, objectKind: .index)
    }

    /// Raises a version 1 config to the current version before this process writes its first pack or index file
    /// of the current versions, so that a Haul that reads only version 1 refuses the repository instead of
    /// misreading it, or de-indexing the new packs in a `repair index` (format.md §5, §14). The config is replaced
    /// atomically; its other fields are kept.
    public func prepareForWriting() async throws {
        guard config.version < RepositoryConfig.currentVersion, !configRaised.withLock({ $0 }) else { return }
        var raised = config
        raised.version = RepositoryConfig.currentVersion
        let sealed = try ObjectSealer.seal(
            kind: .config, plaintext: try JSONEncoder.haul.encode(raised).asBytes, compression: .raw, keys: keys)
        try await store.put(.config, sealed, mode: .overwrite)
        configRaised.withLock { $0 = true }
    }

    // MARK: Sealed objects

    func openSealed(_ bytes: [UInt8], kind: SealedKind, what: String) throws -> [UInt8] {
        let (compression, plain) = try ObjectSealer.open(bytes, kind: kind, keys: keys, what: what)
        switch compression {
        case .raw: return plain
        case .zstd:
            guard plain.count >= 4 else { throw HaulError(.corrupted, "\(what) is truncated") }
            var r = ByteReader(Array(plain[0..<4]), what: what)
            let rawLength = Int(try r.u32())
            guard rawLength <= 1 << 30 else { throw HaulError(.corrupted, "\(what) claims \(rawLength) bytes") }
            return try decompressors.with { d in
                try plain.withUnsafeBytes {
                    try d.decompress(UnsafeRawBufferPointer(rebasing: $0[4...]), rawLength: rawLength)
                }
            }
        }
    }

    /// Seals, names by SHA-256 and stores; zstd-compressed with a u32 length prefix when that helps.
    func writeSealed(_ plain: [UInt8], kind: SealedKind, objectKind: ObjectKind) async throws -> ObjectID {
        let compressed = try compressors.with { c in
            try plain.withUnsafeBytes { try Compression.compressIfUseful($0, with: c) }
        }
        let sealed: [UInt8]
        if compressed.0 == .zstd, let payload = compressed.1 {
            var w = ByteWriter(capacity: payload.count + 4)
            w.u32(UInt32(plain.count))
            w.raw(payload)
            sealed = try ObjectSealer.seal(kind: kind, plaintext: w.bytes, compression: .zstd, keys: keys)
        } else {
            sealed = try ObjectSealer.seal(kind: kind, plaintext: plain, compression: .raw, keys: keys)
        }
        let id = ObjectID(sealed.withUnsafeBytes { Hashing.sha256($0) })
        try await store.put(ObjectKey(objectKind, id), sealed)
        return id
    }

    func verifyName(_ bytes: [UInt8], _ id: ObjectID, what: String) throws {
        let actual = bytes.withUnsafeBytes { Hashing.sha256($0) }
        guard actual == id.digest else {
            throw HaulError(
                .corrupted, "\(what) does not match its name (SHA-256 is \(actual.hex)): the stored bytes are damaged")
        }
    }

    // MARK: Blobs

    /// Reads, authenticates, decompresses and re-identifies one blob.
    ///
    /// - Throws: `notFound` if the index does not know the blob, `authenticationFailed`/`corrupted` if the stored
    ///   bytes are damaged.
    public func loadBlob(_ id: BlobID, type: BlobType) async throws -> [UInt8] {
        guard let loc = index.location(of: id) else {
            throw HaulError(.notFound, "\(type == .tree ? "tree" : "data") blob \(id.hex) is not in the index")
        }
        if loc.entry.memberOffset != nil { return try member(of: try await loadGroup(loc), location: loc) }
        return try openBlob(sealed: try await readRecord(loc), location: loc)
    }

    /// The sealed record (a blob or a group) at `loc`, read with one ranged read of its pack.
    func readRecord(_ loc: BlobLocation) async throws -> [UInt8] {
        let sealed = try await store.get(
            ObjectKey(.data, loc.pack), offset: Int64(loc.entry.offset), length: Int(loc.entry.storedLength))
        guard sealed.count == Int(loc.entry.storedLength) else {
            throw HaulError(.corrupted, "pack \(loc.pack.hex) is truncated: blob \(loc.entry.id.hex) is cut short")
        }
        return sealed
    }

    /// Opens a sealed blob read from its pack; checks the id.
    public func openBlob(sealed: [UInt8], location loc: BlobLocation) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try openBlob(sealedBytes: $0, location: loc) }
    }

    /// The plaintext of the group `loc`'s blob belongs to: from the group cache, or read and opened (concurrent
    /// readers of one group wait for one read).
    func loadGroup(_ loc: BlobLocation) async throws -> [UInt8] {
        let key = GroupCache.Key(pack: loc.pack, offset: loc.entry.offset)
        let task = groupCache.withLock { cache in
            if let task = cache.get(key) { return task }
            let task = Task {
                try await readRecord(loc).withUnsafeBytes { try openGroup(sealedBytes: $0, location: loc) }
            }
            cache.put(key, task)
            return task
        }
        do {
            return try await task.value
        } catch {
            // Only this task: another caller may have put a newer one under the key since.
            groupCache.withLock { $0.remove(key, ifStill: task) }
            throw error
        }
    }

    /// Opens a sealed group of small blobs (format.md §4, §6) and returns its plaintext, decompressed.
    public func openGroup(sealedBytes sealed: UnsafeRawBufferPointer, location loc: BlobLocation) throws -> [UInt8] {
        let sealer = packSealer(for: loc.pack, salt: loc.salt)
        let what = "the group at offset \(loc.entry.offset) of pack \(loc.pack.hex)"
        let payload: [UInt8]
        do {
            payload = try sealer.openBlob(
                index: UInt64(loc.entry.offset), type: loc.entry.type, id: PackSealer.groupID, sealed: sealed)
        } catch {
            throw HaulError(.corrupted, "\(what) fails authentication", cause: error)
        }
        switch loc.entry.compression {
        case .raw: return payload
        case .zstd:
            return try payload.withUnsafeBytes { p in
                guard let size = ZstdDecompressor.frameContentSize(p, limit: Self.groupLimit) else {
                    throw HaulError(.corrupted, "\(what) is not a zstd frame of at most \(Self.groupLimit) bytes")
                }
                return try decompressors.with { try $0.decompress(p, rawLength: size) }
            }
        }
    }

    /// The largest group plaintext a reader accepts (writers stay far below: format.md §4).
    static let groupLimit = 16 << 20

    /// Cuts `loc`'s blob out of its group's plaintext and checks its id.
    public func member(of group: [UInt8], location loc: BlobLocation) throws -> [UInt8] {
        let start = Int(loc.entry.memberOffset ?? 0)
        let end = start + Int(loc.entry.rawLength)
        guard end <= group.count else {
            throw HaulError(
                .corrupted,
                "blob \(loc.entry.id.hex) lies outside its group (\(start)..<\(end) of \(group.count) bytes) in pack "
                    + loc.pack.hex)
        }
        let plain = Array(group[start..<end])
        try checkID(plain, location: loc)
        return plain
    }

    private func checkID(_ plain: [UInt8], location loc: BlobLocation) throws {
        let actual = plain.withUnsafeBytes { keys.blobID(of: $0) }
        guard actual == loc.entry.id else {
            throw HaulError(.corrupted, "blob \(loc.entry.id.hex) in pack \(loc.pack.hex) has the wrong content")
        }
    }

    /// Opens a sealed blob that lies in a larger buffer (a segment of its pack), without copying it out first; a
    /// member of a group is cut out of the opened group.
    public func openBlob(sealedBytes sealed: UnsafeRawBufferPointer, location loc: BlobLocation) throws -> [UInt8] {
        if loc.entry.memberOffset != nil {
            return try member(of: try openGroup(sealedBytes: sealed, location: loc), location: loc)
        }
        let sealer = packSealer(for: loc.pack, salt: loc.salt)
        let payload: [UInt8]
        do {
            payload = try sealer.openBlob(
                index: UInt64(loc.entry.offset), type: loc.entry.type, id: loc.entry.id, sealed: sealed)
        } catch {
            throw HaulError(
                .corrupted, "blob \(loc.entry.id.hex) in pack \(loc.pack.hex) fails authentication", cause: error)
        }
        let plain: [UInt8]
        switch loc.entry.compression {
        case .raw: plain = payload
        case .zstd:
            plain = try decompressors.with { d in
                try payload.withUnsafeBytes { try d.decompress($0, rawLength: Int(loc.entry.rawLength)) }
            }
        }
        try checkID(plain, location: loc)
        return plain
    }

    /// The opener of a pack's blobs, cached per pack so the key derivation (HKDF) runs once per pack, not per blob.
    func packSealer(for pack: PackID, salt: [UInt8]) -> PackSealer {
        if let cached = sealers.withLock({ $0[pack] }) { return cached }
        let sealer = PackSealer(keys: keys, salt: salt)
        sealers.withLock { cache in
            if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
            cache[pack] = sealer
        }
        return sealer
    }

    /// The entries of tree blob `id`, a delta tree's chain followed to its full tree (format.md §9).
    public func loadTree(_ id: BlobID) async throws -> Tree {
        try await loadTreeChain(id).tree
    }

    /// The entries of tree blob `id` and the tree blobs they were read from: `id` first, then each delta's base, the
    /// full tree last (one element for a full tree). Prune keeps, check reads and stats count all of them.
    /// - Throws: `corrupted` for a chain deeper than `TreeDelta.readableDepth` or with inconsistent depths; what
    ///   loading a blob of the chain throws.
    public func loadTreeChain(_ id: BlobID) async throws -> (tree: Tree, blobs: [BlobID]) {
        var blobs = [id]
        var deltas: [TreeDelta] = []
        var current = id
        while true {
            switch try TreeBlob(decoding: try await loadBlob(current, type: .tree)) {
            case .full(var tree):
                if let last = deltas.last, last.depth != 1 {
                    throw HaulError(
                        .corrupted, "delta tree of depth \(last.depth) has the full tree \(current.hex) as its base")
                }
                for delta in deltas.reversed() { tree = try delta.applied(to: tree) }
                return (tree, blobs)
            case .delta(let delta):
                if let last = deltas.last, last.depth != delta.depth + 1 {
                    throw HaulError(
                        .corrupted,
                        "delta tree \(blobs[blobs.count - 2].hex) has depth \(last.depth) but its base "
                            + "\(current.hex) has depth \(delta.depth)")
                }
                guard deltas.count < TreeDelta.readableDepth else {
                    throw HaulError(
                        .corrupted, "tree \(id.hex) has a delta chain deeper than \(TreeDelta.readableDepth)")
                }
                deltas.append(delta)
                current = delta.base
                blobs.append(current)
            }
        }
    }

    /// Reads a whole pack, checks its name and parses its preamble and header (format.md §6).
    public func readPack(_ id: PackID) async throws -> (
        bytes: [UInt8], type: BlobType, salt: [UInt8], entries: [PackEntry]
    ) {
        let bytes = try await store.get(ObjectKey(.data, id))
        try verifyName(bytes, id, what: "pack \(id.hex)")
        let (type, salt, entries) = try parsePack(bytes, what: "pack \(id.hex)")
        return (bytes, type, salt, entries)
    }

    /// Parses a pack's preamble and opens its header.
    public func parsePack(_ bytes: [UInt8], what: String) throws -> (BlobType, [UInt8], [PackEntry]) {
        let (type, salt) = try PackLayout.parsePreamble(bytes[...], what: what)
        guard bytes.count >= PackLayout.preambleLength + 4 else { throw HaulError(.corrupted, "\(what) is truncated") }
        var r = ByteReader(Array(bytes[(bytes.count - 4)...]), what: what)
        let headerLength = Int(try r.u32())
        guard headerLength >= PackLayout.tagLength + 4, headerLength <= bytes.count - 4 - PackLayout.preambleLength
        else {
            throw HaulError(.corrupted, "\(what) has an impossible header length \(headerLength)")
        }
        let sealedHeader = Array(bytes[(bytes.count - 4 - headerLength)..<(bytes.count - 4)])
        let entries = try openPackHeader(
            sealedHeader, preamble: Array(bytes[0..<PackLayout.preambleLength]), salt: salt, what: what)
        return (type, salt, entries)
    }

    /// Opens a sealed pack header with the pack's preamble as associated data and decodes its entries (format.md §6).
    func openPackHeader(_ sealedHeader: [UInt8], preamble: [UInt8], salt: [UInt8], what: String) throws -> [PackEntry] {
        let sealer = PackSealer(keys: keys, salt: salt)
        let plain: [UInt8]
        do {
            plain = try sealer.openHeader(sealedHeader, preamble: preamble)
        } catch {
            throw HaulError(.corrupted, "\(what) has a header that fails authentication", cause: error)
        }
        return try PackHeader(decoding: plain, version: preamble[8], what: what).entries
    }

    // MARK: Snapshots

    public func saveSnapshot(_ snapshot: Snapshot) async throws -> SnapshotID {
        try await writeSealed(try JSONEncoder.haul.encode(snapshot).asBytes, kind: .snapshot, objectKind: .snapshots)
    }

    public func loadSnapshot(_ id: SnapshotID) async throws -> Snapshot {
        let bytes = try await store.get(ObjectKey(.snapshots, id))
        try verifyName(bytes, id, what: "snapshot \(id.hex)")
        let plain = try openSealed(bytes, kind: .snapshot, what: "snapshot \(id.hex)")
        do {
            return try JSONDecoder.haul.decode(Snapshot.self, from: Data(plain))
        } catch {
            throw HaulError(.corrupted, "snapshot \(id.hex) cannot be parsed", cause: error)
        }
    }

    /// Every snapshot, oldest first.
    public func listSnapshots() async throws -> [StoredSnapshot] {
        var out: [StoredSnapshot] = []
        for info in try await store.list(.snapshots) {
            let id = ObjectID(hex: info.key.name)!
            out.append(StoredSnapshot(id: id, snapshot: try await loadSnapshot(id)))
        }
        return out.sorted { ($0.snapshot.startNanos, $0.id) < ($1.snapshot.startNanos, $1.id) }
    }

    /// Finds a snapshot by `latest` or by a unique prefix of its id (at least 4 hex digits).
    public func resolveSnapshot(_ ref: String) async throws -> StoredSnapshot {
        let all = try await listSnapshots()
        if ref == "latest" {
            guard let last = all.last else { throw HaulError(.notFound, "the repository has no snapshots yet") }
            return last
        }
        let lower = ref.lowercased()
        guard lower.count >= 4, lower.allSatisfy(\.isHexDigit) else {
            throw HaulError(.invalidArgument, "\"\(ref)\" is not a snapshot id: give `latest` or at least 4 hex digits")
        }
        let matches = all.filter { $0.id.hex.hasPrefix(lower) }
        guard let first = matches.first else {
            throw HaulError(.notFound, "no snapshot id starts with \(lower); list them with `haul snapshots`")
        }
        guard matches.count == 1 else {
            throw HaulError(.invalidArgument, "\(lower) matches \(matches.count) snapshots; give more digits")
        }
        return first
    }

    public func deleteSnapshot(_ id: SnapshotID) async throws {
        try await store.delete(ObjectKey(.snapshots, id))
    }

    /// The chunker for a file of `size` bytes (format.md §4).
    public func chunker(forFileSize size: UInt64) -> Chunker {
        Chunker(parameters: config.chunkerClass(forFileSize: size), gear: gear)
    }

    /// Largest chunk any class can produce.
    public var maxChunkSize: Int { config.chunker.map(\.max).max() ?? 8 << 20 }

    /// Keyed blob id of `plaintext`.
    public func blobID(of plaintext: UnsafeRawBufferPointer) -> BlobID { keys.blobID(of: plaintext) }

    /// Compresses with a pooled compressor of the level for its length unless it does not help (format.md §4).
    public func compress(_ plaintext: UnsafeRawBufferPointer) throws -> (BlobCompression, [UInt8]?) {
        let small = config.compression.smallBlobSize.map { plaintext.count < $0 } ?? false
        return try (small ? smallBlobCompressors : compressors).with {
            try Compression.compressIfUseful(plaintext, with: $0)
        }
    }

    /// Compresses a group of small blobs' plaintext at the small-blob level (format.md §4).
    func compressGroup(_ plaintext: UnsafeRawBufferPointer) throws -> (BlobCompression, [UInt8]?) {
        try smallBlobCompressors.with { try Compression.compressIfUseful(plaintext, with: $0) }
    }
}

extension Data {
    var asBytes: [UInt8] { [UInt8](self) }
}

extension Digest256 {
    /// 32 bytes from the system CSPRNG.
    public static func random() -> Digest256 {
        var g = SystemRandomNumberGenerator()
        return Digest256(w0: g.next(), w1: g.next(), w2: g.next(), w3: g.next())
    }
}

/// A small pool of reusable, non-thread-safe workers (compression contexts): each is used by one caller at a time.
final class Pool<Item>: @unchecked Sendable {
    private final class Box: @unchecked Sendable {
        let item: Item
        init(_ item: Item) { self.item = item }
    }
    private let lock = Mutex<[Box]>([])
    private let make: @Sendable () -> Item

    init(make: @escaping @Sendable () -> Item) { self.make = make }

    func with<R>(_ body: (Item) throws -> R) rethrows -> R {
        let box = lock.withLock { $0.popLast() } ?? Box(make())
        defer { lock.withLock { if $0.count < 8 { $0.append(box) } } }
        return try body(box.item)
    }
}

/// The last opened groups of small blobs, least recently used first out (format.md §4).
struct GroupCache: Sendable {
    struct Key: Hashable, Sendable {
        var pack: PackID
        var offset: UInt32
    }
    let capacity: Int
    private var tasks: [Key: Task<[UInt8], any Error>] = [:]
    /// Keys from least to most recently used.
    private var order: [Key] = []

    init(capacity: Int) { self.capacity = capacity }

    mutating func get(_ key: Key) -> Task<[UInt8], any Error>? {
        guard let task = tasks[key] else { return nil }
        if let i = order.lastIndex(of: key), i != order.count - 1 {
            order.remove(at: i)
            order.append(key)
        }
        return task
    }

    mutating func put(_ key: Key, _ task: Task<[UInt8], any Error>) {
        if tasks.updateValue(task, forKey: key) == nil { order.append(key) }
        while order.count > capacity { tasks[order.removeFirst()] = nil }
    }

    mutating func remove(_ key: Key, ifStill task: Task<[UInt8], any Error>) {
        guard tasks[key] == task else { return }
        tasks[key] = nil
        order.removeAll { $0 == key }
    }
}
