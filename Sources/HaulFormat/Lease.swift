import Foundation

/// A lease on a repository (format.md §10).
public struct Lease: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable { case shared, exclusive }
    public var version: Int = 1
    public var kind: Kind
    public var hostname: String
    public var pid: Int32
    public var purpose: String
    public var created: Date
    public var expires: Date
    /// The user name of the process that took the lease (format.md §10). Optional: leases written before this field
    /// existed have none, and readers must accept that.
    public var user: String?

    public init(
        kind: Kind, hostname: String, pid: Int32, purpose: String, created: Date, expires: Date, user: String? = nil
    ) {
        self.kind = kind
        self.hostname = hostname
        self.pid = pid
        self.purpose = purpose
        self.created = created
        self.expires = expires
        self.user = user
    }

    /// Whether this lease conflicts with one of `kind` taken by someone else.
    public func conflicts(with kind: Kind) -> Bool { self.kind == .exclusive || kind == .exclusive }
}
