import Foundation
import HaulFormat
import HaulMetadata
import HaulProtocol

/// Removes deleted objects whose recovery window has ended (docs/service.md §7): the trash copy first, then the
/// record, then an `object.purge` audit event in the vault's subscription. Nothing else removes trash: no route and
/// no role can purge an object before its `purgeAfter`.
///
/// Safe beside other instances doing the same: a trash copy or record that is already gone counts as purged by
/// someone else. A crash between the steps leaves a record whose copy is gone; the next run removes the record.
public struct TrashPurge: Sendable {
    let metadata: any MetadataStore
    let blobs: BlobBackend
    let now: @Sendable () -> Date
    /// Records read per round.
    var batch = 500

    public init(metadata: any MetadataStore, blobs: BlobBackend, now: @escaping @Sendable () -> Date) {
        self.metadata = metadata
        self.blobs = blobs
        self.now = now
    }

    /// Purges everything due now; returns how many objects this call purged. A record that cannot be purged (a
    /// store error) is skipped and reported by `failed`, so it never holds up the others.
    @discardableResult
    public func run(failed: (@Sendable (DeletedObject, any Error) -> Void)? = nil) async throws -> Int {
        let time = now()
        var purged = 0
        while true {
            let due = try await metadata.deletedObjects(purgeDueAt: time, limit: batch)
            var progressed = false
            for deleted in due {
                do {
                    if try await purge(deleted, at: time) {
                        purged += 1
                        progressed = true
                    }
                } catch {
                    failed?(deleted, error)
                }
            }
            // A short page is the last. A full page that purged nothing (others got there first, or every record
            // failed) ends the round too; the next round starts afresh.
            if due.count < batch || !progressed { return purged }
        }
    }

    /// Purges one deleted object; `false` if another instance got there first.
    private func purge(_ deleted: DeletedObject, at time: Date) async throws -> Bool {
        guard let key = Handlers.objectKey(path: deleted.objectPath) else {
            throw HaulError(
                .corrupted, "the deleted object \(deleted.id.lowercased) has an unreadable path \(deleted.objectPath)")
        }
        // Read before the record goes, so the audit event can be written once the record is claimed.
        let subscription = try await metadata.vault(id: deleted.vault)?.subscription
        do {
            try await blobs.store(deleted.trashPrefix).delete(key)
        } catch let error as HaulError where error.code == .notFound {
            // Purged by another instance, or a crash after this step last time.
        }
        try await blobs.removeEmptyPrefix(deleted.trashPrefix)
        // Removing the record is the claim: of two instances purging at once, one writes the audit event.
        do {
            try await metadata.removeDeletedObject(id: deleted.id)
        } catch let error as HaulError where error.code == .notFound {
            return false
        }
        try await metadata.appendAudit(
            AuditEvent(
                time: time, subscription: subscription, actor: "hauld", action: "object.purge",
                target: "\(deleted.server.lowercased)/\(deleted.objectPath)",
                detail: "\(deleted.id.lowercased), deleted \(ISO8601DateFormatter().string(from: deleted.deletedAt))"))
        return true
    }
}
