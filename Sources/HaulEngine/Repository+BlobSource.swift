import HaulFormat
import HaulRepository

extension Repository: BlobSource {
    public func loadData(_ id: BlobID) async throws -> [UInt8] { try await loadBlob(id, type: .data) }
}
