import ArgumentParser
import Foundation
import HaulFormat
import HaulRepository

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock", abstract: "Remove expired leases (of crashed or killed processes).",
        discussion: """
            Removes the leases that have expired (format.md §10) and says whose each was: kind, purpose, user, \
            process id and host. A live lease is never removed. --stale-local also removes the leases taken on \
            this host by processes that no longer exist (a killed backup), which other commands already ignore; \
            without it they are listed as kept.

            Example: haul unlock --repo /backup/repo
            Example: haul unlock --repo /backup/repo --stale-local
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Also remove leases taken on this host by processes that no longer exist.")
    var staleLocal = false

    struct LeaseOut: Encodable {
        let id: String
        let kind: String
        let purpose: String
        let hostname: String
        let pid: Int32
        let user: String?
        let created: Date
        let expires: Date
        let reason: String?

        init(key: String, lease: Lease, reason: LeaseManager.Staleness?) {
            (id, kind, purpose, hostname, pid) = (key, lease.kind.rawValue, lease.purpose, lease.hostname, lease.pid)
            (user, created, expires, self.reason) = (lease.user, lease.created, lease.expires, reason?.rawValue)
        }
    }

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let leases = global.leases(repository)
        let removed = try await leases.removeStale(includingProcessGone: staleLocal)
        let remaining = try await leases.list()
        let live = remaining.filter { leases.isLive($0.lease) }
        let staleKept = remaining.compactMap { entry in
            leases.staleness(of: entry.lease).map { (key: entry.key, lease: entry.lease, reason: $0) }
        }
        if global.json {
            struct Out: Encodable {
                let removed: [LeaseOut]
                let live: [LeaseOut]
                let staleKept: [LeaseOut]
            }
            try printJSON(
                Out(
                    removed: removed.map { LeaseOut(key: $0.key.name, lease: $0.lease, reason: $0.reason) },
                    live: live.map { LeaseOut(key: $0.key.name, lease: $0.lease, reason: nil) },
                    staleKept: staleKept.map { LeaseOut(key: $0.key.name, lease: $0.lease, reason: $0.reason) }))
            return
        }
        for r in removed {
            let why = r.reason == .expired ? "expired" : "its process is gone"
            print("removed \(describe(r.lease)) (\(why))")
        }
        if removed.isEmpty { print(staleLocal ? "no stale leases" : "no expired leases") }
        for l in live { print("kept live \(describe(l.lease))") }
        for s in staleKept {
            print("kept \(describe(s.lease)) (its process is gone; `haul unlock --stale-local` removes it)")
        }
    }

    private func describe(_ l: Lease) -> String {
        "\(l.kind.rawValue) lease for \(l.purpose) by \(l.user ?? "unknown user") (pid \(l.pid) on \(l.hostname)), "
            + "expires \(HaulDate.format(l.expires))"
    }
}
