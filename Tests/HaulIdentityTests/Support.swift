import Crypto
import Foundation
import HaulFormat
import Testing

@testable import HaulIdentity

/// The fixed clock of the tests: 2027-01-15T08:00:00Z.
let testNow = Date(timeIntervalSince1970: 1_800_000_000)

/// A text fixture of this target.
func fixture(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return try String(contentsOf: url, encoding: .utf8)
}

/// A fresh empty directory, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("haul-identity-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

/// The service side of the tests: registered certificates by thumbprint, and the used jtis.
actor Registry {
    private var certificates: [Thumbprint: IdentityCertificate] = [:]
    private var usedJTIs: [String: Date] = [:]
    private(set) var lookups: [Thumbprint] = []
    private(set) var replayChecks = 0

    init(_ certificates: [IdentityCertificate] = []) {
        for certificate in certificates { self.certificates[certificate.thumbprint] = certificate }
    }

    func lookup(_ thumbprint: Thumbprint) -> IdentityCertificate? {
        lookups.append(thumbprint)
        return certificates[thumbprint]
    }

    func firstUse(_ jti: String, _ expiresAt: Date) -> Bool {
        replayChecks += 1
        return usedJTIs.updateValue(expiresAt, forKey: jti) == nil
    }
}

/// A CA, a caller's key and its issued certificate, all at ``testNow``.
struct World {
    let authority: CertificateAuthority
    let key: IdentityKey
    let certificate: IdentityCertificate
    let audience = "https://haul.example/v1"

    init() throws {
        authority = try CertificateAuthority.create(
            commonName: "Haul test CA", notValidBefore: testNow.addingTimeInterval(-86_400),
            notValidAfter: testNow.addingTimeInterval(86_400 * 365))
        key = IdentityKey()
        let request = try CertificateRequest(key: key, commonName: "server-a")
        certificate = try authority.issueClientCertificate(
            for: request, commonName: "server-a", notValidBefore: testNow.addingTimeInterval(-3_600),
            notValidAfter: testNow.addingTimeInterval(86_400 * 30))
    }

    /// Verifies `token` against a registry holding this world's certificate (or `registry`).
    func verify(
        _ token: String, audience: String? = nil, now: Date = testNow, registry: Registry? = nil
    ) async throws -> VerifiedAssertion {
        let registry = registry ?? Registry([certificate])
        return try await AssertionVerifier().verify(
            token: token, audience: audience ?? self.audience, now: now,
            lookup: { await registry.lookup($0) },
            replay: { jti, expiresAt in await registry.firstUse(jti, expiresAt) })
    }

    /// Claims as the signer would write them at `now`.
    func claims(lifetime: Int = 60, now: Date = testNow) -> [String: Any] {
        let iat = Int(now.timeIntervalSince1970)
        return ["aud": audience, "sub": "server-a", "iat": iat, "exp": iat + lifetime, "jti": Assertion.randomJTI()]
    }

    /// The header of an honest assertion.
    var header: [String: Any] { ["alg": "ES256", "typ": "JWT", "x5t#S256": certificate.thumbprint.base64URL] }
}

/// A compact JWS with arbitrary header and claims, signed over `header.claims` by `sign`.
func forge(header: [String: Any], claims: [String: Any], sign: ([UInt8]) throws -> [UInt8]) throws -> String {
    let headerJSON = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    let claimsJSON = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
    let signingInput = Base64URL.encode(headerJSON) + "." + Base64URL.encode(claimsJSON)
    return signingInput + "." + Base64URL.encode(try sign(Array(signingInput.utf8)))
}

/// An ES256 signature (raw `r ‖ s`) by `key`.
func es256(_ key: IdentityKey) -> ([UInt8]) throws -> [UInt8] {
    { input in [UInt8](try key.privateKey.signature(for: input).rawRepresentation) }
}

/// Expects `body` to throw an assertion refusal for `reason`.
func expectRefusal(
    _ reason: AssertionError.Reason, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> VerifiedAssertion
) async {
    do {
        let verified = try await body()
        Issue.record("expected a refusal (\(reason)), got \(verified)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.haulCode == .authenticationFailed, sourceLocation: sourceLocation)
        #expect(error.assertionRefusal == reason, "\(error)", sourceLocation: sourceLocation)
    }
}

/// The JSON object in a base64url part of a compact JWS.
func jsonObject(_ part: some StringProtocol) throws -> [String: Any] {
    let bytes = try #require(Base64URL.decode(part))
    return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}
