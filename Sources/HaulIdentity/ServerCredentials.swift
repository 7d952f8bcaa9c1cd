import HaulFormat

/// The service's TLS key and its certificate, made once into the data directory and shared by all instances, or
/// given as files; clients pin the key (``SPKIPin``), not a CA.
public struct ServerCredentials: Sendable {
    /// The TLS private key.
    public let key: IdentityKey

    /// The server certificate for ``key``.
    public let certificate: IdentityCertificate

    /// Pairs a key and a certificate given as files.
    ///
    /// - Throws: `HaulError` `invalidArgument` when the certificate is not for `key`.
    public init(key: IdentityKey, certificate: IdentityCertificate) throws {
        guard key.matches(certificate) else {
            throw HaulError(.invalidArgument, "the TLS \(certificate) is not for the given key")
        }
        self.key = key
        self.certificate = certificate
    }
}
