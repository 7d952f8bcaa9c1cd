import Foundation
import Glibc
import Testing

/// `haul key …` and `haul unlock` through the real executable.
@Suite(.serialized) struct KeyCommandTests {
    func json(_ result: HaulProcess.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: result.stdout)
    }

    func keyList(_ haul: HaulProcess) throws -> [[String: Any]] {
        let result = try haul.run(["key", "list", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try json(result) as? [[String: Any]] ?? []
    }

    @Test func addListRemoveAndPasswd() throws {
        let scratch = try ScratchDirectory()
        var haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        let initial = try keyList(haul)
        #expect(initial.count == 1)
        #expect(initial.first?["current"] as? Bool == true)
        let firstID = try #require(initial.first?["id"] as? String)

        // Add a second passphrase from the environment.
        haul.environment["HAUL_NEW_PASSWORD"] = "second passphrase"
        let added = try haul.run(["key", "add", "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let secondID = try #require((try json(added) as? [String: Any])?["added"] as? String)
        let both = try keyList(haul)
        #expect(Set(both.compactMap { $0["id"] as? String }) == [firstID, secondID])
        #expect(both.filter { $0["current"] as? Bool == true }.compactMap { $0["id"] as? String } == [firstID])
        #expect(both.first { $0["id"] as? String == secondID }?["username"] != nil)

        // The second passphrase opens the repository and is the one marked.
        var viaSecond = haul
        viaSecond.password = "second passphrase"
        let text = try viaSecond.run(["key", "list"])
        #expect(text.status == 0)
        #expect(text.out.contains("* \(secondID.prefix(16))"))
        #expect(text.out.contains("  \(firstID.prefix(16))"))
        #expect(text.out.contains("n=1024 r=8 p=1"))

        // The key in use is refused; another is removed by prefix.
        let refused = try haul.run(["key", "remove", String(firstID.prefix(8))])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("another passphrase"))
        let removed = try haul.run(["key", "remove", String(secondID.prefix(8)), "--json"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect((try json(removed) as? [String: Any])?["removed"] as? String == secondID)
        #expect(try viaSecond.run(["snapshots"]).status == 12)

        // passwd: the new passphrase from a file; afterwards exactly one key, opened only by the new passphrase.
        let newFile = scratch("new-passphrase")
        try Data("third passphrase\n".utf8).write(to: URL(fileURLWithPath: newFile))
        haul.environment["HAUL_NEW_PASSWORD"] = nil
        let passwd = try haul.run(["key", "passwd", "--new-password-file", newFile, "--json"])
        #expect(passwd.status == 0, "\(passwd.stderr)")
        let body = try json(passwd) as? [String: Any]
        #expect(body?["removed"] as? String == firstID)
        #expect(try haul.run(["snapshots"]).status == 12)
        var viaThird = haul
        viaThird.password = "third passphrase"
        let after = try keyList(viaThird)
        #expect(after.count == 1)
        #expect(after.first?["id"] as? String == body?["added"] as? String)
        #expect(after.first?["current"] as? Bool == true)
    }

    @Test func addWithoutANewPassphraseSaysWhereToPutIt() throws {
        let scratch = try ScratchDirectory()
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        let result = try haul.run(["key", "add"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("HAUL_NEW_PASSWORD"))
        #expect(try keyList(haul).count == 1)
    }

    @Test func recoveryKitRestoresALostKeysFolder() throws {
        let scratch = try ScratchDirectory()
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        let src = scratch("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: src + "/file.txt"))
        #expect(try haul.run(["backup", src]).status == 0)

        let kitPath = scratch("kit.json")
        let export = try haul.run(["key", "export-recovery", "--out", kitPath])
        #expect(export.status == 0, "\(export.stderr)")
        var st = stat()
        #expect(stat(kitPath, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        let again = try haul.run(["key", "export-recovery", "--out", kitPath])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))

        // Lose keys/, then follow the kit's instructions.
        try FileManager.default.removeItem(atPath: scratch("repo/keys"))
        #expect(try haul.run(["snapshots"]).status != 0)
        let kit = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: kitPath))) as? [String: Any])
        let keyID = try #require(kit["keyID"] as? String)
        #expect((kit["instructions"] as? [String])?.contains { $0.contains("keys/\(keyID)") } == true)
        try FileManager.default.createDirectory(atPath: scratch("repo/keys"), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: try #require(kit["keyFile"]))
            .write(to: URL(fileURLWithPath: scratch("repo/keys/\(keyID)")))

        let target = scratch("out")
        let restore = try haul.run(["restore", "latest", "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: target + "/src/file.txt") == Data("precious\n".utf8))
    }

    @Test func unlockRemovesExpiredLeasesOnlyAndStaleLocalOnesOnRequest() throws {
        let scratch = try ScratchDirectory()
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        let leases = scratch("repo/leases")
        try FileManager.default.createDirectory(atPath: leases, withIntermediateDirectories: true)
        let here = ProcessInfo.processInfo.hostName
        func lease(
            _ name: Character, host: String, pid: Int32, purpose: String, expires: String, user: String? = nil
        ) throws -> String {
            let path = leases + "/" + String(repeating: name, count: 64)
            let userField = user.map { ", \"user\": \"\($0)\"" } ?? ""
            let json = """
                {"version": 1, "kind": "shared", "hostname": "\(host)", "pid": \(pid), "purpose": "\(purpose)", \
                "created": "2020-01-01T00:00:00Z", "expires": "\(expires)"\(userField)}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        // Expired, written by an older haul without the `user` field.
        let expired = try lease(
            "a", host: "crashed-host", pid: 4242, purpose: "backup", expires: "2020-01-01T00:30:00Z")
        let live = try lease(
            "b", host: "busy-host", pid: 777, purpose: "check", expires: "2999-01-01T00:00:00Z", user: "alice")
        // Not expired, but taken on this host by a process that does not exist (pid_max is at most 2^22).
        let gone = try lease(
            "c", host: here, pid: Int32.max, purpose: "prune", expires: "2999-01-01T00:00:00Z", user: "bob")

        let result = try haul.run(["unlock", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let body = try json(result) as? [String: [[String: Any]]]
        let removed = body?["removed"] ?? []
        #expect(removed.count == 1)
        #expect(removed.first?["hostname"] as? String == "crashed-host")
        #expect(removed.first?["pid"] as? Int == 4242)
        #expect(removed.first?["purpose"] as? String == "backup")
        #expect(removed.first?["reason"] as? String == "expired")
        #expect(removed.first?["user"] == nil)
        #expect(body?["live"]?.first?["hostname"] as? String == "busy-host")
        #expect(body?["live"]?.first?["user"] as? String == "alice")
        #expect(body?["staleKept"]?.first?["reason"] as? String == "processGone")
        #expect(body?["staleKept"]?.first?["user"] as? String == "bob")
        #expect(!FileManager.default.fileExists(atPath: expired))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(FileManager.default.fileExists(atPath: gone), "unlock without --stale-local removed a local lease")

        // Text: says whose the kept ones are, and how to remove the stale local one.
        let text = try haul.run(["unlock"])
        #expect(text.status == 0)
        #expect(text.out.contains("no expired leases"))
        #expect(text.out.contains("kept live shared lease for check by alice (pid 777 on busy-host)"), "\(text.out)")
        #expect(text.out.contains("by bob (pid \(Int32.max) on \(here))"))
        #expect(text.out.contains("--stale-local"))

        let local = try haul.run(["unlock", "--stale-local"])
        #expect(local.status == 0)
        #expect(
            local.out.contains("removed shared lease for prune by bob (pid \(Int32.max) on \(here))"), "\(local.out)")
        #expect(local.out.contains("its process is gone"))
        #expect(!FileManager.default.fileExists(atPath: gone))
        // A live lease is never removed, by any number of runs, with or without the flag.
        #expect(FileManager.default.fileExists(atPath: live))
    }

    @Test func leasesRecordTheUserWhoTookThem() throws {
        let scratch = try ScratchDirectory()
        var haul = HaulProcess(repo: scratch("repo"))
        haul.environment["USER"] = "carol"
        #expect(try haul.run(["init"]).status == 0)
        try FileManager.default.createDirectory(atPath: scratch("src"), withIntermediateDirectories: true)
        // Kill a running backup and read the lease it leaves behind.
        var big = [UInt8](repeating: 0, count: 1 << 20)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        for i in 0..<48 { try Data(big).write(to: URL(fileURLWithPath: scratch("src/f\(i)"))) }
        let (p, _, _) = try haul.start(["backup", scratch("src"), "--quiet"])
        var leaseFiles: [String] = []
        for _ in 0..<3000 {
            leaseFiles = (try? FileManager.default.contentsOfDirectory(atPath: scratch("repo/leases"))) ?? []
            if !leaseFiles.filter({ !$0.hasPrefix(".") }).isEmpty { break }
            usleep(5000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let name = try #require(leaseFiles.first { !$0.hasPrefix(".") })
        let data = try Data(contentsOf: URL(fileURLWithPath: scratch("repo/leases/" + name)))
        let lease = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(lease["user"] as? String == "carol")
        #expect(lease["purpose"] as? String == "backup")
        let text = try haul.run(["unlock", "--stale-local"])
        #expect(text.out.contains("lease for backup by carol"), "\(text.out)")
    }

    @Test(arguments: ["list", "add", "remove", "passwd", "export-recovery"])
    func keySubcommandsHaveHelpWithAnExample(_ command: String) throws {
        let result = try HaulProcess(repo: "/nonexistent").run(["key", command, "--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Example: haul key \(command)"))
        #expect(result.out.contains("--repo"))
        #expect(result.out.contains("--json"))
    }

    @Test(arguments: [["key"], ["key", "add"], ["key", "passwd"], ["init"]])
    func choosingAPassphraseWarnsThatLosingItLosesTheData(_ command: [String]) throws {
        let result = try HaulProcess(repo: "/nonexistent").run(command + ["--help"])
        #expect(result.status == 0)
        // Help text is wrapped to the terminal width: compare with single spaces.
        let words = result.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("lost passphrase means lost data"))
    }
}
