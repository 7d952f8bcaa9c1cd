import Foundation
import HaulFormat
import HaulRepository
import HaulStorageFS
import Testing

@testable import HaulEngine

/// `check` finds a file whose chunks overlap or pass its size (format.md §9), which a restore would turn into
/// another file without an error (a later chunk overwrites an earlier one's excess, the size cuts off the rest), and
/// `repair snapshots` leaves it out.
@Suite struct ChunkLayoutCheckTests {
    @Test func overlappingChunksAndChunksPastTheSizeAreReportedAndRepaired() async throws {
        let tmp = try TempDir("layout")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(xorshiftBytes(200_000, seed: 3)).write(to: URL(fileURLWithPath: source + "/overlapping"))
        try Data(xorshiftBytes(10_000, seed: 4)).write(to: URL(fileURLWithPath: source + "/too-long"))
        try Data(xorshiftBytes(10_000, seed: 5)).write(to: URL(fileURLWithPath: source + "/fine"))
        try Data(xorshiftBytes(10_000, seed: 6)).write(to: URL(fileURLWithPath: source + "/far"))
        let repoDir = tmp.sub("repo")
        try FileManager.default.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let repo = try await newRepository(try FileSystemBlobStore(root: repoDir))
        let result = try await backup(repo, [source])
        #expect(try await Checker(repository: repo).check(readData: false).isClean)

        // The same snapshot with three file nodes changed: a chunk moved one byte into the one before it, a size
        // one byte short of the chunks, and a chunk whose end would pass the largest 64-bit offset.
        let root = try await repo.loadTree(try result.snapshot.treeID())
        let top = try #require(root.nodes.first)
        var nodes = try await repo.loadTree(try #require(top.subtree)).nodes
        let overlapping = try #require(nodes.firstIndex { $0.name == Array("overlapping".utf8) })
        try #require(nodes[overlapping].chunks.count >= 2)
        nodes[overlapping].chunks[1].offset -= 1
        let tooLong = try #require(nodes.firstIndex { $0.name == Array("too-long".utf8) })
        nodes[tooLong].size -= 1
        let far = try #require(nodes.firstIndex { $0.name == Array("far".utf8) })
        nodes[far].chunks[0].offset = UInt64.max - 5
        let saver = BlobSaver(repository: repo)
        var changedTop = top
        changedTop.subtree = try await saver.save(type: .tree, plaintext: Tree(nodes: nodes).encoded())
        let changedRoot = try await saver.save(type: .tree, plaintext: Tree(nodes: [changedTop]).encoded())
        try await saver.flush()
        var damaged = result.snapshot
        damaged.tree = changedRoot.digest.hex
        let damagedID = try await repo.saveSnapshot(damaged)

        let report = try await Checker(repository: repo).check(readData: false)
        let layout = report.problems.filter { $0.kind == "chunkLayout" }
        #expect(layout.count == 3)
        #expect(layout.contains { $0.message.contains("/tree/overlapping") && $0.message.contains("starts before") })
        #expect(
            layout.contains { $0.message.contains("/tree/too-long") && $0.message.contains("past the file's size") })
        #expect(layout.contains { $0.message.contains("/tree/far") && $0.message.contains("64-bit") })
        #expect(layout.allSatisfy { $0.object != changedRoot.digest.hex })  // the tree holding the files
        let affected = Set(report.affectedFiles.map { String(decoding: $0.path.bytes, as: UTF8.self) })
        #expect(affected == ["tree/overlapping", "tree/too-long", "tree/far"])
        #expect(report.affectedFiles.allSatisfy { $0.snapshot == damagedID.hex })

        let repair = try await SnapshotRepairer(repository: repo).repair(forget: true, dryRun: false)
        let removed = Set(try #require(repair.damaged.first).removedFiles.map(\.description))
        #expect(removed == ["tree/overlapping", "tree/too-long", "tree/far"])
        #expect(try await Checker(repository: repo).check(readData: true).isClean)
    }
}
