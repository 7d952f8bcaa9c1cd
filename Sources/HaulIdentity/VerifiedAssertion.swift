import Foundation

/// What a verified ``Assertion`` establishes: the holder of the key of the certificate registered under
/// ``thumbprint`` asked, at ``issuedAt``, for ``subject``.
public struct VerifiedAssertion: Hashable, Sendable {
    /// The thumbprint of the registered certificate the assertion was verified with.
    public let thumbprint: Thumbprint
    /// The registered certificate returned by the lookup.
    public let certificate: IdentityCertificate
    /// The `sub` claim.
    public let subject: String
    /// The `jti` claim, now recorded as used.
    public let jti: String
    /// The `iat` claim.
    public let issuedAt: Date
    /// The `exp` claim.
    public let expiresAt: Date
}
