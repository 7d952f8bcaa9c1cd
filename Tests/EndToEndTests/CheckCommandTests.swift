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
}
