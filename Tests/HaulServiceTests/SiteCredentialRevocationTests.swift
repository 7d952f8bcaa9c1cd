import Foundation
import HaulIdentity
import HaulProtocol
import Testing

/// docs/service.md §9: publish settings (site credentials) can be listed and revoked; a revoked one stops working
/// at once, and nothing of another vault or subscription can be revoked or even seen.
@Suite struct SiteCredentialRevocationTests {
    @Test func revokedSettingsStopAtOnceAndOthersKeepWorking() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let vault = try ResourceName("office")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            _ = try await client.call(.post, APIRoute.vaults, token: adminToken, json: VaultCreateRequest(name: vault))
            let stolen = try await siteIdentity(harness, client, adminToken, vault: "office")
            harness.clock.advance(1)
            let kept = try await siteIdentity(harness, client, adminToken, vault: "office")
            let stolenToken = try await client.token(harness, stolen)
            // A server the stolen settings registered before the revocation.
            let key = IdentityKey()
            let registered = try await client.call(
                .post, APIPath.servers(vault), token: stolenToken,
                json: ServerRegisterRequest(
                    name: try ResourceName("web-1"),
                    csrPEM: try CertificateRequest(key: key, commonName: "web-1").pem))
            #expect(registered.status == .created)
            let registration = try registered.decode(ServerRegistration.self)
            let server = TestIdentity(
                key: key, certificate: try IdentityCertificate(pem: registration.certificatePEM))

            let listed = try await client.call(.get, APIPath.siteCredentials(vault), token: adminToken)
                .decode(SiteCredentialList.self).credentials
            #expect(listed.map(\.thumbprint) == [stolen.certificate.thumbprint.hex, kept.certificate.thumbprint.hex])
            #expect(listed.allSatisfy { !$0.revoked })
            // Sites may not list or revoke settings.
            #expect(
                try await client.call(.get, APIPath.siteCredentials(vault), token: stolenToken).status == .forbidden)
            let byStolen = try await client.call(
                .post, APIPath.siteCredentialRevoke(vault, thumbprint: kept.certificate.thumbprint.hex),
                token: stolenToken)
            #expect(byStolen.status == .forbidden)

            let revoke = try await client.call(
                .post, APIPath.siteCredentialRevoke(vault, thumbprint: stolen.certificate.thumbprint.hex),
                token: adminToken)
            #expect(revoke.status == .ok)
            #expect(try revoke.decode(SiteCredentialInfo.self).revoked)
            // The token the stolen settings already hold is refused, and no new one is issued.
            let me = try await client.call(.get, APIRoute.me, token: stolenToken)
            #expect(me.status == .unauthorized)
            #expect(me.errorCode == .identityRevoked || me.errorCode == .tokenRevoked)
            let exchange = try await client.call(
                .post, APIRoute.token, json: TokenRequest(assertion: try await harness.assertion(stolen)))
            #expect(exchange.errorCode == .identityRevoked)
            // The other settings, and the server registered earlier, keep working.
            let keptToken = try await client.token(harness, kept)
            #expect(try await client.call(.get, APIRoute.me, token: keptToken).status == .ok)
            let serverToken = try await client.token(harness, server)
            #expect(try await client.call(.get, APIRoute.me, token: serverToken).status == .ok)
            // Revoking again changes nothing and is not audited twice.
            let again = try await client.call(
                .post, APIPath.siteCredentialRevoke(vault, thumbprint: stolen.certificate.thumbprint.hex),
                token: adminToken)
            #expect(again.status == .ok)
            let after = try await client.call(.get, APIPath.siteCredentials(vault), token: adminToken)
                .decode(SiteCredentialList.self).credentials
            #expect(after.map(\.revoked) == [true, false])
            let events = try await client.call(.get, APIPath.audit(), token: adminToken).decode(AuditPage.self).events
            let revocations = events.filter { $0.action == "siteCredential.revoke" }
            #expect(revocations.map(\.detail) == [stolen.certificate.thumbprint.hex])
        }
    }

    @Test func nothingOfAnotherVaultOrSubscriptionCanBeRevoked() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, acme) = try await harness.subscription("acme")
        let (_, other) = try await harness.subscription("other")
        try await harness.test { client in
            let acmeToken = try await client.token(harness, acme)
            let otherToken = try await client.token(harness, other)
            for name in ["office", "lab"] {
                _ = try await client.call(
                    .post, APIRoute.vaults, token: acmeToken, json: VaultCreateRequest(name: try ResourceName(name)))
            }
            _ = try await client.call(
                .post, APIRoute.vaults, token: otherToken, json: VaultCreateRequest(name: try ResourceName("office")))
            let site = try await siteIdentity(harness, client, acmeToken, vault: "office")
            let thumbprint = site.certificate.thumbprint.hex
            let (_, _, server) = try await client.server(harness, admin: acmeToken, vault: "office", name: "s1")
            let unknown = try await client.call(
                .post,
                APIPath.siteCredentialRevoke(try ResourceName("office"), thumbprint: String(repeating: "e", count: 64)),
                token: acmeToken)
            #expect(unknown.status == .notFound)
            let attempts: [(String, String, String)] = [
                // Another subscription, same vault name.
                (otherToken, "office", thumbprint),
                // Same subscription, another vault.
                (acmeToken, "lab", thumbprint),
                // A server's certificate is not a site credential.
                (acmeToken, "office", server.certificate.thumbprint.hex),
                // Not a thumbprint at all.
                (acmeToken, "office", "..%2F.."),
            ]
            for (token, vault, print) in attempts {
                let result = try await client.call(
                    .post, APIPath.siteCredentialRevoke(try ResourceName(vault), thumbprint: print), token: token)
                #expect(result.status == .notFound, "\(vault) \(print): \(result.status)")
                #expect(result.errorCode == .notFound)
            }
            // The other subscription lists none of acme's settings.
            let foreign = try await client.call(
                .get, APIPath.siteCredentials(try ResourceName("office")), token: otherToken)
            #expect(try foreign.decode(SiteCredentialList.self).credentials.isEmpty)
            // The settings still work.
            #expect(
                try await client.call(.get, APIRoute.me, token: try await client.token(harness, site)).status == .ok)
        }
    }
}
