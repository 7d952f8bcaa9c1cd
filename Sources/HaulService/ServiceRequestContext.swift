import Foundation
import HaulProtocol
import Hummingbird
import Logging

/// Who is calling: the bearer token's row, checked by `BearerAuthMiddleware` on this request.
public struct Caller: Sendable, Hashable {
    public var subscription: UUID?
    public var role: Role
    public var subject: String
    public var thumbprint: String
    public var tokenExpires: Date

    /// `role:subject`, as written to the audit log.
    public var actor: String { "\(role.rawValue):\(subject)" }
}

/// The request context of the service: Hummingbird's core storage plus the authenticated caller.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `BearerAuthMiddleware`; `nil` on unauthenticated routes.
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
    }

    /// The caller, or `401 unauthenticated` when the route was reached without the auth middleware.
    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError(.unauthenticated, "this route needs a bearer token") }
        return caller
    }
}
