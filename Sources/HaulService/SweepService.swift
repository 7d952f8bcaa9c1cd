import Foundation
import HaulMetadata
import Logging
import ServiceLifecycle

/// Removes expired tokens and assertion ids once a minute (docs/service.md §2), until graceful shutdown.
struct SweepService: Service {
    let metadata: any MetadataStore
    let now: @Sendable () -> Date
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await metadata.sweepExpired(now: now())
                    if removed > 0 { logger.debug("swept expired rows", metadata: ["rows": "\(removed)"]) }
                } catch {
                    logger.warning("sweep of expired tokens failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
