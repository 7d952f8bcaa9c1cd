import Foundation

/// `POST /v1/vaults/{vault}/site-credentials` (subscription admin): a short-lived `site` certificate bound to one
/// vault, for publish settings (docs/service.md §9). The private key is made by the administrator's tool.
public struct SiteCredentialRequest: APIRequestBody, Hashable {
    /// PKCS #10 certificate signing request, PEM, P-256 key.
    public var csrPEM: String
    /// When the certificate stops being valid; in the future and at most 365 days away.
    public var expiresAt: Date
    public init(csrPEM: String, expiresAt: Date) {
        self.csrPEM = csrPEM
        self.expiresAt = expiresAt
    }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case csrPEM, expiresAt }

    /// The longest validity a site credential may have.
    public static let maximumLifetime: TimeInterval = 365 * 86_400
}

public struct SiteCredential: Codable, Sendable, Hashable {
    public var subscription: UUID
    public var vaultId: UUID
    public var vault: ResourceName
    public var certificatePEM: String
    public var thumbprint: String
    public var notAfter: Date
    public var caCertificatePEM: String
    public init(
        subscription: UUID, vaultId: UUID, vault: ResourceName, certificatePEM: String, thumbprint: String,
        notAfter: Date, caCertificatePEM: String
    ) {
        self.subscription = subscription
        self.vaultId = vaultId
        self.vault = vault
        self.certificatePEM = certificatePEM
        self.thumbprint = thumbprint
        self.notAfter = notAfter
        self.caCertificatePEM = caCertificatePEM
    }
}

/// One site credential of a vault, as `GET /v1/vaults/{vault}/site-credentials` lists it (no key, no certificate).
public struct SiteCredentialInfo: Codable, Sendable, Hashable {
    /// SHA-256 of the certificate, 64 lowercase hex digits: the name to revoke it by.
    public var thumbprint: String
    public var created: Date
    public var notAfter: Date
    public var revoked: Bool
    public init(thumbprint: String, created: Date, notAfter: Date, revoked: Bool) {
        self.thumbprint = thumbprint
        self.created = created
        self.notAfter = notAfter
        self.revoked = revoked
    }
}

public struct SiteCredentialList: Codable, Sendable, Hashable {
    public var credentials: [SiteCredentialInfo]
    public init(credentials: [SiteCredentialInfo]) { self.credentials = credentials }
}
