import HaulFormat

/// Where a restore, a listing or a check reads trees and file data from: a repository, or a test double.
///
/// Both calls return verified plaintext (authenticated and with its id recomputed) or throw; a missing blob is
/// `HaulError(.notFound, …)` naming the blob.
public protocol BlobSource: Sendable {
    func loadTree(_ id: BlobID) async throws -> Tree
    func loadData(_ id: BlobID) async throws -> [UInt8]
}
