import CLinux
import Glibc
import HaulFormat

/// An open directory that names its entries relative to itself, so trees deeper than `PATH_MAX` can be built and
/// read: every call is an `*at` call on the descriptor, or goes through `/proc/self/fd/N/name` where Linux offers no
/// `*at` form (xattrs, `bind`). Closes the descriptor when released.
final class DirectoryHandle {
    let fd: Int32
    /// The path for messages: where this directory sits below the root it was opened from.
    let displayPath: [UInt8]

    private init(fd: Int32, displayPath: [UInt8]) {
        self.fd = fd
        self.displayPath = displayPath
    }

    deinit { close(fd) }

    /// Opens an existing directory by absolute or relative path (`open(2)` with `O_DIRECTORY | O_NOFOLLOW`).
    static func open(path: String) throws -> DirectoryHandle {
        let fd = Glibc.open(path, haul_o_directory() | haul_o_nofollow() | haul_o_cloexec() | O_RDONLY)
        guard fd >= 0 else { throw systemError("open directory", Array(path.utf8)) }
        return DirectoryHandle(fd: fd, displayPath: [])
    }

    /// Opens the child directory `name` without following a symlink (`openat(2)`).
    func openDirectory(_ name: [UInt8]) throws -> DirectoryHandle {
        let fd = Self.withCName(name) {
            openat(self.fd, $0, haul_o_directory() | haul_o_nofollow() | haul_o_cloexec())
        }
        guard fd >= 0 else { throw Self.systemError("open directory", path(name)) }
        return DirectoryHandle(fd: fd, displayPath: path(name))
    }

    /// Opens the child `name` for reading or writing (`openat(2)` with `O_NOFOLLOW`); the caller closes the result.
    func openFile(_ name: [UInt8], flags: Int32, mode: mode_t = 0o600) throws -> Int32 {
        let fd = Self.withCName(name) {
            openat(self.fd, $0, flags | haul_o_nofollow() | haul_o_cloexec(), mode)
        }
        guard fd >= 0 else { throw Self.systemError("open", path(name)) }
        return fd
    }

    /// The child's relative path below the root, for messages and manifests.
    func path(_ name: [UInt8]) -> [UInt8] {
        displayPath.isEmpty ? name : displayPath + [0x2F] + name
    }

    /// The names in this directory, without "." and "..", sorted by bytes (`readdir(3)` on a duplicate descriptor).
    func names() throws -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            throw Self.systemError("read directory", displayPath)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var result: [[UInt8]] = []
        while true {
            haul_set_errno(0)
            guard let entry = readdir(dir) else {
                if haul_errno() != 0 { throw Self.systemError("read directory", displayPath) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            result.append(name)
        }
        return result.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// `fstatat(2)` without following a final symlink.
    func status(_ name: [UInt8]) throws -> stat {
        var st = stat()
        let rc = Self.withCName(name) { fstatat(fd, $0, &st, haul_at_symlink_nofollow()) }
        guard rc == 0 else { throw Self.systemError("lstat", path(name)) }
        return st
    }

    /// `fstat(2)` of this directory itself.
    func ownStatus() throws -> stat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.systemError("stat", displayPath) }
        return st
    }

    /// `readlinkat(2)`.
    func linkTarget(_ name: [UInt8]) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = Self.withCName(name) { cname in
            buffer.withUnsafeMutableBytes {
                readlinkat(fd, cname, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
            }
        }
        guard n >= 0 else { throw Self.systemError("readlink", path(name)) }
        return Array(buffer.prefix(n))
    }

    /// A short path that reaches the child through this descriptor: `/proc/self/fd/N/name`, or `/proc/self/fd/N/.`
    /// for the directory itself when `name` is nil (the final "." keeps `l*` calls off the magic link). Used for the
    /// calls that have no `*at` form.
    func procPath(_ name: [UInt8]?) -> [UInt8] {
        Array("/proc/self/fd/\(fd)/".utf8) + (name ?? [0x2E])
    }

    /// The extended attributes of the child (or of this directory when `name` is nil), sorted by name, without
    /// following a final symlink (`haul_llistxattr(2)`, `haul_lgetxattr(2)`).
    func extendedAttributes(_ name: [UInt8]?) throws -> [(name: [UInt8], value: [UInt8])] {
        let target = procPath(name)
        let what = name.map(path) ?? displayPath
        return try Self.withCName(target) { cpath in
            var names = [CChar](repeating: 0, count: 65_536)
            let size = haul_llistxattr(cpath, &names, names.count)
            guard size >= 0 else { throw Self.systemError("list xattrs", what) }
            var result: [(name: [UInt8], value: [UInt8])] = []
            for raw in names.prefix(size).split(separator: 0) {
                let attrName = raw.map { UInt8(bitPattern: $0) }
                var value = [UInt8](repeating: 0, count: 65_536)
                let n = Self.withCName(attrName) { cname in
                    value.withUnsafeMutableBytes { haul_lgetxattr(cpath, cname, $0.baseAddress, $0.count) }
                }
                guard n >= 0 else { throw Self.systemError("get xattr", what) }
                result.append((attrName, Array(value.prefix(n))))
            }
            return result.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        }
    }

    /// Sets one extended attribute on the child without following a final symlink (`haul_lsetxattr(2)`).
    func setExtendedAttribute(_ name: [UInt8]?, attribute: String, value: [UInt8]) throws {
        let rc = Self.withCName(procPath(name)) { cpath in
            value.withUnsafeBytes { haul_lsetxattr(cpath, attribute, $0.baseAddress, $0.count, 0) }
        }
        guard rc == 0 else {
            throw Self.systemError("set xattr \(attribute)", name.map(path) ?? displayPath)
        }
    }

    /// Runs `body` with `bytes` as a NUL-terminated C string.
    static func withCName<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows
        -> R
    {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// A `HaulError` for the failed call, naming the path and `errno`.
    static func systemError(_ call: String, _ path: [UInt8]) -> HaulError {
        let e = haul_errno()
        let reason = String(cString: strerror(e))
        return HaulError(
            .io, "\(call) failed on \"\(TreeComparison.display(path))\": \(reason) (errno \(e))")
    }
}
