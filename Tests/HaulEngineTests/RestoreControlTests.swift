import Foundation
import Glibc
import HaulFormat
import HaulRepository
import HaulStorage
import HaulTesting
import Synchronization
import Testing

@testable import HaulEngine

/// A `BlobSource` that passes calls to another one and fails every data load after the first `limit`: an
/// interrupted restore.
final class InterruptingBlobSource: BlobSource {
    let base: any BlobSource
    let limit: Int
    private let loads = Mutex(0)

    init(base: any BlobSource, limit: Int) {
        self.base = base
        self.limit = limit
    }

    func loadTree(_ id: BlobID) async throws -> Tree { try await base.loadTree(id) }

    func loadData(_ id: BlobID) async throws -> [UInt8] {
        let n = loads.withLock {
            $0 += 1
            return $0
        }
        if n > limit { throw HaulError(.io, "injected: the connection broke after \(limit) data blobs") }
        return try await base.loadData(id)
    }
}

/// Overwrite policies beyond refuse/always/never, resuming, dry runs and verification.
@Suite(.serialized) struct RestoreControlTests {
    func restorer(
        _ source: any BlobSource, _ policy: OverwritePolicy, fileConcurrency: Int = 4, unnamedFiles: Bool = true
    ) -> Restorer {
        Restorer(
            source: source,
            options: RestoreOptions(overwrite: policy, fileConcurrency: fileConcurrency, unnamedFiles: unnamedFiles),
            progress: ProgressCounters(), warnings: WarningLog())
    }

    /// Names below `root` (recursively) that start with the temporary prefix.
    func leftovers(_ root: String) throws -> [String] {
        // find(1) copes with the paths beyond PATH_MAX the fixture holds.
        try run("/usr/bin/find", root, "-name", ".haul-restore-*").split(separator: "\n").map(String.init)
    }

    /// New files written as unnamed files linked when complete (`O_TMPFILE`), and under temporary names renamed when
    /// complete (where the file system has no `O_TMPFILE`).
    @Test(arguments: [true, false])
    func interruptedRestoreResumesToAnEqualTree(unnamedFiles: Bool) async throws {
        let tmp = try TempDir("resume")
        defer { tmp.cleanup() }
        let source = tmp.sub("tree")
        _ = try TreeFixture.generate(at: source, seed: 11, options: .init(socket: false))
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source])
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        let root = try result.snapshot.treeID()
        let dataBlobs = result.snapshot.summary.dataBlobsNew
        #expect(dataBlobs > 6)

        // The first attempt breaks off half-way; one file at a time so the files before the break are complete.
        let target = tmp.sub("out")
        let broken = InterruptingBlobSource(base: repo, limit: dataBlobs / 2)
        await #expect(throws: HaulError.self) {
            _ = try await restorer(broken, .refuseNonEmptyTarget, fileConcurrency: 1, unnamedFiles: unnamedFiles)
                .restore(root: root, to: Array(target.utf8))
        }
        #expect(try leftovers(target).isEmpty, "a failed file removes its temporary file")
        // Every file under its own name is complete (the one written at the break is not there).
        let partial = try TreeComparison.differences(
            source: source, restored: target + "/tree",
            options: .init(directoryMtimes: false, rootAttributes: false, hardlinks: false, limit: .max)
        ).filter { $0.contains("contents differ") || $0.contains("size differs") || $0.contains("sparse layout") }
        #expect(partial.isEmpty, "\(partial)")
        let present = try run("/usr/bin/find", target, "-type", "f").split(separator: "\n").count
        #expect(present > 0, "the broken restore finished some files")
        // A crash leaves a temporary file behind; the resume removes it.
        writeFile(target + "/tree/.haul-restore-0123abcd", [1, 2, 3])

        // Without a policy the non-empty target is refused with the hint to resume.
        await #expect {
            _ = try await restorer(repo, .refuseNonEmptyTarget).restore(root: root, to: Array(target.utf8))
        } throws: { ($0 as? HaulError)?.message.contains("--overwrite if-changed") == true }

        let resumed = try await restorer(repo, .ifChanged).restore(root: root, to: Array(target.utf8))
        #expect(resumed.unchanged > 0, "files finished before the break are kept")
        #expect(resumed.files > 0)
        #expect(resumed.warnings == 0)
        #expect(try leftovers(target).isEmpty)
        let differences = try TreeComparison.differences(
            source: source, restored: target + "/tree", options: .init(ownership: getuid() == 0))
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")

        // Resuming a finished restore writes nothing and keeps it equal.
        let again = try await restorer(repo, .ifChanged).restore(root: root, to: Array(target.utf8))
        #expect(again.files == 0 && again.bytesWritten == 0 && again.hardlinks == 0)
        let differences2 = try TreeComparison.differences(
            source: source, restored: target + "/tree", options: .init(ownership: getuid() == 0))
        #expect(differences2.isEmpty, "\(differences2.joined(separator: "\n"))")
    }

    @Test func resumeLinksLaterNamesToAFirstNameFinishedBeforeTheBreak() async throws {
        let s = MemoryBlobSource()
        func linked(_ name: String) -> Node {
            var n = s.file([UInt8](name), size: 6, pieces: [(0, [UInt8]("shared"))], mode: 0o640)
            n.device = 5
            n.inode = 6
            n.linkCount = 3
            return n
        }
        let root = s.addTree([
            s.directory(
                [UInt8]("a"), [linked("first"), s.file([UInt8]("y"), size: 1, pieces: [(0, [1])])], mode: 0o751),
            s.directory([UInt8]("b"), [linked("second")], mode: 0o705),
            linked("third"),
        ])
        let scratch = ScratchDirectory()
        // The break comes at a/y: a/first is complete, b/second and third do not exist yet.
        await #expect(throws: HaulError.self) {
            _ = try await restorer(InterruptingBlobSource(base: s, limit: 1), .refuseNonEmptyTarget).restore(
                root: root, to: scratch.bytes)
        }
        #expect(access(scratch.sub("a/first"), F_OK) == 0 && access(scratch.sub("b"), F_OK) != 0)
        // A separate file in the way of a later name (same size and mtime) is replaced by the link.
        writeFile(scratch.sub("third"), [UInt8]("shared"))
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789)]
        times.append(times[0])
        _ = times.withUnsafeBufferPointer { utimensat(AT_FDCWD, scratch.sub("third"), $0.baseAddress, 0) }

        let summary = try await restorer(s, .ifChanged).restore(root: root, to: scratch.bytes)
        #expect(summary.unchanged == 1 && summary.hardlinks == 2 && summary.files == 1)
        let dir = try DirectoryHandle(path: scratch.bytes)
        let first = try DirectoryHandle(parent: dir, name: [UInt8]("a")).stat([UInt8]("first"))
        let second = try DirectoryHandle(parent: dir, name: [UInt8]("b")).stat([UInt8]("second"))
        let third = try dir.stat([UInt8]("third"))
        #expect(first.inode == second.inode && first.inode == third.inode && first.linkCount == 3)
        for (name, mode) in [("a", 0o751), ("b", 0o705)] {
            let st = try dir.stat([UInt8](name))
            #expect(st.mode == UInt32(mode) && st.mtime == Node.Timestamp(seconds: 1_600_000_000, nanoseconds: 42))
        }
    }

    @Test func ifChangedKeepsUnchangedFilesAndRewritesModifiedOnes() async throws {
        let source = MemoryBlobSource()
        let root = source.addTree([
            source.file([UInt8]("kept"), size: 5, pieces: [(0, [UInt8]("hello"))]),
            source.file([UInt8]("touched"), size: 5, pieces: [(0, [UInt8]("world"))]),
        ])
        let scratch = ScratchDirectory()
        _ = try await restorer(source, .refuseNonEmptyTarget).restore(root: root, to: scratch.bytes)
        let dir = try DirectoryHandle(path: scratch.bytes)
        let keptBefore = try dir.stat([UInt8]("kept"))
        writeFile(scratch.sub("touched"), [UInt8]("WORLD"))  // same size, new mtime
        let touchedBefore = try dir.stat([UInt8]("touched"))
        usleep(20_000)  // a rewrite would show a later ctime

        let summary = try await restorer(source, .ifChanged).restore(root: root, to: scratch.bytes)
        #expect(summary.unchanged == 1 && summary.files == 1 && summary.bytesWritten == 5)
        let keptAfter = try dir.stat([UInt8]("kept"))
        #expect(keptAfter.inode == keptBefore.inode && keptAfter.ctime == keptBefore.ctime)
        let touchedAfter = try dir.stat([UInt8]("touched"))
        #expect(touchedAfter.inode != touchedBefore.inode)
        #expect(try readAll(dir, [UInt8]("touched")) == [UInt8]("world"))
        #expect(touchedAfter.mtime == Node.Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789))
    }

    @Test func dryRunWritesNothingAndCountsBytes() async throws {
        let s = MemoryBlobSource()
        func linked(_ name: String) -> Node {
            var n = s.file([UInt8](name), size: 4, pieces: [(0, [UInt8]("link"))])
            n.device = 1
            n.inode = 2
            n.linkCount = 2
            return n
        }
        let root = s.addTree([
            s.file([UInt8]("a"), size: 3, pieces: [(0, [UInt8]("abc"))]),
            s.file([UInt8]("sparse"), size: 1 << 20, pieces: [(4096, pattern(100, seed: 1))]),
            s.directory(
                [UInt8]("d"), [s.file([UInt8]("b"), size: 7, pieces: [(0, pattern(7, seed: 2))]), linked("l1")]),
            linked("l2"),
            Node(name: [UInt8]("sym"), kind: .symlink, mode: 0o777, linkTarget: [UInt8]("a")),
        ])
        let scratch = ScratchDirectory()
        let target = scratch.bytes + Array("/missing".utf8)
        let plan = try await restorer(s, .refuseNonEmptyTarget).plan(root: root, to: target, listEntries: true)
        #expect(plan.files == 4 && plan.hardlinks == 1 && plan.directories == 1 && plan.otherEntries == 1)
        #expect(plan.bytes == 3 + (1 << 20) + 7 + 4)
        #expect(plan.entries?.count == 7)
        #expect(plan.entries?.first { $0.path == LosslessBytes("l2") }?.action == .link)
        #expect(plan.entries?.first { $0.path == LosslessBytes("d/b") }?.bytes == 7)
        #expect(access(scratch.sub("missing"), F_OK) != 0, "a dry run creates nothing")

        // The bytes a real restore reports as done are the planned bytes.
        let progress = ProgressCounters()
        let summary = try await Restorer(
            source: s, options: RestoreOptions(), progress: progress, warnings: WarningLog()
        ).restore(root: root, to: target)
        #expect(summary.files == plan.files && summary.hardlinks == plan.hardlinks)
        #expect(progress.values.bytes == plan.bytes + 4, "the later hard-link name counts as done, unwritten")
        #expect(summary.bytesWritten == 3 + 100 + 7 + 4)

        // Against the restored target: nothing to write; after a change, just that file.
        let again = try await restorer(s, .ifChanged).plan(root: root, to: target)
        #expect(again.files == 0 && again.bytes == 0 && again.unchanged == 5 && again.entries == nil)
        writeFile(scratch.sub("missing/d/b"), [UInt8]("changed!"))
        let changed = try await restorer(s, .ifChanged).plan(root: root, to: target, listEntries: true)
        #expect(changed.files == 1 && changed.bytes == 7)
        #expect(changed.entries?.first { $0.path == LosslessBytes("d/b") }?.action == .replace)
        #expect(try readAll(try DirectoryHandle(path: target + Array("/d".utf8)), [UInt8]("b")) == [UInt8]("changed!"))
        await #expect(throws: HaulError.self) {
            _ = try await restorer(s, .refuseNonEmptyTarget).plan(root: root, to: target)
        }
    }

    @Test func verifyDetectsFilesAlteredAfterTheRestore() async throws {
        let tmp = try TempDir("verify")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSimpleTree(at: source, files: 6, bytesEach: 40_000, seed: 3)
        // A sparse file: data, a hole, data.
        let fd = open(source + "/sparse", O_WRONLY | O_CREAT, 0o644)
        _ = pattern(5000, seed: 9).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = pattern(5000, seed: 8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 1 << 20) }
        close(fd)
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source])
        let root = try result.snapshot.treeID()
        let target = tmp.sub("out")
        _ = try await restore(repo, result.snapshot, to: target)

        let verifier = RestoreVerifier(repository: repo)
        let clean = try await verifier.verify(root: root, at: Array(target.utf8))
        #expect(clean.isClean, "\(clean.mismatches)")
        #expect(clean.files == 7)
        // Chunk data, plus what the file system keeps as data around the sparse file's chunks; not its hole.
        let dense = result.snapshot.summary.bytes - ((1 << 20) + 5000)
        #expect(clean.bytes >= dense + 10_000 && clean.bytes <= dense + 16_384, "\(clean.bytes)")

        // Same size, one byte different, mtime put back: only the chunk ids can tell.
        let altered = target + "/src/sub/file-1.bin"
        let before = try DirectoryHandle(path: Array((target + "/src/sub").utf8)).stat([UInt8]("file-1.bin"))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: altered))
        try handle.seek(toOffset: 20_000)
        let old = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: 20_000)
        try handle.write(contentsOf: [old ^ 0x01])
        try handle.close()
        let times = [before.mtime, before.mtime].map {
            timespec(tv_sec: Int($0.seconds), tv_nsec: Int($0.nanoseconds))
        }
        _ = times.withUnsafeBufferPointer { utimensat(AT_FDCWD, altered, $0.baseAddress, 0) }
        // Data written into the hole of the sparse file.
        let sfd = open(target + "/src/sparse", O_WRONLY)
        _ = [UInt8]([7]).withUnsafeBytes { pwrite(sfd, $0.baseAddress, 1, 300_000) }
        close(sfd)
        try FileManager.default.removeItem(atPath: target + "/src/sub/deeper/file-2.bin")

        let dirty = try await verifier.verify(root: root, at: Array(target.utf8))
        let reasons = Dictionary(uniqueKeysWithValues: dirty.mismatches.map { ($0.path.description, $0.reason) })
        #expect(reasons.count == 3, "\(reasons)")
        #expect(reasons["src/sub/file-1.bin"]?.contains("content differs") == true)
        #expect(reasons["src/sparse"]?.contains("offset 300000") == true)
        #expect(reasons["src/sub/deeper/file-2.bin"] == "missing")
    }
}

@Suite struct WritebackWindowTests {
    /// Each step is handed to the disk once written, never twice, and the rest when the file is complete.
    @Test func handsOverEachStepOnceWrittenAndTheRestWhenComplete() {
        var window = WritebackWindow(step: 8)
        #expect(window.written(upTo: 3) == nil)
        #expect(window.written(upTo: 7) == nil)
        #expect(window.written(upTo: 9) == 0..<9)
        #expect(window.written(upTo: 12) == nil)
        #expect(window.written(upTo: 17) == 9..<17)
        #expect(window.complete(at: 20) == 17..<20)
        #expect(window.complete(at: 20) == nil)
    }

    @Test func aFileEndingWhereAStepWasHandedOverLeavesNothing() {
        var window = WritebackWindow(step: 8)
        #expect(window.written(upTo: 16) == 0..<16)
        #expect(window.complete(at: 16) == nil)
        var small = WritebackWindow(step: 8)
        #expect(small.complete(at: 5) == 0..<5)
    }
}
