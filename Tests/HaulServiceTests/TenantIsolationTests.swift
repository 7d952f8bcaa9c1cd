import Foundation
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
