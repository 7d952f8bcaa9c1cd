import Foundation
import Glibc
import HaulFormat
import HaulRepository
import HaulStorage
import HaulTesting
import Testing

@testable import HaulEngine

/// What a backup reads: one file system, cache directories, pattern and path lists, standard input, hooks.
@Suite(.serialized) struct BackupSourceTests {
    func backup(_ repository: Repository, _ paths: [String], _ configure: (inout BackupOptions) -> Void) async throws
        -> BackupResult
    {
        var options = BackupOptions(hostname: "test", username: "test")
        configure(&options)
        let final = options
        return try await Archiver(repository: repository).backup(paths: paths.map { Array($0.utf8) }, options: final)
    }

    /// Relative paths of everything a snapshot holds, directories with a trailing `/`.
    func listing(_ repository: Repository, _ result: BackupResult) async throws -> Set<String> {
        var out = Set<String>()
        func walk(_ id: BlobID, _ prefix: String) async throws {
            for node in try await repository.loadTree(id).nodes {
                let path = prefix + String(decoding: node.name, as: UTF8.self)
                if node.kind == .directory {
                    out.insert(path + "/")
                    try await walk(node.subtree!, path + "/")
                } else {
                    out.insert(path)
                }
            }
        }
        try await walk(try result.snapshot.treeID(), "")
        return out
    }

    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs")) func oneFileSystemKeepsMountPointsEmpty() async throws {
        let tmp = try TempDir("onefs")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: source + "/mnt", withIntermediateDirectories: true)
        writeFile(source + "/local", [1])
        try run("/bin/mount", "-t", "tmpfs", "-o", "size=1m,mode=0750", "haul-test", source + "/mnt")
        defer { _ = try? run("/bin/umount", source + "/mnt") }
        try FileManager.default.createDirectory(atPath: source + "/mnt/inner", withIntermediateDirectories: true)
        writeFile(source + "/mnt/inner/elsewhere", [2])
        let repo = try await newRepository(MemoryBlobStore())

        let crossing = try await listing(repo, try await backup(repo, [source]) { _ in })
        #expect(crossing.contains("src/mnt/inner/elsewhere"))

        let staying = try await backup(repo, [source]) { $0.oneFileSystem = true }
        #expect(try await listing(repo, staying) == ["src/", "src/local", "src/mnt/"])
        // The mount point keeps the metadata of what is mounted there.
        let mnt = try await repo.loadTree(try staying.snapshot.treeID()).nodes[0]
        let inside = try await repo.loadTree(mnt.subtree!).nodes.first { $0.name == Array("mnt".utf8) }
        #expect(inside?.mode == 0o750)
        #expect(try await repo.loadTree(inside!.subtree!).nodes.isEmpty)

        // A path given that is itself on the other file system is backed up, staying there.
        let mounted = try await backup(repo, [source + "/mnt"]) { $0.oneFileSystem = true }
        #expect(try await listing(repo, mounted) == ["mnt/", "mnt/inner/", "mnt/inner/elsewhere"])
    }

    @Test func excludeCachesKeepsOnlyTheTagOfTaggedDirectories() async throws {
        let tmp = try TempDir("caches")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        for dir in ["cache/sub", "fake", "plain"] {
            try FileManager.default.createDirectory(atPath: source + "/" + dir, withIntermediateDirectories: true)
        }
        writeFile(source + "/cache/CACHEDIR.TAG", CacheDirectoryTag.signature + Array("\n# made by a test\n".utf8))
        writeFile(source + "/cache/sub/blob", [1])
        writeFile(source + "/cache/data", [2])
        writeFile(source + "/fake/CACHEDIR.TAG", Array("Signature: not the right one, long enough to compare".utf8))
        writeFile(source + "/fake/data", [3])
        writeFile(source + "/plain/data", [4])
        let repo = try await newRepository(MemoryBlobStore())
        let result = try await backup(repo, [source]) { $0.excludeCaches = true }
        #expect(
            try await listing(repo, result) == [
                "src/", "src/cache/", "src/cache/CACHEDIR.TAG", "src/fake/", "src/fake/CACHEDIR.TAG", "src/fake/data",
                "src/plain/", "src/plain/data",
            ])
        let all = try await backup(repo, [source]) { _ in }
        #expect(try await listing(repo, all).contains("src/cache/sub/blob"))
    }

    @Test func listFilesSkipBlankLinesAndComments() throws {
        let text = Array("# build output\n*.o\n\n  \r\nbuild/\r\n\\#literal\n /spaced name \n".utf8)
        #expect(
            ListFile.entries(text).map { String(decoding: $0, as: UTF8.self) } == [
                "*.o", "build/", "\\#literal", " /spaced name ",
            ])
        let patterns = try ListFile.patterns(text, file: "excludes.txt")
        #expect(patterns.count == 4)
        #expect(patterns[0].matches(Array("a/b/x.o".utf8), isDirectory: false))
        #expect(patterns[1].matches(Array("src/build".utf8), isDirectory: true))
        #expect(!patterns[1].matches(Array("src/build".utf8), isDirectory: false))
        #expect(patterns[2].matches(Array("d/#literal".utf8), isDirectory: false))
        #expect {
            _ = try ListFile.patterns(Array("ok\n# fine\na//b\n".utf8), file: "excludes.txt")
        } throws: { error in
            let e = error as? HaulError
            return e?.code == .invalidArgument && e?.message.contains("excludes.txt, line 3") == true
                && e?.message.contains("a//b") == true
        }
    }

    @Test func standardInputRoundTripsAsOneFile() async throws {
        let repo = try await newRepository(MemoryBlobStore())
        let content = xorshiftBytes(3 << 20 | 12345, seed: 77)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let writer = Thread {
            content.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(writeEnd, raw.baseAddress! + done, min(65536, raw.count - done))
                    if n <= 0 { break }
                    done += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        defer { close(readEnd) }
        let before = Archiver.realtimeNanos()
        let result = try await Archiver(repository: repo).backup(
            stream: readEnd, name: Array("db.sql".utf8), options: BackupOptions(hostname: "test", username: "test"))
        #expect(result.snapshot.paths == [LosslessBytes("db.sql")])
        #expect(result.snapshot.summary.bytes == UInt64(content.count))
        let nodes = try await repo.loadTree(try result.snapshot.treeID()).nodes
        #expect(nodes.count == 1)
        let node = nodes[0]
        #expect(node.name == Array("db.sql".utf8) && node.kind == .file && node.mode == 0o644)
        #expect(node.uid == getuid() && node.gid == getgid())
        #expect(node.mtime.totalNanoseconds >= before && node.size == UInt64(content.count))
        #expect(node.chunks.count > 1, "cut into chunks as it streams")
        // The stream's size fits its chunks (format.md §9).
        #expect(try await Checker(repository: repo).check(readData: false).isClean)

        let tmp = try TempDir("stdin")
        defer { tmp.cleanup() }
        _ = try await restore(repo, result.snapshot, to: tmp.path)
        #expect(FileManager.default.contents(atPath: tmp.sub("db.sql")) == Data(content))

        await #expect(throws: HaulError.self) {
            _ = try await Archiver(repository: repo).backup(
                stream: readEnd, name: Array("a/b".utf8), options: BackupOptions(hostname: "t", username: "t"))
        }
    }

    @Test func shellHooksReportStatusAndStandardError() throws {
        let hook = ShellHook(role: "pre-command", command: "echo to-stderr >&2; test \"$HAUL_X\" = yes")
        #expect(try hook.run(environment: ["HAUL_X": "yes"]) == "to-stderr\n")
        #expect {
            _ = try hook.run(environment: ["HAUL_X": "no"])
        } throws: { error in
            let e = error as? HaulError
            return e?.code == .hookFailed && e?.message.contains("pre-command") == true
                && e?.message.contains("exit status 1") == true && e?.message.contains("to-stderr") == true
        }
    }
}
