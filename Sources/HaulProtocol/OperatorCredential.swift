import Foundation

/// A datacenter operator's credential file, written by `hauld admin operator create` as JSON with mode 0600.
public struct OperatorCredential: Codable, Sendable, Hashable {
    /// The file format version; this is 1.
    public var version: Int
    public var serviceURL: String
    /// SPKI SHA-256 pins of the service's TLS key, standard base64.
    public var pins: [String]
    public var operatorId: UUID
    public var name: String
    /// The operator identity's certificate (role `operator`), PEM.
    public var certificatePEM: String
    /// The operator identity's P-256 private key, PEM.
    public var privateKeyPEM: String
    public var caCertificatePEM: String

    public init(
        version: Int = 1, serviceURL: String, pins: [String], operatorId: UUID, name: String, certificatePEM: String,
        privateKeyPEM: String, caCertificatePEM: String
    ) {
        self.version = version
        self.serviceURL = serviceURL
        self.pins = pins
        self.operatorId = operatorId
        self.name = name
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.caCertificatePEM = caCertificatePEM
    }

    /// The `aud` of assertions for this service.
    public var tokenAudience: String { APIAudience.token(serviceURL: serviceURL) }
}
