import Foundation
import HaulStorageFS

/// The filesystem store's housekeeping, seen from the CLI.
protocol FileSystemStoreCleanup {
    func removeStaleTemporaryFiles(olderThan: TimeInterval) throws -> Int
}

extension FileSystemBlobStore: FileSystemStoreCleanup {}
