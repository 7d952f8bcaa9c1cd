/// The service's TLS key and its self-signed certificate, made once into the data directory and shared by all
/// instances; clients pin the key (``SPKIPin``), not a CA.
public struct ServerCredentials: Sendable {
    /// The TLS private key.
    public let key: IdentityKey

    /// The self-signed server certificate for ``key``.
    public let certificate: IdentityCertificate
}
