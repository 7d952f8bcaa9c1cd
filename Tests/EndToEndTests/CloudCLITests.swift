import Foundation
import HaulFormat
import HaulProtocol
import HaulTesting
import Testing

/// `haul cloud storage-account|container|server|vault undelete` against a real `hauld serve`, asserting on their
/// `--json` output and on what the service then does.
@Suite(.serialized) struct CloudCLITests {
    typealias Tools = ServiceTestTools

    /// `haul` with no local repository: the state directory decides.
    func agent(_ scratch: ScratchDirectory, state: String) -> HaulProcess {
        var haul = HaulProcess(repo: "")
        haul.environment["HAUL_STATE_DIR"] = scratch(state)
        haul.environment["HAUL_CACHE_DIR"] = scratch(state + "-cache")
        return haul
    }

    @Test func storageAccountsAndContainers() throws {
        let scratch = try ScratchDirectory()
        let admin = agent(scratch, state: "admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let credential = ["--credential", fixture.credential]

        let seed = try admin.run(["cloud", "storage-account", "create", "seed", "--json"] + credential)
        #expect(seed.status == 0, "\(seed.stderr)")
        let seedInfo = try Tools.decode(StorageAccountInfo.self, seed)
        #expect(seedInfo.name.rawValue == "seed")
        let archive = try admin.run(["cloud", "storage-account", "create", "archive"] + credential)
        #expect(archive.status == 0, "\(archive.stderr)")
        #expect(archive.out.hasPrefix("created storage account archive ("), "\(archive.out)")

        let duplicate = try admin.run(["cloud", "storage-account", "create", "seed", "--json"] + credential)
        #expect(duplicate.status == 1)
        #expect(Tools.errorCode(duplicate) == "alreadyExists", "\(duplicate.out)")
        let invalid = try admin.run(["cloud", "storage-account", "create", "Seed"] + credential)
        #expect(invalid.status == 64, "\(invalid.stderr)")

        let list = try admin.run(["cloud", "storage-account", "list", "--json"] + credential)
        #expect(list.status == 0, "\(list.stderr)")
        let accounts = try Tools.decode(StorageAccountList.self, list).storageAccounts
        #expect(accounts.map(\.name.rawValue) == ["archive", "seed"])
        #expect(accounts.last?.id == seedInfo.id)
        let text = try admin.run(["cloud", "storage-account", "list"] + credential)
        #expect(text.out.contains("seed  \(seedInfo.id.uuidString.lowercased())  created "), "\(text.out)")

        let box = try admin.run(
            ["cloud", "container", "create", "box", "--storage-account", "seed", "--json"] + credential)
        #expect(box.status == 0, "\(box.stderr)")
        let boxInfo = try Tools.decode(ContainerInfo.self, box)
        #expect(boxInfo.name.rawValue == "box")
        #expect(boxInfo.storageAccountId == seedInfo.id)
        let again = try admin.run(
            ["cloud", "container", "create", "box", "--storage-account", "seed", "--json"] + credential)
        #expect(again.status == 1)
        #expect(Tools.errorCode(again) == "alreadyExists", "\(again.out)")
        let nowhere = try admin.run(
            ["cloud", "container", "create", "box", "--storage-account", "nothing"] + credential)
        #expect(nowhere.status == 1)
        #expect(nowhere.stderr.contains("no storage account \"nothing\""), "\(nowhere.stderr)")

        let containers = try admin.run(
            ["cloud", "container", "list", "--storage-account", "seed", "--json"] + credential)
        #expect(containers.status == 0, "\(containers.stderr)")
        #expect(try Tools.decode(ContainerList.self, containers).containers == [boxInfo])
        let archived = try admin.run(
            ["cloud", "container", "list", "--storage-account", "archive", "--json"] + credential)
        #expect(try Tools.decode(ContainerList.self, archived).containers.isEmpty)
        let missing = try admin.run(
            ["cloud", "container", "list", "--storage-account", "nothing", "--json"] + credential)
        #expect(missing.status == 1)
        #expect(Tools.errorCode(missing) == "notFound", "\(missing.out)")

        let audit = try admin.run(["cloud", "audit", "--json"] + credential)
        let events = try Tools.decode(AuditPage.self, audit).events
        #expect(events.filter { $0.action == "storageAccount.create" }.map(\.target) == ["seed", "archive"])
        #expect(events.filter { $0.action == "container.create" }.map(\.target) == ["seed/box"])
    }

    @Test func aRevokedServerIsRefusedWithAClearError() throws {
        let scratch = try ScratchDirectory()
        let admin = agent(scratch, state: "admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let credential = ["--credential", fixture.credential]
        let web = agent(scratch, state: "web-state")
        let register = try web.run(["register", "--settings", fixture.settings, "--name", "web-1"])
        #expect(register.status == 0, "\(register.stderr)")
        let db = agent(scratch, state: "db-state")
        #expect(try db.run(["register", "--settings", fixture.settings, "--name", "db-1"]).status == 0)
        let source = scratch("tree")
        try TreeFixture.generate(
            at: source, seed: 5, options: TreeFixture.Options(socket: false, longPath: false, largeFileSize: 1 << 20))
        let backup = try web.run(["backup", source, "--quiet"])
        #expect(backup.status == 0, "\(backup.stderr)")

        let before = try admin.run(["cloud", "server", "list", "--vault", "office", "--json"] + credential)
        #expect(before.status == 0, "\(before.stderr)")
        let servers = try Tools.decode(ServerList.self, before).servers
        #expect(servers.map(\.name.rawValue) == ["db-1", "web-1"])
        #expect(servers.allSatisfy { !$0.revoked })

        let revoke = try admin.run(["cloud", "server", "revoke", "web-1", "--vault", "office", "--json"] + credential)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let revoked = try Tools.decode(ServerInfo.self, revoke)
        #expect(revoked.name.rawValue == "web-1")
        #expect(revoked.revoked)
        let after = try admin.run(["cloud", "server", "list", "--vault", "office", "--json"] + credential)
        let states = try Tools.decode(ServerList.self, after).servers.map { ($0.name.rawValue, $0.revoked) }
        #expect(states.map(\.0) == ["db-1", "web-1"])
        #expect(states.map(\.1) == [false, true])
        let text = try admin.run(["cloud", "server", "list", "--vault", "office"] + credential)
        #expect(text.out.contains("web-1  \(revoked.id.uuidString.lowercased())  revoked"), "\(text.out)")

        // The revoked server's next commands fail at once, exit 1, saying what happened and what to do.
        let snapshots = try web.run(["snapshots"])
        #expect(snapshots.status == 1)
        #expect(snapshots.stderr.contains("revoked"), "\(snapshots.stderr)")
        #expect(snapshots.stderr.contains("haul register --settings FILE --recover"), "\(snapshots.stderr)")
        let json = try web.run(["snapshots", "--json"])
        #expect(json.status == 1)
        #expect(Tools.errorCode(json) == "identityRevoked", "\(json.out)")
        let again = try web.run(["backup", source, "--quiet"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("revoked"), "\(again.stderr)")
        // The other server is unaffected.
        let other = try db.run(["backup", source, "--quiet"])
        #expect(other.status == 0, "\(other.stderr)")

        let unknown = try admin.run(["cloud", "server", "revoke", "nope", "--vault", "office", "--json"] + credential)
        #expect(unknown.status == 1)
        #expect(Tools.errorCode(unknown) == "notFound", "\(unknown.out)")
        let audit = try Tools.decode(AuditPage.self, try admin.run(["cloud", "audit", "--json"] + credential))
        #expect(audit.events.filter { $0.action == "server.revoke" }.map(\.target) == ["office/web-1"])
    }

    @Test func undeleteBringsBackTheSameBytes() throws {
        let scratch = try ScratchDirectory()
        let admin = agent(scratch, state: "admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let credential = ["--credential", fixture.credential]
        let web = agent(scratch, state: "web-state")
        let register = try web.run(["register", "--settings", fixture.settings, "--name", "web-1", "--json"])
        #expect(register.status == 0, "\(register.stderr)")
        let serverID = try #require(
            (try JSONSerialization.jsonObject(with: register.stdout) as? [String: Any])?["serverId"] as? String)
        let vaults = try Tools.decode(VaultList.self, try admin.run(["cloud", "vault", "list", "--json"] + credential))
        let vaultID = try #require(vaults.vaults.first { $0.name.rawValue == "office" }?.id.uuidString.lowercased())
        let repository = fixture.service.data + "/blobs/vaults/\(vaultID)/servers/\(serverID.lowercased())"
        #expect(FileManager.default.fileExists(atPath: repository + "/config"), "\(repository)")

        let source = scratch("tree")
        try TreeFixture.generate(
            at: source, seed: 8, options: TreeFixture.Options(socket: false, longPath: false, largeFileSize: 1 << 20))
        let first = try web.run(["backup", source, "--quiet", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let old = try #require(
            (try JSONSerialization.jsonObject(with: first.stdout) as? [String: Any])?["snapshot"] as? String)
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: source + "/added.txt"))
        let second = try web.run(["backup", source, "--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        let path = repository + "/snapshots/\(old)"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

        // forget deletes the older snapshot through the object API: it goes to the vault's trash.
        let forget = try web.run(["forget", "--keep-last", "1", "--json"])
        #expect(forget.status == 0, "\(forget.stderr)")
        #expect(
            (try JSONSerialization.jsonObject(with: forget.stdout) as? [String: Any])?["remove"] as? [String] == [old])
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try snapshotIDs(web).count == 1)

        let listed = try admin.run(["cloud", "vault", "undelete", "office", "--json"] + credential)
        #expect(listed.status == 0, "\(listed.stderr)")
        let deleted = try Tools.decode(DeletedObjectList.self, listed).objects
        let entry = try #require(deleted.first { $0.objectPath == "snapshots/\(old)" }, "\(listed.out)")
        #expect(entry.serverId.uuidString.lowercased() == serverID.lowercased())
        #expect(entry.size == Int64(bytes.count))
        #expect(entry.purgeAfter.timeIntervalSince(entry.deletedAt) >= 14 * 86_400 - 1)
        let text = try admin.run(["cloud", "vault", "undelete", "office"] + credential)
        #expect(
            text.out.contains("\(entry.id.uuidString.lowercased())  snapshots/\(old)  \(bytes.count) B"), "\(text.out)")

        let undelete = try admin.run(
            ["cloud", "vault", "undelete", "office", "--id", entry.id.uuidString.lowercased(), "--json"] + credential)
        #expect(undelete.status == 0, "\(undelete.stderr)")
        let restored = try Tools.decode(DeletedObjectInfo.self, undelete)
        #expect(restored.id == entry.id)
        #expect(restored.objectPath == "snapshots/\(old)")
        // The object is back with the same bytes, and the repository sees both snapshots again.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(try snapshotIDs(web).contains(old))
        #expect(try snapshotIDs(web).count == 2)
        let check = try web.run(["check"])
        #expect(check.status == 0, "\(check.stderr)")
        let restoreTarget = scratch("restored")
        let restore = try web.run(["restore", old, "--target", restoreTarget])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: restoreTarget + "/tree/added.txt"))

        // It left the deleted list; putting it back twice is not found.
        let after = try Tools.decode(
            DeletedObjectList.self, try admin.run(["cloud", "vault", "undelete", "office", "--json"] + credential))
        #expect(!after.objects.contains { $0.id == entry.id })
        let twice = try admin.run(
            ["cloud", "vault", "undelete", "office", "--id", entry.id.uuidString.lowercased(), "--json"] + credential)
        #expect(twice.status == 1)
        #expect(Tools.errorCode(twice) == "notFound", "\(twice.out)")
        let bad = try admin.run(["cloud", "vault", "undelete", "office", "--id", "not-a-uuid"] + credential)
        #expect(bad.status == 64, "\(bad.stderr)")
        let audit = try Tools.decode(AuditPage.self, try admin.run(["cloud", "audit", "--json"] + credential))
        let undeletes = audit.events.filter { $0.action == "object.undelete" }
        #expect(undeletes.map(\.target) == ["\(serverID.lowercased())/snapshots/\(old)"], "\(audit.events)")
        #expect(undeletes.first?.detail == entry.id.uuidString.lowercased())
        #expect(undeletes.first?.actor.hasPrefix("subscriptionAdmin:") == true)
    }

    /// The full ids `haul snapshots --json` lists.
    func snapshotIDs(_ haul: HaulProcess) throws -> [String] {
        let result = try haul.run(["snapshots", "--json"])
        guard result.status == 0, let list = try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]]
        else { throw ScratchError("snapshots failed: \(result.stderr)") }
        return list.compactMap { $0["id"] as? String }
    }
}
