import Foundation
import Glibc
import HaulCrypto
import HaulFormat
import HaulStorage

/// A recovery kit (format.md §3): one key file of a repository, its name and plain instructions, as UTF-8 JSON to
/// keep apart from the repository (printed, on a USB stick, in a safe). With the kit and the passphrase of its key,
/// a location that still holds the `config` opens again after its `keys/` was lost. The kit is as secret as a key
/// file: protected by the passphrase (scrypt) only.
public struct RecoveryKit: Codable, Sendable {
    /// Always `"haul recovery kit"`: tells what the file is to someone who finds it.
    public var kind: String
    public var version: Int
    /// The repository id (64 hex, format.md §2, §5).
    public var repository: String
    /// The name the key file must have in `keys/` (64 hex).
    public var keyID: String
    /// The key file (format.md §3); this JSON object, saved as `keys/<keyID>`, is a valid key file.
    public var keyFile: KeyFile
    public var created: Date
    /// How to recover, for a person.
    public var instructions: [String]

    public static let kindName = "haul recovery kit"

    public init(repository: String, keyID: ObjectID, keyFile: KeyFile, created: Date) {
        self.kind = Self.kindName
        self.version = 1
        self.repository = repository
        self.keyID = keyID.hex
        self.keyFile = keyFile
        self.created = created
        self.instructions = [
            "This is a recovery kit of the Haul repository \(repository). It holds the repository's master keys, "
                + "encrypted under the passphrase of key \(keyID.hex.prefix(16)) (\"keyFile\" below).",
            "Without that passphrase this kit is useless, and a lost passphrase means lost data: nobody can recover "
                + "it. Keep the kit and the passphrase in two different safe places.",
            "The kit holds no backups and no config: to recover, you need a copy of the repository (a directory) "
                + "that still holds its file `config` and its data, but whose keys/ folder was lost or damaged.",
            "To recover: create the folder keys/ in that directory if it is missing, and save the value of "
                + "\"keyFile\" (the JSON object from its { to the matching }) as the file keys/\(keyID.hex), "
                + "for example: jq -c .keyFile KIT > REPO/keys/\(keyID.hex)",
            "Then open the repository with the passphrase, for example: haul snapshots --repo REPO. "
                + "`haul key list` shows the restored key; `haul key add` adds more passphrases.",
        ]
    }

    /// UTF-8 JSON, sorted keys, pretty-printed (so a person can read and copy it).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder.haul
        encoder.outputFormatting.insert(.prettyPrinted)
        encoder.outputFormatting.insert(.withoutEscapingSlashes)
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw HaulError(.internalError, "cannot encode the recovery kit", cause: error)
        }
    }

    /// Parses a kit; throws `corrupted` when the bytes are not a recovery kit, `unsupportedVersion` for another
    /// version.
    public init(decoding bytes: [UInt8]) throws {
        do {
            self = try JSONDecoder.haul.decode(RecoveryKit.self, from: Data(bytes))
        } catch {
            throw HaulError(.corrupted, "not a Haul recovery kit (not JSON of the expected shape)", cause: error)
        }
        guard kind == Self.kindName else { throw HaulError(.corrupted, "not a Haul recovery kit (kind \(kind))") }
        guard version == 1 else {
            throw HaulError(.unsupportedVersion, "recovery kit version \(version) is not supported by this Haul")
        }
        guard ObjectID(hex: keyID) != nil else {
            throw HaulError(.corrupted, "the recovery kit's keyID \"\(keyID)\" is not 64 lowercase hex digits")
        }
        _ = try KeyFile(decoding: try keyFile.encoded())  // checks version, kdf and field lengths
    }

    /// Writes the kit to a new file at `path` with mode 0600 and `fsync`s it (`open(O_CREAT|O_EXCL)`): an existing
    /// file is never replaced.
    ///
    /// - Throws: `alreadyExists` when `path` exists, `io` or `permissionDenied` for other failures; a failed write
    ///   removes the partial file.
    public func write(toPath path: String) throws {
        let bytes = try encoded() + [0x0A]
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            switch e {
            case EEXIST:
                throw HaulError(.alreadyExists, "\(path) already exists; choose another file for the recovery kit")
            case EACCES, EPERM:
                throw HaulError(.permissionDenied, "cannot create \(path): \(String(cString: strerror(e)))")
            default: throw HaulError(.io, "cannot create \(path): \(String(cString: strerror(e)))")
            }
        }
        var failure: Int32 = 0
        // The mode given to open is filtered by the umask; 0600 must hold whatever the umask is.
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
        if failure != 0 {
            unlink(path)
            throw HaulError(.io, "cannot write the recovery kit \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// Stores the kit's key file as `keys/<keyID>` of `store` (create-only), the automatic form of the instructions.
    ///
    /// - Throws: `repositoryNotFound` when the location holds no config, `alreadyExists` when that key file exists.
    public func restore(into store: any BlobStore) async throws {
        guard try await store.head(.config) != nil else {
            throw HaulError(
                .repositoryNotFound, "no Haul repository here (no config object): a recovery kit needs the config")
        }
        try await store.put(try ObjectKey(.keys, keyID), try keyFile.encoded(), mode: .createOnly)
    }
}
