import HaulFormat

/// What the checkers of every conformance suite share (`BlobStoreConformance`, `MetadataStoreConformance`): one named
/// check, and assertions that throw `ConformanceFailure` naming it.
public protocol ConformanceChecking: Sendable {
    /// The name of the check being run, e.g. "ranged reads".
    var name: String { get }
}

extension ConformanceChecking {
    public func failure(_ message: String, line: Int = #line) -> ConformanceFailure {
        ConformanceFailure(check: name, message: message, line: line)
    }

    public func equal<T: Equatable>(_ actual: T, _ expected: T, _ what: String, line: Int = #line) async throws {
        guard actual == expected else { throw failure("\(what): expected \(expected), got \(actual)", line: line) }
    }

    /// Requires `body` to throw a `HaulError` with `code` that is not transient.
    public func expectError(
        _ code: HaulError.Code, _ what: String, line: Int = #line, _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
        } catch let error as HaulError {
            guard error.code == code else {
                throw failure("\(what): expected \(code), got \(error.code): \(error)", line: line)
            }
            guard !error.isTransient else { throw failure("\(what): \(code) must not be transient", line: line) }
            return
        } catch {
            throw failure("\(what): expected HaulError(\(code)), got \(type(of: error)): \(error)", line: line)
        }
        throw failure("\(what): expected \(code), but the call succeeded", line: line)
    }
}
