import Foundation
import Testing

/// Drives the real `hauld` executable: admin bootstrap, HTTPS serve, graceful stop.
@Suite struct HauldTests {
    static var executable: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !dir.path.isEmpty && dir.path != "/" {
            let candidate = dir.appendingPathComponent("hauld").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/hauld"
    }

    private func run(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func helpNamesTheCommands() throws {
        let (status, text) = try run(["--help"])
        #expect(status == 0)
        #expect(text.contains("serve"))
        #expect(text.contains("admin"))
        let (_, admin) = try run(["admin", "credential", "--help"])
        #expect(admin.contains("Example:"))
    }

    @Test func bootstrapServeAndStop() throws {
        let data = NSTemporaryDirectory() + "hauld-e2e-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (created, json) = try run(["admin", "subscription", "create", "acme", "--data", data, "--json"])
        #expect(created == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let id = try #require(object?["id"] as? String)
        let credential = data + "/admin.json"
        let (written, _) = try run(["admin", "credential", "--subscription", id, "--out", credential, "--data", data])
        #expect(written == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: credential)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let file = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: credential)))
        #expect((file as? [String: Any])?["privateKeyPEM"] != nil)
        #expect(
            (try? run(["admin", "credential", "--subscription", "nope", "--out", credential, "--data", data]))?.0 == 1)

        let port = 20_000 + Int.random(in: 0..<20_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.executable)
        server.arguments = ["serve", "--data", data, "--listen", "127.0.0.1:\(port)"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        var health = ""
        for _ in 0..<50 where !health.contains("ok") {
            Thread.sleep(forTimeInterval: 0.2)
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-sk", "--max-time", "2", "https://127.0.0.1:\(port)/healthz"]
            let body = Pipe()
            curl.standardOutput = body
            curl.standardError = FileHandle.nullDevice
            try curl.run()
            health = String(decoding: body.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            curl.waitUntilExit()
        }
        #expect(health == #"{"status":"ok"}"#)
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        let summary = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(summary.contains("TLS public key pin (SPKI SHA-256): "))
        #expect(FileManager.default.fileExists(atPath: data + "/tls/cert.pem"))
        #expect(FileManager.default.fileExists(atPath: data + "/ca/key.pem"))
    }
}
