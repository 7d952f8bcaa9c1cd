import Foundation
import HaulFormat
import HaulRepository
import HaulStorage
import Testing

@testable import HaulEngine

/// A changed directory is stored as a delta against the parent's tree; restore, prune and check follow the chain
/// (format.md §9, "Delta trees").
@Suite struct DeltaTreeTests {
    /// `src/many` with `count` small files and an untouched `src/still`, all with an mtime in the past.
    private func writeSource(_ source: String, count: Int) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: source + "/many", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: source + "/still", withIntermediateDirectories: true)
        for i in 0..<count { try touchOld(source + "/many/f\(i)", xorshiftBytes(300 + i, seed: UInt64(i))) }
        try touchOld(source + "/still/x", xorshiftBytes(1000, seed: 99))
    }

    private func touchOld(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let old = Date(timeIntervalSinceNow: -3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
    }

    /// The tree blob id of `names` below the snapshot's root.
    private func subtree(_ repo: Repository, _ snapshot: Snapshot, _ names: [String]) async throws -> BlobID {
        var id = try snapshot.treeID()
        for name in names {
            let node = try #require(try await repo.loadTree(id).node(named: Array(name.utf8)))
            id = try #require(node.subtree)
        }
        return id
    }

    @Test func changedDirectoryIsADeltaThatRestoresPrunesAndChecks() async throws {
        let tmp = try TempDir("delta-trees")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSource(source, count: 40)
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [source])
        let firstMany = try await subtree(repo, first.snapshot, ["src", "many"])

        var snapshots = [StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot)]
        for round in 1...3 {
            // One file edited, one new, one deleted: the directory's delta holds two nodes and one name.
            try touchOld(source + "/many/f\(round)", xorshiftBytes(500, seed: 1000 + UInt64(round)))
            try touchOld(source + "/many/new\(round)", xorshiftBytes(200, seed: 2000 + UInt64(round)))
            try FileManager.default.removeItem(atPath: source + "/many/f\(20 + round)")
            let next = try await backup(repo, [source], parent: snapshots.last)
            snapshots.append(StoredSnapshot(id: next.snapshotID, snapshot: next.snapshot))

            let many = try await subtree(repo, next.snapshot, ["src", "many"])
            let blob = try await repo.loadBlob(many, type: .tree)
            guard case .delta(let delta) = try TreeBlob(decoding: blob) else {
                Issue.record("round \(round): src/many was stored as a full tree")
                return
            }
            #expect(delta.depth == round)
            #expect(delta.removed == [Array("f\(20 + round)".utf8)])
            #expect(delta.nodes.map { String(decoding: $0.name, as: UTF8.self) } == ["f\(round)", "new\(round)"])
            #expect(try await repo.loadTreeChain(many).blobs.count == round + 1)
            #expect(try await repo.loadTreeChain(many).blobs.last == firstMany)
            // The untouched directory keeps the blob of the first snapshot.
            #expect(
                try await subtree(repo, next.snapshot, ["src", "still"])
                    == (try await subtree(repo, first.snapshot, ["src", "still"])))
        }
        let target = tmp.sub("out-before-prune")
        _ = try await restore(repo, snapshots.last!.snapshot, to: target)
        #expect(try sameFiles(source, target + "/src"))

        // Forget every snapshot but the last: prune must keep the whole chain its directory is read through.
        for s in snapshots.dropLast() { try await repo.deleteSnapshot(s.id) }
        _ = try await Pruner(repository: repo).prune(dryRun: false)
        let fresh = try await Repository.open(store: repo.store, passphrase: enginePassphrase)
        try await fresh.loadIndex()
        let again = tmp.sub("out-after-prune")
        _ = try await restore(fresh, snapshots.last!.snapshot, to: again)
        #expect(try sameFiles(source, again + "/src"))
        #expect(try await Checker(repository: fresh).check(readData: true).isClean)
        let raw = try await SnapshotStats(repository: fresh).rawData(of: [snapshots.last!], repositorySnapshots: 1)
        #expect(raw.treeBlobs >= 4 + 3)  // root, src, many (and its three bases), still
    }

    /// A snapshot listed after one whose delta has its tree as a base (clocks of two hosts differ): prune and stats
    /// must still walk that tree's own entries, not stop because the base was already kept.
    @Test func baseTreeOfALaterListedSnapshotIsStillWalked() async throws {
        let tmp = try TempDir("delta-trees-order")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSource(source, count: 30)
        // Large enough to fill packs of its own (1 MiB in tests), which prune deletes when nothing marks them.
        try touchOld(source + "/many/f7", xorshiftBytes(3 << 20, seed: 7))
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [source])
        let firstCopy = tmp.sub("first")
        _ = try await restore(repo, first.snapshot, to: firstCopy)
        try FileManager.default.removeItem(atPath: source + "/many/f7")  // its blob stays only in the first snapshot
        try touchOld(source + "/many/f8", xorshiftBytes(400, seed: 77))
        let second = try await backup(
            repo, [source], parent: StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot))
        guard
            case .delta = try TreeBlob(
                decoding: try await repo.loadBlob(
                    try await subtree(repo, second.snapshot, ["src", "many"]), type: .tree))
        else {
            Issue.record("src/many of the second snapshot was stored as a full tree")
            return
        }
        // The first snapshot again, stamped after the second: it is now listed (and marked) last.
        var later = first.snapshot
        later.startNanos = second.snapshot.startNanos + 1
        later.endNanos = later.startNanos
        _ = try await repo.saveSnapshot(later)
        try await repo.deleteSnapshot(first.snapshotID)
        _ = try await Pruner(repository: repo).prune(dryRun: false)

        let fresh = try await Repository.open(store: repo.store, passphrase: enginePassphrase)
        try await fresh.loadIndex()
        #expect(try await Checker(repository: fresh).check(readData: true).isClean)
        let target = tmp.sub("out")
        _ = try await restore(fresh, later, to: target)
        #expect(try sameFiles(firstCopy, target))
        let all = try await fresh.listSnapshots()
        let raw = try await SnapshotStats(repository: fresh).rawData(of: all, repositorySnapshots: all.count)
        #expect(raw.missingBlobs == 0)
        #expect(raw.dataBlobs > 30 + 1 + 1)  // f7's chunks, the other files, f8 edited, still/x
    }

    @Test func directoryRewrittenWhollyIsStoredFull() async throws {
        let tmp = try TempDir("delta-trees-full")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSource(source, count: 10)
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [source])
        for i in 0..<10 { try touchOld(source + "/many/f\(i)", xorshiftBytes(700, seed: 5000 + UInt64(i))) }
        let second = try await backup(
            repo, [source], parent: StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot))
        let many = try await subtree(repo, second.snapshot, ["src", "many"])
        guard case .full = try TreeBlob(decoding: try await repo.loadBlob(many, type: .tree)) else {
            Issue.record("a directory whose every entry changed was stored as a delta")
            return
        }
    }
}
