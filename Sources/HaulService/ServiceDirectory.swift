import Foundation
import Glibc
import HaulFormat
import HaulIdentity

/// The data directory of `hauld` (docs/service.md §1):
///
/// ```
/// DIR/metadata.sqlite      the embedded metadata store (unless --database)
/// DIR/blobs/               the filesystem blob store
/// DIR/tls/key.pem (0600)   the TLS key, cert.pem its self-signed certificate (localhost, 127.0.0.1)
/// DIR/ca/key.pem (0600)    the CA that signs callers' CSRs, cert.pem its certificate
/// DIR/staging/             uploads on their way to an S3 store (unlinked files; empty at rest)
/// ```
///
/// Folders are made with mode 0700. Keys are written by `IdentityKey.save` (temporary file, fsync, rename) and
/// refused on load when group or others can read them.
public struct ServiceDirectory: Sendable {
    public let root: String

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    public var metadataPath: String { "\(root)/metadata.sqlite" }
    public var blobsPath: String { "\(root)/blobs" }
    public var tlsKeyPath: String { "\(root)/tls/key.pem" }
    public var tlsCertificatePath: String { "\(root)/tls/cert.pem" }
    public var caKeyPath: String { "\(root)/ca/key.pem" }
    public var caCertificatePath: String { "\(root)/ca/cert.pem" }
    public var stagingDirectoryPath: String { "\(root)/staging" }

    /// `DIR/staging` (mode 0700), made when missing: where uploads to an S3 store are staged.
    public func stagingPath() throws -> String {
        do {
            try FileManager.default.createDirectory(
                atPath: stagingDirectoryPath, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw HaulError(.io, "cannot create the directory \(stagingDirectoryPath)", cause: error)
        }
        return stagingDirectoryPath
    }

    /// How long the generated CA and TLS certificates are valid.
    public static let generatedLifetime: TimeInterval = 10 * 365 * 86_400

    /// Makes `DIR`, `DIR/blobs`, `DIR/tls` and `DIR/ca` (mode 0700) when missing.
    public func prepare() throws {
        for path in [root, blobsPath, "\(root)/tls", "\(root)/ca"] {
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw HaulError(.io, "cannot create the directory \(path)", cause: error)
            }
        }
    }

    /// The CA in `DIR/ca`, made on first use.
    public func certificateAuthority(now: Date) throws -> CertificateAuthority {
        if FileManager.default.fileExists(atPath: caCertificatePath) {
            let key = try IdentityKey.load(from: caKeyPath)
            let certificate = try IdentityCertificate(pem: try Self.readText(caCertificatePath))
            return try CertificateAuthority(key: key, certificate: certificate)
        }
        let authority = try CertificateAuthority.create(
            commonName: "hauld caller CA", notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Self.generatedLifetime))
        try authority.key.save(to: caKeyPath)
        try Self.write(authority.certificate.pem, to: caCertificatePath, mode: 0o644)
        return authority
    }

    /// The TLS key and certificate in `DIR/tls`, made on first use (self-signed, `localhost` and `127.0.0.1`
    /// plus `hostnames`).
    public func tlsCredentials(now: Date, hostnames: [String] = []) throws -> ServiceConfiguration.TLSFiles {
        if !FileManager.default.fileExists(atPath: tlsCertificatePath) {
            var names = ["localhost", "127.0.0.1"]
            for name in hostnames where !names.contains(name) { names.append(name) }
            let credentials = try CertificateAuthority.makeSelfSignedServerCertificate(
                hostnames: names, notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(Self.generatedLifetime))
            try credentials.key.save(to: tlsKeyPath)
            try Self.write(credentials.certificate.pem, to: tlsCertificatePath, mode: 0o644)
        }
        return try Self.tlsFiles(certificate: tlsCertificatePath, key: tlsKeyPath)
    }

    /// Reads a TLS certificate and key given as files (`--tls-cert`, `--tls-key`); the key must be 0600.
    public static func tlsFiles(certificate: String, key: String) throws -> ServiceConfiguration.TLSFiles {
        let identityKey = try IdentityKey.load(from: key)
        let pem = try readText(certificate)
        guard identityKey.matches(try IdentityCertificate(pem: pem)) else {
            throw HaulError(.invalidArgument, "the TLS key \(key) is not the key of the certificate \(certificate)")
        }
        return ServiceConfiguration.TLSFiles(certificatePEM: pem, privateKeyPEM: identityKey.pem)
    }

    /// The SPKI SHA-256 pin (standard base64) of the first certificate in a PEM chain.
    public static func pin(certificatePEM: String) throws -> String {
        SPKIPin(certificate: try IdentityCertificate(pem: certificatePEM)).base64
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HaulError(.notFound, "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `text` to `path` with `mode` (a private file: 0600), replacing it atomically (temporary file, fsync,
    /// rename).
    public static func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = "\(path).tmp-\(UUID().uuidString.lowercased())"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HaulError(.io, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var written = 0
        var failed = fchmod(fd, mode) != 0
        while !failed, written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 { failed = errno != EINTR } else { written += n }
        }
        if !failed { failed = fsync(fd) != 0 }
        close(fd)
        if failed || rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HaulError(.io, "cannot write \(path): \(reason)")
        }
    }
}
