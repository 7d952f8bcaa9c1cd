import Crypto
import Foundation
import Glibc
import HaulFormat

/// A P-256 (secp256r1) signing key, generated on the machine that uses it and never sent anywhere: a caller's
/// identity key, the issuing CA's key, or the service's TLS key (docs/identity.md §2).
///
/// The file form is PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`), readable by `openssl pkey`. ``save(to:)``
/// writes it with mode 0600; ``load(from:)`` refuses a file that group or others may access, as ssh does.
public struct IdentityKey: Sendable {
    /// The key itself; only this module sees it.
    let privateKey: P256.Signing.PrivateKey

    /// The largest key file ``load(from:)`` reads; a PEM P-256 key is about 240 bytes.
    static let maximumFileSize = 64 * 1024

    /// Generates a fresh key from the system's secure random source (swift-crypto, BoringSSL underneath).
    public init() {
        privateKey = P256.Signing.PrivateKey()
    }

    init(privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
    }

    /// Parses a PEM P-256 private key: PKCS#8 (`PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`).
    ///
    /// - Throws: `HaulError` `invalidArgument` when `pem` is not a P-256 private key.
    public init(pem: String) throws {
        do {
            privateKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw HaulError(.invalidArgument, "not a PEM P-256 private key", cause: error)
        }
    }

    /// The key as PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`). This is the secret: write it only with
    /// ``save(to:)``.
    public var pem: String { privateKey.pemRepresentation }

    /// The DER of the public key's `SubjectPublicKeyInfo`.
    public var publicKeyDER: [UInt8] { [UInt8](privateKey.publicKey.derRepresentation) }

    /// The SHA-256 pin of the public key (equal to the ``SPKIPin`` of any certificate for this key).
    public var spkiPin: SPKIPin { SPKIPin(subjectPublicKeyInfoDER: publicKeyDER) }

    /// Whether `certificate` is for this key (same public key).
    public func matches(_ certificate: IdentityCertificate) -> Bool {
        certificate.spkiPin == spkiPin
    }

    /// Writes the key as PEM to `path`, atomically and with mode 0600 whatever the umask.
    ///
    /// The bytes go to a new temporary file beside `path` (`open(O_CREAT|O_EXCL, 0600)`, `fchmod(0600)`, `write`,
    /// `fsync`), which is then `rename`d over `path`, and the directory is `fsync`ed: a reader sees the old file or
    /// the whole new one, never a part, and never a moment where the key is readable by others. An existing file
    /// at `path` is replaced.
    ///
    /// - Throws: `HaulError` `permissionDenied` when the directory is not writable, `notFound` when it does not
    ///   exist, `io` for other failures (the temporary file is removed).
    public func save(to path: String) throws {
        let bytes = Array(pem.utf8)
        let temporary = "\(path).tmp-\(Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) }))"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Self.fileError(errno, "cannot create the key file beside \(path)")
        }
        var failure: Int32 = 0
        if fchmod(fd, 0o600) != 0 { failure = errno }
        var written = 0
        while failure == 0, written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno != EINTR { failure = errno }
            } else {
                written += n
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw Self.fileError(failure, "cannot write the key file \(path)")
        }
        let directory = Self.directory(of: path)
        let dirFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            defer { close(dirFD) }
            if fsync(dirFD) != 0 {
                throw Self.fileError(errno, "cannot sync the directory \(directory) after writing \(path)")
            }
        }
    }

    /// Reads a PEM key written by ``save(to:)`` (or by `openssl`).
    ///
    /// The file is opened, then its mode is read from the open descriptor (`fstat`), so what is checked is what is
    /// read. A key file that group or others may access in any way (any bit of `0o077`) is refused before a byte
    /// is read: the key may already have leaked, and loading it silently would hide that.
    ///
    /// - Throws: `HaulError` `permissionDenied` when the file's mode allows group or others (the message names
    ///   the file, its mode and `chmod 600`) or the file cannot be opened for lack of permission, `notFound` when
    ///   it does not exist, `invalidArgument` when it is not a regular file or not a PEM P-256 private key, `io`
    ///   for read failures.
    public static func load(from path: String) throws -> IdentityKey {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fileError(errno, "cannot open the key file \(path)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fileError(errno, "cannot stat the key file \(path)") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw HaulError(.invalidArgument, "the key file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw HaulError(
                .permissionDenied,
                "the key file \(path) has mode \(String(mode, radix: 8)), so group or others may read it; "
                    + "a private key must be readable by its owner only: run `chmod 600 \(path)` "
                    + "(and make a new key if others may have copied it)")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fileError(errno, "cannot read the key file \(path)")
            }
            if n == 0 { break }
            bytes += buffer[..<n]
            guard bytes.count <= maximumFileSize else {
                throw HaulError(.invalidArgument, "the key file \(path) is larger than \(maximumFileSize) bytes")
            }
        }
        do {
            return try IdentityKey(pem: String(decoding: bytes, as: UTF8.self))
        } catch let error as HaulError {
            throw HaulError(.invalidArgument, "the key file \(path) is not a PEM P-256 private key", cause: error.cause)
        }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func fileError(_ code: Int32, _ what: String) -> HaulError {
        let reason = String(cString: strerror(code))
        switch code {
        case EACCES, EPERM: return HaulError(.permissionDenied, "\(what): \(reason)")
        case ENOENT: return HaulError(.notFound, "\(what): \(reason)")
        default: return HaulError(.io, "\(what): \(reason)", transient: code == EINTR || code == EAGAIN)
        }
    }
}
