import Foundation
import Glibc
import HaulAgent
import HaulFormat
import HaulProtocol

/// What a finished process left: its exit status and both outputs.
struct ProcessOutcome {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum ServiceTestTools {
    /// Runs `executable arguments…`, killing it after `timeout` seconds (a `hauld serve` that should have refused
    /// to start must not hang the suite). Standard input is `input`, or empty.
    static func run(
        _ executable: String, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 60
    ) throws -> ProcessOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { if process.isRunning { kill(pid, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return ProcessOutcome(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `hauld args…`.
    static func hauld(_ arguments: [String], timeout: TimeInterval = 60) throws -> ProcessOutcome {
        try run(HauldProcess.executable, arguments, timeout: timeout)
    }

    /// `sh -c script`, for openssl pipelines.
    @discardableResult
    static func shell(_ script: String) throws -> String {
        try Shell.run("/bin/sh", ["-c", script])
    }

    /// Single-quotes `text` for `sh`.
    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// A P-256 key (PKCS #8, mode 0600) and a self-signed certificate for 127.0.0.1 and localhost, made by openssl,
    /// not by Haul's own code.
    static func opensslCertificate(key: String, certificate: String, curve: String = "prime256v1") throws {
        let algorithm = curve == "rsa" ? "rsa:2048" : "ec -pkeyopt ec_paramgen_curve:\(curve)"
        try shell(
            "openssl req -x509 -newkey \(algorithm) -nodes -keyout \(quote(key)) -out \(quote(certificate)) "
                + "-days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null")
        guard chmod(key, 0o600) == 0 else { throw ScratchError("chmod \(key) failed") }
    }

    /// The SPKI SHA-256 pin (standard base64) of a PEM certificate, computed by openssl.
    static func opensslPin(certificate: String) throws -> String {
        try shell(
            "openssl x509 -in \(quote(certificate)) -pubkey -noout | openssl pkey -pubin -outform der "
                + "| openssl dgst -sha256 -binary | base64"
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The SHA-256 fingerprint of the certificate a TLS server on `port` presents (openssl s_client).
    static func presentedFingerprint(port: Int) throws -> String {
        try shell(
            "openssl s_client -connect 127.0.0.1:\(port) -servername localhost </dev/null 2>/dev/null "
                + "| openssl x509 -noout -fingerprint -sha256"
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The SHA-256 fingerprint of a PEM certificate file.
    static func fingerprint(certificate: String) throws -> String {
        try shell("openssl x509 -in \(quote(certificate)) -noout -fingerprint -sha256")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One HTTPS request with curl, accepting only the server key `pin` (curl's own pinning, not Haul's); the answer's
    /// status and body.
    static func curl(
        _ method: String, _ url: String, pin: String, token: String? = nil, json: String? = nil
    ) throws -> (status: Int, body: String) {
        var arguments = [
            "-sS", "-k", "--max-time", "20", "--pinnedpubkey", "sha256//" + pin, "-X", method, "-w", "\n%{http_code}",
        ]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if json != nil { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        let outcome = try run("/usr/bin/curl", arguments + [url], input: json)
        guard outcome.status == 0, let newline = outcome.stdout.lastIndex(of: "\n"),
            let status = Int(outcome.stdout[outcome.stdout.index(after: newline)...])
        else { throw ScratchError("curl \(method) \(url) failed (\(outcome.status)): \(outcome.stderr)") }
        return (status, String(outcome.stdout[..<newline]))
    }

    /// A bearer token for the identity (`POST /v1/token` through curl, with an assertion signed by the identity's
    /// key for the service at `url`).
    static func token(url: String, pin: String, keyPEM: String, certificatePEM: String) async throws -> String {
        let identity = try CallerIdentity(keyPEM: keyPEM, certificatePEM: certificatePEM)
        let assertion = try await identity.signer()(APIAudience.token(serviceURL: url))
        let body = String(decoding: try HaulJSON.encoder().encode(TokenRequest(assertion: assertion)), as: UTF8.self)
        let answer = try curl("POST", url + APIRoute.token, pin: pin, json: body)
        guard answer.status == 200 else { throw ScratchError("token exchange: \(answer.status) \(answer.body)") }
        return try HaulJSON.decoder().decode(TokenResponse.self, from: Data(answer.body.utf8)).token
    }

    /// The id in `hauld admin subscription create NAME --json`.
    static func createSubscription(_ service: HauldProcess, _ name: String) throws -> String {
        let json = try service.admin(["admin", "subscription", "create", name, "--json"])
        guard let id = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["id"] as? String
        else { throw ScratchError("no subscription id in \(json)") }
        return id
    }

    /// Decodes the `--json` output of a `haul` command (ISO 8601 dates with fractions).
    static func decode<T: Decodable>(_ type: T.Type, _ result: HaulProcess.Result) throws -> T {
        do {
            return try JSONDecoder.haul.decode(T.self, from: result.stdout)
        } catch {
            throw ScratchError("cannot decode \(T.self) from \(result.out) (stderr: \(result.stderr)): \(error)")
        }
    }

    /// The `error.code` of a failed `haul … --json`.
    static func errorCode(_ result: HaulProcess.Result) -> String? {
        let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }
}
