import Foundation
import Testing

/// `haul check --read-data-subset`, `haul repair index` and `haul repair snapshots` through the real executable.
@Suite(.serialized) struct RepairCLITests {
    func tempDir(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "haul-e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func bytes(_ n: Int, seed: UInt64) -> Data {
        var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x >> 11)
        }
        return Data(out)
    }

    func json(_ result: HaulProcess.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "\(result.stderr)")
    }

    /// Pack ids in the repository's `data/` folder.
    func packs(_ repo: String) throws -> [String] {
        let fm = FileManager.default
        return try fm.subpathsOfDirectory(atPath: repo + "/data").filter { $0.count == 67 }
            .map { String($0.suffix(64)) }.sorted()
    }

    @Test func rollingSubsetCoversEveryPackAndBadSubsetsAreUsageErrors() throws {
        let dir = try tempDir("subset")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        for round in 0..<3 {  // every backup writes its own packs
            try bytes(300_000, seed: UInt64(round)).write(to: URL(fileURLWithPath: src + "/f\(round).bin"))
            #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        }
        var read: [String] = []
        for n in 1...2 {
            let result = try haul.run(["check", "--read-data-subset", "\(n)/2", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try json(result)
            #expect(report["readSubset"] as? String == "\(n)/2")
            read += report["readPacks"] as? [String] ?? []
        }
        #expect(read.sorted() == (try packs(dir + "/repo")))
        let some = try json(try haul.run(["check", "--read-data-subset", "1G", "--json"]))
        #expect((some["readPacks"] as? [String])?.sorted() == (try packs(dir + "/repo")))

        for bad in ["0/2", "3/2", "150%", "lots"] {
            let result = try haul.run(["check", "--read-data-subset", bad])
            #expect(result.status == 64, "\(bad): \(result.stderr)")
            #expect(result.stderr.contains(bad))
        }
        #expect(try haul.run(["check", "--read-data", "--read-data-subset", "1/2"]).status == 64)
    }

    @Test func lostIndexAndLostPackAreRepaired() throws {
        let dir = try tempDir("repair")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src + "/keep", withIntermediateDirectories: true)
        try bytes(200_000, seed: 1).write(to: URL(fileURLWithPath: src + "/keep/a.bin"))
        try Data("small\n".utf8).write(to: URL(fileURLWithPath: src + "/keep/b.txt"))
        let repoDir = dir + "/repo"
        let haul = HaulProcess(repo: repoDir)
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)
        let firstPacks = try packs(repoDir)
        try bytes(300_000, seed: 2).write(to: URL(fileURLWithPath: src + "/lost.bin"))
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)

        // 1. Every index file is lost: repair index rebuilds it from the packs.
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: repoDir + "/index") {
            try fm.removeItem(atPath: repoDir + "/index/" + name)
        }
        #expect(try haul.run(["check"]).status == 1)
        let rebuilt = try haul.run(["repair", "index", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let report = try json(rebuilt)
        #expect(report["packsIndexed"] as? Int == (try packs(repoDir)).count)
        #expect((report["packsUnreadable"] as? [Any])?.isEmpty == true)
        #expect(try haul.run(["check", "--read-data"]).status == 0)

        // 2. The second backup's data pack is lost: its file goes, everything else stays.
        let secondPacks = try packs(repoDir).filter { !firstPacks.contains($0) }
        var lostData: String?
        for p in secondPacks {
            let size = (try fm.attributesOfItem(atPath: "\(repoDir)/data/\(p.prefix(2))/\(p)")[.size] as? Int) ?? 0
            if size > 250_000 { lostData = p }
        }
        let lost = try #require(lostData)
        try fm.removeItem(atPath: "\(repoDir)/data/\(lost.prefix(2))/\(lost)")
        let refused = try haul.run(["repair", "snapshots"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("haul repair index"))
        #expect(try haul.run(["repair", "index", "--quiet"]).status == 0)
        let repaired = try haul.run(["repair", "snapshots", "--forget", "--json"])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let damaged = try json(repaired)["damaged"] as? [[String: Any]] ?? []
        #expect(damaged.count == 1)
        #expect(damaged.first?["removedFiles"] as? [String] == ["src/lost.bin"])
        #expect(try haul.run(["check", "--read-data"]).status == 0)

        let snaps =
            try JSONSerialization.jsonObject(with: try haul.run(["snapshots", "--json"]).stdout) as? [[String: Any]]
        #expect(snaps?.count == 2)
        let target = dir + "/out"
        #expect(try haul.run(["restore", "latest", "--target", target]).status == 0)
        #expect(!fm.fileExists(atPath: target + "/src/lost.bin"))
        #expect(fm.contents(atPath: target + "/src/keep/a.bin") == fm.contents(atPath: src + "/keep/a.bin"))
        #expect(fm.contents(atPath: target + "/src/keep/b.txt") == Data("small\n".utf8))
    }

    @Test(arguments: ["index", "snapshots"])
    func repairSubcommandsHaveHelpWithAnExample(_ command: String) throws {
        let result = try HaulProcess(repo: "/nonexistent").run(["repair", command, "--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Example: haul repair \(command)"))
        #expect(result.out.contains("--repo"))
        #expect(result.out.contains("--json"))
    }
}
