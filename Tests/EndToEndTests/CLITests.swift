import Foundation
import Glibc
import Testing

/// The real `haul` executable: exit codes, JSON output, and SIGKILL in the middle of a backup.
@Suite(.serialized) struct CLITests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x >> 11)
        }
        return out
    }

    @Test func initBackupSnapshotsLsRestoreWithJSON() throws {
        let dir = try tempDir("basic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/data"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try writeFile(src + "/hello.txt", Array("hello\n".utf8))
        // A non-UTF-8 name must survive the JSON listing without loss.
        let weird = Array(src.utf8) + [0x2F, 0x66, 0xFF, 0xFE]
        let cpath = weird.map { CChar(bitPattern: $0) } + [0]
        let fd = open(cpath, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        close(fd)

        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        let backup = try haul.run(["backup", src, "--json", "--tag", "first"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let summary = try JSONSerialization.jsonObject(with: backup.stdout) as? [String: Any]
        #expect((summary?["snapshot"] as? String)?.count == 64)

        let snaps = try haul.run(["snapshots", "--json"])
        let list = try JSONSerialization.jsonObject(with: snaps.stdout) as? [[String: Any]]
        #expect(list?.count == 1)

        let ls = try haul.run(["ls", "latest", "--json"])
        #expect(ls.status == 0)
        let entries = try JSONSerialization.jsonObject(with: ls.stdout) as? [[String: Any]] ?? []
        let b64 = entries.compactMap { ($0["path"] as? [String: String])?["b64"] }
        #expect(b64.compactMap { Data(base64Encoded: $0) }.contains(Data(Array("data/".utf8) + [0x66, 0xFF, 0xFE])))

        let target = dir + "/out"
        let restore = try haul.run(["restore", "latest", "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: target + "/data/hello.txt") == Data("hello\n".utf8))
        // A non-empty target is refused without an --overwrite choice.
        let again = try haul.run(["restore", "latest", "--target", target])
        #expect(again.status == 1)
        #expect(again.stderr.contains("--overwrite"))
    }

    @Test func exitCodesForWrongPasswordMissingRepoAndUsage() throws {
        let dir = try tempDir("codes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        haul.password = "not the passphrase"
        let wrong = try haul.run(["snapshots"])
        #expect(wrong.status == 12)
        #expect(wrong.stderr.contains("wrong password"))
        let missing = try HaulProcess(repo: dir + "/nothing").run(["snapshots"])
        #expect(missing.status == 10)
        let usage = try HaulProcess(repo: dir + "/repo").run(["forget"])
        #expect(usage.status == 64)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run as another user"))
    func unreadableFileCompletesWithWarningsExitCode3() throws {
        let dir = try tempDir("unreadable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try writeFile(src + "/ok.txt", Array("fine".utf8))
        try writeFile(src + "/secret.txt", Array("hidden".utf8))
        chmod(src + "/secret.txt", 0o000)
        let repo = dir + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        _ = try HaulProcess(repo: repo).run(["init"])
        for p in [src, src + "/ok.txt", src + "/secret.txt", repo] { chown(p, 65534, 65534) }
        let chownRepo = Process()
        chownRepo.executableURL = URL(fileURLWithPath: "/bin/chown")
        chownRepo.arguments = ["-R", "65534:65534", repo]
        try chownRepo.run()
        chownRepo.waitUntilExit()
        let result = try HaulProcess(repo: repo).run(["backup", src, "--json"], runAs: "nobody")
        #expect(result.status == 3, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let warnings = json?["warnings"] as? [[String: Any]] ?? []
        #expect(warnings.contains { ($0["path"] as? String)?.hasSuffix("secret.txt") == true })
        let snaps = try HaulProcess(repo: repo).run(["snapshots", "--json"])
        #expect((try JSONSerialization.jsonObject(with: snaps.stdout) as? [Any])?.count == 1)
    }

    @Test func sigkillDuringBackupLeavesACheckableRepositoryAndTheNextBackupSucceeds() throws {
        let dir = try tempDir("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for i in 0..<12 { try writeFile(src + "/f\(i)", randomBytes(16 << 20, seed: UInt64(i + 1))) }
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        for delay in [0.1, 0.3, 0.5, 0.7] {
            let (p, _, _) = try haul.start(["backup", src, "--quiet"])
            usleep(useconds_t(delay * 1_000_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // The kill must land in the middle of the backup, or this test proves nothing.
            #expect(p.terminationReason == .uncaughtSignal, "the backup finished before the kill at \(delay) s")
            let check = try haul.run(["check", "--read-data"])
            #expect(check.status == 0, "check after SIGKILL at \(delay) s: \(check.out) \(check.stderr)")
        }
        // One more kill, once the backup has stored a pack (not yet named by any index file: that happens every 8
        // packs), so that there is something to reuse.
        let (p, _, _) = try haul.start(["backup", src, "--quiet"])
        let stored = waitForPacks(in: dir + "/repo", moreThan: packFiles(in: dir + "/repo").count)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(stored && p.terminationReason == .uncaughtSignal, "no pack was stored before the backup ended")
        let leftBehind = packFiles(in: dir + "/repo")
        #expect(!leftBehind.isEmpty)

        let final = try haul.run(["backup", src, "--json"])
        #expect(final.status == 0, "\(final.stderr)")
        // The next backup reuses what the killed runs stored: it stores less than the data, and every pack they left
        // is still there and indexed (check reports no unreferenced pack).
        let summary = try JSONSerialization.jsonObject(with: final.stdout) as? [String: Any]
        let stats = summary?["summary"] as? [String: Any]
        let total = 12 * (16 << 20)
        let storedBytes = stats?["bytesStored"] as? Int ?? Int.max
        #expect(storedBytes < total - (16 << 20), "stored \(storedBytes) of \(total) bytes: nothing was reused")
        #expect(Set(leftBehind).isSubset(of: Set(packFiles(in: dir + "/repo"))))
        let afterCheck = try haul.run(["check", "--json"])
        let checkReport = try JSONSerialization.jsonObject(with: afterCheck.stdout) as? [String: Any]
        #expect((checkReport?["unreferencedPacks"] as? [Any])?.isEmpty == true, "\(afterCheck.out)")
        let target = dir + "/out"
        #expect(try haul.run(["restore", "latest", "--target", target]).status == 0)
        for i in 0..<12 {
            #expect(
                FileManager.default.contents(atPath: target + "/src/f\(i)")
                    == FileManager.default.contents(atPath: src + "/f\(i)"))
        }
        #expect(try haul.run(["prune"]).status == 0)
        #expect(try haul.run(["check", "--read-data"]).status == 0)
    }

    /// The pack files (`data/xx/<64 hex>`) of a repository.
    func packFiles(in repo: String) -> [String] {
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: repo + "/data")) ?? []
        return names.filter { name in
            let last = name.split(separator: "/").last ?? ""
            return last.count == 64 && last.allSatisfy(\.isHexDigit)
        }.sorted()
    }

    /// Waits (up to 60 s) until the repository holds more than `count` packs.
    func waitForPacks(in repo: String, moreThan count: Int) -> Bool {
        for _ in 0..<30000 {
            if packFiles(in: repo).count > count { return true }
            usleep(2_000)
        }
        return false
    }

    @Test func sigkillDuringPruneLeavesACheckableRepositoryAndTheNextPruneCompletes() throws {
        let dir = try tempDir("killprune")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for i in 0..<8 { try writeFile(src + "/f\(i)", randomBytes(12 << 20, seed: UInt64(200 + i))) }
        let repo = dir + "/repo"
        let haul = HaulProcess(repo: repo)
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        // Replace every other file: the first snapshot's packs become half garbage, so prune repacks them.
        for i in stride(from: 0, to: 8, by: 2) {
            try writeFile(src + "/f\(i)", randomBytes(12 << 20, seed: UInt64(300 + i)))
        }
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        #expect(try haul.run(["forget", "--keep-last", "1"]).status == 0)
        let pristine = dir + "/pristine"
        try Shell.run("/bin/cp", ["-a", repo, pristine])

        var killedAfterWriting = false
        for (round, delay) in [0.2, 0.6, 1.2].enumerated() {
            if round > 0 {
                try Shell.run("/bin/rm", ["-rf", repo])
                try Shell.run("/bin/cp", ["-a", pristine, repo])
            }
            let before = packFiles(in: repo)
            let (p, _, _) = try haul.start(["prune", "--quiet"])
            // The last round waits until prune has written a new pack, so the kill lands in the middle of repacking.
            if round == 2 {
                _ = waitForPacks(in: repo, moreThan: before.count)
            } else {
                usleep(useconds_t(delay * 1_000_000))
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // On a loaded machine a prune may finish before the kill lands; that round then only proves a clean
            // result, and the expectation after the loop still needs one kill in the middle of repacking.
            let killed = p.terminationReason == .uncaughtSignal
            if killed && packFiles(in: repo) != before { killedAfterWriting = true }

            let check = try haul.run(["check", "--read-data"])
            #expect(check.status == 0, "check after SIGKILL of prune in round \(round): \(check.out) \(check.stderr)")
            let again = try haul.run(["prune", "--json"])
            #expect(again.status == 0, "prune after SIGKILL in round \(round): \(again.stderr)")
            let final = try haul.run(["check", "--read-data", "--json"])
            #expect(final.status == 0, "\(final.out)")
            let report = try JSONSerialization.jsonObject(with: final.stdout) as? [String: Any]
            #expect((report?["unreferencedPacks"] as? [Any])?.isEmpty == true)
            let target = dir + "/out\(round)"
            #expect(try haul.run(["restore", "latest", "--target", target]).status == 0)
            for i in 0..<8 {
                #expect(
                    FileManager.default.contents(atPath: target + "/src/f\(i)")
                        == FileManager.default.contents(atPath: src + "/f\(i)"))
            }
        }
        #expect(killedAfterWriting, "no SIGKILL landed after prune had written anything and before it finished")
    }

    @Test func forgetKeepsByPolicyAndPruneFreesSpace() throws {
        let dir = try tempDir("forget")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        for round in 0..<3 {
            try writeFile(src + "/data.bin", randomBytes(3 << 20, seed: UInt64(100 + round)))
            #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        }
        let dry = try haul.run(["forget", "--keep-last", "1", "--dry-run", "--json"])
        #expect(dry.status == 0)
        let plan = try JSONSerialization.jsonObject(with: dry.stdout) as? [String: Any]
        #expect((plan?["remove"] as? [String])?.count == 2)
        #expect((plan?["keep"] as? [Any])?.count == 1)
        #expect(try haul.run(["snapshots", "--json"]).out.components(separatedBy: "\"tree\"").count - 1 == 3)

        let forget = try haul.run(["forget", "--keep-last", "1", "--prune", "--json"])
        #expect(forget.status == 0, "\(forget.stderr)")
        let result = try JSONSerialization.jsonObject(with: forget.stdout) as? [String: Any]
        let prune = result?["prune"] as? [String: Any]
        #expect((prune?["bytesFreed"] as? Int ?? 0) > 5 << 20)
        let snaps = try JSONSerialization.jsonObject(with: try haul.run(["snapshots", "--json"]).stdout) as? [Any]
        #expect(snaps?.count == 1)
        #expect(try haul.run(["check", "--read-data"]).status == 0)
        let target = dir + "/out"
        #expect(try haul.run(["restore", "latest", "--target", target]).status == 0)
        #expect(
            FileManager.default.contents(atPath: target + "/src/data.bin")
                == FileManager.default.contents(atPath: src + "/data.bin"))
    }

    @Test func errorsAreJSONWithJSONFlag() throws {
        let dir = try tempDir("jsonerr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try HaulProcess(repo: dir + "/none").run(["snapshots", "--json"])
        #expect(result.status == 10)
        let body = try JSONSerialization.jsonObject(with: result.stdout) as? [String: [String: String]]
        #expect(body?["error"]?["code"] == "repositoryNotFound")
        #expect(body?["error"]?["message"]?.contains("haul init") == true)
    }

    @Test(
        arguments: [
            "init", "backup", "snapshots", "ls", "restore", "check", "forget", "prune",
            "unlock",
            "stats", "diff", "find", "dump",
        ])
    func everyCommandHasHelpWithAnExample(_ command: String) throws {
        let result = try HaulProcess(repo: "/nonexistent").run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Example: haul \(command)"))
        #expect(result.out.contains("--repo"))
        #expect(result.out.contains("--json"))
    }

    @Test func progressLineOnATerminalOnlySummaryOtherwise() throws {
        let dir = try tempDir("progress")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try writeFile(src + "/a.bin", randomBytes(4 << 20, seed: 3))
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)

        // Off a terminal: the summary only, no carriage returns.
        let plain = try haul.run(["backup", src])
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("\r"))
        #expect(plain.out.contains("snapshot"))

        // On a terminal (util-linux `script` gives the command a pty): a live progress line on standard error.
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = ([HaulProcess.executable, "backup", "--force", src]).map { "'\($0)'" }.joined(separator: " ")
        script.arguments = ["-qec", command, "/dev/null"]
        script.environment = haul.environmentForRun()
        let out = Pipe()
        script.standardOutput = out
        script.standardInput = FileHandle.nullDevice
        try script.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        #expect(script.terminationStatus == 0, "\(text)")
        #expect(text.contains("\rbacked up") || text.contains("\r\u{1B}[Kbacked up"), "\(text.debugDescription)")
        #expect(text.contains("files,"))
    }
}
