import HaulFormat

/// The folders of a repository (format.md §1).
public enum ObjectKind: String, Sendable, Hashable, CaseIterable {
    case config
    case keys
    case data
    case index
    case snapshots
    case leases

    /// Whether names of this kind are the SHA-256 of the object's bytes.
    public var isContentAddressed: Bool {
        switch self {
        case .data, .index, .snapshots: true
        case .config, .keys, .leases: false
        }
    }
}

/// Where an object lives in a store: a kind and a name. `config` has the empty name.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public let kind: ObjectKind
    public let name: String

    /// Checks the name: config has none; every other kind takes 64 lowercase hex digits.
    public init(_ kind: ObjectKind, _ name: String) throws {
        if kind == .config {
            guard name.isEmpty else {
                throw HaulError(.invalidArgument, "the config object has no name, got \"\(name)\"")
            }
        } else {
            guard ObjectID(hex: name) != nil else {
                throw HaulError(
                    .invalidArgument, "object name \"\(name)\" in \(kind.rawValue)/ is not 64 lowercase hex digits")
            }
        }
        self.kind = kind
        self.name = name
    }

    public init(_ kind: ObjectKind, _ id: ObjectID) {
        self.kind = kind
        self.name = id.hex
    }

    public static let config = try! ObjectKey(.config, "")

    /// The relative path inside a repository directory (format.md §1).
    public var path: String {
        switch kind {
        case .config: "config"
        case .data: "data/\(name.prefix(2))/\(name)"
        default: "\(kind.rawValue)/\(name)"
        }
    }

    public var description: String { path }
}

/// What `list` and `head` report about an object.
public struct ObjectInfo: Hashable, Sendable {
    public let key: ObjectKey
    public let size: Int64
    public init(key: ObjectKey, size: Int64) {
        self.key = key
        self.size = size
    }
}

/// What a store can do, as data.
public struct StoreCapabilities: Sendable, Hashable {
    /// `put(…, mode: .createOnly)` is atomic against concurrent creators.
    public var atomicCreateOnly: Bool
    /// A completed `put` survives a crash of the machine (fsync or the provider's guarantee).
    public var durableWrites: Bool
    public init(atomicCreateOnly: Bool, durableWrites: Bool) {
        self.atomicCreateOnly = atomicCreateOnly
        self.durableWrites = durableWrites
    }
}

public enum PutMode: Sendable {
    /// Replace an existing object (leases, idempotent content-addressed writes).
    case overwrite
    /// Fail with `alreadyExists` if the object exists (config, key files).
    case createOnly
}

/// Read access to a repository's objects. A restore or a check gets only this.
///
/// Contract for every conformer (checked by `BlobStoreConformance` in HaulTesting):
/// - "not found" is a `HaulError` with code `.notFound`, from `get`, ranged `get` and `delete`; `head` returns `nil`.
/// - An object is visible either complete or not at all; readers never see a partial object.
/// - `list` returns every object of a kind that existed for the whole call, in no particular order, and never an
///   object's temporary form.
/// - Errors that a retry may cure have `isTransient == true`; others are permanent.
public protocol BlobStoreReader: Sendable {
    var capabilities: StoreCapabilities { get }
    /// The whole object.
    func get(_ key: ObjectKey) async throws -> [UInt8]
    /// `length` bytes from `offset`; fewer only at the end of the object. A range starting past the end is
    /// `invalidArgument`.
    func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8]
    /// Size of the object, or `nil` if it does not exist.
    func head(_ key: ObjectKey) async throws -> ObjectInfo?
    func list(_ kind: ObjectKind) async throws -> [ObjectInfo]
}

/// Read and write access.
///
/// - `put` is atomic and, when `capabilities.durableWrites`, durable when it returns.
/// - `put` with `.createOnly` throws `.alreadyExists` if the object exists.
/// - `delete` of a missing object throws `.notFound`.
public protocol BlobStore: BlobStoreReader {
    func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws
    func delete(_ key: ObjectKey) async throws
}

extension BlobStore {
    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws { try await put(key, bytes, mode: .overwrite) }
}
