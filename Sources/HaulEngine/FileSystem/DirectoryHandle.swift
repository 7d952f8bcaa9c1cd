import CLinux
import Glibc
import HaulFormat

/// An open directory (a file descriptor) that names its entries relative to itself.
///
/// Every operation below a handle uses `*at` system calls (`openat`, `fstatat`, `readlinkat`, …) with single-component
/// names, so trees whose paths exceed `PATH_MAX` (4096 bytes) are walked by chaining handles, and a directory renamed
/// or replaced by a symlink during a walk cannot redirect it: only the top-level path given by the user is resolved
/// through symlinks. The descriptor is closed when the handle is released.
///
/// Thread safety: the descriptor never changes after `init`, and each call works on kernel state of its own (entry
/// listing opens a fresh descriptor), so a handle may be used from several tasks at once.
public final class DirectoryHandle: @unchecked Sendable {
    /// The open descriptor (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`). Valid as long as the handle lives.
    public let fd: Int32
    /// The path this handle was reached by, for messages: the user's path, then `/name` per step.
    public let path: [UInt8]

    /// Opens a directory given by the user, following symlinks in the whole path (`open(path, O_DIRECTORY |
    /// O_RDONLY | O_CLOEXEC)`). A path longer than the kernel accepts (`ENAMETOOLONG`) is opened component by
    /// component with `openat`.
    ///
    /// - Throws: `HaulError` `.notFound` (missing, or not a directory), `.permissionDenied`, `.io`.
    public init(path: [UInt8]) throws {
        guard !path.isEmpty else { throw HaulError(.invalidArgument, "an empty path is not a directory") }
        let flags = O_RDONLY | haul_o_directory() | haul_o_cloexec()
        var fd = withCString(path) { haul_openat(haul_at_fdcwd(), $0, flags, 0) }
        if fd < 0 && haul_errno() == ENAMETOOLONG {
            fd = try Self.openLong(path, flags: flags)
        }
        guard fd >= 0 else { throw SystemCallError.make("open directory", path) }
        self.fd = fd
        self.path = path
    }

    /// Opens the subdirectory `name` of `parent` without following a symlink (`openat(parent.fd, name, O_RDONLY |
    /// O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)`).
    ///
    /// - Parameter name: one path component (no `/`, not `.` or `..`).
    /// - Throws: `HaulError` `.invalidArgument` for a bad name, `.notFound` (missing or not a directory),
    ///   `.permissionDenied`, `.io` (`ELOOP` when the entry is a symlink).
    public init(parent: DirectoryHandle, name: [UInt8]) throws {
        try checkComponentName(name, in: parent.path)
        let path = joinPath(parent.path, name)
        let flags = O_RDONLY | haul_o_directory() | haul_o_nofollow() | haul_o_cloexec()
        let fd = withCString(name) { haul_openat(parent.fd, $0, flags, 0) }
        guard fd >= 0 else { throw SystemCallError.make("open directory", path) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// The names in this directory except `.` and `..`, sorted bytewise (the order of tree blobs, format.md §9).
    ///
    /// Reads with `readdir` from `fdopendir` over a fresh descriptor (`openat(fd, ".")`) rather than a `dup`, which
    /// would share the read position with concurrent listings of the same handle.
    /// - Throws: `HaulError` `.permissionDenied`, `.io`.
    public func entryNames() throws -> [[UInt8]] {
        let listFD = haul_openat(fd, ".", O_RDONLY | haul_o_directory() | haul_o_cloexec(), 0)
        guard listFD >= 0 else { throw SystemCallError.make("list directory", path) }
        guard let stream = fdopendir(listFD) else {
            let code = haul_errno()
            close(listFD)
            throw SystemCallError.make("list directory", path, errno: code)
        }
        defer { closedir(stream) }
        var names = [[UInt8]]()
        while true {
            haul_set_errno(0)
            guard let entry = readdir(stream) else {
                let code = haul_errno()
                if code != 0 { throw SystemCallError.make("list directory", path, errno: code) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names
    }

    /// The metadata of entry `name` without following a symlink (`fstatat(fd, name, AT_SYMLINK_NOFOLLOW)`).
    /// - Throws: `HaulError` `.notFound`, `.permissionDenied`, `.io`.
    public func stat(_ name: [UInt8]) throws -> FileStat {
        try checkComponentName(name, in: path)
        var st = Glibc.stat()
        let rc = withCString(name) { fstatat(fd, $0, &st, haul_at_symlink_nofollow()) }
        guard rc == 0 else { throw SystemCallError.make("stat", joinPath(path, name)) }
        return FileStat(st)
    }

    /// The metadata of the directory itself (`fstat`).
    public func stat() throws -> FileStat {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw SystemCallError.make("stat", path) }
        return FileStat(st)
    }

    /// The path of entry `name` for messages.
    public func path(of name: [UInt8]) -> [UInt8] { joinPath(path, name) }

    /// `/proc/self/fd/<fd>/<name>`: a short path to entry `name` that path-only calls (the `l*xattr` family) resolve
    /// through this descriptor, whatever the length of the real path, without following `name` if it is a symlink.
    func procPath(of name: [UInt8]) -> [UInt8] {
        Array("/proc/self/fd/\(fd)/".utf8) + name
    }

    /// Opens a path longer than `PATH_MAX` one component at a time (following symlinks, like the kernel would).
    private static func openLong(_ path: [UInt8], flags: Int32) throws -> Int32 {
        var current =
            path.first == UInt8(ascii: "/")
            ? haul_openat(haul_at_fdcwd(), "/", flags, 0) : haul_openat(haul_at_fdcwd(), ".", flags, 0)
        guard current >= 0 else { throw SystemCallError.make("open directory", path) }
        for component in path.split(separator: UInt8(ascii: "/")) where !component.isEmpty {
            let next = withCString(Array(component)) { haul_openat(current, $0, flags, 0) }
            let code = haul_errno()
            close(current)
            guard next >= 0 else { throw SystemCallError.make("open directory", path, errno: code) }
            current = next
        }
        return current
    }
}
