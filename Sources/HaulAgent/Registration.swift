import Foundation
import HaulClient
import HaulFormat
import HaulIdentity
import HaulProtocol

/// Makes publish settings: a site key generated here, certified by the service for one vault.
public enum SiteSettingsIssuer {
    /// Generates a P-256 key, sends a CSR as the administrator, and returns the settings with the issued `site`
    /// certificate. The key exists only in the returned value (write it with `PublishSettings.write`).
    /// - Throws: the service's errors (`notFound` for an unknown vault, `permissionDenied`).
    public static func issue(credential: AdminCredential, vault: ResourceName, expires: Date) async throws
        -> PublishSettings
    {
        let key = IdentityKey()
        let request = try CertificateRequest(key: key, commonName: "site-\(vault)")
        let client = ServiceClient(session: try credential.session())
        let issued = try await client.issueSiteCredential(vault, csrPEM: request.pem, expiresAt: expires)
        return PublishSettings(
            serviceURL: credential.serviceURL, pins: try credential.servicePins(), subscription: issued.subscription,
            vault: issued.vault, expires: issued.notAfter, certificatePEM: issued.certificatePEM,
            privateKeyPEM: key.pem)
    }
}

/// Registers this machine with a vault and opens its repository there (docs/agent.md §3).
///
/// Order of `register`: the key is generated and saved (0600) first, then the CSR is sent with the site identity
/// from the publish settings, then the issued certificate and `server.json` are written. A crash after the key
/// only leaves a key that is replaced on the next attempt; `server.json` exists only once the service knows the
/// server.
public struct Registrar: Sendable {
    public let state: AgentState
    public let settings: PublishSettings

    public init(state: AgentState, settings: PublishSettings) {
        self.state = state
        self.settings = settings
    }

    /// What `register` and `recover` did.
    public struct Outcome: Sendable {
        public let record: ServerRecord
        public let recovered: Bool
    }

    /// Registers a new server `name` in the settings' vault.
    /// - Throws: `alreadyExists` when this state directory already holds a registration or the vault has a server
    ///   of that name (then `--recover NAME` attaches to it); the service's errors.
    public func register(name: ResourceName) async throws -> Outcome {
        try await enroll(name: name) { client, csr in
            try await client.registerServer(settings.vault, name: name, csrPEM: csr)
        }
    }

    /// Attaches this machine to the existing server `name` with a new identity (the old one is revoked).
    public func recover(name: ResourceName) async throws -> Outcome {
        try await enroll(name: name, recovered: true) { client, csr in
            try await client.recoverServer(settings.vault, server: name, csrPEM: csr)
        }
    }

    private func enroll(
        name: ResourceName, recovered: Bool = false,
        _ send: (ServiceClient, String) async throws -> ServerRegistration
    ) async throws -> Outcome {
        if state.isRegistered {
            let existing = try state.registration()
            throw HaulError(
                .alreadyExists,
                "\(state.path) already holds the registration of server \(existing.serverName) in vault "
                    + "\(existing.vault); use another HAUL_STATE_DIR, or remove \(state.serverPath) to register anew")
        }
        try state.prepare()
        let key = IdentityKey()
        try key.save(to: state.keyPath)
        let csr = try CertificateRequest(key: key, commonName: name.rawValue)
        let site = try CallerIdentity(keyPEM: settings.privateKeyPEM, certificatePEM: settings.certificatePEM)
        let client = ServiceClient(session: try site.session(serviceURL: settings.serviceURL, pins: settings.pins))
        let registration: ServerRegistration
        do {
            registration = try await send(client, csr.pem)
        } catch let error as HaulError where error.code.rawValue == "identityRevoked" {
            throw HaulError(
                .permissionDenied,
                "the publish settings for vault \(settings.vault) were revoked by the administrator; ask your "
                    + "administrator for new publish settings (`haul cloud publish-settings --vault "
                    + "\(settings.vault)`)", cause: error)
        }
        let certificate = try IdentityCertificate(pem: registration.certificatePEM)
        guard key.matches(certificate) else {
            throw HaulError(.corrupted, "the service issued a certificate for another key; registration not saved")
        }
        try state.saveCertificate(registration.certificatePEM)
        let record = ServerRecord(
            serviceURL: settings.serviceURL, pins: settings.pins, subscription: registration.subscription,
            vault: registration.vault, vaultID: registration.vaultId, serverName: registration.name,
            serverID: registration.serverId, repositoryPath: registration.repositoryPath, registered: Date())
        try state.save(record)
        return Outcome(record: record, recovered: recovered)
    }
}

extension AgentState {
    /// This machine's identity (key and certificate) from the state directory.
    /// - Throws: `notRegistered`; `permissionDenied` for a key file others may read (from `IdentityKey.load`).
    public func identity() throws -> CallerIdentity {
        _ = try registration()  // throws `notRegistered` with what to run
        let key = try IdentityKey.load(from: keyPath)
        return try CallerIdentity(key: key, certificate: try IdentityCertificate(pem: try certificatePEM()))
    }

    /// The registered server's repository in the vault, as a `BlobStore`.
    public func vaultStore() throws -> VaultBlobStore {
        let record = try registration()
        let session = try identity().session(serviceURL: record.serviceURL, pins: record.pins)
        return VaultBlobStore(session: session, server: record.serverID)
    }
}

/// A server name from a host name, for `haul register` without `--name`.
public enum ServerNameSuggestion {
    /// The host name's first label, lowercased, other characters as '-', leading '-' dropped, at most 63 characters;
    /// `server` when nothing is left.
    public static func fromHost(_ host: String) -> String {
        let short = host.split(separator: ".").first.map(String.init) ?? host
        var out = String(short.lowercased().map { c -> Character in c.isASCII && (c.isLetter || c.isNumber) ? c : "-" })
        while out.first == "-" { out.removeFirst() }
        out = String(out.prefix(63))
        while out.last == "-" { out.removeLast() }
        return out.isEmpty ? "server" : out
    }
}
