import Foundation
import Glibc
import Synchronization
import Testing

extension HaulProcess {
    /// Runs `haul` with arguments given as raw bytes (not necessarily UTF-8), which `Process` cannot pass: `/bin/sh`
    /// receives them through positional parameters built with `printf` escapes.
    func run(rawArguments args: [[UInt8]]) throws -> Result {
        // Every byte as a \ooo escape of printf, so the shell script itself stays ASCII.
        let words = args.map { arg in
            "\"$(printf '" + arg.map { String(format: "\\%03o", $0) }.joined() + "x')\""
        }
        // $(…) drops trailing newlines, so each word gets an `x` that is cut off again.
        let script =
            "set -- " + words.joined(separator: " ") + "\n"
            + "for a do set -- \"$@\" \"${a%x}\"; shift; done\n"
            + "exec \"$HAUL_EXECUTABLE\" \"$@\"\n"
        var copy = self
        copy.environment["HAUL_EXECUTABLE"] = Self.executable
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.environment = copy.environmentForRun()
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: o, stderr: String(decoding: e, as: UTF8.self))
    }
}

/// How `haul` reads its command line: non-UTF-8 bytes, `--repo`, `--password-file`, no repository at all.
@Suite(.serialized) struct ArgumentTests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `lstat` on a path given as bytes.
    func exists(_ path: [UInt8]) -> Bool {
        var st = stat()
        return lstat(path.map { CChar(bitPattern: $0) } + [0], &st) == 0
    }

    func make(directory path: [UInt8]) throws {
        guard mkdir(path.map { CChar(bitPattern: $0) } + [0], 0o755) == 0 else { throw ScratchError("mkdir failed") }
    }

    func write(_ path: [UInt8], _ text: String) throws {
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ScratchError("open failed") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw ScratchError("write failed") }
    }

    @Test func nonUTF8PathsAndPatternsOnTheCommandLineSurviveByteExact() throws {
        let dir = try tempDir("rawargs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = Array(dir.utf8)
        // Two directories whose names decode to the same String ("d\u{FFFD}"), told apart only by their bytes.
        let ff: [UInt8] = Array("d".utf8) + [0xFF]
        let fe: [UInt8] = Array("d".utf8) + [0xFE]
        for name in [ff, fe] {
            try make(directory: base + [47] + name)
            try write(base + [47] + name + Array("/x.txt".utf8), "in \(name.last!)\n")
        }
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        let backup = try haul.run(rawArguments: [Array("backup".utf8), base + [47] + ff, base + [47] + fe])
        #expect(backup.status == 0, "\(backup.stderr)")

        let ls = try haul.run(rawArguments: [Array("ls".utf8), Array("latest".utf8), ff, Array("--json".utf8)])
        #expect(ls.status == 0, "\(ls.stderr)")
        let entries = try JSONSerialization.jsonObject(with: ls.stdout) as? [[String: Any]] ?? []
        let paths = entries.compactMap { ($0["path"] as? [String: String])?["b64"] }.compactMap {
            Data(base64Encoded: $0).map { [UInt8]($0) }
        }
        #expect(paths.contains(ff + Array("/x.txt".utf8)), "\(ls.out)")
        #expect(!paths.contains(fe + Array("/x.txt".utf8)), "ls \\xFF listed the \\xFE directory: \(ls.out)")

        let target = dir + "/out"
        let restore = try haul.run(rawArguments: [
            Array("restore".utf8), Array("latest".utf8), Array("--target=\(target)".utf8), Array("--include".utf8),
            ff,
        ])
        #expect(restore.status == 0, "\(restore.stderr)")
        let restored = Array(target.utf8) + [47] + ff + Array("/x.txt".utf8)
        #expect(exists(restored))
        #expect(!exists(Array(target.utf8) + [47] + fe))
        // Only d\xFF and its file: `find` counts entries whatever their names' bytes.
        #expect(try Shell.run("/usr/bin/find", [target, "-mindepth", "1"]).split(separator: "\n").count == 2)

        let dump = try haul.run(rawArguments: [Array("dump".utf8), Array("latest".utf8), fe + Array("/x.txt".utf8)])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.out == "in 254\n")
    }

    @Test func noRepositoryGivenIsRepositoryNotFound() throws {
        var haul = HaulProcess(repo: "")
        haul.environment["HAUL_REPO"] = ""
        let result = try haul.run(["snapshots"])
        #expect(result.status == 10, "\(result.stderr)")
        #expect(result.stderr.contains("--repo DIR"))
        let json = try haul.run(["snapshots", "--json"])
        #expect(json.status == 10)
        let body = try JSONSerialization.jsonObject(with: json.stdout) as? [String: [String: String]]
        #expect(body?["error"]?["code"] == "repositoryNotFound")
    }

    @Test func repoOptionAndPasswordFileInsteadOfTheEnvironment() throws {
        let dir = try tempDir("options")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = dir + "/repo"
        let good = dir + "/pass"
        let bad = dir + "/wrong"
        try "file passphrase\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "not it\n".write(toFile: bad, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        try "content\n".write(toFile: dir + "/src/a.txt", atomically: true, encoding: .utf8)
        // The environment names another (missing) repository and another passphrase: the options must win.
        var haul = HaulProcess(repo: dir + "/elsewhere", password: "environment passphrase")
        haul.environment["HAUL_CACHE_DIR"] = dir + "/cache"
        #expect(try haul.run(["init", "--repo", repo, "--password-file", good]).status == 0)
        #expect(FileManager.default.fileExists(atPath: repo + "/config"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/elsewhere"))
        let backup = try haul.run(["backup", "--repo", repo, "--password-file", good, dir + "/src", "--quiet"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let snaps = try haul.run(["snapshots", "--repo=\(repo)", "--password-file=\(good)", "--json"])
        #expect(snaps.status == 0, "\(snaps.stderr)")
        #expect((try JSONSerialization.jsonObject(with: snaps.stdout) as? [Any])?.count == 1)

        // The environment's passphrase is not tried when --password-file is given.
        let wrong = try haul.run(["snapshots", "--repo", repo, "--password-file", bad])
        #expect(wrong.status == 12, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("wrong password"))
        let envOnly = try haul.run(["snapshots", "--repo", repo])
        #expect(envOnly.status == 12)
        // An unreadable password file is a fatal error naming the file.
        let missing = try haul.run(["snapshots", "--repo", repo, "--password-file", dir + "/nope"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains(dir + "/nope"))
    }
}

/// Exit status 3 from a backup: a file that changes while it is read, a socket (skipped).
@Suite(.serialized) struct BackupWarningTests {
    @Test func aFileChangedDuringTheReadIsReportedAndTheBackupExits3() throws {
        let dir = NSTemporaryDirectory() + "haul-e2e-changing-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let big = dir + "/src/growing.bin"
        // 48 MiB of varied bytes: reading, chunking and sealing it takes far longer than a clock tick.
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        let block = (0..<(1 << 20)).map { _ -> UInt8 in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
        let fd = open(big, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        #expect(fd >= 0)
        for i in 0..<48 {
            var b = block
            b[0] = UInt8(i)
            _ = b.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }
        close(fd)
        try "steady\n".write(toFile: dir + "/src/steady.txt", atomically: true, encoding: .utf8)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)

        // A second thread appends to the big file while `haul backup` runs (so also while it is being read).
        let stop = StopFlag()
        let writer = Thread {
            let wfd = open(big, O_WRONLY | O_APPEND)
            defer { close(wfd) }
            var n: UInt8 = 0
            while !stop.isSet {
                n &+= 1
                var byte = n
                _ = Glibc.write(wfd, &byte, 1)
                usleep(2000)
            }
        }
        writer.start()
        let result = try haul.run(["backup", dir + "/src", "--json"])
        stop.set()
        #expect(result.status == 3, "\(result.stderr)")
        let body = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let warnings = body?["warnings"] as? [[String: Any]] ?? []
        #expect(warnings.count == 1, "\(warnings)")
        #expect((warnings.first?["path"] as? String) == "src/growing.bin")
        #expect((warnings.first?["message"] as? String)?.contains("changed while it was being read") == true)
        // The snapshot was written and holds both files.
        let ls = try haul.run(["ls", "latest", "--json"])
        #expect(ls.out.contains("src/growing.bin") && ls.out.contains("src/steady.txt"))
        // Without the writer the next backup is clean (the file is read again, not taken from the parent).
        usleep(20_000)
        let again = try haul.run(["backup", dir + "/src", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func aSocketIsSkippedWithAWarningAndExit3() throws {
        let dir = NSTemporaryDirectory() + "haul-e2e-socket-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x\n".write(toFile: dir + "/src/file.txt", atomically: true, encoding: .utf8)
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(sock) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array((dir + "/src/s.sock").utf8CString)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, c) in path.enumerated() where i < raw.count { raw[i] = UInt8(bitPattern: c) }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        let result = try haul.run(["backup", dir + "/src"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("s.sock: socket skipped"), "\(result.stderr)")
    }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
