import Foundation
import Glibc
import HaulTesting
import Testing

/// A real `hauld serve` on a free loopback port, with its own data directory; stopped with SIGTERM.
final class HauldProcess {
    static var executable: String {
        if let env = ProcessInfo.processInfo.environment["HAULD_BIN"] { return env }
        return URL(fileURLWithPath: HaulProcess.executable).deletingLastPathComponent().appendingPathComponent("hauld")
            .path
    }

    let data: String
    let adminArguments: [String]
    let port: Int
    let process: Process
    let log: String
    var url: String { "https://127.0.0.1:\(port)" }

    /// Starts the service and waits until it accepts connections (at most 60 s). `arguments` are added to
    /// `serve` (for example `--database` and `--blobs`), `environment` to the process's environment; a `--database`
    /// among them is passed to the admin commands too.
    init(data: String, port: Int? = nil, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.data = data
        if let i = arguments.firstIndex(of: "--database"), i + 1 < arguments.count {
            adminArguments = ["--database", arguments[i + 1]]
        } else {
            adminArguments = []
        }
        self.port = try port ?? Self.freePort()
        log = data + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["serve", "--data", data, "--listen", "127.0.0.1:\(self.port)"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !Self.accepts(port: self.port) {
            guard process.isRunning, Date() < deadline else {
                throw ScratchError(
                    "hauld did not start: " + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
            }
            usleep(100_000)
        }
    }

    deinit { stop() }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Runs `hauld args…` (an admin command) and returns its standard output; throws when it fails.
    @discardableResult
    func admin(_ args: [String]) throws -> String {
        try Shell.run(Self.executable, args + ["--data", data] + adminArguments)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else { throw ScratchError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A running service with a subscription, its admin credential, a vault `office` and publish settings for it.
struct VaultFixture {
    let service: HauldProcess
    let credential: String
    let settings: String

    init(_ scratch: ScratchDirectory, admin: HaulProcess, service: HauldProcess? = nil) throws {
        self.service = try service ?? HauldProcess(data: scratch("service"))
        let service = self.service
        let subscription = try service.admin(["admin", "subscription", "create", "acme", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(subscription.utf8)) as? [String: Any]
        guard let id = object?["id"] as? String else { throw ScratchError("no subscription id in \(subscription)") }
        credential = scratch("admin.json")
        try service.admin([
            "admin", "credential", "--subscription", id, "--out", credential, "--url", service.url,
        ])
        let vault = try admin.run(["cloud", "vault", "create", "office", "--credential", credential])
        guard vault.status == 0 else { throw ScratchError("vault create failed: \(vault.stderr)") }
        settings = scratch("office.publishsettings")
        let publish = try admin.run([
            "cloud", "publish-settings", "--vault", "office", "--expires", "1d", "--out", settings, "--credential",
            credential,
        ])
        guard publish.status == 0 else { throw ScratchError("publish-settings failed: \(publish.stderr)") }
    }
}

/// The vault workflow with the real executables: service, admin credential, vault, publish settings, register,
/// backup, restore, and recovery of the server on a second machine (a second state directory).
@Suite(.serialized) struct VaultWorkflowTests {
    /// `haul` with no local repository: the state directory decides.
    func agent(_ scratch: ScratchDirectory, state: String) -> HaulProcess {
        var haul = HaulProcess(repo: "")
        haul.environment["HAUL_STATE_DIR"] = scratch(state)
        haul.environment["HAUL_CACHE_DIR"] = scratch(state + "-cache")
        return haul
    }

    func json(_ result: HaulProcess.Result) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] ?? [:]
    }

    @Test func registerBackupRestoreAndRecover() throws {
        let scratch = try ScratchDirectory()
        let admin = agent(scratch, state: "admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let credential = ["--credential", fixture.credential]
        let settings = fixture.settings
        let vaults = try admin.run(["cloud", "vault", "list", "--json"] + credential)
        #expect(vaults.out.contains("\"office\""), "\(vaults.stderr)")
        var st = stat()
        #expect(stat(settings, &st) == 0 && st.st_mode & 0o777 == 0o600)

        // The first machine registers, which creates the repository in the vault, and backs up.
        let web = agent(scratch, state: "web-state")
        let register = try web.run(["register", "--settings", settings, "--name", "web-1", "--json"])
        #expect(register.status == 0, "\(register.stderr)")
        #expect(try json(register)["server"] as? String == "web-1")
        #expect(stat(scratch("web-state") + "/identity/key.pem", &st) == 0 && st.st_mode & 0o777 == 0o600)

        let source = scratch("tree")
        try TreeFixture.generate(
            at: source, seed: 21, options: TreeFixture.Options(socket: false, longPath: false, largeFileSize: 3 << 20))
        let backup = try web.run(["backup", source, "--quiet", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let snapshot = try #require(try json(backup)["snapshot"] as? String)
        let again = try web.run(["backup", source, "--quiet"])
        #expect(again.status == 0, "\(again.stderr)")
        let check = try web.run(["check", "--read-data"])
        #expect(check.status == 0, "\(check.stderr)")

        let restored = scratch("restored")
        let restore = try web.run(["restore", snapshot, "--target", restored])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TreeComparison.differences(source: source, restored: restored + "/tree", options: .init()) == [])

        let servers = try admin.run(["cloud", "server", "list", "--vault", "office", "--json"] + credential)
        #expect(servers.out.contains("web-1"), "\(servers.stderr)")

        // A replacement machine takes the server over and restores the same snapshot with the old passphrase.
        let replacement = agent(scratch, state: "replacement-state")
        let recover = try replacement.run(["register", "--settings", settings, "--recover", "web-1"])
        #expect(recover.status == 0, "\(recover.stderr)")
        let snapshots = try replacement.run(["snapshots", "--json"])
        #expect(snapshots.out.contains(snapshot), "\(snapshots.stderr)")
        let second = scratch("restored-2")
        let restore2 = try replacement.run(["restore", snapshot, "--target", second])
        #expect(restore2.status == 0, "\(restore2.stderr)")
        #expect(try TreeComparison.differences(source: source, restored: second + "/tree", options: .init()) == [])

        // forget and prune work on the vault too (prune deletes through the object API).
        let forget = try replacement.run(["forget", "--keep-last", "1", "--prune"])
        #expect(forget.status == 0, "\(forget.stderr)")
        let left = try replacement.run(["snapshots", "--json"])
        #expect((try JSONSerialization.jsonObject(with: left.stdout) as? [Any])?.count == 1, "\(left.stderr)")
        let checkAfter = try replacement.run(["check"])
        #expect(checkAfter.status == 0, "\(checkAfter.stderr)")

        // The first machine's identity was revoked by the recovery.
        let stale = try web.run(["snapshots"])
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("revoked"), "\(stale.stderr)")

        let usage = try admin.run(["cloud", "usage", "--json"] + credential)
        #expect(usage.status == 0, "\(usage.stderr)")
        let audit = try admin.run(["cloud", "audit"] + credential)
        #expect(audit.status == 0 && !audit.out.isEmpty, "\(audit.stderr)")
    }

    @Test func revokedPublishSettingsAreRefusedWithWhatToDo() throws {
        let scratch = try ScratchDirectory()
        let admin = agent(scratch, state: "admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let credential = ["--credential", fixture.credential]
        let listed = try admin.run(["cloud", "publish-settings", "list", "--vault", "office", "--json"] + credential)
        #expect(listed.status == 0, "\(listed.stderr)")
        let entries = try #require(try json(listed)["credentials"] as? [[String: Any]])
        #expect(entries.count == 1)
        let thumbprint = try #require(entries.first?["thumbprint"] as? String)
        #expect(entries.first?["revoked"] as? Bool == false)

        let revoke = try admin.run(
            ["cloud", "publish-settings", "revoke", thumbprint, "--vault", "office", "--json"] + credential)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(try json(revoke)["revoked"] as? Bool == true)
        let bad = try admin.run(["cloud", "publish-settings", "revoke", "xyz", "--vault", "office"] + credential)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("64 hex digits"), "\(bad.stderr)")

        let web = agent(scratch, state: "web-state")
        let register = try web.run(["register", "--settings", fixture.settings, "--name", "web-1"])
        #expect(register.status != 0)
        #expect(register.stderr.contains("were revoked by the administrator"), "\(register.stderr)")
        #expect(register.stderr.contains("haul cloud publish-settings"), "\(register.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("web-state") + "/server.json"))
        let servers = try admin.run(["cloud", "server", "list", "--vault", "office", "--json"] + credential)
        #expect(!servers.out.contains("web-1"), "\(servers.out)")
    }

    @Test func aServiceWithAnotherKeyIsRefused() throws {
        let scratch = try ScratchDirectory()
        let real = try HauldProcess(data: scratch("real"))
        let impostor = try HauldProcess(data: scratch("impostor"))
        let subscription = try real.admin(["admin", "subscription", "create", "acme", "--json"])
        let subscriptionID = try #require(
            (try JSONSerialization.jsonObject(with: Data(subscription.utf8)) as? [String: Any])?["id"] as? String)
        // A credential of the real service, pointed at the impostor: same pins, another key on the other end.
        try real.admin([
            "admin", "credential", "--subscription", subscriptionID, "--out", scratch("admin.json"),
            "--url", impostor.url,
        ])
        let admin = agent(scratch, state: "admin-state")
        let result = try admin.run(["cloud", "vault", "list", "--credential", scratch("admin.json")])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not pinned"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("admin-state") + "/server.json"))
    }

    @Test func withoutRepositoryOrRegistrationCommandsSayWhatToDo() throws {
        let scratch = try ScratchDirectory()
        let haul = agent(scratch, state: "empty-state")
        let result = try haul.run(["snapshots"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("haul register"), "\(result.stderr)")
        let vault = try haul.run(["snapshots", "--vault"])
        #expect(vault.status != 0)
        #expect(vault.stderr.contains("not registered"), "\(vault.stderr)")
    }
}

/// What people see of the vault commands: every one explains itself with an example.
@Suite struct VaultCommandHelpTests {
    @Test(arguments: [
        ["register"], ["cloud"], ["cloud", "publish-settings"], ["cloud", "publish-settings", "list"],
        ["cloud", "publish-settings", "revoke"], ["cloud", "vault", "create"],
        ["cloud", "vault", "list"],
        ["cloud", "vault", "undelete"], ["cloud", "storage-account", "create"], ["cloud", "storage-account", "list"],
        ["cloud", "container", "create"], ["cloud", "container", "list"], ["cloud", "server", "list"],
        ["cloud", "server", "revoke"], ["cloud", "usage"], ["cloud", "audit"],
    ])
    func helpHasAnExample(_ command: [String]) throws {
        let result = try HaulProcess(repo: "").run(command + ["--help"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.out.contains("Example:"), "\(command.joined(separator: " ")) --help: \(result.out)")
        // Groups list their subcommands; the leaves take --json.
        if command != ["cloud"], command != ["cloud", "publish-settings"] {
            #expect(result.out.contains("--json"), "\(command) has no --json")
        }
    }
}
