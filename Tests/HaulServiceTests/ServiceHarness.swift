import Foundation
import HTTPTypes
import HaulIdentity
import HaulMetadata
import HaulMetadataSQLite
import HaulProtocol
import HaulService
import Hummingbird
import HummingbirdTesting
import Logging

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

/// A caller's key and certificate.
struct TestIdentity: Sendable {
    let key: IdentityKey
    let certificate: IdentityCertificate
}

/// The real service over a real SQLite store and a filesystem blob store in a temporary directory.
struct ServiceHarness: Sendable {
    let root: String
    let metadata: SQLiteMetadataStore
    let authority: CertificateAuthority
    let clock: ManualClock
    let configuration: ServiceConfiguration
    let blobsRoot: String

    init(maximumObjectSize: Int = 1024 * 1024, maximumJSONSize: Int = 64 * 1024) async throws {
        root = NSTemporaryDirectory() + "haul-service-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        blobsRoot = root + "/blobs"
        try FileManager.default.createDirectory(atPath: blobsRoot, withIntermediateDirectories: true)
        metadata = try SQLiteMetadataStore(path: root + "/metadata.sqlite")
        try await metadata.migrate()
        clock = ManualClock()
        let start = clock.now
        authority = try CertificateAuthority.create(
            commonName: "test CA", notValidBefore: start.addingTimeInterval(-86_400),
            notValidAfter: start.addingTimeInterval(10 * 365 * 86_400))
        configuration = ServiceConfiguration(
            host: "127.0.0.1", port: 8443, serviceURL: "https://haul.test",
            maximumObjectSize: maximumObjectSize, maximumJSONSize: maximumJSONSize)
    }

    var audience: String { APIAudience.token(serviceURL: configuration.serviceURL) }

    func application(logger: Logger = Logger(label: "hauld-test")) -> some ApplicationProtocol {
        let clock = clock
        let dependencies = ServiceApplication.Dependencies(
            configuration: configuration, metadata: metadata, blobs: .fileSystem(root: blobsRoot),
            authority: authority, now: { clock.now }, logger: logger)
        return Application(router: ServiceApplication.router(dependencies))
    }

    /// Runs `body` with a test client of the router.
    func test<T: Sendable>(
        logger: Logger = Logger(label: "hauld-test"), _ body: @Sendable (any TestClientProtocol) async throws -> T
    ) async throws -> T {
        try await application(logger: logger).test(.router) { client in try await body(client) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    // MARK: Bootstrap

    var administration: ServiceAdministration {
        let clock = clock
        return ServiceAdministration(metadata: metadata, authority: authority, now: { clock.now })
    }

    /// A subscription and its admin identity.
    func subscription(_ name: String) async throws -> (UUID, TestIdentity) {
        let subscription = try await administration.createSubscription(name: try ResourceName(name))
        let credential = try await administration.adminCredential(
            subscription: subscription.id, serviceURL: configuration.serviceURL, pins: [])
        return (
            subscription.id,
            TestIdentity(
                key: try IdentityKey(pem: credential.privateKeyPEM),
                certificate: try IdentityCertificate(pem: credential.certificatePEM))
        )
    }

    func assertion(_ identity: TestIdentity, audience: String? = nil, at time: Date? = nil) async throws -> String {
        try await Assertion.sign(
            key: identity.key, certificate: identity.certificate, audience: audience ?? self.audience,
            subject: "test", now: time ?? clock.now)
    }
}

// MARK: Client helpers

struct HTTPResult: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try HaulJSON.decoder().decode(T.self, from: Data(body)) }
    var errorCode: APIErrorCode? { try? decode(APIErrorBody.self).error.code }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: [UInt8]? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> HTTPResult {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }
        ) { response in
            HTTPResult(
                status: response.status, headers: response.headers,
                body: Array(response.body.readableBytesView))
        }
    }

    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: some Encodable) async throws
        -> HTTPResult
    {
        try await call(method, uri, token: token, body: Array(try HaulJSON.encoder().encode(json)))
    }

    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, rawJSON: String) async throws
        -> HTTPResult
    {
        try await call(method, uri, token: token, body: Array(rawJSON.utf8))
    }

    /// Exchanges an assertion for a token; returns the token.
    func token(_ harness: ServiceHarness, _ identity: TestIdentity) async throws -> String {
        let result = try await call(
            .post, APIRoute.token, json: TokenRequest(assertion: try await harness.assertion(identity)))
        guard result.status == .ok else { throw HaulTestError("token exchange failed: \(result.text)") }
        return try result.decode(TokenResponse.self).token
    }

    /// Creates a vault and registers a server into it with a fresh key; returns its id and token.
    func server(_ harness: ServiceHarness, admin: String, vault: String, name: String) async throws
        -> (UUID, String, TestIdentity)
    {
        _ = try await call(
            .post, APIRoute.vaults, token: admin, json: VaultCreateRequest(name: try ResourceName(vault)))
        let key = IdentityKey()
        let csr = try CertificateRequest(key: key, commonName: name)
        let result = try await call(
            .post, APIPath.servers(try ResourceName(vault)), token: admin,
            json: ServerRegisterRequest(name: try ResourceName(name), csrPEM: csr.pem))
        guard result.status == .created else { throw HaulTestError("registration failed: \(result.text)") }
        let registration = try result.decode(ServerRegistration.self)
        let identity = TestIdentity(key: key, certificate: try IdentityCertificate(pem: registration.certificatePEM))
        return (registration.serverId, try await token(harness, identity), identity)
    }
}

struct HaulTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
