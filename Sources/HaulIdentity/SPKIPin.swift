import Crypto
import Foundation
import HaulFormat

/// The SHA-256 of a certificate's SubjectPublicKeyInfo (the DER of the whole `SubjectPublicKeyInfo` structure:
/// algorithm identifier and key bits), with which clients pin the service's TLS key (docs/identity.md §3).
///
/// The text form is standard base64 with padding (44 characters), the form of HPKP's `pin-sha256` (RFC 7469
/// §2.4) and of curl's `--pinnedpubkey sha256//…`:
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
/// A pin survives re-issuing the certificate for the same key, so a settings file can carry the pins of the
/// current and of the next key while the certificate rotates.
public struct SPKIPin: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The pin of the DER-encoded `SubjectPublicKeyInfo` `spkiDER` (no parsing: any bytes hash).
    public init(subjectPublicKeyInfoDER spkiDER: some Sequence<UInt8>) {
        bytes = Array(SHA256.hash(data: Array(spkiDER)))
    }

    /// The pin of `certificate`'s public key.
    public init(certificate: IdentityCertificate) {
        self = certificate.spkiPin
    }

    /// The pin of the certificate whose DER encoding is `certificateDER`, as a TLS layer receives it from a peer.
    ///
    /// - Throws: `HaulError` `invalidArgument` when the bytes are not an X.509 certificate.
    public init(certificateDER: some Sequence<UInt8>) throws {
        self = try IdentityCertificate(derEncoded: certificateDER).spkiPin
    }

    /// Parses the text form: standard base64 of 32 bytes with padding (44 characters).
    ///
    /// - Throws: `HaulError` `invalidArgument` for anything else.
    public init(base64: String) throws {
        guard base64.utf8.count == 44, let data = Data(base64Encoded: base64), data.count == 32 else {
            throw HaulError(
                .invalidArgument,
                "\"\(base64.prefix(80))\" is not a public key pin: expected the standard base64 of a SHA-256 "
                    + "(44 characters ending in \"=\", like HPKP's pin-sha256)")
        }
        bytes = [UInt8](data)
    }

    /// Standard base64 with padding: the text form.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// 64 lowercase hex digits, for logs and tools that print digests in hex.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { base64 }

    /// Decodes the base64 text form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(base64: try container.decode(String.self))
    }

    /// Encodes the base64 text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }
}
