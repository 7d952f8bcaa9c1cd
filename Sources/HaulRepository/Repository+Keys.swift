import Foundation
import HaulCrypto
import HaulFormat
import HaulStorage

/// A key file of a repository together with its name in `keys/` (format.md §3).
public struct RepositoryKey: Sendable {
    /// The key file's name: a random 256-bit id.
    public let id: ObjectID
    public let file: KeyFile

    public init(id: ObjectID, file: KeyFile) {
        self.id = id
        self.file = file
    }
}

/// Several passphrases for one repository (format.md §3): every key file wraps the same master key set, so adding
/// or removing one never touches anything else in the repository.
extension Repository {
    /// The name of the key file that opened (or created) this repository; `changePassphrase` moves it to the new key.
    public var keyID: ObjectID { openedWith.withLock { $0 } }

    /// Every key file, oldest first (then by id).
    ///
    /// - Throws: `corrupted` naming the key file that cannot be parsed.
    public func listKeys() async throws -> [RepositoryKey] {
        var out: [RepositoryKey] = []
        for id in try await keyFileIDs() {
            let bytes: [UInt8]
            do {
                bytes = try await store.get(ObjectKey(.keys, id))
            } catch let e as HaulError where e.code == .notFound {
                continue  // removed meanwhile
            }
            do {
                out.append(RepositoryKey(id: id, file: try KeyFile(decoding: bytes)))
            } catch let e as HaulError {
                throw HaulError(e.code, "key file keys/\(id.hex): \(e.message)", cause: e.cause)
            }
        }
        return out.sorted { ($0.file.created, $0.id) < ($1.file.created, $1.id) }
    }

    /// Finds a key file by a unique prefix of its id (at least 4 hex digits); reads only names.
    ///
    /// - Throws: `invalidArgument` for a malformed or ambiguous prefix, `notFound` when no key file matches.
    public func resolveKey(_ prefix: String) async throws -> ObjectID {
        let lower = prefix.lowercased()
        guard lower.count >= 4, lower.count <= 64, lower.allSatisfy(\.isHexDigit) else {
            throw HaulError(.invalidArgument, "\"\(prefix)\" is not a key id: give at least 4 hex digits")
        }
        let matches = try await keyFileIDs().filter { $0.hex.hasPrefix(lower) }
        guard let first = matches.first else {
            throw HaulError(.notFound, "no key file id starts with \(lower); list them with `haul key list`")
        }
        guard matches.count == 1 else {
            throw HaulError(.invalidArgument, "\(lower) matches \(matches.count) key files; give more digits")
        }
        return first
    }

    /// Writes a new key file that wraps this repository's master keys under `passphrase` (format.md §3). The
    /// passphrases of the other key files keep working.
    ///
    /// - Parameter kdf: scrypt parameters for the new file, usually `KDFParameters.forNewKey()`.
    /// - Throws: `invalidArgument` for an empty passphrase, `limitExceeded` for parameters above the caps, store
    ///   errors from the `put` (create-only, so an existing file is never replaced).
    @discardableResult
    public func addKey(
        passphrase: [UInt8], kdf: KDFParameters, hostname: String, username: String, now: Date = Date()
    ) async throws -> RepositoryKey {
        let file = try KeyFile.create(
            wrapping: keys, passphrase: passphrase, parameters: kdf, hostname: hostname, username: username, now: now)
        let id = ObjectID(Digest256.random())
        try await store.put(ObjectKey(.keys, id), try file.encoded(), mode: .createOnly)
        return RepositoryKey(id: id, file: file)
    }

    /// Deletes the key file `id`. Refused (`invalidArgument`) for the key file that opened this repository, and for
    /// the last remaining key file, so a repository always keeps a key its user can open.
    ///
    /// - Throws: `notFound` when no key file has this id.
    public func removeKey(_ id: ObjectID) async throws {
        guard id != keyID else {
            throw HaulError(
                .invalidArgument,
                "key \(id.hex.prefix(16)) is the one your passphrase opened; to remove it, open the repository with "
                    + "another passphrase first (or use `haul key passwd` to replace it)")
        }
        let all = try await keyFileIDs()
        guard all.contains(id) else {
            throw HaulError(.notFound, "no key file keys/\(id.hex); list them with `haul key list`")
        }
        guard all.count > 1 else {
            throw HaulError(
                .invalidArgument, "key \(id.hex.prefix(16)) is the last key of the repository; never removed")
        }
        try await store.delete(ObjectKey(.keys, id))
    }

    /// Replaces the passphrase that opened this repository: writes a key file for `newPassphrase` first, then
    /// deletes the key file in use (format.md §3). A crash between the two leaves both keys usable, never none.
    /// Afterwards `keyID` names the new key file.
    ///
    /// - Returns: the new key file.
    /// - Throws: what `addKey` throws; a failed delete leaves both key files in place.
    @discardableResult
    public func changePassphrase(
        to newPassphrase: [UInt8], kdf: KDFParameters, hostname: String, username: String, now: Date = Date()
    ) async throws -> RepositoryKey {
        let old = keyID
        let added = try await addKey(
            passphrase: newPassphrase, kdf: kdf, hostname: hostname, username: username, now: now)
        openedWith.withLock { $0 = added.id }
        do {
            try await store.delete(ObjectKey(.keys, old))
        } catch let e as HaulError where e.code == .notFound {
            // Someone removed it already: the goal is reached.
        }
        return added
    }

    /// A recovery kit for the key file in use (format.md §3): its id, the file itself and how to restore it.
    public func recoveryKit(now: Date = Date()) async throws -> RecoveryKit {
        let id = keyID
        let bytes = try await store.get(ObjectKey(.keys, id))
        return RecoveryKit(repository: config.id, keyID: id, keyFile: try KeyFile(decoding: bytes), created: now)
    }

    /// The names of the key files in `keys/`, sorted.
    func keyFileIDs() async throws -> [ObjectID] {
        try await store.list(.keys).compactMap { ObjectID(hex: $0.key.name) }.sorted()
    }
}
