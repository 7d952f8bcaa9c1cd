import Foundation

/// The subscription administrator's credential file (docs/service.md §9), written by `hauld admin credential` as
/// JSON with mode 0600. For the administrator's workstation only, never a protected machine.
public struct AdminCredential: Codable, Sendable, Hashable {
    /// The file format version; this is 1.
    public var version: Int
    /// The service URL, e.g. `https://backup.example:8443`; the token audience is `<serviceURL>/v1/token`.
    public var serviceURL: String
    /// SPKI SHA-256 pins of the service's TLS key, standard base64; any one may match.
    public var pins: [String]
    public var subscription: UUID
    /// The admin identity's certificate (role `subscriptionAdmin`), PEM.
    public var certificatePEM: String
    /// The admin identity's P-256 private key, PEM (PKCS #8).
    public var privateKeyPEM: String
    /// The service CA that issued the certificate, PEM.
    public var caCertificatePEM: String

    public init(
        version: Int = 1, serviceURL: String, pins: [String], subscription: UUID, certificatePEM: String,
        privateKeyPEM: String, caCertificatePEM: String
    ) {
        self.version = version
        self.serviceURL = serviceURL
        self.pins = pins
        self.subscription = subscription
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.caCertificatePEM = caCertificatePEM
    }

    /// The `aud` of assertions for this service.
    public var tokenAudience: String { APIAudience.token(serviceURL: serviceURL) }
}

/// How the token audience is formed: `<service URL without trailing slash>/v1/token`.
public enum APIAudience {
    public static func token(serviceURL: String) -> String {
        var base = serviceURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + APIRoute.token
    }
}
