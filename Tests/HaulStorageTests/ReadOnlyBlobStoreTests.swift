import HaulFormat
import HaulStorage
import Testing

@Suite struct ReadOnlyBlobStoreTests {
    @Test func readsPassAndWritesAreRefused() async throws {
        let base = MemoryBlobStore()
        let key = testKey(.snapshots, 7)
        try await base.put(key, testBytes(20))
        let store = base.readOnly
        #expect(try await store.get(key) == testBytes(20))
        #expect(try await store.get(key, offset: 5, length: 5) == Array(testBytes(20)[5..<10]))
        #expect(try await store.head(key)?.size == 20)
        #expect(try await store.list(.snapshots).count == 1)
        await #expect { try await store.put(key, [1], mode: .overwrite) } throws: {
            $0.haulCode == .permissionDenied
        }
        await #expect { try await store.delete(key) } throws: { $0.haulCode == .permissionDenied }
        #expect(try await base.get(key) == testBytes(20))
    }
}
