import Foundation
import Hummingbird
import Logging
import Prometheus

/// Records every request on the service's own Prometheus registry and writes one access-log line for it, once the
/// response is known (docs/service.md §1).
///
/// Metrics, labelled by method, route template (`/v1/repositories/{server}/objects/{kind}/{name}`, never the raw
/// path, so ids do not multiply the series; Hummingbird's `NotFound` when no route matched) and status:
/// - `hauld_http_requests_total` (counter),
/// - `hauld_http_request_duration_seconds` (histogram, without the status),
/// - `hauld_http_request_body_bytes_total{method,route}` (counter of the `Content-Length` of accepted requests).
///
/// The log line (level `info`) carries method, route, status, duration in milliseconds and the caller's
/// `role:subject`; never a header, a token or a body.
struct RequestObserver: RouterMiddleware {
    typealias Context = ServiceRequestContext

    let registry: PrometheusCollectorRegistry
    let logger: Logger

    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
        .seconds(1), .seconds(5), .seconds(30),
    ]

    /// `hauld_http_<name>_<unit>`.
    static func metric(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "hauld", subsystem: "http", metricName: name, unitName: unit, helpText: help)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "NotFound"
        let method = request.method.rawValue
        let status = String(response.status.code)
        registry.makeCounter(
            descriptor: Self.metric("requests", "total", "Requests answered, by method, route template and status."),
            labels: [("method", method), ("route", route), ("status", status)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.metric("request_duration", "seconds", "Time to the response, by method and route."),
            labels: [("method", method), ("route", route)], buckets: Self.buckets
        ).record(elapsed)
        // Only bodies the service accepted (2xx): a refused request's declared length was never read.
        if (200..<300).contains(response.status.code),
            let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > 0
        {
            registry.makeCounter(
                descriptor: Self.metric("request_body_bytes", "total", "Request body bytes, by method and route."),
                labels: [("method", method), ("route", route)]
            ).increment(by: length)
        }
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info(
            "request",
            metadata: [
                "method": "\(method)", "route": "\(route)", "status": "\(status)",
                "ms": "\(String(format: "%.1f", milliseconds))", "caller": "\(context.actor.current ?? "-")",
            ])
        return response
    }
}
