/// One object in a listing.
public struct ObjectEntry: Codable, Sendable, Hashable {
    public var name: String
    public var size: Int64
    public init(name: String, size: Int64) {
        self.name = name
        self.size = size
    }
}

/// `GET /v1/repositories/{server}/objects/{kind}?after=NAME&limit=N`: names in ascending order, strictly after
/// `after`. `next` is the `after` of the next page, `nil` at the end.
public struct ObjectListPage: Codable, Sendable, Hashable {
    public var objects: [ObjectEntry]
    public var next: String?
    public init(objects: [ObjectEntry], next: String?) {
        self.objects = objects
        self.next = next
    }

    /// The page size when `limit` is not given, and the largest accepted.
    public static let defaultLimit = 1000
    public static let maximumLimit = 10_000
}

/// The object kinds of the vault object API (the format.md §1 folders).
public enum RepositoryObjectKind: String, Sendable, Hashable, Codable, CaseIterable {
    case config, keys, data, index, snapshots, leases

    /// Names of these kinds are the SHA-256 of the object's bytes; the service verifies them on `PUT`.
    public var isContentAddressed: Bool {
        switch self {
        case .data, .index, .snapshots: true
        case .config, .keys, .leases: false
        }
    }
}
