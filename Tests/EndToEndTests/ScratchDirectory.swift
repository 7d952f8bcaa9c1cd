import Foundation
import Glibc
import HaulTesting
import Testing

/// A fresh directory under the system temporary directory, removed with `rm -rf` (which, unlike `FileManager`, copes
/// with paths longer than `PATH_MAX`). Set `HAUL_KEEP_SCRATCH=1` to keep it for a look after a failure.
final class ScratchDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/haul-e2e-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw ScratchError("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit {
        if ProcessInfo.processInfo.environment["HAUL_KEEP_SCRATCH"] == "1" {
            print("kept scratch directory \(path)")
        } else {
            _ = try? Shell.run("/bin/rm", ["-rf", path])
        }
    }

    /// `path/component`.
    func callAsFunction(_ component: String) -> String { path + "/" + component }
}

struct ScratchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Shell {
    /// Runs a program and returns its standard output; throws when it exits non-zero.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ScratchError(
                "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
                    + String(String(decoding: err, as: UTF8.self).prefix(400)))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when the suite runs in CI, where nothing may be skipped.
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}
