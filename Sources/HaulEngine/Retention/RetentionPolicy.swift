import Foundation

/// Which snapshots `forget`/`prune` keep, restic-style. `nil` leaves a rule unused; a negative count means
/// "unlimited" (every period). A policy with no rule is refused by the caller (`isEmpty`), not here.
public struct RetentionPolicy: Sendable, Codable, Hashable {
    /// Keep the newest N snapshots.
    public var keepLast: Int?
    /// Keep the newest snapshot of each of the last N hours (days, ISO weeks, months, years) that have snapshots.
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    public var keepYearly: Int?
    /// Keep every snapshot carrying at least one of these tags.
    public var keepTags: [String]

    public init(
        keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil,
        keepMonthly: Int? = nil, keepYearly: Int? = nil, keepTags: [String] = []
    ) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepTags = keepTags
    }

    /// True when no rule is set: applying it would remove everything, so callers refuse it.
    public var isEmpty: Bool {
        keepLast == nil && keepHourly == nil && keepDaily == nil && keepWeekly == nil && keepMonthly == nil
            && keepYearly == nil && keepTags.isEmpty
    }
}

/// Applies a `RetentionPolicy` to a list of snapshots.
public enum Retention {
    /// Decides which snapshots a policy keeps, without tags (tag rules keep nothing).
    public static func apply(
        to snapshots: [(id: String, time: Date)], policy: RetentionPolicy, timeZone: TimeZone = .gmt
    ) -> (keep: [(id: String, reasons: [String])], remove: [String]) {
        apply(to: snapshots.map { (id: $0.id, time: $0.time, tags: [String]()) }, policy: policy, timeZone: timeZone)
    }

    /// Decides which snapshots a policy keeps.
    ///
    /// Snapshots are taken newest first (ties by id). `keepLast` keeps the first N. Each bucket rule walks the
    /// snapshots newest first and keeps a snapshot whenever its period (hour, day, ISO-8601 week, month, year in
    /// `timeZone`, UTC by default) differs from that of the snapshot the rule kept last, until it has kept N; so it
    /// keeps the newest snapshot of each of the N most recent periods that have snapshots. `keepTags` keeps every
    /// snapshot with one of the tags. A snapshot is kept if any rule keeps it, with every rule's reason.
    ///
    /// - Returns: the kept snapshots with reasons ("last snapshot", "hourly snapshot", "daily snapshot", "weekly
    ///   snapshot", "monthly snapshot", "yearly snapshot", "tag <name>") and the ids to remove, both newest first.
    public static func apply(
        to snapshots: [(id: String, time: Date, tags: [String])], policy: RetentionPolicy, timeZone: TimeZone = .gmt
    ) -> (keep: [(id: String, reasons: [String])], remove: [String]) {
        let ordered = snapshots.sorted { a, b in a.time != b.time ? a.time > b.time : a.id < b.id }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone

        struct Rule {
            var reason: String
            var remaining: Int?
            var period: (Date) -> [Int]
            var last: [Int]? = nil
        }
        func components(_ units: Set<Calendar.Component>, _ order: [Calendar.Component]) -> (Date) -> [Int] {
            { date in
                let c = calendar.dateComponents(units, from: date)
                return order.map { c.value(for: $0) ?? 0 }
            }
        }
        var rules: [Rule] = [
            Rule(
                reason: "hourly snapshot", remaining: policy.keepHourly,
                period: components([.year, .month, .day, .hour], [.year, .month, .day, .hour])),
            Rule(
                reason: "daily snapshot", remaining: policy.keepDaily,
                period: components([.year, .month, .day], [.year, .month, .day])),
            Rule(
                reason: "weekly snapshot", remaining: policy.keepWeekly,
                period: components([.yearForWeekOfYear, .weekOfYear], [.yearForWeekOfYear, .weekOfYear])),
            Rule(
                reason: "monthly snapshot", remaining: policy.keepMonthly,
                period: components([.year, .month], [.year, .month])),
            Rule(
                reason: "yearly snapshot", remaining: policy.keepYearly,
                period: components([.year], [.year])),
        ].filter { $0.remaining != nil }

        var keep = [(id: String, reasons: [String])]()
        var remove = [String]()
        var lastRemaining = policy.keepLast
        for snapshot in ordered {
            var reasons = [String]()
            if let n = lastRemaining, n != 0 {
                reasons.append("last snapshot")
                lastRemaining = n - 1
            }
            for i in rules.indices {
                guard let n = rules[i].remaining, n != 0 else { continue }
                let period = rules[i].period(snapshot.time)
                if period != rules[i].last {
                    reasons.append(rules[i].reason)
                    rules[i].last = period
                    rules[i].remaining = n - 1
                }
            }
            for tag in policy.keepTags where snapshot.tags.contains(tag) { reasons.append("tag \(tag)") }
            if reasons.isEmpty { remove.append(snapshot.id) } else { keep.append((snapshot.id, reasons)) }
        }
        return (keep, remove)
    }
}
