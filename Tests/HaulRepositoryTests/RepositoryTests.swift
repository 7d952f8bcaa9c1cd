import Foundation
import HaulCompression
import HaulCrypto
import HaulFormat
import HaulStorage
import HaulTesting
import Synchronization
import Testing

@testable import HaulRepository

let testPassphrase = Array("correct horse".utf8)

func makeRepository(_ store: any BlobStore = MemoryBlobStore(), packSize: Int = 1 << 20) async throws -> Repository {
    try await Repository.initialize(
        store: store, passphrase: testPassphrase, kdf: .test, hostname: "host", username: "user",
        chunker: [ChunkerClass(minFileSize: 0, min: 2 << 10, avg: 8 << 10, max: 64 << 10)], packSize: packSize)
}

func pseudoRandom(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}

@Suite struct RepositoryTests {
    @Test func initThenOpenWithTheSamePassphrase() async throws {
        let store = MemoryBlobStore()
        let created = try await makeRepository(store)
        let opened = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(opened.config.id == created.config.id)
        #expect(opened.config.chunker == created.config.chunker)
        #expect(abs(opened.config.created.timeIntervalSince(created.config.created)) < 0.001)
        #expect(opened.keys.repositoryID == created.keys.repositoryID)
    }

    @Test func blobsBelowTheSmallBlobSizeAreCompressedAtTheSmallBlobLevel() async throws {
        let store = MemoryBlobStore()
        _ = try await makeRepository(store)
        let repo = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(repo.config.compression.smallBlobSize == 32 << 10)
        // Text-like bytes on which zstd's levels 1 and 3 give different frames.
        var words = [UInt8]()
        var x: UInt64 = 7
        while words.count < 48 << 10 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            words += Array("w\(x >> 52) ".utf8)
        }
        for (length, level) in [(20 << 10, 1), ((32 << 10) - 1, 1), (32 << 10, 3), (40 << 10, 3)] {
            let input = Array(words[0..<length])
            let (compression, compressed) = try input.withUnsafeBytes { try repo.compress($0) }
            #expect(compression == .zstd)
            let expected = try input.withUnsafeBytes { try ZstdCompressor(level: level).compress($0) }
            let other = try input.withUnsafeBytes { try ZstdCompressor(level: 4 - level).compress($0) }
            // Compared as Bools: a failure names the length and level, not a dump of the frames.
            let levelsDiffer = expected != other
            let atLevel = compressed == expected
            #expect(levelsDiffer, "levels 1 and 3 agree on \(length) bytes: the test shows nothing")
            #expect(atLevel, "\(length) bytes not compressed at level \(level)")
        }
    }

    @Test func wrongPassphraseIsWrongPassword() async throws {
        let store = MemoryBlobStore()
        _ = try await makeRepository(store)
        await #expect { try await Repository.open(store: store, passphrase: Array("nope".utf8)) } throws: {
            $0.haulCode == .wrongPassword
        }
    }

    @Test func emptyLocationIsRepositoryNotFound() async throws {
        await #expect { try await Repository.open(store: MemoryBlobStore(), passphrase: testPassphrase) } throws: {
            $0.haulCode == .repositoryNotFound
        }
    }

    @Test func secondInitIsRefused() async throws {
        let store = MemoryBlobStore()
        _ = try await makeRepository(store)
        await #expect { try await makeRepository(store) } throws: { $0.haulCode == .alreadyExists }
    }

    @Test func blobsRoundTripThroughPacksAndIndex() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        var ids: [(BlobID, [UInt8])] = []
        for i in 0..<40 {
            let data =
                i % 4 == 0 ? [UInt8](repeating: UInt8(i), count: 70_000) : pseudoRandom(60_000, seed: UInt64(2 * i + 1))
            ids.append((try await saver.save(type: .data, plaintext: data), data))
        }
        // A duplicate is stored once.
        _ = try await saver.save(type: .data, plaintext: ids[0].1)
        try await saver.flush()
        let stats = await saver.statistics
        #expect(stats.blobsNew[.data] == 40)
        #expect(stats.packs >= 2)

        let reopened = try await Repository.open(store: store, passphrase: testPassphrase)
        let report = try await reopened.loadIndex()
        #expect(report.blobs == 40)
        for (id, data) in ids { #expect(try await reopened.loadBlob(id, type: .data) == data) }
        // Packs are named by their SHA-256 and parse back to the same entries.
        for (pack, _) in reopened.index.packs {
            let (_, type, _, entries) = try await reopened.readPack(pack)
            #expect(type == .data)
            #expect(!entries.isEmpty)
        }
    }

    @Test func aFlippedBitInAPackIsDetected() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        let id = try await saver.save(type: .data, plaintext: pseudoRandom(10_000, seed: 3))
        try await saver.flush()
        let loc = try #require(repo.index.location(of: id))
        let key = ObjectKey(.data, loc.pack)
        var bytes = try await store.get(key)
        bytes[Int(loc.entry.offset) + 10] ^= 0x04
        try await store.put(key, bytes)
        await #expect { try await repo.loadBlob(id, type: .data) } throws: { $0.haulCode == .corrupted }
        await #expect { try await repo.readPack(loc.pack) } throws: { $0.haulCode == .corrupted }
    }

    @Test func smallDataBlobsAreSealedInGroupsAndReadBack() async throws {
        try await TemporaryDirectory.with { cache in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store)
            let saver = BlobSaver(repository: repo)
            var blobs: [(BlobID, [UInt8])] = []
            for i in 0..<200 {
                let data =
                    i % 3 == 0
                    ? pseudoRandom(700 + 13 * i, seed: UInt64(i))
                    : Array("file \(i) ".utf8) + [UInt8](repeating: UInt8(i % 7), count: 900 + i)
                blobs.append((try await saver.save(type: .data, plaintext: data), data))
            }
            let large = pseudoRandom(BlobSaver.groupMemberLimit, seed: 999)
            let largeID = try await saver.save(type: .data, plaintext: large)
            let tree = try await saver.save(type: .tree, plaintext: Array("a small tree".utf8))
            try await saver.flush()
            let entries = await saver.storedPacks.flatMap(\.entries)
            #expect(entries.count == 202)
            // 200 blobs of 0.7 to 3.3 KB make a few groups of at least 64 KiB; the 16 KiB blob and the tree stand
            // alone.
            let members = entries.filter { $0.memberOffset != nil }
            #expect(Set(members.map(\.id)) == Set(blobs.map(\.0)))
            let groups = Set(members.map(\.offset))
            #expect(groups.count >= 2 && groups.count <= 6)
            #expect(entries.first { $0.id == largeID }?.memberOffset == nil)
            #expect(entries.first { $0.id == tree }?.memberOffset == nil)

            // Read back through index files and the index cache, in an order that crosses groups.
            let reopened = try await Repository.open(store: store, passphrase: testPassphrase, cacheDirectory: cache)
            let report = try await reopened.loadIndex()
            #expect(report.cacheFile != nil)
            for (id, data) in blobs.reversed() {
                #expect(try await reopened.loadBlob(id, type: .data) == data)
                #expect(reopened.index.location(of: id)?.entry == entries.first { $0.id == id })
            }
            #expect(try await reopened.loadBlob(largeID, type: .data) == large)
            for (pack, size) in reopened.index.packs { try await reopened.verifyPack(pack, size: Int64(size)) }
        }
    }

    @Test func aFlippedBitInAGroupIsDetectedForEveryMember() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        var ids: [BlobID] = []
        for i in 0..<30 {
            ids.append(try await saver.save(type: .data, plaintext: pseudoRandom(1500, seed: UInt64(i))))
        }
        try await saver.flush()
        let loc = try #require(repo.index.location(of: ids[17]))
        #expect(loc.entry.memberOffset != nil)
        let key = ObjectKey(.data, loc.pack)
        var bytes = try await store.get(key)
        bytes[Int(loc.entry.offset) + 5] ^= 0x10
        try await store.put(key, bytes)
        let reopened = try await Repository.open(store: store, passphrase: testPassphrase)
        _ = try await reopened.loadIndex()
        for id in [ids[0], ids[17], ids[29]] {
            await #expect { try await reopened.loadBlob(id, type: .data) } throws: { $0.haulCode == .corrupted }
        }
        await #expect { try await reopened.verifyPack(loc.pack, size: Int64(bytes.count)) } throws: {
            $0.haulCode == .corrupted
        }
    }

    /// Many callers at once, with blobs stored alone and in groups and with duplicates across callers: each blob is
    /// stored exactly once, whichever lane sealed it, and reads back equal.
    @Test func concurrentSavesInParallelLanesStoreEachBlobOnce() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        func blob(_ i: Int) -> [UInt8] {
            switch i % 3 {
            case 0: pseudoRandom(1500 + i, seed: UInt64(i))  // grouped
            case 1: pseudoRandom(40_000 + i, seed: UInt64(i))  // alone, incompressible
            default: Array("blob \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: 30_000)  // alone, zstd
            }
        }
        // Caller k saves blobs 40k..<40k+60: each overlaps the next caller's first 20.
        let saved = try await withThrowingTaskGroup(of: [(BlobID, Int)].self) { group in
            for k in 0..<8 {
                group.addTask {
                    var ids: [(BlobID, Int)] = []
                    for i in (40 * k)..<(40 * k + 60) {
                        ids.append((try await saver.save(type: .data, plaintext: blob(i)), i))
                    }
                    return ids
                }
            }
            return try await group.reduce(into: [BlobID: Int]()) { all, ids in for (id, i) in ids { all[id] = i } }
        }
        try await saver.flush()
        #expect(saved.count == 340)
        #expect(await saver.statistics.blobsNew[.data] == 340)
        let entries = await saver.storedPacks.flatMap(\.entries)
        #expect(entries.count == 340 && Set(entries.map(\.id)) == Set(saved.keys))

        let reopened = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(try await reopened.loadIndex().blobs == 340)
        for (id, i) in saved { #expect(try await reopened.loadBlob(id, type: .data) == blob(i)) }
        for (pack, size) in reopened.index.packs { try await reopened.verifyPack(pack, size: Int64(size)) }
    }

    /// At most `sealingLanes` writers of a type are out at once: a third caller waits until one comes back, and then
    /// gets that one.
    @Test func aCallerWaitsWhileEveryLaneIsHeld() async throws {
        #expect(BlobSaver.sealingLanes == 2)
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        let blobs = (0..<3).map { pseudoRandom(20_000, seed: UInt64(70 + $0)) }
        let ids = blobs.map { b in b.withUnsafeBytes { repo.blobID(of: $0) } }
        for (id, b) in zip(ids, blobs) { #expect(try await saver.reserve(id: id, type: .data, rawLength: b.count)) }
        var first = try await saver.checkOut(.data)
        var second = try await saver.checkOut(.data)
        #expect(first.salt != second.salt)
        let third = Task { try await saver.checkOut(.data) }
        try await Task.sleep(for: .milliseconds(100))
        try blobs[0].withUnsafeBytes {
            try first.add(id: ids[0], compression: .raw, rawLength: blobs[0].count, payload: $0)
        }
        let firstSalt = first.salt
        try await saver.landed(first, type: .data, failure: nil)
        var handedOn = try await third.value
        #expect(handedOn.salt == firstSalt && handedOn.count == 1)
        try blobs[1].withUnsafeBytes {
            try second.add(id: ids[1], compression: .raw, rawLength: blobs[1].count, payload: $0)
        }
        try blobs[2].withUnsafeBytes {
            try handedOn.add(id: ids[2], compression: .raw, rawLength: blobs[2].count, payload: $0)
        }
        try await saver.landed(second, type: .data, failure: nil)
        try await saver.landed(handedOn, type: .data, failure: nil)
        try await saver.flush()
        #expect(await saver.storedPacks.count == 2)
        for (id, b) in zip(ids, blobs) { #expect(try await repo.loadBlob(id, type: .data) == b) }
    }

    /// A full pack is stored in a task of its own: the save that filled it returns while the pack's `put` is still
    /// waiting, `flush` waits for it, and the blob is indexed only once the pack is stored.
    @Test func aFullPackIsStoredWhileItsFillerGoesOn() async throws {
        let store = GatedStore(base: MemoryBlobStore())
        let repo = try await makeRepository(store, packSize: 1 << 20)
        let saver = BlobSaver(repository: repo)
        await store.close()
        let big = pseudoRandom(1 << 20, seed: 5)  // alone fills a pack
        let returned = Flag()
        let saving = Task {
            let id = try await saver.save(type: .data, plaintext: big)
            returned.set()
            return id
        }
        try await store.waitForHeldPuts(1)
        for _ in 0..<200 where !returned.isSet { try await Task.sleep(for: .milliseconds(10)) }
        let returnedWhileHeld = returned.isSet
        #expect(returnedWhileHeld, "the save waited for its pack's put")
        if !returnedWhileHeld { await store.open() }
        let id = try await saving.value
        // Returned with the pack's put still held at the gate: pending, not yet indexed.
        if returnedWhileHeld { #expect(saver.isPending(id) && !repo.index.contains(id)) }
        let flushed = Task { try await saver.flush() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await store.heldPuts == 1 && !repo.index.contains(id))
        await store.open()
        try await flushed.value
        #expect(repo.index.contains(id) && !saver.isPending(id))
        #expect(try await repo.loadBlob(id, type: .data) == big)
    }

    /// A pack that fails to be stored in the background fails the saver: the next save and `flush` throw, so no
    /// snapshot can name its blobs.
    @Test func aPackThatFailsInTheBackgroundFailsTheSaver() async throws {
        let base = MemoryBlobStore()
        _ = try await makeRepository(base, packSize: 1 << 20)
        let repo = try await Repository.open(
            store: FaultyBlobStore(base: base, faults: [.failNthWrite(1)]), passphrase: testPassphrase)
        let saver = BlobSaver(repository: repo)
        // Fills a pack, whose put (the first write) fails after this save returned.
        _ = try await saver.save(type: .data, plaintext: pseudoRandom(1 << 20, seed: 6))
        await #expect(throws: HaulError.self) { try await saver.flush() }
        await #expect(throws: HaulError.self) {
            _ = try await saver.save(type: .data, plaintext: pseudoRandom(40_000, seed: 7))
        }
        #expect(await base.list(.data).isEmpty)
        #expect(await base.list(.index).isEmpty)
    }

    /// When one of several packs being stored at once fails, `flush` still returns (it throws the failure) once no
    /// pack is being written: a pack whose store had not started yet is dropped, not left counted.
    @Test func aFailureAmongPacksInFlightStillEndsFlush() async throws {
        let base = MemoryBlobStore()
        _ = try await makeRepository(base, packSize: 1 << 20)
        let repo = try await Repository.open(
            store: FaultyBlobStore(base: base, faults: [.failNthWrite(2)]), passphrase: testPassphrase)
        let saver = BlobSaver(repository: repo)
        for seed in 10..<18 {
            _ = try? await saver.save(type: .data, plaintext: pseudoRandom(1 << 20, seed: UInt64(seed)))
        }
        let ended = Flag()
        let flushed = Task {
            defer { ended.set() }
            try await saver.flush()
        }
        for _ in 0..<1000 where !ended.isSet { try await Task.sleep(for: .milliseconds(10)) }
        try #require(ended.isSet, "flush did not end")
        await #expect(throws: HaulError.self) { try await flushed.value }
        #expect(await base.list(.index).isEmpty)
    }

    /// A repository written before groups (pack and index version 1, format.md §14) stays readable.
    @Test func aVersion1PackAndIndexFileAreStillRead() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let data = pseudoRandom(5000, seed: 42)
        let id = data.withUnsafeBytes { repo.blobID(of: $0) }
        let salt = PackSealer.newSalt()
        let sealer = PackSealer(keys: repo.keys, salt: salt)
        let preamble = PackLayout.preamble(type: .data, salt: salt, version: 1)
        let offset = UInt32(PackLayout.preambleLength)
        let sealed = try data.withUnsafeBytes {
            try sealer.sealBlob(index: UInt64(offset), type: .data, id: id, plaintext: $0)
        }
        // Version 1 entries: id, type, compression, offset, stored length, raw length (46 bytes).
        func entry(_ w: inout ByteWriter, ordinal: UInt32?) {
            w.digest(id.digest)
            w.raw([BlobType.data.rawValue, BlobCompression.raw.rawValue])
            if let ordinal { w.u32(ordinal) }
            for field in [offset, UInt32(sealed.count), UInt32(data.count)] { w.u32(field) }
        }
        var header = ByteWriter()
        header.u32(1)
        entry(&header, ordinal: nil)
        let sealedHeader = try sealer.sealHeader(header.bytes, preamble: preamble)
        var trailer = ByteWriter()
        trailer.u32(UInt32(sealedHeader.count))
        let pack = preamble + sealed + sealedHeader + trailer.bytes
        let packID = PackID(pack.withUnsafeBytes { Hashing.sha256($0) })
        try await store.put(ObjectKey(.data, packID), pack)
        var index = ByteWriter()
        index.raw(Array("HIDX".utf8))
        index.raw([1, 0, 0, 0])
        index.u32(0)
        index.u32(1)
        index.digest(packID.digest)
        index.u64(UInt64(pack.count))
        index.u32(1)
        index.raw(salt)
        index.u32(1)
        entry(&index, ordinal: 0)
        let sealedIndex = try ObjectSealer.seal(
            kind: .index, plaintext: index.bytes, compression: .raw, keys: repo.keys)
        try await store.put(
            ObjectKey(.index, ObjectID(sealedIndex.withUnsafeBytes { Hashing.sha256($0) })), sealedIndex)

        let reopened = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(try await reopened.loadIndex().blobs == 1)
        #expect(try await reopened.loadBlob(id, type: .data) == data)
        let summary = try await reopened.readPackHeader(packID, size: Int64(pack.count))
        #expect(summary.info.entries.map(\.memberOffset) == [nil])
        try await reopened.verifyPack(packID, size: Int64(pack.count))
    }

    @Test func snapshotsRoundTripAndResolve() async throws {
        let repo = try await makeRepository()
        let tree = BlobID(Digest256(w0: 1, w1: 2, w2: 3, w3: 4))
        let snap = Snapshot(
            startNanos: 1_000_000_000_123, endNanos: 1_000_000_000_999, tree: tree,
            paths: [LosslessBytes([0x2F, 0xFF])],
            hostname: "h", username: "u", uid: 0, gid: 0, tags: ["t"], parent: nil, summary: .init())
        let id = try await repo.saveSnapshot(snap)
        let loaded = try await repo.loadSnapshot(id)
        #expect(loaded.startNanos == snap.startNanos && loaded.tree == snap.tree && loaded.paths == snap.paths)
        #expect(loaded.tags == snap.tags && loaded.hostname == snap.hostname)
        #expect(try await repo.resolveSnapshot("latest").id == id)
        #expect(try await repo.resolveSnapshot(String(id.hex.prefix(6))).id == id)
        await #expect { try await repo.resolveSnapshot("zz") } throws: { $0.haulCode == .invalidArgument }
    }

    @Test func supersededIndexFilesAreIgnored() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let saver = BlobSaver(repository: repo)
        _ = try await saver.save(type: .data, plaintext: pseudoRandom(1000, seed: 9))
        try await saver.flush()
        let old = await store.list(.index).map { ObjectID(hex: $0.key.name)! }
        _ = try await repo.writeIndexFile(IndexFile(supersedes: old, packs: []))
        let fresh = try await Repository.open(store: store, passphrase: testPassphrase)
        let report = try await fresh.loadIndex()
        #expect(report.superseded == 1)
        #expect(report.blobs == 0)
    }
}

@Suite struct LeaseTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
    }

    @Test func sharedLeasesCoexistButExclusiveIsRefused() async throws {
        let store = MemoryBlobStore()
        let clock = Clock()
        let leases = LeaseManager(store: store, hostname: "h", lifetime: 60, now: { clock.now })
        let a = try await leases.acquire(.shared, purpose: "backup")
        let b = try await leases.acquire(.shared, purpose: "backup")
        await #expect { try await leases.acquire(.exclusive, purpose: "prune") } throws: {
            $0.haulCode == .repositoryBusy
        }
        // The refused taker removed its own lease.
        #expect(await store.list(.leases).count == 2)
        await leases.release(a)
        await leases.release(b)
        let x = try await leases.acquire(.exclusive, purpose: "prune")
        await #expect { try await leases.acquire(.shared, purpose: "backup") } throws: {
            $0.haulCode == .repositoryBusy
        }
        await leases.release(x)
    }

    @Test func expiredLeasesDoNotBlockAndAreRemovedByExclusiveTakers() async throws {
        let store = MemoryBlobStore()
        let clock = Clock()
        let leases = LeaseManager(store: store, hostname: "h", lifetime: 60, now: { clock.now })
        _ = try await leases.acquire(.shared, purpose: "crashed backup")
        clock.now += 61
        let x = try await leases.acquire(.exclusive, purpose: "prune")
        #expect(await store.list(.leases).count == 1)
        await leases.release(x)
    }

    @Test func refreshExtendsALease() async throws {
        let store = MemoryBlobStore()
        let clock = Clock()
        let leases = LeaseManager(store: store, hostname: "h", lifetime: 60, now: { clock.now })
        let held = try await leases.acquire(.shared, purpose: "backup")
        clock.now += 50
        try await leases.refresh(held)
        clock.now += 50
        await #expect { try await leases.acquire(.exclusive, purpose: "prune") } throws: {
            $0.haulCode == .repositoryBusy
        }
    }
}

@Suite struct ConfigVersionTests {
    /// A version 1 repository is read as it is and raised to version 2 before this Haul stores its first pack.
    @Test func aVersion1ConfigIsRaisedBeforeTheFirstWriteOnly() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        #expect(repo.config.version == RepositoryConfig.currentVersion)
        var old = repo.config
        old.version = 1
        try await store.put(
            .config,
            try ObjectSealer.seal(
                kind: .config, plaintext: Array(try JSONEncoder.haul.encode(old)), compression: .raw, keys: repo.keys))

        let reader = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(reader.config.version == 1)
        _ = try await reader.loadIndex()
        #expect(try await Repository.open(store: store, passphrase: testPassphrase).config.version == 1)

        let saver = BlobSaver(repository: reader)
        let id = try await saver.save(type: .data, plaintext: pseudoRandom(3000, seed: 5))
        try await saver.flush()
        let after = try await Repository.open(store: store, passphrase: testPassphrase)
        #expect(after.config.version == 2)
        #expect(after.config.id == old.id && after.config.chunker == old.chunker)
        _ = try await after.loadIndex()
        #expect(try await after.loadBlob(id, type: .data).count == 3000)

        // A config of a version this Haul does not know is refused, naming the version.
        var future = repo.config
        future.version = 3
        try await store.put(
            .config,
            try ObjectSealer.seal(
                kind: .config, plaintext: Array(try JSONEncoder.haul.encode(future)), compression: .raw, keys: repo.keys
            ))
        await #expect { try await Repository.open(store: store, passphrase: testPassphrase) } throws: {
            $0.haulCode == .unsupportedVersion && "\($0)".contains("version 3")
        }
    }
}

/// A store whose data `put`s wait at a gate while it is closed (tests of packs stored in the background).
actor GatedStore: BlobStore {
    let base: any BlobStore
    private var closed = false
    private var held: [CheckedContinuation<Void, Never>] = []
    private(set) var heldPuts = 0
    nonisolated var capabilities: StoreCapabilities { base.capabilities }

    init(base: any BlobStore) { self.base = base }

    func close() { closed = true }

    func open() {
        closed = false
        let waiting = held
        held = []
        for c in waiting { c.resume() }
    }

    /// Returns once `count` puts are held at the gate (fails after two seconds).
    func waitForHeldPuts(_ count: Int) async throws {
        for _ in 0..<200 where heldPuts < count { try await Task.sleep(for: .milliseconds(10)) }
        try #require(heldPuts >= count)
    }

    func get(_ key: ObjectKey) async throws -> [UInt8] { try await base.get(key) }
    func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        try await base.get(key, offset: offset, length: length)
    }
    func head(_ key: ObjectKey) async throws -> ObjectInfo? { try await base.head(key) }
    func list(_ kind: ObjectKind) async throws -> [ObjectInfo] { try await base.list(kind) }
    func delete(_ key: ObjectKey) async throws { try await base.delete(key) }

    func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        if key.kind == .data && closed {
            heldPuts += 1
            await withCheckedContinuation { held.append($0) }
            heldPuts -= 1
        }
        try await base.put(key, bytes, mode: mode)
    }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
