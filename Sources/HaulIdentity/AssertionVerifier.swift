import Foundation
import HaulFormat
import JWTKit

/// The service side of ``Assertion``: decides whether a token proves possession of a registered certificate's
/// key, for this service, now, for the first time (docs/identity.md §5).
///
/// The verifier holds no state: the registered certificates and the used `jti`s live in the service's database
/// and are reached through the `lookup` and `replay` callbacks. Time is injected.
public struct AssertionVerifier: Sendable {
    /// The largest token accepted, in bytes.
    public static let maximumTokenSize = 8 * 1024

    /// The largest `jti` accepted, in UTF-8 bytes.
    public static let maximumJTISize = 256

    /// How far the caller's clock may differ from `now`: `exp` may lie up to this much in the past, `iat` and
    /// `nbf` up to this much in the future, and a certificate's validity is stretched by it at both ends. It does
    /// not stretch the lifetime limit (`exp - iat ≤ 300 s`).
    public let clockSkew: Duration

    /// A verifier allowing `clockSkew` (default 30 seconds, at most 300).
    public init(clockSkew: Duration = .seconds(30)) {
        precondition(clockSkew >= .zero && clockSkew <= Assertion.maximumLifetime, "clock skew out of range")
        self.clockSkew = clockSkew
    }

    /// Verifies `token`.
    ///
    /// In order (the first failing rule is the reason):
    /// 1. The token is at most 8 KiB, three parts; the header is base64url of a JSON object with a string `alg`
    ///    (`malformed`).
    /// 2. `alg` is neither `none` nor an HMAC `HS*` (`algorithmNotAllowed`), whatever else the token says.
    /// 3. There is no `crit`, and `x5t#S256` holds 32 bytes in base64url (`malformed`); `lookup` returns a
    ///    certificate for them (`unknownCertificate`). `x5c`, `x5u`, `jwk`, `jku` and `kid` are ignored: a key is
    ///    never taken from the token.
    /// 4. `alg` is the algorithm of that certificate's key: ES256 for P-256, nothing else is registered
    ///    (`algorithmNotAllowed`).
    /// 5. The signature is base64url (`malformed`) of 64 bytes that verify with the certificate's key, by jwt-kit
    ///    (`badSignature`).
    /// 6. The claims are a JSON object of the right types (`malformed`) with non-empty `aud`, `sub`, `jti`
    ///    and numeric `iat`, `exp` (`missingClaim`).
    /// 7. `aud` is a single string equal to `audience` (`wrongAudience`).
    /// 8. `exp` is after `iat` (`malformed`) by at most 300 s (`lifetimeTooLong`).
    /// 9. `now < exp + skew` (`expired`); `iat ≤ now + skew` and, if present, `nbf ≤ now + skew`
    ///    (`notYetValid`); the certificate is valid at `now` give or take the skew (`certificateNotValid`).
    /// 10. `replay(jti, exp + skew)` returns `true`: first use (`replayed`). It is called last, so a refused
    ///     token never uses up its `jti`.
    ///
    /// - Parameters:
    ///   - token: The compact JWS.
    ///   - audience: The exact `aud` this service expects.
    ///   - now: The current time (injected clock).
    ///   - lookup: Returns the registered, unrevoked certificate with this thumbprint, or `nil`.
    ///   - replay: Records the `jti` (to be remembered at least until the given date, after which the token is
    ///     refused as expired anyway) and returns `true` if it was not recorded before. It must be atomic
    ///     (insert-if-absent) when several service instances verify at once.
    /// - Returns: The verified claims.
    /// - Throws: `HaulError` `authenticationFailed` whose cause is an ``AssertionError`` with the reason;
    ///   errors thrown by `lookup` or `replay` are passed on unchanged.
    public func verify(
        token: String,
        audience: String,
        now: Date,
        lookup: (Thumbprint) async throws -> IdentityCertificate?,
        replay: (String, Date) async throws -> Bool
    ) async throws -> VerifiedAssertion {
        guard token.utf8.count <= Self.maximumTokenSize else {
            throw refusal(.malformed, "the assertion is longer than \(Self.maximumTokenSize) bytes")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw refusal(.malformed, "the assertion is not a compact JWS (three parts separated by dots)")
        }
        guard let headerBytes = Base64URL.decode(parts[0]),
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any]
        else {
            throw refusal(.malformed, "the assertion's header is not base64url of a JSON object")
        }
        guard let algorithm = header["alg"] as? String else {
            throw refusal(.malformed, "the assertion's header has no alg")
        }
        let normalized = algorithm.uppercased()
        guard normalized != "NONE", !normalized.hasPrefix("HS") else {
            throw refusal(.algorithmNotAllowed, "the assertion's algorithm \(algorithm.prefix(16)) is never accepted")
        }
        guard header["crit"] == nil else {
            throw refusal(.malformed, "the assertion's header has crit; Haul understands no JWS extensions")
        }
        guard let thumbprintText = header["x5t#S256"] as? String else {
            throw refusal(.malformed, "the assertion's header has no x5t#S256 certificate thumbprint")
        }
        guard let thumbprint = try? Thumbprint(base64URL: thumbprintText) else {
            throw refusal(.malformed, "the assertion's x5t#S256 is not 32 bytes of base64url")
        }
        guard let certificate = try await lookup(thumbprint) else {
            throw refusal(.unknownCertificate, "no registered certificate has the thumbprint \(thumbprint.hex)")
        }
        guard let publicKey = certificate.p256PublicKey else {
            throw refusal(.algorithmNotAllowed, "the registered \(certificate) has a key Haul does not verify")
        }
        guard algorithm == "ES256" else {
            throw refusal(
                .algorithmNotAllowed,
                "the assertion's algorithm \(algorithm.prefix(16)) is not ES256, as the key of \(certificate) requires")
        }
        guard let signature = Base64URL.decode(parts[2]) else {
            throw refusal(.malformed, "the assertion's signature is not base64url")
        }
        guard signature.count == 64 else {
            throw refusal(.badSignature, "the assertion's signature does not verify with \(certificate)")
        }
        let claims: ReceivedAssertionClaims
        do {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: try ES256PublicKey(backing: publicKey))
            claims = try await keys.verify(token, as: ReceivedAssertionClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw refusal(.badSignature, "the assertion's signature does not verify with \(certificate)")
        } catch {
            throw refusal(.malformed, "the assertion's claims are not a JSON object of the expected types")
        }
        guard let claimedAudience = claims.aud, let subject = claims.sub, !subject.isEmpty, let jti = claims.jti,
            !jti.isEmpty, let issuedAtSeconds = claims.iat, let expiresAtSeconds = claims.exp
        else {
            throw refusal(.missingClaim, "the assertion lacks one of aud, sub, jti, iat, exp")
        }
        guard case .single(let single) = claimedAudience, single == audience else {
            throw refusal(.wrongAudience, "the assertion is not for the audience \(audience)")
        }
        guard jti.utf8.count <= Self.maximumJTISize else {
            throw refusal(.malformed, "the assertion's jti is longer than \(Self.maximumJTISize) bytes")
        }
        guard issuedAtSeconds.isFinite, expiresAtSeconds.isFinite, expiresAtSeconds > issuedAtSeconds else {
            throw refusal(.malformed, "the assertion's exp is not after its iat")
        }
        let maximum = TimeInterval(Assertion.maximumLifetime.components.seconds)
        guard expiresAtSeconds - issuedAtSeconds <= maximum else {
            throw refusal(
                .lifetimeTooLong,
                "the assertion's lifetime \(expiresAtSeconds - issuedAtSeconds) s exceeds \(Int(maximum)) s")
        }
        let skew = TimeInterval(clockSkew.components.seconds) + TimeInterval(clockSkew.components.attoseconds) / 1e18
        let issuedAt = Date(timeIntervalSince1970: issuedAtSeconds)
        let expiresAt = Date(timeIntervalSince1970: expiresAtSeconds)
        guard now < expiresAt.addingTimeInterval(skew) else {
            throw refusal(.expired, "the assertion expired at \(expiresAt)")
        }
        guard issuedAt <= now.addingTimeInterval(skew) else {
            throw refusal(.notYetValid, "the assertion is issued in the future (\(issuedAt))")
        }
        if let notBefore = claims.nbf {
            guard notBefore.isFinite, Date(timeIntervalSince1970: notBefore) <= now.addingTimeInterval(skew) else {
                throw refusal(.notYetValid, "the assertion is not valid before \(notBefore)")
            }
        }
        guard certificate.notValidBefore <= now.addingTimeInterval(skew),
            now.addingTimeInterval(-skew) <= certificate.notValidAfter
        else {
            throw refusal(.certificateNotValid, "the registered \(certificate) is not valid at \(now)")
        }
        guard try await replay(jti, expiresAt.addingTimeInterval(skew)) else {
            throw refusal(.replayed, "the assertion's jti was used before")
        }
        return VerifiedAssertion(
            thumbprint: thumbprint, certificate: certificate, subject: subject, jti: jti, issuedAt: issuedAt,
            expiresAt: expiresAt)
    }

    private func refusal(_ reason: AssertionError.Reason, _ message: String) -> HaulError {
        AssertionError(reason).haulError(message)
    }
}
