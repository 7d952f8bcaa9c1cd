import Foundation
import Glibc
import HaulFormat
import HaulRepository
import HaulStorage
import HaulStorageFS
import HaulTesting
import Testing

@testable import HaulEngine

/// Backup → restore over a generated tree with every kind of entry the engine issue lists, compared byte for byte
/// and attribute for attribute (bytes, modes incl. setuid/sticky, owners, nanosecond mtimes, xattrs and ACLs,
/// symlinks, hard links, holes, FIFOs, devices, odd names, a path longer than PATH_MAX).
@Suite(.serialized) struct RoundTripTests {
    @Test func everyKindOfEntrySurvivesBackupAndRestore() async throws {
        let tmp = try TempDir("roundtrip")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        let manifest = try TreeFixture.generate(at: source, seed: 7, options: .init())
        #expect(manifest.omitted.isEmpty || getuid() != 0, "fixture omitted: \(manifest.omitted)")
        let repoDir = tmp.sub("repo")
        try FileManager.default.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let repo = try await newRepository(try FileSystemBlobStore(root: repoDir))
        let result = try await backup(repo, [source])

        // The socket is the only thing skipped, with a warning naming it.
        let sockets = manifest.paths(of: .socket)
        #expect(result.warnings.count == sockets.count, "\(result.warnings)")
        for s in sockets {
            #expect(result.warnings.contains { $0.path.count >= s.count && Array($0.path.suffix(s.count)) == s })
        }

        let target = tmp.sub("restored")
        let summary = try await restore(repo, result.snapshot, to: target)
        #expect(summary.warnings == 0)
        let differences = try TreeComparison.differences(
            source: source, restored: target + "/tree", options: .init(ownership: getuid() == 0))
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")

        // A second backup of the unchanged tree reads nothing and restores equal again.
        let second = try await backup(
            repo, [source], parent: StoredSnapshot(id: result.snapshotID, snapshot: result.snapshot))
        #expect(second.snapshot.summary.bytesRead == 0)
        #expect(second.snapshot.summary.dataBlobsNew == 0)
        let target2 = tmp.sub("restored2")
        _ = try await restore(repo, second.snapshot, to: target2)
        let differences2 = try TreeComparison.differences(
            source: source, restored: target2 + "/tree", options: .init(ownership: getuid() == 0))
        #expect(differences2.isEmpty, "\(differences2.joined(separator: "\n"))")
        #expect(try await Checker(repository: repo).check(readData: true).isClean)
    }

    @Test func includePatternRestoresOnlyMatchingPaths() async throws {
        let tmp = try TempDir("include")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source + "/a/b", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: source + "/c", withIntermediateDirectories: true)
        for p in ["a/b/one.txt", "a/two.log", "c/three.txt"] {
            try Data(p.utf8).write(to: URL(fileURLWithPath: source + "/" + p))
        }
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source])
        var options = RestoreOptions()
        options.includes = [try PathPattern("*.txt")]
        let target = tmp.sub("out")
        _ = try await Restorer(source: repo, options: options, progress: ProgressCounters(), warnings: WarningLog())
            .restore(root: try result.snapshot.treeID(), to: Array(target.utf8))
        let restored = try FileManager.default.subpathsOfDirectory(atPath: target).filter {
            $0.hasSuffix(".txt") || $0.hasSuffix(".log")
        }
        #expect(Set(restored) == ["src/a/b/one.txt", "src/c/three.txt"])
    }

    /// More small files than one batch holds, sizes on both sides of the batch limits, interleaved with
    /// subdirectories (saved inline or in tasks of their own) and larger files: every file comes back with its own
    /// bytes under its own name.
    @Test func smallFilesSavedInBatchesComeBackUnderTheirOwnNames() async throws {
        let tmp = try TempDir("batches")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        let fm = FileManager.default
        try fm.createDirectory(atPath: source, withIntermediateDirectories: true)
        var seed: UInt64 = 1
        for i in 0..<70 {
            if i % 9 == 4 {
                let dir = source + "/d\(i)"
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for j in 0..<20 {
                    seed += 1
                    try Data(xorshiftBytes(100 + j * 997, seed: seed)).write(to: URL(fileURLWithPath: dir + "/f\(j)"))
                }
            } else {
                seed += 1
                let size = i % 13 == 0 ? 200_000 : (i % 5 == 0 ? 65_536 : 1 + i * 613)
                try Data(xorshiftBytes(size, seed: seed)).write(
                    to: URL(fileURLWithPath: source + "/f\(String(format: "%02d", i))"))
            }
        }
        let repoDir = tmp.sub("repo")
        try fm.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let repo = try await newRepository(try FileSystemBlobStore(root: repoDir))
        let result = try await backup(repo, [source])
        #expect(result.snapshot.summary.files == 62 + 8 * 20)
        let target = tmp.sub("restored")
        _ = try await restore(repo, result.snapshot, to: target)
        #expect(try sameFiles(source, target + "/tree"))
    }

    /// All-zero chunks of several lengths (their ids cached by length during the run), beside data and below the
    /// zero test's minimum: every chunk's id is the id of the file's bytes it covers (a restore alone would not
    /// show a zero chunk with the id of a zero chunk of another length), and every file comes back exactly.
    @Test func allZeroChunksOfEveryLengthKeepTheirOwnIDs() async throws {
        let tmp = try TempDir("zeros")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let files: [(String, [UInt8])] = [
            ("zeros-300k", [UInt8](repeating: 0, count: 300 << 10)),  // maximal zero chunks and a shorter last one
            ("zeros-50k", [UInt8](repeating: 0, count: 50 << 10)),
            ("zeros-5000", [UInt8](repeating: 0, count: 5000)),
            ("zeros-5001", [UInt8](repeating: 0, count: 5001)),  // differs from the one before in the last byte only
            ("zeros-100", [UInt8](repeating: 0, count: 100)),
            (
                "data-and-zeros",
                xorshiftBytes(10_000, seed: 7) + [UInt8](repeating: 0, count: 200 << 10)
                    + xorshiftBytes(10_000, seed: 8) + [0, 0, 0]
            ),
        ]
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: source + "/" + name)) }
        let repoDir = tmp.sub("repo")
        try FileManager.default.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let repo = try await newRepository(try FileSystemBlobStore(root: repoDir))
        let result = try await backup(repo, [source])
        let root = try await repo.loadTree(try result.snapshot.treeID())
        let tree = try await repo.loadTree(try #require(root.nodes.first?.subtree))
        var zeroChunks = 0
        for (name, bytes) in files {
            let node = try #require(tree.nodes.first { $0.name == Array(name.utf8) }, "\(name) in the snapshot")
            let ends = node.chunks.dropFirst().map { Int($0.offset) } + [bytes.count]
            for (chunk, end) in zip(node.chunks, ends) {
                let covered = bytes[Int(chunk.offset)..<end]
                #expect(covered.withUnsafeBytes { repo.blobID(of: $0) } == chunk.blob, "\(name) at \(chunk.offset)")
                if covered.allSatisfy({ $0 == 0 }) && covered.count >= 4096 { zeroChunks += 1 }
            }
        }
        #expect(zeroChunks >= 6)
        let target = tmp.sub("restored")
        _ = try await restore(repo, result.snapshot, to: target)
        #expect(try sameFiles(source, target + "/tree"))
        #expect(try await Checker(repository: repo).check(readData: true).isClean)
    }
}
