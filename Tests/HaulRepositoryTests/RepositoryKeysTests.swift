import Foundation
import Glibc
import HaulCrypto
import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@testable import HaulRepository

/// Several passphrases per repository (format.md §3): `addKey`, `removeKey`, `changePassphrase`, recovery kits.
@Suite struct RepositoryKeysTests {
    let second = Array("second passphrase".utf8)

    func add(_ repo: Repository, _ passphrase: [UInt8]) async throws -> RepositoryKey {
        try await repo.addKey(passphrase: passphrase, kdf: .test, hostname: "other", username: "someone")
    }

    func opens(_ store: any BlobStore, _ passphrase: [UInt8]) async -> Repository? {
        try? await Repository.open(store: store, passphrase: passphrase)
    }

    @Test func anAddedKeyOpensTheSameRepository() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let added = try await add(repo, second)
        #expect(added.id != repo.keyID)

        let first = try #require(await opens(store, testPassphrase))
        let other = try #require(await opens(store, second))
        #expect(first.keyID == repo.keyID)
        #expect(other.keyID == added.id)
        #expect(other.config.id == repo.config.id)
        #expect(other.keys.encoded() == repo.keys.encoded())

        let listed = try await repo.listKeys()
        #expect(Set(listed.map(\.id)) == [repo.keyID, added.id])
        let listedAdded = try #require(listed.first { $0.id == added.id })
        #expect(listedAdded.file.hostname == "other")
        #expect(listedAdded.file.username == "someone")
        #expect(listedAdded.file.parameters == .test)
    }

    @Test func removingAKeyStopsItsPassphrase() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let firstID = repo.keyID
        _ = try await add(repo, second)
        let viaSecond = try #require(await opens(store, second))
        let resolved = try await viaSecond.resolveKey(String(firstID.hex.prefix(8)).uppercased())
        #expect(resolved == firstID)
        try await viaSecond.removeKey(resolved)

        await #expect { try await Repository.open(store: store, passphrase: testPassphrase) } throws: {
            $0.haulCode == .wrongPassword
        }
        #expect(await opens(store, second) != nil)
        #expect(try await viaSecond.listKeys().map(\.id) == [viaSecond.keyID])
    }

    @Test func theKeyInUseIsNeverRemoved() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        _ = try await add(repo, second)
        await #expect { try await repo.removeKey(repo.keyID) } throws: {
            $0.haulCode == .invalidArgument && "\($0)".contains("another passphrase")
        }
        #expect(await store.list(.keys).count == 2)
        #expect(await opens(store, testPassphrase) != nil)
    }

    @Test func theLastKeyIsNeverRemoved() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let added = try await add(repo, second)
        // Another process, opened with the second passphrase, removes the first key under this one's feet.
        let other = try #require(await opens(store, second))
        try await other.removeKey(repo.keyID)
        // Now the remaining key is not the one `repo` was opened with, but it is the last one.
        await #expect { try await repo.removeKey(added.id) } throws: {
            $0.haulCode == .invalidArgument && "\($0)".contains("last key")
        }
        #expect(await store.list(.keys).map(\.key.name) == [added.id.hex])
    }

    @Test func unknownAndAmbiguousKeyIDsAreRefused() async throws {
        let repo = try await makeRepository()
        await #expect { try await repo.resolveKey("zz12") } throws: { $0.haulCode == .invalidArgument }
        await #expect { try await repo.resolveKey("123") } throws: { $0.haulCode == .invalidArgument }
        let absent = repo.keyID.hex.hasPrefix("0000") ? "ffff" : "0000"
        await #expect { try await repo.resolveKey(absent) } throws: { $0.haulCode == .notFound }
        await #expect { try await repo.removeKey(ObjectID(Digest256.random())) } throws: { $0.haulCode == .notFound }
    }

    @Test func passwdLeavesOneKeyThatOpensWithTheNewPassphraseOnly() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let old = repo.keyID
        let new = try await repo.changePassphrase(to: second, kdf: .test, hostname: "h", username: "u")
        #expect(repo.keyID == new.id)
        #expect(new.id != old)
        #expect(await store.list(.keys).map(\.key.name) == [new.id.hex])
        let reopened = try #require(await opens(store, second))
        #expect(reopened.keyID == new.id)
        #expect(reopened.config.id == repo.config.id)
        await #expect { try await Repository.open(store: store, passphrase: testPassphrase) } throws: {
            $0.haulCode == .wrongPassword
        }
    }

    @Test func passwdKeepsTheOtherKeys() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let third = Array("third passphrase".utf8)
        let kept = try await add(repo, third)
        let new = try await repo.changePassphrase(to: second, kdf: .test, hostname: "h", username: "u")
        #expect(Set(await store.list(.keys).map(\.key.name)) == [new.id.hex, kept.id.hex])
        #expect(await opens(store, third)?.keyID == kept.id)
        #expect(await opens(store, testPassphrase) == nil)
    }

    @Test func passwdThatFailsHalfWayLeavesBothPassphrasesWorking() async throws {
        let base = MemoryBlobStore()
        _ = try await makeRepository(base)
        // Write 1 is the new key file, write 2 the removal of the old one: it fails (a crash at that point).
        let faulty = FaultyBlobStore(base: base, faults: [.failNthWrite(2)])
        let repo = try await Repository.open(store: faulty, passphrase: testPassphrase)
        await #expect {
            try await repo.changePassphrase(to: second, kdf: .test, hostname: "h", username: "u")
        } throws: {
            $0.haulCode == .io
        }
        #expect(await base.list(.keys).count == 2)
        #expect(await opens(base, testPassphrase) != nil)
        #expect(await opens(base, second) != nil)
    }

    @Test func passwdWhoseNewKeyFailsKeepsTheOldKey() async throws {
        let base = MemoryBlobStore()
        _ = try await makeRepository(base)
        let faulty = FaultyBlobStore(base: base, faults: [.failNthWrite(1)])
        let repo = try await Repository.open(store: faulty, passphrase: testPassphrase)
        let old = repo.keyID
        await #expect {
            try await repo.changePassphrase(to: second, kdf: .test, hostname: "h", username: "u")
        } throws: {
            $0.haulCode == .io
        }
        #expect(repo.keyID == old)
        #expect(await base.list(.keys).map(\.key.name) == [old.hex])
        #expect(await opens(base, testPassphrase) != nil)
    }

    @Test func aRecoveryKitRestoresLostKeys() async throws {
        try await TemporaryDirectory.with { dir in
            let store = MemoryBlobStore()
            let repo = try await makeRepository(store)
            let saver = BlobSaver(repository: repo)
            let blob = try await saver.save(type: .data, plaintext: pseudoRandom(10_000, seed: 7))
            try await saver.flush()

            let path = dir + "/kit.json"
            let kit = try await repo.recoveryKit()
            try kit.write(toPath: path)
            var st = stat()
            #expect(stat(path, &st) == 0)
            #expect(st.st_mode & 0o777 == 0o600)
            // An existing file is never overwritten.
            #expect(throws: HaulError.self) { try kit.write(toPath: path) }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains(repo.config.id))
            #expect(text.contains("keys/\(repo.keyID.hex)"))
            #expect(text.contains("lost passphrase means lost data"))

            // Lose every key file.
            for info in await store.list(.keys) { try await store.delete(info.key) }
            #expect(await opens(store, testPassphrase) == nil)

            let read = try RecoveryKit(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(read.repository == repo.config.id)
            try await read.restore(into: store)
            let reopened = try #require(await opens(store, testPassphrase))
            #expect(reopened.keyID == repo.keyID)
            try await reopened.loadIndex()
            #expect(try await reopened.loadBlob(blob, type: .data) == pseudoRandom(10_000, seed: 7))
            #expect(await opens(store, second) == nil)
        }
    }

    @Test func aRecoveryKitKeyFileCanBeCopiedByHand() async throws {
        // The instructions: save the value of "keyFile" as keys/<keyID>.
        let store = MemoryBlobStore()
        let repo = try await makeRepository(store)
        let kit = try await repo.recoveryKit()
        let json = try JSONSerialization.jsonObject(with: Data(try kit.encoded())) as? [String: Any]
        let keyFileObject = try #require(json?["keyFile"])
        let keyFileBytes = try JSONSerialization.data(withJSONObject: keyFileObject)
        let name = try #require(json?["keyID"] as? String)
        for info in await store.list(.keys) { try await store.delete(info.key) }
        try await store.put(try ObjectKey(.keys, name), Array(keyFileBytes), mode: .createOnly)
        #expect(await opens(store, testPassphrase)?.keyID == repo.keyID)
    }

    @Test func aDamagedRecoveryKitIsRefused() throws {
        #expect { try RecoveryKit(decoding: Array("{\"kind\": \"something\"}".utf8)) } throws: {
            $0.haulCode == .corrupted
        }
        #expect { try RecoveryKit(decoding: Array("not json".utf8)) } throws: { $0.haulCode == .corrupted }
    }
}

/// `LeaseManager.removeStale` (`haul unlock`): expired leases and leases of dead processes on this host go, live
/// leases stay.
@Suite struct StaleLeaseTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
    }

    func put(_ lease: Lease, _ store: MemoryBlobStore) async throws -> ObjectKey {
        let key = ObjectKey(.leases, ObjectID(Digest256.random()))
        try await store.put(key, Array(try JSONEncoder.haul.encode(lease)), mode: .createOnly)
        return key
    }

    @Test func onlyStaleLeasesAreRemoved() async throws {
        let store = MemoryBlobStore()
        let clock = Clock()
        let leases = LeaseManager(store: store, hostname: "here", lifetime: 60, now: { clock.now })
        let t = clock.now
        let expired = try await put(
            Lease(
                kind: .shared, hostname: "elsewhere", pid: 42, purpose: "backup", created: t - 120, expires: t - 60),
            store)
        // pid_max is at most 2^22 on Linux: no process has this id.
        let dead = try await put(
            Lease(kind: .exclusive, hostname: "here", pid: Int32.max, purpose: "prune", created: t, expires: t + 60),
            store)
        let liveElsewhere = try await put(
            Lease(kind: .shared, hostname: "elsewhere", pid: 42, purpose: "check", created: t, expires: t + 60), store)
        // pid 1 exists on every Linux system.
        let liveHere = try await put(
            Lease(kind: .shared, hostname: "here", pid: 1, purpose: "restore", created: t, expires: t + 60), store)
        let held = try await leases.acquire(.shared, purpose: "backup")

        // By default only the expired one goes; the dead local process's lease needs `includingProcessGone`.
        let removed = try await leases.removeStale()
        #expect(removed.map(\.key) == [expired])
        #expect(removed.first?.reason == .expired)
        #expect(Set(await store.list(.leases).map(\.key)) == [dead, liveElsewhere, liveHere, held.key])
        let local = try await leases.removeStale(includingProcessGone: true)
        #expect(local.map(\.key) == [dead])
        #expect(local.first?.reason == .processGone)
        #expect(local.first?.lease.purpose == "prune")
        #expect(Set(await store.list(.leases).map(\.key)) == [liveElsewhere, liveHere, held.key])

        // Nothing stale left: a second run removes nothing.
        #expect(try await leases.removeStale(includingProcessGone: true).isEmpty)
        // Once they expire, the live ones go too.
        clock.now += 61
        #expect(try await leases.removeStale().count == 3)
        #expect(await store.list(.leases).isEmpty)
    }

    @Test func leasesRecordTheirUserAndOldLeasesWithoutOneStillParse() async throws {
        let store = MemoryBlobStore()
        let leases = LeaseManager(store: store, hostname: "here", user: "dora", lifetime: 60)
        let held = try await leases.acquire(.shared, purpose: "backup")
        #expect(held.lease.user == "dora")
        #expect(try await leases.list().first?.lease.user == "dora")
        let old = Data(
            #"{"version":1,"kind":"shared","hostname":"h","pid":1,"purpose":"check","created":"2020-01-01T00:00:00Z","expires":"2020-01-01T00:30:00Z"}"#
                .utf8)
        let lease = try JSONDecoder.haul.decode(Lease.self, from: old)
        #expect(lease.user == nil)
        #expect(lease.purpose == "check")
    }

    @Test func aLeaseRefreshedPastItsFirstExpiryIsKept() async throws {
        let store = MemoryBlobStore()
        let clock = Clock()
        let leases = LeaseManager(store: store, hostname: "here", lifetime: 60, now: { clock.now })
        let held = try await leases.acquire(.shared, purpose: "backup")
        clock.now += 61
        #expect(!leases.isLive(held.lease))
        try await leases.refresh(held)
        #expect(try await leases.removeStale().isEmpty)
        #expect(await store.list(.leases).map(\.key) == [held.key])
    }
}
