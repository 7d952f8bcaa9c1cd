import Foundation
import Glibc
import Testing

/// `haul check` as people see it: damaged packs with the files they affect, rolling subsets, the help text.
@Suite(.serialized) struct CheckCommandTests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func noise(_ n: Int, seed: UInt64) -> Data {
        var x = seed | 1
        return Data(
            (0..<n).map { _ -> UInt8 in
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                return UInt8(truncatingIfNeeded: x)
            })
    }

    /// Pack files (`data/xx/<id>`) with their sizes.
    func packs(_ repo: String) throws -> [(id: String, path: String, size: Int)] {
        let names = try FileManager.default.subpathsOfDirectory(atPath: repo + "/data")
        return try names.compactMap { name in
            let id = String(name.split(separator: "/").last ?? "")
            guard id.count == 64 else { return nil }
            let path = repo + "/data/" + name
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            return (id, path, size)
        }.sorted { $0.id < $1.id }
    }

    @Test func readDataNamesTheDamagedPackAndTheAffectedFile() throws {
        let dir = try tempDir("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/src/sub", withIntermediateDirectories: true)
        // The only file with content, so the only one in the data pack; the empty one has no chunk to lose.
        try noise(2 << 20, seed: 7).write(to: URL(fileURLWithPath: dir + "/src/sub/big.bin"))
        #expect(FileManager.default.createFile(atPath: dir + "/src/empty", contents: Data()))
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", dir + "/src", "--quiet"]).status == 0)
        #expect(try haul.run(["check", "--read-data"]).status == 0)

        // The data pack is the biggest one (the other holds the trees); flip a byte in its middle.
        let pack = try #require(try packs(dir + "/repo").max { $0.size < $1.size })
        let fd = open(pack.path, O_RDWR)
        try #require(fd >= 0)
        var byte: UInt8 = 0
        _ = pread(fd, &byte, 1, off_t(pack.size / 2))
        byte ^= 0x10
        _ = pwrite(fd, &byte, 1, off_t(pack.size / 2))
        close(fd)

        let text = try haul.run(["check", "--read-data"])
        #expect(text.status == 1)
        let errors = text.out.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.contains { $0.contains(pack.id) }, "\(text.out)")
        #expect(text.out.contains("files whose content is damaged:"))
        #expect(text.out.contains(": /src/sub/big.bin"), "\(text.out)")
        #expect(!text.out.contains("src/empty"))

        let json = try haul.run(["check", "--read-data", "--json"])
        #expect(json.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let problems = report["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { ($0["object"] as? String)?.contains(pack.id) == true }, "\(problems)")
        #expect(problems.contains { ($0["message"] as? String)?.contains(pack.id) == true })
        let affected = report["affectedFiles"] as? [[String: Any]] ?? []
        #expect(affected.map { $0["path"] as? String } == ["src/sub/big.bin"], "\(affected)")
        let snapshots = try JSONSerialization.jsonObject(with: try haul.run(["snapshots", "--json"]).stdout)
        let snapshotID = ((snapshots as? [[String: Any]])?.first?["id"] as? String) ?? "?"
        #expect(affected.first?["snapshot"] as? String == snapshotID)
    }

    @Test func rollingPercentAndSizeSubsetsContinueFromTheCursor() throws {
        let dir = try tempDir("rolling")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        // Three backups of new content: new data packs, and tree packs.
        for round in 0..<3 {
            try noise(300_000, seed: UInt64(40 + round)).write(to: URL(fileURLWithPath: dir + "/src/f\(round)"))
            #expect(try haul.run(["backup", dir + "/src", "--quiet"]).status == 0)
        }
        let all = try packs(dir + "/repo").map(\.id)
        #expect(all.count >= 5)

        func read(_ subset: String) throws -> [String] {
            let result = try haul.run(["check", "--read-data-subset", subset, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
            return report["readPacks"] as? [String] ?? []
        }
        // 34%: ceil(100/34) = 3 runs read every pack exactly once, then the next cycle starts over.
        let cycle = try (0..<3).map { _ in try read("34%") }
        #expect(cycle.flatMap { $0 }.sorted() == all, "\(cycle)")
        #expect(cycle.allSatisfy { !$0.isEmpty })
        #expect(try read("34%") == cycle[0])
        let cursorFile = dir + "/repo-cache/" + (try repositoryID(haul)) + "/check-cursor.json"
        #expect(FileManager.default.fileExists(atPath: cursorFile))

        // A size of one byte reads one pack per run, each the next in id order.
        let sizes = try (0..<all.count).map { _ in try read("1") }
        #expect(sizes.allSatisfy { $0.count == 1 })
        #expect(Set(sizes.flatMap { $0 }) == Set(all))
        // The cache may be deleted at any time: the next run starts from the first pack again.
        try FileManager.default.removeItem(atPath: cursorFile)
        #expect(try read("1") == [all[0]])
    }

    func repositoryID(_ haul: HaulProcess) throws -> String {
        let dir = haul.repo + "-cache"
        return try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.count == 64 } ?? "?"
    }

    /// `check --help` exactly, at 80 columns: prose wraps cleanly, with no stray runs of spaces.
    @Test func checkHelpSnapshot() throws {
        var haul = HaulProcess(repo: "/nonexistent")
        haul.environment["COLUMNS"] = "80"
        let result = try haul.run(["check", "--help"])
        #expect(result.status == 0)
        let expected = #"""
            OVERVIEW: Verify the repository's structure, and with --read-data every stored
            byte.

            Without --read-data: every index file opens, every indexed pack exists with the
            right size, every snapshot's trees load and name only indexed blobs. With
            --read-data also: every pack's SHA-256 matches its name and every blob
            authenticates and matches its id. Damaged packs are named with the files they
            affect.

            --read-data-subset reads only some packs, and every form rolls: N/M splits the
            packs into M fixed groups by id and reads group N, so running 1/M, 2/M … M/M
            (say one a day) reads every pack exactly once. P% and a size (500M, 2G; K, M,
            G, T are powers of 1024) continue from a cursor kept per repository in the
            local cache (check-cursor.json): P% reads the next share of the packs in id
            order, so ceil(100/P) runs read every pack exactly once; a size reads the next
            packs until that many bytes are read. Without a cache directory (or after it
            was deleted) they start again from the first pack.

            Example: haul check --repo /backup/repo --read-data
            Example: haul check --repo /backup/repo --read-data-subset 3/7
            Example: haul check --repo /backup/repo --read-data-subset 10%

            USAGE: haul check [--repo <repo>] [--vault] [--password-file <password-file>] [--json] [--quiet] [--read-data] [--read-data-subset <subset>]

            OPTIONS:
              --repo <repo>           Repository directory (default: $HAUL_REPO, else the
                                      registered vault).
              --vault                 Use this machine's repository in the vault (`haul
                                      register`), even if HAUL_REPO is set.
              --password-file <password-file>
                                      Read the passphrase from the first line of FILE
                                      (default: $HAUL_PASSWORD, or a prompt).
              --json                  Print machine-readable JSON on standard output.
              -q, --quiet             Print less (no progress line).
              --read-data             Read and verify all data.
              --read-data-subset <subset>
                                      Read and verify only a rolling subset of the packs:
                                      N/M (group N of M), P% (the next P percent) or a size
                                      (the next packs up to that many bytes).
              -h, --help              Show help information.
            """#
        #expect(result.out.trimmingCharacters(in: .newlines) == expected, "\(result.out)")
    }

    /// The prose of every command's help (before USAGE) has single spaces between words.
    @Test(
        arguments: [
            "init", "backup", "snapshots", "ls", "restore", "check", "forget", "prune", "unlock", "stats", "diff",
            "find", "dump", "key", "repair",
        ])
    func helpProseHasNoRunsOfSpaces(_ command: String) throws {
        var haul = HaulProcess(repo: "/nonexistent")
        haul.environment["COLUMNS"] = "80"
        let out = try haul.run([command, "--help"]).out
        let prose = out.components(separatedBy: "USAGE:").first ?? ""
        for line in prose.split(separator: "\n") {
            #expect(!line.trimmingCharacters(in: .whitespaces).contains("  "), "\(command): \(line)")
        }
    }
}
