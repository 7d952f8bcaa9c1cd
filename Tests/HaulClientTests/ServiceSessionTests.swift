import Foundation
import HaulFormat
import HaulIdentity
import HaulProtocol
import NIOHTTP1
import Synchronization
import Testing

@testable import HaulClient

/// A fake service: `/v1/token` hands out numbered tokens valid for `lifetime`; `/v1/vaults` answers 200 for the
/// current token and 401 `tokenExpired` for older ones; `/v1/flaky` fails with 503 `failures` times first.
final class FakeService: Sendable {
    struct State {
        var issued = 0
        var current = ""
        var flakyLeft = 0
        var assertions: [String] = []
    }
    let state = Mutex(State())
    let lifetime: TimeInterval

    init(lifetime: TimeInterval, flaky: Int = 0) {
        self.lifetime = lifetime
        state.withLock { $0.flakyLeft = flaky }
    }

    func respond(_ request: SeenRequest) -> CannedResponse {
        switch request.uri {
        case "/v1/token":
            let body = try? HaulJSON.decoder().decode(TokenRequest.self, from: Data(request.body))
            let token = state.withLock { s -> String in
                s.issued += 1
                s.current = "token-\(s.issued)"
                s.assertions.append(body?.assertion ?? "")
                return s.current
            }
            let response = TokenResponse(
                token: token, expiresAt: Date().addingTimeInterval(lifetime), subscription: nil, role: .server,
                subject: "s")
            return CannedResponse(body: String(decoding: try! HaulJSON.encoder().encode(response), as: UTF8.self))
        case "/v1/vaults":
            let current = state.withLock { $0.current }
            guard request.headers.first(name: "Authorization") == "Bearer " + current else {
                return CannedResponse(
                    status: .unauthorized, body: #"{"error":{"code":"tokenExpired","message":"the token expired"}}"#)
            }
            return CannedResponse(body: #"{"vaults":[]}"#)
        case "/v1/flaky":
            let fail = state.withLock { s -> Bool in
                defer { s.flakyLeft -= 1 }
                return s.flakyLeft > 0
            }
            if fail {
                return CannedResponse(
                    status: .serviceUnavailable, body: #"{"error":{"code":"unavailable","message":"busy"}}"#)
            }
            return CannedResponse(body: #"{"vaults":[]}"#)
        default:
            return CannedResponse(
                status: .forbidden, body: #"{"error":{"code":"forbidden","message":"a server may not do this"}}"#)
        }
    }
}

@Suite struct ServiceSessionTests {
    func session(_ server: TestTLSServer) throws -> ServiceSession {
        let counter = Counter()
        return try ServiceSession(
            serviceURL: server.url, pins: try ServicePins([server.pin]),
            signer: { audience in
                counter.value.withLock { $0 += 1 }
                return "assertion-for-\(audience)-\(counter.value.withLock { $0 })"
            })
    }

    @Test func tokenIsCachedUntilShortlyBeforeExpiry() async throws {
        let fake = FakeService(lifetime: 900)
        let server = try await TestTLSServer(respond: fake.respond)
        let client = ServiceClient(session: try session(server))
        for _ in 0..<3 { #expect(try await client.vaults().isEmpty) }
        #expect(fake.state.withLock { $0.issued } == 1)
        #expect(fake.state.withLock { $0.assertions.first } == "assertion-for-\(server.url)/v1/token-1")
        await server.stop()
    }

    @Test func concurrentCallersShareOneTokenExchange() async throws {
        let fake = FakeService(lifetime: 900)
        let server = try await TestTLSServer(respond: fake.respond)
        let client = ServiceClient(session: try session(server))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { _ = try await client.vaults() } }
            try await group.waitForAll()
        }
        #expect(fake.state.withLock { $0.issued } == 1)
        await server.stop()
    }

    @Test func tokenCloseToExpiryIsRenewed() async throws {
        // A token valid for less than the renewal margin is replaced before each use.
        let fake = FakeService(lifetime: ServiceSession.renewalMargin - 5)
        let server = try await TestTLSServer(respond: fake.respond)
        let client = ServiceClient(session: try session(server))
        for _ in 0..<3 { _ = try await client.vaults() }
        #expect(fake.state.withLock { $0.issued } == 3)
        let assertions = fake.state.withLock { $0.assertions }
        #expect(Set(assertions).count == 3)  // a fresh assertion each time, never a replay
        await server.stop()
    }

    @Test func expiredTokenIsReplacedOnce() async throws {
        let fake = FakeService(lifetime: 900)
        let server = try await TestTLSServer(respond: fake.respond)
        let session = try session(server)
        let client = ServiceClient(session: session)
        _ = try await client.vaults()
        fake.state.withLock { $0.current = "revoked-by-the-service" }  // the cached token is now refused
        #expect(try await client.vaults().isEmpty)
        #expect(fake.state.withLock { $0.issued } == 2)
        await server.stop()
    }

    @Test func transientFailuresAreRetried() async throws {
        let fake = FakeService(lifetime: 900, flaky: 2)
        let server = try await TestTLSServer(respond: fake.respond)
        let session = try session(server)
        let page = try await session.call(.GET, "/v1/flaky", as: VaultList.self)
        #expect(page.vaults.isEmpty)
        await server.stop()
    }

    @Test func errorBodiesBecomeHaulErrorsThatSayWhatToDo() async throws {
        let fake = FakeService(lifetime: 900)
        let server = try await TestTLSServer(respond: fake.respond)
        let client = ServiceClient(session: try session(server))
        let error = await #expect(throws: HaulError.self) { _ = try await client.storageAccounts() }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("a server may not do this") == true)
        #expect(error?.message.contains("ask your administrator") == true)
        await server.stop()
    }
}
