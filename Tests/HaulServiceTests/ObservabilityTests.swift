import Foundation
import HaulProtocol
import Logging
import Synchronization
import Testing

/// Collects log records in memory.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }
    private let records = Mutex<[Record]>([])
    var all: [Record] { records.withLock { $0 } }
    func append(_ record: Record) { records.withLock { $0.append(record) } }

    var logger: Logger {
        Logger(label: "hauld-test") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            sink.append(
                Record(
                    level: event.level, message: "\(event.message)",
                    metadata: merged.mapValues { "\($0)" }))
        }
    }
}

/// docs/service.md §1: `/metrics` counts requests by route template and status; every request is logged once.
@Suite struct ObservabilityTests {
    @Test func metricsCountRequestsByRouteAndStatusAndEveryRequestIsLogged() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        let logs = CapturedLogs()
        let (server, token, metrics) = try await harness.test(logger: logs.logger) { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("a pack".utf8)
            let path = APIPath.object(server: server, kind: "data", name: sha256Hex(bytes))
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            let missing = APIPath.object(server: server, kind: "data", name: String(repeating: "0", count: 64))
            #expect(try await client.call(.get, missing, token: token).status == .notFound)
            #expect(try await client.call(.get, "/no/such/route").status == .notFound)
            let metrics = try await client.call(.get, APIRoute.metrics)
            #expect(metrics.status == .ok)
            return (server, token, metrics.text)
        }
        let lines = metrics.split(separator: "\n").map(String.init)
        func count(_ method: String, _ status: String, routeContaining fragment: String) -> Int? {
            let line = lines.first {
                $0.hasPrefix("hauld_http_requests_total{") && $0.contains("method=\"\(method)\"")
                    && $0.contains("status=\"\(status)\"") && $0.contains(fragment)
            }
            return line?.split(separator: " ").last.flatMap { Int($0) }
        }
        #expect(count("PUT", "201", routeContaining: "objects") == 2, "\(metrics)")
        #expect(count("GET", "404", routeContaining: "objects") == 1, "\(metrics)")
        #expect(count("GET", "404", routeContaining: "route=\"NotFound\"") == 1, "\(metrics)")
        #expect(count("POST", "200", routeContaining: "token") != nil, "\(metrics)")
        #expect(lines.contains { $0.hasPrefix("hauld_http_request_duration_seconds_bucket{") })
        #expect(lines.contains { $0.hasPrefix("hauld_http_request_body_bytes_total{") && $0.hasSuffix(" 12") })
        // Route templates, never the raw path: no series names a server id.
        #expect(!metrics.contains(server.uuidString.lowercased()))

        let requests = logs.all.filter { $0.message == "request" }
        let puts = requests.filter { $0.metadata["method"] == "PUT" && $0.metadata["status"] == "201" }
        #expect(puts.count == 2)
        #expect(puts.allSatisfy { $0.metadata["caller"] == "server:\(server.uuidString.lowercased())" })
        #expect(puts.allSatisfy { $0.level == .info && $0.metadata["ms"] != nil })
        #expect(requests.contains { $0.metadata["route"] == "NotFound" && $0.metadata["caller"] == "-" })
        // Nothing secret is logged.
        #expect(!logs.all.contains { record in record.metadata.values.contains { $0.contains(token) } })
    }
}
