import Foundation
import HaulFormat
import HaulMetadata
import HaulTesting

/// The contract of `MetadataStore` (its doc comment and docs/metadata.md), as a suite every store runs (SQLite,
/// PostgreSQL).
///
/// Each check gets a fresh, empty store from `makeStore` and calls `migrate()` on it first. The first violation ends
/// the run with a `ConformanceFailure` naming the check and what differed. Checks cover every method: unique
/// keys (`alreadyExists`, store unchanged), missing records (`nil` on reads, `notFound` on updates and deletes, and
/// on creates whose parent is missing), the order of every list, tenant separation, revocation cascades, first use
/// of a `jti` (also 20 callers at once), lease `createOnly` (also concurrent), sweeping, deleted objects, audit
/// sequences and paging, the datacenter row, and repeated migrations.
public enum MetadataStoreConformance {
    /// Runs every check. `makeStore` must return an empty store each time it is called; the suite migrates it.
    /// - Throws: `ConformanceFailure` on the first violation, or where a call that had to succeed failed.
    public static func run(makeStore: () async throws -> any MetadataStore) async throws {
        for (name, check) in checks {
            let store = try await makeStore()
            let c = Checker(name: name, store: store)
            do {
                try await store.migrate()
                try await check(c)
            } catch let failure as ConformanceFailure {
                throw failure
            } catch {
                throw c.failure("unexpected error: \(error)")
            }
        }
    }

    /// The names of the checks, in the order `run` performs them.
    public static var checkNames: [String] { checks.map(\.0) }

    private static let checks: [(String, @Sendable (Checker) async throws -> Void)] = [
        ("empty store", emptyStore),
        ("subscriptions", subscriptions),
        ("identities", identities),
        ("revokeIdentity revokes its tokens", revokeIdentity),
        ("vaults", vaults),
        ("servers", servers),
        ("revokeServer revokes identities and tokens", revokeServer),
        ("storage accounts and containers", storageAccountsAndContainers),
        ("applications", applications),
        ("tokens", tokens),
        ("assertion ids", assertionIDs),
        ("concurrent assertion ids", concurrentAssertionIDs),
        ("sweepExpired", sweepExpired),
        ("leases", leases),
        ("concurrent lease createOnly", concurrentLeaseCreateOnly),
        ("deleted objects", deletedObjects),
        ("audit", audit),
        ("operators and datacenter", operatorsAndDatacenter),
        ("tenant separation", tenantSeparation),
        ("migrate twice", migrateTwice),
    ]

    // MARK: Checks

    private static func emptyStore(_ c: Checker) async throws {
        let s = c.store
        let id = Fixture.uuid(1)
        try await c.equal(try await s.subscriptions(), [], "subscriptions()")
        try await c.equal(try await s.subscription(id: id), nil, "subscription(id:)")
        try await c.equal(try await s.identity(thumbprint: Fixture.hex(1)), nil, "identity(thumbprint:)")
        try await c.equal(
            try await s.identities(subscription: id, subject: "x"), [], "identities(subscription:subject:)")
        try await c.equal(try await s.identities(subscription: nil, subject: "x"), [], "identities(nil, subject:)")
        try await c.equal(try await s.vault(subscription: id, name: "v"), nil, "vault(subscription:name:)")
        try await c.equal(try await s.vault(id: id), nil, "vault(id:)")
        try await c.equal(try await s.vaults(subscription: id), [], "vaults(subscription:)")
        try await c.equal(try await s.server(vault: id, name: "s"), nil, "server(vault:name:)")
        try await c.equal(try await s.server(id: id), nil, "server(id:)")
        try await c.equal(try await s.servers(vault: id), [], "servers(vault:)")
        try await c.equal(try await s.storageAccount(subscription: id, name: "a"), nil, "storageAccount(...)")
        try await c.equal(try await s.storageAccounts(subscription: id), [], "storageAccounts(subscription:)")
        try await c.equal(try await s.containers(storageAccount: id), [], "containers(storageAccount:)")
        try await c.equal(try await s.application(subscription: id, name: "a"), nil, "application(...)")
        try await c.equal(try await s.applications(subscription: id), [], "applications(subscription:)")
        try await c.equal(try await s.token(hash: Fixture.hex(2)), nil, "token(hash:)")
        try await c.equal(try await s.lease(server: id, name: Fixture.hex(3)), nil, "lease(server:name:)")
        try await c.equal(try await s.leases(server: id), [], "leases(server:)")
        try await c.equal(try await s.deletedObject(id: id), nil, "deletedObject(id:)")
        try await c.equal(try await s.deletedObjects(vault: id), [], "deletedObjects(vault:)")
        try await c.equal(try await s.audit(subscription: id, after: 0, limit: 10), [], "audit(subscription:)")
        try await c.equal(try await s.audit(subscription: nil, after: 0, limit: 10), [], "audit(nil)")
        try await c.equal(try await s.operators(), [], "operators()")
        try await c.equal(try await s.datacenter(), nil, "datacenter()")
        try await c.equal(try await s.sweepExpired(now: Fixture.time(1_000_000)), 0, "sweepExpired of an empty store")

        try await c.expectError(.notFound, "revokeIdentity of a missing identity") {
            try await s.revokeIdentity(thumbprint: Fixture.hex(1))
        }
        try await c.expectError(.notFound, "revokeServer of a missing server") { try await s.revokeServer(id: id) }
        try await c.expectError(.notFound, "setApplicationCertificate of a missing application") {
            try await s.setApplicationCertificate(id: id, thumbprint: Fixture.hex(4), pem: "pem")
        }
        try await c.expectError(.notFound, "deleteApplication of a missing application") {
            try await s.deleteApplication(id: id)
        }
        try await c.expectError(.notFound, "revokeToken of a missing token") {
            try await s.revokeToken(hash: Fixture.hex(2))
        }
        try await c.expectError(.notFound, "deleteLease of a missing lease") {
            try await s.deleteLease(server: id, name: Fixture.hex(3))
        }
        try await c.expectError(.notFound, "removeDeletedObject of a missing record") {
            try await s.removeDeletedObject(id: id)
        }
    }

    private static func subscriptions(_ c: Checker) async throws {
        let s = c.store
        let names = ["mango", "apple", "Zebra", "banana", "apple"]
        var created: [Subscription] = []
        for (i, name) in names.enumerated() {
            let sub = Subscription(id: Fixture.uuid(10 + i), name: name, created: Fixture.time(i))
            try await s.createSubscription(sub)
            created.append(sub)
        }
        for sub in created {
            try await c.equal(try await s.subscription(id: sub.id), sub, "subscription(id:) after create")
        }
        try await c.expectError(.alreadyExists, "createSubscription with an existing id") {
            try await s.createSubscription(Subscription(id: created[0].id, name: "other", created: Fixture.time(99)))
        }
        try await c.equal(
            try await s.subscription(id: created[0].id), created[0], "subscription after a refused create")
        try await c.equal(
            try await s.subscriptions().map(\.name), ["Zebra", "apple", "apple", "banana", "mango"],
            "subscriptions() ordered by name (bytewise)")
        try await c.equal(Set(try await s.subscriptions()), Set(created), "subscriptions() content")
    }

    private static func identities(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        let admin = Fixture.identity(1, a.id, .subscriptionAdmin, subject: "admin")
        let siteA = Fixture.identity(2, a.id, .site, subject: "vault-1")
        let siteA2 = Fixture.identity(3, a.id, .server, subject: "vault-1")
        let siteB = Fixture.identity(4, b.id, .site, subject: "vault-1")
        let op = Fixture.identity(5, nil, .operator, subject: "vault-1")
        for identity in [admin, siteA, siteA2, siteB, op] { try await s.createIdentity(identity) }
        for identity in [admin, siteA, siteA2, siteB, op] {
            try await c.equal(
                try await s.identity(thumbprint: identity.thumbprint), identity, "identity(thumbprint:) after create")
        }
        try await c.expectError(.alreadyExists, "createIdentity with an existing thumbprint") {
            try await s.createIdentity(Fixture.identity(1, b.id, .site, subject: "other"))
        }
        try await c.equal(try await s.identity(thumbprint: admin.thumbprint), admin, "identity after a refused create")
        try await c.expectError(.notFound, "createIdentity in a missing subscription") {
            try await s.createIdentity(Fixture.identity(6, Fixture.uuid(999), .site, subject: "x"))
        }
        try await c.equal(
            Set(try await s.identities(subscription: a.id, subject: "vault-1")), [siteA, siteA2],
            "identities(subscription: A, subject:) has every role of that subject in A only")
        try await c.equal(
            try await s.identities(subscription: b.id, subject: "vault-1"), [siteB], "identities(subscription: B)")
        try await c.equal(
            try await s.identities(subscription: nil, subject: "vault-1"), [op], "identities(subscription: nil)")
        try await c.equal(
            try await s.identities(subscription: a.id, subject: "admin"), [admin], "identities of the admin")
        let listed = try await s.identities(subscription: a.id, subject: "vault-1").map(\.thumbprint)
        try await c.equal(listed, listed.sorted(), "identities(subscription:subject:) ordered by thumbprint")
    }

    private static func revokeIdentity(_ c: Checker) async throws {
        let s = c.store
        let (a, _) = try await Fixture.twoSubscriptions(s)
        let one = Fixture.identity(1, a.id, .site, subject: "vault-1")
        let two = Fixture.identity(2, a.id, .site, subject: "vault-1")
        try await s.createIdentity(one)
        try await s.createIdentity(two)
        let tokensOfOne = [Fixture.token(10, one), Fixture.token(11, one)]
        let tokenOfTwo = Fixture.token(12, two)
        for token in tokensOfOne + [tokenOfTwo] { try await s.createToken(token) }
        try await s.revokeIdentity(thumbprint: one.thumbprint)
        try await c.equal(try await s.identity(thumbprint: one.thumbprint)?.revoked, true, "revoked identity")
        try await c.equal(try await s.identity(thumbprint: two.thumbprint)?.revoked, false, "the other identity")
        for token in tokensOfOne {
            try await c.equal(try await s.token(hash: token.hash)?.revoked, true, "token of the revoked identity")
        }
        try await c.equal(try await s.token(hash: tokenOfTwo.hash)?.revoked, false, "token of the other identity")
        try await s.revokeIdentity(thumbprint: one.thumbprint)
        try await c.equal(try await s.identity(thumbprint: one.thumbprint)?.revoked, true, "revoking twice")
    }

    private static func vaults(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        let names = ["photos", "db", "home-2", "home-10"]
        var inA: [Vault] = []
        for (i, name) in names.enumerated() {
            let vault = Vault(
                id: Fixture.uuid(100 + i), subscription: a.id, name: name, retentionDays: 14 + i,
                created: Fixture.time(i))
            try await s.createVault(vault)
            inA.append(vault)
        }
        let inB = Vault(id: Fixture.uuid(200), subscription: b.id, name: "photos", created: Fixture.time(9))
        try await s.createVault(inB)
        for vault in inA + [inB] {
            try await c.equal(try await s.vault(id: vault.id), vault, "vault(id:)")
            try await c.equal(
                try await s.vault(subscription: vault.subscription, name: vault.name), vault,
                "vault(subscription:name:)")
        }
        try await c.expectError(.alreadyExists, "createVault with an existing (subscription, name)") {
            try await s.createVault(
                Vault(id: Fixture.uuid(300), subscription: a.id, name: "db", created: Fixture.time(1)))
        }
        try await c.equal(try await s.vault(id: Fixture.uuid(300)), nil, "vault after a refused create")
        try await c.expectError(.alreadyExists, "createVault with an existing id") {
            try await s.createVault(Vault(id: inA[0].id, subscription: b.id, name: "new", created: Fixture.time(1)))
        }
        try await c.expectError(.notFound, "createVault in a missing subscription") {
            try await s.createVault(
                Vault(id: Fixture.uuid(301), subscription: Fixture.uuid(999), name: "x", created: Fixture.time(1)))
        }
        try await c.equal(
            try await s.vaults(subscription: a.id).map(\.name), ["db", "home-10", "home-2", "photos"],
            "vaults(subscription:) ordered by name")
        try await c.equal(try await s.vaults(subscription: b.id), [inB], "vaults of the other subscription")
        try await c.equal(try await s.vault(subscription: b.id, name: "db"), nil, "A's vault name looked up in B")
    }

    private static func servers(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        let v1 = Vault(id: Fixture.uuid(100), subscription: a.id, name: "v1", created: Fixture.time(0))
        let v2 = Vault(id: Fixture.uuid(101), subscription: b.id, name: "v1", created: Fixture.time(0))
        try await s.createVault(v1)
        try await s.createVault(v2)
        var inV1: [Server] = []
        for (i, name) in ["web", "db", "mail"].enumerated() {
            let server = Server(id: Fixture.uuid(200 + i), vault: v1.id, name: name, created: Fixture.time(i))
            try await s.createServer(server)
            inV1.append(server)
        }
        let inV2 = Server(id: Fixture.uuid(300), vault: v2.id, name: "web", created: Fixture.time(5))
        try await s.createServer(inV2)
        for server in inV1 + [inV2] {
            try await c.equal(try await s.server(id: server.id), server, "server(id:)")
            try await c.equal(try await s.server(vault: server.vault, name: server.name), server, "server(vault:name:)")
        }
        try await c.expectError(.alreadyExists, "createServer with an existing (vault, name)") {
            try await s.createServer(Server(id: Fixture.uuid(400), vault: v1.id, name: "db", created: Fixture.time(1)))
        }
        try await c.expectError(.alreadyExists, "createServer with an existing id") {
            try await s.createServer(Server(id: inV1[0].id, vault: v2.id, name: "new", created: Fixture.time(1)))
        }
        try await c.expectError(.notFound, "createServer in a missing vault") {
            try await s.createServer(
                Server(id: Fixture.uuid(401), vault: Fixture.uuid(999), name: "x", created: Fixture.time(1)))
        }
        try await c.equal(
            try await s.servers(vault: v1.id).map(\.name), ["db", "mail", "web"], "servers(vault:) order")
        try await c.equal(try await s.servers(vault: v2.id), [inV2], "servers of the other vault")
    }

    private static func revokeServer(_ c: Checker) async throws {
        let s = c.store
        let (a, _) = try await Fixture.twoSubscriptions(s)
        let vault = Vault(id: Fixture.uuid(100), subscription: a.id, name: "v", created: Fixture.time(0))
        try await s.createVault(vault)
        let target = Server(id: Fixture.uuid(200), vault: vault.id, name: "target", created: Fixture.time(1))
        let other = Server(id: Fixture.uuid(201), vault: vault.id, name: "other", created: Fixture.time(1))
        try await s.createServer(target)
        try await s.createServer(other)
        let targetIdentities = [
            Fixture.identity(1, a.id, .server, subject: target.id.uuidString.lowercased()),
            Fixture.identity(2, a.id, .server, subject: target.id.uuidString.lowercased()),
        ]
        let otherIdentity = Fixture.identity(3, a.id, .server, subject: other.id.uuidString.lowercased())
        let site = Fixture.identity(4, a.id, .site, subject: vault.id.uuidString.lowercased())
        for identity in targetIdentities + [otherIdentity, site] { try await s.createIdentity(identity) }
        let targetTokens = targetIdentities.enumerated().map { Fixture.token(UInt64(10 + $0), $1) }
        let otherTokens = [Fixture.token(20, otherIdentity), Fixture.token(21, site)]
        for token in targetTokens + otherTokens { try await s.createToken(token) }

        try await s.revokeServer(id: target.id)
        try await c.equal(try await s.server(id: target.id)?.revoked, true, "the revoked server")
        try await c.equal(try await s.server(id: other.id)?.revoked, false, "the other server")
        for identity in targetIdentities {
            try await c.equal(
                try await s.identity(thumbprint: identity.thumbprint)?.revoked, true, "identity of the revoked server")
        }
        for identity in [otherIdentity, site] {
            try await c.equal(try await s.identity(thumbprint: identity.thumbprint)?.revoked, false, "other identity")
        }
        for token in targetTokens {
            try await c.equal(try await s.token(hash: token.hash)?.revoked, true, "token of the revoked server")
        }
        for token in otherTokens {
            try await c.equal(try await s.token(hash: token.hash)?.revoked, false, "token of another identity")
        }
    }

    private static func storageAccountsAndContainers(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        let accounts = ["west", "east", "north"].enumerated().map { i, name in
            StorageAccount(id: Fixture.uuid(100 + i), subscription: a.id, name: name, created: Fixture.time(i))
        }
        for account in accounts { try await s.createStorageAccount(account) }
        let inB = StorageAccount(id: Fixture.uuid(110), subscription: b.id, name: "west", created: Fixture.time(3))
        try await s.createStorageAccount(inB)
        try await c.equal(
            try await s.storageAccount(subscription: a.id, name: "east"), accounts[1],
            "storageAccount(subscription:name:)")
        try await c.equal(
            try await s.storageAccount(subscription: b.id, name: "east"), nil, "A's account looked up in B")
        try await c.expectError(.alreadyExists, "createStorageAccount with an existing (subscription, name)") {
            try await s.createStorageAccount(
                StorageAccount(id: Fixture.uuid(120), subscription: a.id, name: "west", created: Fixture.time(1)))
        }
        try await c.expectError(.alreadyExists, "createStorageAccount with an existing id") {
            try await s.createStorageAccount(
                StorageAccount(id: accounts[0].id, subscription: b.id, name: "new", created: Fixture.time(1)))
        }
        try await c.expectError(.notFound, "createStorageAccount in a missing subscription") {
            try await s.createStorageAccount(
                StorageAccount(
                    id: Fixture.uuid(121), subscription: Fixture.uuid(999), name: "x", created: Fixture.time(1)))
        }
        try await c.equal(
            try await s.storageAccounts(subscription: a.id).map(\.name), ["east", "north", "west"],
            "storageAccounts(subscription:) ordered by name")
        try await c.equal(try await s.storageAccounts(subscription: b.id), [inB], "storage accounts of B")

        let containers = ["logs", "drives", "import-7"].enumerated().map { i, name in
            Container(id: Fixture.uuid(200 + i), storageAccount: accounts[0].id, name: name, created: Fixture.time(i))
        }
        for container in containers { try await s.createContainer(container) }
        let elsewhere = Container(id: Fixture.uuid(210), storageAccount: inB.id, name: "logs", created: Fixture.time(4))
        try await s.createContainer(elsewhere)
        try await c.expectError(.alreadyExists, "createContainer with an existing (storage account, name)") {
            try await s.createContainer(
                Container(id: Fixture.uuid(220), storageAccount: accounts[0].id, name: "logs", created: Fixture.time(1))
            )
        }
        try await c.expectError(.alreadyExists, "createContainer with an existing id") {
            try await s.createContainer(
                Container(id: containers[0].id, storageAccount: accounts[1].id, name: "x", created: Fixture.time(1)))
        }
        try await c.expectError(.notFound, "createContainer in a missing storage account") {
            try await s.createContainer(
                Container(id: Fixture.uuid(221), storageAccount: Fixture.uuid(999), name: "x", created: Fixture.time(1))
            )
        }
        try await c.equal(
            try await s.containers(storageAccount: accounts[0].id), containers.sorted { $0.name < $1.name },
            "containers(storageAccount:) ordered by name")
        try await c.equal(try await s.containers(storageAccount: inB.id), [elsewhere], "containers of B's account")
        try await c.equal(try await s.containers(storageAccount: accounts[1].id), [], "containers of an empty account")
    }

    private static func applications(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        let plain = Application(id: Fixture.uuid(100), subscription: a.id, name: "seeder", created: Fixture.time(1))
        let withCert = Application(
            id: Fixture.uuid(101), subscription: a.id, name: "importer", certificateThumbprint: Fixture.hex(7),
            certificatePEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", created: Fixture.time(2))
        let inB = Application(id: Fixture.uuid(102), subscription: b.id, name: "seeder", created: Fixture.time(3))
        for app in [plain, withCert, inB] { try await s.createApplication(app) }
        try await c.equal(
            try await s.application(subscription: a.id, name: "seeder"), plain, "application without cert")
        try await c.equal(
            try await s.application(subscription: a.id, name: "importer"), withCert, "application with cert")
        try await c.equal(try await s.application(subscription: b.id, name: "importer"), nil, "A's app looked up in B")
        try await c.expectError(.alreadyExists, "createApplication with an existing (subscription, name)") {
            try await s.createApplication(
                Application(id: Fixture.uuid(110), subscription: a.id, name: "seeder", created: Fixture.time(1)))
        }
        try await c.expectError(.alreadyExists, "createApplication with an existing id") {
            try await s.createApplication(
                Application(id: plain.id, subscription: b.id, name: "other", created: Fixture.time(1)))
        }
        try await c.expectError(.notFound, "createApplication in a missing subscription") {
            try await s.createApplication(
                Application(id: Fixture.uuid(111), subscription: Fixture.uuid(999), name: "x", created: Fixture.time(1))
            )
        }
        try await c.equal(
            try await s.applications(subscription: a.id).map(\.name), ["importer", "seeder"],
            "applications(subscription:) ordered by name")
        try await c.equal(try await s.applications(subscription: b.id), [inB], "applications of B")

        try await s.setApplicationCertificate(id: plain.id, thumbprint: Fixture.hex(8), pem: "PEM-8")
        var updated = plain
        updated.certificateThumbprint = Fixture.hex(8)
        updated.certificatePEM = "PEM-8"
        try await c.equal(try await s.application(subscription: a.id, name: "seeder"), updated, "after setting a cert")
        try await s.setApplicationCertificate(id: plain.id, thumbprint: Fixture.hex(9), pem: "PEM-9")
        updated.certificateThumbprint = Fixture.hex(9)
        updated.certificatePEM = "PEM-9"
        try await c.equal(try await s.application(subscription: a.id, name: "seeder"), updated, "after replacing it")
        try await c.equal(try await s.application(subscription: b.id, name: "seeder"), inB, "B's app is untouched")

        try await s.deleteApplication(id: plain.id)
        try await c.equal(try await s.application(subscription: a.id, name: "seeder"), nil, "a deleted application")
        try await c.equal(try await s.applications(subscription: a.id), [withCert], "applications after a delete")
        try await c.expectError(.notFound, "deleting an application twice") {
            try await s.deleteApplication(id: plain.id)
        }
        try await s.createApplication(plain)
        try await c.equal(try await s.application(subscription: a.id, name: "seeder"), plain, "re-created application")
    }

    private static func tokens(_ c: Checker) async throws {
        let s = c.store
        let (a, _) = try await Fixture.twoSubscriptions(s)
        let identity = Fixture.identity(1, a.id, .server, subject: "srv")
        let op = Fixture.identity(2, nil, .operator, subject: "op")
        try await s.createIdentity(identity)
        try await s.createIdentity(op)
        let token = Fixture.token(10, identity)
        let operatorToken = Fixture.token(11, op)
        try await s.createToken(token)
        try await s.createToken(operatorToken)
        try await c.equal(try await s.token(hash: token.hash), token, "token(hash:)")
        try await c.equal(try await s.token(hash: operatorToken.hash), operatorToken, "token without subscription")
        try await c.expectError(.alreadyExists, "createToken with an existing hash") {
            try await s.createToken(Fixture.token(10, op))
        }
        try await c.equal(try await s.token(hash: token.hash), token, "token after a refused create")
        try await c.expectError(.notFound, "createToken for a missing identity") {
            try await s.createToken(Fixture.token(12, Fixture.identity(3, a.id, .site, subject: "x")))
        }
        try await s.revokeToken(hash: token.hash)
        try await c.equal(try await s.token(hash: token.hash)?.revoked, true, "revoked token")
        try await c.equal(try await s.token(hash: operatorToken.hash)?.revoked, false, "the other token")
        try await c.equal(try await s.identity(thumbprint: identity.thumbprint)?.revoked, false, "its identity")
    }

    private static func assertionIDs(_ c: Checker) async throws {
        let s = c.store
        let expires = Fixture.time(1000)
        try await c.equal(try await s.recordAssertionID("jti-1", expires: expires), true, "first use of a jti")
        try await c.equal(try await s.recordAssertionID("jti-1", expires: expires), false, "second use of a jti")
        try await c.equal(
            try await s.recordAssertionID("jti-1", expires: Fixture.time(5000)), false, "replay with another expiry")
        try await c.equal(try await s.recordAssertionID("jti-2", expires: expires), true, "first use of another jti")
        try await c.equal(try await s.recordAssertionID("JTI-1", expires: expires), true, "jti compare is exact")
    }

    private static func concurrentAssertionIDs(_ c: Checker) async throws {
        let store = c.store
        for round in 0..<3 {
            let jti = "concurrent-\(round)"
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await store.recordAssertionID(jti, expires: Fixture.time(1000)) }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            try await c.equal(outcomes.filter { $0 }.count, 1, "first uses among 20 concurrent calls (round \(round))")
        }
    }

    private static func sweepExpired(_ c: Checker) async throws {
        let s = c.store
        let (a, _) = try await Fixture.twoSubscriptions(s)
        let identity = Fixture.identity(1, a.id, .server, subject: "srv")
        try await s.createIdentity(identity)
        var expired = Fixture.token(10, identity)
        expired.expires = Fixture.time(100)
        var live = Fixture.token(11, identity)
        live.expires = Fixture.time(300)
        var revokedLive = Fixture.token(12, identity)
        revokedLive.expires = Fixture.time(400)
        try await s.createToken(expired)
        try await s.createToken(live)
        try await s.createToken(revokedLive)
        try await s.revokeToken(hash: revokedLive.hash)
        _ = try await s.recordAssertionID("old-1", expires: Fixture.time(50))
        _ = try await s.recordAssertionID("old-2", expires: Fixture.time(199))
        _ = try await s.recordAssertionID("new", expires: Fixture.time(201))

        try await c.equal(try await s.sweepExpired(now: Fixture.time(200)), 3, "rows swept (1 token, 2 jtis)")
        try await c.equal(try await s.token(hash: expired.hash), nil, "expired token after the sweep")
        try await c.equal(try await s.token(hash: live.hash), live, "live token after the sweep")
        try await c.equal(try await s.token(hash: revokedLive.hash)?.revoked, true, "revoked, unexpired token is kept")
        try await c.equal(try await s.recordAssertionID("new", expires: Fixture.time(201)), false, "unexpired jti kept")
        try await c.equal(try await s.recordAssertionID("old-1", expires: Fixture.time(500)), true, "swept jti is gone")
        try await c.equal(try await s.sweepExpired(now: Fixture.time(200)), 0, "a second sweep at the same time")
        try await c.equal(try await s.identity(thumbprint: identity.thumbprint), identity, "identities are not swept")
    }

    private static func leases(_ c: Checker) async throws {
        let s = c.store
        let (servers, _) = try await Fixture.twoServers(s)
        let (one, two) = (servers[0], servers[1])
        let names = [Fixture.hex(30), Fixture.hex(31), Fixture.hex(32)]
        var held: [LeaseRecord] = []
        for (i, name) in names.enumerated() {
            let lease = LeaseRecord(
                server: one.id, name: name, body: Array("{\"n\":\(i)}".utf8), expires: Fixture.time(100 + i))
            try await s.putLease(lease, createOnly: true)
            held.append(lease)
        }
        let big = LeaseRecord(
            server: two.id, name: names[0], body: (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
            expires: Fixture.time(7))
        try await s.putLease(big, createOnly: true)
        try await c.equal(try await s.lease(server: one.id, name: names[1]), held[1], "lease(server:name:)")
        try await c.equal(try await s.lease(server: two.id, name: names[0]), big, "a 70 000-byte lease of server two")
        try await c.equal(
            try await s.leases(server: one.id), held.sorted { $0.name < $1.name }, "leases(server:) ordered by name")
        try await c.equal(try await s.leases(server: two.id), [big], "leases of the other server")

        let conflicting = LeaseRecord(server: one.id, name: names[0], body: [1, 2, 3], expires: Fixture.time(999))
        try await c.expectError(.alreadyExists, "putLease createOnly over an existing lease") {
            try await s.putLease(conflicting, createOnly: true)
        }
        try await c.equal(try await s.lease(server: one.id, name: names[0]), held[0], "lease after a refused create")
        try await s.putLease(conflicting, createOnly: false)
        try await c.equal(try await s.lease(server: one.id, name: names[0]), conflicting, "lease after an overwrite")
        let fresh = LeaseRecord(server: one.id, name: Fixture.hex(33), body: [], expires: Fixture.time(5))
        try await s.putLease(fresh, createOnly: false)
        try await c.equal(try await s.lease(server: one.id, name: fresh.name), fresh, "overwrite that creates")
        try await c.expectError(.notFound, "putLease for a missing server") {
            try await s.putLease(
                LeaseRecord(server: Fixture.uuid(999), name: names[0], body: [], expires: Fixture.time(1)),
                createOnly: true)
        }

        try await s.deleteLease(server: one.id, name: names[0])
        try await c.equal(try await s.lease(server: one.id, name: names[0]), nil, "deleted lease")
        try await c.equal(try await s.lease(server: two.id, name: names[0]), big, "same name of another server")
        try await c.expectError(.notFound, "deleting a lease twice") {
            try await s.deleteLease(server: one.id, name: names[0])
        }
        try await s.putLease(held[0], createOnly: true)
        try await c.equal(try await s.lease(server: one.id, name: names[0]), held[0], "createOnly after a delete")
    }

    private static func concurrentLeaseCreateOnly(_ c: Checker) async throws {
        let store = c.store
        let (servers, _) = try await Fixture.twoServers(store)
        let server = servers[0].id
        for round in 0..<3 {
            let name = Fixture.hex(UInt64(40 + round))
            let outcomes = await withTaskGroup(of: (Int, (any Error)?).self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        do {
                            let lease = LeaseRecord(
                                server: server, name: name, body: [UInt8(writer)], expires: Fixture.time(60))
                            try await store.putLease(lease, createOnly: true)
                            return (writer, nil)
                        } catch {
                            return (writer, error)
                        }
                    }
                }
                return await group.reduce(into: [(Int, (any Error)?)]()) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == nil }.map(\.0)
            try await c.equal(winners.count, 1, "successful concurrent createOnly leases (round \(round))")
            for (writer, error) in outcomes where error != nil && error?.haulCode != .alreadyExists {
                throw c.failure("writer \(writer) failed with \(error!), expected alreadyExists")
            }
            try await c.equal(
                try await store.lease(server: server, name: name)?.body, [UInt8(winners[0])], "the winner's lease")
        }
    }

    private static func deletedObjects(_ c: Checker) async throws {
        let s = c.store
        let (servers, vaults) = try await Fixture.twoServers(s)
        func record(_ n: Int, vault: Vault, server: Server, deletedAt: Int) -> DeletedObject {
            DeletedObject(
                id: Fixture.uuid(500 + n), vault: vault.id, server: server.id,
                objectPath: "data/\(Fixture.hex(UInt64(n)).prefix(2))/\(Fixture.hex(UInt64(n)))",
                trashPrefix: "trash/\(Fixture.uuid(500 + n).uuidString.lowercased())/",
                size: Int64(n) << 33 + 5, deletedAt: Fixture.time(deletedAt),
                purgeAfter: Fixture.time(deletedAt + 14 * 86_400))
        }
        let inOne = [
            record(1, vault: vaults[0], server: servers[0], deletedAt: 300),
            record(2, vault: vaults[0], server: servers[0], deletedAt: 100),
            record(3, vault: vaults[0], server: servers[0], deletedAt: 200),
        ]
        let inTwo = record(4, vault: vaults[1], server: servers[1], deletedAt: 50)
        for d in inOne + [inTwo] { try await s.recordDeletedObject(d) }
        for d in inOne + [inTwo] {
            try await c.equal(try await s.deletedObject(id: d.id), d, "deletedObject(id:) round trip")
        }
        try await c.expectError(.alreadyExists, "recordDeletedObject with an existing id") {
            try await s.recordDeletedObject(record(1, vault: vaults[1], server: servers[1], deletedAt: 1))
        }
        try await c.expectError(.notFound, "recordDeletedObject in a missing vault") {
            var orphan = record(9, vault: vaults[0], server: servers[0], deletedAt: 1)
            orphan.vault = Fixture.uuid(999)
            try await s.recordDeletedObject(orphan)
        }
        try await c.equal(
            try await s.deletedObjects(vault: vaults[0].id).map(\.id), [inOne[1].id, inOne[2].id, inOne[0].id],
            "deletedObjects(vault:) ordered by deletedAt")
        try await c.equal(try await s.deletedObjects(vault: vaults[1].id), [inTwo], "deleted objects of another vault")
        // Purge dates: inTwo 50, inOne[1] 100, inOne[2] 200, inOne[0] 300 (+ 14 days), across vaults.
        let fourteen = 14 * 86_400
        try await c.equal(
            try await s.deletedObjects(purgeDueAt: Fixture.time(fourteen + 49), limit: 10), [],
            "nothing is due before the first purge date")
        try await c.equal(
            try await s.deletedObjects(purgeDueAt: Fixture.time(fourteen + 200), limit: 10).map(\.id),
            [inTwo.id, inOne[1].id, inOne[2].id], "due for purge at a purge date, across vaults, oldest first")
        try await c.equal(
            try await s.deletedObjects(purgeDueAt: Fixture.time(fourteen + 1000), limit: 2).map(\.id),
            [inTwo.id, inOne[1].id], "the purge listing honours its limit")
        try await s.removeDeletedObject(id: inOne[2].id)
        try await c.equal(try await s.deletedObject(id: inOne[2].id), nil, "a removed record")
        try await c.equal(
            try await s.deletedObjects(vault: vaults[0].id).map(\.id), [inOne[1].id, inOne[0].id],
            "list after a removal")
        try await c.expectError(.notFound, "removing a record twice") {
            try await s.removeDeletedObject(id: inOne[2].id)
        }
    }

    private static func audit(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        var stored: [AuditEvent] = []
        for i in 0..<12 {
            let subscription: UUID? = i % 3 == 0 ? a.id : (i % 3 == 1 ? b.id : nil)
            let event = AuditEvent(
                time: Fixture.time(i), subscription: subscription, actor: "subscriptionAdmin:admin",
                action: "vault.create", target: "vault/v\(i)", detail: i == 4 ? "" : "detail \(i) ✓")
            let appended = try await s.appendAudit(event)
            var expected = event
            expected.sequence = appended.sequence
            try await c.equal(appended, expected, "appendAudit returns the event with its sequence")
            if let last = stored.last, appended.sequence <= last.sequence {
                throw c.failure("audit sequence \(appended.sequence) after \(last.sequence) does not increase")
            }
            if appended.sequence <= 0 { throw c.failure("audit sequence \(appended.sequence) is not positive") }
            stored.append(appended)
        }
        let ofA = stored.filter { $0.subscription == a.id }
        try await c.equal(try await s.audit(subscription: a.id, after: 0, limit: 100), ofA, "audit of A, oldest first")
        try await c.equal(
            try await s.audit(subscription: b.id, after: 0, limit: 100), stored.filter { $0.subscription == b.id },
            "audit of B")
        try await c.equal(
            try await s.audit(subscription: nil, after: 0, limit: 100), stored.filter { $0.subscription == nil },
            "operator events (subscription nil)")
        try await c.equal(try await s.audit(subscription: a.id, after: 0, limit: 2), Array(ofA[0..<2]), "first page")
        try await c.equal(
            try await s.audit(subscription: a.id, after: ofA[1].sequence, limit: 2), Array(ofA[2..<4]), "second page")
        try await c.equal(
            try await s.audit(subscription: a.id, after: ofA[3].sequence, limit: 2), [], "page after the last event")
        try await c.equal(try await s.audit(subscription: a.id, after: 0, limit: 0), [], "limit 0")
        var paged: [AuditEvent] = []
        var after: Int64 = 0
        while true {
            let page = try await s.audit(subscription: a.id, after: after, limit: 3)
            paged += page
            guard let last = page.last else { break }
            after = last.sequence
        }
        try await c.equal(paged, ofA, "paging through A three at a time")
    }

    private static func operatorsAndDatacenter(_ c: Checker) async throws {
        let s = c.store
        let ops = ["zoe", "adam", "mia"].enumerated().map { i, name in
            Operator(id: Fixture.uuid(100 + i), name: name, created: Fixture.time(i))
        }
        for op in ops { try await s.createOperator(op) }
        try await c.equal(try await s.operators().map(\.name), ["adam", "mia", "zoe"], "operators() ordered by name")
        try await c.equal(Set(try await s.operators()), Set(ops), "operators() content")
        try await c.expectError(.alreadyExists, "createOperator with an existing id") {
            try await s.createOperator(Operator(id: ops[0].id, name: "other", created: Fixture.time(9)))
        }
        let first = Datacenter(name: "Dock 4", address: "1 Harbour Road\nPort Town")
        try await s.setDatacenter(first)
        try await c.equal(try await s.datacenter(), first, "datacenter() after set")
        let second = Datacenter(name: "Dock 5", address: "2 Quay ✓")
        try await s.setDatacenter(second)
        try await c.equal(try await s.datacenter(), second, "datacenter() after replace")
    }

    private static func tenantSeparation(_ c: Checker) async throws {
        let s = c.store
        let (a, b) = try await Fixture.twoSubscriptions(s)
        // The same names in both subscriptions; every list of B must hold only B's records.
        for (k, sub) in [a, b].enumerated() {
            let base = 1000 * (k + 1)
            try await s.createVault(
                Vault(id: Fixture.uuid(base + 1), subscription: sub.id, name: "v", created: Fixture.time(1)))
            try await s.createServer(
                Server(id: Fixture.uuid(base + 2), vault: Fixture.uuid(base + 1), name: "s", created: Fixture.time(1)))
            try await s.createStorageAccount(
                StorageAccount(id: Fixture.uuid(base + 3), subscription: sub.id, name: "sa", created: Fixture.time(1)))
            try await s.createContainer(
                Container(
                    id: Fixture.uuid(base + 4), storageAccount: Fixture.uuid(base + 3), name: "c",
                    created: Fixture.time(1)))
            try await s.createApplication(
                Application(id: Fixture.uuid(base + 5), subscription: sub.id, name: "app", created: Fixture.time(1)))
            try await s.createIdentity(Fixture.identity(UInt64(base + 6), sub.id, .site, subject: "same"))
            try await s.putLease(
                LeaseRecord(
                    server: Fixture.uuid(base + 2), name: Fixture.hex(1), body: [UInt8(k)],
                    expires: Fixture.time(1)),
                createOnly: true)
            try await s.recordDeletedObject(
                DeletedObject(
                    id: Fixture.uuid(base + 7), vault: Fixture.uuid(base + 1), server: Fixture.uuid(base + 2),
                    objectPath: "keys/\(Fixture.hex(1))", trashPrefix: "trash/x/", size: 1, deletedAt: Fixture.time(1),
                    purgeAfter: Fixture.time(2)))
            try await s.appendAudit(
                AuditEvent(time: Fixture.time(1), subscription: sub.id, actor: "a", action: "x", target: "t"))
        }
        for (k, sub) in [a, b].enumerated() {
            let base = 1000 * (k + 1)
            let who = k == 0 ? "A" : "B"
            try await c.equal(
                try await s.vaults(subscription: sub.id).map(\.id), [Fixture.uuid(base + 1)], "vaults of \(who)")
            try await c.equal(
                try await s.vault(subscription: sub.id, name: "v")?.id, Fixture.uuid(base + 1), "vault v of \(who)")
            try await c.equal(
                try await s.servers(vault: Fixture.uuid(base + 1)).map(\.id), [Fixture.uuid(base + 2)],
                "servers of \(who)")
            try await c.equal(
                try await s.storageAccounts(subscription: sub.id).map(\.id), [Fixture.uuid(base + 3)],
                "storage accounts of \(who)")
            try await c.equal(
                try await s.storageAccount(subscription: sub.id, name: "sa")?.id, Fixture.uuid(base + 3),
                "storage account sa of \(who)")
            try await c.equal(
                try await s.containers(storageAccount: Fixture.uuid(base + 3)).map(\.id), [Fixture.uuid(base + 4)],
                "containers of \(who)")
            try await c.equal(
                try await s.applications(subscription: sub.id).map(\.id), [Fixture.uuid(base + 5)],
                "applications of \(who)")
            try await c.equal(
                try await s.application(subscription: sub.id, name: "app")?.id, Fixture.uuid(base + 5),
                "application app of \(who)")
            try await c.equal(
                try await s.identities(subscription: sub.id, subject: "same").map(\.thumbprint),
                [Fixture.hex(UInt64(base + 6))], "identities of \(who)")
            try await c.equal(
                try await s.leases(server: Fixture.uuid(base + 2)).map(\.body), [[UInt8(k)]], "leases of \(who)")
            try await c.equal(
                try await s.deletedObjects(vault: Fixture.uuid(base + 1)).map(\.id), [Fixture.uuid(base + 7)],
                "deleted objects of \(who)")
            try await c.equal(
                try await s.audit(subscription: sub.id, after: 0, limit: 10).map(\.subscription), [sub.id],
                "audit of \(who)")
        }
    }

    private static func migrateTwice(_ c: Checker) async throws {
        let s = c.store
        let applied = try await s.appliedMigrations()
        if applied.isEmpty { throw c.failure("appliedMigrations() is empty after migrate()") }
        try await c.equal(Set(applied).count, applied.count, "appliedMigrations() has no duplicates")
        let sub = Subscription(id: Fixture.uuid(1), name: "kept", created: Fixture.time(1))
        try await s.createSubscription(sub)
        try await s.migrate()
        try await s.migrate()
        try await c.equal(try await s.appliedMigrations(), applied, "appliedMigrations() after migrating again")
        try await c.equal(try await s.subscriptions(), [sub], "data after migrating again")
    }
}

/// Assertions that throw `ConformanceFailure` for one named check.
private struct Checker: ConformanceChecking {
    let name: String
    let store: any MetadataStore

}

/// Deterministic records, so a failure reproduces. Times are whole seconds: every store keeps at least microseconds.
private enum Fixture {
    static func uuid(_ n: Int) -> UUID {
        let tail = String(UInt64(n), radix: 16)
        return UUID(uuidString: "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - tail.count) + tail)!
    }

    /// 64 lowercase hex digits derived from `seed` (a thumbprint, token hash or lease name).
    static func hex(_ seed: UInt64) -> String {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x5EED
        var out = ""
        for _ in 0..<4 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let digits = String(z, radix: 16)
            out += String(repeating: "0", count: 16 - digits.count) + digits
        }
        return out
    }

    static func time(_ seconds: Int) -> Date { Date(timeIntervalSince1970: 1_750_000_000 + TimeInterval(seconds)) }

    static func identity(_ n: UInt64, _ subscription: UUID?, _ role: Role, subject: String) -> Identity {
        Identity(
            thumbprint: hex(n), subscription: subscription, role: role, subject: subject,
            certificatePEM: "-----BEGIN CERTIFICATE-----\n\(hex(n + 1000))\n-----END CERTIFICATE-----\n",
            notAfter: time(86_400 * 365), created: time(Int(n)))
    }

    static func token(_ n: UInt64, _ identity: Identity) -> TokenRecord {
        TokenRecord(
            hash: hex(n + 5000), thumbprint: identity.thumbprint, subscription: identity.subscription,
            role: identity.role, subject: identity.subject, expires: time(900 + Int(n)))
    }

    /// Two subscriptions, "alpha" and "beta".
    static func twoSubscriptions(_ store: any MetadataStore) async throws -> (Subscription, Subscription) {
        let a = Subscription(id: uuid(1), name: "alpha", created: time(0))
        let b = Subscription(id: uuid(2), name: "beta", created: time(0))
        try await store.createSubscription(a)
        try await store.createSubscription(b)
        return (a, b)
    }

    /// One vault with one server in each of two subscriptions.
    static func twoServers(_ store: any MetadataStore) async throws -> ([Server], [Vault]) {
        let (a, b) = try await twoSubscriptions(store)
        let vaults = [
            Vault(id: uuid(50), subscription: a.id, name: "v", created: time(0)),
            Vault(id: uuid(51), subscription: b.id, name: "v", created: time(0)),
        ]
        let servers = [
            Server(id: uuid(60), vault: vaults[0].id, name: "s", created: time(0)),
            Server(id: uuid(61), vault: vaults[1].id, name: "s", created: time(0)),
        ]
        for v in vaults { try await store.createVault(v) }
        for s in servers { try await store.createServer(s) }
        return (servers, vaults)
    }
}
