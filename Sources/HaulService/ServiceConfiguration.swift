import Foundation

/// Settings of one `hauld` instance. Everything has a default that suits a single embedded instance.
public struct ServiceConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    public var port: Int
    /// The URL clients use (`https://host:port`); the token audience is `<serviceURL>/v1/token`.
    public var serviceURL: String
    /// The largest object body accepted by `PUT` (docs/service.md §6).
    public var maximumObjectSize: Int
    /// The largest JSON request body accepted.
    public var maximumJSONSize: Int
    /// How long a bearer token lives.
    public var tokenLifetime: TimeInterval
    /// How long a server certificate issued at registration lives.
    public var serverCertificateLifetime: TimeInterval
    /// The TLS certificate and key (PEM); `nil` serves plain HTTP (tests only).
    public var tls: TLSFiles?

    public struct TLSFiles: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
        public init(certificatePEM: String, privateKeyPEM: String) {
            self.certificatePEM = certificatePEM
            self.privateKeyPEM = privateKeyPEM
        }
    }

    public init(
        host: String = "127.0.0.1", port: Int = 8443, serviceURL: String? = nil,
        maximumObjectSize: Int = 256 * 1024 * 1024, maximumJSONSize: Int = 1024 * 1024,
        tokenLifetime: TimeInterval = 15 * 60, serverCertificateLifetime: TimeInterval = 2 * 365 * 86_400,
        tls: TLSFiles? = nil
    ) {
        self.host = host
        self.port = port
        self.serviceURL = serviceURL ?? "https://\(host):\(port)"
        self.maximumObjectSize = maximumObjectSize
        self.maximumJSONSize = maximumJSONSize
        self.tokenLifetime = tokenLifetime
        self.serverCertificateLifetime = serverCertificateLifetime
        self.tls = tls
    }
}
