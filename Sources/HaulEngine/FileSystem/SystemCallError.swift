import CLinux
import Glibc
import HaulFormat

/// Turns a failed system call into a `HaulError` whose message names the call's purpose, the path and the errno text.
enum SystemCallError {
    /// - Parameters:
    ///   - action: what was attempted, as a verb phrase ("open directory", "read link").
    ///   - path: the path for people (relative or absolute bytes).
    ///   - code: the errno value; read from `errno` when omitted.
    static func make(_ action: String, _ path: [UInt8], errno code: Int32 = haul_errno()) -> HaulError {
        let text = String(cString: strerror(code))
        let message = "cannot \(action) \(printable(path)): \(text) (errno \(code))"
        switch code {
        case ENOENT, ENOTDIR: return HaulError(.notFound, message)
        case EACCES, EPERM: return HaulError(.permissionDenied, message)
        case EEXIST: return HaulError(.alreadyExists, message)
        case EINTR, EAGAIN, EBUSY: return HaulError(.io, message, transient: true)
        default: return HaulError(.io, message)
        }
    }
}

/// A path for messages: UTF-8 where valid, invalid bytes replaced; "." for the empty relative path.
func printable(_ path: [UInt8]) -> String {
    path.isEmpty ? "." : String(decoding: path, as: UTF8.self)
}

/// `dir/name` as bytes; `name` alone when `dir` is empty (the root of a relative walk).
func joinPath(_ dir: [UInt8], _ name: [UInt8]) -> [UInt8] {
    if dir.isEmpty { return name }
    if dir.last == UInt8(ascii: "/") { return dir + name }
    return dir + [UInt8(ascii: "/")] + name
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    var terminated = bytes
    terminated.append(0)
    return try terminated.withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

/// Rejects names that are not one path component, so no `*at` call can leave its directory.
func checkComponentName(_ name: [UInt8], in dir: [UInt8]) throws {
    guard Node.isValidName(name) else {
        throw HaulError(
            .invalidArgument,
            "invalid entry name \(String(reflecting: printable(name))) in \(printable(dir)): "
                + "a name must be one path component without \"/\" or NUL")
    }
}
