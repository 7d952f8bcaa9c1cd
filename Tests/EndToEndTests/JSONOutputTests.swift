import Foundation
import Glibc
import Testing

/// `--json` on every path: usage errors, restore warnings, dump (JSON on standard error), init and prune, and the
/// lost-passphrase warning where a passphrase is chosen.
@Suite(.serialized) struct JSONOutputTests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func object(_ data: Data) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
    }

    static let lostPassphrase = "A lost passphrase means lost data"

    @Test(arguments: [
        ["forget", "--json"], ["backup", "--no-such-option", "--json"], ["check", "--read-data-subset", "x", "--json"],
    ])
    func usageErrorsAreTheJSONErrorObject(_ args: [String]) throws {
        let result = try HaulProcess(repo: "/nonexistent").run(args)
        #expect(result.status == 64)
        let body = try object(result.stdout)
        let error = body["error"] as? [String: String]
        #expect(error?["code"] == "usage")
        #expect((error?["message"] ?? "").isEmpty == false)
        #expect(result.stderr.contains("Usage") || result.stderr.contains("Error"), "\(result.stderr)")
    }

    @Test func initJSONNamesTheRepositoryAndWarnsAboutTheLostPassphrase() throws {
        let dir = try tempDir("initjson")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let haul = HaulProcess(repo: dir + "/repo")
        let result = try haul.run(["init", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let body = try object(result.stdout)
        let id = try #require(body["id"] as? String)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))
        #expect(body["repository"] as? String == dir + "/repo")
        let kdf = body["kdf"] as? [String: Any]
        #expect((kdf?["n"] as? Int ?? 0) >= 2)
        #expect((body["warning"] as? String)?.hasPrefix(Self.lostPassphrase) == true)
        #expect(result.stderr.contains("warning: \(Self.lostPassphrase)"))
        // The config really carries that id: the repository opens with the passphrase.
        #expect(try haul.run(["snapshots", "--json"]).status == 0)

        let text = try HaulProcess(repo: dir + "/repo2").run(["init"])
        #expect(text.status == 0)
        #expect(text.stderr.contains("warning: \(Self.lostPassphrase)"))
    }

    @Test func keyAddAndPasswdWarnAboutTheLostPassphraseAlsoUnderJSON() throws {
        let dir = try tempDir("keywarn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        haul.environment["HAUL_NEW_PASSWORD"] = "second passphrase"
        let add = try haul.run(["key", "add", "--json"])
        #expect(add.status == 0, "\(add.stderr)")
        #expect((try object(add.stdout)["warning"] as? String)?.hasPrefix(Self.lostPassphrase) == true)
        #expect(add.stderr.contains("warning: \(Self.lostPassphrase)"))
        let passwd = try haul.run(["key", "passwd"])
        #expect(passwd.status == 0, "\(passwd.stderr)")
        #expect(passwd.stderr.contains("warning: \(Self.lostPassphrase)"))
        let passwdJSON = try HaulProcess(
            repo: dir + "/repo", password: "second passphrase",
            environment: [
                "HAUL_NEW_PASSWORD": "third passphrase"
            ]
        ).run(["key", "passwd", "--json"])
        #expect(passwdJSON.status == 0, "\(passwdJSON.stderr)")
        #expect((try object(passwdJSON.stdout)["warning"] as? String)?.hasPrefix(Self.lostPassphrase) == true)
        #expect(passwdJSON.stderr.contains("warning: \(Self.lostPassphrase)"))
    }

    @Test func restoreJSONListsEachWarningWithPathAndMessage() throws {
        let dir = try tempDir("restorewarn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        try "a\n".write(toFile: dir + "/src/a.txt", atomically: true, encoding: .utf8)
        try "b\n".write(toFile: dir + "/src/b.txt", atomically: true, encoding: .utf8)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", dir + "/src", "--quiet"]).status == 0)
        // A non-empty directory where the snapshot has the file a.txt: restore cannot put it there.
        let target = dir + "/out"
        try FileManager.default.createDirectory(atPath: target + "/src/a.txt/keep", withIntermediateDirectories: true)
        let result = try haul.run(["restore", "latest", "--target", target, "--overwrite", "always", "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let body = try object(result.stdout)
        #expect(body["warningCount"] as? Int == 1)
        let warnings = try #require(body["warnings"] as? [[String: Any]])
        #expect(warnings.count == 1)
        #expect((warnings.first?["path"] as? String)?.hasSuffix("src/a.txt") == true, "\(warnings)")
        #expect((warnings.first?["message"] as? String)?.contains("existing directory") == true)
        #expect(!result.stderr.contains("warning:"), "under --json the warnings are in the JSON only")
        #expect(FileManager.default.contents(atPath: target + "/src/b.txt") == Data("b\n".utf8))
    }

    @Test func dumpJSONGoesToStandardErrorAndStandardOutputStaysTheData() throws {
        let dir = try tempDir("dumpjson")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        let content = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try content.write(to: URL(fileURLWithPath: dir + "/src/data.bin"))
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", dir + "/src", "--quiet"]).status == 0)

        let ok = try haul.run(["dump", "latest", "src/data.bin", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout == content)
        let summary = try object(Data(ok.stderr.utf8))
        #expect(summary["bytes"] as? Int == content.count)
        #expect(summary["format"] as? String == "content")
        #expect(summary["path"] as? String == "src/data.bin")
        #expect((summary["snapshot"] as? String)?.count == 64)

        let tar = try haul.run(["dump", "latest", "src", "--json"])
        #expect(tar.status == 0)
        let tarSummary = try object(Data(tar.stderr.utf8))
        #expect(tarSummary["format"] as? String == "tar")
        #expect(tarSummary["bytes"] as? Int == tar.stdout.count)

        let missing = try haul.run(["dump", "latest", "src/none", "--json"])
        #expect(missing.status == 1)
        #expect(missing.stdout.isEmpty)
        #expect((try object(Data(missing.stderr.utf8))["error"] as? [String: String])?["code"] == "notFound")

        let usage = try haul.run(["dump", "latest", "--json"])
        #expect(usage.status == 64)
        #expect(usage.stdout.isEmpty)
        #expect((try object(Data(usage.stderr.utf8))["error"] as? [String: String])?["code"] == "usage")
    }

    @Test func standalonePruneJSONReportsWhatItFreed() throws {
        let dir = try tempDir("prunejson")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        for round in 0..<2 {
            let bytes = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> (8 + round)) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/src/data.bin"))
            #expect(try haul.run(["backup", dir + "/src", "--quiet"]).status == 0)
        }
        #expect(try haul.run(["forget", "--keep-last", "1"]).status == 0)
        let dry = try haul.run(["prune", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try object(dry.stdout)["dryRun"] as? Bool == true)
        let result = try haul.run(["prune", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try object(result.stdout)
        #expect(report["dryRun"] as? Bool == false)
        #expect((report["bytesFreed"] as? Int ?? 0) > 0)
        let deleted = (report["packsDeleted"] as? Int ?? 0) + (report["packsRepacked"] as? Int ?? 0)
        #expect(deleted > 0, "\(report)")
        #expect(report["packsKept"] is Int)
        // What prune reported is what a second prune no longer finds.
        let again = try object(try haul.run(["prune", "--json"]).stdout)
        #expect(again["bytesFreed"] as? Int == 0)
    }
}
