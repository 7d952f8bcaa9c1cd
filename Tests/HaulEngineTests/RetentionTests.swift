import Foundation
import HaulEngine
import Testing

@Suite struct RetentionTests {
    /// "2024-03-10 14:30" style times in UTC.
    static func time(_ text: String) -> Date {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.date(from: text)!
    }

    /// Snapshots named by their time.
    static let snapshots: [(id: String, time: Date)] = [
        "2023-12-31 23:00", "2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 11:30", "2024-01-02 09:00",
        "2024-01-08 09:00", "2024-01-14 09:00", "2024-02-01 09:00", "2024-02-15 09:00", "2024-03-01 09:00",
    ].map { (id: $0, time: time($0)) }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var policy: RetentionPolicy
        var keep: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "last 3", policy: RetentionPolicy(keepLast: 3),
            keep: ["2024-03-01 09:00", "2024-02-15 09:00", "2024-02-01 09:00"]),
        Case(
            name: "hourly 3: newest of each of the last 3 hours with snapshots",
            policy: RetentionPolicy(keepHourly: 3),
            keep: ["2024-03-01 09:00", "2024-02-15 09:00", "2024-02-01 09:00"]),
        Case(
            name: "daily 6", policy: RetentionPolicy(keepDaily: 6),
            keep: [
                "2024-03-01 09:00", "2024-02-15 09:00", "2024-02-01 09:00", "2024-01-14 09:00",
                "2024-01-08 09:00", "2024-01-02 09:00",
            ]),
        Case(
            name: "daily 8 reaches the newest of 2024-01-01", policy: RetentionPolicy(keepDaily: 8),
            keep: [
                "2024-03-01 09:00", "2024-02-15 09:00", "2024-02-01 09:00", "2024-01-14 09:00",
                "2024-01-08 09:00", "2024-01-02 09:00", "2024-01-01 11:30", "2023-12-31 23:00",
            ]),
        // ISO weeks: 2024-01-14 (Sun) and 2024-01-08 (Mon) share week 2; 2024-01-02 and 2024-01-01 week 1;
        // 2023-12-31 (Sun) is in 2023-W52.
        Case(
            name: "weekly 10", policy: RetentionPolicy(keepWeekly: 10),
            keep: [
                "2024-03-01 09:00", "2024-02-15 09:00", "2024-02-01 09:00", "2024-01-14 09:00",
                "2024-01-02 09:00", "2023-12-31 23:00",
            ]),
        Case(
            name: "monthly 2", policy: RetentionPolicy(keepMonthly: 2),
            keep: ["2024-03-01 09:00", "2024-02-15 09:00"]),
        Case(
            name: "yearly unlimited", policy: RetentionPolicy(keepYearly: -1),
            keep: ["2024-03-01 09:00", "2023-12-31 23:00"]),
        Case(
            name: "combined", policy: RetentionPolicy(keepLast: 1, keepMonthly: 3, keepYearly: 5),
            keep: ["2024-03-01 09:00", "2024-02-15 09:00", "2024-01-14 09:00", "2023-12-31 23:00"]),
        Case(name: "zero keeps nothing", policy: RetentionPolicy(keepLast: 0), keep: []),
    ]

    @Test(arguments: cases)
    func keeps(_ c: Case) {
        let result = Retention.apply(to: Self.snapshots.shuffled(), policy: c.policy)
        #expect(result.keep.map(\.id) == c.keep)
        let expectedRemove = Self.snapshots.map(\.id).reversed().filter { !c.keep.contains($0) }
        #expect(result.remove == Array(expectedRemove))
    }

    @Test func reasonsNameEveryRule() {
        let result = Retention.apply(
            to: Self.snapshots, policy: RetentionPolicy(keepLast: 1, keepDaily: 1, keepYearly: 1))
        #expect(result.keep.count == 1)
        #expect(result.keep.first?.reasons == ["last snapshot", "daily snapshot", "yearly snapshot"])
    }

    @Test func tagsKeepTaggedSnapshots() {
        let tagged = Self.snapshots.map {
            (id: $0.id, time: $0.time, tags: $0.id.hasPrefix("2024-01-08") ? ["pin"] : [])
        }
        let result = Retention.apply(to: tagged, policy: RetentionPolicy(keepLast: 1, keepTags: ["pin"]))
        #expect(result.keep.map(\.id) == ["2024-03-01 09:00", "2024-01-08 09:00"])
        #expect(result.keep.last?.reasons == ["tag pin"])
    }

    @Test func emptyPolicyIsReported() {
        #expect(RetentionPolicy().isEmpty)
        #expect(!RetentionPolicy(keepTags: ["x"]).isEmpty)
    }
}
