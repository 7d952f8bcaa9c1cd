import Foundation
import HaulEngine

/// A live progress line on a terminal (files, bytes, rate, ETA), redrawn twice a second on standard error.
struct ProgressDisplay {
    let counters: ProgressCounters
    let verb: String

    /// Runs `body` while drawing progress when `enabled`.
    func run<R: Sendable>(enabled: Bool, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        guard enabled else { return try await body() }
        let counters = self.counters
        let verb = self.verb
        let start = Date()
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    ProgressDisplay.draw(counters.values, verb: verb, elapsed: Date().timeIntervalSince(start))
                    try? await Task.sleep(for: .milliseconds(500))
                }
                return nil
            }
            group.addTask { try await body() }
            var result: R?
            while let next = try await group.next() {
                if let r = next {
                    result = r
                    group.cancelAll()
                }
            }
            // The final state once (a quick operation may end between two redraws), then the summary replaces it.
            ProgressDisplay.draw(counters.values, verb: verb, elapsed: Date().timeIntervalSince(start))
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            return result!
        }
    }

    static func draw(_ v: ProgressCounters.Values, verb: String, elapsed: Double) {
        let rate = elapsed > 0 ? Double(v.bytes) / elapsed : 0
        var line = "\(verb) \(v.files) files, \(formatBytes(v.bytes))"
        // A backup's total is an estimate (the previous snapshot's size): once passed, it says nothing any more.
        if let total = v.totalBytes, total > 0, v.bytes <= total {
            let pct = min(100, Double(v.bytes) * 100 / Double(total))
            line += String(format: " of %@ (%.0f%%)", formatBytes(total), pct)
            if rate > 0 {
                let eta = Double(total - min(total, v.bytes)) / rate
                line += String(format: ", ETA %d:%02d", Int(eta) / 60, Int(eta) % 60)
            }
        }
        line += ", \(formatBytes(UInt64(rate)))/s"
        if v.warnings > 0 { line += ", \(v.warnings) warnings" }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }
}
