import Foundation
import Glibc
import HaulFormat
import HaulStorage

/// Takes, refreshes and drops leases (format.md §10). Time is injected so expiry can be tested.
public struct LeaseManager: Sendable {
    public let store: any BlobStore
    public let lifetime: TimeInterval
    public let refreshInterval: TimeInterval
    public let now: @Sendable () -> Date
    public let hostname: String
    /// Recorded in the leases this manager takes (`Lease.user`).
    public let user: String?

    public init(
        store: any BlobStore, hostname: String, user: String? = nil, lifetime: TimeInterval = 30 * 60,
        refreshInterval: TimeInterval = 5 * 60,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.hostname = hostname
        self.user = user
        self.lifetime = lifetime
        self.refreshInterval = refreshInterval
        self.now = now
    }

    /// A lease this process holds.
    public struct Held: Sendable {
        public let key: ObjectKey
        public let lease: Lease
    }

    /// Every lease in the store with its key; unreadable lease files are reported as corrupted.
    public func list() async throws -> [(key: ObjectKey, lease: Lease)] {
        var out: [(ObjectKey, Lease)] = []
        for info in try await store.list(.leases) {
            guard let bytes = try? await store.get(info.key) else { continue }  // removed meanwhile
            guard let lease = try? JSONDecoder.haul.decode(Lease.self, from: Data(bytes)) else {
                throw HaulError(
                    .corrupted, "lease \(info.key.name) cannot be parsed; remove it if no Haul process runs")
            }
            out.append((info.key, lease))
        }
        return out
    }

    /// Writes a lease, then checks for conflicts; on conflict removes it again and throws `repositoryBusy`.
    public func acquire(_ kind: Lease.Kind, purpose: String) async throws -> Held {
        let t = now()
        let lease = Lease(
            kind: kind, hostname: hostname, pid: ProcessInfo.processInfo.processIdentifier, purpose: purpose,
            created: t,
            expires: t.addingTimeInterval(lifetime), user: user)
        let key = ObjectKey(.leases, ObjectID(Digest256.random()))
        try await store.put(key, try JSONEncoder.haul.encode(lease).asBytes, mode: .createOnly)
        let others = try await list().filter { $0.key != key && isLive($0.lease) }
        if let conflict = others.first(where: { $0.lease.conflicts(with: kind) }) {
            try? await store.delete(key)
            let l = conflict.lease
            throw HaulError(
                .repositoryBusy,
                "the repository is in use: \(l.kind.rawValue) lease for \(l.purpose) by pid \(l.pid) on \(l.hostname), "
                    + "expires \(HaulDate.format(l.expires)); try again later")
        }
        if kind == .exclusive {
            for stale in try await list() where stale.key != key && !isLive(stale.lease) {
                try? await store.delete(stale.key)
            }
        }
        return Held(key: key, lease: lease)
    }

    /// A lease counts until it expires, unless it was taken on this host by a process that no longer exists
    /// (a killed backup): such a lease is stale at once.
    public func isLive(_ lease: Lease) -> Bool { staleness(of: lease) == nil }

    /// Why a lease no longer counts (format.md §10).
    public enum Staleness: String, Sendable, Codable {
        /// Its expiry time has passed.
        case expired
        /// It was taken on this host by a process that no longer exists.
        case processGone
    }

    /// Why `lease` no longer counts, or `nil` while it is live (the rule of `isLive`).
    public func staleness(of lease: Lease) -> Staleness? {
        guard lease.expires > now() else { return .expired }
        if lease.hostname == hostname && lease.pid != ProcessInfo.processInfo.processIdentifier {
            if kill(lease.pid, 0) != 0 && errno == ESRCH { return .processGone }
        }
        return nil
    }

    /// A lease `removeStale` deleted, with the reason.
    public struct RemovedLease: Sendable {
        public let key: ObjectKey
        public let lease: Lease
        public let reason: Staleness
    }

    /// Deletes the leases that have expired and, with `includingProcessGone`, also those taken on this host by a
    /// process that no longer exists, and returns them; a live lease is never deleted. Each lease is read again just
    /// before its deletion, so one its owner refreshed after the listing survives.
    ///
    /// - Throws: `corrupted` naming a lease file that cannot be parsed (what `list` throws); store errors.
    public func removeStale(includingProcessGone: Bool = false) async throws -> [RemovedLease] {
        var removed: [RemovedLease] = []
        for (key, listed) in try await list() where !isLive(listed) {
            guard let bytes = try? await store.get(key),
                let lease = try? JSONDecoder.haul.decode(Lease.self, from: Data(bytes)),
                let reason = staleness(of: lease),
                reason == .expired || includingProcessGone
            else { continue }  // removed or refreshed meanwhile, or not to be removed
            do {
                try await store.delete(key)
            } catch let e as HaulError where e.code == .notFound {
                continue
            }
            removed.append(RemovedLease(key: key, lease: lease, reason: reason))
        }
        return removed
    }

    public func refresh(_ held: Held) async throws {
        var lease = held.lease
        lease.expires = now().addingTimeInterval(lifetime)
        try await store.put(held.key, try JSONEncoder.haul.encode(lease).asBytes, mode: .overwrite)
    }

    public func release(_ held: Held) async {
        try? await store.delete(held.key)
    }

    /// Runs `body` under a lease that is refreshed in the background and dropped afterwards.
    public func withLease<R: Sendable>(
        _ kind: Lease.Kind, purpose: String, _ body: @escaping @Sendable () async throws -> R
    ) async throws -> R {
        let held = try await acquire(kind, purpose: purpose)
        do {
            let result = try await withThrowingTaskGroup(of: R?.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(refreshInterval))
                        if Task.isCancelled { break }
                        try? await refresh(held)
                    }
                    return nil
                }
                group.addTask { try await body() }
                var result: R?
                while let next = try await group.next() {
                    if let value = next {
                        result = value
                        group.cancelAll()
                    }
                }
                return result!
            }
            await release(held)
            return result
        } catch {
            await release(held)
            throw error
        }
    }
}
