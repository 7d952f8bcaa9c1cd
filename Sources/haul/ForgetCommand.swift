import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository
import HaulStorageFS

struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove snapshots by a retention policy, and optionally prune.",
        discussion: """
            Snapshots are grouped by host and paths; in each group the policy keeps the newest N snapshots \
            (--keep-last) and the newest snapshot of each of the last N hours, days, weeks, months and years. \
            Data is only removed by prune (--prune, or `haul prune` later).

            Example: haul forget --repo /backup/repo --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --prune
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Keep the N newest snapshots.") var keepLast: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N hours.") var keepHourly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N days.") var keepDaily: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N weeks.") var keepWeekly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N months.") var keepMonthly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the last N years.") var keepYearly: Int?
    @Option(name: .long, help: "Keep every snapshot with this tag (repeatable).") var keepTag: [String] = []
    @Flag(name: .long, help: "Run prune afterwards.") var prune = false
    @Flag(name: .long, help: "Only show what would be removed.") var dryRun = false

    func validate() throws {
        let all = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly]
        if all.allSatisfy({ $0 == nil }) && keepTag.isEmpty {
            throw ValidationError("give at least one --keep-* option; forget never removes every snapshot by default")
        }
        if all.contains(where: { ($0 ?? 1) < 1 }) { throw ValidationError("--keep-* values must be at least 1") }
    }

    func run() async throws {
        let repository = try await global.openRepository()
        var policy = RetentionPolicy()
        policy.keepLast = keepLast
        policy.keepHourly = keepHourly
        policy.keepDaily = keepDaily
        policy.keepWeekly = keepWeekly
        policy.keepMonthly = keepMonthly
        policy.keepYearly = keepYearly
        policy.keepTags = keepTag
        let all = try await repository.listSnapshots()
        let groups = Dictionary(grouping: all) { "\($0.snapshot.hostname)\u{0}\($0.snapshot.paths.map(\.description))" }
        var removed: [StoredSnapshot] = []
        var kept: [(StoredSnapshot, [String])] = []
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let byID = Dictionary(uniqueKeysWithValues: group.map { ($0.id.hex, $0) })
            let result = Retention.apply(
                to: group.map { (id: $0.id.hex, time: $0.snapshot.time, tags: $0.snapshot.tags) }, policy: policy)
            kept += result.keep.compactMap { k in byID[k.id].map { ($0, k.reasons) } }
            removed += result.remove.compactMap { byID[$0] }
        }
        let dryRun = self.dryRun
        let doPrune = self.prune
        let toRemove = removed
        let pruneReport: PruneReport? = try await global.leases(repository).withLease(.exclusive, purpose: "forget") {
            if !dryRun { for s in toRemove { try await repository.deleteSnapshot(s.id) } }
            guard doPrune else { return nil }
            return try await Pruner(repository: repository).prune(dryRun: dryRun)
        }
        if global.json {
            struct Kept: Encodable {
                let id: String
                let reasons: [String]
            }
            struct Out: Encodable {
                let dryRun: Bool
                let keep: [Kept]
                let remove: [String]
                let prune: PruneReport?
            }
            try printJSON(
                Out(
                    dryRun: dryRun, keep: kept.map { Kept(id: $0.0.id.hex, reasons: $0.1) },
                    remove: removed.map(\.id.hex), prune: pruneReport))
        } else {
            for (s, reasons) in kept {
                print(
                    "keep   \(s.id.hex.prefix(16)) \(HaulDate.format(s.snapshot.time)) (\(reasons.joined(separator: ", ")))"
                )
            }
            for s in removed {
                print(
                    "\(dryRun ? "would remove" : "remove") \(s.id.hex.prefix(16)) \(HaulDate.format(s.snapshot.time))")
            }
            if let r = pruneReport { PruneCommand.describe(r) }
        }
    }
}

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove data that no snapshot refers to.",
        discussion: """
            Takes the repository's exclusive lease (waits for no one: if a backup holds a shared lease, prune stops \
            with exit status 11), rewrites mostly-unused packs, writes a new index and deletes what is unused.

            Example: haul prune --repo /backup/repo --dry-run
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Only show what would be removed.") var dryRun = false

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let dryRun = self.dryRun
        let report = try await global.leases(repository).withLease(.exclusive, purpose: "prune") {
            try await Pruner(repository: repository).prune(dryRun: dryRun)
        }
        if !dryRun, let fs = repository.store as? FileSystemBlobStore {
            _ = try? fs.removeStaleTemporaryFiles(olderThan: 3600)
        }
        if global.json { try printJSON(report) } else { Self.describe(report) }
    }

    static func describe(_ r: PruneReport) {
        print(
            "\(r.dryRun ? "would delete" : "deleted") \(r.packsDeleted + r.unreferencedPacksDeleted) packs, "
                + "repacked \(r.packsRepacked) into \(r.packsWritten), kept \(r.packsKept); freed \(formatBytes(r.bytesFreed))"
        )
    }
}
