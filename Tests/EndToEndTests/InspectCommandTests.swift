import Foundation
import Glibc
import HaulTesting
import Testing

/// `haul stats`, `diff`, `find` and `dump` run as the real executable.
@Suite(.serialized) struct InspectCommandTests {
    func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, mtime: Int = 1_600_000_000) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        try setMtime(path, mtime)
    }

    func setMtime(_ path: String, _ seconds: Int, nanoseconds: Int = 250_000_000) throws {
        var times = [
            timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds),
        ]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw ScratchError("utimensat \(path) failed: errno \(errno)")
        }
    }

    func json(_ result: HaulProcess.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: result.stdout)
    }

    /// Runs `haul ARGS | tar -x -C target` in bash with pipefail; returns bash's status and standard error.
    func dumpIntoTar(_ haul: HaulProcess, _ args: [String], target: String, tarOptions: String = "") throws -> (
        Int32, String
    ) {
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        let quoted = args.map { "'\($0)'" }.joined(separator: " ")
        p.arguments = [
            "-c", "set -o pipefail; '\(HaulProcess.executable)' \(quoted) | tar -x \(tarOptions) -C '\(target)'",
        ]
        p.environment = haul.environmentForRun()
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    @Test func statsCountAKnownTree() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("src")
        try FileManager.default.createDirectory(atPath: src + "/sub/deeper", withIntermediateDirectories: true)
        let a = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try write(src + "/a", a)
        try write(src + "/sub/b", Array(repeating: 1, count: 500))
        try write(src + "/sub/deeper/c", Array("c".utf8))
        #expect(link(src + "/a", src + "/sub/a-again") == 0)
        #expect(symlink("a", src + "/to-a") == 0)
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)

        let restore = try haul.run(["stats", "--json"])
        #expect(restore.status == 0, "\(restore.stderr)")
        let r = (try json(restore) as? [String: Any])?["restore"] as? [String: Any]
        #expect(r?["files"] as? Int == 4)
        #expect(r?["directories"] as? Int == 3)
        #expect(r?["otherEntries"] as? Int == 1)
        #expect(r?["extraHardlinks"] as? Int == 1)
        #expect(r?["bytes"] as? Int == 3000 + 500 + 1)
        let text = try haul.run(["stats", "latest"])
        #expect(text.out.contains("hard-linked files counted once"))

        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        let raw = try haul.run(["stats", "--mode", "raw", "--json"])
        #expect(raw.status == 0, "\(raw.stderr)")
        let d = (try json(raw) as? [String: Any])?["raw"] as? [String: Any]
        #expect(d?["snapshots"] as? Int == 2)
        #expect(d?["dataBlobs"] as? Int == 3, "a and its hard link share their chunk")
        #expect(d?["dataRawBytes"] as? Int == 3501)
        #expect((d?["storedBytes"] as? Int ?? 0) > 0)
        #expect(d?["repositorySnapshots"] as? Int == 2)
        #expect((d?["repositoryPacks"] as? Int ?? 0) >= 2)
        let both = (try json(try haul.run(["stats", "--json"])) as? [String: Any])?["restore"] as? [String: Any]
        #expect(both?["bytes"] as? Int == 2 * 3501)
    }

    @Test func diffListsExactlyTheChangedPaths() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("data")
        try FileManager.default.createDirectory(atPath: src + "/gone", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: src + "/same", withIntermediateDirectories: true)
        try write(src + "/content", Array("old content".utf8))
        try write(src + "/perm", Array("permissions".utf8))
        try write(src + "/gone/inside", Array("inside".utf8))
        try write(src + "/becomes-link", Array("a file for now".utf8))
        try write(src + "/same/untouched", Array("untouched".utf8))
        for d in [src + "/gone", src + "/same", src] { try setMtime(d, 1_500_000_000) }
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        let first = try json(try haul.run(["backup", src, "--json"])) as? [String: Any]

        try write(src + "/content", Array("new content!".utf8))
        chmod(src + "/perm", 0o600)
        try write(src + "/added", Array("added file".utf8))
        try FileManager.default.removeItem(atPath: src + "/gone")
        try FileManager.default.removeItem(atPath: src + "/becomes-link")
        #expect(symlink("content", src + "/becomes-link") == 0)
        try setMtime(src, 1_500_000_000)  // the directory itself stays as it was
        let second = try json(try haul.run(["backup", src, "--json"])) as? [String: Any]
        let ids = [first, second].compactMap { $0?["snapshot"] as? String }
        #expect(ids.count == 2)

        let text = try haul.run(["diff", String(ids[0].prefix(8)), String(ids[1].prefix(8))])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.out.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }.map(
            String.init)
        #expect(
            lines == [
                "+    /data/added",
                "T    /data/becomes-link",
                "M    /data/content",
                "-    /data/gone/",
                "-    /data/gone/inside",
                "U    /data/perm",
            ])

        let result = try haul.run(["diff", ids[0], ids[1], "--json"])
        let body = try json(result) as? [String: Any]
        let changes = (body?["changes"] as? [[String: Any]] ?? []).map {
            "\($0["kind"] as? String ?? "?") \($0["path"] as? String ?? "?")"
        }
        #expect(
            changes == [
                "added data/added", "typeChanged data/becomes-link", "modified data/content", "removed data/gone",
                "removed data/gone/inside", "metadata data/perm",
            ])
        let summary = body?["summary"] as? [String: Any]
        #expect(summary?["bytesAdded"] as? Int == "new content!".utf8.count + "added file".utf8.count)
        #expect(
            summary?["bytesRemoved"] as? Int
                == "old content".utf8.count + "inside".utf8.count + "a file for now".utf8.count)
        let none = try json(try haul.run(["diff", ids[1], ids[1], "--json"])) as? [String: Any]
        #expect((none?["changes"] as? [Any])?.isEmpty == true)
    }

    @Test func findReturnsMatchesFromEverySnapshotHoldingThem() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("data")
        try FileManager.default.createDirectory(atPath: src + "/etc", withIntermediateDirectories: true)
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        var ids: [String] = []
        for round in 0..<3 {
            if round != 1 { try write(src + "/etc/app.conf", Array("round \(round)".utf8)) }
            if round == 1 { try FileManager.default.removeItem(atPath: src + "/etc/app.conf") }
            try write(src + "/etc/other.txt", Array("x".utf8))
            let out = try json(try haul.run(["backup", src, "--json"])) as? [String: Any]
            ids.append(out?["snapshot"] as? String ?? "")
        }
        let result = try haul.run(["find", "*.conf", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let matches = try json(result) as? [[String: Any]] ?? []
        #expect(matches.compactMap { $0["snapshot"] as? String } == [ids[0], ids[2]])
        #expect(matches.allSatisfy { $0["path"] as? String == "data/etc/app.conf" && $0["type"] as? String == "file" })
        #expect(matches.compactMap { $0["size"] as? Int } == [7, 7])

        let newest = try json(try haul.run(["find", "/data/etc/*", "--newest", "2", "--json"])) as? [[String: Any]]
        #expect(newest?.count == 3)  // other.txt twice, app.conf once
        let dirs = try json(try haul.run(["find", "etc/", "--snapshot", ids[1], "--json"])) as? [[String: Any]]
        #expect(dirs?.map { $0["type"] as? String } == ["dir"])
        let text = try haul.run(["find", "app.conf"])
        #expect(text.out.contains(String(ids[2].prefix(16))))
        #expect(text.out.contains("/data/etc/app.conf"))
        #expect(try haul.run(["find", "a//b"]).status == 1)
    }

    @Test func dumpOfASparseFileEqualsTheSource() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("data")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let fd = open(src + "/sparse", O_WRONLY | O_CREAT, 0o644)
        #expect(ftruncate(fd, 5 << 20) == 0)
        let piece = (0..<20000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        _ = piece.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 1 << 20) }
        _ = piece.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 4 << 20) }
        close(fd)
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        let dump = try haul.run(["dump", "latest", "data/sparse"])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout == FileManager.default.contents(atPath: src + "/sparse"))
        let missing = try haul.run(["dump", "latest", "data/nothing"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("data/nothing"))
    }

    @Test func dumpOfADirectoryExtractsWithGNUTar() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("data")
        let longName = String(repeating: "long-name-", count: 14) + "end.txt"  // 147 bytes
        let nonASCII = "grüße-ñandú-日本.txt"
        try FileManager.default.createDirectory(atPath: src + "/sub/inner", withIntermediateDirectories: true)
        try write(src + "/" + longName, Array("long".utf8), mode: 0o640, mtime: 1_400_000_001)
        try write(src + "/sub/" + nonASCII, Array("non-ascii ✓".utf8), mode: 0o600, mtime: 1_400_000_002)
        try write(src + "/sub/inner/script", Array("#!/bin/sh\n".utf8), mode: 0o755, mtime: 1_400_000_003)
        try write(src + "/big", (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }, mtime: 1_400_000_004)
        #expect(symlink("sub/inner/script", src + "/link") == 0)
        #expect(symlink("../" + longName, src + "/sub/link-to-long") == 0)
        #expect(link(src + "/big", src + "/sub/big-again") == 0)
        #expect(mkfifo(src + "/fifo", 0o620) == 0)
        for d in [src + "/sub/inner", src + "/sub", src] { try setMtime(d, 1_450_000_000) }
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)

        let out = scratch("out")
        let (status, err) = try dumpIntoTar(haul, ["dump", "latest", "data"], target: out)
        #expect(status == 0, "\(err)")
        #expect(err.isEmpty, "tar warned: \(err)")
        let restored = out + "/data"
        for name in ["/" + longName, "/sub/" + nonASCII, "/sub/inner/script", "/big", "/sub/big-again"] {
            #expect(
                FileManager.default.contents(atPath: restored + name)
                    == FileManager.default.contents(atPath: src + name),
                "content of \(name)")
        }
        for name in [
            "", "/" + longName, "/sub", "/sub/" + nonASCII, "/sub/inner", "/sub/inner/script", "/big", "/fifo",
        ] {
            var a = stat()
            var b = stat()
            #expect(lstat(src + name, &a) == 0 && lstat(restored + name, &b) == 0, "\(name) exists")
            #expect(a.st_mode == b.st_mode, "mode of \(name)")
            #expect(a.st_mtim.tv_sec == b.st_mtim.tv_sec, "mtime of \(name)")
        }
        var big = stat()
        var again = stat()
        #expect(lstat(restored + "/big", &big) == 0 && lstat(restored + "/sub/big-again", &again) == 0)
        #expect(big.st_ino == again.st_ino, "hard link kept")
        for name in ["/link", "/sub/link-to-long"] {
            #expect(
                try FileManager.default.destinationOfSymbolicLink(atPath: restored + name)
                    == FileManager.default.destinationOfSymbolicLink(atPath: src + name))
        }

        // A single file as tar, and the whole snapshot.
        let one = scratch("one")
        #expect(
            try dumpIntoTar(haul, ["dump", "latest", "data/sub/" + nonASCII, "--archive", "tar"], target: one).0 == 0)
        #expect(FileManager.default.contents(atPath: one + "/data/sub/" + nonASCII) == Data("non-ascii ✓".utf8))
        let all = scratch("all")
        #expect(try dumpIntoTar(haul, ["dump", "latest", "/"], target: all).0 == 0)
        #expect(FileManager.default.fileExists(atPath: all + "/data/" + longName))
    }

    @Test func dumpOfTheTreeFixtureMatchesTheSource() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("tree")
        let options = TreeFixture.Options(socket: false, longPath: false, largeFileSize: 1 << 20)
        try TreeFixture.generate(at: src, seed: 11, options: options)
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        let out = scratch("out")
        let (status, err) = try dumpIntoTar(
            haul, ["dump", "latest", "tree"], target: out, tarOptions: "--xattrs --xattrs-include='*' --numeric-owner")
        #expect(status == 0, "\(err)")
        // Everything but holes: tar writes them as zeros (the archive has no GNU sparse members).
        var compare = TreeComparison.CompareOptions()
        compare.holes = false
        let differences = try TreeComparison.differences(source: src, restored: out + "/tree", options: compare)
        #expect(differences == [])
    }

    @Test func dumpRefusesBinaryOnATerminalUnlessForced() throws {
        let scratch = try ScratchDirectory()
        let src = scratch("data")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try write(src + "/text", Array("plain text\n".utf8))
        try write(src + "/binary", [0, 1, 2, 0xff, 0])
        let haul = HaulProcess(repo: scratch("repo"))
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        /// Runs `haul ARGS` with standard output on a pseudo-terminal (util-linux `script`).
        func onTerminal(_ args: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            let command = ([HaulProcess.executable] + args).map { "'\($0)'" }.joined(separator: " ")
            p.arguments = ["-qec", command, "/dev/null"]
            p.environment = haul.environmentForRun()
            let out = Pipe()
            p.standardOutput = out
            p.standardInput = FileHandle.nullDevice
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self))
        }
        let tar = try onTerminal(["dump", "latest", "data"])
        #expect(tar.0 == 1)
        #expect(tar.1.contains("refusing to write a tar archive to a terminal"))
        let binary = try onTerminal(["dump", "latest", "data/binary"])
        #expect(binary.0 == 1)
        #expect(binary.1.contains("--force"))
        let text = try onTerminal(["dump", "latest", "data/text"])
        #expect(text.0 == 0)
        #expect(text.1.contains("plain text"))
        #expect(try onTerminal(["dump", "latest", "data/binary", "--force"]).0 == 0)
    }
}
