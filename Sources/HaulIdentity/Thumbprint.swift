import Crypto
import HaulFormat

/// The SHA-256 of a certificate's DER encoding: the key under which the service registers a caller's certificate
/// and the value of an assertion's `x5t#S256` header (docs/identity.md §3).
///
/// The text form is 64 lowercase hex digits (`openssl x509 -outform der | sha256sum`). JOSE headers carry the same
/// 32 bytes as unpadded base64url (RFC 7515 §4.1.8), see ``base64URL``.
public struct Thumbprint: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The thumbprint of the certificate whose DER encoding is `certificateDER` (no parsing: any bytes hash).
    public init(certificateDER: some Sequence<UInt8>) {
        bytes = Array(SHA256.hash(data: Array(certificateDER)))
    }

    /// Wraps 32 digest bytes.
    ///
    /// - Throws: `HaulError` `invalidArgument` unless there are exactly 32 bytes.
    public init(bytes: some Sequence<UInt8>) throws {
        let bytes = Array(bytes)
        guard bytes.count == 32 else {
            throw HaulError(.invalidArgument, "a certificate thumbprint is 32 bytes (SHA-256), not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Parses the text form: exactly 64 lowercase hex digits.
    ///
    /// - Throws: `HaulError` `invalidArgument` naming the input for anything else (uppercase, colons, other
    ///   lengths).
    public init(hex: String) throws {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else {
            throw HaulError(
                .invalidArgument,
                "\"\(hex.prefix(80))\" is not a certificate thumbprint: expected 64 lowercase hex digits "
                    + "(the SHA-256 of the certificate's DER, as `openssl x509 -outform der | sha256sum` prints it)")
        }
        self.bytes = bytes
    }

    /// Parses the JOSE form: the 32 bytes as unpadded base64url (43 characters), as in an `x5t#S256` header.
    ///
    /// - Throws: `HaulError` `invalidArgument` for anything else.
    public init(base64URL: String) throws {
        guard let bytes = Base64URL.decode(base64URL), bytes.count == 32 else {
            throw HaulError(
                .invalidArgument,
                "\"\(base64URL.prefix(80))\" is not a SHA-256 thumbprint in unpadded base64url (43 characters)")
        }
        self.bytes = bytes
    }

    /// 64 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// Unpadded base64url of the 32 bytes: the value of an `x5t#S256` header.
    public var base64URL: String { Base64URL.encode(bytes) }

    public var description: String { hex }

    /// Decodes the hex text form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(hex: try container.decode(String.self))
    }

    /// Encodes the hex text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
