import Foundation
import HaulFormat

/// The service's metadata: subscriptions, identities, vaults, servers, storage accounts, containers, applications,
/// tokens, assertion ids, leases, deleted objects and the audit log (docs/service.md §2).
///
/// Two real conformers share one conformance suite (`MetadataStoreConformance` in HaulMetadataTesting): SQLite
/// through GRDB (the embedded default) and PostgreSQL through postgres-nio. Several `hauld` processes may use one
/// PostgreSQL store at once, so every method is a single transaction and every rule that spans rows (uniqueness,
/// first use of a `jti`, lease conflicts) is enforced by the database, not in memory.
///
/// Contract:
/// - Creating a record whose unique key exists throws `HaulError` `.alreadyExists`; the store is unchanged.
/// - Reading a missing record returns `nil`; updating or deleting a missing record throws `.notFound`.
/// - Creating a record whose parent is missing (the subscription of a vault, the vault of a server, the identity of
///   a token, the server of a lease, the vault and server of a deleted object…) throws `.notFound`.
/// - Lists are ordered by name, bytewise (identities by thumbprint; audit events by `sequence`; deleted objects by
///   `deletedAt`); ties are broken by id.
/// - Times keep at least microsecond precision.
/// - A lost connection or a busy database is `HaulError` with `transient == true`; a retry is safe for every
///   method (creates report `.alreadyExists` on the second try if the first one landed).
/// - `migrate()` is idempotent and safe when several processes call it at once (it runs under a database lock).
///   Shipped migrations are never changed; new ones are appended.
public protocol MetadataStore: Sendable {
    /// Brings the schema to the newest version. Called once at start by `hauld serve` and `hauld admin`.
    func migrate() async throws
    /// The applied migration identifiers, oldest first.
    func appliedMigrations() async throws -> [String]

    // MARK: Subscriptions
    func createSubscription(_ s: Subscription) async throws
    func subscription(id: UUID) async throws -> Subscription?
    func subscriptions() async throws -> [Subscription]

    // MARK: Identities (certificates by thumbprint)
    func createIdentity(_ i: Identity) async throws
    func identity(thumbprint: String) async throws -> Identity?
    /// Identities of one subscription acting for one subject (all roles), for revocation.
    func identities(subscription: UUID?, subject: String) async throws -> [Identity]
    /// Marks the identity revoked and revokes every token issued to it.
    func revokeIdentity(thumbprint: String) async throws

    // MARK: Vaults and servers
    func createVault(_ v: Vault) async throws
    func vault(subscription: UUID, name: String) async throws -> Vault?
    func vault(id: UUID) async throws -> Vault?
    func vaults(subscription: UUID) async throws -> [Vault]
    func createServer(_ s: Server) async throws
    func server(vault: UUID, name: String) async throws -> Server?
    func server(id: UUID) async throws -> Server?
    func servers(vault: UUID) async throws -> [Server]
    /// Marks the server revoked; its identities and their tokens are revoked too.
    func revokeServer(id: UUID) async throws

    // MARK: Storage accounts, containers, applications
    func createStorageAccount(_ a: StorageAccount) async throws
    func storageAccount(subscription: UUID, name: String) async throws -> StorageAccount?
    func storageAccounts(subscription: UUID) async throws -> [StorageAccount]
    func createContainer(_ c: Container) async throws
    func containers(storageAccount: UUID) async throws -> [Container]
    func createApplication(_ a: Application) async throws
    func application(subscription: UUID, name: String) async throws -> Application?
    func applications(subscription: UUID) async throws -> [Application]
    /// Replaces the application's certificate (PEM and thumbprint).
    func setApplicationCertificate(id: UUID, thumbprint: String, pem: String) async throws
    func deleteApplication(id: UUID) async throws

    // MARK: Tokens and assertion ids
    func createToken(_ t: TokenRecord) async throws
    func token(hash: String) async throws -> TokenRecord?
    func revokeToken(hash: String) async throws
    /// Records an assertion's `jti`. Returns `true` on first use, `false` if it was seen before (a replay), atomically
    /// across every process sharing the store.
    func recordAssertionID(_ jti: String, expires: Date) async throws -> Bool
    /// Removes expired tokens and assertion ids; returns how many rows went.
    func sweepExpired(now: Date) async throws -> Int

    // MARK: Leases (format.md §10, held by the service for vault repositories)
    func putLease(_ l: LeaseRecord, createOnly: Bool) async throws
    func lease(server: UUID, name: String) async throws -> LeaseRecord?
    func leases(server: UUID) async throws -> [LeaseRecord]
    func deleteLease(server: UUID, name: String) async throws

    // MARK: Soft delete
    func recordDeletedObject(_ d: DeletedObject) async throws
    func deletedObject(id: UUID) async throws -> DeletedObject?
    func deletedObjects(vault: UUID) async throws -> [DeletedObject]
    /// Deleted objects of every vault whose `purgeAfter` is at or before `now`, oldest purge date first, at most
    /// `limit` (the trash sweep, docs/service.md §7).
    func deletedObjects(purgeDueAt now: Date, limit: Int) async throws -> [DeletedObject]
    /// Forgets a deleted-object record (after undelete, or after its purge date).
    func removeDeletedObject(id: UUID) async throws

    // MARK: Audit
    /// Appends an event; the store assigns `sequence`. Returns the stored event.
    @discardableResult func appendAudit(_ e: AuditEvent) async throws -> AuditEvent
    /// Events of a subscription (or operator events for `nil`), oldest first, after `after`, at most `limit`.
    func audit(subscription: UUID?, after: Int64, limit: Int) async throws -> [AuditEvent]

    // MARK: Operators and datacenter
    func createOperator(_ o: Operator) async throws
    func operators() async throws -> [Operator]
    func setDatacenter(_ d: Datacenter) async throws
    func datacenter() async throws -> Datacenter?
}
