import CLinux
import Foundation
import Glibc
import HaulFormat

/// Builds a directory tree holding every kind of entry a backup must carry: files of many sizes, a sparse file,
/// symlinks, hardlinks, special permission bits, numeric owners, nanosecond mtimes, xattrs, POSIX ACLs, awkward names,
/// a path longer than `PATH_MAX`, a FIFO, a character device and a unix socket.
///
/// The same seed gives the same names, contents, modes and times. Everything is created through `*at` calls on
/// directory descriptors, so the long path is built like any other.
public enum TreeFixture {
    /// Which optional parts to create.
    public struct Options: Sendable, Hashable {
        /// Entries only root can make: files, a directory and a symlink owned by 1234:5678, a setuid file owned by
        /// them, and the character device 1:3. Defaults to whether the process runs as root.
        public var rootOnlyEntries: Bool
        /// A unix socket, which a backup is expected to skip with a warning.
        public var socket: Bool
        /// POSIX ACLs, set with `setfacl` when it is installed (otherwise listed in `Manifest.omitted`).
        public var acls: Bool
        /// The directory chain whose full path is longer than `PATH_MAX` (4096 bytes).
        public var longPath: Bool
        /// The size of the large pseudo-random file.
        public var largeFileSize: Int

        public init(
            rootOnlyEntries: Bool = geteuid() == 0,
            socket: Bool = true,
            acls: Bool = true,
            longPath: Bool = true,
            largeFileSize: Int = 3 << 20
        ) {
            self.rootOnlyEntries = rootOnlyEntries
            self.socket = socket
            self.acls = acls
            self.longPath = longPath
            self.largeFileSize = largeFileSize
        }
    }

    /// What `generate` created.
    public struct Manifest: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            case file, sparseFile, directory, symlink, hardlink, fifo, characterDevice, socket
        }

        /// One created entry. `path` is relative to the root, in raw bytes.
        public struct Entry: Sendable, Hashable {
            public var path: [UInt8]
            public var kind: Kind
            public var displayPath: String { TreeComparison.display(path) }
        }

        /// The root the tree was generated in.
        public var root: String
        /// Every created entry, in creation order (the long chain's directories included).
        public var entries: [Entry]
        /// Requested parts that could not be made, with the reason (for example "ACLs: setfacl is not installed").
        public var omitted: [String]

        /// The relative paths of the entries of one kind.
        public func paths(of kind: Kind) -> [[UInt8]] { entries.filter { $0.kind == kind }.map(\.path) }
    }

    /// The owner given to the `owned/` entries when running as root.
    public static let numericOwner: (uid: UInt32, gid: UInt32) = (1234, 5678)

    /// The xattr set on files and directories.
    public static let xattrName = "user.haul.test"

    /// Creates the tree inside `root` (created if missing, must be empty) and returns what it holds.
    ///
    /// Modes are set explicitly after creation, so the umask does not matter. Directory and file mtimes are set last,
    /// children before parents, each with a non-zero nanosecond part.
    ///
    /// - Throws: `HaulError` `invalidArgument` when root-only entries are asked for without root or `root` is not
    ///   empty; `io` naming the path and `errno` when a system call fails (`mkdirat`, `openat`, `pwrite`,
    ///   `symlinkat`, `linkat`, `fchmodat`, `fchownat`, `lsetxattr`, `mkfifoat`, `mknodat`, `bind`, `utimensat`).
    @discardableResult
    public static func generate(at root: String, seed: UInt64, options: Options) throws -> Manifest {
        if options.rootOnlyEntries && geteuid() != 0 {
            throw HaulError(
                .invalidArgument, "TreeFixture: root-only entries need root; pass rootOnlyEntries: false")
        }
        if mkdir(root, 0o755) != 0 && haul_errno() != EEXIST {
            throw DirectoryHandle.systemError("mkdir", Array(root.utf8))
        }
        let top = try DirectoryHandle.open(path: root)
        guard try top.names().isEmpty else {
            throw HaulError(.invalidArgument, "TreeFixture: \(root) is not empty")
        }
        var builder = Builder(root: root, top: top, seed: seed)
        try builder.build(options)
        try builder.stampTimes(top, path: [])
        return builder.manifest
    }
}

extension TreeFixture {
    /// SplitMix64: small, fast and deterministic; good enough for test content.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func bytes(_ count: Int) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(count + 8)
            while out.count < count {
                withUnsafeBytes(of: next().littleEndian) { out.append(contentsOf: $0) }
            }
            return Array(out.prefix(count))
        }
    }

    struct Builder {
        let root: String
        let top: DirectoryHandle
        let seed: UInt64
        var random: Generator
        var manifest: Manifest

        init(root: String, top: DirectoryHandle, seed: UInt64) {
            self.root = root
            self.top = top
            self.seed = seed
            self.random = Generator(state: seed)
            self.manifest = Manifest(root: root, entries: [], omitted: [])
        }

        mutating func build(_ options: Options) throws {
            try buildFiles(options)
            try buildNames()
            try buildLinks()
            try buildSparse()
            try buildPermissions()
            try buildExtendedAttributes()
            if options.acls { try buildACLs() }
            if options.rootOnlyEntries { try buildOwned() }
            try buildSpecial(options)
            if options.longPath { try buildLongPath() }
        }

        // MARK: Parts

        mutating func buildFiles(_ options: Options) throws {
            let dir = try makeDirectory(top, "files")
            try makeFile(dir, "empty", [])
            try makeFile(dir, "one-byte", [0x2A])
            try makeFile(dir, "small.bin", random.bytes(5 * 1024 + 17))
            try makeFile(dir, "large.bin", random.bytes(options.largeFileSize))
            var text = ""
            for i in 0..<4000 {
                text +=
                    "line \(i): the quick brown fox jumps over the lazy dog; backups should compress this well\n"
            }
            try makeFile(dir, "text.txt", Array(text.utf8))
            try makeFile(dir, "mode-0600", Array("private\n".utf8), mode: 0o600)
            try makeFile(dir, "setuid", Array("#!/bin/sh\necho setuid\n".utf8), mode: 0o4755)
            let nested = try makeDirectory(try makeDirectory(try makeDirectory(dir, "nested"), "a"), "b")
            try makeFile(nested, "deep.txt", Array("three levels down\n".utf8))
        }

        mutating func buildNames() throws {
            let dir = try makeDirectory(top, "names")
            try makeFile(dir, Array("with space.txt".utf8), Array("space\n".utf8))
            try makeFile(dir, Array("new\nline".utf8), Array("newline\n".utf8))
            try makeFile(dir, [0x66, 0xFF, 0xFE], Array("not UTF-8\n".utf8))
            try makeFile(dir, Array("unicodé ファイル ✓.txt".utf8), Array("unicode\n".utf8))
            try makeDirectory(dir, Array("dir with space".utf8))
        }

        mutating func buildLinks() throws {
            let dir = try makeDirectory(top, "links")
            try makeSymlink(dir, "relative", target: "../files/text.txt")
            // A fixed target keeps two trees made from one seed identical wherever they are generated.
            try makeSymlink(dir, "absolute", target: "/etc/hostname")
            try makeSymlink(dir, "dangling", target: "does/not/exist")
            try makeSymlink(dir, "to-directory", target: "../files/nested")
            let other = try makeDirectory(top, "hardlinks")
            try makeFile(other, "original", random.bytes(3000))
            try makeHardlink(from: other, "original", to: other, "same-directory")
            try makeHardlink(from: other, "original", to: dir, "other-directory")
            try makeFile(other, "pair-a", Array("second group\n".utf8))
            try makeHardlink(from: other, "pair-a", to: other, "pair-b")
        }

        /// data [0, 64 KiB) ‖ hole to 4 MiB ‖ data [4 MiB, 4 MiB + 64 KiB) ‖ hole to 8 MiB.
        mutating func buildSparse() throws {
            let dir = try makeDirectory(top, "sparse")
            let name = Array("sparse.bin".utf8)
            let fd = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
            defer { close(fd) }
            guard ftruncate(fd, 8 << 20) == 0 else {
                throw DirectoryHandle.systemError("ftruncate", dir.path(name))
            }
            try writeAll(fd, random.bytes(64 << 10), at: 0, path: dir.path(name))
            try writeAll(fd, random.bytes(64 << 10), at: 4 << 20, path: dir.path(name))
            manifest.entries.append(.init(path: dir.path(name), kind: .sparseFile))
            try makeFile(dir, "all-hole", [])
            let holeFD = try dir.openFile(Array("all-hole".utf8), flags: O_WRONLY)
            defer { close(holeFD) }
            guard ftruncate(holeFD, 1 << 20) == 0 else {
                throw DirectoryHandle.systemError("ftruncate", dir.path(Array("all-hole".utf8)))
            }
        }

        mutating func buildPermissions() throws {
            let dir = try makeDirectory(top, "permissions")
            try makeDirectory(dir, "dir-0750", mode: 0o750)
            let setgid = try makeDirectory(dir, "setgid-dir", mode: 0o2755)
            try makeFile(setgid, "inside", Array("inherits the group\n".utf8))
            let sticky = try makeDirectory(dir, "sticky-dir", mode: 0o1777)
            try makeFile(sticky, "inside", Array("sticky\n".utf8), mode: 0o666)
            try makeFile(dir, "read-only", Array("0444\n".utf8), mode: 0o444)
            try makeFile(dir, "executable", Array("#!/bin/sh\n".utf8), mode: 0o755)
        }

        mutating func buildExtendedAttributes() throws {
            let dir = try makeDirectory(top, "xattrs")
            try dir.setExtendedAttribute(
                nil, attribute: TreeFixture.xattrName, value: Array("on a directory".utf8))
            try makeFile(dir, "text-value", Array("x\n".utf8))
            try dir.setExtendedAttribute(
                Array("text-value".utf8), attribute: TreeFixture.xattrName, value: Array("hello".utf8))
            try makeFile(dir, "binary-value", Array("y\n".utf8))
            try dir.setExtendedAttribute(
                Array("binary-value".utf8), attribute: TreeFixture.xattrName,
                value: [0, 1, 2, 0xFF, 0xFE, 0])
            try dir.setExtendedAttribute(
                Array("binary-value".utf8), attribute: "user.haul.second", value: random.bytes(300))
            try makeFile(dir, "empty-value", [])
            try dir.setExtendedAttribute(
                Array("empty-value".utf8), attribute: TreeFixture.xattrName, value: [])
            let sub = try makeDirectory(dir, "directory")
            try sub.setExtendedAttribute(nil, attribute: "user.haul.dir", value: Array("dir value".utf8))
        }

        mutating func buildACLs() throws {
            guard let setfacl = Self.findExecutable("setfacl") else {
                manifest.omitted.append("ACLs: setfacl is not installed (apt-get install acl)")
                return
            }
            let dir = try makeDirectory(top, "acl")
            try makeFile(dir, "file", Array("acl\n".utf8))
            try Self.run(setfacl, ["-m", "u:1234:r,g:5678:rw", root + "/acl/file"])
            try makeDirectory(dir, "default-dir", mode: 0o750)
            try Self.run(setfacl, ["-m", "u:1234:rx", root + "/acl/default-dir"])
            try Self.run(setfacl, ["-d", "-m", "u:1234:rx,g:5678:r-x", root + "/acl/default-dir"])
            // Created after the default ACL, so it inherits an access ACL; no chmod, which would change the mask.
            let inner = try top.openDirectory(Array("acl".utf8)).openDirectory(Array("default-dir".utf8))
            let fd = try inner.openFile(
                Array("inherited".utf8), flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o640)
            close(fd)
            manifest.entries.append(.init(path: inner.path(Array("inherited".utf8)), kind: .file))
        }

        mutating func buildOwned() throws {
            let (uid, gid) = TreeFixture.numericOwner
            let dir = try makeDirectory(top, "owned")
            try makeFile(dir, "file", Array("owned\n".utf8))
            try chown(dir, "file", uid, gid)
            let sub = try makeDirectory(dir, "directory", mode: 0o750)
            try makeFile(sub, "inside", Array("owned dir\n".utf8))
            try chown(dir, "directory", uid, gid)
            try makeSymlink(dir, "symlink", target: "file")
            try chown(dir, "symlink", uid, gid)
            // chown clears setuid/setgid, so the mode comes after the owner; a restore must keep that order too.
            try makeFile(dir, "setuid-setgid", Array("#!/bin/sh\n".utf8))
            try chown(dir, "setuid-setgid", uid, gid)
            try chmod(dir, "setuid-setgid", 0o6755)
            try makeFile(dir, "group-only", Array("group\n".utf8), mode: 0o640)
            try chown(dir, "group-only", 0, gid)
        }

        mutating func buildSpecial(_ options: Options) throws {
            let dir = try makeDirectory(top, "special")
            let fifo = Array("fifo".utf8)
            guard DirectoryHandle.withCName(fifo, { mkfifoat(dir.fd, $0, 0o640) }) == 0 else {
                throw DirectoryHandle.systemError("mkfifoat", dir.path(fifo))
            }
            try chmod(dir, "fifo", 0o640)
            manifest.entries.append(.init(path: dir.path(fifo), kind: .fifo))
            if options.rootOnlyEntries {
                let null = Array("null".utf8)
                let rc = DirectoryHandle.withCName(null) {
                    mknodat(dir.fd, $0, S_IFCHR | 0o666, haul_makedev(1, 3))
                }
                guard rc == 0 else { throw DirectoryHandle.systemError("mknodat", dir.path(null)) }
                try chmod(dir, "null", 0o666)
                manifest.entries.append(.init(path: dir.path(null), kind: .characterDevice))
            }
            if options.socket { try makeSocket(dir, Array("socket".utf8)) }
        }

        /// Directories with 200-byte names, nested until the relative path passes 4200 bytes, then a file and a
        /// symlink at the bottom.
        mutating func buildLongPath() throws {
            var dir = try makeDirectory(top, "long")
            var level = 0
            while dir.displayPath.count <= 4200 {
                let prefix = "level-\(level)-"
                let name = prefix + String(repeating: "d", count: 200 - prefix.utf8.count)
                dir = try makeDirectory(dir, Array(name.utf8), mode: level % 2 == 0 ? 0o755 : 0o700)
                level += 1
            }
            try makeFile(dir, "leaf.txt", Array("beyond PATH_MAX\n".utf8) + random.bytes(2000))
            try dir.setExtendedAttribute(
                Array("leaf.txt".utf8), attribute: TreeFixture.xattrName, value: Array("deep".utf8))
            try makeSymlink(dir, "leaf-link", target: "leaf.txt")
        }

        // MARK: Primitives

        @discardableResult
        mutating func makeDirectory(_ parent: DirectoryHandle, _ name: String, mode: mode_t = 0o755)
            throws
            -> DirectoryHandle
        {
            try makeDirectory(parent, Array(name.utf8), mode: mode)
        }

        @discardableResult
        mutating func makeDirectory(_ parent: DirectoryHandle, _ name: [UInt8], mode: mode_t = 0o755)
            throws
            -> DirectoryHandle
        {
            guard DirectoryHandle.withCName(name, { mkdirat(parent.fd, $0, 0o700) }) == 0 else {
                throw DirectoryHandle.systemError("mkdirat", parent.path(name))
            }
            try chmod(parent, name, mode)
            manifest.entries.append(.init(path: parent.path(name), kind: .directory))
            return try parent.openDirectory(name)
        }

        mutating func makeFile(
            _ dir: DirectoryHandle, _ name: String, _ contents: [UInt8], mode: mode_t = 0o644
        )
            throws
        {
            try makeFile(dir, Array(name.utf8), contents, mode: mode)
        }

        mutating func makeFile(
            _ dir: DirectoryHandle, _ name: [UInt8], _ contents: [UInt8], mode: mode_t = 0o644
        )
            throws
        {
            let fd = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { close(fd) }
            try writeAll(fd, contents, at: 0, path: dir.path(name))
            try chmod(dir, name, mode)
            manifest.entries.append(.init(path: dir.path(name), kind: .file))
        }

        func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: [UInt8]) throws {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes {
                    pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done))
                }
                if n < 0 {
                    if haul_errno() == EINTR { continue }
                    throw DirectoryHandle.systemError("pwrite", path)
                }
                done += n
            }
        }

        mutating func makeSymlink(_ dir: DirectoryHandle, _ name: String, target: String) throws {
            let bytes = Array(name.utf8)
            let rc = DirectoryHandle.withCName(bytes) { symlinkat(target, dir.fd, $0) }
            guard rc == 0 else { throw DirectoryHandle.systemError("symlinkat", dir.path(bytes)) }
            manifest.entries.append(.init(path: dir.path(bytes), kind: .symlink))
        }

        mutating func makeHardlink(
            from a: DirectoryHandle, _ existing: String, to b: DirectoryHandle, _ name: String
        )
            throws
        {
            let old = Array(existing.utf8)
            let new = Array(name.utf8)
            let rc = DirectoryHandle.withCName(old) { o in
                DirectoryHandle.withCName(new) { linkat(a.fd, o, b.fd, $0, 0) }
            }
            guard rc == 0 else { throw DirectoryHandle.systemError("linkat", b.path(new)) }
            manifest.entries.append(.init(path: b.path(new), kind: .hardlink))
        }

        mutating func makeSocket(_ dir: DirectoryHandle, _ name: [UInt8]) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw DirectoryHandle.systemError("socket", dir.path(name)) }
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = dir.procPath(name)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard path.count < capacity else {
                throw HaulError(
                    .invalidArgument, "TreeFixture: socket path \(TreeComparison.display(path)) is too long")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in path.enumerated() { raw[i] = b }
                raw[path.count] = 0
            }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard rc == 0 else { throw DirectoryHandle.systemError("bind", dir.path(name)) }
            manifest.entries.append(.init(path: dir.path(name), kind: .socket))
        }

        func chmod(_ dir: DirectoryHandle, _ name: String, _ mode: mode_t) throws {
            try chmod(dir, Array(name.utf8), mode)
        }

        func chmod(_ dir: DirectoryHandle, _ name: [UInt8], _ mode: mode_t) throws {
            guard DirectoryHandle.withCName(name, { fchmodat(dir.fd, $0, mode, 0) }) == 0 else {
                throw DirectoryHandle.systemError("fchmodat", dir.path(name))
            }
        }

        func chown(_ dir: DirectoryHandle, _ name: String, _ uid: UInt32, _ gid: UInt32) throws {
            let bytes = Array(name.utf8)
            let rc = DirectoryHandle.withCName(bytes) {
                fchownat(dir.fd, $0, uid, gid, haul_at_symlink_nofollow())
            }
            guard rc == 0 else { throw DirectoryHandle.systemError("fchownat", dir.path(bytes)) }
        }

        /// Sets every mtime below `dir` (children first, then `dir` itself when it is not the root handle's parent):
        /// seconds from the seed and the path, nanoseconds never zero. The atime gets the same value.
        func stampTimes(_ dir: DirectoryHandle, path: [UInt8]) throws {
            for name in try dir.names() {
                let st = try dir.status(name)
                if st.st_mode & S_IFMT == S_IFDIR {
                    try stampTimes(try dir.openDirectory(name), path: dir.path(name))
                }
                try setTime(dir, name: name, path: dir.path(name))
            }
            if path.isEmpty {
                // The root itself.
                var times = [time(for: [0x2E]), time(for: [0x2E])]
                guard futimens(dir.fd, &times) == 0 else {
                    throw DirectoryHandle.systemError("futimens", [0x2E])
                }
            }
        }

        func setTime(_ dir: DirectoryHandle, name: [UInt8], path: [UInt8]) throws {
            var times = [time(for: path), time(for: path)]
            let rc = DirectoryHandle.withCName(name) {
                utimensat(dir.fd, $0, &times, haul_at_symlink_nofollow())
            }
            guard rc == 0 else { throw DirectoryHandle.systemError("utimensat", path) }
        }

        /// A time in 2001…2020 (in the past, so no tool warns) derived from the seed and the path (FNV-1a), with
        /// nanoseconds in 1…999_999_999.
        func time(for path: [UInt8]) -> timespec {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
            for b in path { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            let seconds = 1_000_000_000 + Int(h % 600_000_000)
            let nanoseconds = 1 + Int((h >> 32) % 999_999_999)
            return timespec(tv_sec: seconds, tv_nsec: nanoseconds)
        }

        static func findExecutable(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            for dir in path.split(separator: ":") + ["/usr/bin", "/bin"] {
                let candidate = "\(dir)/\(name)"
                if access(candidate, X_OK) == 0 { return candidate }
            }
            return nil
        }

        static func run(_ executable: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw HaulError(
                    .io,
                    "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
                        + String(decoding: message, as: UTF8.self))
            }
        }
    }
}
