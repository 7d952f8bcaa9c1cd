/// The stable error codes of the HTTP API (docs/service.md §8). A code never changes meaning once shipped; new codes
/// are added as new cases (clients must treat an unknown code by its HTTP status).
public enum APIErrorCode: String, Sendable, Hashable, Codable, CaseIterable {
    // 400
    case malformedJSON
    case unknownField
    case invalidName
    case invalidObjectName
    case contentHashMismatch
    case invalidRange
    case invalidSettings
    /// A CSR or certificate that does not parse, is not P-256, or whose signature does not verify.
    case invalidCertificate
    /// A query parameter (`after`, `limit`) or header (`If-None-Match`) that does not parse.
    case invalidParameter
    // 401
    case unauthenticated
    case assertionMalformed
    case assertionAlgorithmNotAllowed
    case assertionUnknownCertificate
    case assertionBadSignature
    case assertionWrongAudience
    case assertionExpired
    case assertionLifetimeTooLong
    case assertionReplayed
    case assertionNotYetValid
    /// The registered certificate is outside its validity period.
    case certificateNotValid
    case tokenExpired
    case tokenRevoked
    case identityRevoked
    // 403
    case forbidden
    // 404
    case notFound
    // 405
    case methodNotAllowed
    // 409
    case alreadyExists
    case immutable
    case leaseConflict
    // 412
    case preconditionFailed
    // 413
    case bodyTooLarge
    // 500, 503
    case `internal`
    case unavailable

    /// The HTTP status this code is sent with.
    public var status: Int {
        switch self {
        case .malformedJSON, .unknownField, .invalidName, .invalidObjectName, .contentHashMismatch, .invalidRange,
            .invalidSettings, .invalidCertificate, .invalidParameter:
            400
        case .unauthenticated, .assertionMalformed, .assertionAlgorithmNotAllowed, .assertionUnknownCertificate,
            .assertionBadSignature, .assertionWrongAudience, .assertionExpired, .assertionLifetimeTooLong,
            .assertionReplayed, .assertionNotYetValid, .certificateNotValid, .tokenExpired, .tokenRevoked,
            .identityRevoked:
            401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .alreadyExists, .immutable, .leaseConflict: 409
        case .preconditionFailed: 412
        case .bodyTooLarge: 413
        case .internal: 500
        case .unavailable: 503
        }
    }
}

/// The body of every error response: `{"error": {"code": "…", "message": "…"}}`.
public struct APIErrorBody: Sendable, Hashable, Codable {
    public struct Detail: Sendable, Hashable, Codable {
        public var code: APIErrorCode
        /// For people: what failed, on which resource, and what to do next.
        public var message: String
        public init(code: APIErrorCode, message: String) {
            self.code = code
            self.message = message
        }
    }
    public var error: Detail
    public init(code: APIErrorCode, message: String) { error = Detail(code: code, message: message) }
}

/// An API error as a Swift error: thrown by the service's handlers and by clients that decoded an error body.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: APIErrorCode
    public var message: String
    public init(_ code: APIErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var status: Int { code.status }
    public var body: APIErrorBody { APIErrorBody(code: code, message: message) }
    public var description: String { "\(code.rawValue): \(message)" }
}
