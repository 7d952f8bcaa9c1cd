import Foundation
import JWTKit

/// The claims an ``Assertion`` carries, as the signer writes them (docs/identity.md §4): whole seconds since
/// the epoch for the times.
struct IssuedAssertionClaims: JWTPayload {
    var aud: String
    var sub: String
    var iat: Int64
    var exp: Int64
    var jti: String

    /// Checks are made by ``AssertionVerifier`` with its injected clock, not here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The claims as a verifier reads them: every field optional, so a missing claim is told apart from a malformed
/// one; times are JSON numbers (NumericDate, RFC 7519 §2, may have a fraction).
struct ReceivedAssertionClaims: JWTPayload {
    /// `aud` may be a string or an array of strings (RFC 7519 §4.1.3); Haul accepts only the string form.
    enum Audience: Codable, Sendable {
        case single(String)
        case multiple([String])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let single = try? container.decode(String.self) {
                self = .single(single)
            } else {
                self = .multiple(try container.decode([String].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .single(let value): try container.encode(value)
            case .multiple(let values): try container.encode(values)
            }
        }
    }

    var aud: Audience?
    var sub: String?
    var iat: Double?
    var exp: Double?
    var nbf: Double?
    var jti: String?

    /// Checks are made by ``AssertionVerifier`` with its injected clock, not here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
