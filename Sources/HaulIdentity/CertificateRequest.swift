import Crypto
import HaulFormat
internal import SwiftASN1
internal import X509

/// A PKCS #10 certificate signing request (RFC 2986): how a caller registers. It carries the public half of an
/// ``IdentityKey`` and a signature by the private half (proof of possession); the private key stays where it was
/// made (docs/identity.md §2).
///
/// Wraps swift-certificates' `CertificateSigningRequest`, which stays inside this module. The DER bytes are kept
/// exactly as parsed.
public struct CertificateRequest: Hashable, Sendable {
    /// The parsed request.
    let csr: CertificateSigningRequest

    /// The DER encoding.
    public let derBytes: [UInt8]

    /// Makes a request for `key` with subject `CN=<commonName>`, signed with ECDSA P-256 and SHA-256.
    ///
    /// - Throws: `HaulError` `invalidArgument` when `commonName` is empty or longer than 64 characters
    ///   (RFC 5280's upper bound for a common name).
    public init(key: IdentityKey, commonName: String) throws {
        let subject = try Self.distinguishedName(commonName: commonName)
        do {
            let csr = try CertificateSigningRequest(
                version: .v1,
                subject: subject,
                privateKey: Certificate.PrivateKey(key.privateKey),
                attributes: CertificateSigningRequest.Attributes(),
                signatureAlgorithm: .ecdsaWithSHA256
            )
            var serializer = DER.Serializer()
            try serializer.serialize(csr)
            self.csr = csr
            self.derBytes = serializer.serializedBytes
        } catch {
            throw HaulError(.internalError, "cannot make a certificate signing request", cause: error)
        }
    }

    /// Parses a DER-encoded request. The signature is not checked here: call ``verifySignature()``.
    ///
    /// - Throws: `HaulError` `invalidArgument` when the bytes are not a PKCS #10 request.
    public init(derEncoded bytes: some Sequence<UInt8>) throws {
        let der = Array(bytes)
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw HaulError(.invalidArgument, "not a DER certificate signing request (PKCS #10)", cause: error)
        }
        derBytes = der
    }

    /// Parses a PEM request (`-----BEGIN CERTIFICATE REQUEST-----`).
    ///
    /// - Throws: `HaulError` `invalidArgument` when `pem` is not one PEM certificate request.
    public init(pem: String) throws {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: pem)
        } catch {
            throw HaulError(.invalidArgument, "not a PEM certificate signing request", cause: error)
        }
        guard document.discriminator == "CERTIFICATE REQUEST" else {
            throw HaulError(
                .invalidArgument,
                "expected a PEM CERTIFICATE REQUEST block, found \(document.discriminator.prefix(40))")
        }
        try self.init(derEncoded: document.derBytes)
    }

    /// The request as PEM (`-----BEGIN CERTIFICATE REQUEST-----`), as `openssl req` reads it.
    public var pem: String {
        PEMDocument(type: "CERTIFICATE REQUEST", derBytes: derBytes).pemString
    }

    /// The first common name (CN) of the requested subject, if any.
    public var subjectCommonName: String? {
        for rdn in csr.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value) ?? attribute.value.description
            }
        }
        return nil
    }

    /// The pin of the requested public key (equal to the pin of the certificate issued for it).
    public var spkiPin: SPKIPin {
        var serializer = DER.Serializer()
        // Serializing a parsed public key cannot fail.
        try! serializer.serialize(csr.publicKey)
        return SPKIPin(subjectPublicKeyInfoDER: serializer.serializedBytes)
    }

    /// Checks the request's signature with the public key it carries (proof that the requester holds the
    /// private key).
    ///
    /// - Throws: `HaulError` `authenticationFailed` when the signature does not verify.
    public func verifySignature() throws {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw HaulError(.authenticationFailed, "the certificate signing request's signature does not verify")
        }
    }

    /// The public key, if it is P-256 (the only kind ``CertificateAuthority`` issues for).
    var p256PublicKey: P256.Signing.PublicKey? { P256.Signing.PublicKey(csr.publicKey) }

    /// The public key as swift-certificates holds it.
    var publicKey: Certificate.PublicKey { csr.publicKey }

    /// `CN=<commonName>`, refusing what RFC 5280 (ub-common-name = 64) and common sense refuse.
    static func distinguishedName(commonName: String) throws -> DistinguishedName {
        guard !commonName.isEmpty, commonName.count <= 64 else {
            throw HaulError(
                .invalidArgument, "a common name must have 1 to 64 characters, not \(commonName.count)")
        }
        guard !commonName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw HaulError(.invalidArgument, "a common name must not contain control characters")
        }
        do {
            return try DistinguishedName { CommonName(commonName) }
        } catch {
            throw HaulError(.invalidArgument, "cannot encode the common name \"\(commonName)\"", cause: error)
        }
    }
}
