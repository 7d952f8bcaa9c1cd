/// A violation of the `MetadataStore` contract found by `MetadataStoreConformance`.
public struct MetadataConformanceFailure: Error, CustomStringConvertible, Sendable {
    /// The name of the check that failed, e.g. "leases".
    public let check: String
    /// What was expected and what happened instead.
    public let message: String
    public let file: String
    public let line: Int

    public init(check: String, message: String, file: String = #fileID, line: Int = #line) {
        self.check = check
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "metadata conformance check \"\(check)\" failed: \(message) [\(file):\(line)]" }
}
