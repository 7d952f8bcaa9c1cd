import Foundation
import HaulFormat
import HaulMetadata
import HaulMetadataPostgres
import HaulMetadataTesting
import Logging
import PostgresNIO
import Testing

/// Runs against the server in `HAUL_TEST_POSTGRES_URL` (scripts/test starts one). Each test makes its own database
/// and drops it afterwards; the conformance suite empties the schema between checks. Without the variable the tests
/// are skipped, except with `CI=true`, where they fail: CI must cover PostgreSQL.
@Suite(.enabled(if: TestPostgres.baseURL != nil || TestPostgres.isCI, "HAUL_TEST_POSTGRES_URL is unset"))
struct PostgresMetadataStoreTests {
    @Test func conformance() async throws {
        try await TestPostgres.withScratchDatabase { url, admin in
            try await PostgresMetadataStore.withStore(url: url) { store in
                try await MetadataStoreConformance.run {
                    try await admin.query("DROP SCHEMA public CASCADE")
                    try await admin.query("CREATE SCHEMA public")
                    return store
                }
            }
        }
    }

    @Test func concurrentMigrationsMigrateOnce() async throws {
        try await TestPostgres.withScratchDatabase { url, admin in
            try await PostgresMetadataStore.withStore(url: url) { one in
                try await PostgresMetadataStore.withStore(url: url) { two in
                    #expect(try await one.appliedMigrations() == [])
                    async let first: Void = one.migrate()
                    async let second: Void = two.migrate()
                    _ = try await (first, second)
                    #expect(try await one.appliedMigrations() == ["v1-initial"])
                    #expect(try await two.appliedMigrations() == ["v1-initial"])
                    let rows = try await admin.query("SELECT count(*) FROM schema_migrations").collect()
                    #expect(try rows.first?.decode(Int64.self) == 1)
                    let sub = Subscription(id: UUID(), name: "after the race", created: Date(timeIntervalSince1970: 9))
                    try await one.createSubscription(sub)
                    #expect(try await two.subscriptions() == [sub])
                    try await two.migrate()
                    #expect(try await one.appliedMigrations() == ["v1-initial"])
                }
            }
        }
    }
}

/// The parts that need no server: URL parsing and the error of an unreachable one.
@Suite struct PostgresMetadataStoreOfflineTests {
    @Test func anUnreachableServerIsTransient() async throws {
        // Port 1 on loopback refuses connections. postgres-nio's pool retries with backoff and fails waiting
        // requests when its circuit breaker trips (60 s, not configurable through PostgresClient), so this is slow.
        try await PostgresMetadataStore.withStore(url: "postgres://nobody@127.0.0.1:1/none") { store in
            do {
                _ = try await store.subscriptions()
                Issue.record("a query against a closed port succeeded")
            } catch let error as HaulError {
                #expect(error.isTransient, "expected a transient error, got \(error)")
            }
        }
    }

    @Test(arguments: ["mysql://u@h/d", "postgres://127.0.0.1/d", "postgres://u@/d", "postgres://u@h/d?sslmode=verify"])
    func badURLsAreRefused(_ url: String) {
        #expect(throws: HaulError.self) { try PostgresMetadataStore(url: url) }
    }
}

enum TestPostgres {
    static var baseURL: String? {
        ProcessInfo.processInfo.environment["HAUL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Creates a database of its own on the server of `HAUL_TEST_POSTGRES_URL`, passes its URL and a client connected
    /// to it, and drops it afterwards.
    static func withScratchDatabase(_ body: (String, PostgresClient) async throws -> Void) async throws {
        let base = try #require(
            baseURL, "CI=true needs HAUL_TEST_POSTGRES_URL (scripts/test starts a server and sets it)")
        var parts = try #require(URLComponents(string: base), "HAUL_TEST_POSTGRES_URL is not a URL")
        let name = "haul_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await withClient(base) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        parts.path = "/" + name
        let url = try #require(parts.string)
        do {
            try await withClient(url) { client in try await body(url, client) }
        } catch {
            try? await dropDatabase(name, base)
            throw error
        }
        try await dropDatabase(name, base)
    }

    private static func dropDatabase(_ name: String, _ base: String) async throws {
        try await withClient(base) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }
    }

    private static func withClient(_ url: String, _ body: (PostgresClient) async throws -> Void) async throws {
        let parts = try #require(URLComponents(string: url))
        let configuration = PostgresClient.Configuration(
            host: try #require(parts.host), port: parts.port ?? 5432, username: try #require(parts.user),
            password: parts.password, database: String(parts.path.dropFirst()), tls: .disable)
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "haul.test.postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}
