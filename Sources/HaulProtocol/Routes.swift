import Foundation

/// The route templates of the API (docs/service.md, docs/openapi.yaml). `{name}` marks a path parameter. The
/// service registers exactly these; clients build concrete paths with `APIPath`.
public enum APIRoute {
    public static let healthz = "/healthz"
    public static let metrics = "/metrics"

    /// `POST`: assertion → bearer token (`TokenRequest` → `TokenResponse`).
    public static let token = "/v1/token"
    /// `GET`: who the token belongs to (`CallerInfo`).
    public static let me = "/v1/me"
    /// `GET`: where customers ship drives (`DatacenterInfo`).
    public static let datacenter = "/v1/datacenter"

    /// `GET` list (`VaultList`), `POST` create (`VaultCreateRequest` → `VaultInfo`).
    public static let vaults = "/v1/vaults"
    /// `GET` one vault (`VaultInfo`).
    public static let vault = "/v1/vaults/{vault}"
    /// `GET` list (`ServerList`), `POST` register (`ServerRegisterRequest` → `ServerRegistration`).
    public static let servers = "/v1/vaults/{vault}/servers"
    /// `GET` one server (`ServerInfo`).
    public static let server = "/v1/vaults/{vault}/servers/{server}"
    /// `POST` revoke (→ `ServerInfo`).
    public static let serverRevoke = "/v1/vaults/{vault}/servers/{server}/revoke"
    /// `POST` recover (`ServerRecoverRequest` → `ServerRegistration`).
    public static let serverRecover = "/v1/vaults/{vault}/servers/{server}/recover"
    /// `POST` issue a `site` credential for publish settings (`SiteCredentialRequest` → `SiteCredential`), `GET`
    /// list them (`SiteCredentialList`).
    public static let siteCredentials = "/v1/vaults/{vault}/site-credentials"
    /// `POST` revoke one (→ `SiteCredentialInfo`): publish settings holding it stop working at once.
    public static let siteCredentialRevoke = "/v1/vaults/{vault}/site-credentials/{thumbprint}/revoke"
    /// `GET` bytes and objects per vault and server (`VaultUsage`).
    public static let usage = "/v1/vaults/{vault}/usage"
    /// `GET` soft-deleted objects (`DeletedObjectList`).
    public static let deleted = "/v1/vaults/{vault}/deleted"
    /// `POST` put a deleted object back (`UndeleteRequest` → `DeletedObjectInfo`).
    public static let undelete = "/v1/vaults/{vault}/undelete"

    /// `GET` list (`StorageAccountList`), `POST` create (`StorageAccountCreateRequest` → `StorageAccountInfo`).
    public static let storageAccounts = "/v1/storage-accounts"
    /// `GET` one storage account.
    public static let storageAccount = "/v1/storage-accounts/{account}"
    /// `GET` list (`ContainerList`), `POST` create (`ContainerCreateRequest` → `ContainerInfo`).
    public static let containers = "/v1/storage-accounts/{account}/containers"

    /// `GET` list (`ApplicationList`), `POST` create (`ApplicationCreateRequest` → `ApplicationInfo`).
    public static let applications = "/v1/applications"
    /// `GET` one application, `DELETE` it.
    public static let application = "/v1/applications/{application}"
    /// `PUT` the application's certificate (`ApplicationCertificateUpload` → `ApplicationInfo`).
    public static let applicationCertificate = "/v1/applications/{application}/certificate"

    /// `GET` the subscription's audit log (`AuditPage`, `?after=SEQUENCE&limit=N`).
    public static let audit = "/v1/audit"

    /// `GET` a page of object names of one kind (`ObjectListPage`, `?after=NAME&limit=N`).
    public static let objectList = "/v1/repositories/{server}/objects/{kind}"
    /// `GET`, `HEAD`, `PUT`, `DELETE` one object.
    public static let object = "/v1/repositories/{server}/objects/{kind}/{name}"
    /// `GET`, `HEAD`, `PUT` the config object (no name; immutable once written).
    public static let config = "/v1/repositories/{server}/objects/config"
}

/// Concrete paths for clients. Names are `ResourceName`s and ids are UUIDs, so nothing needs escaping.
public enum APIPath {
    public static func vault(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)" }
    public static func servers(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)/servers" }
    public static func server(_ vault: ResourceName, _ server: ResourceName) -> String {
        "/v1/vaults/\(vault)/servers/\(server)"
    }
    public static func serverRevoke(_ vault: ResourceName, _ server: ResourceName) -> String {
        "/v1/vaults/\(vault)/servers/\(server)/revoke"
    }
    public static func serverRecover(_ vault: ResourceName, _ server: ResourceName) -> String {
        "/v1/vaults/\(vault)/servers/\(server)/recover"
    }
    public static func siteCredentials(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)/site-credentials" }
    public static func siteCredentialRevoke(_ vault: ResourceName, thumbprint: String) -> String {
        "/v1/vaults/\(vault)/site-credentials/\(thumbprint)/revoke"
    }
    public static func usage(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)/usage" }
    public static func deleted(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)/deleted" }
    public static func undelete(_ vault: ResourceName) -> String { "/v1/vaults/\(vault)/undelete" }
    public static func storageAccount(_ account: ResourceName) -> String { "/v1/storage-accounts/\(account)" }
    public static func containers(_ account: ResourceName) -> String { "/v1/storage-accounts/\(account)/containers" }
    public static func application(_ application: ResourceName) -> String { "/v1/applications/\(application)" }
    public static func applicationCertificate(_ application: ResourceName) -> String {
        "/v1/applications/\(application)/certificate"
    }
    public static func audit(after: Int64? = nil, limit: Int? = nil) -> String {
        query("/v1/audit", [("after", after.map(String.init)), ("limit", limit.map(String.init))])
    }

    /// `kind` is a format.md §1 folder (`keys`, `data`, `index`, `snapshots`, `leases`).
    public static func objectList(server: UUID, kind: String, after: String? = nil, limit: Int? = nil) -> String {
        query(
            "/v1/repositories/\(server.uuidString.lowercased())/objects/\(kind)",
            [("after", after), ("limit", limit.map(String.init))])
    }
    /// One object; `kind == "config"` ignores `name`.
    public static func object(server: UUID, kind: String, name: String) -> String {
        let base = "/v1/repositories/\(server.uuidString.lowercased())/objects"
        return kind == "config" ? "\(base)/config" : "\(base)/\(kind)/\(name)"
    }

    private static func query(_ path: String, _ items: [(String, String?)]) -> String {
        let present = items.compactMap { key, value in value.map { "\(key)=\($0)" } }
        return present.isEmpty ? path : path + "?" + present.joined(separator: "&")
    }
}
