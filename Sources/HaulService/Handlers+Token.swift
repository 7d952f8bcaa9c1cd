import Foundation
import HaulFormat
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Hummingbird

extension Handlers {
    /// `POST /v1/token` (docs/service.md §4).
    func addTokenRoutes(to router: Router<ServiceRequestContext>) {
        router.post(RouterPath(APIRoute.token)) { request, _ in
            try await exchangeToken(request)
        }
    }

    func exchangeToken(_ request: Request) async throws -> Response {
        let body = try await decode(TokenRequest.self, from: request)
        let time = now()
        let audience = APIAudience.token(serviceURL: configuration.serviceURL)
        let verified: VerifiedAssertion
        do {
            verified = try await AssertionVerifier().verify(
                token: body.assertion, audience: audience, now: time,
                lookup: { thumbprint in
                    guard let identity = try await metadata.identity(thumbprint: thumbprint.hex) else { return nil }
                    guard !identity.revoked else {
                        throw APIError(.identityRevoked, "the certificate \(thumbprint.hex) has been revoked")
                    }
                    return try IdentityCertificate(pem: identity.certificatePEM)
                },
                replay: { jti, expires in try await metadata.recordAssertionID(jti, expires: expires) })
        } catch let error where error.assertionRefusal != nil {
            throw Self.refusal(error.assertionRefusal!, audience: audience)
        }
        // Read again: the identity row is the authority on role, subject and revocation.
        guard let identity = try await metadata.identity(thumbprint: verified.thumbprint.hex), !identity.revoked else {
            throw APIError(.identityRevoked, "the certificate \(verified.thumbprint.hex) has been revoked")
        }
        let token = Self.randomToken()
        let expires = min(time.addingTimeInterval(configuration.tokenLifetime), identity.notAfter)
        try await metadata.createToken(
            TokenRecord(
                hash: Self.sha256Hex(Array(token.utf8)), thumbprint: identity.thumbprint,
                subscription: identity.subscription, role: identity.role, subject: identity.subject, expires: expires))
        return try json(
            TokenResponse(
                token: token, expiresAt: expires, subscription: identity.subscription, role: identity.role,
                subject: identity.subject))
    }

    /// 32 bytes from the system CSPRNG, unpadded base64url.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The stable API code of an assertion refusal. Messages are terse: they never echo the token.
    static func refusal(_ reason: AssertionError.Reason, audience: String) -> APIError {
        switch reason {
        case .malformed, .missingClaim:
            APIError(.assertionMalformed, "the assertion is not a well-formed ES256 JWT with aud, sub, jti, iat, exp")
        case .algorithmNotAllowed:
            APIError(.assertionAlgorithmNotAllowed, "the assertion's algorithm is not allowed; sign with ES256")
        case .unknownCertificate:
            APIError(.assertionUnknownCertificate, "no registered certificate has the assertion's x5t#S256")
        case .certificateNotValid:
            APIError(.certificateNotValid, "the registered certificate is not valid now; ask for a new credential")
        case .badSignature:
            APIError(.assertionBadSignature, "the assertion's signature does not verify")
        case .wrongAudience:
            APIError(.assertionWrongAudience, "the assertion's aud must be \(audience)")
        case .expired:
            APIError(.assertionExpired, "the assertion has expired; sign a new one (check the clock)")
        case .lifetimeTooLong:
            APIError(.assertionLifetimeTooLong, "an assertion may live at most 300 seconds")
        case .notYetValid:
            APIError(.assertionNotYetValid, "the assertion is not valid yet (check the clock)")
        case .replayed:
            APIError(.assertionReplayed, "this assertion was used before; sign a new one for each token")
        }
    }
}

/// Checks `Authorization: Bearer <token>` on every `/v1` route: the token row must exist, be unrevoked and
/// unexpired, and its identity unrevoked; all read from the metadata store on every request, so a revocation
/// holds at once on every instance (docs/service.md §4).
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let handlers: Handlers

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            case let token = String(header.dropFirst("Bearer ".count)), !token.isEmpty, token.utf8.count <= 256
        else {
            throw APIError(.unauthenticated, "send Authorization: Bearer <token> (from POST /v1/token)")
        }
        guard let row = try await handlers.metadata.token(hash: Handlers.sha256Hex(Array(token.utf8))) else {
            throw APIError(.unauthenticated, "the bearer token is not known; get one from POST /v1/token")
        }
        guard !row.revoked else { throw APIError(.tokenRevoked, "the bearer token has been revoked") }
        guard row.expires > handlers.now() else {
            throw APIError(.tokenExpired, "the bearer token has expired; get a new one from POST /v1/token")
        }
        guard let identity = try await handlers.metadata.identity(thumbprint: row.thumbprint), !identity.revoked else {
            throw APIError(.identityRevoked, "the identity of this token has been revoked")
        }
        var context = context
        context.caller = Caller(
            subscription: row.subscription, role: row.role, subject: row.subject, thumbprint: row.thumbprint,
            tokenExpires: row.expires)
        return try await next(request, context)
    }
}
