import Foundation
import HaulFormat
import JWTKit

/// The short signed statement with which a caller proves it holds a registered certificate's key
/// (docs/identity.md §4): a compact JWS (RFC 7515) signed with ES256, whose header names the certificate by its
/// SHA-256 thumbprint (`x5t#S256`) and whose claims say for whom (`aud`), who (`sub`), when (`iat`, `exp`) and
/// once (`jti`).
///
/// ```
/// header  {"alg":"ES256","typ":"JWT","x5t#S256":"<base64url of the 32 thumbprint bytes>"}
/// claims  {"aud":"<audience>","sub":"<subject>","iat":<seconds>,"exp":<iat + lifetime>,"jti":"<random>"}
/// ```
///
/// The service answers a valid assertion with a bearer token; the assertion itself is single-use.
public enum Assertion {
    /// The longest lifetime (`exp - iat`) an assertion may have.
    public static let maximumLifetime: Duration = .seconds(300)

    /// Signs an assertion with `key` for `certificate`.
    ///
    /// Signing and serialization are jwt-kit's (ES256: ECDSA P-256 with SHA-256, the signature as the 64 bytes
    /// `r ‖ s`, RFC 7518 §3.4). `iat` is `now` rounded down to a whole second, `exp` is `iat` plus `lifetime` in
    /// whole seconds.
    ///
    /// - Parameters:
    ///   - key: The caller's identity key.
    ///   - certificate: The caller's registered certificate, which must be for `key`.
    ///   - audience: The `aud` claim: the service's URL or name, which the verifier compares exactly.
    ///   - subject: The `sub` claim: the caller's subject (which server or application).
    ///   - lifetime: From 1 to 300 seconds (default 60).
    ///   - now: The current time (injected clock).
    ///   - jti: The unique identifier (default: 128 random bits, base64url).
    /// - Returns: The compact serialization `header.claims.signature`.
    /// - Throws: `HaulError` `invalidArgument` when the lifetime is out of range, `certificate` is not for `key`,
    ///   or `audience`, `subject` or `jti` is empty.
    public static func sign(
        key: IdentityKey,
        certificate: IdentityCertificate,
        audience: String,
        subject: String,
        lifetime: Duration = .seconds(60),
        now: Date,
        jti: String = Assertion.randomJTI()
    ) async throws -> String {
        let seconds = lifetime.components.seconds
        guard seconds >= 1, lifetime <= maximumLifetime else {
            throw HaulError(.invalidArgument, "an assertion's lifetime must be 1 to 300 seconds, not \(lifetime)")
        }
        guard key.matches(certificate) else {
            throw HaulError(.invalidArgument, "the \(certificate) is not for the given identity key")
        }
        guard !audience.isEmpty, !subject.isEmpty, !jti.isEmpty else {
            throw HaulError(.invalidArgument, "an assertion needs a non-empty audience, subject and jti")
        }
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        let claims = IssuedAssertionClaims(
            aud: audience, sub: subject, iat: issuedAt, exp: issuedAt + seconds, jti: jti)
        var header = JWTHeader()
        header.x5tS256 = certificate.thumbprint.base64URL
        do {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: try ES256PrivateKey(backing: key.privateKey))
            return try await keys.sign(claims, header: header)
        } catch {
            throw HaulError(.internalError, "cannot sign an assertion", cause: error)
        }
    }

    /// A fresh `jti`: 16 bytes from the system's secure random source as unpadded base64url (22 characters).
    public static func randomJTI() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
