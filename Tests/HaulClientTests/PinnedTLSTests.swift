import Foundation
import HaulFormat
import HaulIdentity
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import HaulClient

/// A request as the test server saw it.
struct SeenRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// What the test server answers.
struct CannedResponse: Sendable {
    var status: HTTPResponseStatus = .ok
    var body: String = "{\"status\":\"ok\"}"
}

/// A TLS server on 127.0.0.1 with its own self-signed key; `respond` answers each request (by default 200
/// `{"status":"ok"}`).
final class TestTLSServer: Sendable {
    let credentials: ServerCredentials
    let channel: any Channel
    /// How many TCP connections were accepted.
    let connections = Counter()
    var port: Int { channel.localAddress!.port! }
    var url: String { "https://127.0.0.1:\(port)" }
    var pin: SPKIPin { credentials.key.spkiPin }

    init(respond: @escaping @Sendable (SeenRequest) -> CannedResponse = { _ in CannedResponse() }) async throws {
        credentials = try CertificateAuthority.makeSelfSignedServerCertificate(
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(86_400))
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [
                .certificate(try NIOSSLCertificate(bytes: credentials.certificate.derBytes, format: .der))
            ],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(credentials.key.pem.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: configuration)
        let connections = self.connections
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.value.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }
}

final class Counter: Sendable {
    let value = Mutex(0)
}

private final class Responder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let respond: @Sendable (SeenRequest) -> CannedResponse
    private let request = Mutex<SeenRequest?>(nil)

    init(respond: @escaping @Sendable (SeenRequest) -> CannedResponse) { self.respond = respond }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request.withLock { $0 = SeenRequest(method: head.method, uri: head.uri, headers: head.headers, body: []) }
        case .body(var buffer):
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            request.withLock { $0?.body += bytes }
        case .end:
            guard let seen = request.withLock({ $0 }) else { return }
            let answer = respond(seen)
            let body = ByteBuffer(string: answer.body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

@Suite struct PinnedTLSTests {
    @Test func pinnedKeyIsAccepted() async throws {
        let server = try await TestTLSServer()
        let transport = try HTTPTransport(baseURL: server.url, pins: try ServicePins([server.pin]), maximumAttempts: 1)
        let exchange = try await transport.send(.GET, "/healthz")
        #expect(exchange.status == 200)
        #expect(String(decoding: exchange.body, as: UTF8.self) == "{\"status\":\"ok\"}")
        await transport.shutdown()
        await server.stop()
    }

    @Test func unpinnedKeyIsRefusedBeforeAnyRequest() async throws {
        let server = try await TestTLSServer()
        let other = IdentityKey().spkiPin
        let transport = try HTTPTransport(baseURL: server.url, pins: try ServicePins([other]), maximumAttempts: 3)
        let error = await #expect(throws: HaulError.self) { _ = try await transport.send(.GET, "/healthz") }
        #expect(error?.code == .untrustedService)
        #expect(error?.isTransient == false)
        #expect(error?.message.contains(server.pin.base64) == true)
        await server.stop()
    }

    @Test func everyConnectionChecksThePin() async throws {
        // Two servers with different keys: the pin of one opens no connection to the other, also after a
        // successful exchange with the first (nothing is trusted on first use).
        let a = try await TestTLSServer()
        let b = try await TestTLSServer()
        let toA = try HTTPTransport(baseURL: a.url, pins: try ServicePins([a.pin]), maximumAttempts: 1)
        #expect(try await toA.send(.GET, "/healthz").status == 200)
        let toB = try HTTPTransport(baseURL: b.url, pins: try ServicePins([a.pin]), maximumAttempts: 3)
        let error = await #expect(throws: HaulError.self) { _ = try await toB.send(.GET, "/healthz") }
        #expect(error?.code == .untrustedService)
        #expect(error?.message.contains(b.pin.base64) == true)
        await toA.shutdown()
        await a.stop()
        await b.stop()
    }

    @Test func connectionsAreReused() async throws {
        let server = try await TestTLSServer()
        let transport = try HTTPTransport(baseURL: server.url, pins: try ServicePins([server.pin]), maximumAttempts: 1)
        for _ in 0..<5 { #expect(try await transport.send(.GET, "/healthz").status == 200) }
        #expect(server.connections.value.withLock { $0 } == 1)
        await transport.shutdown()
        await server.stop()
    }

    @Test func anyOfSeveralPinsIsEnough() async throws {
        let server = try await TestTLSServer()
        let pins = try ServicePins([IdentityKey().spkiPin, server.pin])
        let transport = try HTTPTransport(baseURL: server.url, pins: pins, maximumAttempts: 1)
        #expect(try await transport.send(.GET, "/healthz").status == 200)
        await server.stop()
    }

    @Test func refusesPlainHTTPAndEmptyPins() throws {
        let pins = try ServicePins([IdentityKey().spkiPin])
        #expect(throws: HaulError.self) { _ = try HTTPTransport(baseURL: "http://127.0.0.1:1", pins: pins) }
        #expect(throws: HaulError.self) { _ = try ServicePins([]) }
    }

    @Test func unreachableServiceIsTransient() async throws {
        let transport = try HTTPTransport(
            baseURL: "https://127.0.0.1:1", pins: try ServicePins([IdentityKey().spkiPin]), maximumAttempts: 2,
            initialBackoff: .milliseconds(1))
        let error = await #expect(throws: HaulError.self) { _ = try await transport.send(.GET, "/healthz") }
        #expect(error?.isTransient == true)
        #expect(error?.message.contains("cannot connect") == true)
    }
}
