import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@Suite struct RetryingBlobStoreTests {
    @Test func conformanceOverTransientFailures() async throws {
        try await BlobStoreConformance.run {
            RetryingBlobStore(
                base: FaultyBlobStore(base: MemoryBlobStore(), faults: [.transientFailures(count: 3)]),
                attempts: 4, backoff: .none, sleep: { _ in })
        }
    }

    @Test func transientErrorsAreRetriedWithBackoff() async throws {
        let recorder = SleepRecorder()
        let faulty = FaultyBlobStore(base: MemoryBlobStore(), faults: [.transientFailures(count: 2)])
        let store = RetryingBlobStore(
            base: faulty, attempts: 3, backoff: .init(initial: .milliseconds(100), maximum: .seconds(1)),
            sleep: recorder.sleep)
        try await store.put(testKey(.index, 1), testBytes(8))
        #expect(await recorder.sleeps == [.milliseconds(100), .milliseconds(200)])
        #expect(await faulty.writeCalls == 3)
        #expect(try await store.get(testKey(.index, 1)) == testBytes(8))
    }

    @Test func givesUpAfterTheLastAttempt() async throws {
        let recorder = SleepRecorder()
        let faulty = FaultyBlobStore(base: MemoryBlobStore(), faults: [.transientFailures(count: 5)])
        let store = RetryingBlobStore(base: faulty, attempts: 3, backoff: .standard, sleep: recorder.sleep)
        await #expect { _ = try await store.list(.data) } throws: { ($0 as? HaulError)?.isTransient == true }
        #expect(await faulty.calls == 3)
        #expect(await recorder.sleeps.count == 2)
    }

    @Test func permanentErrorsAreNotRetried() async throws {
        let recorder = SleepRecorder()
        let faulty = FaultyBlobStore(base: MemoryBlobStore(), faults: [.failNthWrite(1)])
        let store = RetryingBlobStore(base: faulty, attempts: 5, backoff: .standard, sleep: recorder.sleep)
        await #expect { try await store.put(testKey(.data, 1), [1]) } throws: { $0.haulCode == .io }
        await #expect { _ = try await store.get(testKey(.data, 1)) } throws: { $0.haulCode == .notFound }
        #expect(await faulty.calls == 2)
        #expect(await recorder.sleeps.isEmpty)
    }

    @Test func backoffGrowsToItsMaximum() {
        let backoff = RetryingBlobStore.Backoff(initial: .milliseconds(100), multiplier: 3, maximum: .seconds(1))
        #expect(
            (1...4).map(backoff.delay(beforeRetry:)) == [
                .milliseconds(100), .milliseconds(300), .milliseconds(900), .seconds(1),
            ])
    }
}
