import Foundation
import Glibc
import HaulEngine
import HaulFormat
import Testing

@Suite(.serialized) struct RestorerTests {
    static let deepName = [UInt8](repeating: UInt8(ascii: "d"), count: 250)
    static let deepLevels = 20
    static let nonUTF8: [UInt8] = [0x66, 0xff, 0xfe]

    /// A snapshot tree with every kind of entry, plus the xattr values copied from real files.
    struct Fixture {
        let source = MemoryBlobSource()
        var root = BlobID(.zero)
        var chunkBytes: UInt64 = 0
    }

    static func makeFixture() throws -> Fixture {
        var fixture = Fixture()
        let s = fixture.source
        // ACL values from real files made with setfacl; the modes come along because the ACL mask is the group bits.
        let real = ScratchDirectory()
        writeFile(real.sub("acl"), [])
        try run("/usr/bin/setfacl", "-m", "u:1234:r", real.sub("acl"))
        #expect(mkdir(real.sub("dacl"), 0o755) == 0)
        try run("/usr/bin/setfacl", "-d", "-m", "u:1234:rx", real.sub("dacl"))
        let realDir = try DirectoryHandle(path: real.bytes)
        let aclFile = try MetadataReader.node(in: realDir, name: [UInt8]("acl"), stat: try realDir.stat([UInt8]("acl")))
        let aclDir = try MetadataReader.node(
            in: realDir, name: [UInt8]("dacl"), stat: try realDir.stat([UInt8]("dacl")))
        #expect(aclFile.xattrs.map(\.name) == [[UInt8]("system.posix_acl_access")])
        #expect(aclDir.xattrs.map(\.name) == [[UInt8]("system.posix_acl_default")])

        func bytes(_ count: Int, _ seed: UInt8) -> [UInt8] {
            fixture.chunkBytes += UInt64(count)
            return pattern(count, seed: seed)
        }
        let owned = Node.Timestamp(seconds: 1_650_000_000, nanoseconds: 999_999_999)

        var big = s.file(
            [UInt8]("big"), size: 6007,
            pieces: [(0, bytes(1000, 1)), (1000, bytes(5000, 2)), (6000, bytes(7, 3))], mode: 0o640)
        big.uid = 1234
        big.gid = 5678
        let sparse = s.file([UInt8]("sparse"), size: 3 << 20, pieces: [(0, bytes(8192, 4)), (1 << 20, bytes(4096, 5))])
        let empty = s.file([UInt8]("empty"), size: 0, pieces: [], mode: 0o600)
        var setuid = s.file([UInt8]("setuid"), size: 10, pieces: [(0, bytes(10, 6))], mode: 0o6755)
        setuid.uid = 1234
        setuid.gid = 5678
        let sticky = s.directory(
            [UInt8]("sticky"), [s.file([UInt8]("inner"), size: 3, pieces: [(0, bytes(3, 7))])],
            mode: 0o1777)
        var link = Node(
            name: [UInt8]("link"), kind: .symlink, mode: 0o777, uid: 1234, gid: 5678, mtime: owned,
            linkTarget: [UInt8]("big"))
        link.xattrs = [.init(name: [UInt8]("trusted.note"), value: [1, 2])]
        let dangling = Node(
            name: [UInt8]("dangling"), kind: .symlink, mode: 0o777, mtime: owned,
            linkTarget: [0x2e, 0x2e, 0x2f, 0xff])

        func hardlink(_ name: String) -> Node {
            var n = s.file(
                [UInt8](name), size: 5, pieces: [(0, [UInt8]("linked"))].map { ($0.0, Array($0.1.prefix(5))) },
                mode: 0o604)
            n.device = 77
            n.inode = 999
            n.linkCount = 3
            return n
        }
        fixture.chunkBytes += 5  // the first name of the hard-link group is written once
        let dirA = s.directory([UInt8]("dirA"), [hardlink("h1")], mode: 0o750)
        let dirB = s.directory([UInt8]("dirB"), [hardlink("h2")], mode: 0o700)
        var deep = s.directory(
            [UInt8]("deep"), [hardlink("h3"), s.file([UInt8]("bottom"), size: 6, pieces: [(0, bytes(6, 8))])])
        deep.name = deepName
        for level in 1..<deepLevels { deep = s.directory(level == deepLevels - 1 ? [UInt8]("deep") : deepName, [deep]) }

        let fifo = Node(name: [UInt8]("fifo"), kind: .fifo, mode: 0o640, mtime: owned)
        let device = Node(name: [UInt8]("null"), kind: .characterDevice, mode: 0o666, mtime: owned, rdev: 0x103)
        var attrs = s.file([UInt8]("attrs"), size: 1, pieces: [(0, bytes(1, 9))], mode: aclFile.mode)
        attrs.xattrs = [
            .init(name: [UInt8]("user.one"), value: [UInt8]("v1")),
            .init(name: [UInt8]("user.bin"), value: [0, 255, 1]),
            aclFile.xattrs[0],
        ].sorted { $0.name.lexicographicallyPrecedes($1.name) }
        var acldir = s.directory([UInt8]("acldir"), [s.file([UInt8]("plain"), size: 0, pieces: [])], mode: aclDir.mode)
        acldir.xattrs = aclDir.xattrs
        let odd = s.file(nonUTF8, size: 2, pieces: [(0, bytes(2, 10))])
        let newline = s.file([UInt8]("new\nline"), size: 2, pieces: [(0, bytes(2, 11))])

        fixture.root = s.addTree([
            big, sparse, empty, setuid, sticky, link, dangling, dirA, dirB, deep, fifo, device, attrs, acldir, odd,
            newline,
        ])
        return fixture
    }

    /// Compares the restored entries of `tree` in `dir` with the nodes, field by field, recursively.
    static func verify(_ tree: Tree, in dir: DirectoryHandle, source: MemoryBlobSource) async throws {
        #expect(try dir.entryNames() == tree.nodes.map(\.name))
        for node in tree.nodes {
            let path = String(decoding: dir.path(of: node.name).suffix(80), as: UTF8.self)
            let stat = try dir.stat(node.name)
            let restored = try MetadataReader.node(in: dir, name: node.name, stat: stat)
            #expect(restored.kind == node.kind, "\(path)")
            if node.kind != .symlink { #expect(restored.mode == node.mode, "mode of \(path)") }
            #expect(restored.uid == node.uid && restored.gid == node.gid, "owner of \(path)")
            #expect(restored.mtime == node.mtime, "mtime of \(path)")
            #expect(restored.xattrs == node.xattrs, "xattrs of \(path)")
            switch node.kind {
            case .file:
                #expect(restored.size == node.size, "size of \(path)")
                var expected = [UInt8](repeating: 0, count: Int(node.size))
                for chunk in node.chunks {
                    let data = try await source.loadData(chunk.blob)
                    expected.replaceSubrange(Int(chunk.offset)..<Int(chunk.offset) + data.count, with: data)
                }
                #expect(try readAll(dir, node.name) == expected, "content of \(path)")
            case .directory:
                let child = try DirectoryHandle(parent: dir, name: node.name)
                try await verify(try await source.loadTree(node.subtree!), in: child, source: source)
            case .symlink:
                #expect(restored.linkTarget == node.linkTarget, "target of \(path)")
            case .characterDevice, .blockDevice:
                #expect(restored.rdev == node.rdev, "rdev of \(path)")
            case .fifo:
                break
            }
        }
    }

    @Test func restoresEveryKindOfEntryExactly() async throws {
        try #require(getuid() == 0, "this test restores owners and device nodes and runs as root")
        let fixture = try Self.makeFixture()
        let scratch = ScratchDirectory()
        let target = [UInt8](scratch.sub("out/nested"))
        let progress = ProgressCounters()
        let warnings = WarningLog()
        let restorer = Restorer(
            source: fixture.source, options: RestoreOptions(), progress: progress, warnings: warnings)
        let summary = try await restorer.restore(root: fixture.root, to: target)

        #expect(warnings.all.isEmpty, "\(warnings.all)")
        #expect(summary.files == 11)
        #expect(summary.hardlinks == 2)
        #expect(summary.symlinks == 2)
        #expect(summary.specialFiles == 2)
        #expect(summary.directories == 4 + Self.deepLevels)
        #expect(summary.bytesWritten == fixture.chunkBytes)
        #expect(summary.warnings == 0)
        let values = progress.values
        #expect(values.totalFiles == 13 && values.files == 13)
        #expect(values.totalBytes == values.bytes)

        let dir = try DirectoryHandle(path: target)
        try await Self.verify(try await fixture.source.loadTree(fixture.root), in: dir, source: fixture.source)

        // Holes stay holes: data only where chunks were written.
        let sparse = try FileReader(dir: dir, name: [UInt8]("sparse"))
        #expect(try sparse.dataRanges(size: 3 << 20) == [0..<8192, (1 << 20)..<((1 << 20) + 4096)])
        #expect(try sparse.stat().blocks < 64)

        // Hard links: one inode, three names, the first of them beyond PATH_MAX.
        var deepDir = try DirectoryHandle(parent: dir, name: [UInt8]("deep"))
        for _ in 1..<Self.deepLevels { deepDir = try DirectoryHandle(parent: deepDir, name: Self.deepName) }
        #expect(deepDir.path.count > 4096)
        let h3 = try deepDir.stat([UInt8]("h3"))
        let h1 = try DirectoryHandle(parent: dir, name: [UInt8]("dirA")).stat([UInt8]("h1"))
        let h2 = try DirectoryHandle(parent: dir, name: [UInt8]("dirB")).stat([UInt8]("h2"))
        #expect(h1.inode == h3.inode && h2.inode == h3.inode && h3.linkCount == 3)

        // The default ACL was set after the directory's content, so nothing inherited it.
        let acldir = try DirectoryHandle(parent: dir, name: [UInt8]("acldir"))
        #expect(try MetadataReader.extendedAttributes(in: acldir, name: [UInt8]("plain")).isEmpty)
        #expect(try dir.stat([UInt8]("setuid")).mode == 0o6755)
        #expect(try dir.stat([UInt8]("null")).kind == .characterDevice)
    }

    @Test func refusesNonEmptyTarget() async throws {
        let fixture = try Self.makeFixture()
        let scratch = ScratchDirectory()
        writeFile(scratch.sub("existing"), [1])
        let restorer = Restorer(
            source: fixture.source, options: RestoreOptions(), progress: ProgressCounters(),
            warnings: WarningLog())
        await #expect {
            _ = try await restorer.restore(root: fixture.root, to: scratch.bytes)
        } throws: { error in
            let e = error as? HaulError
            return e?.code == .invalidArgument && e?.message.contains("--overwrite always") == true
                && e?.message.contains("--overwrite never") == true && e?.message.contains(scratch.path) == true
        }
        #expect(try DirectoryHandle(path: scratch.bytes).entryNames() == [[UInt8]("existing")])
    }

    /// Large files go through the direct writer: chunks at unaligned offsets and sizes, a hole, a last chunk that
    /// ends off a page, and (a snapshot Haul does not write, but a valid one) chunks out of order, which switch the
    /// rest of the file to plain writes. Both ways give the same bytes and the same holes. Through the page cache the
    /// ordered file (18 MiB) has its writeback started once on the way (past 8 MiB written, across its holes) and
    /// once at its end, which must not fill the holes.
    @Test(arguments: [true, false])
    func largeFilesRestoreExactlyWithAndWithoutDirectWrites(direct: Bool) async throws {
        let source = MemoryBlobSource()
        let mib: UInt64 = 1 << 20
        let inOrder: [(offset: UInt64, bytes: [UInt8])] = [
            (0, pattern(1000, seed: 1)), (1000, pattern(700_001, seed: 2)), (701_001, pattern(1, seed: 3)),
            (701_002, pattern(Int(2 * mib) + 13, seed: 4)), (5 * mib + 77, pattern(3 * 4096 + 5, seed: 5)),
            (9 * mib + 5, pattern(Int(4 * mib), seed: 9)), (13 * mib + 5, pattern(Int(4 * mib) + 3, seed: 10)),
        ]
        let shuffled: [(offset: UInt64, bytes: [UInt8])] = [
            (2 * mib, pattern(Int(mib), seed: 6)), (0, pattern(Int(mib) + 9, seed: 7)),
            (mib + 9, pattern(Int(mib) - 9, seed: 8)),
        ]
        let root = source.addTree([
            source.file([UInt8]("ordered"), size: 18 * mib, pieces: inOrder),
            source.file([UInt8]("shuffled"), size: 3 * mib, pieces: shuffled),
        ])
        let scratch = ScratchDirectory()
        let restorer = Restorer(
            source: source, options: RestoreOptions(directWrites: direct), progress: ProgressCounters(),
            warnings: WarningLog())
        _ = try await restorer.restore(root: root, to: scratch.bytes)
        for (name, size, pieces) in [("ordered", 18 * mib, inOrder), ("shuffled", 3 * mib, shuffled)] {
            var expected = [UInt8](repeating: 0, count: Int(size))
            for p in pieces { expected.replaceSubrange(Int(p.offset)..<(Int(p.offset) + p.bytes.count), with: p.bytes) }
            let restored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.sub(name))))
            #expect(restored == expected, "\(name)")
        }
        let dir = try DirectoryHandle(path: scratch.bytes)
        let ranges = try FileReader(dir: dir, name: [UInt8]("ordered")).dataRanges(size: 18 * mib)
        #expect(
            ranges.count == 3 && ranges[0].upperBound < 3 * mib && ranges[1].lowerBound >= 4 * mib
                && ranges[1].upperBound < 8 * mib && ranges[2].lowerBound >= 8 * mib
                && ranges[2].upperBound <= 17 * mib + 12 * 1024,
            "\(ranges)")
    }

    @Test func missingBlobIsNamed() async throws {
        let source = MemoryBlobSource()
        let lost = source.newID()
        let root = source.addTree([
            Node(name: [UInt8]("f"), kind: .file, size: 4, chunks: [.init(offset: 0, blob: lost)])
        ])
        let scratch = ScratchDirectory()
        let restorer = Restorer(
            source: source, options: RestoreOptions(), progress: ProgressCounters(),
            warnings: WarningLog())
        await #expect {
            _ = try await restorer.restore(root: root, to: scratch.bytes)
        } throws: { error in
            let e = error as? HaulError
            return e?.code == .notFound && e?.message.contains(lost.hex) == true
                && e?.message.contains("cannot restore file f") == true
        }
    }

    @Test func includesRestoreOnlyMatchesAndTheirParents() async throws {
        let fixture = try Self.makeFixture()
        let scratch = ScratchDirectory()
        let options = RestoreOptions(includes: [try PathPattern("/dirB"), try PathPattern("inner")])
        let restorer = Restorer(
            source: fixture.source, options: options, progress: ProgressCounters(),
            warnings: WarningLog())
        let summary = try await restorer.restore(root: fixture.root, to: scratch.bytes)
        let dir = try DirectoryHandle(path: scratch.bytes)
        #expect(try dir.entryNames() == [[UInt8]("dirB"), [UInt8]("sticky")])  // no empty "deep" chain left behind
        #expect(try DirectoryHandle(parent: dir, name: [UInt8]("sticky")).entryNames() == [[UInt8]("inner")])
        #expect(try dir.stat([UInt8]("sticky")).mode == 0o1777)
        #expect(summary.files == 2 && summary.hardlinks == 0 && summary.directories == 2)
    }

    @Test func overwritePolicies() async throws {
        let source = MemoryBlobSource()
        let root = source.addTree([
            source.file([UInt8]("a"), size: 3, pieces: [(0, [UInt8]("new"))]),
            source.directory([UInt8]("d"), [source.file([UInt8]("b"), size: 1, pieces: [(0, [UInt8]("B"))])]),
        ])
        let scratch = ScratchDirectory()
        writeFile(scratch.sub("a"), [UInt8]("old contents"))
        #expect(mkdir(scratch.sub("d"), 0o755) == 0)
        func restore(_ policy: OverwritePolicy) async throws -> RestoreSummary {
            try await Restorer(
                source: source, options: RestoreOptions(overwrite: policy), progress: ProgressCounters(),
                warnings: WarningLog()
            ).restore(root: root, to: scratch.bytes)
        }
        let dir = try DirectoryHandle(path: scratch.bytes)
        let kept = try await restore(.never)
        #expect(kept.skipped == 1 && kept.files == 1)
        #expect(try readAll(dir, [UInt8]("a")) == [UInt8]("old contents"))
        #expect(try readAll(try DirectoryHandle(parent: dir, name: [UInt8]("d")), [UInt8]("b")) == [UInt8]("B"))
        let replaced = try await restore(.always)
        #expect(replaced.skipped == 0 && replaced.files == 2)
        #expect(try readAll(dir, [UInt8]("a")) == [UInt8]("new"))
    }
}
