import Foundation
import HTTPTypes
import HaulProtocol
import Testing

@Suite struct TenantIsolationTests {
    @Test func otherSubscriptionsVaultIsNotFound() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, adminA) = try await harness.subscription("tenant-a")
        let (_, adminB) = try await harness.subscription("tenant-b")
        try await harness.test { client in
            let tokenA = try await client.token(harness, adminA)
            let tokenB = try await client.token(harness, adminB)
            let created = try await client.call(
                .post, APIRoute.vaults, token: tokenA, json: VaultCreateRequest(name: try ResourceName("secret")))
            #expect(created.status == .created)
            let foreign = try await client.call(.get, APIPath.vault(try ResourceName("secret")), token: tokenB)
            let missing = try await client.call(.get, APIPath.vault(try ResourceName("nothing")), token: tokenB)
            #expect(foreign.status == .notFound)
            #expect(foreign.errorCode == .notFound)
            // Exactly the answer for a vault that does not exist, apart from the name echoed.
            #expect(foreign.text.replacingOccurrences(of: "secret", with: "nothing") == missing.text)
            let list = try await client.call(.get, APIRoute.vaults, token: tokenB)
            #expect(try list.decode(VaultList.self).vaults.isEmpty)
            let servers = try await client.call(.get, APIPath.servers(try ResourceName("secret")), token: tokenB)
            #expect(servers.status == .notFound)
        }
    }

    @Test func serverCannotReachAnotherServersRepository() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (serverA, tokenA, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "a")
            let (serverB, tokenB, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "b")
            let bytes: [UInt8] = Array("snapshot of b".utf8)
            let name = sha256Hex(bytes)
            let path = APIPath.object(server: serverB, kind: "snapshots", name: name)
            let put = try await client.call(.put, path, token: tokenB, body: bytes)
            #expect(put.status == .created)

            let read = try await client.call(.get, path, token: tokenA)
            #expect(read.status == .notFound)
            let delete = try await client.call(.delete, path, token: tokenA)
            #expect(delete.status == .notFound)
            let list = try await client.call(
                .get, APIPath.objectList(server: serverB, kind: "snapshots"), token: tokenA)
            #expect(list.status == .notFound)
            let write = try await client.call(
                .put, APIPath.object(server: serverB, kind: "keys", name: name), token: tokenA, body: bytes)
            #expect(write.status == .notFound)
            // B's object is untouched; A's own repository is empty.
            #expect(try await client.call(.get, path, token: tokenB).body == bytes)
            let own = try await client.call(.get, APIPath.objectList(server: serverA, kind: "snapshots"), token: tokenA)
            #expect(try own.decode(ObjectListPage.self).objects.isEmpty)
            // An admin token does not reach repositories at all.
            #expect(try await client.call(.get, path, token: adminToken).status == .forbidden)
        }
    }

    /// docs/service.md §6: nothing in an answer reveals whether another tenant stores the same content. Two
    /// subscriptions upload the same bytes under the same name: each answer is what a first upload gets, each
    /// tenant's usage counts its own copy, and deleting one copy leaves the other.
    @Test func identicalContentInTwoTenantsRevealsNothing() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, acme) = try await harness.subscription("acme")
        let (_, other) = try await harness.subscription("other")
        try await harness.test { client in
            let acmeAdmin = try await client.token(harness, acme)
            let otherAdmin = try await client.token(harness, other)
            let (acmeServer, acmeToken, _) = try await client.server(harness, admin: acmeAdmin, vault: "v1", name: "s1")
            let (otherServer, otherToken, _) = try await client.server(
                harness, admin: otherAdmin, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("the same pack in two tenants".utf8)
            let name = sha256Hex(bytes)
            let fresh: [UInt8] = Array("never stored anywhere".utf8)

            // The second tenant's upload answers like an upload of content stored nowhere.
            let first = try await client.call(
                .put, APIPath.object(server: acmeServer, kind: "data", name: name), token: acmeToken, body: bytes)
            let second = try await client.call(
                .put, APIPath.object(server: otherServer, kind: "data", name: name), token: otherToken, body: bytes)
            let novel = try await client.call(
                .put, APIPath.object(server: otherServer, kind: "data", name: sha256Hex(fresh)), token: otherToken,
                body: fresh)
            #expect(first.status == .created && second.status == .created && novel.status == .created)
            #expect(second.body == novel.body)
            #expect(second.headers.map(\.name) == novel.headers.map(\.name))
            // Before it uploads, the other tenant's HEAD of that name is a plain 404, like any unknown name.
            var createOnly = HTTPFields()
            createOnly[.ifNoneMatch] = "*"
            let third = try await client.server(harness, admin: otherAdmin, vault: "v1", name: "s2")
            let head = try await client.call(
                .head, APIPath.object(server: third.0, kind: "data", name: name), token: third.1)
            #expect(head.status == .notFound)
            let createOnlyPut = try await client.call(
                .put, APIPath.object(server: third.0, kind: "data", name: name), token: third.1, body: bytes,
                headers: createOnly)
            #expect(createOnlyPut.status == .created)

            for (admin, bytesStored) in [
                (acmeAdmin, Int64(bytes.count)), (otherAdmin, Int64(2 * bytes.count + fresh.count)),
            ] {
                let usage = try await client.call(.get, APIPath.usage(try ResourceName("v1")), token: admin)
                #expect(try usage.decode(VaultUsage.self).bytes == bytesStored)
            }
            // Deleting acme's copy leaves the other tenant's.
            #expect(
                try await client.call(
                    .delete, APIPath.object(server: acmeServer, kind: "data", name: name), token: acmeToken
                ).status == .noContent)
            let kept = try await client.call(
                .get, APIPath.object(server: otherServer, kind: "data", name: name), token: otherToken)
            #expect(kept.body == bytes)
        }
    }

    @Test func siteSeesOnlyItsVault() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            for name in ["v1", "v2"] {
                _ = try await client.call(
                    .post, APIRoute.vaults, token: adminToken, json: VaultCreateRequest(name: try ResourceName(name)))
            }
            let site = try await siteIdentity(harness, client, adminToken, vault: "v1")
            let siteToken = try await client.token(harness, site)
            #expect(try await client.call(.get, APIPath.vault(try ResourceName("v1")), token: siteToken).status == .ok)
            #expect(
                try await client.call(.get, APIPath.vault(try ResourceName("v2")), token: siteToken).status == .notFound
            )
            // Nothing destructive: revoking a server, listing deleted objects, creating vaults are forbidden.
            let create = try await client.call(
                .post, APIRoute.vaults, token: siteToken, json: VaultCreateRequest(name: try ResourceName("v3")))
            #expect(create.status == .forbidden)
            #expect(create.errorCode == .forbidden)
            // But it registers servers into its vault.
            let key = IdentityKeyFactory.make()
            let register = try await client.call(
                .post, APIPath.servers(try ResourceName("v1")), token: siteToken,
                json: ServerRegisterRequest(name: try ResourceName("s1"), csrPEM: key.csr))
            #expect(register.status == .created)
        }
    }
}
