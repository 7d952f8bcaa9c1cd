import Crypto
import Foundation
import HaulFormat
import Testing

@testable import HaulIdentity

@Suite struct AssertionTests {
    let world: World

    init() throws { world = try World() }

    private func sign(
        audience: String? = nil, lifetime: Duration = .seconds(60), now: Date = testNow, jti: String? = nil
    ) async throws -> String {
        try await Assertion.sign(
            key: world.key, certificate: world.certificate, audience: audience ?? world.audience,
            subject: "server-a", lifetime: lifetime, now: now, jti: jti ?? Assertion.randomJTI())
    }

    // MARK: the honest path

    @Test func roundTrip() async throws {
        let token = try await sign(jti: "jti-1")
        let verified = try await world.verify(token)
        #expect(verified.thumbprint == world.certificate.thumbprint)
        #expect(verified.certificate == world.certificate)
        #expect(verified.subject == "server-a")
        #expect(verified.jti == "jti-1")
        #expect(verified.issuedAt == testNow)
        #expect(verified.expiresAt == testNow.addingTimeInterval(60))
    }

    @Test func theWireFormat() async throws {
        let token = try await sign(now: testNow.addingTimeInterval(0.75), jti: "abc")
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        let header = try jsonObject(parts[0])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["x5t#S256"] as? String == world.certificate.thumbprint.base64URL)
        #expect(Base64URL.decode(try #require(header["x5t#S256"] as? String)) == world.certificate.thumbprint.bytes)
        #expect(header["x5c"] == nil && header["kid"] == nil)
        let claims = try jsonObject(parts[1])
        #expect(Set(claims.keys) == ["aud", "sub", "iat", "exp", "jti"])
        #expect(claims["aud"] as? String == world.audience)
        #expect(claims["iat"] as? Int == 1_800_000_000)  // rounded down to the second
        #expect(claims["exp"] as? Int == 1_800_000_060)
        #expect(claims["jti"] as? String == "abc")
        #expect(Base64URL.decode(parts[2])?.count == 64)  // r ‖ s
    }

    @Test func randomJTIsAreDistinct() {
        let jtis = Set((0..<100).map { _ in Assertion.randomJTI() })
        #expect(jtis.count == 100)
        #expect(jtis.allSatisfy { $0.count == 22 })
    }

    @Test func signingRefusesBadArguments() async throws {
        for lifetime in [Duration.seconds(301), .zero, .milliseconds(500)] {
            await #expect(throws: HaulError.self) { try await sign(lifetime: lifetime) }
        }
        await #expect(throws: HaulError.self) {
            try await Assertion.sign(
                key: IdentityKey(), certificate: world.certificate, audience: world.audience, subject: "s", now: testNow
            )
        }
        await #expect(throws: HaulError.self) { try await sign(audience: "") }
    }

    @Test func clockSkewIsThirtySecondsEachWay() async throws {
        let early = try await sign(now: testNow.addingTimeInterval(30))
        _ = try await world.verify(early)
        let late = try await sign()
        _ = try await world.verify(late, now: testNow.addingTimeInterval(60 + 29))
    }

    @Test func aLifetimeOf300SecondsIsAccepted() async throws {
        _ = try await world.verify(try await sign(lifetime: .seconds(300)))
        let token = try forge(header: world.header, claims: world.claims(lifetime: 300), sign: es256(world.key))
        _ = try await world.verify(token)
    }

    // MARK: refusals, one per rule

    @Test func algNoneIsRefused() async throws {
        var header = world.header
        header["alg"] = "none"
        let token = try forge(header: header, claims: world.claims()) { _ in [] }
        await expectRefusal(.algorithmNotAllowed) { try await world.verify(token) }
    }

    @Test func hs256ForgedWithThePublicKeyIsRefused() async throws {
        var header = world.header
        header["alg"] = "HS256"
        // The classic confusion: the public key (as PEM text, and as DER) used as the HMAC secret.
        for secret in [Array(world.key.privateKey.publicKey.pemRepresentation.utf8), world.certificate.derBytes] {
            let token = try forge(header: header, claims: world.claims()) { input in
                Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: secret)))
            }
            await expectRefusal(.algorithmNotAllowed) { try await world.verify(token) }
        }
        header["alg"] = "ES384"
        let token = try forge(header: header, claims: world.claims(), sign: es256(world.key))
        await expectRefusal(.algorithmNotAllowed) { try await world.verify(token) }
    }

    @Test func anX5CHeaderIsIgnored() async throws {
        let attacker = try World()  // its own CA, key and certificate; the service registered none of it
        let registry = Registry([world.certificate])
        var header = world.header  // the victim's thumbprint…
        header["x5c"] = [Data(attacker.certificate.derBytes).base64EncodedString()]  // …and the attacker's chain
        let token = try forge(header: header, claims: world.claims(), sign: es256(attacker.key))
        await expectRefusal(.badSignature) { try await world.verify(token, registry: registry) }
        #expect(await registry.lookups == [world.certificate.thumbprint])

        // The attacker's own thumbprint with its certificate in x5c: not registered, whatever x5c says.
        var own = attacker.header
        own["x5c"] = [Data(attacker.certificate.derBytes).base64EncodedString()]
        let second = try forge(header: own, claims: world.claims(), sign: es256(attacker.key))
        await expectRefusal(.unknownCertificate) { try await world.verify(second, registry: registry) }

        // Nor is a key given as jwk or jku used.
        var jwk = world.header
        let point = attacker.key.privateKey.publicKey.rawRepresentation
        jwk["jwk"] = [
            "kty": "EC", "crv": "P-256", "x": Base64URL.encode(point.prefix(32)),
            "y": Base64URL.encode(point.suffix(32)),
        ]
        jwk["jku"] = "https://attacker.example/jwks.json"
        let third = try forge(header: jwk, claims: world.claims(), sign: es256(attacker.key))
        await expectRefusal(.badSignature) { try await world.verify(third, registry: registry) }
    }

    @Test func wrongAudienceIsRefused() async throws {
        let token = try await sign(audience: "https://other.example/v1")
        await expectRefusal(.wrongAudience) { try await world.verify(token) }
        // A prefix or an array holding the audience is not the audience.
        await expectRefusal(.wrongAudience) { try await world.verify(token, audience: "https://other.example") }
        var claims = world.claims()
        claims["aud"] = [world.audience]
        let array = try forge(header: world.header, claims: claims, sign: es256(world.key))
        await expectRefusal(.wrongAudience) { try await world.verify(array) }
    }

    @Test func anExpiredAssertionIsRefused() async throws {
        let token = try await sign(lifetime: .seconds(60))
        await expectRefusal(.expired) { try await world.verify(token, now: testNow.addingTimeInterval(60 + 30)) }
        await expectRefusal(.expired) { try await world.verify(token, now: testNow.addingTimeInterval(86_400)) }
    }

    @Test func aLifetimeOf301SecondsIsRefused() async throws {
        let token = try forge(header: world.header, claims: world.claims(lifetime: 301), sign: es256(world.key))
        await expectRefusal(.lifetimeTooLong) { try await world.verify(token) }
    }

    @Test func aReplayedJTIIsRefused() async throws {
        let registry = Registry([world.certificate])
        let token = try await sign(jti: "once")
        _ = try await world.verify(token, registry: registry)
        await expectRefusal(.replayed) { try await world.verify(token, registry: registry) }
        // Another token with the same jti is a replay too.
        let again = try await sign(now: testNow.addingTimeInterval(1), jti: "once")
        await expectRefusal(.replayed) { try await world.verify(again, registry: registry) }
    }

    @Test func anUnknownThumbprintIsRefused() async throws {
        let token = try await sign()
        await expectRefusal(.unknownCertificate) { try await world.verify(token, registry: Registry()) }
    }

    @Test func aTamperedPayloadIsRefused() async throws {
        let token = try await sign()
        let parts = token.split(separator: ".").map(String.init)
        var claims = try jsonObject(parts[1])
        claims["sub"] = "server-b"
        let payload = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims))
        await expectRefusal(.badSignature) { try await world.verify("\(parts[0]).\(payload).\(parts[2])") }
        // A flipped signature bit, too.
        var signature = try #require(Base64URL.decode(parts[2]))
        signature[5] ^= 0x01
        await expectRefusal(.badSignature) {
            try await world.verify("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature))")
        }
    }

    @Test func aFutureAssertionIsRefused() async throws {
        let token = try await sign(now: testNow.addingTimeInterval(31))
        await expectRefusal(.notYetValid) { try await world.verify(token) }
        var claims = world.claims()
        claims["nbf"] = Int(testNow.timeIntervalSince1970) + 40
        let notBefore = try forge(header: world.header, claims: claims, sign: es256(world.key))
        await expectRefusal(.notYetValid) { try await world.verify(notBefore) }
    }

    @Test(arguments: ["aud", "sub", "iat", "exp", "jti"])
    func aMissingClaimIsRefused(claim: String) async throws {
        var claims = world.claims()
        claims[claim] = nil
        let token = try forge(header: world.header, claims: claims, sign: es256(world.key))
        await expectRefusal(.missingClaim) { try await world.verify(token) }
    }

    @Test func malformedTokensAreRefused() async throws {
        let honest = try await sign()
        let parts = honest.split(separator: ".").map(String.init)
        var crit = world.header
        crit["crit"] = ["exp"]
        var noThumbprint = world.header
        noThumbprint["x5t#S256"] = nil
        var claims = world.claims()
        claims["exp"] = "soon"
        var backwards = world.claims()
        backwards["exp"] = Int(testNow.timeIntervalSince1970) - 1
        let tokens = [
            "", "a.b", "\(parts[0]).\(parts[1])", honest + ".x", "!!.\(parts[1]).\(parts[2])",
            "\(Base64URL.encode(Array("[1]".utf8))).\(parts[1]).\(parts[2])",
            String(repeating: "a", count: 9_000),
            try forge(header: crit, claims: world.claims(), sign: es256(world.key)),
            try forge(header: noThumbprint, claims: world.claims(), sign: es256(world.key)),
            try forge(header: world.header, claims: claims, sign: es256(world.key)),
            try forge(header: world.header, claims: backwards, sign: es256(world.key)),
        ]
        for token in tokens {
            await expectRefusal(.malformed) { try await world.verify(token) }
        }
    }

    @Test func anExpiredCertificateIsRefused() async throws {
        let later = world.certificate.notValidAfter.addingTimeInterval(3_600)
        let token = try await sign(now: later)
        await expectRefusal(.certificateNotValid) { try await world.verify(token, now: later) }
    }

    @Test func aRefusedTokenDoesNotUseUpItsJTI() async throws {
        let registry = Registry([world.certificate])
        let token = try await sign(jti: "keep")
        await expectRefusal(.wrongAudience) { try await world.verify(token, audience: "x", registry: registry) }
        #expect(await registry.replayChecks == 0)
        _ = try await world.verify(token, registry: registry)
    }

    @Test func lookupErrorsPassThroughUnchanged() async throws {
        let token = try await sign()
        let error = try await #require(throws: HaulError.self) {
            try await AssertionVerifier().verify(
                token: token, audience: world.audience, now: testNow,
                lookup: { _ in throw HaulError(.io, "database down", transient: true) },
                replay: { _, _ in true })
        }
        #expect(error.code == .io && error.isTransient)
        #expect(error.assertionRefusal == nil)
    }

    @Test func everyReasonIsDistinct() {
        let raw = AssertionError.Reason.allCases.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
    }
}
