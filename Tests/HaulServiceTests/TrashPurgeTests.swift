import Foundation
import HTTPTypes
import HaulMetadata
import HaulProtocol
import HaulService
import Synchronization
import Testing

/// docs/service.md §7: deleted objects stay recoverable for 14 days (or the vault's longer retention), nobody can
/// purge them sooner, and the sweep removes them once the window has ended.
@Suite struct TrashPurgeTests {
    func trashFiles(_ harness: ServiceHarness) -> [String] {
        let root = harness.blobsRoot + "/trash"
        let found = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return found.filter { path in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }
    }

    func purge(_ harness: ServiceHarness) async throws -> Int {
        let clock = harness.clock
        return try await TrashPurge(
            metadata: harness.metadata, blobs: .fileSystem(root: harness.blobsRoot), now: { clock.now }
        ).run()
    }

    @Test func nothingIsPurgedBeforeFourteenDaysAndEverythingAfter() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let vault = try ResourceName("v1")
        let bytes: [UInt8] = Array("an index that a prune deleted".utf8)
        let name = sha256Hex(bytes)
        let (server, entry) = try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let path = APIPath.object(server: server, kind: "index", name: name)
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            #expect(try await client.call(.delete, path, token: token).status == .noContent)
            let list = try await client.call(.get, APIPath.deleted(vault), token: adminToken)
            let entry = try #require(try list.decode(DeletedObjectList.self).objects.first)
            return (server, entry)
        }
        #expect(trashFiles(harness) == ["\(entry.id.uuidString.lowercased())/index/\(name)"])

        // One minute before the end of the window: the sweep leaves it, and it can still be put back.
        harness.clock.advance(14 * 86_400 - 60)
        #expect(try await purge(harness) == 0)
        #expect(trashFiles(harness).count == 1)
        #expect(try await harness.metadata.deletedObject(id: entry.id) != nil)

        // One second after: purged, the trash copy is gone, undelete answers 404, and the purge is audited.
        harness.clock.advance(61)
        #expect(try await purge(harness) == 1)
        #expect(try await purge(harness) == 0)
        #expect(trashFiles(harness).isEmpty)
        // No empty folders are left behind either.
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.blobsRoot + "/trash") == [])
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let list = try await client.call(.get, APIPath.deleted(vault), token: adminToken)
            #expect(try list.decode(DeletedObjectList.self).objects.isEmpty)
            let undelete = try await client.call(
                .post, APIPath.undelete(vault), token: adminToken, json: UndeleteRequest(id: entry.id))
            #expect(undelete.status == .notFound)
            let audit = try await client.call(.get, APIPath.audit(), token: adminToken)
            let events = try audit.decode(AuditPage.self).events
            let purge = try #require(events.first { $0.action == "object.purge" })
            #expect(purge.actor == "hauld")
            #expect(purge.target == "\(server.uuidString.lowercased())/index/\(name)")
            #expect(purge.detail.hasPrefix(entry.id.uuidString.lowercased()))
        }
    }

    @Test func aVaultWithLongerRetentionKeepsTrashLonger() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let vault = try ResourceName("long")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let created = try await client.call(
                .post, APIRoute.vaults, token: adminToken, json: VaultCreateRequest(name: vault, retentionDays: 30))
            #expect(created.status == .created)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "long", name: "s1")
            let bytes: [UInt8] = Array("snapshot".utf8)
            let path = APIPath.object(server: server, kind: "snapshots", name: sha256Hex(bytes))
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            #expect(try await client.call(.delete, path, token: token).status == .noContent)
        }
        harness.clock.advance(29 * 86_400)
        #expect(try await purge(harness) == 0)
        #expect(trashFiles(harness).count == 1)
        harness.clock.advance(86_400 + 1)
        #expect(try await purge(harness) == 1)
        #expect(trashFiles(harness).isEmpty)
    }

    /// A record that cannot be purged is reported and skipped; it does not hold up the ones behind it.
    @Test func aRecordThatCannotBePurgedDoesNotStopTheOthers() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let entry = try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("index".utf8)
            let path = APIPath.object(server: server, kind: "index", name: sha256Hex(bytes))
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            #expect(try await client.call(.delete, path, token: token).status == .noContent)
            return try #require(
                try await client.call(.get, APIPath.deleted(try ResourceName("v1")), token: adminToken)
                    .decode(DeletedObjectList.self).objects.first)
        }
        let good = try #require(try await harness.metadata.deletedObject(id: entry.id))
        // Due a day earlier than the good one, so it comes first, with a path that is no object.
        var bad = good
        bad.id = UUID()
        bad.objectPath = "index/not-a-name"
        bad.purgeAfter = good.purgeAfter.addingTimeInterval(-86_400)
        try await harness.metadata.recordDeletedObject(bad)
        harness.clock.advance(15 * 86_400)
        let failures = Failures()
        let clock = harness.clock
        let purged = try await TrashPurge(
            metadata: harness.metadata, blobs: .fileSystem(root: harness.blobsRoot), now: { clock.now }
        ).run { deleted, _ in failures.add(deleted.id) }
        #expect(purged == 1)
        #expect(failures.ids == [bad.id])
        #expect(try await harness.metadata.deletedObject(id: good.id) == nil)
        #expect(try await harness.metadata.deletedObject(id: bad.id) != nil)
    }

    final class Failures: Sendable {
        private let stored = Mutex<[UUID]>([])
        func add(_ id: UUID) { stored.withLock { $0.append(id) } }
        var ids: [UUID] { stored.withLock { $0 } }
    }

    /// Every role, on every route shape that could remove trash, is refused, and the object stays recoverable.
    @Test func noRoleCanPurgeEarly() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let vault = try ResourceName("v1")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, serverToken, _) = try await client.server(
                harness, admin: adminToken, vault: "v1", name: "s1")
            let site = try await siteIdentity(harness, client, adminToken, vault: "v1")
            let siteToken = try await client.token(harness, site)
            let bytes: [UInt8] = Array("pack".utf8)
            let path = APIPath.object(server: server, kind: "data", name: sha256Hex(bytes))
            #expect(try await client.call(.put, path, token: serverToken, body: bytes).status == .created)
            #expect(try await client.call(.delete, path, token: serverToken).status == .noContent)
            let entry = try #require(
                try await client.call(.get, APIPath.deleted(vault), token: adminToken)
                    .decode(DeletedObjectList.self).objects.first)
            let id = entry.id.uuidString.lowercased()
            let attempts: [(HTTPRequest.Method, String)] = [
                (.delete, APIPath.deleted(vault)),
                (.delete, "\(APIPath.deleted(vault))/\(id)"),
                (.post, "\(APIPath.deleted(vault))/\(id)/purge"),
                (.post, "/v1/vaults/v1/purge"),
                (.delete, path),
                (.delete, "/v1/repositories/\(server.uuidString.lowercased())/trash/\(id)"),
            ]
            for token in [adminToken, siteToken, serverToken] {
                for (method, uri) in attempts {
                    let result = try await client.call(method, uri, token: token)
                    #expect(!(200..<300).contains(result.status.code), "\(method) \(uri) answered \(result.status)")
                }
            }
            #expect(trashFiles(harness).count == 1)
            let undelete = try await client.call(
                .post, APIPath.undelete(vault), token: adminToken, json: UndeleteRequest(id: entry.id))
            #expect(undelete.status == .ok)
            #expect(try await client.call(.get, path, token: serverToken).body == bytes)
        }
    }
}
