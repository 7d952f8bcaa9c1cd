import Foundation

/// Runs the real `haul` executable built beside the test bundle (or `$HAUL_BIN`).
struct HaulProcess {
    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var out: String { String(decoding: stdout, as: UTF8.self) }
    }

    static var executable: String {
        if let env = ProcessInfo.processInfo.environment["HAUL_BIN"] { return env }
        // The test bundle lives in the build products directory, next to the executables.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !dir.path.isEmpty && dir.path != "/" {
            let candidate = dir.appendingPathComponent("haul").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/haul"
    }

    /// The repository directory (`HAUL_REPO`); empty for none (then the state directory decides, docs/agent.md §4).
    var repo: String
    var password = "e2e passphrase"
    var environment: [String: String] = [:]

    func environmentForRun() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if repo.isEmpty {
            env.removeValue(forKey: "HAUL_REPO")
        } else {
            env["HAUL_REPO"] = repo
            env["HAUL_CACHE_DIR"] = repo + "-cache"
        }
        env["HAUL_PASSWORD"] = password
        env["HAUL_KDF_PROFILE"] = "test"
        for (k, v) in environment { env[k] = v }
        return env
    }

    /// Starts `haul args…` and returns the running process with its output pipes.
    func start(_ args: [String], runAs user: String? = nil) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        if let user {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            p.arguments = ["-u", user, "--", Self.executable] + args
        } else {
            p.executableURL = URL(fileURLWithPath: Self.executable)
            p.arguments = args
        }
        p.environment = environmentForRun()
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out, err)
    }

    @discardableResult
    func run(_ args: [String], runAs user: String? = nil) throws -> Result {
        let (p, out, err) = try start(args, runAs: user)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: o, stderr: String(decoding: e, as: UTF8.self))
    }
}
