import HaulFormat
import Synchronization

/// Counters a long operation updates and a progress display reads. Thread-safe; cheap to update from hot loops.
public final class ProgressCounters: Sendable {
    public struct Values: Sendable, Hashable {
        public var files: Int = 0
        public var directories: Int = 0
        public var bytes: UInt64 = 0
        /// Totals when known (restore knows them up front; a backup learns them as it scans).
        public var totalFiles: Int? = nil
        public var totalBytes: UInt64? = nil
        public var warnings: Int = 0
        public var currentPath: String = ""
        public init() {}
    }

    private let state = Mutex(Values())

    public init() {}

    public var values: Values { state.withLock { $0 } }

    public func update(_ body: (inout Values) -> Void) { state.withLock { body(&$0) } }
    public func addBytes(_ n: UInt64) { state.withLock { $0.bytes += n } }
    public func addFile(path: String? = nil) {
        state.withLock {
            $0.files += 1
            if let path { $0.currentPath = path }
        }
    }
}

/// Something worth telling the user that did not stop the operation (an unreadable file, a skipped socket).
public struct EngineWarning: Sendable, Hashable, CustomStringConvertible {
    public var path: [UInt8]
    public var message: String
    public init(path: [UInt8], message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(String(decoding: path, as: UTF8.self)): \(message)" }
}

/// Collects warnings from concurrent workers.
public final class WarningLog: Sendable {
    private let items = Mutex<[EngineWarning]>([])
    private let onWarning: (@Sendable (EngineWarning) -> Void)?
    public init(onWarning: (@Sendable (EngineWarning) -> Void)? = nil) { self.onWarning = onWarning }
    public func add(_ w: EngineWarning) {
        items.withLock { $0.append(w) }
        onWarning?(w)
    }
    public var all: [EngineWarning] { items.withLock { $0 } }
}
