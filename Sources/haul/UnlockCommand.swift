import ArgumentParser
import Foundation
import HaulFormat
import HaulRepository

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock", abstract: "Remove stale leases (of crashed or killed processes).",
        discussion: """
            Removes leases that have expired, and leases taken on this host by processes that no longer exist \
            (format.md §10); a live lease is never removed. Says whose each removed lease was.

            Example: haul unlock --repo /backup/repo
            """)

    @OptionGroup var global: GlobalOptions

    struct LeaseOut: Encodable {
        let id: String
        let kind: String
        let purpose: String
        let hostname: String
        let pid: Int32
        let created: Date
        let expires: Date
        let reason: String?

        init(key: String, lease: Lease, reason: LeaseManager.Staleness?) {
            (id, kind, purpose, hostname, pid) = (key, lease.kind.rawValue, lease.purpose, lease.hostname, lease.pid)
            (created, expires, self.reason) = (lease.created, lease.expires, reason?.rawValue)
        }
    }

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let leases = global.leases(repository)
        let removed = try await leases.removeStale()
        let live = try await leases.list().filter { leases.isLive($0.lease) }
        if global.json {
            struct Out: Encodable {
                let removed: [LeaseOut]
                let live: [LeaseOut]
            }
            try printJSON(
                Out(
                    removed: removed.map { LeaseOut(key: $0.key.name, lease: $0.lease, reason: $0.reason) },
                    live: live.map { LeaseOut(key: $0.key.name, lease: $0.lease, reason: nil) }))
            return
        }
        for r in removed {
            let why = r.reason == .expired ? "expired" : "its process is gone"
            print("removed \(describe(r.lease)) (\(why))")
        }
        if removed.isEmpty { print("no stale leases") }
        for l in live { print("kept live \(describe(l.lease))") }
    }

    private func describe(_ l: Lease) -> String {
        "\(l.kind.rawValue) lease for \(l.purpose) by pid \(l.pid) on \(l.hostname), expires \(HaulDate.format(l.expires))"
    }
}
