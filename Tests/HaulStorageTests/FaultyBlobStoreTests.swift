import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@Suite struct FaultyBlobStoreTests {
    @Test func conformanceWithoutFaults() async throws {
        try await BlobStoreConformance.run { FaultyBlobStore(base: MemoryBlobStore(), faults: []) }
    }

    @Test func failsTheNthWriteOnly() async throws {
        let base = MemoryBlobStore()
        let store = FaultyBlobStore(base: base, faults: [.failNthWrite(2)])
        try await store.put(testKey(.index, 1), [1])
        await #expect { try await store.put(testKey(.index, 2), [2]) } throws: { error in
            (error as? HaulError)?.code == .io && (error as? HaulError)?.isTransient == false
        }
        try await store.put(testKey(.index, 3), [3])
        #expect(Set(await base.snapshot().keys) == [testKey(.index, 1), testKey(.index, 3)])
        #expect(await store.injected == [.failNthWrite(2)])
    }

    @Test func flipsOneBitOfTheChosenObject() async throws {
        let base = MemoryBlobStore()
        let target = testKey(.data, 1, prefix: "cd")
        let other = testKey(.data, 2, prefix: "cd")
        try await base.put(target, testBytes(100))
        try await base.put(other, testBytes(100))
        let store = FaultyBlobStore(base: base, faults: [.flipBit(key: target, byteOffset: 50)])
        var expected = testBytes(100)
        expected[50] ^= 1
        #expect(try await store.get(target) == expected)
        #expect(try await store.get(target, offset: 48, length: 4) == Array(expected[48..<52]))
        #expect(try await store.get(target, offset: 0, length: 50) == Array(testBytes(100)[0..<50]))
        #expect(try await store.get(other) == testBytes(100))
    }

    @Test func truncatesReadsButNotSizes() async throws {
        let base = MemoryBlobStore()
        let key = testKey(.snapshots, 1)
        try await base.put(key, testBytes(100))
        let store = FaultyBlobStore(base: base, faults: [.truncateReads(key: nil, to: 30)])
        #expect(try await store.get(key) == Array(testBytes(100)[0..<30]))
        #expect(try await store.get(key, offset: 20, length: 20) == Array(testBytes(100)[20..<30]))
        #expect(try await store.get(key, offset: 40, length: 20) == [])
        #expect(try await store.head(key)?.size == 100)
    }

    @Test func transientFailuresComeFirst() async throws {
        let store = FaultyBlobStore(base: MemoryBlobStore(), faults: [.transientFailures(count: 2)])
        for _ in 0..<2 {
            await #expect { _ = try await store.list(.keys) } throws: { ($0 as? HaulError)?.isTransient == true }
        }
        #expect(try await store.list(.keys) == [])
        #expect(await store.calls == 3)
    }
}
