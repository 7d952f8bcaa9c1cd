import Foundation
import HaulClient
import HaulFormat
import HaulIdentity

/// A key and the certificate the service issued for it: what signs a caller's assertions.
public struct CallerIdentity: Sendable {
    public let key: IdentityKey
    public let certificate: IdentityCertificate

    /// - Throws: `invalidArgument` when the certificate is not for the key.
    public init(key: IdentityKey, certificate: IdentityCertificate) throws {
        guard key.matches(certificate) else {
            throw HaulError(
                .invalidArgument, "the certificate \(certificate.thumbprint) is not for this identity key")
        }
        self.key = key
        self.certificate = certificate
    }

    /// Parses PEM key and certificate.
    public init(keyPEM: String, certificatePEM: String) throws {
        try self.init(key: try IdentityKey(pem: keyPEM), certificate: try IdentityCertificate(pem: certificatePEM))
    }

    /// Signs assertions for the token endpoint (docs/identity.md §4): subject = the certificate's thumbprint.
    public func signer(now: @escaping @Sendable () -> Date = { Date() }) -> AssertionSigner {
        let key = self.key
        let certificate = self.certificate
        return { audience in
            try await Assertion.sign(
                key: key, certificate: certificate, audience: audience,
                subject: certificate.subjectCommonName ?? certificate.thumbprint.hex, now: now())
        }
    }

    /// A session with the service as this identity.
    public func session(serviceURL: String, pins: [SPKIPin]) throws -> ServiceSession {
        try ServiceSession(serviceURL: serviceURL, pins: ServicePins(pins), signer: signer())
    }
}
