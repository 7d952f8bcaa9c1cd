import Foundation
import HaulProtocol
import Testing

@Suite struct UsageTests {
    @Test func usageCountsEachServersObjects() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (a, tokenA, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "a")
            let (_, _, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "b")
            _ = try await client.call(
                .put, APIPath.object(server: a, kind: "config", name: ""), token: tokenA, body: [1, 2])
            let pack = [UInt8](repeating: 9, count: 100)
            _ = try await client.call(
                .put, APIPath.object(server: a, kind: "data", name: sha256Hex(pack)), token: tokenA, body: pack)
            let usage = try await client.call(.get, APIPath.usage(try ResourceName("v1")), token: adminToken)
                .decode(VaultUsage.self)
            #expect(usage.bytes == 102)
            #expect(usage.objects == 2)
            #expect(usage.servers.map(\.name.rawValue) == ["a", "b"])
            #expect(usage.servers.map(\.bytes) == [102, 0])
            // A server may not read usage.
            #expect(
                try await client.call(.get, APIPath.usage(try ResourceName("v1")), token: tokenA).status == .forbidden)
        }
    }

    @Test func siteCredentialExpiryIsChecked() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            _ = try await client.call(
                .post, APIRoute.vaults, token: adminToken, json: VaultCreateRequest(name: try ResourceName("v1")))
            for days in [-1.0, 400.0] {
                let result = try await client.call(
                    .post, APIPath.siteCredentials(try ResourceName("v1")), token: adminToken,
                    json: SiteCredentialRequest(
                        csrPEM: IdentityKeyFactory.make().csr,
                        expiresAt: harness.clock.now.addingTimeInterval(days * 86_400)))
                #expect(result.errorCode == .invalidSettings)
            }
            let site = try await siteIdentity(harness, client, adminToken, vault: "v1")
            let siteToken = try await client.token(harness, site)
            let me = try await client.call(.get, APIRoute.me, token: siteToken).decode(CallerInfo.self)
            #expect(me.role == .site)
        }
    }

    @Test func recoverRevokesTheOldIdentity() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, oldToken, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let made = IdentityKeyFactory.make()
            let recovered = try await client.call(
                .post, APIPath.serverRecover(try ResourceName("v1"), try ResourceName("s1")), token: adminToken,
                json: ServerRecoverRequest(csrPEM: made.csr))
            #expect(recovered.status == .ok)
            #expect(try recovered.decode(ServerRegistration.self).serverId == server)
            let list = APIPath.objectList(server: server, kind: "snapshots")
            #expect(try await client.call(.get, list, token: oldToken).status == .unauthorized)
        }
    }
}
