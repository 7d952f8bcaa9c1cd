import HaulFormat

/// Why an assertion was refused: the `cause` of the `HaulError` (code `authenticationFailed`) that
/// ``AssertionVerifier/verify(token:audience:now:lookup:replay:)`` throws.
///
/// The reasons are stable (their raw values may appear in HTTP error bodies and logs) and distinct, so the HTTP
/// layer can answer precisely: `malformed` and `missingClaim` are the client's bug (400), the others are failed
/// authentication (401). Read them with ``Swift/Error/assertionRefusal``.
public struct AssertionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason for refusing an assertion (docs/identity.md §5).
    public enum Reason: String, Hashable, Sendable, CaseIterable {
        /// Not a compact JWS of three base64url parts, header or claims not JSON objects, a claim of the wrong
        /// type, a `crit` header, no `x5t#S256` header, `exp` not after `iat`, or longer than 8 KiB.
        case malformed
        /// `alg` is `none`, an HMAC (`HS*`), or anything but the algorithm of the registered certificate's key.
        case algorithmNotAllowed
        /// No certificate is registered under the `x5t#S256` thumbprint.
        case unknownCertificate
        /// The registered certificate is outside its validity period.
        case certificateNotValid
        /// The signature does not verify with the registered certificate's key.
        case badSignature
        /// `aud` is not exactly the expected audience (a single string).
        case wrongAudience
        /// `exp` has passed (beyond the clock skew).
        case expired
        /// `exp - iat` exceeds 300 seconds.
        case lifetimeTooLong
        /// `iat` or `nbf` lies in the future (beyond the clock skew).
        case notYetValid
        /// The `jti` was seen before.
        case replayed
        /// `sub`, `aud`, `iat`, `exp` or `jti` is absent or empty.
        case missingClaim
    }

    /// Why the assertion was refused.
    public let reason: Reason

    /// Wraps a reason.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var description: String { "assertion refused: \(reason.rawValue)" }

    /// The Haul error for this refusal, with `message` for people (terse: no token contents).
    func haulError(_ message: String) -> HaulError {
        HaulError(.authenticationFailed, message, cause: self)
    }
}

extension Error {
    /// The reason an assertion was refused, when this error is such a refusal, else `nil`.
    public var assertionRefusal: AssertionError.Reason? {
        if let error = self as? AssertionError { return error.reason }
        return ((self as? HaulError)?.cause as? AssertionError)?.reason
    }
}
