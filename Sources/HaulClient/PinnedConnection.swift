import Foundation
import HaulFormat
import HaulIdentity
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// What one HTTP exchange with the service returned.
struct HTTPExchange: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// One keep-alive HTTP/1.1 connection over TLS to the service, whose key was checked against the pins during the
/// handshake (docs/agent.md §3).
///
/// The pin is enforced in NIOSSL's custom verification callback on every connection: the handshake fails unless
/// the SHA-256 of the leaf certificate's SubjectPublicKeyInfo is pinned, before a byte of a request is sent. No
/// trust store and no host name take part; the pinned key is the whole trust decision. (AsyncHTTPClient takes a
/// `TLSConfiguration` but no verification callback, and a self-signed service certificate whose key usage lacks
/// `keyCertSign` cannot serve as a BoringSSL trust root, so the client owns its channel.)
///
/// One request at a time per connection; `HTTPTransport` keeps a few idle ones.
final class PinnedConnection: Sendable {
    let channel: any Channel
    private let handler: ExchangeHandler

    private init(channel: any Channel, handler: ExchangeHandler) {
        self.channel = channel
        self.handler = handler
    }

    /// Whether the connection can carry another request.
    var isReusable: Bool { channel.isActive && handler.keepAlive.withLock { $0 } }

    /// Connects and completes the TLS handshake.
    /// - Throws: `untrustedService` naming the presented pin when the key is not pinned (permanent); transient `io`
    ///   when the service cannot be reached or the handshake fails for another reason.
    static func connect(
        host: String, port: Int, pins: ServicePins, serviceURL: String, timeout: Duration = .seconds(10)
    ) async throws -> PinnedConnection {
        let seen = SeenCertificate()
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: configuration)
        let serverName = isIPAddress(host) ? nil : host
        let handler = ExchangeHandler()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(
                        context: context, serverHostname: serverName,
                        customVerificationCallback: { certificates, promise in
                            let leaf = certificates.first
                            let pinned = leaf.map(pins.accepts) ?? false
                            seen.state.withLock { $0 = (leaf, pinned) }
                            promise.succeed(pinned ? .certificateVerified : .failed)
                        })
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            handler.failAll(error)
            throw HaulError(
                .io, "cannot connect to the service at \(serviceURL): \(error); check that it runs and is reachable",
                transient: true, cause: error)
        }
        do {
            try await handler.handshake.futureResult.get()
        } catch {
            try? await channel.close()
            let (leaf, pinned) = seen.state.withLock { ($0.leaf, $0.pinned) }
            if let leaf, !pinned {
                throw HaulError(
                    .untrustedService,
                    "the service at \(serviceURL) presented a TLS key (pin \(ServicePins.pin(of: leaf)?.base64 ?? "unreadable")) "
                        + "that is not pinned (expected \(pins)); refusing to talk to it. If the service's certificate "
                        + "was rotated to a new key, ask your administrator for new settings")
            }
            throw HaulError(
                .io, "TLS handshake with \(serviceURL) failed: \(error)", transient: true, cause: error)
        }
        return PinnedConnection(channel: channel, handler: handler)
    }

    /// Sends one request and collects the whole response.
    /// - Throws: transient `io` when the connection fails or `timeout` passes (the connection is closed then).
    func send(_ head: HTTPRequestHead, body: [UInt8]?, timeout: Duration, what: String) async throws -> HTTPExchange {
        let promise = channel.eventLoop.makePromise(of: HTTPExchange.self)
        handler.begin(promise)
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(HaulError(.io, "\(what): no answer within \(timeout)", transient: true))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body, !body.isEmpty {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
        do {
            return try await promise.futureResult.get()
        } catch let error as HaulError {
            throw error
        } catch {
            throw HaulError(.io, "\(what) failed: \(error)", transient: true, cause: error)
        }
    }

    func close() async { try? await channel.close() }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

/// What the verification callback saw, read after the handshake.
private final class SeenCertificate: Sendable {
    let state = Mutex<(leaf: NIOSSLCertificate?, pinned: Bool)>((nil, false))
}

/// Completes the handshake promise, then collects one response per request into the pending promise.
private final class ExchangeHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private struct Pending {
        var promise: EventLoopPromise<HTTPExchange>?
        var head: HTTPResponseHead?
        var body: [UInt8] = []
    }

    let handshake: EventLoopPromise<Void>
    let keepAlive = Mutex(true)
    private let pending = Mutex(Pending())

    init() {
        handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
    }

    func begin(_ promise: EventLoopPromise<HTTPExchange>) {
        pending.withLock { $0 = Pending(promise: promise) }
    }

    func failAll(_ error: any Error) {
        handshake.fail(error)
        let promise = pending.withLock { state -> EventLoopPromise<HTTPExchange>? in
            defer { state.promise = nil }
            return state.promise
        }
        keepAlive.withLock { $0 = false }
        promise?.fail(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls { handshake.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending.withLock { $0.head = head }
            if !head.isKeepAlive { keepAlive.withLock { $0 = false } }
        case .body(var buffer):
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            pending.withLock { $0.body += bytes }
        case .end:
            let (promise, exchange) = pending.withLock { state -> (EventLoopPromise<HTTPExchange>?, HTTPExchange?) in
                defer { state = Pending() }
                guard let head = state.head else { return (state.promise, nil) }
                return (
                    state.promise, HTTPExchange(status: Int(head.status.code), headers: head.headers, body: state.body)
                )
            }
            if let exchange {
                promise?.succeed(exchange)
            } else {
                promise?.fail(HaulError(.io, "the service sent a response without a head", transient: true))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(HaulError(.io, "the service closed the connection", transient: true))
        context.fireChannelInactive()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
