import Foundation

/// One audit event as the API shows it.
public struct AuditEventInfo: Codable, Sendable, Hashable {
    public var sequence: Int64
    public var time: Date
    /// `role:subject` of the caller, or `admin-cli`.
    public var actor: String
    /// e.g. `vault.create`, `server.register`, `object.delete`.
    public var action: String
    public var target: String
    public var detail: String
    public init(sequence: Int64, time: Date, actor: String, action: String, target: String, detail: String) {
        self.sequence = sequence
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// `GET /v1/audit?after=SEQUENCE&limit=N` (subscription admin), oldest first. `next` is the `after` of the next
/// page, `nil` at the end.
public struct AuditPage: Codable, Sendable, Hashable {
    public var events: [AuditEventInfo]
    public var next: Int64?
    public init(events: [AuditEventInfo], next: Int64?) {
        self.events = events
        self.next = next
    }
}
