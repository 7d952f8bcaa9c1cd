import Foundation
import HaulProtocol
import Hummingbird
import Logging
import Synchronization

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
    public var caller: Caller? {
        didSet { actor.set(caller?.actor) }
    }
    /// The caller's `role:subject`, shared by every copy of this context, so the outermost middleware
    /// (`RequestObserver`) can log who called after an inner one has authenticated the request.
    let actor: ActorBox

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
        actor = ActorBox(nil)
    }

    /// The caller, or `401 unauthenticated` when the route was reached without the auth middleware.
    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError(.unauthenticated, "this route needs a bearer token") }
        return caller
    }
}

/// A `role:subject` that every copy of one request's context sees.
final class ActorBox: Sendable {
    private let value: Mutex<String?>
    init(_ value: String?) { self.value = Mutex(value) }
    func set(_ new: String?) { value.withLock { $0 = new } }
    var current: String? { value.withLock { $0 } }
}
