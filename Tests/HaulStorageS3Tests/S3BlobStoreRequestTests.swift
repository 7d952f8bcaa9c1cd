import Crypto
import Foundation
import HaulFormat
import HaulStorage
import Testing

@testable import HaulStorageS3

/// What `S3BlobStore` sends and how it handles replies and failures, against a scripted transport (no server).
@Suite struct S3BlobStoreRequestTests {
    static let credentials = S3Credentials(accessKey: "AKIDTEST", secretKey: "secret")

    static func store(
        _ transport: ScriptedTransport, sleeps: SleepLog = SleepLog(), attempts: Int = 4, random: Double = 0.5,
        configure: (inout S3BlobStore.Options) -> Void = { _ in }
    ) throws -> S3BlobStore {
        var options = S3BlobStore.Options()
        options.retry = S3RetryPolicy(
            attempts: attempts, initial: .milliseconds(100), maximum: .seconds(1), sleep: sleeps.sleep,
            random: { random })
        options.now = { Date(timeIntervalSince1970: 1_700_000_000) }
        configure(&options)
        let location = try S3Location(url: "s3://bucket/repos/one?endpoint=http://127.0.0.1:9&region=eu-west-1")
        return S3BlobStore(location: location, credentials: credentials, options: options, transport: transport)
    }

    static let dataBytes: [UInt8] = Array("pack bytes".utf8)
    static var dataKey: ObjectKey { contentKey(.data, dataBytes) }

    // MARK: Requests

    @Test func putOfAContentAddressedObjectSendsItsNameAsThePayloadHash() async throws {
        let transport = ScriptedTransport([])
        try await Self.store(transport).put(Self.dataKey, Self.dataBytes, mode: .createOnly)
        let request = try #require(transport.requests.first)
        #expect(request.method == "PUT")
        #expect(
            request.url
                == "http://127.0.0.1:9/bucket/repos/one/data/\(Self.dataKey.name.prefix(2))/\(Self.dataKey.name)")
        #expect(request.header("x-amz-content-sha256") == Self.dataKey.name)
        #expect(request.header("content-md5") == Data(Insecure.MD5.hash(data: Self.dataBytes)).base64EncodedString())
        #expect(request.header("if-none-match") == "*")
        #expect(request.header("host") == "127.0.0.1:9")
        #expect(request.header("x-amz-date") == "20231114T221320Z")
        let authorization = try #require(request.header("authorization"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/20231114/eu-west-1/s3/aws4_request, "))
        #expect(
            authorization.contains(
                "SignedHeaders=content-md5;host;if-none-match;x-amz-content-sha256;x-amz-date, Signature="))
        #expect(request.body == Self.dataBytes)
    }

    @Test func putOfOtherKindsSendsTheHashOfTheBytes() async throws {
        let transport = ScriptedTransport([])
        let bytes: [UInt8] = [1, 2, 3]
        try await Self.store(transport).put(.config, bytes)
        let request = try #require(transport.requests.first)
        #expect(request.url == "http://127.0.0.1:9/bucket/repos/one/config")
        #expect(request.header("x-amz-content-sha256") == SigV4Signer.hex(SHA256.hash(data: bytes)))
        #expect(request.header("if-none-match") == nil)
    }

    @Test func deleteAsksHeadFirstBecauseS3DeletesMissingKeysSilently() async throws {
        let missing = ScriptedTransport([.respond(S3HTTPResponse(status: 404))])
        await #expect { try await Self.store(missing).delete(Self.dataKey) } throws: { $0.haulCode == .notFound }
        #expect(missing.requests.map(\.method) == ["HEAD"])

        let present = ScriptedTransport([
            .respond(S3HTTPResponse(status: 200, headers: ["Content-Length": "10"])),
            .respond(S3HTTPResponse(status: 204)),
        ])
        try await Self.store(present).delete(Self.dataKey)
        #expect(present.requests.map(\.method) == ["HEAD", "DELETE"])
    }

    @Test func rangedReadsSendRangeAndSettleTheEndWithHead() async throws {
        let transport = ScriptedTransport([
            .respond(S3HTTPResponse(status: 206, body: [5, 6])),
            ScriptedTransport.error(416, "InvalidRange"),
            .respond(S3HTTPResponse(status: 200, headers: ["content-length": "100"])),
            ScriptedTransport.error(416, "InvalidRange"),
            .respond(S3HTTPResponse(status: 200, headers: ["content-length": "100"])),
        ])
        let store = try Self.store(transport)
        #expect(try await store.get(Self.dataKey, offset: 5, length: 2) == [5, 6])
        #expect(try await store.get(Self.dataKey, offset: 100, length: 10) == [])
        await #expect { _ = try await store.get(Self.dataKey, offset: 101, length: 1) } throws: {
            $0.haulCode == .invalidArgument
        }
        #expect(
            transport.requests.map { $0.header("range") } == ["bytes=5-6", "bytes=100-109", nil, "bytes=101-101", nil])
        #expect(transport.requests.map(\.method) == ["GET", "GET", "HEAD", "GET", "HEAD"])
    }

    @Test func listFollowsContinuationTokensAndSkipsForeignKeys() async throws {
        func page(_ keys: [String], next: String?) -> ScriptedTransport.Step {
            var xml = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            for key in keys { xml += "<Contents><Key>\(key)</Key><Size>\(key.count)</Size></Contents>" }
            xml += "<IsTruncated>\(next != nil)</IsTruncated>"
            if let next { xml += "<NextContinuationToken>\(next)</NextContinuationToken>" }
            return .respond(S3HTTPResponse(status: 200, body: Array((xml + "</ListBucketResult>").utf8)))
        }
        let a = String(repeating: "a", count: 64)
        let b = String(repeating: "b", count: 64)
        let transport = ScriptedTransport([
            page(["repos/one/data/aa/\(a)", "repos/one/data/aa/\(a).tmp", "repos/one/data/bb/\(a)"], next: "t/1+=="),
            page(["repos/one/data/bb/\(b)"], next: nil),
        ])
        let listed = try await Self.store(transport).list(.data)
        #expect(listed.map(\.key.name) == [a, b])
        let urls = transport.requests.map(\.url)
        #expect(urls[0] == "http://127.0.0.1:9/bucket?list-type=2&max-keys=1000&prefix=repos%2Fone%2Fdata%2F")
        #expect(urls[1].contains("continuation-token=t%2F1%2B%3D%3D"))
    }

    @Test func multipartUploadSendsPartsAndCompletes() async throws {
        let uploadStarted = S3HTTPResponse(
            status: 200,
            body: Array(
                "<InitiateMultipartUploadResult><UploadId>up/1</UploadId></InitiateMultipartUploadResult>".utf8))
        let transport = ScriptedTransport([
            .respond(uploadStarted),
            .respond(S3HTTPResponse(status: 200, headers: ["ETag": "\"e1\""])),
            ScriptedTransport.error(503, "SlowDown"),
            .respond(S3HTTPResponse(status: 200, headers: ["ETag": "\"e2\""])),
            .respond(S3HTTPResponse(status: 200, body: Array("<CompleteMultipartUploadResult/>".utf8))),
        ])
        let store = try Self.store(transport) {
            $0.multipartThreshold = 10
            $0.partSize = 8
            $0.partsInFlight = 1
        }
        let bytes = s3TestBytes(12, seed: 1)
        try await store.put(contentKey(.data, bytes), bytes)
        let requests = transport.requests
        #expect(requests.map(\.method) == ["POST", "PUT", "PUT", "PUT", "POST"])
        #expect(requests[0].url.hasSuffix("?uploads="))
        #expect(requests[1].url.hasSuffix("?partNumber=1&uploadId=up%2F1"))
        #expect(requests[1].body == Array(bytes[0..<8]))
        #expect(requests[3].url.hasSuffix("?partNumber=2&uploadId=up%2F1"))
        #expect(requests[3].body == Array(bytes[8..<12]))
        let document = String(decoding: requests[4].body ?? [], as: UTF8.self)
        #expect(
            document == "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
                + "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part></CompleteMultipartUpload>")
    }

    @Test func aFailedMultipartUploadIsAborted() async throws {
        let transport = ScriptedTransport(
            [
                .respond(
                    S3HTTPResponse(
                        status: 200, body: Array("<R><UploadId>u</UploadId></R>".utf8))),
                .respond(S3HTTPResponse(status: 200, headers: ["etag": "\"e1\""])),
                .respond(S3HTTPResponse(status: 200, headers: ["etag": "\"e2\""])),
                // CompleteMultipartUpload may answer 200 and put the error in the body.
                .respond(
                    S3HTTPResponse(
                        status: 200, body: Array("<Error><Code>InvalidPart</Code><Message>no</Message></Error>".utf8))),
                .respond(S3HTTPResponse(status: 204)),
            ], then: ScriptedTransport.error(500, "unexpected"))
        let store = try Self.store(transport, attempts: 1) {
            $0.multipartThreshold = 10
            $0.partSize = 8
            $0.partsInFlight = 1
        }
        let bytes = s3TestBytes(12, seed: 1)
        await #expect { try await store.put(contentKey(.data, bytes), bytes) } throws: { error in
            (error as? HaulError)?.message.contains("InvalidPart") == true
        }
        #expect(transport.requests.map(\.method) == ["POST", "PUT", "PUT", "POST", "DELETE"])
        #expect(transport.requests.last?.url.hasSuffix("?uploadId=u") == true)
    }

    // MARK: Retries

    @Test func transientRepliesAreRetriedWithJitteredBackoff() async throws {
        let sleeps = SleepLog()
        let transport = ScriptedTransport([
            ScriptedTransport.error(503, "SlowDown"),
            ScriptedTransport.connectionReset,
            ScriptedTransport.error(500, "InternalError"),
            .respond(S3HTTPResponse(status: 200, body: [42])),
        ])
        #expect(try await Self.store(transport, sleeps: sleeps, random: 0.5).get(.config) == [42])
        #expect(transport.requests.count == 4)
        // Ceilings 100, 200, 400 ms; half of each plus half of the other half.
        #expect(sleeps.sleeps == [.milliseconds(75), .milliseconds(150), .milliseconds(300)])
    }

    @Test(arguments: [
        (429, "TooManyRequests"), (500, "InternalError"), (502, "BadGateway"), (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"), (400, "RequestTimeout"), (400, "BadDigest"),
    ])
    func theseRepliesAreTransient(status: Int, code: String) async throws {
        let transport = ScriptedTransport([], then: ScriptedTransport.error(status, code))
        let sleeps = SleepLog()
        let error = await #expect(throws: HaulError.self) {
            _ = try await Self.store(transport, sleeps: sleeps, attempts: 3).get(.config)
        }
        #expect(error?.isTransient == true)
        #expect(error?.message.contains("gave up after 3 attempts") == true)
        #expect(error?.message.contains("s3://bucket/repos/one/config") == true)
        #expect(transport.requests.count == 3)
        #expect(sleeps.sleeps.count == 2)
    }

    @Test(arguments: [
        (404, "NoSuchKey", HaulError.Code.notFound), (403, "AccessDenied", .permissionDenied),
        (403, "SignatureDoesNotMatch", .permissionDenied), (404, "NoSuchBucket", .repositoryNotFound),
        (400, "XAmzContentSHA256Mismatch", .corrupted), (400, "InvalidArgument", .invalidArgument),
        (412, "PreconditionFailed", .alreadyExists), (501, "NotImplemented", .io),
    ])
    func theseRepliesArePermanent(status: Int, code: String, expected: HaulError.Code) async throws {
        let transport = ScriptedTransport([], then: ScriptedTransport.error(status, code))
        let sleeps = SleepLog()
        let error = await #expect(throws: HaulError.self) {
            try await Self.store(transport, sleeps: sleeps).put(.config, [1], mode: .createOnly)
        }
        #expect(error?.code == expected)
        #expect(error?.isTransient == false)
        #expect(transport.requests.count == 1)
        #expect(sleeps.sleeps.isEmpty)
    }

    @Test func eachRetryIsSignedAfresh() async throws {
        let clock = TickingClock(1_700_000_000)
        let transport = ScriptedTransport([ScriptedTransport.error(503, "SlowDown"), .pass])
        let store = try Self.store(transport) { $0.now = clock.now }
        _ = try await store.get(.config)
        #expect(transport.requests.map { $0.header("x-amz-date") } == ["20231114T221320Z", "20231114T221321Z"])
    }

    @Test func aRefusedConnectionIsTransientAndRetried() async throws {
        // Nothing listens on port 9 of the loopback (discard), so the real HTTP client fails to connect.
        let sleeps = SleepLog()
        var options = S3BlobStore.Options()
        options.retry = S3RetryPolicy(attempts: 3, sleep: sleeps.sleep)
        options.connectTimeout = .milliseconds(300)
        try await S3BlobStore.withStore(
            location: try S3Location(url: "s3://bucket?endpoint=http://127.0.0.1:9"), credentials: Self.credentials,
            options: options
        ) { store in
            let error = await #expect(throws: HaulError.self) { _ = try await store.head(.config) }
            #expect(error?.code == .io)
            #expect(error?.isTransient == true)
            #expect(sleeps.sleeps.count == 2)
        }
    }

    @Test func backoffGrowsToItsMaximumWithJitterInsideTheCeiling() {
        let policy = S3RetryPolicy(initial: .milliseconds(100), multiplier: 3, maximum: .seconds(1), random: { 0.999 })
        #expect(
            (1...4).map(policy.ceiling(beforeRetry:)) == [
                .milliseconds(100), .milliseconds(300), .milliseconds(900), .seconds(1),
            ])
        for retry in 1...6 {
            let delay = policy.delay(beforeRetry: retry)
            #expect(delay >= policy.ceiling(beforeRetry: retry) / 2 && delay <= policy.ceiling(beforeRetry: retry))
        }
        #expect(S3RetryPolicy(random: { 0 }).delay(beforeRetry: 1) == .milliseconds(50))
    }
}
