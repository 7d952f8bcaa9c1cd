import Glibc
import HaulFormat
import HaulRepository
import HaulStorage

/// Indexes the packs an interrupted backup stored but had not indexed yet, so that the next backup reuses them
/// instead of storing their blobs again (format.md §11, "Backup").
///
/// A backup writes an index file only every few packs, so a crash loses up to that many packs' worth of work unless
/// they are adopted. A pack is only adopted when no other process holds a live lease: the packs are listed first,
/// then the leases, then the index is loaded again. Every pack present at the listing was written by a process that
/// held a lease then; if no other lease is live afterwards, that process either finished (and indexed the pack in an
/// index file the reload sees) or died (the pack is an orphan). So a running backup's pack is never indexed twice.
public struct OrphanPackRecovery: Sendable {
    public let repository: Repository
    public let leases: LeaseManager

    public init(repository: Repository, leases: LeaseManager) {
        self.repository = repository
        self.leases = leases
    }

    /// What `adopt` did.
    public struct Report: Sendable, Hashable, Codable {
        /// Packs now listed by the new index file.
        public var packsAdopted = 0
        /// Blobs in them.
        public var blobs = 0
        /// Whether adoption was skipped because another process holds a live lease.
        public var skippedBusy = false
    }

    /// Call while holding a lease (a backup's shared one). Reads the header of each unindexed pack (format.md §6) and
    /// writes one index file listing those that authenticate; a pack whose header cannot be read is left for
    /// `haul check` and `haul prune`. Reloads `repository.index` afterwards.
    ///
    /// - Throws: store errors while listing, reading or writing the index file.
    public func adopt() async throws -> Report {
        var report = Report()
        let present = try await repository.store.list(.data).compactMap { info in
            ObjectID(hex: info.key.name).map { (id: $0, size: info.size) }
        }
        // The common case costs one listing: every pack present is already indexed, so nothing can be an orphan.
        let known = Set(repository.index.packs.map(\.id))
        guard present.contains(where: { !known.contains($0.id) }) else { return report }
        let me = getpid()
        let others = try await leases.list().filter { entry in
            leases.isLive(entry.lease) && !(entry.lease.hostname == leases.hostname && entry.lease.pid == me)
        }
        if !others.isEmpty {
            report.skippedBusy = true
            return report
        }
        try await repository.loadIndex()
        let indexed = Set(repository.index.packs.map(\.id))
        var adopted: [IndexFile.PackInfo] = []
        for pack in present.sorted(by: { $0.id < $1.id }) where !indexed.contains(pack.id) {
            do {
                adopted.append(try await repository.readPackHeader(pack.id, size: pack.size).info)
            } catch let error as HaulError where !error.isTransient {
                continue  // damaged: check reports it, prune removes it
            }
        }
        guard !adopted.isEmpty else { return report }
        _ = try await repository.writeIndexFile(IndexFile(packs: adopted))
        try await repository.loadIndex()
        report.packsAdopted = adopted.count
        report.blobs = adopted.reduce(0) { $0 + $1.entries.count }
        return report
    }
}
