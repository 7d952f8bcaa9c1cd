import Foundation
import Glibc
import HaulFormat
import HaulRepository
import HaulStorage
import Synchronization
import Testing

@testable import HaulEngine

/// Counts the trees a walk loads.
final class CountingSource: BlobSource {
    let inner: any BlobSource
    let loaded = Mutex<[BlobID]>([])
    init(_ inner: any BlobSource) { self.inner = inner }
    func loadTree(_ id: BlobID) async throws -> Tree {
        loaded.withLock { $0.append(id) }
        return try await inner.loadTree(id)
    }
    func loadData(_ id: BlobID) async throws -> [UInt8] { try await inner.loadData(id) }
}

@Suite struct SnapshotStatsTests {
    @Test func restoreSizeAndRawDataOfAKnownTree() async throws {
        let dir = try TempDir("stats")
        defer { dir.cleanup() }
        let src = dir.sub("src")
        try FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
        writeFile(src + "/a", xorshiftBytes(40_000, seed: 1))
        writeFile(src + "/sub/b", xorshiftBytes(40_000, seed: 1))  // same content as a
        // Compressible text without repeats a chunker could dedupe.
        writeFile(
            src + "/sub/c", Array(Array((0..<30000).map(String.init).joined(separator: " ").utf8).prefix(100_000)))
        #expect(link(src + "/sub/c", src + "/c-link") == 0)
        #expect(symlink("a", src + "/s") == 0)
        let repo = try await newRepository(MemoryBlobStore())
        let first = try await backup(repo, [src])
        _ = try await backup(repo, [src])
        let all = try await repo.listSnapshots()
        let stats = SnapshotStats(repository: repo)

        let one = try await stats.restoreSize(of: [StoredSnapshot(id: first.snapshotID, snapshot: first.snapshot)])
        #expect(one.files == 4)
        #expect(one.directories == 2)
        #expect(one.otherEntries == 1)
        #expect(one.extraHardlinks == 1)
        #expect(one.bytes == 180_000)
        let two = try await stats.restoreSize(of: all)
        #expect(two.bytes == 360_000)
        #expect(two.files == 8)

        let raw = try await stats.rawData(of: all, repositorySnapshots: all.count)
        #expect(raw.dataRawBytes == 140_000, "a and b share their chunks, c counts once")
        #expect(raw.treeBlobs == 3, "both snapshots have the same trees")
        #expect(raw.storedBytes < raw.rawBytes, "the text compresses")
        #expect(raw.compressionRatio == Double(raw.rawBytes) / Double(raw.storedBytes))
        #expect(raw.missingBlobs == 0)
        #expect(raw.repositoryPacks == repo.index.packCount)
        #expect(raw.repositorySnapshots == 2)
    }
}

@Suite struct SnapshotDiffTests {
    @Test func listsEachKindAndSkipsEqualSubtrees() async throws {
        let s = MemoryBlobSource()
        let same = s.directory([UInt8]("same"), [s.file([UInt8]("x"), size: 1, pieces: [(0, [1])])])
        let oldLink = s.file([UInt8]("l"), size: 2, pieces: [(0, [7, 7])])
        var chmodded = s.file([UInt8]("p"), size: 1, pieces: [(0, [3])])
        let gone = s.directory([UInt8]("gone"), [s.file([UInt8]("in"), size: 4, pieces: [(0, [4, 4, 4, 4])])])
        let old = s.addTree([
            same, oldLink, chmodded, gone, s.file([UInt8]("m"), size: 3, pieces: [(0, [5, 5, 5])]),
        ])
        chmodded.mode = 0o600
        let symlink = Node(name: [UInt8]("l"), kind: .symlink, linkTarget: [UInt8]("m"))
        let new = s.addTree([
            same, symlink, chmodded, s.file([UInt8]("m"), size: 3, pieces: [(0, [6, 6, 6])]),
            s.file([UInt8]("n"), size: 5, pieces: [(0, [9, 9, 9, 9, 9])]),
        ])
        let counting = CountingSource(s)
        let diff = SnapshotDiff(source: counting) { id in UInt64(s.data[id]?.count ?? 0) }
        let result = try await diff.compare(old: old, new: new)
        #expect(
            result.changes.map { "\($0.kind.marker) \($0.path)" } == [
                "- gone", "- gone/in", "T l", "M m", "+ n", "U p",
            ])
        #expect(!counting.loaded.withLock { $0 }.contains(same.subtree!), "an equal subtree is not loaded")
        #expect(result.summary.bytesAdded == 3 + 5)
        #expect(result.summary.bytesRemoved == 2 + 4 + 3)
        #expect(result.summary.removed == 2 && result.summary.added == 1 && result.summary.typeChanged == 1)

        let unchanged = try await SnapshotDiff(source: counting) { _ in nil }.compare(old: new, new: new)
        #expect(unchanged.changes.isEmpty)
    }
}

@Suite struct SnapshotSearchTests {
    @Test func anchoredPatternsLoadOnlyTheTreesOnTheirWay() async throws {
        let s = MemoryBlobSource()
        let other = s.directory([UInt8]("other"), [s.file([UInt8]("a.conf"), size: 0, pieces: [])])
        let etc = s.directory([UInt8]("etc"), [s.file([UInt8]("a.conf"), size: 0, pieces: [])])
        let root = s.addTree([etc, other])
        let counting = CountingSource(s)
        let search = SnapshotSearch(source: counting)
        let id = SnapshotID(Digest256(w0: 1, w1: 2, w2: 3, w3: 4))
        let floating = try await search.matches(in: root, snapshot: id, patterns: [try PathPattern("*.conf")])
        #expect(floating.map(\.path) == [[UInt8]("etc/a.conf"), [UInt8]("other/a.conf")])
        counting.loaded.withLock { $0 = [] }
        let anchored = try await search.matches(in: root, snapshot: id, patterns: [try PathPattern("/etc/*.conf")])
        #expect(anchored.map(\.path) == [[UInt8]("etc/a.conf")])
        #expect(!counting.loaded.withLock { $0 }.contains(other.subtree!))
        let dirs = try await search.matches(in: root, snapshot: id, patterns: [try PathPattern("etc/")])
        #expect(dirs.map(\.node.kind) == [.directory])
    }
}

@Suite struct SnapshotDumpTests {
    @Test func contentHasZerosForHolesAndExactSize() async throws {
        let s = MemoryBlobSource()
        let node = s.file([UInt8]("f"), size: 3_000_000, pieces: [(10, [1, 2, 3]), (2_000_000, [4, 5])])
        var out: [UInt8] = []
        try await SnapshotDump(source: s, readAhead: 2).writeContent(of: node, path: [UInt8]("f")) {
            out.append(contentsOf: $0)
        }
        var expected = [UInt8](repeating: 0, count: 3_000_000)
        expected[10..<13] = [1, 2, 3]
        expected[2_000_000..<2_000_002] = [4, 5]
        #expect(out == expected)

        let broken = s.file([UInt8]("b"), size: 2, pieces: [(0, [1, 2, 3])])
        await #expect(throws: HaulError.self) {
            try await SnapshotDump(source: s).writeContent(of: broken, path: [UInt8]("b")) { _ in }
        }
    }

    @Test func tarListsEveryMemberAsGNUTarReadsIt() async throws {
        let s = MemoryBlobSource()
        var h1 = s.file([UInt8]("h1"), size: 5, pieces: [(0, [UInt8]("hello"))], mode: 0o640)
        h1.linkCount = 2
        h1.inode = 42
        var h2 = h1
        h2.name = [UInt8]("h2")
        let long = [UInt8](String(repeating: "n", count: 150).utf8)
        let dir = s.directory(
            [UInt8]("d"),
            [
                h1, h2, s.file(long, size: 1, pieces: [(0, [0x41])]),
                Node(name: [UInt8]("sym"), kind: .symlink, mode: 0o777, linkTarget: [UInt8]("h1")),
                Node(name: [UInt8]("pipe"), kind: .fifo, mode: 0o600),
            ])
        var archive: [UInt8] = []
        try await SnapshotDump(source: s).writeTar(of: dir, name: [UInt8]("top/d")) { archive.append(contentsOf: $0) }
        #expect(archive.count % 512 == 0)
        #expect(archive.suffix(1024).allSatisfy { $0 == 0 })
        let scratch = ScratchDirectory()
        writeFile(scratch.sub("a.tar"), archive)
        let listing = try run("/usr/bin/tar", "-tvf", scratch.sub("a.tar"))
        let lines = listing.split(separator: "\n").map(String.init)
        #expect(lines.count == 6, "\(listing)")
        #expect(lines.contains { $0.hasPrefix("drwxr-xr-x") && $0.hasSuffix(" top/d/") })
        #expect(lines.contains { $0.hasPrefix("-rw-r-----") && $0.hasSuffix(" top/d/h1") })
        #expect(lines.contains { $0.hasPrefix("hrw-r-----") && $0.hasSuffix(" top/d/h2 link to top/d/h1") })
        #expect(lines.contains { $0.hasSuffix(" top/d/" + String(repeating: "n", count: 150)) })
        #expect(lines.contains { $0.hasPrefix("lrwxrwxrwx") && $0.hasSuffix(" top/d/sym -> h1") })
        #expect(lines.contains { $0.hasPrefix("prw-------") && $0.hasSuffix(" top/d/pipe") })
    }
}

@Suite struct TarWriterTests {
    @Test func headerChecksumAndPaxRecords() {
        let entry = TarWriter.Entry(
            name: [UInt8]("ä"), kind: .file, mode: 0o644, mtime: .init(seconds: 1_700_000_000, nanoseconds: 5),
            size: 10 << 30)
        let header = TarWriter.header(for: entry)
        #expect(header.count == 3 * 512, "pax header, its data block, the ustar header")
        for block in [header[0..<512], header[1024..<1536]] {
            var sum = 0
            for (i, b) in block.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            let stored = Int(
                String(decoding: block[block.startIndex + 148..<block.startIndex + 154], as: UTF8.self), radix: 8)
            #expect(stored == sum)
        }
        let data = String(decoding: header[512..<1024].prefix { $0 != 0 }, as: UTF8.self)
        #expect(data.contains("path=ä\n"))
        #expect(data.contains("mtime=1700000000.000000005\n"))
        #expect(data.contains("size=\(10 << 30)\n"))
        for record in data.split(separator: "\n") {
            let length = Int(record.prefix { $0 != " " })!
            #expect(length == record.utf8.count + 1, "record \(record)")
        }
        // The length counts its own digits: 97 bytes after it need "99", 98 bytes need "101".
        #expect(TarWriter.paxRecord("k", Array(repeating: 0x61, count: 93)).prefix(3) == Array("99 ".utf8)[...])
        #expect(TarWriter.paxRecord("k", Array(repeating: 0x61, count: 94)).count == 101)
        #expect(TarWriter.paxTime(.init(seconds: -2, nanoseconds: 500_000_000)) == "-1.500000000")
    }
}
