import Foundation
import GRDB
import HaulFormat
import HaulMetadata

/// `MetadataStore` in one SQLite file through GRDB: the embedded default of `hauld` (`DIR/metadata.sqlite`).
///
/// A `DatabasePool` in WAL mode: readers never block the writer, writes are IMMEDIATE transactions (the database's
/// write lock, so writers never deadlock on an upgrade), foreign keys are on, and a busy database is waited for up to
/// `busyTimeout` before the call fails with a transient `HaulError`. Several processes (or several stores in one
/// process) may open the same file; each method is one transaction. Schema and rules: docs/metadata.md.
public final class SQLiteMetadataStore: MetadataStore {
    private let pool: DatabasePool
    private let path: String

    /// Opens (or creates) the database at `path`. Call `migrate()` before anything else.
    /// - Parameter busyTimeout: how long a call waits for another process's write lock.
    /// - Throws: `HaulError` `.io` when the file cannot be opened or is not an SQLite database.
    public init(path: String, busyTimeout: TimeInterval = 10) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(busyTimeout)
        config.label = "haul-metadata"
        self.path = path
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw Self.haulError(error, "open the metadata database at \(path)")
        }
    }

    // MARK: Migrations

    public func migrate() async throws {
        let migrator = Self.makeMigrator()
        // Another process may apply a migration between our look and our lock: then the migration refuses to run
        // twice (AppliedConcurrently) and the migrator looks again. Each round applies at least one migration or ends.
        for _ in 0...Self.migrations.count {
            do {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    migrator.asyncMigrate(pool) { result in
                        continuation.resume(with: result.map { _ in () })
                    }
                }
                return
            } catch is AppliedConcurrently {
                continue
            } catch {
                throw Self.haulError(error, "migrate the metadata database at \(path)")
            }
        }
        throw HaulError(.internalError, "migrating \(path) did not settle; another process keeps changing its schema")
    }

    public func appliedMigrations() async throws -> [String] {
        let migrator = Self.makeMigrator()
        return try await read("list applied migrations") { db in try migrator.appliedMigrations(db) }
    }

    // MARK: Subscriptions

    public func createSubscription(_ s: Subscription) async throws {
        try await write("create subscription \(s.id)") { db in
            try db.execute(
                sql: "INSERT INTO subscriptions (id, name, created) VALUES (?, ?, ?)",
                arguments: [s.id.text, s.name, s.created.micros])
        }
    }

    public func subscription(id: UUID) async throws -> Subscription? {
        try await read("read subscription \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM subscriptions WHERE id = ?", arguments: [id.text])
                .map(Subscription.init(row:))
        }
    }

    public func subscriptions() async throws -> [Subscription] {
        try await read("list subscriptions") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscriptions ORDER BY name, id").map(Subscription.init(row:))
        }
    }

    // MARK: Identities

    public func createIdentity(_ i: Identity) async throws {
        try await write("create identity \(i.thumbprint)") { db in
            try db.execute(
                sql: """
                    INSERT INTO identities
                        (thumbprint, subscription, role, subject, certificate_pem, not_after, revoked, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    i.thumbprint, i.subscription?.text, i.role.rawValue, i.subject, i.certificatePEM, i.notAfter.micros,
                    i.revoked, i.created.micros,
                ])
        }
    }

    public func identity(thumbprint: String) async throws -> Identity? {
        try await read("read identity \(thumbprint)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM identities WHERE thumbprint = ?", arguments: [thumbprint])
                .map(Identity.init(row:))
        }
    }

    public func identities(subscription: UUID?, subject: String) async throws -> [Identity] {
        try await read("list identities of \(subject)") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM identities WHERE subscription IS ? AND subject = ? ORDER BY thumbprint",
                arguments: [subscription?.text, subject]
            ).map(Identity.init(row:))
        }
    }

    public func revokeIdentity(thumbprint: String) async throws {
        try await write("revoke identity \(thumbprint)") { db in
            try db.execute(sql: "UPDATE identities SET revoked = 1 WHERE thumbprint = ?", arguments: [thumbprint])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no identity with thumbprint \(thumbprint)") }
            try db.execute(sql: "UPDATE tokens SET revoked = 1 WHERE thumbprint = ?", arguments: [thumbprint])
        }
    }

    // MARK: Vaults and servers

    public func createVault(_ v: Vault) async throws {
        try await write("create vault \(v.name)") { db in
            try db.execute(
                sql: "INSERT INTO vaults (id, subscription, name, retention_days, created) VALUES (?, ?, ?, ?, ?)",
                arguments: [v.id.text, v.subscription.text, v.name, v.retentionDays, v.created.micros])
        }
    }

    public func vault(subscription: UUID, name: String) async throws -> Vault? {
        try await read("read vault \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM vaults WHERE subscription = ? AND name = ?",
                arguments: [subscription.text, name]
            ).map(Vault.init(row:))
        }
    }

    public func vault(id: UUID) async throws -> Vault? {
        try await read("read vault \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM vaults WHERE id = ?", arguments: [id.text]).map(Vault.init(row:))
        }
    }

    public func vaults(subscription: UUID) async throws -> [Vault] {
        try await read("list vaults") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM vaults WHERE subscription = ? ORDER BY name, id", arguments: [subscription.text]
            ).map(Vault.init(row:))
        }
    }

    public func createServer(_ s: Server) async throws {
        try await write("create server \(s.name)") { db in
            try db.execute(
                sql: "INSERT INTO servers (id, vault, name, revoked, created) VALUES (?, ?, ?, ?, ?)",
                arguments: [s.id.text, s.vault.text, s.name, s.revoked, s.created.micros])
        }
    }

    public func server(vault: UUID, name: String) async throws -> Server? {
        try await read("read server \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM servers WHERE vault = ? AND name = ?", arguments: [vault.text, name]
            ).map(Server.init(row:))
        }
    }

    public func server(id: UUID) async throws -> Server? {
        try await read("read server \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM servers WHERE id = ?", arguments: [id.text]).map(Server.init(row:))
        }
    }

    public func servers(vault: UUID) async throws -> [Server] {
        try await read("list servers") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM servers WHERE vault = ? ORDER BY name, id", arguments: [vault.text]
            )
            .map(Server.init(row:))
        }
    }

    public func revokeServer(id: UUID) async throws {
        try await write("revoke server \(id)") { db in
            guard
                let subscription = try String.fetchOne(
                    db, sql: "SELECT v.subscription FROM servers s JOIN vaults v ON v.id = s.vault WHERE s.id = ?",
                    arguments: [id.text])
            else { throw HaulError(.notFound, "no server with id \(id)") }
            try db.execute(sql: "UPDATE servers SET revoked = 1 WHERE id = ?", arguments: [id.text])
            // The server's identities: role server, subject = its id (either case), in its own subscription only.
            let match = "subscription = ? AND role = 'server' AND subject IN (?, ?)"
            let arguments: StatementArguments = [subscription, id.text, id.uuidString]
            try db.execute(
                sql:
                    "UPDATE tokens SET revoked = 1 WHERE thumbprint IN (SELECT thumbprint FROM identities WHERE \(match))"
                    + " OR (\(match))",
                arguments: arguments + arguments)
            try db.execute(sql: "UPDATE identities SET revoked = 1 WHERE \(match)", arguments: arguments)
        }
    }

    // MARK: Storage accounts, containers, applications

    public func createStorageAccount(_ a: StorageAccount) async throws {
        try await write("create storage account \(a.name)") { db in
            try db.execute(
                sql: "INSERT INTO storage_accounts (id, subscription, name, created) VALUES (?, ?, ?, ?)",
                arguments: [a.id.text, a.subscription.text, a.name, a.created.micros])
        }
    }

    public func storageAccount(subscription: UUID, name: String) async throws -> StorageAccount? {
        try await read("read storage account \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM storage_accounts WHERE subscription = ? AND name = ?",
                arguments: [subscription.text, name]
            ).map(StorageAccount.init(row:))
        }
    }

    public func storageAccounts(subscription: UUID) async throws -> [StorageAccount] {
        try await read("list storage accounts") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM storage_accounts WHERE subscription = ? ORDER BY name, id",
                arguments: [subscription.text]
            ).map(StorageAccount.init(row:))
        }
    }

    public func createContainer(_ c: Container) async throws {
        try await write("create container \(c.name)") { db in
            try db.execute(
                sql: "INSERT INTO containers (id, storage_account, name, created) VALUES (?, ?, ?, ?)",
                arguments: [c.id.text, c.storageAccount.text, c.name, c.created.micros])
        }
    }

    public func containers(storageAccount: UUID) async throws -> [Container] {
        try await read("list containers") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM containers WHERE storage_account = ? ORDER BY name, id",
                arguments: [storageAccount.text]
            ).map(Container.init(row:))
        }
    }

    public func createApplication(_ a: Application) async throws {
        try await write("create application \(a.name)") { db in
            try db.execute(
                sql: """
                    INSERT INTO applications (id, subscription, name, certificate_thumbprint, certificate_pem, created)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    a.id.text, a.subscription.text, a.name, a.certificateThumbprint, a.certificatePEM, a.created.micros,
                ])
        }
    }

    public func application(subscription: UUID, name: String) async throws -> Application? {
        try await read("read application \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM applications WHERE subscription = ? AND name = ?",
                arguments: [subscription.text, name]
            ).map(Application.init(row:))
        }
    }

    public func applications(subscription: UUID) async throws -> [Application] {
        try await read("list applications") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM applications WHERE subscription = ? ORDER BY name, id",
                arguments: [subscription.text]
            ).map(Application.init(row:))
        }
    }

    public func setApplicationCertificate(id: UUID, thumbprint: String, pem: String) async throws {
        try await write("set the certificate of application \(id)") { db in
            try db.execute(
                sql: "UPDATE applications SET certificate_thumbprint = ?, certificate_pem = ? WHERE id = ?",
                arguments: [thumbprint, pem, id.text])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no application with id \(id)") }
        }
    }

    public func deleteApplication(id: UUID) async throws {
        try await write("delete application \(id)") { db in
            try db.execute(sql: "DELETE FROM applications WHERE id = ?", arguments: [id.text])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no application with id \(id)") }
        }
    }

    // MARK: Tokens and assertion ids

    public func createToken(_ t: TokenRecord) async throws {
        try await write("create a token") { db in
            try db.execute(
                sql: """
                    INSERT INTO tokens (hash, thumbprint, subscription, role, subject, expires, revoked)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    t.hash, t.thumbprint, t.subscription?.text, t.role.rawValue, t.subject, t.expires.micros, t.revoked,
                ])
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await read("read a token") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE hash = ?", arguments: [hash])
                .map(TokenRecord.init(row:))
        }
    }

    public func revokeToken(hash: String) async throws {
        try await write("revoke a token") { db in
            try db.execute(sql: "UPDATE tokens SET revoked = 1 WHERE hash = ?", arguments: [hash])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no token with that hash") }
        }
    }

    public func recordAssertionID(_ jti: String, expires: Date) async throws -> Bool {
        try await write("record assertion id") { db in
            try db.execute(
                sql: "INSERT INTO assertion_ids (jti, expires) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
                arguments: [jti, expires.micros])
            return db.changesCount == 1
        }
    }

    public func sweepExpired(now: Date) async throws -> Int {
        try await write("sweep expired tokens and assertion ids") { db in
            try db.execute(sql: "DELETE FROM tokens WHERE expires <= ?", arguments: [now.micros])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM assertion_ids WHERE expires <= ?", arguments: [now.micros])
            removed += db.changesCount
            return removed
        }
    }

    // MARK: Leases

    public func putLease(_ l: LeaseRecord, createOnly: Bool) async throws {
        try await write("put lease \(l.name) of server \(l.server)") { db in
            let arguments: StatementArguments = [l.server.text, l.name, Data(l.body), l.expires.micros]
            if createOnly {
                try db.execute(
                    sql: """
                        INSERT INTO leases (server, name, body, expires) VALUES (?, ?, ?, ?)
                        ON CONFLICT (server, name) DO NOTHING
                        """,
                    arguments: arguments)
                guard db.changesCount == 1 else {
                    throw HaulError(.alreadyExists, "lease \(l.name) of server \(l.server) is held already")
                }
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO leases (server, name, body, expires) VALUES (?, ?, ?, ?)
                        ON CONFLICT (server, name) DO UPDATE SET body = excluded.body, expires = excluded.expires
                        """,
                    arguments: arguments)
            }
        }
    }

    public func lease(server: UUID, name: String) async throws -> LeaseRecord? {
        try await read("read lease \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM leases WHERE server = ? AND name = ?", arguments: [server.text, name]
            ).map(LeaseRecord.init(row:))
        }
    }

    public func leases(server: UUID) async throws -> [LeaseRecord] {
        try await read("list leases") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM leases WHERE server = ? ORDER BY name", arguments: [server.text])
                .map(LeaseRecord.init(row:))
        }
    }

    public func deleteLease(server: UUID, name: String) async throws {
        try await write("delete lease \(name)") { db in
            try db.execute(sql: "DELETE FROM leases WHERE server = ? AND name = ?", arguments: [server.text, name])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no lease \(name) of server \(server)") }
        }
    }

    // MARK: Soft delete

    public func recordDeletedObject(_ d: DeletedObject) async throws {
        try await write("record deleted object \(d.objectPath)") { db in
            try db.execute(
                sql: """
                    INSERT INTO deleted_objects
                        (id, vault, server, object_path, trash_prefix, size, deleted_at, purge_after)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    d.id.text, d.vault.text, d.server.text, d.objectPath, d.trashPrefix, d.size, d.deletedAt.micros,
                    d.purgeAfter.micros,
                ])
        }
    }

    public func deletedObject(id: UUID) async throws -> DeletedObject? {
        try await read("read deleted object \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM deleted_objects WHERE id = ?", arguments: [id.text])
                .map(DeletedObject.init(row:))
        }
    }

    public func deletedObjects(vault: UUID) async throws -> [DeletedObject] {
        try await read("list deleted objects") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM deleted_objects WHERE vault = ? ORDER BY deleted_at, id",
                arguments: [vault.text]
            ).map(DeletedObject.init(row:))
        }
    }

    public func deletedObjects(purgeDueAt now: Date, limit: Int) async throws -> [DeletedObject] {
        try await read("list deleted objects due for purge") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM deleted_objects WHERE purge_after <= ? ORDER BY purge_after, id LIMIT ?",
                arguments: [now.micros, limit]
            ).map(DeletedObject.init(row:))
        }
    }

    public func removeDeletedObject(id: UUID) async throws {
        try await write("remove deleted object \(id)") { db in
            try db.execute(sql: "DELETE FROM deleted_objects WHERE id = ?", arguments: [id.text])
            guard db.changesCount > 0 else { throw HaulError(.notFound, "no deleted object with id \(id)") }
        }
    }

    // MARK: Audit

    @discardableResult public func appendAudit(_ e: AuditEvent) async throws -> AuditEvent {
        try await write("append an audit event") { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_events (time, subscription, actor, action, target, detail)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [e.time.micros, e.subscription?.text, e.actor, e.action, e.target, e.detail])
            var stored = e
            stored.sequence = db.lastInsertedRowID
            return stored
        }
    }

    public func audit(subscription: UUID?, after: Int64, limit: Int) async throws -> [AuditEvent] {
        try await read("read the audit log") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM audit_events WHERE subscription IS ? AND sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [subscription?.text, after, max(0, limit)]
            ).map(AuditEvent.init(row:))
        }
    }

    // MARK: Operators and datacenter

    public func createOperator(_ o: Operator) async throws {
        try await write("create operator \(o.name)") { db in
            try db.execute(
                sql: "INSERT INTO operators (id, name, created) VALUES (?, ?, ?)",
                arguments: [o.id.text, o.name, o.created.micros])
        }
    }

    public func operators() async throws -> [Operator] {
        try await read("list operators") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operators ORDER BY name, id").map(Operator.init(row:))
        }
    }

    public func setDatacenter(_ d: Datacenter) async throws {
        try await write("set the datacenter") { db in
            try db.execute(
                sql: """
                    INSERT INTO datacenter (id, name, address) VALUES (1, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address
                    """,
                arguments: [d.name, d.address])
        }
    }

    public func datacenter() async throws -> Datacenter? {
        try await read("read the datacenter") { db in
            try Row.fetchOne(db, sql: "SELECT name, address FROM datacenter WHERE id = 1").map {
                Datacenter(name: $0["name"], address: $0["address"])
            }
        }
    }

    // MARK: Transactions and errors

    private func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T
    {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.haulError(error, what)
        }
    }

    private func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.haulError(error, what)
        }
    }

    /// Maps SQLite's result codes to the contract: a unique key → `.alreadyExists`, a missing parent → `.notFound`,
    /// busy or locked → transient.
    static func haulError(_ error: any Error, _ what: String) -> HaulError {
        if let error = error as? HaulError { return error }
        guard let error = error as? DatabaseError else {
            return HaulError(.internalError, "could not \(what)", cause: error)
        }
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_PRIMARYKEY, .SQLITE_CONSTRAINT_UNIQUE:
            return HaulError(.alreadyExists, "could not \(what): it exists already")
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return HaulError(.notFound, "could not \(what): what it belongs to does not exist")
        default:
            break
        }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return HaulError(
                .io, "could not \(what): the metadata database is busy; try again", transient: true, cause: error)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return HaulError(.corrupted, "could not \(what): the metadata database is damaged", cause: error)
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM:
            return HaulError(.io, "could not \(what)", cause: error)
        default:
            return HaulError(.internalError, "could not \(what)", cause: error)
        }
    }
}

// MARK: Values

extension UUID {
    /// The stored form: lowercase text.
    fileprivate var text: String { uuidString.lowercased() }
}

extension Date {
    /// The stored form: whole microseconds since 1970.
    fileprivate var micros: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }
    fileprivate init(micros: Int64) { self.init(timeIntervalSince1970: TimeInterval(micros) / 1_000_000) }
}

extension Row {
    fileprivate func uuid(_ column: String) throws -> UUID {
        let text: String = self[column]
        guard let id = UUID(uuidString: text) else {
            throw HaulError(.corrupted, "metadata column \(column) holds \"\(text)\", which is not a UUID")
        }
        return id
    }

    fileprivate func optionalUUID(_ column: String) throws -> UUID? {
        (self[column] as String?) == nil ? nil : try uuid(column)
    }

    fileprivate func date(_ column: String) -> Date { Date(micros: self[column]) }

    fileprivate func role(_ column: String = "role") throws -> Role {
        let text: String = self[column]
        guard let role = Role(rawValue: text) else {
            throw HaulError(.corrupted, "metadata column \(column) holds the unknown role \"\(text)\"")
        }
        return role
    }
}

extension Subscription {
    fileprivate init(row: Row) throws {
        self.init(id: try row.uuid("id"), name: row["name"], created: row.date("created"))
    }
}

extension Identity {
    fileprivate init(row: Row) throws {
        self.init(
            thumbprint: row["thumbprint"], subscription: try row.optionalUUID("subscription"), role: try row.role(),
            subject: row["subject"], certificatePEM: row["certificate_pem"], notAfter: row.date("not_after"),
            revoked: row["revoked"], created: row.date("created"))
    }
}

extension Vault {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), subscription: try row.uuid("subscription"), name: row["name"],
            retentionDays: row["retention_days"], created: row.date("created"))
    }
}

extension Server {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), vault: try row.uuid("vault"), name: row["name"], revoked: row["revoked"],
            created: row.date("created"))
    }
}

extension StorageAccount {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), subscription: try row.uuid("subscription"), name: row["name"],
            created: row.date("created"))
    }
}

extension Container {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), storageAccount: try row.uuid("storage_account"), name: row["name"],
            created: row.date("created"))
    }
}

extension Application {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), subscription: try row.uuid("subscription"), name: row["name"],
            certificateThumbprint: row["certificate_thumbprint"], certificatePEM: row["certificate_pem"],
            created: row.date("created"))
    }
}

extension TokenRecord {
    fileprivate init(row: Row) throws {
        self.init(
            hash: row["hash"], thumbprint: row["thumbprint"], subscription: try row.optionalUUID("subscription"),
            role: try row.role(), subject: row["subject"], expires: row.date("expires"), revoked: row["revoked"])
    }
}

extension LeaseRecord {
    fileprivate init(row: Row) throws {
        let body: Data = row["body"]
        self.init(server: try row.uuid("server"), name: row["name"], body: Array(body), expires: row.date("expires"))
    }
}

extension DeletedObject {
    fileprivate init(row: Row) throws {
        self.init(
            id: try row.uuid("id"), vault: try row.uuid("vault"), server: try row.uuid("server"),
            objectPath: row["object_path"], trashPrefix: row["trash_prefix"], size: row["size"],
            deletedAt: row.date("deleted_at"), purgeAfter: row.date("purge_after"))
    }
}

extension AuditEvent {
    fileprivate init(row: Row) throws {
        self.init(
            sequence: row["sequence"], time: row.date("time"), subscription: try row.optionalUUID("subscription"),
            actor: row["actor"], action: row["action"], target: row["target"], detail: row["detail"])
    }
}

extension Operator {
    fileprivate init(row: Row) throws {
        self.init(id: try row.uuid("id"), name: row["name"], created: row.date("created"))
    }
}
