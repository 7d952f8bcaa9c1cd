import CLinux
import Glibc
import HaulFormat

/// Thin wrappers around the POSIX calls the filesystem store makes, turning `errno` into `HaulError`.
///
/// Every wrapper retries `EINTR` itself; an `EINTR` or `EAGAIN` that still escapes is reported as transient.
enum SystemCall {
    /// Maps `errno` of a failed call on `path` to a `HaulError` whose message names the call and the path.
    ///
    /// `ENOENT`→`.notFound`, `EEXIST`→`.alreadyExists`, `EACCES`/`EPERM`/`EROFS`→`.permissionDenied`,
    /// `ENOSPC`/`EDQUOT`→`.io` saying the disk is full, `EINTR`/`EAGAIN`→transient `.io`, anything else→`.io`.
    static func error(_ call: String, _ path: String, errno code: Int32) -> HaulError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT:
            return HaulError(.notFound, "\(path) does not exist (\(call): \(reason))")
        case EEXIST:
            return HaulError(.alreadyExists, "\(path) already exists (\(call): \(reason))")
        case EACCES, EPERM:
            return HaulError(
                .permissionDenied, "permission denied on \(path) (\(call): \(reason)); check owner and mode")
        case EROFS:
            return HaulError(.permissionDenied, "\(path) is on a read-only filesystem (\(call): \(reason))")
        case ENOSPC, EDQUOT:
            return HaulError(
                .io, "disk full while writing \(path) (\(call): \(reason)); free space or enlarge the volume and retry")
        case EINTR, EAGAIN:
            return HaulError(.io, "\(call) on \(path) was interrupted (\(reason)); retry", transient: true)
        case ENAMETOOLONG:
            return HaulError(.invalidArgument, "path \(path) is too long (\(call): \(reason))")
        default:
            return HaulError(.io, "\(call) failed on \(path): \(reason) (errno \(code))")
        }
    }

    /// `open(2)`; returns the descriptor.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(HaulError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw error("open", path, errno: errno) }
        }
    }

    /// `close(2)`; an error here can mean that data did not reach the disk, so it is reported.
    static func close(_ fd: Int32, _ path: String) throws(HaulError) {
        // Linux releases the descriptor even when close fails, so it is never retried.
        if Glibc.close(fd) != 0, errno != EINTR { throw error("close", path, errno: errno) }
    }

    /// `fstat(2)`.
    static func fstat(_ fd: Int32, _ path: String) throws(HaulError) -> stat {
        var info = stat()
        guard Glibc.fstat(fd, &info) == 0 else { throw error("fstat", path, errno: errno) }
        return info
    }

    /// `stat(2)`, following symbolic links; `nil` when the path (or a parent) does not exist.
    static func statIfPresent(_ path: String) throws(HaulError) -> stat? {
        var info = stat()
        if Glibc.fstatat(AT_FDCWD, path, &info, 0) == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw error("stat", path, errno: errno)
    }

    /// `write(2)` in a loop until every byte is written.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws(HaulError) {
        let result: HaulError? = bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, base + done, buffer.count - done)
                if n > 0 {
                    done += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return error("write", path, errno: n == 0 ? ENOSPC : errno)
                }
            }
            return nil
        }
        if let result { throw result }
    }

    /// `pread(2)` in a loop: up to `length` bytes from `offset`, fewer only at end of file.
    static func readAll(_ fd: Int32, offset: Int64, length: Int, _ path: String) throws(HaulError) -> [UInt8] {
        var failure: HaulError?
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            count = 0
            guard let base = buffer.baseAddress else { return }
            while count < length {
                let n = Glibc.pread(fd, base + count, length - count, off_t(offset) + off_t(count))
                if n > 0 {
                    count += n
                } else if n == 0 {
                    return
                } else if errno != EINTR {
                    failure = error("pread", path, errno: errno)
                    return
                }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// `fsync(2)` of an open descriptor.
    static func fsync(_ fd: Int32, _ path: String) throws(HaulError) {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw error("fsync", path, errno: errno) }
        }
    }

    /// Opens a directory and `fsync(2)`s it, so that a name created, renamed or removed in it is durable.
    ///
    /// Filesystems that cannot sync directories (`EINVAL`, `ENOTSUP`) are accepted as they are.
    static func fsyncDirectory(_ path: String) throws(HaulError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        while Glibc.fsync(fd) != 0 {
            switch errno {
            case EINTR: continue
            case EINVAL, ENOTSUP: return
            default: throw error("fsync", path, errno: errno)
            }
        }
    }

    /// `mkdir(2)`; `true` if this call created the directory, `false` if a directory was already there.
    static func makeDirectory(_ path: String, mode: mode_t) throws(HaulError) -> Bool {
        if Glibc.mkdir(path, mode) == 0 { return true }
        let code = errno
        if code == EEXIST, let info = try statIfPresent(path) {
            if info.isDirectory { return false }
            throw HaulError(.io, "\(path) exists but is not a directory; move it out of the way")
        }
        throw error("mkdir", path, errno: code)
    }

    /// `rename(2)`: atomically replaces `to` if it exists.
    static func rename(_ from: String, _ to: String) throws(HaulError) {
        guard Glibc.rename(from, to) == 0 else { throw error("rename", to, errno: errno) }
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE`: fails with `.alreadyExists` if `to` exists.
    ///
    /// Where the filesystem lacks `renameat2` flags (`EINVAL`, `ENOSYS`), falls back to `link(2)` + `unlink(2)`,
    /// which is equally atomic against concurrent creators.
    static func renameNoReplace(_ from: String, _ to: String) throws(HaulError) {
        let fdcwd = haul_at_fdcwd()
        if haul_renameat2(fdcwd, from, fdcwd, to, haul_rename_noreplace()) == 0 { return }
        let code = errno
        guard code == EINVAL || code == ENOSYS || code == ENOTSUP else { throw error("renameat2", to, errno: code) }
        guard Glibc.link(from, to) == 0 else { throw error("link", to, errno: errno) }
        try unlink(from)
    }

    /// `unlink(2)`.
    static func unlink(_ path: String) throws(HaulError) {
        guard Glibc.unlink(path) == 0 else { throw error("unlink", path, errno: errno) }
    }

    /// The names in a directory (without `.` and `..`), via `opendir(3)`/`readdir(3)`; `nil` if it does not exist.
    static func directoryEntries(_ path: String) throws(HaulError) -> [String]? {
        guard let dir = Glibc.opendir(path) else {
            if errno == ENOENT { return nil }
            throw error("opendir", path, errno: errno)
        }
        defer { Glibc.closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = Glibc.readdir(dir) else {
                if errno != 0 { throw error("readdir", path, errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}

extension stat {
    var isRegularFile: Bool { st_mode & S_IFMT == S_IFREG }
    var isDirectory: Bool { st_mode & S_IFMT == S_IFDIR }
}
