import Foundation
import HaulFormat

extension HaulError.Code {
    /// A `--pre-command` or `--post-command` exited with a non-zero status or was killed.
    public static let hookFailed = HaulError.Code(rawValue: "hookFailed")
}

/// A shell command run around a backup (`backup --pre-command`, `--post-command`): `/bin/sh -c COMMAND`.
///
/// The command inherits this process's environment plus the variables given to `run`. Its standard input is
/// `/dev/null`, its standard output goes to this process's standard error (so `--json` output stays clean), and its
/// standard error is captured: returned on success, quoted in the error on failure.
public struct ShellHook: Sendable {
    /// `pre-command` or `post-command`, for messages.
    public let role: String
    public let command: String

    public init(role: String, command: String) {
        self.role = role
        self.command = command
    }

    /// Runs the command to its end.
    ///
    /// - Returns: what the command wrote to its standard error.
    /// - Throws: `HaulError(.hookFailed)` naming the role, the command, its exit status (or signal) and the end of
    ///   its standard error when it does not exit with 0; `.io` when `/bin/sh` cannot be started.
    public func run(environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.standardError
        let errors = Pipe()
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw HaulError(.io, "cannot start the \(role) `\(command)` with /bin/sh: \(error)")
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationReason == .exit && process.terminationStatus == 0 else {
            let how =
                process.terminationReason == .exit
                ? "exit status \(process.terminationStatus)" : "signal \(process.terminationStatus)"
            var message = "the \(role) `\(command)` failed with \(how)"
            let tail = text.suffix(4000).trimmingCharacters(in: .whitespacesAndNewlines)
            if !tail.isEmpty { message += "; its standard error:\n\(tail)" }
            throw HaulError(.hookFailed, message)
        }
        return text
    }
}
