import Crypto
import Foundation
import HaulFormat

/// The per-object key `HKDF-SHA256(encryptionKey, salt, "haul v1 " ‖ kindName)` (format.md §3, §5, §6).
func objectKey(_ keys: MasterKeys, salt: some DataProtocol, kindName: String) -> SymmetricKey {
    HKDF<SHA256>.deriveKey(
        inputKeyMaterial: keys.encryptionKey, salt: salt, info: Array("haul v1 \(kindName)".utf8), outputByteCount: 32)
}

/// Copies a sealed box's `ciphertext ‖ tag` into one exactly sized array.
private func ciphertextAndTag(_ box: AES.GCM.SealedBox) -> [UInt8] {
    let ciphertext = box.ciphertext
    let tag = box.tag
    return [UInt8](unsafeUninitializedCapacity: ciphertext.count + tag.count) { out, initialized in
        let n = ciphertext.copyBytes(to: out)
        let m = tag.copyBytes(to: UnsafeMutableBufferPointer(rebasing: out[n...]))
        initialized = n + m
    }
}

/// Opens `sealed` = `ciphertext ‖ tag(16)`; `nil` when authentication fails.
private func openSealed(
    _ sealed: UnsafeRawBufferPointer, key: SymmetricKey, nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer
) -> [UInt8]? {
    guard sealed.count >= PackLayout.tagLength else { return nil }
    let split = sealed.count - PackLayout.tagLength
    guard let nonce = try? AES.GCM.Nonce(data: nonce),
        let box = try? AES.GCM.SealedBox(
            nonce: nonce, ciphertext: UnsafeRawBufferPointer(rebasing: sealed[..<split]),
            tag: UnsafeRawBufferPointer(rebasing: sealed[split...])),
        let plaintext = try? AES.GCM.open(box, using: key, authenticating: aad)
    else { return nil }
    return [UInt8](plaintext)
}

/// Writes the 12-byte nonce `u32 BE domain ‖ u64 BE counter` (format.md §6).
private func writeNonce(_ p: UnsafeMutableRawBufferPointer, domain: UInt32, counter: UInt64) {
    p.storeBytes(of: domain.bigEndian, toByteOffset: 0, as: UInt32.self)
    p.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self)
}

/// Seals and opens the blobs and the header of one pack (format.md §6).
///
/// The pack key is `HKDF(encryptionKey, salt, "haul v1 pack")`. Blob `i` uses nonce `u32 BE 0 ‖ u64 BE i` and
/// aad `u8(type) ‖ blobID`; the header uses nonce `u32 BE 0xFFFFFFFF ‖ u64 BE 0` and aad = the 44-byte preamble.
public struct PackSealer: Sendable {
    /// The id in the aad of a group of small blobs, sealed as one record (format.md §4, §6): 32 zero bytes.
    public static let groupID = BlobID(Digest256(w0: 0, w1: 0, w2: 0, w3: 0))
    /// The pack's salt (bytes 12..<44 of the preamble).
    public let salt: [UInt8]
    private let key: SymmetricKey

    /// - Parameter salt: 32 bytes, fresh from the CSPRNG for every new pack (`newSalt()`), or read from the
    ///   preamble of an existing pack.
    public init(keys: MasterKeys, salt: [UInt8]) {
        precondition(salt.count == PackLayout.saltLength, "a pack salt is 32 bytes")
        self.salt = salt
        self.key = objectKey(keys, salt: salt, kindName: "pack")
    }

    /// 32 bytes from the system CSPRNG: the salt of a new pack (format.md §6 "Why nonces never repeat").
    public static func newSalt() -> [UInt8] { randomBytes(PackLayout.saltLength) }

    /// Blob `index` of the pack sealed: `ciphertext ‖ tag(16)` (format.md §6).
    public func sealBlob(index: UInt64, type: BlobType, id: BlobID, plaintext: UnsafeRawBufferPointer) throws -> [UInt8]
    {
        ciphertextAndTag(try seal(index: index, type: type, id: id, plaintext: plaintext))
    }

    /// Seals blob `index` like `sealBlob` and passes the sealed bytes to `body` in order, as the ciphertext and then
    /// the tag, straight from the sealed box (no copy into one array); returns their total length.
    public func sealBlob(
        index: UInt64, type: BlobType, id: BlobID, plaintext: UnsafeRawBufferPointer,
        into body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let box = try seal(index: index, type: type, id: id, plaintext: plaintext)
        try box.ciphertext.withUnsafeBytes(body)
        try box.tag.withUnsafeBytes(body)
        return box.ciphertext.count + box.tag.count
    }

    private func seal(index: UInt64, type: BlobType, id: BlobID, plaintext: UnsafeRawBufferPointer) throws
        -> AES.GCM.SealedBox
    {
        try withUnsafeTemporaryAllocation(byteCount: 45, alignment: 8) { scratch in
            writeNonce(scratch, domain: 0, counter: index)
            Self.writeAAD(UnsafeMutableRawBufferPointer(rebasing: scratch[12..<45]), type: type, id: id)
            let nonce = try AES.GCM.Nonce(data: UnsafeRawBufferPointer(rebasing: scratch[0..<12]))
            return try AES.GCM.seal(
                plaintext, using: key, nonce: nonce, authenticating: UnsafeRawBufferPointer(rebasing: scratch[12..<45]))
        }
    }

    /// Opens blob `index`; throws `authenticationFailed` if the bytes, the index, the type or the id do not match
    /// what was sealed (format.md §6, §11).
    public func openBlob(index: UInt64, type: BlobType, id: BlobID, sealed: UnsafeRawBufferPointer) throws -> [UInt8] {
        let opened = withUnsafeTemporaryAllocation(byteCount: 45, alignment: 8) { scratch in
            writeNonce(scratch, domain: 0, counter: index)
            Self.writeAAD(UnsafeMutableRawBufferPointer(rebasing: scratch[12..<45]), type: type, id: id)
            return openSealed(
                sealed, key: key, nonce: UnsafeRawBufferPointer(rebasing: scratch[0..<12]),
                aad: UnsafeRawBufferPointer(rebasing: scratch[12..<45]))
        }
        guard let opened else { throw HaulError(.authenticationFailed, "blob \(id) failed authentication") }
        return opened
    }

    /// The sealed pack header: `ciphertext ‖ tag(16)` of the header plaintext, aad = `preamble` (format.md §6).
    public func sealHeader(_ plaintext: [UInt8], preamble: [UInt8]) throws -> [UInt8] {
        precondition(preamble.count == PackLayout.preambleLength, "a pack preamble is 44 bytes")
        let nonce = try Self.headerNonce()
        return ciphertextAndTag(try AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: preamble))
    }

    /// Opens a sealed pack header; throws `authenticationFailed` on any mismatch (format.md §6).
    public func openHeader(_ sealed: [UInt8], preamble: [UInt8]) throws -> [UInt8] {
        let opened = sealed.withUnsafeBytes { s in
            preamble.withUnsafeBytes { aad in
                withUnsafeTemporaryAllocation(byteCount: 12, alignment: 8) { nonce in
                    writeNonce(nonce, domain: PackLayout.headerNonceDomain, counter: 0)
                    return openSealed(s, key: key, nonce: UnsafeRawBufferPointer(nonce), aad: aad)
                }
            }
        }
        guard let opened else { throw HaulError(.authenticationFailed, "pack header failed authentication") }
        return opened
    }

    private static func headerNonce() throws -> AES.GCM.Nonce {
        try withUnsafeTemporaryAllocation(byteCount: 12, alignment: 8) { nonce in
            writeNonce(nonce, domain: PackLayout.headerNonceDomain, counter: 0)
            return try AES.GCM.Nonce(data: UnsafeRawBufferPointer(nonce))
        }
    }

    /// `u8(type) ‖ blobID (32)`.
    private static func writeAAD(_ p: UnsafeMutableRawBufferPointer, type: BlobType, id: BlobID) {
        p[0] = type.rawValue
        let d = id.digest
        for (k, w) in [d.w0, d.w1, d.w2, d.w3].enumerated() {
            p.storeBytes(of: w.bigEndian, toByteOffset: 1 + 8 * k, as: UInt64.self)
        }
    }
}

/// Sealed objects: config, index files and snapshots (format.md §5).
///
/// Layout: the 44-byte envelope header of `SealedEnvelope` (magic, version, kind, compression, salt), then
/// AES-256-GCM ciphertext and tag; key = `HKDF(encryptionKey, salt, "haul v1 " ‖ kindName)`, nonce = 12 zero bytes
/// (each object has its own random salt, hence its own key), aad = the 44 header bytes.
public enum ObjectSealer {
    /// Seals `plaintext`, which the caller has already compressed as `compression` says (only recorded here).
    public static func seal(kind: SealedKind, plaintext: [UInt8], compression: BlobCompression, keys: MasterKeys) throws
        -> [UInt8]
    {
        try seal(kind: kind, plaintext: plaintext, compression: compression, keys: keys, salt: randomBytes(32))
    }

    /// Seals with a given salt; only for known-answer tests. Real objects always take a fresh CSPRNG salt.
    static func seal(
        kind: SealedKind, plaintext: [UInt8], compression: BlobCompression, keys: MasterKeys, salt: [UInt8]
    )
        throws -> [UInt8]
    {
        let header = SealedEnvelope.header(kind: kind, compression: compression, salt: salt)
        let key = objectKey(keys, salt: salt, kindName: kind.name)
        let box = try AES.GCM.seal(
            plaintext, using: key, nonce: try AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)),
            authenticating: header)
        var out = header
        out.reserveCapacity(header.count + plaintext.count + PackLayout.tagLength)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
        return out
    }

    /// Checks the envelope, authenticates and decrypts; returns the recorded compression and the (possibly still
    /// compressed) plaintext. Throws `corrupted`/`unsupportedVersion` for a malformed envelope and
    /// `authenticationFailed` when GCM fails. `what` names the object in messages (e.g. "index 1a2b…").
    public static func open(_ bytes: [UInt8], kind: SealedKind, keys: MasterKeys, what: String) throws -> (
        BlobCompression, [UInt8]
    ) {
        let (compression, salt) = try SealedEnvelope.parse(bytes, expecting: kind, what: what)
        let key = objectKey(keys, salt: salt, kindName: kind.name)
        let opened = bytes.withUnsafeBytes { all in
            withUnsafeTemporaryAllocation(byteCount: 12, alignment: 8) { nonce in
                nonce.initializeMemory(as: UInt8.self, repeating: 0)
                return openSealed(
                    UnsafeRawBufferPointer(rebasing: all[SealedEnvelope.headerLength...]), key: key,
                    nonce: UnsafeRawBufferPointer(nonce),
                    aad: UnsafeRawBufferPointer(rebasing: all[..<SealedEnvelope.headerLength]))
            }
        }
        guard let opened else {
            throw HaulError(.authenticationFailed, "\(what) failed authentication (damaged, or sealed with other keys)")
        }
        return (compression, opened)
    }
}
