import Foundation
import HaulFormat
import NIOCore
import NIOHTTP1

/// Sends requests to one service over pinned TLS connections (`PinnedConnection`), keeps up to `maximumIdle`
/// connections open for reuse, and retries what a retry can cure: connection failures, 429, 502, 503 and 504,
/// with exponential back-off and jitter. An unpinned key (`untrustedService`) is never retried.
///
/// Other statuses are returned to the caller, which maps error bodies to `HaulError` (`ServiceError`).
actor HTTPTransport {
    nonisolated let baseURL: String
    nonisolated let host: String
    nonisolated let port: Int
    nonisolated let pins: ServicePins
    nonisolated let maximumAttempts: Int
    nonisolated let initialBackoff: Duration
    nonisolated let maximumIdle = 4
    private var idle: [PinnedConnection] = []

    /// - Throws: `invalidArgument` when `baseURL` is not `https://host[:port]`.
    init(baseURL: String, pins: ServicePins, maximumAttempts: Int = 5, initialBackoff: Duration = .milliseconds(200))
        throws
    {
        guard let components = URLComponents(string: baseURL), components.scheme == "https",
            let host = components.host, !host.isEmpty, components.path.isEmpty || components.path == "/",
            components.query == nil
        else {
            throw HaulError(.invalidArgument, "the service URL \"\(baseURL)\" is not https://HOST[:PORT]")
        }
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 443
        self.pins = pins
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialBackoff = initialBackoff
    }

    /// Sends one request, retrying transient failures.
    /// - Parameters:
    ///   - path: the absolute path with query, e.g. `/v1/token`.
    ///   - attempts: overrides `maximumAttempts` (1 for requests the caller retries itself).
    /// - Throws: `untrustedService`; transient `io` once the attempts are used up.
    func send(
        _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil,
        timeout: Duration = .seconds(300), attempts: Int? = nil
    ) async throws -> HTTPExchange {
        let limit = attempts ?? maximumAttempts
        var attempt = 0
        var backoff = initialBackoff
        while true {
            attempt += 1
            do {
                let exchange = try await sendOnce(method, path, headers: headers, body: body, timeout: timeout)
                if ServiceError.isRetryable(exchange.status) && attempt < limit {
                    try await Task.sleep(for: jittered(backoff))
                    backoff *= 2
                    continue
                }
                return exchange
            } catch let error as HaulError where error.isTransient && attempt < limit {
                try await Task.sleep(for: jittered(backoff))
                backoff *= 2
            }
        }
    }

    private func jittered(_ d: Duration) -> Duration { d + .milliseconds(Int.random(in: 0...50)) }

    private func sendOnce(
        _ method: HTTPMethod, _ path: String, headers: HTTPHeaders, body: [UInt8]?, timeout: Duration
    ) async throws -> HTTPExchange {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: port == 443 ? host : "\(host):\(port)")
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body?.count ?? 0))
        if !head.headers.contains(name: "User-Agent") { head.headers.add(name: "User-Agent", value: "haul") }
        let what = "\(method.rawValue) \(baseURL)\(path)"
        // An idle connection the service closed meanwhile fails before any answer: try a fresh one at once.
        while let reused = idle.popLast() {
            guard reused.isReusable else {
                await reused.close()
                continue
            }
            do {
                let exchange = try await reused.send(head, body: body, timeout: timeout, what: what)
                await keep(reused)
                return exchange
            } catch {
                await reused.close()
            }
        }
        let connection = try await PinnedConnection.connect(host: host, port: port, pins: pins, serviceURL: baseURL)
        do {
            let exchange = try await connection.send(head, body: body, timeout: timeout, what: what)
            await keep(connection)
            return exchange
        } catch {
            await connection.close()
            throw error
        }
    }

    private func keep(_ connection: PinnedConnection) async {
        if connection.isReusable && idle.count < maximumIdle {
            idle.append(connection)
        } else {
            await connection.close()
        }
    }

    /// Closes the idle connections.
    func shutdown() async {
        for connection in idle { await connection.close() }
        idle = []
    }
}
