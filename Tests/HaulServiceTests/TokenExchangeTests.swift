import Crypto
import Foundation
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Testing

@Suite struct TokenExchangeTests {
    @Test func happyPath() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (subscription, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let result = try await client.call(
                .post, APIRoute.token, json: TokenRequest(assertion: try await harness.assertion(admin)))
            #expect(result.status == .ok)
            let token = try result.decode(TokenResponse.self)
            #expect(token.role == .subscriptionAdmin)
            #expect(token.subscription == subscription)
            #expect(token.expiresAt == harness.clock.now.addingTimeInterval(15 * 60))
            #expect(
                Data(
                    base64Encoded: token.token.replacingOccurrences(of: "-", with: "+")
                        .replacingOccurrences(of: "_", with: "/") + "=")?.count == 32)
            let me = try await client.call(.get, APIRoute.me, token: token.token)
            #expect(me.status == .ok)
            #expect(try me.decode(CallerInfo.self).role == .subscriptionAdmin)
            // Stored only as its SHA-256.
            let hash = SHA256.hash(data: Array(token.token.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(try await harness.metadata.token(hash: hash) != nil)
        }
    }

    @Test func expiredAssertion() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let old = try await harness.assertion(admin, at: harness.clock.now.addingTimeInterval(-600))
        try await harness.test { client in
            let result = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: old))
            #expect(result.status == .unauthorized)
            #expect(result.errorCode == .assertionExpired)
        }
    }

    @Test func replayedAssertion() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let assertion = try await harness.assertion(admin)
        try await harness.test { client in
            let first = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: assertion))
            #expect(first.status == .ok)
            let second = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: assertion))
            #expect(second.status == .unauthorized)
            #expect(second.errorCode == .assertionReplayed)
        }
    }

    @Test func wrongAudience() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let assertion = try await harness.assertion(admin, audience: "https://elsewhere.test/v1/token")
        try await harness.test { client in
            let result = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: assertion))
            #expect(result.status == .unauthorized)
            #expect(result.errorCode == .assertionWrongAudience)
        }
    }

    @Test func unknownCertificate() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        // A certificate from the right CA that was never registered.
        let key = IdentityKey()
        let certificate = try harness.authority.issueClientCertificate(
            for: try CertificateRequest(key: key, commonName: "stranger"), commonName: "stranger",
            notValidBefore: harness.clock.now.addingTimeInterval(-60),
            notValidAfter: harness.clock.now.addingTimeInterval(3600))
        let assertion = try await harness.assertion(TestIdentity(key: key, certificate: certificate))
        try await harness.test { client in
            let result = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: assertion))
            #expect(result.status == .unauthorized)
            #expect(result.errorCode == .assertionUnknownCertificate)
        }
    }

    @Test func revokedIdentity() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            try await harness.metadata.revokeIdentity(thumbprint: admin.certificate.thumbprint.hex)
            let exchange = try await client.call(
                .post, APIRoute.token, json: TokenRequest(assertion: try await harness.assertion(admin)))
            #expect(exchange.status == .unauthorized)
            #expect(exchange.errorCode == .identityRevoked)
            // The token issued before is refused at once too.
            let me = try await client.call(.get, APIRoute.me, token: token)
            #expect(me.status == .unauthorized)
            #expect(me.errorCode == .tokenRevoked || me.errorCode == .identityRevoked)
        }
    }

    @Test func revokedToken() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let hash = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
            try await harness.metadata.revokeToken(hash: hash)
            let me = try await client.call(.get, APIRoute.me, token: token)
            #expect(me.status == .unauthorized)
            #expect(me.errorCode == .tokenRevoked)
        }
    }

    @Test func expiredToken() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            harness.clock.advance(15 * 60 + 1)
            let me = try await client.call(.get, APIRoute.me, token: token)
            #expect(me.status == .unauthorized)
            #expect(me.errorCode == .tokenExpired)
        }
    }

    @Test func missingOrUnknownBearer() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        try await harness.test { client in
            let none = try await client.call(.get, APIRoute.vaults)
            #expect(none.status == .unauthorized)
            #expect(none.errorCode == .unauthenticated)
            let unknown = try await client.call(.get, APIRoute.vaults, token: "bm90LWEtdG9rZW4")
            #expect(unknown.status == .unauthorized)
            #expect(unknown.errorCode == .unauthenticated)
        }
    }

    @Test func malformedAssertion() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        try await harness.test { client in
            let result = try await client.call(.post, APIRoute.token, json: TokenRequest(assertion: "a.b"))
            #expect(result.status == .unauthorized)
            #expect(result.errorCode == .assertionMalformed)
        }
    }
}
