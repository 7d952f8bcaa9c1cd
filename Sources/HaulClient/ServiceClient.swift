import Foundation
import HaulFormat
import HaulProtocol

/// The typed face of the service API (docs/service.md, docs/openapi.yaml): one method per route, request and
/// response types from `HaulProtocol`. Which calls succeed depends on the role of the identity behind the session
/// (a subscription admin manages the subscription; a site registers servers into its vault).
///
/// Every method throws a `HaulError` mapped from the service's error body (`notFound`, `alreadyExists`,
/// `permissionDenied`, the 401 codes with what to do), or transient `io` when the service stayed unreachable
/// through the retries.
public struct ServiceClient: Sendable {
    public let session: ServiceSession

    public init(session: ServiceSession) { self.session = session }

    // MARK: Caller

    /// `GET /v1/me`.
    public func me() async throws -> CallerInfo { try await session.call(.GET, APIRoute.me, as: CallerInfo.self) }

    // MARK: Vaults

    /// `POST /v1/vaults`.
    public func createVault(_ name: ResourceName, retentionDays: Int? = nil) async throws -> VaultInfo {
        try await session.call(
            .POST, APIRoute.vaults, body: VaultCreateRequest(name: name, retentionDays: retentionDays),
            as: VaultInfo.self)
    }

    /// `GET /v1/vaults`.
    public func vaults() async throws -> [VaultInfo] {
        try await session.call(.GET, APIRoute.vaults, as: VaultList.self).vaults
    }

    /// `GET /v1/vaults/{vault}/usage`.
    public func usage(_ vault: ResourceName) async throws -> VaultUsage {
        try await session.call(.GET, APIPath.usage(vault), as: VaultUsage.self)
    }

    /// `GET /v1/vaults/{vault}/deleted`.
    public func deletedObjects(_ vault: ResourceName) async throws -> [DeletedObjectInfo] {
        try await session.call(.GET, APIPath.deleted(vault), as: DeletedObjectList.self).objects
    }

    /// `POST /v1/vaults/{vault}/undelete`.
    public func undelete(_ vault: ResourceName, id: UUID) async throws -> DeletedObjectInfo {
        try await session.call(
            .POST, APIPath.undelete(vault), body: UndeleteRequest(id: id), as: DeletedObjectInfo.self)
    }

    /// `POST /v1/vaults/{vault}/site-credentials`: a `site` certificate for `csrPEM`, valid until `expiresAt`.
    public func issueSiteCredential(_ vault: ResourceName, csrPEM: String, expiresAt: Date) async throws
        -> SiteCredential
    {
        try await session.call(
            .POST, APIPath.siteCredentials(vault), body: SiteCredentialRequest(csrPEM: csrPEM, expiresAt: expiresAt),
            as: SiteCredential.self)
    }

    /// `GET /v1/vaults/{vault}/site-credentials`: every site credential issued for the vault, oldest first.
    public func siteCredentials(_ vault: ResourceName) async throws -> [SiteCredentialInfo] {
        try await session.call(.GET, APIPath.siteCredentials(vault), as: SiteCredentialList.self).credentials
    }

    /// `POST /v1/vaults/{vault}/site-credentials/{thumbprint}/revoke`: publish settings holding it stop working.
    public func revokeSiteCredential(_ vault: ResourceName, thumbprint: String) async throws -> SiteCredentialInfo {
        try await session.call(
            .POST, APIPath.siteCredentialRevoke(vault, thumbprint: thumbprint), body: String?.none,
            as: SiteCredentialInfo.self)
    }

    // MARK: Servers

    /// `GET /v1/vaults/{vault}/servers`.
    public func servers(_ vault: ResourceName) async throws -> [ServerInfo] {
        try await session.call(.GET, APIPath.servers(vault), as: ServerList.self).servers
    }

    /// `POST /v1/vaults/{vault}/servers`: registers `name` with the public key of `csrPEM`.
    public func registerServer(_ vault: ResourceName, name: ResourceName, csrPEM: String) async throws
        -> ServerRegistration
    {
        try await session.call(
            .POST, APIPath.servers(vault), body: ServerRegisterRequest(name: name, csrPEM: csrPEM),
            as: ServerRegistration.self)
    }

    /// `POST /v1/vaults/{vault}/servers/{server}/recover`: a new identity for an existing server.
    public func recoverServer(_ vault: ResourceName, server: ResourceName, csrPEM: String) async throws
        -> ServerRegistration
    {
        try await session.call(
            .POST, APIPath.serverRecover(vault, server), body: ServerRecoverRequest(csrPEM: csrPEM),
            as: ServerRegistration.self)
    }

    /// `POST /v1/vaults/{vault}/servers/{server}/revoke`.
    public func revokeServer(_ vault: ResourceName, server: ResourceName) async throws -> ServerInfo {
        try await session.call(.POST, APIPath.serverRevoke(vault, server), body: String?.none, as: ServerInfo.self)
    }

    // MARK: Storage accounts and containers

    /// `POST /v1/storage-accounts`.
    public func createStorageAccount(_ name: ResourceName) async throws -> StorageAccountInfo {
        try await session.call(
            .POST, APIRoute.storageAccounts, body: StorageAccountCreateRequest(name: name),
            as: StorageAccountInfo.self)
    }

    /// `GET /v1/storage-accounts`.
    public func storageAccounts() async throws -> [StorageAccountInfo] {
        try await session.call(.GET, APIRoute.storageAccounts, as: StorageAccountList.self).storageAccounts
    }

    /// `POST /v1/storage-accounts/{account}/containers`.
    public func createContainer(_ name: ResourceName, in account: ResourceName) async throws -> ContainerInfo {
        try await session.call(
            .POST, APIPath.containers(account), body: ContainerCreateRequest(name: name), as: ContainerInfo.self)
    }

    /// `GET /v1/storage-accounts/{account}/containers`.
    public func containers(in account: ResourceName) async throws -> [ContainerInfo] {
        try await session.call(.GET, APIPath.containers(account), as: ContainerList.self).containers
    }

    // MARK: Audit

    /// `GET /v1/audit`, every page from `after` on, oldest first.
    public func audit(after: Int64? = nil, limit: Int? = nil) async throws -> [AuditEventInfo] {
        var events: [AuditEventInfo] = []
        var cursor = after
        repeat {
            let page = try await session.call(.GET, APIPath.audit(after: cursor, limit: 500), as: AuditPage.self)
            events += page.events
            cursor = page.next
            if let limit, events.count >= limit { return Array(events.prefix(limit)) }
        } while cursor != nil
        return events
    }
}
