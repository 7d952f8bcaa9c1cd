import Foundation
import HaulTesting
import Testing

/// Two `hauld` instances sharing one PostgreSQL database and one S3 bucket (Ceph RGW, started by scripts/test) serve
/// the same data at the same time: a backup made through one is listed, restored and extended through the other.
@Suite(.serialized) struct VaultSharedBackendsTests {
    @Test func twoInstancesSharingPostgresAndS3ServeTheSameData() throws {
        let env = ProcessInfo.processInfo.environment
        guard let postgres = env["HAUL_TEST_POSTGRES_URL"], let endpoint = env["HAUL_TEST_S3_ENDPOINT"],
            let accessKey = env["HAUL_TEST_S3_ACCESS_KEY"], let secretKey = env["HAUL_TEST_S3_SECRET_KEY"]
        else {
            if env["CI"] == "true" {
                Issue.record("CI=true but HAUL_TEST_POSTGRES_URL or HAUL_TEST_S3_* is unset: scripts/test starts both")
            } else {
                print("skipped: needs PostgreSQL and Ceph RGW (run scripts/test, which starts both)")
            }
            return
        }
        let scratch = try ScratchDirectory()
        let unique = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        // A database of its own on the test server.
        let database = "hauld_e2e_\(unique)"
        try Shell.run("/usr/bin/psql", [postgres, "-qAt", "-c", "CREATE DATABASE \(database)"])
        let base = postgres[..<(postgres.lastIndex(of: "/") ?? postgres.endIndex)]
        let arguments = [
            "--database", "\(base)/\(database)",
            "--blobs", "s3://haul-e2e-\(unique)/vaults?endpoint=\(endpoint)&region=us-east-1",
        ]
        let s3Environment = ["HAUL_S3_ACCESS_KEY": accessKey, "HAUL_S3_SECRET_KEY": secretKey]

        let first = try HauldProcess(
            data: scratch("first"), arguments: arguments, environment: s3Environment)
        var admin = HaulProcess(repo: "")
        admin.environment["HAUL_STATE_DIR"] = scratch("admin-state")
        defer { first.stop() }
        let fixture = try VaultFixture(scratch, admin: admin, service: first)

        var web = HaulProcess(repo: "")
        web.environment["HAUL_STATE_DIR"] = scratch("web-state")
        web.environment["HAUL_CACHE_DIR"] = scratch("web-cache")
        let register = try web.run(["register", "--settings", fixture.settings, "--name", "web-1"])
        #expect(register.status == 0, "\(register.stderr)")
        let source = scratch("tree")
        try TreeFixture.generate(
            at: source, seed: 5, options: TreeFixture.Options(socket: false, longPath: false, largeFileSize: 2 << 20))
        let backup = try web.run(["backup", source, "--quiet", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let summary = try JSONSerialization.jsonObject(with: backup.stdout) as? [String: Any]
        let snapshot = try #require(summary?["snapshot"] as? String)
        // Nothing of the repository is in the first instance's data directory: the packs are in the bucket.
        #expect(!FileManager.default.fileExists(atPath: scratch("first") + "/blobs/vaults"))

        // The second instance runs beside the first: another data directory with the same TLS key and CA, the same
        // database and bucket. The agent switches between them by the service URL in its server.json.
        let second = scratch("second")
        try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: true)
        for folder in ["tls", "ca"] {
            try Shell.run("/bin/cp", ["-a", scratch("first") + "/" + folder, second + "/" + folder])
        }
        let other = try HauldProcess(data: second, arguments: arguments, environment: s3Environment)
        defer { other.stop() }
        let serverFile = scratch("web-state") + "/server.json"
        func use(_ service: HauldProcess) throws {
            var state = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: serverFile)))
                    as? [String: Any])
            state["serviceURL"] = service.url
            try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: serverFile))
        }

        try use(other)
        let snapshots = try web.run(["snapshots", "--json"])
        #expect(snapshots.status == 0 && snapshots.out.contains(snapshot), "\(snapshots.stderr)")
        let restored = scratch("restored")
        let restore = try web.run(["restore", snapshot, "--target", restored])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TreeComparison.differences(source: source, restored: restored + "/tree", options: .init()) == [])
        try FileManager.default.createDirectory(atPath: source + "/new", withIntermediateDirectories: true)
        try Data("written through the second instance\n".utf8).write(to: URL(fileURLWithPath: source + "/new/file"))
        let secondBackup = try web.run(["backup", source, "--quiet", "--json"])
        #expect(secondBackup.status == 0, "\(secondBackup.stderr)")
        let secondSummary = try JSONSerialization.jsonObject(with: secondBackup.stdout) as? [String: Any]
        let newer = try #require(secondSummary?["snapshot"] as? String)

        // Back on the first instance, while both run: both snapshots, and the data checks clean.
        try use(first)
        let both = try web.run(["snapshots", "--json"])
        #expect(both.status == 0 && both.out.contains(snapshot) && both.out.contains(newer), "\(both.stderr)")
        let check = try web.run(["check", "--read-data"])
        #expect(check.status == 0, "\(check.stderr)")
        let servers = try admin.run([
            "cloud", "server", "list", "--vault", "office", "--credential", fixture.credential,
        ])
        #expect(servers.out.contains("web-1"), "\(servers.stderr)")

        // Revocation through one instance cuts the server off on the other at once: both read the identity from
        // the shared database on every token exchange and every request.
        try use(other)
        #expect(try web.run(["snapshots"]).status == 0)
        let revoke = try admin.run([
            "cloud", "server", "revoke", "web-1", "--vault", "office", "--credential", fixture.credential,
        ])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let refused = try web.run(["snapshots"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("revoked"), "\(refused.stderr)")
    }
}
