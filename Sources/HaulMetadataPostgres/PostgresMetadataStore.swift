import Foundation
import HaulFormat
import HaulMetadata
import Logging
import PostgresNIO

/// `MetadataStore` in PostgreSQL through postgres-nio: the store for several `hauld` processes sharing one database.
///
/// Every query is parameterised. Each method is one statement or one transaction; rules that span rows are the
/// database's: unique keys (SQLSTATE 23505 → `.alreadyExists`), foreign keys (23503 → `.notFound`),
/// `INSERT … ON CONFLICT DO NOTHING` for first use of a `jti` and lease `createOnly`, a table lock for audit order.
/// A lost connection, a refused connection, a serialization failure or a deadlock is a transient `HaulError`.
///
/// The store owns a `PostgresClient` (a connection pool) whose background work must run while the store is used:
/// either scope it with `withStore(url:_:)`, or call `run()` in a task of your own (a service group) and cancel that
/// task to close the pool. Calls made while nothing runs the client wait.
public final class PostgresMetadataStore: MetadataStore {
    private let client: PostgresClient
    private let logger: Logger
    private let endpoint: String

    /// Prepares a store for `url`, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer]`.
    /// Nothing connects until `run()` runs and a method is called.
    /// - Throws: `HaulError` `.invalidArgument` when the URL is not of that form.
    public init(url: String, logger: Logger = Logger(label: "haul.metadata.postgres")) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
            let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty
        else {
            throw HaulError(
                .invalidArgument, "database URL \"\(url)\" is not of the form postgres://USER@HOST:PORT/DATABASE")
        }
        let database = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user, password: parts.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        switch parts.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": configuration.tls = .disable
        case "prefer": configuration.tls = .prefer(.makeClientConfiguration())
        case let mode:
            throw HaulError(
                .invalidArgument, "database URL \"\(url)\": sslmode \(mode) is not supported (disable, prefer)")
        }
        self.endpoint = "\(host):\(parts.port ?? 5432)/\(database)"
        self.logger = logger
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the connection pool until the calling task is cancelled. Call it once, in its own task.
    public func run() async {
        await client.run()
    }

    /// Makes a store for `url`, runs its pool while `body` runs, and closes the pool when `body` returns or throws.
    public static func withStore<Result: Sendable>(
        url: String, logger: Logger = Logger(label: "haul.metadata.postgres"),
        _ body: (PostgresMetadataStore) async throws -> Result
    ) async throws -> Result {
        let store = try PostgresMetadataStore(url: url, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    // MARK: Migrations

    public func migrate() async throws {
        try await transaction("migrate the metadata database") { connection, logger in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    id text PRIMARY KEY,
                    position integer NOT NULL UNIQUE,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<String>()
            for try await id in try await connection.query("SELECT id FROM schema_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(id)
            }
            for (position, migration) in Self.migrations.enumerated() where !applied.contains(migration.id) {
                for sql in migration.sql { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                try await connection.query(
                    "INSERT INTO schema_migrations (id, position) VALUES (\(migration.id), \(position))", logger: logger
                )
            }
        }
    }

    public func appliedMigrations() async throws -> [String] {
        do {
            return try await rows("SELECT id FROM schema_migrations ORDER BY position", "list applied migrations")
                .map { try $0.decode(String.self) }
        } catch let error as HaulError where (error.cause as? PSQLError)?.sqlState == "42P01" {
            return []  // undefined_table: nothing migrated yet
        }
    }

    // MARK: Subscriptions

    public func createSubscription(_ s: Subscription) async throws {
        try await execute(
            "INSERT INTO subscriptions (id, name, created) VALUES (\(s.id), \(s.name), \(s.created))",
            "create subscription \(s.id)")
    }

    public func subscription(id: UUID) async throws -> Subscription? {
        try await rows("SELECT id, name, created FROM subscriptions WHERE id = \(id)", "read subscription \(id)")
            .first.map(Subscription.init(row:))
    }

    public func subscriptions() async throws -> [Subscription] {
        try await rows(
            "SELECT id, name, created FROM subscriptions ORDER BY name COLLATE \"C\", id", "list subscriptions"
        )
        .map(Subscription.init(row:))
    }

    // MARK: Identities

    public func createIdentity(_ i: Identity) async throws {
        try await execute(
            """
            INSERT INTO identities
                (thumbprint, subscription, role, subject, certificate_pem, not_after, revoked, created)
            VALUES (\(i.thumbprint), \(i.subscription), \(i.role.rawValue), \(i.subject), \(i.certificatePEM),
                \(i.notAfter), \(i.revoked), \(i.created))
            """, "create identity \(i.thumbprint)")
    }

    public func identity(thumbprint: String) async throws -> Identity? {
        try await rows(
            "SELECT \(unescaped: Identity.columns) FROM identities WHERE thumbprint = \(thumbprint)",
            "read identity \(thumbprint)"
        ).first.map(Identity.init(row:))
    }

    public func identities(subscription: UUID?, subject: String) async throws -> [Identity] {
        try await rows(
            """
            SELECT \(unescaped: Identity.columns) FROM identities
            WHERE subscription IS NOT DISTINCT FROM \(subscription) AND subject = \(subject)
            ORDER BY thumbprint COLLATE "C"
            """, "list identities of \(subject)"
        ).map(Identity.init(row:))
    }

    public func revokeIdentity(thumbprint: String) async throws {
        try await transaction("revoke identity \(thumbprint)") { connection, logger in
            let updated = try await connection.query(
                "UPDATE identities SET revoked = true WHERE thumbprint = \(thumbprint) RETURNING 1", logger: logger
            ).collect()
            guard !updated.isEmpty else { throw HaulError(.notFound, "no identity with thumbprint \(thumbprint)") }
            try await connection.query(
                "UPDATE tokens SET revoked = true WHERE thumbprint = \(thumbprint)", logger: logger)
        }
    }

    // MARK: Vaults and servers

    public func createVault(_ v: Vault) async throws {
        try await execute(
            """
            INSERT INTO vaults (id, subscription, name, retention_days, created)
            VALUES (\(v.id), \(v.subscription), \(v.name), \(Int32(clamping: v.retentionDays)), \(v.created))
            """, "create vault \(v.name)")
    }

    public func vault(subscription: UUID, name: String) async throws -> Vault? {
        try await rows(
            "SELECT \(unescaped: Vault.columns) FROM vaults WHERE subscription = \(subscription) AND name = \(name)",
            "read vault \(name)"
        ).first.map(Vault.init(row:))
    }

    public func vault(id: UUID) async throws -> Vault? {
        try await rows("SELECT \(unescaped: Vault.columns) FROM vaults WHERE id = \(id)", "read vault \(id)")
            .first.map(Vault.init(row:))
    }

    public func vaults(subscription: UUID) async throws -> [Vault] {
        try await rows(
            """
            SELECT \(unescaped: Vault.columns) FROM vaults WHERE subscription = \(subscription)
            ORDER BY name COLLATE "C", id
            """, "list vaults"
        ).map(Vault.init(row:))
    }

    public func createServer(_ s: Server) async throws {
        try await execute(
            """
            INSERT INTO servers (id, vault, name, revoked, created)
            VALUES (\(s.id), \(s.vault), \(s.name), \(s.revoked), \(s.created))
            """, "create server \(s.name)")
    }

    public func server(vault: UUID, name: String) async throws -> Server? {
        try await rows(
            "SELECT \(unescaped: Server.columns) FROM servers WHERE vault = \(vault) AND name = \(name)",
            "read server \(name)"
        ).first.map(Server.init(row:))
    }

    public func server(id: UUID) async throws -> Server? {
        try await rows("SELECT \(unescaped: Server.columns) FROM servers WHERE id = \(id)", "read server \(id)")
            .first.map(Server.init(row:))
    }

    public func servers(vault: UUID) async throws -> [Server] {
        try await rows(
            "SELECT \(unescaped: Server.columns) FROM servers WHERE vault = \(vault) ORDER BY name COLLATE \"C\", id",
            "list servers"
        ).map(Server.init(row:))
    }

    public func revokeServer(id: UUID) async throws {
        try await transaction("revoke server \(id)") { connection, logger in
            let owner = try await connection.query(
                """
                UPDATE servers SET revoked = true WHERE id = \(id)
                RETURNING (SELECT subscription FROM vaults WHERE vaults.id = servers.vault)
                """, logger: logger
            ).collect()
            guard let row = owner.first else { throw HaulError(.notFound, "no server with id \(id)") }
            let subscription = try row.decode(UUID.self)
            // The server's identities: role server, subject = its id (either case), in its own subscription only.
            let (lower, upper) = (id.uuidString.lowercased(), id.uuidString)
            try await connection.query(
                """
                UPDATE tokens SET revoked = true
                WHERE thumbprint IN (
                        SELECT thumbprint FROM identities
                        WHERE subscription = \(subscription) AND role = 'server' AND subject IN (\(lower), \(upper)))
                    OR (subscription = \(subscription) AND role = 'server' AND subject IN (\(lower), \(upper)))
                """, logger: logger)
            try await connection.query(
                """
                UPDATE identities SET revoked = true
                WHERE subscription = \(subscription) AND role = 'server' AND subject IN (\(lower), \(upper))
                """, logger: logger)
        }
    }

    // MARK: Storage accounts, containers, applications

    public func createStorageAccount(_ a: StorageAccount) async throws {
        try await execute(
            """
            INSERT INTO storage_accounts (id, subscription, name, created)
            VALUES (\(a.id), \(a.subscription), \(a.name), \(a.created))
            """, "create storage account \(a.name)")
    }

    public func storageAccount(subscription: UUID, name: String) async throws -> StorageAccount? {
        try await rows(
            """
            SELECT id, subscription, name, created FROM storage_accounts
            WHERE subscription = \(subscription) AND name = \(name)
            """, "read storage account \(name)"
        ).first.map(StorageAccount.init(row:))
    }

    public func storageAccounts(subscription: UUID) async throws -> [StorageAccount] {
        try await rows(
            """
            SELECT id, subscription, name, created FROM storage_accounts WHERE subscription = \(subscription)
            ORDER BY name COLLATE "C", id
            """, "list storage accounts"
        ).map(StorageAccount.init(row:))
    }

    public func createContainer(_ c: Container) async throws {
        try await execute(
            """
            INSERT INTO containers (id, storage_account, name, created)
            VALUES (\(c.id), \(c.storageAccount), \(c.name), \(c.created))
            """, "create container \(c.name)")
    }

    public func containers(storageAccount: UUID) async throws -> [Container] {
        try await rows(
            """
            SELECT id, storage_account, name, created FROM containers WHERE storage_account = \(storageAccount)
            ORDER BY name COLLATE "C", id
            """, "list containers"
        ).map(Container.init(row:))
    }

    public func createApplication(_ a: Application) async throws {
        try await execute(
            """
            INSERT INTO applications (id, subscription, name, certificate_thumbprint, certificate_pem, created)
            VALUES (\(a.id), \(a.subscription), \(a.name), \(a.certificateThumbprint), \(a.certificatePEM),
                \(a.created))
            """, "create application \(a.name)")
    }

    public func application(subscription: UUID, name: String) async throws -> Application? {
        try await rows(
            """
            SELECT \(unescaped: Application.columns) FROM applications
            WHERE subscription = \(subscription) AND name = \(name)
            """, "read application \(name)"
        ).first.map(Application.init(row:))
    }

    public func applications(subscription: UUID) async throws -> [Application] {
        try await rows(
            """
            SELECT \(unescaped: Application.columns) FROM applications WHERE subscription = \(subscription)
            ORDER BY name COLLATE "C", id
            """, "list applications"
        ).map(Application.init(row:))
    }

    public func setApplicationCertificate(id: UUID, thumbprint: String, pem: String) async throws {
        let updated = try await rows(
            """
            UPDATE applications SET certificate_thumbprint = \(thumbprint), certificate_pem = \(pem)
            WHERE id = \(id) RETURNING 1
            """, "set the certificate of application \(id)")
        guard !updated.isEmpty else { throw HaulError(.notFound, "no application with id \(id)") }
    }

    public func deleteApplication(id: UUID) async throws {
        let deleted = try await rows(
            "DELETE FROM applications WHERE id = \(id) RETURNING 1", "delete application \(id)")
        guard !deleted.isEmpty else { throw HaulError(.notFound, "no application with id \(id)") }
    }

    // MARK: Tokens and assertion ids

    public func createToken(_ t: TokenRecord) async throws {
        try await execute(
            """
            INSERT INTO tokens (hash, thumbprint, subscription, role, subject, expires, revoked)
            VALUES (\(t.hash), \(t.thumbprint), \(t.subscription), \(t.role.rawValue), \(t.subject), \(t.expires),
                \(t.revoked))
            """, "create a token")
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await rows(
            """
            SELECT hash, thumbprint, subscription, role, subject, expires, revoked FROM tokens WHERE hash = \(hash)
            """, "read a token"
        ).first.map(TokenRecord.init(row:))
    }

    public func revokeToken(hash: String) async throws {
        let updated = try await rows(
            "UPDATE tokens SET revoked = true WHERE hash = \(hash) RETURNING 1", "revoke a token")
        guard !updated.isEmpty else { throw HaulError(.notFound, "no token with that hash") }
    }

    public func recordAssertionID(_ jti: String, expires: Date) async throws -> Bool {
        let inserted = try await rows(
            """
            INSERT INTO assertion_ids (jti, expires) VALUES (\(jti), \(expires))
            ON CONFLICT (jti) DO NOTHING RETURNING 1
            """, "record assertion id")
        return inserted.count == 1
    }

    public func sweepExpired(now: Date) async throws -> Int {
        let counts = try await rows(
            """
            WITH t AS (DELETE FROM tokens WHERE expires <= \(now) RETURNING 1),
                 a AS (DELETE FROM assertion_ids WHERE expires <= \(now) RETURNING 1)
            SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM a)
            """, "sweep expired tokens and assertion ids")
        return Int(try counts.first?.decode(Int64.self) ?? 0)
    }

    // MARK: Leases

    public func putLease(_ l: LeaseRecord, createOnly: Bool) async throws {
        let what = "put lease \(l.name) of server \(l.server)"
        let body = Data(l.body)
        if createOnly {
            let inserted = try await rows(
                """
                INSERT INTO leases (server, name, body, expires) VALUES (\(l.server), \(l.name), \(body), \(l.expires))
                ON CONFLICT (server, name) DO NOTHING RETURNING 1
                """, what)
            guard inserted.count == 1 else {
                throw HaulError(.alreadyExists, "lease \(l.name) of server \(l.server) is held already")
            }
        } else {
            try await execute(
                """
                INSERT INTO leases (server, name, body, expires) VALUES (\(l.server), \(l.name), \(body), \(l.expires))
                ON CONFLICT (server, name) DO UPDATE SET body = excluded.body, expires = excluded.expires
                """, what)
        }
    }

    public func lease(server: UUID, name: String) async throws -> LeaseRecord? {
        try await rows(
            "SELECT server, name, body, expires FROM leases WHERE server = \(server) AND name = \(name)",
            "read lease \(name)"
        ).first.map(LeaseRecord.init(row:))
    }

    public func leases(server: UUID) async throws -> [LeaseRecord] {
        try await rows(
            "SELECT server, name, body, expires FROM leases WHERE server = \(server) ORDER BY name COLLATE \"C\"",
            "list leases"
        ).map(LeaseRecord.init(row:))
    }

    public func deleteLease(server: UUID, name: String) async throws {
        let deleted = try await rows(
            "DELETE FROM leases WHERE server = \(server) AND name = \(name) RETURNING 1", "delete lease \(name)")
        guard !deleted.isEmpty else { throw HaulError(.notFound, "no lease \(name) of server \(server)") }
    }

    // MARK: Soft delete

    public func recordDeletedObject(_ d: DeletedObject) async throws {
        try await execute(
            """
            INSERT INTO deleted_objects (id, vault, server, object_path, trash_prefix, size, deleted_at, purge_after)
            VALUES (\(d.id), \(d.vault), \(d.server), \(d.objectPath), \(d.trashPrefix), \(d.size), \(d.deletedAt),
                \(d.purgeAfter))
            """, "record deleted object \(d.objectPath)")
    }

    public func deletedObject(id: UUID) async throws -> DeletedObject? {
        try await rows(
            "SELECT \(unescaped: DeletedObject.columns) FROM deleted_objects WHERE id = \(id)",
            "read deleted object \(id)"
        ).first.map(DeletedObject.init(row:))
    }

    public func deletedObjects(vault: UUID) async throws -> [DeletedObject] {
        try await rows(
            """
            SELECT \(unescaped: DeletedObject.columns) FROM deleted_objects WHERE vault = \(vault)
            ORDER BY deleted_at, id
            """, "list deleted objects"
        ).map(DeletedObject.init(row:))
    }

    public func deletedObjects(purgeDueAt now: Date, limit: Int) async throws -> [DeletedObject] {
        try await rows(
            """
            SELECT \(unescaped: DeletedObject.columns) FROM deleted_objects WHERE purge_after <= \(now)
            ORDER BY purge_after, id LIMIT \(limit)
            """, "list deleted objects due for purge"
        ).map(DeletedObject.init(row:))
    }

    public func removeDeletedObject(id: UUID) async throws {
        let deleted = try await rows(
            "DELETE FROM deleted_objects WHERE id = \(id) RETURNING 1", "remove deleted object \(id)")
        guard !deleted.isEmpty else { throw HaulError(.notFound, "no deleted object with id \(id)") }
    }

    // MARK: Audit

    @discardableResult public func appendAudit(_ e: AuditEvent) async throws -> AuditEvent {
        // The table lock makes commit order equal sequence order, so a reader paging with `after` never skips an
        // event that commits later with a smaller sequence. Readers are not blocked.
        try await transaction("append an audit event") { connection, logger in
            try await connection.query("LOCK TABLE audit_events IN EXCLUSIVE MODE", logger: logger)
            let rows = try await connection.query(
                """
                INSERT INTO audit_events (time, subscription, actor, action, target, detail)
                VALUES (\(e.time), \(e.subscription), \(e.actor), \(e.action), \(e.target), \(e.detail))
                RETURNING sequence
                """, logger: logger
            ).collect()
            var stored = e
            stored.sequence = try rows.first?.decode(Int64.self) ?? 0
            return stored
        }
    }

    public func audit(subscription: UUID?, after: Int64, limit: Int) async throws -> [AuditEvent] {
        try await rows(
            """
            SELECT sequence, time, subscription, actor, action, target, detail FROM audit_events
            WHERE subscription IS NOT DISTINCT FROM \(subscription) AND sequence > \(after)
            ORDER BY sequence LIMIT \(Int64(max(0, limit)))
            """, "read the audit log"
        ).map(AuditEvent.init(row:))
    }

    // MARK: Operators and datacenter

    public func createOperator(_ o: Operator) async throws {
        try await execute(
            "INSERT INTO operators (id, name, created) VALUES (\(o.id), \(o.name), \(o.created))",
            "create operator \(o.name)")
    }

    public func operators() async throws -> [Operator] {
        try await rows("SELECT id, name, created FROM operators ORDER BY name COLLATE \"C\", id", "list operators")
            .map(Operator.init(row:))
    }

    public func setDatacenter(_ d: Datacenter) async throws {
        try await execute(
            """
            INSERT INTO datacenter (id, name, address) VALUES (1, \(d.name), \(d.address))
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address
            """, "set the datacenter")
    }

    public func datacenter() async throws -> Datacenter? {
        try await rows("SELECT name, address FROM datacenter WHERE id = 1", "read the datacenter").first.map {
            let (name, address) = try $0.decode((String, String).self)
            return Datacenter(name: name, address: address)
        }
    }

    // MARK: Queries and errors

    /// Runs one statement and returns its rows (all of them, so the connection goes back to the pool).
    private func rows(_ query: PostgresQuery, _ what: String) async throws -> [PostgresRow] {
        do {
            return try await client.query(query, logger: logger).collect()
        } catch {
            throw Self.haulError(error, what, endpoint: endpoint)
        }
    }

    private func execute(_ query: PostgresQuery, _ what: String) async throws {
        _ = try await rows(query, what)
    }

    /// Runs `body` in one transaction on one pooled connection; a throw rolls back.
    private func transaction<Result: Sendable>(
        _ what: String, _ body: (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(connection, logger)
            }
        } catch {
            throw Self.haulError(error, what, endpoint: endpoint)
        }
    }

    /// Maps PostgreSQL's SQLSTATEs and the client's connection errors to the contract.
    static func haulError(_ error: any Error, _ what: String, endpoint: String) -> HaulError {
        if let error = error as? PostgresTransactionError {
            let inner = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError
            if let inner { return haulError(inner, what, endpoint: endpoint) }
        }
        if let error = error as? HaulError { return error }
        if error is CancellationError { return HaulError(.interrupted, "could not \(what): cancelled", cause: error) }
        if error is PostgresDecodingError {
            return HaulError(.corrupted, "could not \(what): a stored value has an unexpected type", cause: error)
        }
        guard let error = error as? PSQLError else {
            return HaulError(
                .io, "could not \(what): PostgreSQL at \(endpoint) is unreachable; try again", transient: true,
                cause: error)
        }
        guard error.code == .server, let state = error.sqlState else {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                .sslUnsupported, .failedToAddSSLHandler:
                return HaulError(
                    .io, "could not \(what): lost the connection to PostgreSQL at \(endpoint); try again",
                    transient: true, cause: error)
            case .queryCancelled:
                return HaulError(.interrupted, "could not \(what): the query was cancelled", cause: error)
            default:
                return HaulError(.internalError, "could not \(what)", cause: error)
            }
        }
        switch state {
        case "23505":
            return HaulError(.alreadyExists, "could not \(what): it exists already")
        case "23503":
            return HaulError(.notFound, "could not \(what): what it belongs to does not exist")
        case "40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03":
            return HaulError(
                .io, "could not \(what): PostgreSQL is busy or restarting (\(state)); try again", transient: true,
                cause: error)
        case _ where state.hasPrefix("08"):
            return HaulError(
                .io, "could not \(what): connection failure (\(state)); try again", transient: true, cause: error)
        case _ where state.hasPrefix("28"):
            return HaulError(
                .permissionDenied, "could not \(what): PostgreSQL at \(endpoint) refused the login", cause: error)
        default:
            return HaulError(.internalError, "could not \(what) (SQLSTATE \(state))", cause: error)
        }
    }
}

extension PSQLError {
    /// The SQLSTATE of a server error.
    fileprivate var sqlState: String? { serverInfo?[.sqlState] }
}

// MARK: Rows

extension PostgresRow {
    fileprivate func role(_ text: String) throws -> Role {
        guard let role = Role(rawValue: text) else {
            throw HaulError(.corrupted, "metadata holds the unknown role \"\(text)\"")
        }
        return role
    }
}

extension Subscription {
    fileprivate init(row: PostgresRow) throws {
        let (id, name, created) = try row.decode((UUID, String, Date).self)
        self.init(id: id, name: name, created: created)
    }
}

extension Identity {
    fileprivate static let columns =
        "thumbprint, subscription, role, subject, certificate_pem, not_after, revoked, created"
    fileprivate init(row: PostgresRow) throws {
        let (thumbprint, subscription, role, subject, pem, notAfter, revoked, created) = try row.decode(
            (String, UUID?, String, String, String, Date, Bool, Date).self)
        self.init(
            thumbprint: thumbprint, subscription: subscription, role: try row.role(role), subject: subject,
            certificatePEM: pem, notAfter: notAfter, revoked: revoked, created: created)
    }
}

extension Vault {
    fileprivate static let columns = "id, subscription, name, retention_days, created"
    fileprivate init(row: PostgresRow) throws {
        let (id, subscription, name, retention, created) = try row.decode((UUID, UUID, String, Int32, Date).self)
        self.init(id: id, subscription: subscription, name: name, retentionDays: Int(retention), created: created)
    }
}

extension Server {
    fileprivate static let columns = "id, vault, name, revoked, created"
    fileprivate init(row: PostgresRow) throws {
        let (id, vault, name, revoked, created) = try row.decode((UUID, UUID, String, Bool, Date).self)
        self.init(id: id, vault: vault, name: name, revoked: revoked, created: created)
    }
}

extension StorageAccount {
    fileprivate init(row: PostgresRow) throws {
        let (id, subscription, name, created) = try row.decode((UUID, UUID, String, Date).self)
        self.init(id: id, subscription: subscription, name: name, created: created)
    }
}

extension Container {
    fileprivate init(row: PostgresRow) throws {
        let (id, account, name, created) = try row.decode((UUID, UUID, String, Date).self)
        self.init(id: id, storageAccount: account, name: name, created: created)
    }
}

extension Application {
    fileprivate static let columns = "id, subscription, name, certificate_thumbprint, certificate_pem, created"
    fileprivate init(row: PostgresRow) throws {
        let (id, subscription, name, thumbprint, pem, created) = try row.decode(
            (UUID, UUID, String, String?, String?, Date).self)
        self.init(
            id: id, subscription: subscription, name: name, certificateThumbprint: thumbprint, certificatePEM: pem,
            created: created)
    }
}

extension TokenRecord {
    fileprivate init(row: PostgresRow) throws {
        let (hash, thumbprint, subscription, role, subject, expires, revoked) = try row.decode(
            (String, String, UUID?, String, String, Date, Bool).self)
        self.init(
            hash: hash, thumbprint: thumbprint, subscription: subscription, role: try row.role(role), subject: subject,
            expires: expires, revoked: revoked)
    }
}

extension LeaseRecord {
    fileprivate init(row: PostgresRow) throws {
        let (server, name, body, expires) = try row.decode((UUID, String, Data, Date).self)
        self.init(server: server, name: name, body: Array(body), expires: expires)
    }
}

extension DeletedObject {
    fileprivate static let columns = "id, vault, server, object_path, trash_prefix, size, deleted_at, purge_after"
    fileprivate init(row: PostgresRow) throws {
        let (id, vault, server, path, trash, size, deletedAt, purgeAfter) = try row.decode(
            (UUID, UUID, UUID, String, String, Int64, Date, Date).self)
        self.init(
            id: id, vault: vault, server: server, objectPath: path, trashPrefix: trash, size: size,
            deletedAt: deletedAt, purgeAfter: purgeAfter)
    }
}

extension AuditEvent {
    fileprivate init(row: PostgresRow) throws {
        let (sequence, time, subscription, actor, action, target, detail) = try row.decode(
            (Int64, Date, UUID?, String, String, String, String).self)
        self.init(
            sequence: sequence, time: time, subscription: subscription, actor: actor, action: action, target: target,
            detail: detail)
    }
}

extension Operator {
    fileprivate init(row: PostgresRow) throws {
        let (id, name, created) = try row.decode((UUID, String, Date).self)
        self.init(id: id, name: name, created: created)
    }
}
