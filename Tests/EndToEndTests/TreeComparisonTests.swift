import Foundation
import Glibc
import HaulTesting
import Testing

@Suite("TreeComparison")
struct TreeComparisonTests {
    /// A fixture and a copy of it without the socket (which a backup skips). The copy is made by
    /// `cp -a --sparse=always`, which cannot create paths beyond `PATH_MAX`, so that tree has no long chain; a
    /// `twin` copy is a second tree generated from the same seed, long chain included.
    final class CopiedTree {
        let scratch: ScratchDirectory
        let manifest: TreeFixture.Manifest
        var source: String { scratch("source") }
        var copy: String { scratch("copy") }

        init(seed: UInt64, twin: Bool = false) throws {
            scratch = try ScratchDirectory()
            let options = TreeFixture.Options(longPath: twin, largeFileSize: 2 << 20)
            manifest = try TreeFixture.generate(at: scratch("source"), seed: seed, options: options)
            if twin {
                var copyOptions = options
                copyOptions.socket = false
                try TreeFixture.generate(at: scratch("copy"), seed: seed, options: copyOptions)
                return
            }
            try Shell.run("/bin/cp", ["-a", "--sparse=always", scratch("source"), scratch("copy")])
            for socket in manifest.paths(of: .socket) {
                let path = scratch("copy") + "/" + String(decoding: socket, as: UTF8.self)
                try Mutation.keepingTimes(String(path[..<path.lastIndex(of: "/")!])) {
                    try #require(unlink(path) == 0)
                }
            }
        }

        func differences(_ options: TreeComparison.CompareOptions = .init()) throws -> [String] {
            try TreeComparison.differences(source: source, restored: copy, options: options)
        }
    }

    @Test("a cp -a copy is equal")
    func copyIsEqual() throws {
        let tree = try CopiedTree(seed: 11)
        let differences = try tree.differences()
        #expect(differences == [], "\(differences)")
    }

    @Test("a twin tree is equal, beyond PATH_MAX too")
    func twinIsEqual() throws {
        let tree = try CopiedTree(seed: 12, twin: true)
        let differences = try tree.differences()
        #expect(differences == [], "\(differences)")
    }

    @Test("a tree compared with itself differs only by its socket")
    func selfIsEqual() throws {
        let scratch = try ScratchDirectory()
        try TreeFixture.generate(at: scratch("tree"), seed: 3, options: .init(largeFileSize: 1000))
        let differences = try TreeComparison.differences(
            source: scratch("tree"), restored: scratch("tree"), options: .init())
        #expect(differences == ["special/socket: only in restored tree (socket)"])
    }

    @Test("a socket in the restored tree is reported")
    func socketInRestored() throws {
        let scratch = try ScratchDirectory()
        try TreeFixture.generate(
            at: scratch("a"), seed: 4, options: .init(longPath: false, largeFileSize: 1000))
        try Shell.run("/bin/cp", ["-a", scratch("a"), scratch("b")])
        let differences = try TreeComparison.differences(
            source: scratch("a"), restored: scratch("b"), options: .init())
        #expect(differences == ["special/socket: only in restored tree (socket)"])
    }

    /// One change to the copy and the line the comparison must print for it.
    enum Mutation: String, CaseIterable, CustomStringConvertible, Sendable {
        case contentByte, mode, xattr, mtimeNanosecond, directoryMtime, symlinkTarget, hole,
            missingFile, extraFile
        case hardlinkBroken, acl, owner, longPathByte

        var description: String { rawValue }

        /// The start of the expected difference line.
        var expected: String {
            switch self {
            case .contentByte: "files/large.bin: contents differ at byte 1000000"
            case .mode: "files/mode-0600: mode 0600 != 0640"
            case .xattr: "xattrs/text-value: xattr user.haul.test differs"
            case .mtimeNanosecond: "files/small.bin: mtime "
            case .directoryMtime: "files/nested: mtime "
            case .symlinkTarget: "links/dangling: symlink target \"does/not/exist\" != \"does/not/exis\""
            case .hole: "sparse/sparse.bin: sparse layout differs"
            case .missingFile: "names/with space.txt: missing in restored tree (file)"
            case .extraFile: "files/extra: only in restored tree (file)"
            case .hardlinkBroken: "hardlinks/original: hardlink group not preserved"
            case .acl: "acl/file: xattr system.posix_acl_access differs"
            case .owner: "files/empty: owner 0:0 != 1:2"
            case .longPathByte: "long/level-0-"
            }
        }

        /// Whether the mutation touches nothing else, so the expected line must be the only one.
        var isSolitary: Bool {
            switch self {
            case .symlinkTarget, .missingFile, .extraFile, .hardlinkBroken, .acl: false
            default: true
            }
        }

        func apply(to root: String) throws {
            func path(_ p: String) -> String { root + "/" + p }
            switch self {
            case .contentByte:
                try Self.keepingTimes(path("files/large.bin")) {
                    try Self.flipByte(path: path("files/large.bin"), at: 1_000_000)
                }
            case .mode:
                try #require(chmod(path("files/mode-0600"), 0o640) == 0)
            case .xattr:
                try Shell.run(
                    "/usr/bin/setfattr",
                    ["-n", TreeFixture.xattrName, "-v", "hellp", path("xattrs/text-value")])
            case .mtimeNanosecond:
                var st = stat()
                try #require(lstat(path("files/small.bin"), &st) == 0)
                var t = st.st_mtim
                t.tv_nsec += t.tv_nsec == 999_999_999 ? -1 : 1
                var times = [t, t]
                try #require(utimensat(AT_FDCWD, path("files/small.bin"), &times, AT_SYMLINK_NOFOLLOW) == 0)
            case .directoryMtime:
                var times = [
                    timespec(tv_sec: 1_500_000_000, tv_nsec: 5), timespec(tv_sec: 1_500_000_000, tv_nsec: 5),
                ]
                try #require(utimensat(AT_FDCWD, path("files/nested"), &times, 0) == 0)
            case .symlinkTarget:
                try Self.keepingTimes(path("links")) {
                    try #require(unlink(path("links/dangling")) == 0)
                    try #require(symlink("does/not/exis", path("links/dangling")) == 0)
                }
            case .hole:
                try Self.keepingTimes(path("sparse/sparse.bin")) {
                    let fd = open(path("sparse/sparse.bin"), O_WRONLY)
                    try #require(fd >= 0)
                    defer { close(fd) }
                    let zeros = [UInt8](repeating: 0, count: 4096)
                    try #require(pwrite(fd, zeros, zeros.count, 2 << 20) == 4096)
                }
            case .missingFile:
                try #require(unlink(path("names/with space.txt")) == 0)
            case .extraFile:
                try Shell.run("/usr/bin/touch", [path("files/extra")])
            case .hardlinkBroken:
                try Shell.run("/bin/cp", ["-p", path("hardlinks/original"), path("hardlinks/copy")])
                try #require(rename(path("hardlinks/copy"), path("hardlinks/same-directory")) == 0)
            case .acl:
                try Shell.run("/usr/bin/setfacl", ["-m", "u:1234:rw", path("acl/file")])
            case .owner:
                try #require(lchown(path("files/empty"), 1, 2) == 0)
            case .longPathByte:
                try Self.flipDeepLeaf(root: root)
            }
        }

        /// Runs `body` and puts back the atime and mtime `path` had before.
        static func keepingTimes(_ path: String, _ body: () throws -> Void) throws {
            var st = stat()
            try #require(lstat(path, &st) == 0)
            try body()
            var times = [st.st_atim, st.st_mtim]
            try #require(utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0)
        }

        static func flipByte(fd: Int32, at offset: Int) throws {
            var byte: UInt8 = 0
            try #require(pread(fd, &byte, 1, off_t(offset)) == 1)
            byte ^= 0x01
            try #require(pwrite(fd, &byte, 1, off_t(offset)) == 1)
        }

        static func flipByte(path: String, at offset: Int) throws {
            let fd = open(path, O_RDWR)
            try #require(fd >= 0)
            defer { close(fd) }
            try flipByte(fd: fd, at: offset)
        }

        /// Follows the fixture's chain of 200-byte directory names with `openat` (the full path is too long for
        /// `open`) and flips a byte of the leaf file, keeping its times.
        static func flipDeepLeaf(root: String) throws {
            var dir = open(root + "/long", O_RDONLY | O_DIRECTORY)
            try #require(dir >= 0)
            var length = 4
            var level = 0
            while length <= 4200 {
                let prefix = "level-\(level)-"
                let name = prefix + String(repeating: "d", count: 200 - prefix.utf8.count)
                let next = openat(dir, name, O_RDONLY | O_DIRECTORY)
                close(dir)
                try #require(next >= 0)
                dir = next
                length += 201
                level += 1
            }
            defer { close(dir) }
            var st = stat()
            try #require(fstatat(dir, "leaf.txt", &st, 0) == 0)
            let fd = openat(dir, "leaf.txt", O_RDWR)
            try #require(fd >= 0)
            try flipByte(fd: fd, at: 3)
            close(fd)
            var times = [st.st_atim, st.st_mtim]
            try #require(utimensat(dir, "leaf.txt", &times, 0) == 0)
        }
    }

    @Test("each single change is reported", arguments: Mutation.allCases)
    func reportsChange(_ mutation: Mutation) throws {
        if mutation == .owner && geteuid() != 0 {
            #expect(!Shell.isCI, "CI must run as root")
            return
        }
        let tree = try CopiedTree(seed: 20, twin: mutation == .longPathByte)
        try mutation.apply(to: tree.copy)
        let differences = try tree.differences()
        #expect(differences.contains { $0.hasPrefix(mutation.expected) }, "\(differences)")
        if mutation.isSolitary { #expect(differences.count == 1, "\(differences)") }
    }

    @Test("options turn comparisons off")
    func optionsDisable() throws {
        let tree = try CopiedTree(seed: 21)
        try Mutation.hole.apply(to: tree.copy)
        try Mutation.mtimeNanosecond.apply(to: tree.copy)
        try Mutation.xattr.apply(to: tree.copy)
        let strict = try tree.differences()
        #expect(strict.count == 3, "\(strict)")
        let lenient = try tree.differences(.init(holes: false, extendedAttributes: false))
        #expect(lenient.count == 1, "\(lenient)")
    }

    @Test("names are shown without control characters or invalid UTF-8")
    func display() {
        #expect(TreeComparison.display(Array("new\nline".utf8)) == "new\\nline")
        #expect(TreeComparison.display([0x66, 0xFF, 0xFE]) == "f\\xff\\xfe")
        #expect(TreeComparison.display(Array("unicodé".utf8)) == "unicodé")
    }
}
