/// The one error type of Haul's libraries.
///
/// A `Code` names what went wrong in a stable, extensible way (new codes are new static members); `message` is for
/// people and names the object or path involved and what to do next. `isTransient` tells retry layers whether trying
/// again can help; nothing else should be read by them. Only the edges (the `haul` executable, HTTP handlers) turn
/// a code into an exit status or a response.
public struct HaulError: Error, CustomStringConvertible, Sendable {
    /// A stable identifier of an error class.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let notFound = Code(rawValue: "notFound")
        public static let alreadyExists = Code(rawValue: "alreadyExists")
        public static let io = Code(rawValue: "io")
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        public static let corrupted = Code(rawValue: "corrupted")
        public static let authenticationFailed = Code(rawValue: "authenticationFailed")
        public static let wrongPassword = Code(rawValue: "wrongPassword")
        public static let unsupportedVersion = Code(rawValue: "unsupportedVersion")
        public static let repositoryNotFound = Code(rawValue: "repositoryNotFound")
        public static let repositoryBusy = Code(rawValue: "repositoryBusy")
        public static let limitExceeded = Code(rawValue: "limitExceeded")
        public static let interrupted = Code(rawValue: "interrupted")
        public static let permissionDenied = Code(rawValue: "permissionDenied")
        public static let internalError = Code(rawValue: "internal")
    }

    public var code: Code
    public var message: String
    public var isTransient: Bool
    public var cause: (any Error)?
    public var file: String
    public var line: Int

    public init(
        _ code: Code,
        _ message: String,
        transient: Bool = false,
        cause: (any Error)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.isTransient = transient
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}

extension Error {
    /// The Haul error code of this error, or `nil` for foreign errors.
    public var haulCode: HaulError.Code? { (self as? HaulError)?.code }
}
