import Foundation
import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@testable import HaulStorageS3

/// `S3BlobStore` against a real Ceph RGW (scripts/ceph-rgw). Skipped without `HAUL_TEST_S3_ENDPOINT`, failed under
/// `CI=true` without it.
@Suite(.enabled(if: RGW.enabled, RGW.skipReason), .serialized)
struct S3BlobStoreRGWTests {
    /// The conformance suite stores arbitrary bytes under hex names, so the server-side name check is off here (the
    /// tests below check it on).
    static var conformanceOptions: S3BlobStore.Options {
        var options = S3BlobStore.Options()
        options.verifyContentAddresses = false
        return options
    }

    @Test func conformance() async throws {
        try await RGW.withStore("conformance", options: Self.conformanceOptions) { store in
            var check = 0
            try await BlobStoreConformance.run {
                check += 1
                return store.withPrefix("check-\(check)")
            }
            #expect(check == BlobStoreConformance.checkNames.count)
        }
    }

    @Test func theServerRefusesBytesThatDoNotHashToTheName() async throws {
        try await RGW.withStore("content-hash") { store in
            let bytes = s3TestBytes(4096, seed: 1)
            let key = contentKey(.data, bytes)
            let wrong = contentKey(.data, s3TestBytes(4096, seed: 2))
            let error = await #expect(throws: HaulError.self) { try await store.put(wrong, bytes) }
            #expect(error?.code == .corrupted)
            #expect(error?.isTransient == false)
            #expect(error?.message.contains("XAmzContentSHA256Mismatch") == true)
            #expect(try await store.head(wrong) == nil)
            try await store.put(key, bytes)
            #expect(try await store.get(key) == bytes)
            // Non-content-addressed kinds are not named by their hash: any bytes go.
            let lease = try ObjectKey(.leases, wrong.name)
            try await store.put(lease, bytes)
            #expect(try await store.head(lease)?.size == 4096)
        }
    }

    @Test func multipartUploadRoundTrips() async throws {
        try await RGW.withStore("multipart") { store in
            let bytes = s3TestBytes(17 << 20 + 12345, seed: 3)
            let key = contentKey(.data, bytes)
            try await store.put(key, bytes)
            #expect(try await store.head(key)?.size == Int64(bytes.count))
            #expect(try await store.get(key) == bytes)
            let boundary = 8 << 20
            #expect(
                try await store.get(key, offset: Int64(boundary - 10), length: 20)
                    == Array(bytes[(boundary - 10)..<(boundary + 10)]))
            #expect(try await store.list(.data) == [ObjectInfo(key: key, size: Int64(bytes.count))])

            // A multipart upload of bytes that do not match the name is refused before anything is sent.
            let wrong = contentKey(.data, [1, 2, 3])
            await #expect { try await store.put(wrong, bytes) } throws: { $0.haulCode == .corrupted }
            #expect(try await store.head(wrong) == nil)
        }
    }

    @Test func stagedObjectsSmallAndLarge() async throws {
        try await RGW.withStore("staging") { store in
            for count in [0, 100_000, 18 << 20 + 7] {
                let bytes = s3TestBytes(count, seed: UInt64(count))
                let staged = try store.stage(.data)
                var offset = 0
                while offset < count {
                    let end = min(count, offset + 1_000_003)
                    try bytes[offset..<end].withUnsafeBytes { try staged.append($0) }
                    offset = end
                }
                let key = contentKey(.data, bytes)
                try await staged.commit(as: key)
                #expect(try await store.get(key) == bytes, "staged object of \(count) bytes")
            }
            let staged = try store.stage(.index)
            try [UInt8](repeating: 7, count: 10).withUnsafeBytes { try staged.append($0) }
            await #expect { try await staged.commit(as: contentKey(.index, [1])) } throws: {
                $0.haulCode == .corrupted
            }
            let discarded = try store.stage(.data)
            discarded.discard()
            #expect(try await store.list(.index).isEmpty)
        }
    }

    @Test func listPagesWithContinuationTokens() async throws {
        var options = S3BlobStore.Options()
        options.listPageSize = 7
        try await RGW.withStore("paging", options: options) { store in
            var expected: Set<ObjectInfo> = []
            for i in 0..<23 {
                let bytes = s3TestBytes(i, seed: UInt64(i))
                let key = contentKey(.snapshots, bytes)
                try await store.put(key, bytes)
                expected.insert(ObjectInfo(key: key, size: Int64(i)))
            }
            let listed = try await store.list(.snapshots)
            #expect(listed.count == 23)
            #expect(Set(listed) == expected)
        }
    }

    @Test func prefixesSeparateRepositories() async throws {
        try await RGW.withStore("prefixes") { store in
            let a = store.withPrefix("vault-a")
            let b = store.withPrefix("vault-b/")
            try await a.put(.config, [1])
            try await b.put(.config, [2, 2])
            #expect(try await a.get(.config) == [1])
            #expect(try await b.get(.config) == [2, 2])
            #expect(try await store.list(.config).isEmpty)
            #expect(b.location.prefix == "\(RGW.runPrefix)/prefixes/vault-b")
        }
    }

    @Test func serverSideCopy() async throws {
        try await RGW.withStore("copy") { store in
            let bytes = s3TestBytes(70_000, seed: 9)
            let key = contentKey(.snapshots, bytes)
            try await store.put(key, bytes)
            let trash = store.withPrefix("trash")
            try await store.copy(from: key, to: key, in: trash)
            #expect(try await trash.get(key) == bytes)
            try await store.delete(key)
            #expect(try await trash.head(key)?.size == 70_000)
            await #expect { try await store.copy(from: key, to: key, in: trash) } throws: { $0.haulCode == .notFound }
        }
    }

    @Test func wrongSecretIsPermissionDenied() async throws {
        let location = try RGW.location("wrong-secret")
        let credentials = S3Credentials(accessKey: try RGW.credentials().accessKey, secretKey: "not-the-secret")
        try await S3BlobStore.withStore(location: location, credentials: credentials) { store in
            let error = await #expect(throws: HaulError.self) { _ = try await store.list(.keys) }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message.contains("HAUL_S3_SECRET_KEY") == true)
        }
    }

    @Test func missingBucketIsNamed() async throws {
        let location = try S3Location(bucket: "haul-no-such-bucket", endpoint: try #require(RGW.endpoint))
        try await S3BlobStore.withStore(location: location, credentials: try RGW.credentials()) { store in
            let error = await #expect(throws: HaulError.self) { _ = try await store.list(.keys) }
            #expect(error?.code == .repositoryNotFound)
            #expect(error?.message.contains("haul-no-such-bucket") == true)
        }
    }

    @Test func transientFaultsOnTheWayToRGWAreRetried() async throws {
        let sleeps = SleepLog()
        var options = S3BlobStore.Options()
        options.retry = S3RetryPolicy(attempts: 4, sleep: sleeps.sleep)
        options.verifyContentAddresses = false
        try await RGW.withStore("faults") { _ in }  // creates the bucket
        let transport = ScriptedTransport(
            [
                ScriptedTransport.connectionReset, ScriptedTransport.error(503, "SlowDown"), .pass,  // PUT
                ScriptedTransport.error(500, "InternalError"), .pass,  // GET
            ], base: HTTPClientTransport())
        let store = S3BlobStore(
            location: try RGW.location("faults"), credentials: try RGW.credentials(), options: options,
            transport: transport)
        do {
            let key = try ObjectKey(.leases, String(repeating: "ab", count: 32))
            try await store.put(key, [1, 2, 3])
            #expect(try await store.get(key) == [1, 2, 3])
            #expect(sleeps.sleeps.count == 3)
            #expect(transport.requests.map(\.method) == ["PUT", "PUT", "PUT", "GET", "GET"])
            try await store.shutdown()
        } catch {
            try? await store.shutdown()
            throw error
        }
    }

    @Test func aFailedMultipartUploadLeavesNoPartsBehind() async throws {
        try await RGW.withStore("abort") { _ in }  // creates the bucket
        var options = S3BlobStore.Options()
        options.multipartThreshold = 5 << 20
        options.partSize = 5 << 20
        options.partsInFlight = 1
        options.retry = .none
        // Start and three parts reach RGW; the completion is refused; the abort reaches RGW again.
        let transport = ScriptedTransport(
            [.pass, .pass, .pass, .pass, ScriptedTransport.error(400, "InvalidPart")], base: HTTPClientTransport())
        let store = S3BlobStore(
            location: try RGW.location("abort"), credentials: try RGW.credentials(), options: options,
            transport: transport)
        do {
            let bytes = s3TestBytes(11 << 20, seed: 11)
            let key = contentKey(.data, bytes)
            await #expect { try await store.put(key, bytes) } throws: { $0.haulCode == .invalidArgument }
            #expect(transport.requests.map(\.method) == ["POST", "PUT", "PUT", "PUT", "POST", "DELETE"])
            #expect(try await store.head(key) == nil)
            let uploads = try await store.connection.perform(
                S3Call(method: "GET", key: nil, query: [("uploads", ""), ("prefix", store.location.prefix)]))
            let listing = try S3XMLElement.parse(uploads.body, what: "ListMultipartUploads")
            #expect(listing.children("Upload").isEmpty, "multipart uploads left under \(store.location.prefix)")
            try await store.shutdown()
        } catch {
            try? await store.shutdown()
            throw error
        }
    }
}
