import Crypto
import Foundation
import HaulFormat

/// The master key set of a repository (format.md §3):
/// `repositoryID (32) ‖ encryptionKey (32) ‖ idKey (32) ‖ chunkerSecret (32)`.
public struct MasterKeys: Sendable {
    /// The random 256-bit repository id; the config's `id` must equal it (format.md §2, §5).
    public let repositoryID: Digest256
    /// Input key material of every per-object key (HKDF, format.md §5, §6).
    let encryptionKey: SymmetricKey
    /// Key of the blob ids (format.md §4).
    let idKey: SymmetricKey
    /// HMAC state after absorbing the key; copied for every id, so the key schedule runs once, not per blob.
    private let idTemplate: HMAC<SHA256>
    /// Key of the gear table (format.md §3).
    let chunkerSecret: SymmetricKey

    /// Length of the encoded key set.
    public static let encodedLength = 128

    /// A fresh key set, all four values from the system CSPRNG (format.md §3).
    public static func generate() -> MasterKeys {
        try! MasterKeys(decoding: randomBytes(encodedLength))
    }

    /// Parses the 128-byte key set of format.md §3; throws `corrupted` for any other length.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count == Self.encodedLength else {
            throw HaulError(.corrupted, "a master key set is \(Self.encodedLength) bytes, not \(bytes.count)")
        }
        repositoryID = Digest256(bytes: bytes[0..<32])
        encryptionKey = SymmetricKey(data: bytes[32..<64])
        idKey = SymmetricKey(data: bytes[64..<96])
        idTemplate = HMAC<SHA256>(key: idKey)
        chunkerSecret = SymmetricKey(data: bytes[96..<128])
    }

    /// The 128-byte key set of format.md §3 (secret: only ever stored wrapped in a key file).
    public func encoded() -> [UInt8] {
        var out = repositoryID.bytes
        out.reserveCapacity(Self.encodedLength)
        for key in [encryptionKey, idKey, chunkerSecret] { key.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// The 256 keyed gear values of format.md §3:
    /// `gear[i]` = first 8 bytes, little-endian, of `HMAC-SHA256(chunkerSecret, "haul gear v1" ‖ u8(i))`.
    public func gearValues() -> [UInt64] {
        var message = Array("haul gear v1".utf8)
        message.append(0)
        var values = [UInt64]()
        values.reserveCapacity(256)
        for i in 0..<256 {
            message[message.count - 1] = UInt8(i)
            let mac = HMAC<SHA256>.authenticationCode(for: message, using: chunkerSecret)
            values.append(mac.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        }
        return values
    }

    /// The keyed blob id `HMAC-SHA256(idKey, plaintext)` (format.md §4).
    public func blobID(of plaintext: UnsafeRawBufferPointer) -> BlobID {
        var hmac = idTemplate
        hmac.update(data: plaintext)
        return BlobID(hmac.finalize().withUnsafeBytes { Digest256(loading: $0) })
    }
}

/// Plain SHA-256, the name of content-addressed objects (format.md §1).
public enum Hashing {
    /// SHA-256 of `bytes` (format.md §1: pack, index and snapshot names).
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Digest256 {
        SHA256.hash(data: bytes).withUnsafeBytes { Digest256(loading: $0) }
    }
}

extension Digest256 {
    /// Loads 32 bytes as big-endian words without intermediate arrays.
    init(loading p: UnsafeRawBufferPointer) {
        precondition(p.count == 32)
        self.init(
            w0: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            w1: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            w2: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            w3: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }
}

/// Random bytes from the system CSPRNG.
func randomBytes(_ count: Int) -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
}
