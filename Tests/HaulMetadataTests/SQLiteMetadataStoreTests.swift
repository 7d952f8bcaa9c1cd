import Foundation
import HaulFormat
import HaulMetadata
import HaulMetadataSQLite
import HaulMetadataTesting
import Testing

@Suite struct SQLiteMetadataStoreTests {
    @Test func conformance() async throws {
        let directory = try ScratchDirectory()
        var count = 0
        try await MetadataStoreConformance.run {
            count += 1
            return try SQLiteMetadataStore(path: directory.path("check-\(count).sqlite"))
        }
    }

    @Test func migrationsAreTheFrozenList() async throws {
        let directory = try ScratchDirectory()
        let store = try SQLiteMetadataStore(path: directory.path("m.sqlite"))
        #expect(try await store.appliedMigrations() == [])
        try await store.migrate()
        #expect(try await store.appliedMigrations() == ["v1-initial"])
    }

    @Test func twoPoolsOnOneFileSeeEachOthersWrites() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path("shared.sqlite")
        let one = try SQLiteMetadataStore(path: path)
        let two = try SQLiteMetadataStore(path: path)
        try await one.migrate()
        try await two.migrate()
        let created = Date(timeIntervalSince1970: 1_750_000_000)
        let a = Subscription(id: UUID(), name: "written-by-one", created: created)
        try await one.createSubscription(a)
        #expect(try await two.subscription(id: a.id) == a)
        let b = Subscription(id: UUID(), name: "written-by-two", created: created)
        try await two.createSubscription(b)
        #expect(try await one.subscriptions() == [a, b])
        #expect(try await two.recordAssertionID("jti", expires: created) == true)
        #expect(try await one.recordAssertionID("jti", expires: created) == false)
        do {
            try await one.createSubscription(b)
            Issue.record("creating a subscription the other pool created succeeded")
        } catch {
            #expect(error.haulCode == .alreadyExists)
        }
    }

    @Test func concurrentMigrationsOnOneFileMigrateOnce() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path("race.sqlite")
        let stores = try (0..<4).map { _ in try SQLiteMetadataStore(path: path) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { try await store.migrate() } }
            try await group.waitForAll()
        }
        for store in stores { #expect(try await store.appliedMigrations() == ["v1-initial"]) }
        let sub = Subscription(id: UUID(), name: "after the race", created: Date(timeIntervalSince1970: 1))
        try await stores[0].createSubscription(sub)
        #expect(try await stores[3].subscriptions() == [sub])
    }

    @Test func aFileThatIsNotADatabaseIsAnError() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path("garbage.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        do {
            let store = try SQLiteMetadataStore(path: path)
            try await store.migrate()
            Issue.record("a garbage file opened and migrated")
        } catch {
            #expect(error.haulCode != nil, "expected a HaulError, got \(error)")
        }
    }
}

/// A temporary directory removed when the value goes away.
final class ScratchDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("haul-metadata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}
