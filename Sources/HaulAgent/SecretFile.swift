import Foundation
import Glibc
import HaulFormat

extension HaulError.Code {
    /// Publish settings (or a credential) past their expiry date.
    public static let settingsExpired = HaulError.Code(rawValue: "settingsExpired")
    /// A secret file that group or others may read, or that is not a regular file.
    public static let insecurePermissions = HaulError.Code(rawValue: "insecurePermissions")
    /// The state directory holds no registration (run `haul register`).
    public static let notRegistered = HaulError.Code(rawValue: "notRegistered")
}

/// Files that hold secrets: created with mode 0600 from the start (never chmod-ed afterwards), and read only when
/// neither group nor others may read them.
public enum SecretFile {
    /// Creates `path` with mode 0600 and writes `contents`, then fsyncs. With `replace`, an existing file is replaced
    /// through a temporary file and `rename(2)` (so a reader sees the old or the new file, never a part).
    /// - Throws: `alreadyExists` when `path` exists and `replace` is false; `io` otherwise.
    public static func create(_ path: String, contents: [UInt8], replace: Bool = false, mode: mode_t = 0o600) throws {
        let target = replace ? path + ".tmp-\(getpid())" : path
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            let e = errno
            if e == EEXIST {
                throw HaulError(.alreadyExists, "\(path) already exists; remove it or choose another path")
            }
            throw HaulError(.io, "cannot create \(target): \(String(cString: strerror(e)))")
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(target) }
        }
        // The umask may have narrowed the mode; never widen past what was asked, but make sure it is exact.
        guard fchmod(fd, mode) == 0 else { throw HaulError(.io, "cannot set the mode of \(target)") }
        var written = 0
        try contents.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw HaulError(.io, "cannot write \(target): \(String(cString: strerror(errno)))")
                }
                written += n
            }
        }
        guard fsync(fd) == 0 else { throw HaulError(.io, "cannot fsync \(target)") }
        if replace {
            guard rename(target, path) == 0 else {
                throw HaulError(.io, "cannot rename \(target) to \(path): \(String(cString: strerror(errno)))")
            }
        }
        ok = true
    }

    /// Reads a secret file, refusing one that group or others may read (or that is not a regular file).
    /// - Throws: `notFound`; `insecurePermissions` naming the `chmod` to run; `io`.
    public static func read(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw HaulError(.notFound, "\(path) does not exist") }
            throw HaulError(.io, "cannot open \(path): \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw HaulError(.io, "cannot stat \(path)") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw HaulError(.insecurePermissions, "\(path) is not a regular file")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw HaulError(
                .insecurePermissions,
                "\(path) holds a secret but group or others may access it (mode "
                    + String(st.st_mode & 0o777, radix: 8) + "); run `chmod 600 \(path)` if nobody else read it, "
                    + "otherwise replace it")
        }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HaulError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out += buffer[..<n]
            guard out.count <= limit else { throw HaulError(.invalidArgument, "\(path) is larger than expected") }
        }
        return out
    }
}
