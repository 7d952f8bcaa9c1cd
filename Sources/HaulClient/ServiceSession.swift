import Foundation
import HaulFormat
import HaulIdentity
import HaulProtocol
import NIOHTTP1

/// Signs a fresh assertion (docs/service.md §4) for the given audience (`<service URL>/v1/token`) with the caller's
/// identity key. Called once per token exchange, so every attempt carries a new `jti`.
public typealias AssertionSigner = @Sendable (_ audience: String) async throws -> String

/// An authenticated conversation with the service: exchanges signed assertions for bearer tokens at `/v1/token`,
/// keeps the token until shortly before it expires, and sends it on every request.
///
/// A `401` with `tokenExpired` or `tokenRevoked` drops the token and tries once more with a new one, so a token
/// that expired in flight costs one round trip, not a failure.
public actor ServiceSession {
    /// Tokens are renewed this long before their stated expiry (clock skew and request time).
    public static let renewalMargin: TimeInterval = 60

    let transport: HTTPTransport
    private let signer: AssertionSigner
    private let now: @Sendable () -> Date
    private var token: (value: String, expires: Date)?
    /// The exchange in flight, shared by every caller that needs a token meanwhile (parallel uploads at start).
    private var exchange: Task<(value: String, expires: Date), any Error>?

    /// The service's base URL.
    public nonisolated var serviceURL: String { transport.baseURL }

    /// - Parameters:
    ///   - serviceURL: `https://host:port` of the service.
    ///   - pins: the accepted SPKI SHA-256 pins of its TLS key.
    ///   - signer: signs an assertion with the caller's key.
    ///   - now: the clock (injected for tests).
    /// - Throws: `invalidArgument` for a URL that is not https.
    public init(
        serviceURL: String, pins: ServicePins, signer: @escaping AssertionSigner,
        maximumAttempts: Int = 5, now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.transport = try HTTPTransport(baseURL: serviceURL, pins: pins, maximumAttempts: maximumAttempts)
        self.signer = signer
        self.now = now
    }

    /// The audience an assertion names: the token endpoint's full URL.
    public nonisolated var tokenAudience: String { transport.baseURL + APIRoute.token }

    /// A valid bearer token, from the cache or a new exchange.
    public func bearerToken() async throws -> String {
        if let token, token.expires.timeIntervalSince(now()) > Self.renewalMargin { return token.value }
        if let exchange { return try await exchange.value.value }
        let task = Task { try await exchangeToken() }
        exchange = task
        defer { exchange = nil }
        let fresh = try await task.value
        token = fresh
        return fresh.value
    }

    private func exchangeToken() async throws -> (value: String, expires: Date) {
        var attempt = 0
        while true {
            attempt += 1
            let assertion = try await signer(tokenAudience)
            let body = try HaulJSON.encoder().encode(TokenRequest(assertion: assertion))
            // Each attempt signs a new assertion: a retried one would be refused as a replay.
            let exchange: HTTPExchange
            do {
                exchange = try await transport.send(
                    .POST, APIRoute.token, headers: ["Content-Type": "application/json"], body: Array(body),
                    attempts: 1)
            } catch let error as HaulError where error.isTransient && attempt < transport.maximumAttempts {
                try await Task.sleep(for: .milliseconds(200 << min(attempt, 5)))
                continue
            }
            if ServiceError.isRetryable(exchange.status) && attempt < transport.maximumAttempts {
                try await Task.sleep(for: .milliseconds(200 << min(attempt, 5)))
                continue
            }
            guard exchange.status == 200 else { throw ServiceError.map(exchange, request: "POST \(APIRoute.token)") }
            let response = try ServiceError.decode(TokenResponse.self, exchange, request: "POST \(APIRoute.token)")
            return (response.token, response.expiresAt)
        }
    }

    /// Sends an authenticated request and returns the exchange whatever its status (the caller maps errors).
    func send(
        _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil
    ) async throws -> HTTPExchange {
        var renewed = false
        while true {
            var headers = headers
            headers.replaceOrAdd(name: "Authorization", value: "Bearer " + (try await bearerToken()))
            let exchange = try await transport.send(method, path, headers: headers, body: body)
            if exchange.status == 401, !renewed,
                let code = ServiceError.body(of: exchange)?.code, ["tokenExpired", "tokenRevoked"].contains(code)
            {
                token = nil
                renewed = true
                continue
            }
            return exchange
        }
    }

    /// Sends a JSON request and decodes a JSON response; a status outside 2xx is thrown as the mapped error.
    func call<Response: Decodable & Sendable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable & Sendable)?, as: Response.Type
    ) async throws -> Response {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        var bytes: [UInt8]?
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            bytes = Array(try HaulJSON.encoder().encode(body))
        }
        let exchange = try await send(method, path, headers: headers, body: bytes)
        let what = "\(method.rawValue) \(path)"
        guard (200..<300).contains(exchange.status) else { throw ServiceError.map(exchange, request: what) }
        return try ServiceError.decode(Response.self, exchange, request: what)
    }

    /// `call` without a request body.
    func call<Response: Decodable & Sendable>(_ method: HTTPMethod, _ path: String, as: Response.Type)
        async throws -> Response
    {
        try await call(method, path, body: String?.none, as: Response.self)
    }
}
