import Foundation
import HaulClient
import HaulFormat
import HaulIdentity
import HaulProtocol

/// Reading the subscription administrator's credential (`HaulProtocol.AdminCredential`, docs/service.md §9,
/// docs/agent.md §2): JSON written by `hauld admin credential` with mode 0600, kept on the administrator's
/// workstation only.
extension AdminCredential {
    /// Reads the file, refusing one that group or others may read.
    /// - Throws: `notFound`; `insecurePermissions`; `invalidArgument` when it is not an admin credential.
    public static func load(from path: String) throws -> AdminCredential {
        let bytes = try SecretFile.read(path, limit: 64 << 10)
        let credential: AdminCredential
        do {
            credential = try HaulJSON.decoder().decode(AdminCredential.self, from: Data(bytes))
        } catch {
            throw HaulError(
                .invalidArgument,
                "\(path) is not an admin credential (write one with `hauld admin credential --subscription ID "
                    + "--out FILE`)", cause: error)
        }
        guard credential.version == 1 else {
            throw HaulError(.unsupportedVersion, "\(path) has credential version \(credential.version); expected 1")
        }
        return credential
    }

    /// The pins as values.
    /// - Throws: `invalidArgument` naming a pin that is not the base64 of 32 bytes.
    public func servicePins() throws -> [SPKIPin] { try pins.map { try SPKIPin(base64: $0) } }

    /// The administrator's identity.
    public func identity() throws -> CallerIdentity {
        try CallerIdentity(keyPEM: privateKeyPEM, certificatePEM: certificatePEM)
    }

    /// A session with the service as the subscription administrator.
    public func session() throws -> ServiceSession {
        try identity().session(serviceURL: serviceURL, pins: try servicePins())
    }
}
