import Crypto
import Foundation
import HaulFormat
import HaulStorage
import Synchronization
import Testing

@testable import HaulStorageS3

/// The RGW the tests talk to: `HAUL_TEST_S3_ENDPOINT`, `HAUL_TEST_S3_ACCESS_KEY`, `HAUL_TEST_S3_SECRET_KEY`
/// (`scripts/ceph-rgw start DIR` writes them to `DIR/env`; `scripts/test` starts it). Without an endpoint the tests
/// that need it are skipped, except under `CI=true`, where they run and fail.
enum RGW {
    static let environment = ProcessInfo.processInfo.environment
    static let endpoint = environment["HAUL_TEST_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
    static let isCI = environment["CI"] == "true"

    /// Whether RGW tests run: with an endpoint, or under CI (where a missing endpoint is a failure, not a skip).
    static let enabled = endpoint != nil || isCI
    static let skipReason: Comment =
        "HAUL_TEST_S3_ENDPOINT is unset: run `scripts/ceph-rgw start DIR && source DIR/env` (scripts/test does)"

    static let bucket = "haul-tests"
    /// One prefix per test process, so runs never see each other's objects.
    static let runPrefix = "run-\(UUID().uuidString.lowercased())"

    /// A store on a fresh prefix of the test bucket, shut down when `body` ends.
    static func withStore<T: Sendable>(
        _ name: String, options: S3BlobStore.Options = S3BlobStore.Options(),
        _ body: (S3BlobStore) async throws -> T
    ) async throws -> T {
        let endpoint = try #require(
            endpoint, "CI=true but HAUL_TEST_S3_ENDPOINT is unset: scripts/test must start Ceph RGW")
        let location = try S3Location(bucket: bucket, prefix: "\(runPrefix)/\(name)", endpoint: endpoint)
        return try await S3BlobStore.withStore(location: location, credentials: credentials(), options: options) {
            store in
            try await store.createBucketIfMissing()
            return try await body(store)
        }
    }

    static func location(_ name: String) throws -> S3Location {
        try S3Location(bucket: bucket, prefix: "\(runPrefix)/\(name)", endpoint: try #require(endpoint))
    }

    static func credentials() throws -> S3Credentials {
        S3Credentials(
            accessKey: try #require(environment["HAUL_TEST_S3_ACCESS_KEY"], "HAUL_TEST_S3_ACCESS_KEY is unset"),
            secretKey: try #require(environment["HAUL_TEST_S3_SECRET_KEY"], "HAUL_TEST_S3_SECRET_KEY is unset"))
    }
}

/// `count` pseudo-random bytes (xorshift), cheap enough for tens of MiB in a debug build.
func s3TestBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var i = 0
        while i < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where i < count {
                raw[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
    }
    return bytes
}

/// The content-addressed key of `bytes`: its SHA-256 as the name.
func contentKey(_ kind: ObjectKind, _ bytes: [UInt8]) -> ObjectKey {
    ObjectKey(kind, ObjectID(Digest256(bytes: SHA256.hash(data: bytes).withUnsafeBytes { Array($0) })))
}

/// A transport that answers from a script and records every request; entries that are `nil` pass the request on
/// to `base` (a real transport) when there is one.
final class ScriptedTransport: S3Transport {
    enum Step: Sendable {
        case respond(S3HTTPResponse)
        case fail(HaulError)
        case pass
    }

    private let state: Mutex<(steps: [Step], requests: [S3HTTPRequest])>
    private let base: (any S3Transport)?
    /// What to do once the script is used up.
    private let then: Step

    init(_ steps: [Step], then: Step = .pass, base: (any S3Transport)? = nil) {
        state = Mutex((steps, []))
        self.base = base
        self.then = then
    }

    var requests: [S3HTTPRequest] { state.withLock { $0.requests } }

    func send(_ request: S3HTTPRequest, timeout: Duration) async throws -> S3HTTPResponse {
        let step = state.withLock { state in
            state.requests.append(request)
            return state.steps.isEmpty ? then : state.steps.removeFirst()
        }
        switch step {
        case .respond(let response): return response
        case .fail(let error): throw error
        case .pass:
            guard let base else { return S3HTTPResponse(status: 200) }
            return try await base.send(request, timeout: timeout)
        }
    }

    func shutdown() async throws {
        try await base?.shutdown()
    }

    static func error(_ status: Int, _ code: String) -> Step {
        .respond(
            S3HTTPResponse(
                status: status, body: Array("<?xml version=\"1.0\"?><Error><Code>\(code)</Code></Error>".utf8)))
    }

    static let connectionReset = Step.fail(HaulError(.io, "connection reset by peer (injected)", transient: true))
}

/// Records requested sleeps without sleeping.
final class SleepLog: Sendable {
    private let log = Mutex<[Duration]>([])
    var sleeps: [Duration] { log.withLock { $0 } }
    var sleep: @Sendable (Duration) async throws -> Void {
        { [self] duration in self.log.withLock { $0.append(duration) } }
    }
}

extension S3HTTPRequest {
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }
}

/// A signing clock that moves one second per reading.
final class TickingClock: Sendable {
    private let seconds: Mutex<Double>
    init(_ start: Double) { seconds = Mutex(start) }
    var now: @Sendable () -> Date {
        {
            [self] in
            self.seconds.withLock { seconds in
                defer { seconds += 1 }
                return Date(timeIntervalSince1970: seconds)
            }
        }
    }
}
