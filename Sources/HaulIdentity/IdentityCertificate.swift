import Crypto
import Foundation
import HaulFormat
internal import SwiftASN1
internal import X509

/// An X.509 certificate as Haul uses it: a caller's client certificate issued by the ``CertificateAuthority``, the
/// CA's own root, or the service's TLS certificate (docs/identity.md §2).
///
/// Parsed once at the edge; the DER bytes are kept exactly as received, so the ``thumbprint`` is the SHA-256 of
/// what the holder has. swift-certificates' `Certificate` stays inside this module.
public struct IdentityCertificate: Hashable, Sendable, CustomStringConvertible {
    /// The parsed certificate.
    let x509: Certificate

    /// The DER encoding, byte for byte as parsed or as issued.
    public let derBytes: [UInt8]

    /// SHA-256 of ``derBytes``.
    public let thumbprint: Thumbprint

    /// SHA-256 of the DER of the certificate's `SubjectPublicKeyInfo`.
    public let spkiPin: SPKIPin

    /// Parses a DER-encoded certificate.
    ///
    /// - Throws: `HaulError` `invalidArgument` when the bytes are not an X.509 certificate.
    public init(derEncoded bytes: some Sequence<UInt8>) throws {
        let der = Array(bytes)
        do {
            let x509 = try Certificate(derEncoded: der)
            try self.init(x509: x509, der: der)
        } catch let error as HaulError {
            throw error
        } catch {
            throw HaulError(.invalidArgument, "not a DER X.509 certificate", cause: error)
        }
    }

    /// Parses a PEM certificate (`-----BEGIN CERTIFICATE-----`); text around the block is not allowed.
    ///
    /// - Throws: `HaulError` `invalidArgument` when `pem` is not one PEM certificate.
    public init(pem: String) throws {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: pem)
        } catch {
            throw HaulError(.invalidArgument, "not a PEM certificate", cause: error)
        }
        guard document.discriminator == "CERTIFICATE" else {
            throw HaulError(
                .invalidArgument, "expected a PEM CERTIFICATE block, found \(document.discriminator.prefix(40))")
        }
        try self.init(derEncoded: document.derBytes)
    }

    /// Wraps a certificate this module made.
    init(x509: Certificate) throws {
        var serializer = DER.Serializer()
        try serializer.serialize(x509)
        try self.init(x509: x509, der: serializer.serializedBytes)
    }

    private init(x509: Certificate, der: [UInt8]) throws {
        self.x509 = x509
        self.derBytes = der
        self.thumbprint = Thumbprint(certificateDER: der)
        self.spkiPin = SPKIPin(subjectPublicKeyInfoDER: try Self.subjectPublicKeyInfo(ofCertificateDER: der))
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`, base64 lines of 64 characters).
    public var pem: String {
        PEMDocument(type: "CERTIFICATE", derBytes: derBytes).pemString
    }

    /// The first common name (CN) of the subject, if any.
    public var subjectCommonName: String? { Self.commonName(of: x509.subject) }

    /// The first common name (CN) of the issuer, if any.
    public var issuerCommonName: String? { Self.commonName(of: x509.issuer) }

    /// The start of the validity period.
    public var notValidBefore: Date { x509.notValidBefore }

    /// The end of the validity period.
    public var notValidAfter: Date { x509.notValidAfter }

    /// The serial number as lowercase hex.
    public var serialNumber: String { Hex.encode(x509.serialNumber.bytes) }

    /// Whether the certificate's basic constraints say it is a CA.
    public var isCertificateAuthority: Bool {
        if case .isCertificateAuthority = try? x509.extensions.basicConstraints { return true }
        return false
    }

    /// Whether `time` lies in the validity period (`notValidBefore ≤ time ≤ notValidAfter`, RFC 5280 §4.1.2.5).
    public func isValid(at time: Date) -> Bool {
        notValidBefore <= time && time <= notValidAfter
    }

    /// The DNS names of the subject alternative names extension.
    public var dnsNames: [String] {
        guard let names = try? x509.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { if case .dnsName(let name) = $0 { name } else { nil } }
    }

    /// The IP addresses of the subject alternative names extension: 4 bytes for IPv4, 16 for IPv6.
    public var ipAddresses: [[UInt8]] {
        guard let names = try? x509.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { if case .ipAddress(let octets) = $0 { Array(octets.bytes) } else { nil } }
    }

    /// The P-256 public key, if the certificate has one.
    var p256PublicKey: P256.Signing.PublicKey? { P256.Signing.PublicKey(x509.publicKey) }

    public var description: String {
        "certificate \(subjectCommonName.map { "CN=\($0)" } ?? "without a common name") (sha256 \(thumbprint.hex))"
    }

    public static func == (lhs: IdentityCertificate, rhs: IdentityCertificate) -> Bool {
        lhs.derBytes == rhs.derBytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(thumbprint)
    }

    private static func commonName(of name: DistinguishedName) -> String? {
        for rdn in name {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value) ?? attribute.value.description
            }
        }
        return nil
    }

    /// The DER of the `subjectPublicKeyInfo` field of `Certificate.tbsCertificate` (RFC 5280 §4.1), taken from the
    /// encoding as it is rather than re-serialized, so the pin matches what `openssl` computes from the same file.
    static func subjectPublicKeyInfo(ofCertificateDER der: [UInt8]) throws -> [UInt8] {
        let root = try DER.parse(der)
        guard case .constructed(let certificateFields) = root.content,
            let tbs = certificateFields.first(where: { _ in true }),
            case .constructed(let tbsFields) = tbs.content
        else {
            throw HaulError(.invalidArgument, "not a DER X.509 certificate (no TBSCertificate sequence)")
        }
        var fields = Array(tbsFields)
        // version [0] EXPLICIT is optional (absent means v1).
        if let first = fields.first, first.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
            fields.removeFirst()
        }
        // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
        guard fields.count >= 6 else {
            throw HaulError(.invalidArgument, "not a DER X.509 certificate (TBSCertificate too short)")
        }
        return Array(fields[5].encodedBytes)
    }
}
