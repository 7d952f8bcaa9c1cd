import HaulFormat

/// The name of a vault, server, storage account, container or application: `[a-z0-9][a-z0-9-]{0,62}`
/// (docs/service.md §2). Parsed once at the edge; below it a `ResourceName` is always valid.
public struct ResourceName: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// The longest name accepted.
    public static let maximumLength = 63

    /// Checks `string` against `[a-z0-9][a-z0-9-]{0,62}`.
    /// - Throws: `HaulError` `.invalidArgument` naming the string and the rule.
    public init(_ string: String) throws {
        guard Self.isValid(string) else {
            throw HaulError(
                .invalidArgument,
                "\"\(string)\" is not a valid name: use 1 to 63 lowercase letters, digits and '-', starting with a "
                    + "letter or digit")
        }
        rawValue = string
    }

    /// Whether `string` matches `[a-z0-9][a-z0-9-]{0,62}`.
    public static func isValid(_ string: String) -> Bool {
        let bytes = Array(string.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength else { return false }
        func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard isLowerAlnum(first) else { return false }
        return bytes.dropFirst().allSatisfy { isLowerAlnum($0) || $0 == 0x2D }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do {
            try self.init(string)
        } catch let error as HaulError {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: container.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: ResourceName, rhs: ResourceName) -> Bool { lhs.rawValue < rhs.rawValue }
}
