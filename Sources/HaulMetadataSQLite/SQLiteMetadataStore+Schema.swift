import GRDB

/// The schema of the SQLite store, as numbered migrations (docs/metadata.md §2, §3).
///
/// A shipped migration is frozen: never edit or reorder one, append a new one. Times are INTEGER microseconds since
/// 1970, ids are lowercase UUID text, booleans are 0/1. Tables are STRICT so a wrong type is refused, not coerced.
extension SQLiteMetadataStore {
    static let migrations: [(id: String, sql: [String])] = [
        (
            "v1-initial",
            [
                """
                CREATE TABLE subscriptions (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    created INTEGER NOT NULL
                ) STRICT
                """,
                "CREATE INDEX subscriptions_by_name ON subscriptions (name, id)",
                """
                CREATE TABLE identities (
                    thumbprint TEXT PRIMARY KEY NOT NULL,
                    subscription TEXT REFERENCES subscriptions (id),
                    role TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    certificate_pem TEXT NOT NULL,
                    not_after INTEGER NOT NULL,
                    revoked INTEGER NOT NULL,
                    created INTEGER NOT NULL
                ) STRICT
                """,
                "CREATE INDEX identities_by_subject ON identities (subscription, subject)",
                """
                CREATE TABLE vaults (
                    id TEXT PRIMARY KEY NOT NULL,
                    subscription TEXT NOT NULL REFERENCES subscriptions (id),
                    name TEXT NOT NULL,
                    retention_days INTEGER NOT NULL,
                    created INTEGER NOT NULL,
                    UNIQUE (subscription, name)
                ) STRICT
                """,
                """
                CREATE TABLE servers (
                    id TEXT PRIMARY KEY NOT NULL,
                    vault TEXT NOT NULL REFERENCES vaults (id),
                    name TEXT NOT NULL,
                    revoked INTEGER NOT NULL,
                    created INTEGER NOT NULL,
                    UNIQUE (vault, name)
                ) STRICT
                """,
                """
                CREATE TABLE storage_accounts (
                    id TEXT PRIMARY KEY NOT NULL,
                    subscription TEXT NOT NULL REFERENCES subscriptions (id),
                    name TEXT NOT NULL,
                    created INTEGER NOT NULL,
                    UNIQUE (subscription, name)
                ) STRICT
                """,
                """
                CREATE TABLE containers (
                    id TEXT PRIMARY KEY NOT NULL,
                    storage_account TEXT NOT NULL REFERENCES storage_accounts (id),
                    name TEXT NOT NULL,
                    created INTEGER NOT NULL,
                    UNIQUE (storage_account, name)
                ) STRICT
                """,
                """
                CREATE TABLE applications (
                    id TEXT PRIMARY KEY NOT NULL,
                    subscription TEXT NOT NULL REFERENCES subscriptions (id),
                    name TEXT NOT NULL,
                    certificate_thumbprint TEXT,
                    certificate_pem TEXT,
                    created INTEGER NOT NULL,
                    UNIQUE (subscription, name)
                ) STRICT
                """,
                """
                CREATE TABLE tokens (
                    hash TEXT PRIMARY KEY NOT NULL,
                    thumbprint TEXT NOT NULL REFERENCES identities (thumbprint),
                    subscription TEXT,
                    role TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    expires INTEGER NOT NULL,
                    revoked INTEGER NOT NULL
                ) STRICT
                """,
                "CREATE INDEX tokens_by_thumbprint ON tokens (thumbprint)",
                "CREATE INDEX tokens_by_expiry ON tokens (expires)",
                """
                CREATE TABLE assertion_ids (
                    jti TEXT PRIMARY KEY NOT NULL,
                    expires INTEGER NOT NULL
                ) STRICT
                """,
                "CREATE INDEX assertion_ids_by_expiry ON assertion_ids (expires)",
                """
                CREATE TABLE leases (
                    server TEXT NOT NULL REFERENCES servers (id),
                    name TEXT NOT NULL,
                    body BLOB NOT NULL,
                    expires INTEGER NOT NULL,
                    PRIMARY KEY (server, name)
                ) STRICT
                """,
                """
                CREATE TABLE deleted_objects (
                    id TEXT PRIMARY KEY NOT NULL,
                    vault TEXT NOT NULL REFERENCES vaults (id),
                    server TEXT NOT NULL REFERENCES servers (id),
                    object_path TEXT NOT NULL,
                    trash_prefix TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    deleted_at INTEGER NOT NULL,
                    purge_after INTEGER NOT NULL
                ) STRICT
                """,
                "CREATE INDEX deleted_objects_by_vault ON deleted_objects (vault, deleted_at, id)",
                "CREATE INDEX deleted_objects_by_server ON deleted_objects (server)",
                "CREATE INDEX deleted_objects_by_purge ON deleted_objects (purge_after)",
                """
                CREATE TABLE audit_events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    time INTEGER NOT NULL,
                    subscription TEXT,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    detail TEXT NOT NULL
                ) STRICT
                """,
                "CREATE INDEX audit_events_by_subscription ON audit_events (subscription, sequence)",
                """
                CREATE TABLE operators (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    created INTEGER NOT NULL
                ) STRICT
                """,
                """
                CREATE TABLE datacenter (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    name TEXT NOT NULL,
                    address TEXT NOT NULL
                ) STRICT
                """,
            ]
        )
    ]

    /// GRDB's migrator over `migrations`. Each migration runs in its own IMMEDIATE transaction (the database's write
    /// lock) and first checks, under that lock, that no other process applied it since this one looked; if one did,
    /// it throws `AppliedConcurrently`, the transaction rolls back, and `migrate()` runs the migrator again.
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations {
            let id = migration.id
            let statements = migration.sql
            migrator.registerMigration(id, foreignKeyChecks: .immediate) { db in
                let applied = try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM grdb_migrations WHERE identifier = ?)", arguments: [id])
                if applied == true { throw AppliedConcurrently(id: id) }
                for sql in statements { try db.execute(sql: sql) }
            }
        }
        return migrator
    }

    /// Another process applied migration `id` between this process's look at `grdb_migrations` and its lock.
    struct AppliedConcurrently: Error {
        let id: String
    }
}
