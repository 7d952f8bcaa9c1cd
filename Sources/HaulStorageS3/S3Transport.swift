import AsyncHTTPClient
import HaulFormat
import NIOCore
import NIOHTTP1

/// One signed HTTP exchange as the transport sees it. Internal: S3 request types never leave this module.
struct S3HTTPRequest: Sendable {
    var method: String
    /// Absolute URL with the path and query already encoded exactly as they were signed.
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]?
}

struct S3HTTPResponse: Sendable {
    var status: Int
    /// Names lowercased.
    var headers: [String: String]
    var body: [UInt8]

    init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }
}

/// Sends HTTP requests. The real one is `HTTPClientTransport`; tests wrap it to inject faults.
///
/// `send` throws `HaulError(.io, transient: true)` for connection errors and timeouts, a permanent `HaulError` for a
/// request the client cannot send, and `CancellationError` when the task is cancelled. Any HTTP status is a response.
protocol S3Transport: Sendable {
    func send(_ request: S3HTTPRequest, timeout: Duration) async throws -> S3HTTPResponse
    func shutdown() async throws
}

/// `S3Transport` over AsyncHTTPClient, owning its `HTTPClient` (on the shared NIO event loop group).
final class HTTPClientTransport: S3Transport {
    private let client: HTTPClient
    /// The largest response body accepted (S3's largest single object is 5 GiB).
    private let maximumBody: Int

    init(connectTimeout: Duration = .seconds(10), maximumBody: Int = 5 << 30 + 1 << 20) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(Int64(connectTimeout.nanoseconds)))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.maximumBody = maximumBody
    }

    func send(_ request: S3HTTPRequest, timeout: Duration) async throws -> S3HTTPResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if let body = request.body { outgoing.body = .bytes(body) }
        do {
            let response = try await client.execute(outgoing, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
            var headers: [String: String] = [:]
            for (name, value) in response.headers { headers[name.lowercased()] = value }
            let body = try await response.body.collect(upTo: maximumBody)
            return S3HTTPResponse(status: Int(response.status.code), headers: headers, body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where Self.permanentErrors.contains(error) {
            throw HaulError(
                .invalidArgument, "the HTTP client cannot send \(request.method) \(request.url): \(error)",
                cause: error)
        } catch let error as HaulError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw HaulError(
                .io, "\(request.method) \(request.url) failed before a response (connection error or timeout)",
                transient: true, cause: error)
        }
    }

    func shutdown() async throws {
        try await client.shutdown()
    }

    private static let permanentErrors: [HTTPClientError] = [
        .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .bodyLengthMismatch, .traceRequestWithBody,
        .redirectLimitReached, .redirectCycleDetected,
    ]
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
