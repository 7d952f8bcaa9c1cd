import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@Suite struct CrashingBlobStoreTests {
    @Test func conformanceBeforeTheCrash() async throws {
        try await BlobStoreConformance.run { CrashingBlobStore(base: MemoryBlobStore(), crashAfterWrites: .max) }
    }

    @Test func crashesOnWriteNPlusOneAndStaysDown() async throws {
        let base = MemoryBlobStore()
        let store = CrashingBlobStore(base: base, crashAfterWrites: 2)
        try await store.put(testKey(.data, 1), testBytes(4))
        #expect(try await store.get(testKey(.data, 1)) == testBytes(4))
        try await store.put(testKey(.data, 2), testBytes(5))
        await #expect { try await store.delete(testKey(.data, 1)) } throws: { error in
            let error = error as? HaulError
            return error?.code == .io && error?.isTransient == false && error?.message == "simulated crash"
        }
        await #expect { _ = try await store.list(.data) } throws: { $0.haulCode == .io }
        await #expect { _ = try await store.head(testKey(.data, 2)) } throws: { $0.haulCode == .io }
        await #expect { try await store.put(testKey(.data, 3), []) } throws: { $0.haulCode == .io }
        #expect(await store.writesPerformed == 2)
        #expect(await store.hasCrashed)
        let crashed = await store.crashingWrite
        #expect(crashed?.key == testKey(.data, 1) && crashed?.isDelete == true)
        let rebooted = MemoryBlobStore(contents: await base.snapshot())
        #expect(Set(await rebooted.list(.data).map(\.key)) == [testKey(.data, 1), testKey(.data, 2)])
    }

    @Test func aLandingCrashWriteIsDurableButUnacknowledged() async throws {
        let base = MemoryBlobStore()
        let store = CrashingBlobStore(base: base, crashAfterWrites: 0, crashingWriteLands: true)
        await #expect { try await store.put(.config, [9], mode: .createOnly) } throws: { $0.haulCode == .io }
        #expect(try await base.get(.config) == [9])
        #expect(await store.writesPerformed == 0)
    }

    @Test func concurrentWritersAreCountedExactly() async throws {
        let base = MemoryBlobStore()
        let store = CrashingBlobStore(base: base, crashAfterWrites: 5)
        let successes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<12 {
                group.addTask { (try? await store.put(testKey(.leases, i), [UInt8(i)])) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(successes == 5)
        #expect(await base.snapshot().count == 5)
    }
}
