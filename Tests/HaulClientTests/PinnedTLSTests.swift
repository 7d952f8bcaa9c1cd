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

/// A TLS server on 127.0.0.1 with its own self-signed key that answers every request with 200 `{"status":"ok"}`.
final class TestTLSServer: Sendable {
    let credentials: ServerCredentials
    let channel: any Channel
    /// How many TCP connections were accepted.
    let connections = Counter()
    var port: Int { channel.localAddress!.port! }
    var url: String { "https://127.0.0.1:\(port)" }
    var pin: SPKIPin { credentials.key.spkiPin }

    init() async throws {
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
                    try channel.pipeline.syncOperations.addHandler(OKResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }
}

final class Counter: Sendable {
    let value = Mutex(0)
}

private final class OKResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = ByteBuffer(string: "{\"status\":\"ok\"}")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
