import Foundation
import Glibc
import HaulTesting
import Testing

extension HaulProcess {
    /// Runs `haul args…` with `input` on its standard input.
    func run(_ args: [String], input: Data) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.executable)
        p.arguments = args
        p.environment = environmentForRun()
        let stdin = Pipe()
        let out = Pipe()
        let err = Pipe()
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let feeder = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        feeder.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: o, stderr: String(decoding: e, as: UTF8.self))
    }
}

/// The real `haul` with restore controls (--overwrite if-changed, --dry-run, --verify) and backup sources
/// (--files-from, --exclude-file, --stdin, --pre-command, --post-command).
@Suite(.serialized) struct BackupRestoreOptionsTests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    @Test func dryRunVerifyAndResumeThroughTheCLI() throws {
        let dir = try tempDir("restorectl")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(dir + "/data/a.txt", "alpha\n")
        try write(dir + "/data/sub/b.txt", String(repeating: "b", count: 10_000))
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", dir + "/data", "-q"]).status == 0)

        let target = dir + "/out"
        let plan = try haul.run(["restore", "latest", "--target", target, "--dry-run", "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planned = json(plan.stdout)
        #expect(planned["files"] as? Int == 2 && planned["bytes"] as? Int == 10_006)
        #expect((planned["entries"] as? [[String: Any]])?.count == 4)
        #expect(!FileManager.default.fileExists(atPath: target), "a dry run writes nothing")

        let restored = try haul.run(["restore", "latest", "--target", target, "--verify", "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let verification = json(restored.stdout)["verification"] as? [String: Any]
        #expect(verification?["files"] as? Int == 2 && (verification?["mismatches"] as? [Any])?.isEmpty == true)

        // Into the same target again: refused with the hint, then resumed with if-changed.
        try write(target + "/data/a.txt", "changed\n")
        let refused = try haul.run(["restore", "latest", "--target", target])
        #expect(refused.status == 1 && refused.stderr.contains("--overwrite if-changed"))
        let resumed = try haul.run(["restore", "latest", "--target", target, "--overwrite", "if-changed", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let summary = json(resumed.stdout)
        #expect(summary["files"] as? Int == 1 && summary["unchanged"] as? Int == 1)
        #expect(FileManager.default.contents(atPath: target + "/data/a.txt") == Data("alpha\n".utf8))
        let bad = try haul.run(["restore", "latest", "--target", target, "--overwrite", "sometimes"])
        #expect(bad.status == 64 && bad.stderr.contains("if-changed"))
    }

    /// `--direct-io` restores a large file exactly, past the page cache: on ext4 (where `/tmp` is here) hardly any
    /// of its pages are resident afterwards, where a buffered restore leaves every page it wrote in the cache.
    @Test func directIORestoresLargeFilesExactlyPastThePageCache() throws {
        let dir = try tempDir("directio")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let big = Data(
            (0..<(4 << 20) + 123).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            })
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try big.write(to: URL(fileURLWithPath: dir + "/data/big.bin"))
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", dir + "/data", "-q"]).status == 0)
        let target = dir + "/out"
        let restored = try haul.run(["restore", "latest", "--target", target, "--direct-io", "-q"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let path = target + "/data/big.bin"
        try #require(FileManager.default.fileExists(atPath: path))
        if FileSystemProbe.type(of: dir) == "ext2/ext3" {
            let resident = try #require(FileSystemProbe.residentBytes(path))
            #expect(resident < big.count / 4, "\(resident) of \(big.count) bytes in the page cache")
        }
        #expect(FileManager.default.contents(atPath: path) == big)
    }

    @Test func filesFromExcludeFileAndStandardInput() throws {
        let dir = try tempDir("sources")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(dir + "/one/keep.txt", "1")
        try write(dir + "/one/skip.log", "2")
        try write(dir + "/two/keep.txt", "3")
        try write(dir + "/three/unlisted.txt", "4")
        try write(dir + "/list", "# the paths\n\(dir)/one\n\n\(dir)/two\n")
        try write(dir + "/excludes", "# logs\n*.log\n")
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        let backup = try haul.run(["backup", "--files-from", dir + "/list", "--exclude-file", dir + "/excludes", "-q"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let out = dir + "/out"
        #expect(try haul.run(["restore", "latest", "--target", out]).status == 0)
        let restored = try FileManager.default.subpathsOfDirectory(atPath: out).sorted()
        #expect(restored == ["one", "one/keep.txt", "two", "two/keep.txt"])

        let content = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
        let piped = try haul.run(["backup", "--stdin", "--stdin-filename", "db.sql", "--json"], input: content)
        #expect(piped.status == 0, "\(piped.stderr)")
        let out2 = dir + "/out2"
        #expect(try haul.run(["restore", "latest", "--target", out2]).status == 0)
        #expect(FileManager.default.contents(atPath: out2 + "/db.sql") == content)
        let mixed = try haul.run(["backup", "--stdin", dir + "/one"])
        #expect(mixed.status == 64)
    }

    @Test func preCommandFailureStopsTheBackupAndPostCommandSeesTheStatus() throws {
        let dir = try tempDir("hooks")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(dir + "/data/f", "x")
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)

        let stopped = try haul.run([
            "backup", dir + "/data", "--pre-command", "echo cannot dump the database >&2; exit 7",
            "--post-command", "touch \(dir)/post-ran",
        ])
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("pre-command") && stopped.stderr.contains("exit status 7"))
        #expect(stopped.stderr.contains("cannot dump the database"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/post-ran"))
        let snapshots = try haul.run(["snapshots", "--json"])
        #expect((try JSONSerialization.jsonObject(with: snapshots.stdout) as? [Any])?.isEmpty == true)
        let leases = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/repo/leases")) ?? []
        #expect(leases.isEmpty, "no lease was taken")

        let post = "echo \"$HAUL_BACKUP_STATUS $HAUL_SNAPSHOT_ID\" > \(dir)/status"
        let ok = try haul.run(["backup", dir + "/data", "--pre-command", "true", "--post-command", post, "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let id = json(ok.stdout)["snapshot"] as? String ?? "?"
        #expect(
            String(decoding: FileManager.default.contents(atPath: dir + "/status") ?? Data(), as: UTF8.self)
                == "ok \(id)\n")

        let failed = try haul.run(["backup", dir + "/missing", "--post-command", post])
        #expect(failed.status == 1)
        #expect(
            String(decoding: FileManager.default.contents(atPath: dir + "/status") ?? Data(), as: UTF8.self)
                == "failed \n")

        let postFails = try haul.run(["backup", dir + "/data", "--post-command", "exit 2", "-q"])
        #expect(postFails.status == 1 && postFails.stderr.contains("post-command"))
    }
}
