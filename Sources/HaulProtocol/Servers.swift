import Foundation

/// `POST /v1/vaults/{vault}/servers` (site of that vault, or subscription admin): register a server. The private
/// key stays on the server; the service signs the CSR.
public struct ServerRegisterRequest: APIRequestBody, Hashable {
    public var name: ResourceName
    /// PKCS #10 certificate signing request, PEM, P-256 key.
    public var csrPEM: String
    public init(name: ResourceName, csrPEM: String) {
        self.name = name
        self.csrPEM = csrPEM
    }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case name, csrPEM }
}

/// `POST /v1/vaults/{vault}/servers/{server}/recover` (site of that vault, or subscription admin): a replacement
/// machine takes over the server and its repository. The server's earlier identities and tokens are revoked.
public struct ServerRecoverRequest: APIRequestBody, Hashable {
    public var csrPEM: String
    public init(csrPEM: String) { self.csrPEM = csrPEM }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case csrPEM }
}

/// The answer to registration and recovery: the server's certificate and where its repository lives.
public struct ServerRegistration: Codable, Sendable, Hashable {
    public var serverId: UUID
    public var vaultId: UUID
    public var vault: ResourceName
    public var name: ResourceName
    public var subscription: UUID
    /// The `server` certificate issued from the CSR, PEM.
    public var certificatePEM: String
    /// SHA-256 of the certificate's DER, hex: the `x5t#S256` of the server's assertions.
    public var thumbprint: String
    public var notAfter: Date
    /// The issuing CA's certificate, PEM.
    public var caCertificatePEM: String
    /// The path prefix of the server's repository objects: `/v1/repositories/<server id>`.
    public var repositoryPath: String
    public init(
        serverId: UUID, vaultId: UUID, vault: ResourceName, name: ResourceName, subscription: UUID,
        certificatePEM: String, thumbprint: String, notAfter: Date, caCertificatePEM: String, repositoryPath: String
    ) {
        self.serverId = serverId
        self.vaultId = vaultId
        self.vault = vault
        self.name = name
        self.subscription = subscription
        self.certificatePEM = certificatePEM
        self.thumbprint = thumbprint
        self.notAfter = notAfter
        self.caCertificatePEM = caCertificatePEM
        self.repositoryPath = repositoryPath
    }
}

public struct ServerInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var vaultId: UUID
    public var name: ResourceName
    public var revoked: Bool
    public var created: Date
    public init(id: UUID, vaultId: UUID, name: ResourceName, revoked: Bool, created: Date) {
        self.id = id
        self.vaultId = vaultId
        self.name = name
        self.revoked = revoked
        self.created = created
    }
}

public struct ServerList: Codable, Sendable, Hashable {
    public var servers: [ServerInfo]
    public init(servers: [ServerInfo]) { self.servers = servers }
}
