import Foundation
import HaulFormat
import HaulRepository
import HaulStorageFS
import Testing

@testable import HaulEngine

/// `check` finds a file whose chunks overlap or pass its size (format.md §9), which a restore would turn into
/// another file without an error (a later chunk overwrites an earlier one's excess, the size cuts off the rest).
@Suite struct ChunkLayoutCheckTests {
    @Test func overlappingChunksAndChunksPastTheSizeAreReported() async throws {
        let tmp = try TempDir("layout")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(xorshiftBytes(200_000, seed: 3)).write(to: URL(fileURLWithPath: source + "/overlapping"))
        try Data(xorshiftBytes(10_000, seed: 4)).write(to: URL(fileURLWithPath: source + "/too-long"))
        try Data(xorshiftBytes(10_000, seed: 5)).write(to: URL(fileURLWithPath: source + "/fine"))
        let repoDir = tmp.sub("repo")
        try FileManager.default.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let repo = try await newRepository(try FileSystemBlobStore(root: repoDir))
        let result = try await backup(repo, [source])
        #expect(try await Checker(repository: repo).check(readData: false).isClean)

        // The same snapshot with two file nodes changed: a chunk moved one byte into the one before it, and a size
        // one byte short of the chunks.
        let root = try await repo.loadTree(try result.snapshot.treeID())
        let top = try #require(root.nodes.first)
        var nodes = try await repo.loadTree(try #require(top.subtree)).nodes
        let overlapping = try #require(nodes.firstIndex { $0.name == Array("overlapping".utf8) })
        try #require(nodes[overlapping].chunks.count >= 2)
        nodes[overlapping].chunks[1].offset -= 1
        let tooLong = try #require(nodes.firstIndex { $0.name == Array("too-long".utf8) })
        nodes[tooLong].size -= 1
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
        #expect(layout.count == 2)
        #expect(layout.contains { $0.message.contains("/tree/overlapping") })
        #expect(layout.contains { $0.message.contains("/tree/too-long") })
        #expect(!report.problems.contains { $0.message.contains("fine") })
        let affected = Set(report.affectedFiles.map { String(decoding: $0.path.bytes, as: UTF8.self) })
        #expect(affected == ["tree/overlapping", "tree/too-long"])
        #expect(report.affectedFiles.allSatisfy { $0.snapshot == damagedID.hex })
    }
}
