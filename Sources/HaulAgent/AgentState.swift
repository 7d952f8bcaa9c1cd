import Foundation
import Glibc
import HaulFormat
import HaulIdentity
import HaulProtocol

/// What `server.json` in the state directory records about this machine's registration (docs/agent.md §1).
public struct ServerRecord: Codable, Sendable, Equatable {
    public var version: Int = 1
    /// The service's base URL.
    public var serviceURL: String
    /// SPKI SHA-256 pins of the service's TLS key.
    public var pins: [SPKIPin]
    public var subscription: UUID
    public var vault: ResourceName
    public var vaultID: UUID
    /// This server's name in the vault and its id (the API addresses the repository by the id).
    public var serverName: ResourceName
    public var serverID: UUID
    /// The path prefix of the repository's objects in the API, `/v1/repositories/<server id>`.
    public var repositoryPath: String
    public var registered: Date

    public init(
        serviceURL: String, pins: [SPKIPin], subscription: UUID, vault: ResourceName, vaultID: UUID,
        serverName: ResourceName, serverID: UUID, repositoryPath: String, registered: Date
    ) {
        self.serviceURL = serviceURL
        self.pins = pins
        self.subscription = subscription
        self.vault = vault
        self.vaultID = vaultID
        self.serverName = serverName
        self.serverID = serverID
        self.repositoryPath = repositoryPath
        self.registered = registered
    }
}

/// The agent's state directory: `$HAUL_STATE_DIR`, default `/var/lib/haul` (docs/agent.md §1).
///
/// ```
/// <state>/                 0700
///   identity/              0700
///     key.pem              0600  this machine's P-256 key, generated here, never sent anywhere
///     cert.pem             0644  the certificate the service issued for it
///   server.json            0644  service URL, pins, subscription, vault, server, repository prefix
/// ```
public struct AgentState: Sendable {
    public static let defaultPath = "/var/lib/haul"

    public let path: String

    public init(path: String) { self.path = path }

    /// The state directory named by `HAUL_STATE_DIR`, else `/var/lib/haul`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> AgentState
    {
        if let dir = environment["HAUL_STATE_DIR"], !dir.isEmpty { return AgentState(path: dir) }
        return AgentState(path: defaultPath)
    }

    public var identityDirectory: String { path + "/identity" }
    public var keyPath: String { identityDirectory + "/key.pem" }
    public var certificatePath: String { identityDirectory + "/cert.pem" }
    public var serverPath: String { path + "/server.json" }

    /// Whether a registration is recorded (`server.json` exists).
    public var isRegistered: Bool { FileManager.default.fileExists(atPath: serverPath) }

    /// Creates the directories with mode 0700 (existing ones are left as they are, but must not be open to others).
    public func prepare() throws {
        for dir in [path, identityDirectory] {
            if mkdir(dir, 0o700) != 0 && errno != EEXIST {
                throw HaulError(
                    .io, "cannot create the state directory \(dir): \(String(cString: strerror(errno)))")
            }
        }
        var st = stat()
        guard stat(identityDirectory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw HaulError(.io, "\(identityDirectory) is not a directory")
        }
        guard st.st_mode & 0o022 == 0 else {
            throw HaulError(
                .insecurePermissions,
                "\(identityDirectory) may be written by group or others; run `chmod 700 \(identityDirectory)`")
        }
    }

    /// The recorded registration.
    /// - Throws: `notRegistered` (with what to run) when there is none; `corrupted` when it cannot be parsed.
    public func registration() throws -> ServerRecord {
        guard let data = FileManager.default.contents(atPath: serverPath) else {
            throw HaulError(
                .notRegistered,
                "this machine is not registered with a vault (no \(serverPath)); run `haul register --settings FILE` "
                    + "or give a local repository with --repo DIR")
        }
        do {
            return try JSONDecoder.haul.decode(ServerRecord.self, from: data)
        } catch {
            throw HaulError(.corrupted, "\(serverPath) cannot be parsed; register again", cause: error)
        }
    }

    /// Writes `server.json` (replacing an earlier one atomically).
    public func save(_ registration: ServerRecord) throws {
        let encoder = JSONEncoder.haul
        encoder.outputFormatting.insert(.prettyPrinted)
        try SecretFile.create(serverPath, contents: Array(try encoder.encode(registration)), replace: true, mode: 0o644)
    }

    /// Writes the issued certificate beside the key.
    public func saveCertificate(_ pem: String) throws {
        try SecretFile.create(certificatePath, contents: Array(pem.utf8), replace: true, mode: 0o644)
    }

    /// The issued certificate (PEM).
    public func certificatePEM() throws -> String {
        guard let data = FileManager.default.contents(atPath: certificatePath) else {
            throw HaulError(
                .notRegistered, "\(certificatePath) is missing; register again with `haul register --settings FILE`")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
