import Foundation
import HaulProtocol
import Testing

@Suite struct AuditTests {
    @Test func administrativeAndDestructiveActionsAreAudited() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("x".utf8)
            let path = APIPath.object(server: server, kind: "snapshots", name: sha256Hex(bytes))
            _ = try await client.call(.put, path, token: token, body: bytes)
            _ = try await client.call(.delete, path, token: token)
            _ = try await client.call(
                .post, APIRoute.storageAccounts, token: adminToken,
                json: StorageAccountCreateRequest(name: try ResourceName("sa1")))
            _ = try await client.call(
                .post, APIPath.serverRevoke(try ResourceName("v1"), try ResourceName("s1")), token: adminToken)
            let page = try await client.call(.get, APIPath.audit(), token: adminToken).decode(AuditPage.self)
            let actions = page.events.map(\.action)
            #expect(actions.contains("subscription.create"))
            #expect(actions.contains("vault.create"))
            #expect(actions.contains("server.register"))
            #expect(actions.contains("object.delete"))
            #expect(actions.contains("storageAccount.create"))
            #expect(actions.contains("server.revoke"))
            let deletion = try #require(page.events.first { $0.action == "object.delete" })
            #expect(deletion.actor == "server:\(server.uuidString.lowercased())")
            // The revoked server's token stops working at once.
            let refused = try await client.call(.get, path, token: token).errorCode
            #expect(refused == .tokenRevoked || refused == .identityRevoked)
            // Paging.
            let first = try await client.call(.get, APIPath.audit(limit: 2), token: adminToken).decode(AuditPage.self)
            #expect(first.events.count == 2)
            let next = try await client.call(.get, APIPath.audit(after: first.next, limit: 100), token: adminToken)
                .decode(AuditPage.self)
            #expect(next.events.first?.sequence == (first.events.last?.sequence ?? 0) + 1)
        }
    }
}
