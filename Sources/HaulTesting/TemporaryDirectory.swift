import Foundation
import Glibc

/// A fresh directory under `$TMPDIR` (or `/tmp`), made with `mkdtemp(3)`, for tests that need a real filesystem.
public struct TemporaryDirectory: Sendable {
    /// The absolute path of the directory.
    public let path: String

    /// Creates the directory.
    /// - Throws: `TemporaryDirectoryError` naming the parent folder when `mkdtemp` fails.
    public init(prefix: String = "haul-test") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TemporaryDirectoryError(message: "mkdtemp in \(base) failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    /// Removes the directory and everything in it; errors are ignored.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Runs `body` with a fresh directory and removes it afterwards, also when `body` throws.
    public static func with<T>(prefix: String = "haul-test", _ body: (String) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory(prefix: prefix)
        defer { directory.remove() }
        return try await body(directory.path)
    }
}

/// Making a temporary directory failed.
public struct TemporaryDirectoryError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
