import Crypto
import Foundation
import HaulIdentity
import HaulProtocol
import HummingbirdTesting

func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// A fresh key with its CSR.
enum IdentityKeyFactory {
    struct Made {
        let key: IdentityKey
        let csr: String
    }
    static func make(_ name: String = "test") -> Made {
        let key = IdentityKey()
        return Made(key: key, csr: try! CertificateRequest(key: key, commonName: name).pem)
    }
}

/// A `site` identity of `vault`, issued through the publish-settings route.
func siteIdentity(
    _ harness: ServiceHarness, _ client: any TestClientProtocol, _ adminToken: String, vault: String
) async throws -> TestIdentity {
    let made = IdentityKeyFactory.make("site")
    let result = try await client.call(
        .post, APIPath.siteCredentials(try ResourceName(vault)), token: adminToken,
        json: SiteCredentialRequest(csrPEM: made.csr, expiresAt: harness.clock.now.addingTimeInterval(10 * 86_400)))
    guard result.status == .created else { throw HaulTestError("site credential failed: \(result.text)") }
    let credential = try result.decode(SiteCredential.self)
    return TestIdentity(key: made.key, certificate: try IdentityCertificate(pem: credential.certificatePEM))
}
