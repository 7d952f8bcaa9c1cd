/// The schema of the PostgreSQL store, as numbered migrations (docs/metadata.md §2, §3).
///
/// A shipped migration is frozen: never edit or reorder one, append a new one. Applied migrations are rows of
/// `schema_migrations`; all pending ones run in one transaction under `pg_advisory_xact_lock(migrationLock)`.
extension PostgresMetadataStore {
    /// The advisory lock key every instance takes before migrating ("haulmeta" in ASCII).
    static let migrationLock: Int64 = 0x6861_756C_6D65_7461

    static let migrations: [(id: String, sql: [String])] = [
        (
            "v1-initial",
            [
                """
                CREATE TABLE subscriptions (
                    id uuid PRIMARY KEY,
                    name text NOT NULL,
                    created timestamptz NOT NULL
                )
                """,
                "CREATE INDEX subscriptions_by_name ON subscriptions (name COLLATE \"C\", id)",
                """
                CREATE TABLE identities (
                    thumbprint text PRIMARY KEY,
                    subscription uuid REFERENCES subscriptions (id),
                    role text NOT NULL,
                    subject text NOT NULL,
                    certificate_pem text NOT NULL,
                    not_after timestamptz NOT NULL,
                    revoked boolean NOT NULL,
                    created timestamptz NOT NULL
                )
                """,
                "CREATE INDEX identities_by_subject ON identities (subscription, subject)",
                """
                CREATE TABLE vaults (
                    id uuid PRIMARY KEY,
                    subscription uuid NOT NULL REFERENCES subscriptions (id),
                    name text NOT NULL,
                    retention_days integer NOT NULL,
                    created timestamptz NOT NULL,
                    UNIQUE (subscription, name)
                )
                """,
                """
                CREATE TABLE servers (
                    id uuid PRIMARY KEY,
                    vault uuid NOT NULL REFERENCES vaults (id),
                    name text NOT NULL,
                    revoked boolean NOT NULL,
                    created timestamptz NOT NULL,
                    UNIQUE (vault, name)
                )
                """,
                """
                CREATE TABLE storage_accounts (
                    id uuid PRIMARY KEY,
                    subscription uuid NOT NULL REFERENCES subscriptions (id),
                    name text NOT NULL,
                    created timestamptz NOT NULL,
                    UNIQUE (subscription, name)
                )
                """,
                """
                CREATE TABLE containers (
                    id uuid PRIMARY KEY,
                    storage_account uuid NOT NULL REFERENCES storage_accounts (id),
                    name text NOT NULL,
                    created timestamptz NOT NULL,
                    UNIQUE (storage_account, name)
                )
                """,
                """
                CREATE TABLE applications (
                    id uuid PRIMARY KEY,
                    subscription uuid NOT NULL REFERENCES subscriptions (id),
                    name text NOT NULL,
                    certificate_thumbprint text,
                    certificate_pem text,
                    created timestamptz NOT NULL,
                    UNIQUE (subscription, name)
                )
                """,
                """
                CREATE TABLE tokens (
                    hash text PRIMARY KEY,
                    thumbprint text NOT NULL REFERENCES identities (thumbprint),
                    subscription uuid,
                    role text NOT NULL,
                    subject text NOT NULL,
                    expires timestamptz NOT NULL,
                    revoked boolean NOT NULL
                )
                """,
                "CREATE INDEX tokens_by_thumbprint ON tokens (thumbprint)",
                "CREATE INDEX tokens_by_expiry ON tokens (expires)",
                """
                CREATE TABLE assertion_ids (
                    jti text PRIMARY KEY,
                    expires timestamptz NOT NULL
                )
                """,
                "CREATE INDEX assertion_ids_by_expiry ON assertion_ids (expires)",
                """
                CREATE TABLE leases (
                    server uuid NOT NULL REFERENCES servers (id),
                    name text NOT NULL,
                    body bytea NOT NULL,
                    expires timestamptz NOT NULL,
                    PRIMARY KEY (server, name)
                )
                """,
                """
                CREATE TABLE deleted_objects (
                    id uuid PRIMARY KEY,
                    vault uuid NOT NULL REFERENCES vaults (id),
                    server uuid NOT NULL REFERENCES servers (id),
                    object_path text NOT NULL,
                    trash_prefix text NOT NULL,
                    size bigint NOT NULL,
                    deleted_at timestamptz NOT NULL,
                    purge_after timestamptz NOT NULL
                )
                """,
                "CREATE INDEX deleted_objects_by_vault ON deleted_objects (vault, deleted_at, id)",
                "CREATE INDEX deleted_objects_by_server ON deleted_objects (server)",
                "CREATE INDEX deleted_objects_by_purge ON deleted_objects (purge_after)",
                """
                CREATE TABLE audit_events (
                    sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    time timestamptz NOT NULL,
                    subscription uuid,
                    actor text NOT NULL,
                    action text NOT NULL,
                    target text NOT NULL,
                    detail text NOT NULL
                )
                """,
                "CREATE INDEX audit_events_by_subscription ON audit_events (subscription, sequence)",
                """
                CREATE TABLE operators (
                    id uuid PRIMARY KEY,
                    name text NOT NULL,
                    created timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE datacenter (
                    id integer PRIMARY KEY CHECK (id = 1),
                    name text NOT NULL,
                    address text NOT NULL
                )
                """,
            ]
        )
    ]
}
