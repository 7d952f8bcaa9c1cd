import Foundation
import Glibc
import HaulFormat
import HaulRepository
import HaulStorage
import HaulStorageFS
import HaulTesting
import Testing

@testable import HaulEngine

/// Backs up `source` into a new repository on `store` with `chunkConcurrency` chunk tasks per file and restores the
/// snapshot into `tmp/out`; returns the backup's summary and the restore target.
private func backUpAndRestore(
    _ source: String, _ tmp: TempDir, store: any BlobStore = MemoryBlobStore(), chunker: [ChunkerClass] = smallChunks,
    chunkConcurrency: Int = 2
) async throws -> (Snapshot.Summary, String) {
    let repo = try await newRepository(store, chunker: chunker)
    var options = BackupOptions(hostname: "test", username: "test")
    options.chunkConcurrency = chunkConcurrency
    let result = try await Archiver(repository: repo).backup(paths: [Array(source.utf8)], options: options)
    let target = tmp.sub("out")
    _ = try await restore(repo, result.snapshot, to: target)
    // No false alarm of `check` on what the backup wrote (holes, sliding windows, chunk layouts: format.md §9).
    #expect(try await Checker(repository: repo).check(readData: false).isClean)
    return (result.snapshot.summary, target)
}

@Suite struct ArchiverTests {
    @Test func unchangedTreeIsScannedNotRead() async throws {
        let tmp = try TempDir("incremental")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSimpleTree(at: source, files: 9, bytesEach: 100_000, seed: 1)
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [source])
        #expect(first.snapshot.summary.filesNew == 9)
        #expect(first.snapshot.summary.bytesRead > 0)

        let parent = StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot)
        let second = try await backup(repo, [source], parent: parent)
        #expect(second.snapshot.summary.bytesRead == 0)
        #expect(second.snapshot.summary.filesUnchanged == 9)
        #expect(second.snapshot.summary.dataBlobsNew == 0)
        // Same content and metadata: the root tree is deduplicated.
        #expect(second.snapshot.tree == first.snapshot.tree)
    }

    @Test func changedFileStoresOnlyNewChunks() async throws {
        let tmp = try TempDir("changed")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let path = source + "/big.bin"
        var content = xorshiftBytes(2 << 20, seed: 42)
        try Data(content).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: path)
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [source])
        let chunksBefore = first.snapshot.summary.dataBlobsNew
        #expect(chunksBefore > 20)

        // Change 100 bytes in the middle.
        for i in 0..<100 { content[1 << 20 + i] ^= 0xFF }
        try Data(content).write(to: URL(fileURLWithPath: path))
        let second = try await backup(
            repo, [source], parent: StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot))
        #expect(second.snapshot.summary.filesChanged == 1)
        #expect(second.snapshot.summary.dataBlobsNew >= 1)
        // The cuts after the change meet the old ones again within a few chunks: how many depends on the
        // repository's random chunker key (up to 6 seen), never on the whole file.
        #expect(second.snapshot.summary.dataBlobsNew <= chunksBefore / 4)
        #expect(second.snapshot.summary.bytesAdded <= UInt64(content.count / 4))
        let target = tmp.sub("out")
        _ = try await restore(repo, second.snapshot, to: target)
        #expect(FileManager.default.contents(atPath: target + "/src/big.bin") == Data(content))
    }

    @Test func fileLargerThanTheReadBufferRoundTripsWhileChunksAreInFlight() async throws {
        // A file longer than the read buffer slides through it; with many chunk tasks in flight every chunk must
        // still be cut from the right bytes of the window.
        let tmp = try TempDir("sliding")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        var content = xorshiftBytes(4 * Run.slidingBuffer + 12345, seed: 9)
        for i in stride(from: 0, to: content.count / 2, by: 1) where (i / 4096) % 2 == 0 {
            content[i] = UInt8(i % 7)  // compressible stretches, so both compressed and raw blobs are sealed
        }
        try Data(content).write(to: URL(fileURLWithPath: source + "/big.bin"))
        let (summary, target) = try await backUpAndRestore(source, tmp, chunkConcurrency: 8)
        #expect(summary.dataBlobsNew > 100)
        #expect(FileManager.default.contents(atPath: target + "/src/big.bin") == Data(content))
    }

    @Test func largeSealedBlobsGoStraightIntoTheStagedPackFile() async throws {
        // Chunks of 1–4 MiB that do not compress are sealed into blobs larger than the pack writer's 1 MiB staging
        // buffer, so they are written to the staged file directly, between buffered small pieces.
        let tmp = try TempDir("staged-large")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let big = xorshiftBytes(9 << 20, seed: 31)
        try Data(big).write(to: URL(fileURLWithPath: source + "/big.bin"))
        for i in 0..<20 {
            try Data(xorshiftBytes(3000 + i, seed: UInt64(40 + i))).write(to: URL(fileURLWithPath: source + "/s\(i)"))
        }
        try FileManager.default.createDirectory(atPath: tmp.sub("repo"), withIntermediateDirectories: true)
        let store = try FileSystemBlobStore(root: tmp.sub("repo"))
        let (summary, target) = try await backUpAndRestore(
            source, tmp, store: store, chunker: [ChunkerClass(minFileSize: 0, min: 1 << 20, avg: 2 << 20, max: 4 << 20)]
        )
        #expect(summary.dataBlobsNew >= 22)
        let fresh = try await Repository.open(store: store, passphrase: enginePassphrase)
        #expect(try await Checker(repository: fresh).check(readData: true).isClean)
        #expect(FileManager.default.contents(atPath: target + "/src/big.bin") == Data(big))
        #expect(FileManager.default.contents(atPath: target + "/src/s7") == Data(xorshiftBytes(3007, seed: 47)))
    }

    @Test func sparseFileRangesRoundTripWhileChunksOfTheLastRangeAreInFlight() async throws {
        // Each data range of a sparse file is read from the front of a buffer; the chunks of the range before may
        // still be in flight, so the next range must not overwrite them.
        let tmp = try TempDir("sparse-ranges")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let path = source + "/sparse.img"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let size: UInt64 = 12 << 20
        var expected = [UInt8](repeating: 0, count: Int(size))
        for (n, offset) in [0, 3 << 20, 7 << 20, 10 << 20].enumerated() {
            let data = xorshiftBytes((1 << 20) + 777, seed: UInt64(20 + n))
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: data)
            expected.replaceSubrange(offset..<(offset + data.count), with: data)
        }
        try handle.truncate(atOffset: size)
        try handle.close()
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(st.st_blocks * 512 < Int(size) / 2, "the file system must keep the holes, so the file has four ranges")
        let (_, target) = try await backUpAndRestore(source, tmp, chunkConcurrency: 8)
        #expect(FileManager.default.contents(atPath: target + "/src/sparse.img") == Data(expected))
    }

    @Test func fileModifiedInTheSameTickAsTheBackupStartIsReadAgain() async throws {
        let tmp = try TempDir("tick")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let path = source + "/f"
        try Data("one".utf8).write(to: URL(fileURLWithPath: path))
        let repo = try await newRepository(MemoryBlobStore())
        var first = try await backup(repo, [source])
        // Pretend the parent backup started before the file's mtime (same clock tick): it must be read again.
        first.snapshot.startNanos = 0
        let second = try await backup(
            repo, [source], parent: StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot))
        #expect(second.snapshot.summary.filesUnchanged == 0)
        #expect(second.snapshot.summary.bytesRead == 3)
    }

    @Test func pathsAreCleanedBeforeTheirLastComponentNamesTheRoot() async throws {
        let cases: [(String, String)] = [
            ("/a/b/.", "/a/b"), ("/a/b/", "/a/b"), ("/a/../b", "/b"), ("/..", "/"), ("//a//b", "/a/b"),
            ("/", "/"), ("a/./b", "a/b"), ("../x", "../x"), ("a/..", "."), ("", "."), ("a/../../b", "../b"),
        ]
        for (path, cleaned) in cases {
            #expect(Archiver.cleanPath(Array(path.utf8)) == Array(cleaned.utf8), "\(path)")
        }
        // `haul backup .` inside a directory, or a path with a trailing "/.": the root node is the directory's name.
        let tmp = try TempDir("clean")
        defer { tmp.cleanup() }
        let source = tmp.sub("project")
        try writeSimpleTree(at: source, files: 3, bytesEach: 1000, seed: 4)
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source + "/sub/.."])
        let root = try await repo.loadTree(try result.snapshot.treeID())
        #expect(root.nodes.map(\.name) == [Array("project".utf8)])
        #expect(root.nodes.first?.kind == .directory)
    }

    @Test func excludesAreApplied() async throws {
        let tmp = try TempDir("exclude")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source + "/cache/x", withIntermediateDirectories: true)
        for name in ["a.txt", "b.tmp", "cache/x/c.txt"] {
            try Data(name.utf8).write(to: URL(fileURLWithPath: source + "/" + name))
        }
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source], excludes: ["*.tmp", "cache/"])
        var paths: [String] = []
        try await TreeWalker(source: repo).walk(root: try result.snapshot.treeID()) { p, _ in
            paths.append(String(decoding: p, as: UTF8.self))
        }
        #expect(paths == ["src", "src/a.txt"])
    }

    @Test func corruptedPackIsReportedWithTheAffectedFile() async throws {
        let tmp = try TempDir("corrupt")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSimpleTree(at: source, files: 3, bytesEach: 50_000, seed: 3)
        let repoDir = tmp.sub("repo")
        try FileManager.default.createDirectory(atPath: repoDir, withIntermediateDirectories: true)
        let store = try FileSystemBlobStore(root: repoDir)
        let repo = try await newRepository(store)
        let result = try await backup(repo, [source])
        #expect(try await Checker(repository: repo).check(readData: true).isClean)

        // Flip one byte inside the data pack that holds file-0's first chunk.
        var fileNode: Node?
        try await TreeWalker(source: repo).walk(root: try result.snapshot.treeID()) { p, n in
            if String(decoding: p, as: UTF8.self) == "src/file-0.bin" { fileNode = n }
        }
        let chunk = try #require(fileNode?.chunks.first)
        let loc = try #require(repo.index.location(of: chunk.blob))
        let packPath = repoDir + "/" + ObjectKey(.data, loc.pack).path
        var bytes = try #require(FileManager.default.contents(atPath: packPath))
        bytes[Int(loc.entry.offset) + 5] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: packPath))

        let fresh = try await Repository.open(store: store, passphrase: enginePassphrase)
        let report = try await Checker(repository: fresh).check(readData: true)
        #expect(!report.isClean)
        #expect(report.problems.contains { $0.kind == "packCorrupted" && $0.object == loc.pack.hex })
        #expect(report.affectedFiles.contains { $0.path == LosslessBytes("src/file-0.bin") })
        // Without --read-data the structure is still fine: only reading the data finds it.
        let quick = try await Checker(repository: try await Repository.open(store: store, passphrase: enginePassphrase))
            .check(readData: false)
        #expect(quick.isClean)
    }
}

@Suite struct ChangeDetectionTests {
    /// Saves file `name` of `dir` as a backup whose walk saw `scanned`, into a new repository; returns its node and
    /// the warnings.
    static func saveFile(_ name: String, in dir: DirectoryHandle, scanned: FileStat) async throws -> (Node?, WarningLog)
    {
        let repo = try await newRepository(MemoryBlobStore())
        let warnings = WarningLog()
        let run = Run(
            archiver: Archiver(repository: repo, warnings: warnings), saver: BlobSaver(repository: repo),
            options: BackupOptions(hostname: "h", username: "u"),
            parentStart: nil, semaphore: AsyncSemaphore(1), smallFileSemaphore: AsyncSemaphore(1))
        let node = try await run.saveFile(
            in: dir, name: Array(name.utf8), stat: scanned, relativePath: Array(name.utf8), parent: nil)
        return (node, warnings)
    }

    @Test func aFileThatChangesBetweenScanAndReadIsReported() async throws {
        let tmp = try TempDir("changing")
        defer { tmp.cleanup() }
        let path = tmp.sub("f")
        try Data(xorshiftBytes(100_000, seed: 1)).write(to: URL(fileURLWithPath: path))
        let dir = try DirectoryHandle(path: Array(tmp.path.utf8))
        let scanned = try dir.stat(Array("f".utf8))
        // The file grows after the directory scan saw it, before its content is read.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 7, count: 10))
        try handle.close()

        let (node, warnings) = try await Self.saveFile("f", in: dir, scanned: scanned)
        #expect(node != nil)
        #expect(warnings.all.count == 1)
        #expect(warnings.all.first?.message.contains("changed while it was being read") == true)
    }

    @Test func aSmallFileReplacedBetweenScanAndReadIsReported() async throws {
        let tmp = try TempDir("replaced")
        defer { tmp.cleanup() }
        let path = tmp.sub("f")
        try Data(xorshiftBytes(3_000, seed: 1)).write(to: URL(fileURLWithPath: path))
        let dir = try DirectoryHandle(path: Array(tmp.path.utf8))
        let scanned = try dir.stat(Array("f".utf8))
        // Another file of the same size is renamed over it after the scan: same name and size, another inode.
        try Data(xorshiftBytes(3_000, seed: 2)).write(to: URL(fileURLWithPath: tmp.sub("g")))
        #expect(rename(tmp.sub("g"), path) == 0)
        var unchanged = scanned
        unchanged.mtime = try dir.stat(Array("f".utf8)).mtime
        unchanged.ctime = try dir.stat(Array("f".utf8)).ctime

        // Even with the times the new file has, the inode tells the files apart.
        let (node, warnings) = try await Self.saveFile("f", in: dir, scanned: unchanged)
        #expect(node?.chunks.count == 1)
        #expect(warnings.all.map(\.message).contains { $0.contains("changed while it was being read") })
    }
}

@Suite struct SaverFailureTests {
    /// A pack that cannot be stored while files are being saved fails the backup: blobs of other files were in it,
    /// so no snapshot may name them (format.md §11), even though the file whose blob filled the pack could have been
    /// reported and skipped.
    @Test(arguments: [1, 3])
    func aFailedPackWriteFailsTheBackupAndWritesNoSnapshot(failingWrite: Int) async throws {
        let tmp = try TempDir("saverfail")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        // 2.4 MB of incompressible small files: groups fill several packs of 1 MiB while files are still read.
        for i in 0..<600 {
            try Data(xorshiftBytes(4000, seed: UInt64(i))).write(to: URL(fileURLWithPath: source + "/f\(i)"))
        }
        let base = MemoryBlobStore()
        _ = try await newRepository(base)
        let faulty = FaultyBlobStore(base: base, faults: [.failNthWrite(failingWrite)])
        let repo = try await Repository.open(store: faulty, passphrase: enginePassphrase)
        _ = try await repo.loadIndex()
        await #expect(throws: HaulError.self) {
            _ = try await Archiver(repository: repo).backup(
                paths: [Array(source.utf8)], options: BackupOptions(hostname: "h", username: "u"))
        }
        #expect(await faulty.injected == [.failNthWrite(failingWrite)])
        let snapshots = await base.list(.snapshots)
        #expect(snapshots.isEmpty)
    }
}
