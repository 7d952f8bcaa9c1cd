import Foundation
import Glibc
import HaulTesting
import Testing

@Suite("TreeFixture")
struct TreeFixtureTests {
    @Test("creates every kind of entry")
    func everyKind() throws {
        let scratch = try ScratchDirectory()
        let manifest = try TreeFixture.generate(at: scratch("tree"), seed: 1, options: .init())
        let expected: [TreeFixture.Manifest.Kind] = [
            .file, .sparseFile, .directory, .symlink, .hardlink, .fifo, .socket,
        ]
        for kind in expected {
            #expect(!manifest.paths(of: kind).isEmpty, "no \(kind) in the fixture")
        }
        #expect(
            manifest.entries.contains { $0.path.count > 4200 && $0.kind == .file },
            "no file beyond PATH_MAX")
        if geteuid() == 0 { #expect(!manifest.paths(of: .characterDevice).isEmpty) }

        var st = stat()
        #expect(lstat(scratch("tree/files/setuid"), &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o4755)
        #expect(st.st_mtim.tv_nsec != 0)
        #expect(lstat(scratch("tree/permissions/sticky-dir"), &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o1777)
        #expect(lstat(scratch("tree/sparse/sparse.bin"), &st) == 0)
        #expect(st.st_size == 8 << 20)
        #expect(st.st_blocks * 512 < 1 << 20, "the sparse file has no holes")
        #expect(lstat(scratch("tree/special/socket"), &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFSOCK)
        let value = try Shell.run(
            "/usr/bin/getfattr",
            ["--only-values", "-n", TreeFixture.xattrName, scratch("tree/xattrs/text-value")])
        #expect(value == "hello")
    }

    @Test("nothing is left out where CI runs (root, setfacl installed)")
    func completeInCI() throws {
        let scratch = try ScratchDirectory()
        let manifest = try TreeFixture.generate(at: scratch("tree"), seed: 2, options: .init())
        if Shell.isCI || geteuid() == 0 {
            #expect(manifest.omitted.isEmpty, "\(manifest.omitted)")
        }
        if Shell.isCI {
            #expect(geteuid() == 0, "CI must run as root so owners and devices are covered")
            #expect(!manifest.paths(of: .characterDevice).isEmpty)
        }
    }

    @Test("the same seed gives the same tree")
    func deterministic() throws {
        let scratch = try ScratchDirectory()
        let options = TreeFixture.Options(socket: false, largeFileSize: 100_000)
        try TreeFixture.generate(at: scratch("a"), seed: 7, options: options)
        try TreeFixture.generate(at: scratch("b"), seed: 7, options: options)
        let differences = try TreeComparison.differences(
            source: scratch("a"), restored: scratch("b"), options: .init())
        #expect(differences == [])
    }

    @Test("refuses a directory that is not empty")
    func refusesNonEmpty() throws {
        let scratch = try ScratchDirectory()
        try Shell.run("/usr/bin/touch", [scratch("already-here")])
        #expect(throws: (any Error).self) {
            try TreeFixture.generate(at: scratch.path, seed: 1, options: .init(socket: false))
        }
    }
}
