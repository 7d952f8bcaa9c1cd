import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@Suite struct MemoryBlobStoreTests {
    @Test func conformance() async throws {
        try await BlobStoreConformance.run { MemoryBlobStore() }
    }

    @Test func rebootFromSnapshotKeepsCompletedWrites() async throws {
        let store = MemoryBlobStore()
        try await store.put(.config, [1, 2, 3], mode: .createOnly)
        try await store.put(testKey(.data, 1, prefix: "ab"), testBytes(10))
        let rebooted = MemoryBlobStore(contents: await store.snapshot())
        #expect(try await rebooted.get(.config) == [1, 2, 3])
        #expect(await rebooted.list(.data).map(\.key) == [testKey(.data, 1, prefix: "ab")])
    }
}
