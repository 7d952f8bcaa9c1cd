import Foundation
import Glibc
import HaulEngine
import HaulFormat
import Testing

@Suite struct FileSystemTests {
    @Test func entryNamesAreSortedBytewiseWithoutDotEntries() throws {
        let scratch = ScratchDirectory()
        let dir = try DirectoryHandle(path: scratch.bytes)
        let names: [[UInt8]] = [[UInt8]("b"), [0x66, 0xff, 0xfe], [UInt8]("new\nline"), [UInt8]("A"), [UInt8]("a b")]
        for name in names {
            let fd = withCStringBytes(name) { openat(dir.fd, $0, O_WRONLY | O_CREAT, 0o644) }
            #expect(fd >= 0)
            close(fd)
        }
        #expect(try dir.entryNames() == names.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(try dir.entryNames() == dir.entryNames())  // a second listing starts from the beginning again
    }

    @Test func statReportsKindsAndNanoseconds() throws {
        let scratch = ScratchDirectory()
        writeFile(scratch.sub("f"), [1, 2, 3])
        #expect(mkdir(scratch.sub("d"), 0o1750) == 0)
        #expect(chmod(scratch.sub("d"), 0o1750) == 0)
        #expect(symlink("f", scratch.sub("l")) == 0)
        #expect(mkfifo(scratch.sub("p"), 0o600) == 0)
        var times = [
            timespec(tv_sec: 1_234_567_890, tv_nsec: 987_654_321),
            timespec(tv_sec: 1_234_567_890, tv_nsec: 987_654_321),
        ]
        #expect(utimensat(AT_FDCWD, scratch.sub("f"), &times, 0) == 0)
        let dir = try DirectoryHandle(path: scratch.bytes)
        let f = try dir.stat([UInt8]("f"))
        #expect(f.kind == .file && f.size == 3 && f.mode == 0o644 && f.linkCount == 1)
        #expect(f.mtime == Node.Timestamp(seconds: 1_234_567_890, nanoseconds: 987_654_321))
        #expect(try dir.stat([UInt8]("d")).kind == .directory)
        #expect(try dir.stat([UInt8]("d")).mode == 0o1750)
        #expect(try dir.stat([UInt8]("l")).kind == .symlink)
        #expect(try dir.stat([UInt8]("p")).kind == .fifo)
        let node = try MetadataReader.node(in: dir, name: [UInt8]("l"), stat: try dir.stat([UInt8]("l")))
        #expect(node.kind == .symlink && node.linkTarget == [UInt8]("f"))
    }

    @Test func missingEntryIsNotFoundNamingThePath() throws {
        let scratch = ScratchDirectory()
        let dir = try DirectoryHandle(path: scratch.bytes)
        #expect {
            _ = try dir.stat([UInt8]("nope"))
        } throws: { error in
            let e = error as? HaulError
            return e?.code == .notFound && e?.message.contains(scratch.path + "/nope") == true
                && e?.message.contains("No such file or directory") == true
        }
        #expect(throws: HaulError.self) { _ = try DirectoryHandle(path: [UInt8](scratch.sub("missing"))) }
    }

    @Test func onlyTheTopLevelPathFollowsSymlinks() throws {
        let scratch = ScratchDirectory()
        #expect(mkdir(scratch.sub("real"), 0o755) == 0)
        #expect(symlink("real", scratch.sub("alias")) == 0)
        _ = try DirectoryHandle(path: [UInt8](scratch.sub("alias")))
        let top = try DirectoryHandle(path: scratch.bytes)
        #expect(throws: HaulError.self) { _ = try DirectoryHandle(parent: top, name: [UInt8]("alias")) }
        #expect(throws: HaulError.self) { _ = try FileReader(dir: top, name: [UInt8]("alias")) }
        #expect(throws: HaulError.self) { _ = try DirectoryHandle(parent: top, name: [UInt8]("..")) }
    }

    @Test func dataRangesFindHoles() throws {
        let scratch = ScratchDirectory()
        let path = scratch.sub("sparse")
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        let block = pattern(8192, seed: 1)
        _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, 1 << 20) }
        #expect(ftruncate(fd, 3 << 20) == 0)
        close(fd)
        let dir = try DirectoryHandle(path: scratch.bytes)
        let reader = try FileReader(dir: dir, name: [UInt8]("sparse"))
        let stat = try reader.stat()
        #expect(stat.size == 3 << 20)
        #expect(stat.blocks < 64)
        #expect(try reader.dataRanges(size: stat.size) == [0..<8192, (1 << 20)..<((1 << 20) + 4096)])
        #expect(try reader.dataRanges(size: 4096) == [0..<4096])
        #expect(try reader.dataRanges(size: 0) == [])
        var buffer = [UInt8](repeating: 9, count: 100)
        let got = try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: 8192 - 50) }
        #expect(got == 100)
        #expect(Array(buffer[0..<50]) == Array(block[8142..<8192]))
        #expect(buffer[50...].allSatisfy { $0 == 0 })
        let tail = try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: (3 << 20) - 10) }
        #expect(tail == 10)
    }

    @Test func extendedAttributesAndACLsAreRead() throws {
        let scratch = ScratchDirectory()
        writeFile(scratch.sub("f"), [1])
        try run("/usr/bin/setfattr", "-n", "user.b", "-v", "0x00ff01", scratch.sub("f"))
        try run("/usr/bin/setfattr", "-n", "user.a", "-v", "hello", scratch.sub("f"))
        try run("/usr/bin/setfacl", "-m", "u:1234:r", scratch.sub("f"))
        writeFile(scratch.sub("plain"), [])
        let dir = try DirectoryHandle(path: scratch.bytes)
        let xattrs = try MetadataReader.extendedAttributes(in: dir, name: [UInt8]("f"))
        #expect(
            xattrs.map { String(decoding: $0.name, as: UTF8.self) } == ["system.posix_acl_access", "user.a", "user.b"])
        #expect(xattrs[1].value == [UInt8]("hello"))
        #expect(xattrs[2].value == [0, 255, 1])
        #expect(xattrs[0].value.count == 44)  // header + 5 entries of 8 bytes: user::, user:1234, group::, mask, other
        #expect(try MetadataReader.extendedAttributes(in: dir, name: [UInt8]("plain")).isEmpty)
    }

    @Test func pathsBeyondPathMaxWorkThroughHandleChains() throws {
        let scratch = ScratchDirectory()
        var dir = try DirectoryHandle(path: scratch.bytes)
        let name = [UInt8](repeating: UInt8(ascii: "d"), count: 250)
        for _ in 0..<20 {
            #expect(withCStringBytes(name) { mkdirat(dir.fd, $0, 0o755) } == 0)
            dir = try DirectoryHandle(parent: dir, name: name)
        }
        #expect(dir.path.count > 5000)
        let fd = openat(dir.fd, "deep", O_WRONLY | O_CREAT, 0o600)
        _ = [UInt8]("bottom").withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try run("/usr/bin/setfattr", "-n", "user.depth", "-v", "20", "/proc/\(getpid())/fd/\(dir.fd)/deep")
        let stat = try dir.stat([UInt8]("deep"))
        let node = try MetadataReader.node(in: dir, name: [UInt8]("deep"), stat: stat)
        #expect(node.size == 6 && node.mode == 0o600)
        #expect(node.xattrs == [Node.ExtendedAttribute(name: [UInt8]("user.depth"), value: [UInt8]("20"))])
        #expect(try readAll(dir, [UInt8]("deep")) == [UInt8]("bottom"))
        // The user-facing path opens too (component by component past ENAMETOOLONG).
        let reopened = try DirectoryHandle(path: dir.path)
        #expect(try reopened.entryNames() == [[UInt8]("deep")])
    }

    @Test func socketsAreNotStorable() throws {
        let scratch = ScratchDirectory()
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(scratch.sub("sock").utf8CString)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, c) in path.enumerated() { raw[i] = UInt8(bitPattern: c) }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(rc == 0)
        let dir = try DirectoryHandle(path: scratch.bytes)
        let stat = try dir.stat([UInt8]("sock"))
        #expect(stat.kind == .socket && stat.kind.nodeKind == nil)
        #expect(throws: HaulError.self) { _ = try MetadataReader.node(in: dir, name: [UInt8]("sock"), stat: stat) }
    }
}

/// `bytes` as a C string (test-side twin of the library's helper).
func withCStringBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try (bytes + [0]).withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
}
