import HaulStorage
import HaulTesting
import Testing

@Suite struct BlobStoreConformanceTests {
    @Test func detectsABrokenStore() async throws {
        await #expect(throws: ConformanceFailure.self) {
            try await BlobStoreConformance.run {
                FaultyBlobStore(base: MemoryBlobStore(), faults: [.truncateReads(key: nil, to: 5)])
            }
        }
        await #expect(throws: ConformanceFailure.self) {
            try await BlobStoreConformance.run {
                FaultyBlobStore(base: MemoryBlobStore(), faults: [.flipBit(key: nil, byteOffset: 9 << 20)])
            }
        }
    }
}
