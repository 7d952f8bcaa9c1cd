/// The roles a caller can hold (docs/service.md §3). Closed: a new role is a new case, a new migration of the
/// metadata store and a new row in docs/service.md §3.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    /// The customer's administrator: everything inside its own subscription.
    case subscriptionAdmin
    /// A site machine holding publish settings: registers and recovers servers of one vault (the subject).
    case site
    /// A registered server: its own repository's objects and leases (the subject is the server id).
    case server
    /// The offline backup application of a subscription (the subject is the application id).
    case offlineApp
    /// A datacenter operator of the provider.
    case `operator`
}
