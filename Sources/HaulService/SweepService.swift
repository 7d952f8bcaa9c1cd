import Foundation
import HaulMetadata
import Logging
import ServiceLifecycle

/// Once a minute, until graceful shutdown: removes expired tokens and assertion ids, and purges deleted objects
/// past their recovery window (`TrashPurge`, docs/service.md §2 and §7).
struct SweepService: Service {
    let metadata: any MetadataStore
    let blobs: BlobBackend
    let now: @Sendable () -> Date
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        let purge = TrashPurge(metadata: metadata, blobs: blobs, now: now)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await metadata.sweepExpired(now: now())
                    if removed > 0 { logger.debug("swept expired rows", metadata: ["rows": "\(removed)"]) }
                } catch {
                    logger.warning("sweep of expired tokens failed", metadata: ["error": "\(error)"])
                }
                do {
                    let purged = try await purge.run { deleted, error in
                        logger.warning(
                            "cannot purge a deleted object; it is retried next round",
                            metadata: [
                                "id": "\(deleted.id.uuidString.lowercased())", "path": "\(deleted.objectPath)",
                                "error": "\(error)",
                            ])
                    }
                    if purged > 0 { logger.info("purged deleted objects", metadata: ["objects": "\(purged)"]) }
                } catch {
                    logger.warning("purge of deleted objects failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
