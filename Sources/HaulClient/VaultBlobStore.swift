import Foundation
import HaulFormat
import HaulProtocol
import HaulStorage
import NIOHTTP1

/// A `BlobStore` over the vault object API of one server's repository (docs/service.md §6).
///
/// | call | request |
/// |---|---|
/// | `put` | `PUT /v1/repositories/{server}/objects/{kind}/{name}`; `.createOnly` sends `If-None-Match: *` |
/// | `get` | `GET …`; a ranged get sends `Range: bytes=a-b` and takes `206` |
/// | `head` | `HEAD …` (`Content-Length`) |
/// | `list` | `GET /v1/repositories/{server}/objects/{kind}?after=NAME&limit=N`, page by page |
/// | `delete` | `DELETE …` (the service keeps the object 14 days in its trash) |
///
/// `config` is addressed as `/v1/repositories/{server}/objects/config`. Leases go through the same routes (the
/// service keeps them as rows and requires lease JSON). The service checks content-addressed names against the
/// SHA-256 of the body (`contentHashMismatch`), writes config once (a second put is `alreadyExists`) and never
/// deletes it (`permissionDenied`): `BlobStoreConformance` runs with its `.verifying` profile against this store.
/// Transient failures are retried inside the session with back-off.
public struct VaultBlobStore: BlobStore {
    public let session: ServiceSession
    /// The server whose repository this is (its id).
    public let server: UUID
    /// Objects per listing page.
    public let pageSize: Int

    public var capabilities: StoreCapabilities { StoreCapabilities(atomicCreateOnly: true, durableWrites: true) }

    public init(session: ServiceSession, server: UUID, pageSize: Int = ObjectListPage.defaultLimit) {
        self.session = session
        self.server = server
        self.pageSize = pageSize
    }

    private func path(_ key: ObjectKey) -> String {
        APIPath.object(server: server, kind: key.kind.rawValue, name: key.name)
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        var headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
        if mode == .createOnly { headers.add(name: "If-None-Match", value: "*") }
        let exchange = try await session.send(.PUT, path(key), headers: headers, body: bytes)
        switch exchange.status {
        case 200..<300: return
        case 412: throw HaulError(.alreadyExists, "\(key.path) already exists in the vault")
        default: throw ServiceError.map(exchange, request: "PUT \(key.path)")
        }
    }

    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        let exchange = try await session.send(.GET, path(key))
        guard exchange.status == 200 else { throw ServiceError.map(exchange, request: "GET \(key.path)") }
        return exchange.body
    }

    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        guard offset >= 0, length >= 0 else {
            throw HaulError(.invalidArgument, "invalid range offset \(offset), length \(length) of \(key.path)")
        }
        if length == 0 {
            // No Range header can ask for nothing: check that the offset lies inside the object.
            guard let info = try await head(key) else { throw HaulError(.notFound, "\(key.path) does not exist") }
            guard offset <= info.size else {
                throw HaulError(
                    .invalidArgument, "offset \(offset) is past the end of \(key.path) (\(info.size) bytes)")
            }
            return []
        }
        let last = offset + Int64(length) - 1
        let exchange = try await session.send(.GET, path(key), headers: ["Range": "bytes=\(offset)-\(last)"])
        switch exchange.status {
        case 206:
            return exchange.body
        case 200:
            // The whole object (a server may ignore Range): cut the range here.
            let body = exchange.body
            guard offset <= Int64(body.count) else {
                throw HaulError(
                    .invalidArgument, "offset \(offset) is past the end of \(key.path) (\(body.count) bytes)")
            }
            return Array(body[Int(offset)..<Int(min(Int64(body.count), offset + Int64(length)))])
        case _ where exchange.status == 416 || ServiceError.body(of: exchange)?.code == "invalidRange":
            // Unsatisfiable: the range starts at or past the end. At the end exactly is an empty read.
            guard let info = try await head(key) else { throw HaulError(.notFound, "\(key.path) does not exist") }
            if offset == info.size { return [] }
            throw HaulError(.invalidArgument, "offset \(offset) is past the end of \(key.path) (\(info.size) bytes)")
        default:
            throw ServiceError.map(exchange, request: "GET \(key.path) bytes \(offset)-\(last)")
        }
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        let exchange = try await session.send(.HEAD, path(key))
        switch exchange.status {
        case 200:
            guard let text = exchange.headers.first(name: "Content-Length"), let size = Int64(text) else {
                throw HaulError(.corrupted, "the service's answer to HEAD \(key.path) has no Content-Length")
            }
            return ObjectInfo(key: key, size: size)
        case 404:
            return nil
        default:
            throw ServiceError.map(exchange, request: "HEAD \(key.path)")
        }
    }

    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        if kind == .config { return try await head(.config).map { [$0] } ?? [] }
        var out: [ObjectInfo] = []
        var after: String?
        repeat {
            // Names are hex digits, so `after` needs no escaping.
            let path = APIPath.objectList(server: server, kind: kind.rawValue, after: after, limit: pageSize)
            let page = try await session.call(.GET, path, as: ObjectListPage.self)
            for entry in page.objects {
                out.append(ObjectInfo(key: try ObjectKey(kind, entry.name), size: entry.size))
            }
            after = page.next
        } while after != nil
        return out
    }

    public func delete(_ key: ObjectKey) async throws {
        if key.kind == .config {
            // The service never deletes config (it is immutable); a missing one is still "not found".
            guard try await head(key) != nil else { throw HaulError(.notFound, "config does not exist in the vault") }
            throw HaulError(.permissionDenied, "the repository config in the vault is immutable and cannot be deleted")
        }
        let exchange = try await session.send(.DELETE, path(key))
        guard (200..<300).contains(exchange.status) else {
            throw ServiceError.map(exchange, request: "DELETE \(key.path)")
        }
    }
}
