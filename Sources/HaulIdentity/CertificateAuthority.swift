import Crypto
import Foundation
import HaulFormat
internal import SwiftASN1
@_spi(FixedExpiryValidationTime) internal import X509

/// The service's issuing CA: a self-signed P-256 root that signs the client certificates of registered callers
/// (docs/identity.md §2).
///
/// The CA certifies a key and a common name, nothing else: roles and subjects (which server, which application)
/// live in the service's database, keyed by the certificate's ``Thumbprint``, so they can change without
/// re-issuing and are never read from a certificate a caller presents.
///
/// All times are given by the caller (an injected clock); serial numbers are 20 random bytes from the system's
/// secure random source.
public struct CertificateAuthority: Sendable {
    /// The CA's private key.
    public let key: IdentityKey

    /// The CA's self-signed root certificate.
    public let certificate: IdentityCertificate

    /// Pairs a key and a certificate loaded from the data directory.
    ///
    /// - Throws: `HaulError` `invalidArgument` when the certificate is not for `key`, is not a CA certificate, or
    ///   is not self-signed by `key`.
    public init(key: IdentityKey, certificate: IdentityCertificate) throws {
        guard key.matches(certificate) else {
            throw HaulError(.invalidArgument, "the CA \(certificate) is not for the given key")
        }
        guard certificate.isCertificateAuthority else {
            throw HaulError(.invalidArgument, "\(certificate) is not a CA certificate (basic constraints)")
        }
        guard certificate.x509.publicKey.isValidSignature(certificate.x509.signature, for: certificate.x509) else {
            throw HaulError(.invalidArgument, "\(certificate) is not self-signed by its key")
        }
        self.key = key
        self.certificate = certificate
    }

    /// Makes a new CA: a fresh key and a self-signed root `CN=<commonName>` valid from `notValidBefore` to
    /// `notValidAfter` (rounded down to whole seconds), with basic constraints `CA:TRUE, pathlen:0` and key usage
    /// `keyCertSign, cRLSign` (both critical), and a subject key identifier.
    ///
    /// - Throws: `HaulError` `invalidArgument` for a bad common name or an empty validity period.
    public static func create(commonName: String, notValidBefore: Date, notValidAfter: Date) throws
        -> CertificateAuthority
    {
        let (key, certificate) = try selfSigned(
            commonName: commonName, notValidBefore: notValidBefore, notValidAfter: notValidAfter
        ) { publicKey in
            try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            }
        }
        return try CertificateAuthority(key: key, certificate: IdentityCertificate(x509: certificate))
    }

    /// A new P-256 key and a certificate for it signed by itself (issuer = subject = `CN=<commonName>`), valid between
    /// the two dates rounded down to whole seconds; `extensions` gets the certificate's public key.
    static func selfSigned(
        commonName: String, notValidBefore: Date, notValidAfter: Date,
        extensions: (Certificate.PublicKey) throws -> Certificate.Extensions
    ) throws -> (IdentityKey, Certificate) {
        let key = IdentityKey()
        let name = try CertificateRequest.distinguishedName(commonName: commonName)
        let notValidBefore = wholeSecond(notValidBefore)
        let notValidAfter = wholeSecond(notValidAfter)
        try checkValidity(notValidBefore, notValidAfter)
        let publicKey = Certificate.PublicKey(key.privateKey.publicKey)
        let certificate = try make {
            try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: notValidBefore,
                notValidAfter: notValidAfter,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try extensions(publicKey),
                issuerPrivateKey: Certificate.PrivateKey(key.privateKey)
            )
        }
        return (key, certificate)
    }

    /// Issues a client certificate for the key of `request`, with subject `CN=<commonName>` (the service chooses
    /// it; the request's own subject is ignored), valid from `notValidBefore` to `notValidAfter` (both rounded
    /// down to whole seconds).
    ///
    /// The certificate has basic constraints `CA:FALSE` and key usage `digitalSignature` (both critical),
    /// extended key usage `clientAuth`, and subject and authority key identifiers.
    ///
    /// - Throws: `HaulError` `authenticationFailed` when the request's signature does not verify (no proof of
    ///   possession), `invalidArgument` when its key is not P-256, the common name is bad, or the validity period
    ///   is empty or reaches past the CA's own.
    public func issueClientCertificate(
        for request: CertificateRequest,
        commonName: String,
        notValidBefore: Date,
        notValidAfter: Date
    ) throws -> IdentityCertificate {
        try request.verifySignature()
        guard request.p256PublicKey != nil else {
            throw HaulError(
                .invalidArgument, "the certificate signing request's key is not P-256; Haul issues for P-256 only")
        }
        let subject = try CertificateRequest.distinguishedName(commonName: commonName)
        let notValidBefore = Self.wholeSecond(notValidBefore)
        let notValidAfter = Self.wholeSecond(notValidAfter)
        try Self.checkValidity(notValidBefore, notValidAfter)
        guard notValidBefore >= certificate.notValidBefore, notValidAfter <= certificate.notValidAfter else {
            throw HaulError(
                .invalidArgument,
                "the validity \(notValidBefore)…\(notValidAfter) reaches outside the CA's "
                    + "\(certificate.notValidBefore)…\(certificate.notValidAfter)")
        }
        let issuerKeyID = try? certificate.x509.extensions.subjectKeyIdentifier?.keyIdentifier
        let publicKey = request.publicKey
        let issued = try Self.make {
            try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: notValidBefore,
                notValidAfter: notValidAfter,
                issuer: certificate.x509.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.clientAuth])
                    SubjectKeyIdentifier(hash: publicKey)
                    AuthorityKeyIdentifier(keyIdentifier: issuerKeyID)
                },
                issuerPrivateKey: Certificate.PrivateKey(key.privateKey)
            )
        }
        return try IdentityCertificate(x509: issued)
    }

    /// Checks that `certificate` was issued by this CA and that the chain (leaf, root) is valid at `time`: both
    /// validity periods contain `time`, and the chain meets RFC 5280 rules (signatures, basic constraints, key
    /// usage, name chaining) by swift-certificates' `Verifier`.
    ///
    /// The `Verifier`'s expiry policy is given the injected `time` (`RFC5280Policy(fixedExpiryValidationTime:)`,
    /// which swift-certificates offers as SPI for exactly this); the validity periods are also checked first here,
    /// for a plainer message.
    ///
    /// - Throws: `HaulError` `authenticationFailed` with the reasons when no valid chain can be built.
    public func verify(_ certificate: IdentityCertificate, at time: Date) async throws {
        for member in [certificate, self.certificate] where !member.isValid(at: time) {
            throw HaulError(
                .authenticationFailed,
                "\(member) is not valid at \(time) (valid \(member.notValidBefore)…\(member.notValidAfter))")
        }
        var verifier = Verifier(rootCertificates: CertificateStore([self.certificate.x509])) {
            RFC5280Policy(fixedExpiryValidationTime: time)
        }
        let result = await verifier.validate(leaf: certificate.x509, intermediates: CertificateStore())
        switch result {
        case .validCertificate:
            return
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }.joined(separator: "; ")
            throw HaulError(
                .authenticationFailed,
                "\(certificate) does not chain to the CA \(self.certificate) at \(time)"
                    + (reasons.isEmpty ? "" : ": \(reasons)"))
        }
    }

    /// `date` rounded down to a whole second: X.509 times have no fraction (RFC 5280 §4.1.2.5), so validity
    /// periods are compared, and encoded, in whole seconds.
    static func wholeSecond(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    static func checkValidity(_ notValidBefore: Date, _ notValidAfter: Date) throws {
        guard notValidBefore < notValidAfter else {
            throw HaulError(
                .invalidArgument, "the validity period \(notValidBefore)…\(notValidAfter) is empty")
        }
    }

    /// Runs a swift-certificates constructor and reports its failures as Haul errors.
    static func make(_ body: () throws -> Certificate) throws -> Certificate {
        do {
            return try body()
        } catch let error as HaulError {
            throw error
        } catch {
            throw HaulError(.internalError, "cannot make a certificate", cause: error)
        }
    }
}
