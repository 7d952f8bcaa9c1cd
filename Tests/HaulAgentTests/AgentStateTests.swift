import Foundation
import Glibc
import HaulAgent
import HaulFormat
import HaulIdentity
import HaulProtocol
import Testing

/// A fresh directory under the system temporary directory, removed afterwards.
final class TemporaryTestDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/haul-agent-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw HaulError(.io, "mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum FileMode {
    static func of(_ path: String) throws -> mode_t {
        var st = stat()
        guard stat(path, &st) == 0 else { throw HaulError(.io, "stat \(path)") }
        return st.st_mode & 0o7777
    }
}

@Suite struct AgentStateTests {
    @Test func stateDirectoryComesFromTheEnvironment() {
        #expect(AgentState.fromEnvironment(["HAUL_STATE_DIR": "/tmp/x"]).path == "/tmp/x")
        #expect(AgentState.fromEnvironment([:]).path == "/var/lib/haul")
        #expect(AgentState.fromEnvironment(["HAUL_STATE_DIR": ""]).path == "/var/lib/haul")
    }

    @Test func notRegisteredSaysWhatToRun() throws {
        let dir = try TemporaryTestDirectory()
        let state = AgentState(path: dir.path + "/state")
        #expect(!state.isRegistered)
        let error = #expect(throws: HaulError.self) { try state.registration() }
        #expect(error?.code == .notRegistered)
        #expect(error?.message.contains("haul register --settings FILE") == true)
    }

    @Test func recordRoundTripAndModes() throws {
        let dir = try TemporaryTestDirectory()
        let state = AgentState(path: dir.path + "/state")
        try state.prepare()
        #expect(try FileMode.of(state.path) == 0o700)
        #expect(try FileMode.of(state.identityDirectory) == 0o700)
        let record = ServerRecord(
            serviceURL: "https://127.0.0.1:1", pins: [SPKIPin(subjectPublicKeyInfoDER: [9])], subscription: UUID(),
            vault: try ResourceName("office"), vaultID: UUID(), serverName: try ResourceName("web-1"),
            serverID: UUID(), repositoryPath: "/v1/repositories/x",
            registered: Date(timeIntervalSince1970: 1_800_000_000))
        try state.save(record)
        try state.save(record)  // replacing is allowed
        #expect(state.isRegistered)
        #expect(try state.registration() == record)
    }

    @Test func identityKeyReadableByOthersIsRefused() throws {
        let dir = try TemporaryTestDirectory()
        let state = AgentState(path: dir.path + "/state")
        try state.prepare()
        let key = IdentityKey()
        try key.save(to: state.keyPath)
        #expect(try FileMode.of(state.keyPath) == 0o600)
        _ = try IdentityKey.load(from: state.keyPath)
        for mode: mode_t in [0o640, 0o604, 0o660] {
            chmod(state.keyPath, mode)
            #expect(throws: HaulError.self) { _ = try IdentityKey.load(from: state.keyPath) }
        }
    }

    @Test func secretFilesReadableByOthersAreRefused() throws {
        let dir = try TemporaryTestDirectory()
        let path = dir.path + "/admin.json"
        try SecretFile.create(path, contents: Array("{}".utf8))
        #expect(try FileMode.of(path) == 0o600)
        #expect(try SecretFile.read(path) == Array("{}".utf8))
        chmod(path, 0o644)
        let error = #expect(throws: HaulError.self) { try SecretFile.read(path) }
        #expect(error?.code == .insecurePermissions)
        #expect(error?.message.contains("chmod 600") == true)
        #expect(throws: HaulError.self) { try AdminCredential.load(from: path) }
    }

    @Test func serverNamesFromHostNames() {
        #expect(ServerNameSuggestion.fromHost("Web-1.example.com") == "web-1")
        #expect(ServerNameSuggestion.fromHost("_x_y") == "x-y")
        #expect(ServerNameSuggestion.fromHost("") == "server")
    }
}
