import Foundation
import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@testable import HaulRepository

/// A seeded SplitMix64 stream, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func digest() -> Digest256 { Digest256(w0: next(), w1: next(), w2: next(), w3: next()) }
}

/// A pack of `ids` with made-up locations; every fourth blob and the one after it are the members of a group.
func syntheticPack(_ ids: [BlobID], _ g: inout SeededGenerator) -> IndexFile.PackInfo {
    var offset: UInt32 = 40
    let entries = ids.enumerated().map { i, id in
        let length = UInt32(100 + g.next() % 5000)
        let member: UInt32? = i % 4 == 0 ? 0 : i % 4 == 1 ? 11 : nil
        defer { if member != 0 { offset += length } }
        return PackEntry(
            id: id, type: g.next() & 1 == 0 ? .data : .tree, compression: g.next() & 1 == 0 ? .raw : .zstd,
            offset: offset, storedLength: length, rawLength: length + 7, memberOffset: member)
    }
    return IndexFile.PackInfo(
        id: ObjectID(g.digest()), size: UInt64(offset) + 100, salt: g.digest().bytes, entries: entries)
}

/// What the index must answer: index files in list order, packs in order, entries by offset; first location wins
/// (the behaviour of the dictionary-only index).
func referenceIndex(_ repo: Repository) async throws -> [BlobID: BlobLocation] {
    var out: [BlobID: BlobLocation] = [:]
    let files = try await repo.store.list(.index).map { ObjectID(hex: $0.key.name)! }
    var superseded = Set<IndexID>()
    var loaded: [IndexFile] = []
    for id in files {
        let file = try await repo.readIndexFile(id)
        superseded.formUnion(file.supersedes)
        loaded.append(file)
    }
    for (id, file) in zip(files, loaded) where !superseded.contains(id) {
        for pack in file.packs {
            for e in pack.entries where out[e.id] == nil {
                out[e.id] = BlobLocation(pack: pack.id, salt: pack.salt, entry: e)
            }
        }
    }
    return out
}

@Suite struct MemoryIndexTests {
    func makeRepository(_ store: MemoryBlobStore, cache: String?) async throws -> Repository {
        try await Repository.initialize(
            store: store, passphrase: testPassphrase, kdf: .test, hostname: "host", username: "user",
            cacheDirectory: cache)
    }

    func reopen(_ store: MemoryBlobStore, cache: String?) async throws -> Repository {
        try await Repository.open(store: store, passphrase: testPassphrase, cacheDirectory: cache)
    }

    /// Writes `files` index files of `packs` packs of `blobs` random blobs; some blobs repeat across files.
    @discardableResult
    func writeIndexFiles(_ repo: Repository, files: Int, packs: Int, blobs: Int, seed: UInt64) async throws -> [BlobID]
    {
        var g = SeededGenerator(state: seed)
        var all: [BlobID] = []
        for _ in 0..<files {
            var infos: [IndexFile.PackInfo] = []
            for _ in 0..<packs {
                var ids = (0..<blobs).map { _ in BlobID(g.digest()) }
                if !all.isEmpty { ids[0] = all[Int(g.next() % UInt64(all.count))] }
                all.append(contentsOf: ids)
                infos.append(syntheticPack(ids, &g))
            }
            _ = try await repo.writeIndexFile(IndexFile(packs: infos))
        }
        return all
    }

    @Test(arguments: [false, true])
    func lookupsAgreeWithADictionary(useCache: Bool) async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let cache = useCache ? dir : nil
            let repo = try await makeRepository(store, cache: cache)
            try await writeIndexFiles(repo, files: 7, packs: 5, blobs: 300, seed: 1)
            let report = try await repo.loadIndex()
            #expect((report.cacheFile != nil) == useCache)
            let reference = try await referenceIndex(repo)
            #expect(report.blobs == reference.count)
            #expect(repo.index.blobCount == reference.count)
            #expect(report.packs == 35 && repo.index.packCount == 35)
            for (id, location) in reference {
                #expect(repo.index.location(of: id) == location)
                #expect(repo.index.contains(id))
            }
            var g = SeededGenerator(state: 99)
            for _ in 0..<2000 {
                let miss = BlobID(g.digest())
                #expect(!repo.index.contains(miss) && repo.index.location(of: miss) == nil)
            }
            // Ids that share the first 8 bytes (or 31 bytes) with a stored one are misses, never false hits.
            for id in reference.keys.prefix(500) {
                let d = id.digest
                for near in [
                    Digest256(w0: d.w0, w1: d.w1 ^ 1, w2: d.w2, w3: d.w3),
                    Digest256(w0: d.w0, w1: g.next(), w2: g.next(), w3: g.next()),
                    Digest256(w0: d.w0, w1: d.w1, w2: d.w2, w3: d.w3 ^ 0x01),
                    Digest256(w0: d.w0, w1: d.w1, w2: d.w2 ^ (1 << 63), w3: d.w3),
                ] {
                    #expect(!repo.index.contains(BlobID(near)))
                    #expect(repo.index.location(of: BlobID(near)) == nil)
                }
            }
        }
    }

    @Test func duplicatesKeepTheFirstLocation() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            var g = SeededGenerator(state: 5)
            let shared = BlobID(g.digest())
            let first = syntheticPack([shared, BlobID(g.digest())], &g)
            let second = syntheticPack([BlobID(g.digest()), shared], &g)
            let a = try await repo.writeIndexFile(IndexFile(packs: [first, second]))
            let b = try await repo.writeIndexFile(IndexFile(packs: [syntheticPack([shared], &g)]))
            try await repo.loadIndex()
            let expected: IndexFile.PackInfo
            if a.hex < b.hex {
                expected = first
            } else {
                expected = try await repo.readIndexFile(b).packs[0]
            }
            let location = try #require(repo.index.location(of: shared))
            #expect(location.pack == expected.id)
            #expect(location.entry == expected.entries.first { $0.id == shared })
            #expect(repo.index.blobCount == 3)
        }
    }

    @Test func theOverlayAddsToTheBase() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            let stored = try await writeIndexFiles(repo, files: 2, packs: 2, blobs: 50, seed: 3)
            try await repo.loadIndex()
            let baseCount = repo.index.blobCount
            let baseLocation = try #require(repo.index.location(of: stored[7]))
            var g = SeededGenerator(state: 77)
            let fresh = (0..<20).map { _ in BlobID(g.digest()) }
            let pack = syntheticPack([stored[7]] + fresh, &g)
            repo.index.add(pack)
            #expect(repo.index.blobCount == baseCount + 20)
            #expect(repo.index.packCount == 5)
            #expect(repo.index.packs.last?.id == pack.id)
            #expect(repo.index.location(of: stored[7]) == baseLocation)
            for (id, entry) in zip(fresh, pack.entries.dropFirst()) {
                #expect(repo.index.location(of: id) == BlobLocation(pack: pack.id, salt: pack.salt, entry: entry))
            }
            // Adding the same pack again changes nothing; removeAll forgets base and overlay.
            repo.index.add(pack)
            #expect(repo.index.blobCount == baseCount + 20 && repo.index.packCount == 5)
            repo.index.removeAll()
            #expect(repo.index.blobCount == 0 && !repo.index.contains(stored[0]) && !repo.index.contains(fresh[0]))
        }
    }

    func cacheFiles(_ dir: String, _ repo: Repository) throws -> [String] {
        let sub = "\(dir)/\(repo.keys.repositoryID.hex)"
        return try FileManager.default.contentsOfDirectory(atPath: sub).sorted().map { "\(sub)/\($0)" }
    }

    @Test func theCacheIsReusedUntilTheSetOfIndexFilesChanges() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            let stored = try await writeIndexFiles(repo, files: 3, packs: 2, blobs: 40, seed: 8)
            let built = try await repo.loadIndex()
            #expect(!built.cacheReused)
            #expect(try cacheFiles(dir, repo) == [built.cacheFile!])

            let again = try await reopen(store, cache: dir)
            let reused = try await again.loadIndex()
            #expect(reused.cacheReused && reused.cacheFile == built.cacheFile)
            #expect(reused.blobs == built.blobs && reused.files == 3 && again.indexFiles == repo.indexFiles)
            #expect(try await referenceIndex(again).allSatisfy { again.index.location(of: $0.key) == $0.value })

            #expect(built.indexFilesRead == 3 && reused.indexFilesRead == 0)

            // A new index file: the table is extended under a new name, the old file removed.
            var g = SeededGenerator(state: 1234)
            let extra = BlobID(g.digest())
            let added = try await again.writeIndexFile(IndexFile(packs: [syntheticPack([extra], &g)]))
            let afterAdd = try await again.loadIndex()
            #expect(!afterAdd.cacheReused && afterAdd.cacheFile != built.cacheFile && afterAdd.indexFilesRead == 1)
            #expect(afterAdd.blobs == built.blobs + 1 && again.index.contains(extra))
            #expect(try cacheFiles(dir, repo) == [afterAdd.cacheFile!])

            // Removing it again: rebuilt from every file, and the blob is gone.
            try await store.delete(ObjectKey(.index, added))
            let afterRemove = try await again.loadIndex()
            #expect(!afterRemove.cacheReused && afterRemove.blobs == built.blobs && afterRemove.indexFilesRead == 3)
            #expect(!again.index.contains(extra) && again.index.contains(stored[0]))
            #expect(try await again.loadIndex().cacheReused)

            // A file that supersedes others changes the files in use: rebuilt from every file.
            let old = await store.list(.index).map { ObjectID(hex: $0.key.name)! }
            _ = try await again.writeIndexFile(IndexFile(supersedes: old, packs: []))
            let afterPrune = try await again.loadIndex()
            #expect(!afterPrune.cacheReused && afterPrune.blobs == 0 && afterPrune.superseded == 3)
            // The new file is read by the attempt to extend, then every file by the build.
            #expect(afterPrune.indexFilesRead == 5)
            #expect(try await reopen(store, cache: dir).loadIndex().superseded == 3)
        }
    }

    /// Every location of every blob in the index files in use: where a blob is stored twice, the index may answer
    /// either (format.md §7).
    func allLocations(_ store: any BlobStore, cache: String) async throws -> [BlobID: Set<BlobLocation>] {
        let repo = try await Repository.open(store: store, passphrase: testPassphrase, cacheDirectory: cache)
        var superseded = Set<IndexID>()
        var files: [(IndexID, IndexFile)] = []
        for id in try await store.list(.index).map({ ObjectID(hex: $0.key.name)! }) {
            let file = try await repo.readIndexFile(id)
            superseded.formUnion(file.supersedes)
            files.append((id, file))
        }
        var out: [BlobID: Set<BlobLocation>] = [:]
        for (id, file) in files where !superseded.contains(id) {
            for pack in file.packs {
                for e in pack.entries {
                    out[e.id, default: []].insert(BlobLocation(pack: pack.id, salt: pack.salt, entry: e))
                }
            }
        }
        return out
    }

    @Test func anEarlierCacheIsExtendedReadingOnlyTheNewIndexFiles() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            let stored = try await writeIndexFiles(repo, files: 3, packs: 3, blobs: 80, seed: 31)
            let old = await store.list(.index).map { ObjectID(hex: $0.key.name)! }
            let built = try await repo.loadIndex()
            // Four more files, as backups write them; one holds a blob the old files hold too, one lists a pack of
            // an old file again.
            try await writeIndexFiles(repo, files: 2, packs: 2, blobs: 60, seed: 32)
            var g = SeededGenerator(state: 33)
            let overlapping = syntheticPack([stored[5], BlobID(g.digest())], &g)
            _ = try await repo.writeIndexFile(IndexFile(packs: [overlapping]))
            let relisted = try await repo.readIndexFile(old[1]).packs[2]
            _ = try await repo.writeIndexFile(IndexFile(packs: [relisted]))
            let expected = try await allLocations(store, cache: "\(dir)/other")

            // Every old index file now reads as damaged: extending must not need them.
            let faulty = FaultyBlobStore(
                base: store, faults: old.map { .flipBit(key: ObjectKey(.index, $0), byteOffset: 40) })
            let reopened = try await Repository.open(store: faulty, passphrase: testPassphrase, cacheDirectory: dir)
            let report = try await reopened.loadIndex()
            #expect(!report.cacheReused && report.indexFilesRead == 4)
            #expect(report.files == 7 && report.blobs == expected.count && reopened.index.blobCount == expected.count)
            // The relisted pack keeps its ordinal: five new packs, not six.
            #expect(reopened.index.packCount == built.packs + 5)
            for (id, locations) in expected {
                #expect(reopened.index.location(of: id).map(locations.contains) == true)
            }
            let extended = try #require(report.cacheFile)
            #expect(try cacheFiles(dir, repo) == [extended])
            #expect(
                try await Repository.open(store: faulty, passphrase: testPassphrase, cacheDirectory: dir)
                    .loadIndex().cacheReused)

            // A build from every index file gives the same blobs.
            let rebuilt = try await reopen(store, cache: "\(dir)/fresh")
            let fresh = try await rebuilt.loadIndex()
            #expect(fresh.indexFilesRead == 7 && fresh.blobs == report.blobs && fresh.packs == report.packs)
            #expect(Set(rebuilt.indexFiles) == Set(reopened.indexFiles))
        }
    }

    @Test func aSupersededFileThatReappearsStaysSuperseded() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            var g = SeededGenerator(state: 41)
            let kept = syntheticPack((0..<10).map { _ in BlobID(g.digest()) }, &g)
            let dropped = syntheticPack((0..<10).map { _ in BlobID(g.digest()) }, &g)
            let x = try await repo.writeIndexFile(IndexFile(packs: [dropped]))
            let xBytes = try await store.get(ObjectKey(.index, x))
            _ = try await repo.writeIndexFile(IndexFile(supersedes: [x], packs: [kept]))
            // As a prune does: the superseded file is deleted, then the index is loaded.
            try await store.delete(ObjectKey(.index, x))
            #expect(try await repo.loadIndex().blobs == 10)

            // The superseded file comes back (a copy from elsewhere): its blobs must stay out of the index.
            try await store.put(ObjectKey(.index, x), xBytes)
            let report = try await repo.loadIndex()
            #expect(report.indexFilesRead == 1 && report.files == 1 && report.superseded == 1 && report.blobs == 10)
            #expect(dropped.entries.allSatisfy { !repo.index.contains($0.id) })
            #expect(kept.entries.allSatisfy { repo.index.contains($0.id) })
            let rebuilt = try await reopen(store, cache: "\(dir)/fresh").loadIndex()
            #expect(rebuilt.blobs == 10 && rebuilt.superseded == 1 && rebuilt.indexFilesRead == 2)
        }
    }

    enum Damage: String, CaseIterable, Sendable {
        case truncated, extended, empty, flippedEntryBit, flippedHeaderCount, flippedChecksum, garbage

        func apply(to original: [UInt8]) -> [UInt8] {
            var bytes = original
            switch self {
            case .truncated: bytes.removeLast(IndexTable.entryLength)
            case .extended: bytes += [UInt8](repeating: 0, count: IndexTable.entryLength)
            case .empty: bytes = []
            case .flippedEntryBit: bytes[bytes.count - 30] ^= 0x10
            case .flippedHeaderCount: bytes[64] ^= 0x01
            case .flippedChecksum: bytes[IndexTable.checksumOffset] ^= 0x80
            case .garbage: bytes = (0..<bytes.count).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            }
            return bytes
        }
    }

    /// A damaged cache file is never trusted: neither reused for its own set of index files nor extended for a
    /// later one (`laterSet`: an index file was added after it was built).
    @Test(arguments: Damage.allCases, [false, true])
    func aDamagedCacheIsRebuiltNotTrusted(damage: Damage, laterSet: Bool) async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            try await writeIndexFiles(repo, files: 2, packs: 3, blobs: 60, seed: 21)
            let built = try await repo.loadIndex()
            let path = try #require(built.cacheFile)
            if laterSet { try await writeIndexFiles(repo, files: 1, packs: 2, blobs: 30, seed: 22) }
            let bytes = damage.apply(to: try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let again = try await reopen(store, cache: dir)
            let report = try await again.loadIndex()
            #expect(!report.cacheReused && report.indexFilesRead == (laterSet ? 3 : 2))
            if !laterSet { #expect(report.cacheFile == path && report.blobs == built.blobs) }
            #expect(try await referenceIndex(again).allSatisfy { again.index.location(of: $0.key) == $0.value })
            #expect(try await reopen(store, cache: dir).loadIndex().cacheReused)
        }
    }

    @Test func withoutAUsableCacheDirectoryTheTableStaysInMemory() async throws {
        try await TemporaryDirectory.with { dir in
            let notADirectory = "\(dir)/file"
            try Data([1]).write(to: URL(fileURLWithPath: notADirectory))
            for cache in [nil, notADirectory] {
                let store = MemoryBlobStore()
                let repo = try await makeRepository(store, cache: cache)
                try await writeIndexFiles(repo, files: 2, packs: 2, blobs: 30, seed: 4)
                let report = try await repo.loadIndex()
                let reference = try await referenceIndex(repo)
                #expect(report.cacheFile == nil && !report.cacheReused && report.blobs == reference.count)
                #expect(reference.allSatisfy { repo.index.location(of: $0.key) == $0.value })
            }
        }
    }

    @Test func anEmptyRepositoryHasAnEmptyTable() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try await makeRepository(MemoryBlobStore(), cache: dir)
            let report = try await repo.loadIndex()
            #expect(report.blobs == 0 && report.files == 0 && report.packs == 0 && report.cacheFile != nil)
            #expect(!repo.index.contains(BlobID(Digest256.zero)))
            // The first backup's index file extends the empty table.
            let stored = try await writeIndexFiles(repo, files: 1, packs: 2, blobs: 10, seed: 61)
            let first = try await repo.loadIndex()
            #expect(first.indexFilesRead == 1 && first.blobs == Set(stored).count)
            #expect(stored.allSatisfy(repo.index.contains))
        }
    }

    @Test func aCacheFileUnderAnotherNameIsNotExtended() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store, cache: dir)
            try await writeIndexFiles(repo, files: 2, packs: 2, blobs: 20, seed: 71)
            let path = try #require(try await repo.loadIndex().cacheFile)
            let renamed =
                "\(dir)/\(repo.keys.repositoryID.hex)/index-\(Digest256(w0: 1, w1: 2, w2: 3, w3: 4).hex).cache"
            try FileManager.default.moveItem(atPath: path, toPath: renamed)
            try await writeIndexFiles(repo, files: 1, packs: 2, blobs: 20, seed: 72)
            let report = try await reopen(store, cache: dir).loadIndex()
            #expect(report.indexFilesRead == 3)
            #expect(try await report.blobs == referenceIndex(repo).count)
        }
    }

    @Test func defaultDirectoryFollowsTheEnvironment() {
        #expect(LocalCache.defaultDirectory(environment: ["HAUL_CACHE_DIR": "/c", "HOME": "/h"]) == "/c")
        #expect(LocalCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/haul")
        #expect(LocalCache.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.cache/haul")
        #expect(LocalCache.defaultDirectory(environment: [:]) == nil)
    }
}
