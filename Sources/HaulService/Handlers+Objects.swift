import Crypto
import Foundation
import HaulFormat
import HaulMetadata
import HaulProtocol
import HaulStorage
import Hummingbird

/// The repository a request addresses: the caller's own server, its vault, and the store at its prefix.
struct RepositoryAccess: Sendable {
    let server: Server
    let vault: Vault
    let store: any BlobStore
}

extension Handlers {
    /// The vault object API (docs/service.md §6).
    func addObjectRoutes(to v1: RouterGroup<ServiceRequestContext>) {
        let collection = "repositories/{server}/objects/{kind}"
        let object = "repositories/{server}/objects/{kind}/{name}"
        // `config` has no name: `/objects/config` is the object, every other `/objects/{kind}` is a listing.
        v1.get(RouterPath(collection)) { request, context in
            let (access, kind) = try await repository(context)
            if kind == .config { return try await read(access, .config, request: request) }
            return try await list(access, kind, request: request)
        }
        v1.head(RouterPath(collection)) { _, context in
            let (access, kind) = try await repository(context)
            guard kind == .config else { throw APIError(.methodNotAllowed, "HEAD needs an object name") }
            return try await head(access, .config)
        }
        v1.put(RouterPath(collection)) { request, context in
            let (access, kind) = try await repository(context)
            guard kind == .config else { throw APIError(.methodNotAllowed, "PUT needs an object name") }
            return try await write(access, .config, request: request, caller: try context.requireCaller())
        }
        v1.delete(RouterPath(collection)) { _, context -> Response in
            let (_, kind) = try await repository(context)
            guard kind == .config else { throw APIError(.methodNotAllowed, "DELETE needs an object name") }
            throw APIError(.immutable, "the repository config is immutable and cannot be deleted")
        }
        v1.get(RouterPath(object)) { request, context in
            let (access, key) = try await objectKey(context)
            return try await read(access, key, request: request)
        }
        v1.head(RouterPath(object)) { _, context in
            let (access, key) = try await objectKey(context)
            return try await head(access, key)
        }
        v1.put(RouterPath(object)) { request, context in
            let (access, key) = try await objectKey(context)
            return try await write(access, key, request: request, caller: try context.requireCaller())
        }
        v1.delete(RouterPath(object)) { _, context in
            let (access, key) = try await objectKey(context)
            return try await remove(access, key, caller: try context.requireCaller())
        }
    }

    // MARK: Access

    /// The caller's own repository. Only the `server` role reaches repositories (`403` for other roles); a server
    /// asking for any repository but its own, or for a server id that does not parse, gets `404`, exactly as for
    /// a repository that does not exist.
    func repository(_ context: ServiceRequestContext) async throws -> (RepositoryAccess, ObjectKind) {
        let caller = try require(context, .server)
        let raw = context.parameters.get("server") ?? ""
        guard let id = UUID(uuidString: raw), id.lowercased == caller.subject,
            let server = try await metadata.server(id: id), !server.revoked,
            let vault = try await metadata.vault(id: server.vault), vault.subscription == caller.subscription
        else {
            throw APIError(.notFound, "no repository \(raw.prefix(64))")
        }
        let kindName = context.parameters.get("kind") ?? ""
        guard let kind = ObjectKind(rawValue: kindName) else {
            throw APIError(
                .invalidObjectName,
                "\"\(kindName.prefix(64))\" is not an object kind; use config, keys, data, index, snapshots or leases")
        }
        let store = try await blobs.repository(vault: vault.id, server: server.id)
        return (RepositoryAccess(server: server, vault: vault, store: store), kind)
    }

    /// The object a `/{kind}/{name}` path names. The name must be 64 lowercase hex digits, so `..`, `/`, `%2F`
    /// and every other traversal attempt is `400 invalidObjectName` before anything is touched.
    func objectKey(_ context: ServiceRequestContext) async throws -> (RepositoryAccess, ObjectKey) {
        let (access, kind) = try await repository(context)
        let name = context.parameters.get("name") ?? ""
        guard kind != .config else {
            throw APIError(.invalidObjectName, "the config object has no name: use /objects/config")
        }
        guard ObjectID(hex: name) != nil, let key = try? ObjectKey(kind, name) else {
            throw APIError(
                .invalidObjectName,
                "object name \"\(name.prefix(80))\" in \(kind.rawValue)/ is not 64 lowercase hex digits")
        }
        return (access, key)
    }

    // MARK: Read

    func head(_ access: RepositoryAccess, _ key: ObjectKey) async throws -> Response {
        let size: Int
        if key.kind == .leases {
            guard let lease = try await metadata.lease(server: access.server.id, name: key.name) else {
                throw APIError(.notFound, "no object \(key.path)")
            }
            size = lease.body.count
        } else {
            guard let info = try await access.store.head(key) else {
                throw APIError(.notFound, "no object \(key.path)")
            }
            size = Int(info.size)
        }
        var headers = HTTPFields()
        headers[.contentLength] = String(size)
        headers[.contentType] = "application/octet-stream"
        headers[.acceptRanges] = "bytes"
        return Response(status: .ok, headers: headers)
    }

    func read(_ access: RepositoryAccess, _ key: ObjectKey, request: Request) async throws -> Response {
        let size: Int64
        if key.kind == .leases {
            guard let lease = try await metadata.lease(server: access.server.id, name: key.name) else {
                throw APIError(.notFound, "no object \(key.path)")
            }
            size = Int64(lease.body.count)
            if let range = request.headers[.range] {
                let (start, end) = try Self.parseRange(range, size: size)
                return Self.bytes(Array(lease.body[Int(start)...Int(end)]), range: (start, end, size))
            }
            return Self.bytes(lease.body)
        }
        if let range = request.headers[.range] {
            guard let info = try await access.store.head(key) else {
                throw APIError(.notFound, "no object \(key.path)")
            }
            size = info.size
            let (start, end) = try Self.parseRange(range, size: size)
            let bytes = try await access.store.get(key, offset: start, length: Int(end - start + 1))
            return Self.bytes(bytes, range: (start, end, size))
        }
        let bytes: [UInt8]
        do {
            bytes = try await access.store.get(key)
        } catch let error as HaulError where error.code == .notFound {
            throw APIError(.notFound, "no object \(key.path)")
        }
        return Self.bytes(bytes)
    }

    static func bytes(_ bytes: [UInt8], range: (Int64, Int64, Int64)? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.contentLength] = String(bytes.count)
        headers[.acceptRanges] = "bytes"
        if let (start, end, size) = range {
            headers[.contentRange] = "bytes \(start)-\(end)/\(size)"
        }
        return Response(
            status: range == nil ? .ok : .partialContent, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2), clamped to the object; anything
    /// else, several ranges, or a range starting past the end is `400 invalidRange`.
    static func parseRange(_ header: String, size: Int64) throws -> (Int64, Int64) {
        let invalid = APIError(.invalidRange, "Range must be one range bytes=a-b within the object's \(size) bytes")
        guard header.hasPrefix("bytes="), !header.contains(",") else { throw invalid }
        let spec = header.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let second = parts[1].trimmingCharacters(in: .whitespaces)
        let digits = { (s: String) in !s.isEmpty && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
        if first.isEmpty {
            guard digits(second), let suffix = Int64(second), suffix > 0, size > 0 else { throw invalid }
            return (max(0, size - suffix), size - 1)
        }
        guard digits(first), let start = Int64(first), start < size else { throw invalid }
        if second.isEmpty { return (start, size - 1) }
        guard digits(second), let end = Int64(second), end >= start else { throw invalid }
        return (start, min(end, size - 1))
    }

    func list(_ access: RepositoryAccess, _ kind: ObjectKind, request: Request) async throws -> Response {
        let after = request.uri.queryParameters.get("after") ?? ""
        let limit = Int(
            try Self.integer(
                request, "limit", default: Int64(ObjectListPage.defaultLimit),
                range: 1...Int64(ObjectListPage.maximumLimit)))
        var entries: [ObjectEntry]
        if kind == .leases {
            entries = try await metadata.leases(server: access.server.id).map {
                ObjectEntry(name: $0.name, size: Int64($0.body.count))
            }
        } else {
            entries = try await access.store.list(kind).map { ObjectEntry(name: $0.key.name, size: $0.size) }
        }
        entries.sort { $0.name < $1.name }
        let rest = entries.drop { $0.name <= after }
        let page = Array(rest.prefix(limit))
        return try json(ObjectListPage(objects: page, next: rest.count > limit ? page.last?.name : nil))
    }

    // MARK: Write

    func write(_ access: RepositoryAccess, _ key: ObjectKey, request: Request, caller: Caller) async throws
        -> Response
    {
        let createOnly: Bool
        switch request.headers[.ifNoneMatch] {
        case nil: createOnly = false
        case "*": createOnly = true
        default: throw APIError(.invalidParameter, "If-None-Match accepts only *")
        }
        if key.kind.isContentAddressed, let staging = access.store as? any StagingBlobStore {
            return try await writeStreamed(access, key, staging, request: request, createOnly: createOnly)
        }
        let buffer = try await body(request, limit: configuration.maximumObjectSize)
        let bytes = Array(buffer.readableBytesView)
        if key.kind.isContentAddressed {
            let digest = Self.sha256Hex(bytes)
            guard digest == key.name else {
                throw APIError(
                    .contentHashMismatch,
                    "the body's SHA-256 is \(digest), not the name \(key.name); nothing was stored")
            }
        }
        switch key.kind {
        case .leases:
            guard let lease = try? JSONDecoder.haul.decode(Lease.self, from: Data(bytes)) else {
                throw APIError(.malformedJSON, "a lease body must be the lease JSON of format.md §10")
            }
            do {
                try await metadata.putLease(
                    LeaseRecord(server: access.server.id, name: key.name, body: bytes, expires: lease.expires),
                    createOnly: createOnly)
            } catch let error as HaulError where error.code == .alreadyExists {
                throw APIError(.alreadyExists, "the lease \(key.name) exists")
            }
        case .config:
            do {
                try await access.store.put(key, bytes, mode: .createOnly)
            } catch let error as HaulError where error.code == .alreadyExists {
                throw APIError(.immutable, "the repository config exists and is immutable")
            }
        case .keys:
            if try await access.store.head(key) != nil {
                if createOnly { throw APIError(.alreadyExists, "the object \(key.path) exists") }
                try await moveToTrash(access, key, caller: caller, action: "object.overwrite")
            }
            try await access.store.put(key, bytes, mode: createOnly ? .createOnly : .overwrite)
        case .data, .index, .snapshots:
            // Same name, same bytes: a second upload changes nothing.
            if try await access.store.head(key) != nil {
                if createOnly { throw APIError(.alreadyExists, "the object \(key.path) exists") }
            } else {
                do {
                    try await access.store.put(key, bytes, mode: .createOnly)
                } catch let error as HaulError where error.code == .alreadyExists {
                    if createOnly { throw APIError(.alreadyExists, "the object \(key.path) exists") }
                }
            }
        }
        return Response(status: .created)
    }

    /// A content-addressed object streamed into a staged object of the store (a temporary file on the filesystem
    /// store, an unlinked local file uploaded on commit on S3), hashed on the way, and committed only when the
    /// SHA-256 of the bytes is the name: at most one body chunk is in memory. An object that exists already is
    /// not written again (same name, same bytes); its body is read and dropped.
    func writeStreamed(
        _ access: RepositoryAccess, _ key: ObjectKey, _ store: any StagingBlobStore, request: Request,
        createOnly: Bool
    ) async throws -> Response {
        let limit = configuration.maximumObjectSize
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(.bodyTooLarge, "the request body has \(length) bytes; at most \(limit) are accepted")
        }
        let exists = try await access.store.head(key) != nil
        if exists, createOnly { throw APIError(.alreadyExists, "the object \(key.path) exists") }
        let staged = exists ? nil : try store.stage(key.kind)
        var hash = SHA256()
        var size = 0
        do {
            for try await chunk in request.body {
                size += chunk.readableBytes
                guard size <= limit else {
                    throw APIError(.bodyTooLarge, "the request body is longer than \(limit) bytes")
                }
                guard let staged else { continue }
                try chunk.withUnsafeReadableBytes { bytes in
                    hash.update(bufferPointer: bytes)
                    try staged.append(bytes)
                }
            }
            guard let staged else { return Response(status: .created) }
            let digest = Self.hex(hash.finalize())
            guard digest == key.name else {
                throw APIError(
                    .contentHashMismatch,
                    "the body's SHA-256 is \(digest), not the name \(key.name); nothing was stored")
            }
            try await staged.commit(as: key)
        } catch {
            staged?.discard()
            throw error
        }
        return Response(status: .created)
    }

    func remove(_ access: RepositoryAccess, _ key: ObjectKey, caller: Caller) async throws -> Response {
        if key.kind == .leases {
            do {
                try await metadata.deleteLease(server: access.server.id, name: key.name)
            } catch let error as HaulError where error.code == .notFound {
                throw APIError(.notFound, "no object \(key.path)")
            }
            return Response(status: .noContent)
        }
        guard try await access.store.head(key) != nil else { throw APIError(.notFound, "no object \(key.path)") }
        try await moveToTrash(access, key, caller: caller, action: "object.delete")
        return Response(status: .noContent)
    }

    // MARK: Trash (docs/service.md §7)

    /// Copies the object to `trash/<id>/`, records it as a deleted object, then removes the original: a crash
    /// between the steps leaves a second copy, never a loss.
    @discardableResult
    func moveToTrash(_ access: RepositoryAccess, _ key: ObjectKey, caller: Caller, action: String) async throws
        -> DeletedObject
    {
        let bytes = try await access.store.get(key)
        let id = UUID()
        let prefix = BlobBackend.trashPrefix(id)
        try await blobs.store(prefix).put(key, bytes, mode: .createOnly)
        let time = now()
        let days = max(14, access.vault.retentionDays)
        let deleted = DeletedObject(
            id: id, vault: access.vault.id, server: access.server.id, objectPath: key.path, trashPrefix: prefix,
            size: Int64(bytes.count), deletedAt: time, purgeAfter: time.addingTimeInterval(TimeInterval(days) * 86_400))
        try await metadata.recordDeletedObject(deleted)
        do {
            try await access.store.delete(key)
        } catch let error as HaulError where error.code == .notFound {
            // Deleted concurrently; the trash copy is still a faithful record.
        }
        try await audit(caller, action, "\(access.server.id.lowercased)/\(key.path)", id.lowercased)
        return deleted
    }

    /// Puts a deleted object back at its path (an object there now goes to the trash first), then forgets the
    /// record and removes the trash copy.
    func undelete(_ deleted: DeletedObject, vault: Vault, caller: Caller) async throws {
        guard let key = Self.objectKey(path: deleted.objectPath),
            let server = try await metadata.server(id: deleted.server)
        else {
            throw APIError(.internal, "the deleted object \(deleted.id.lowercased) has an unreadable path")
        }
        let trash = try await blobs.store(deleted.trashPrefix)
        let bytes = try await trash.get(key)
        let access = RepositoryAccess(
            server: server, vault: vault, store: try await blobs.repository(vault: vault.id, server: server.id))
        if try await access.store.head(key) != nil {
            if key.kind.isContentAddressed {
                // The same name holds the same bytes: nothing to put back.
            } else {
                try await moveToTrash(access, key, caller: caller, action: "object.overwrite")
                try await access.store.put(key, bytes, mode: .overwrite)
            }
        } else {
            try await access.store.put(key, bytes, mode: .createOnly)
        }
        try await metadata.removeDeletedObject(id: deleted.id)
        try? await trash.delete(key)
        try await audit(
            caller, "object.undelete", "\(server.id.lowercased)/\(deleted.objectPath)", deleted.id.lowercased)
    }

    /// The key of a format.md §1 path (`config`, `data/ab/<hex>`, `<kind>/<hex>`).
    static func objectKey(path: String) -> ObjectKey? {
        if path == "config" { return .config }
        let parts = path.split(separator: "/").map(String.init)
        guard let kindName = parts.first, let kind = ObjectKind(rawValue: kindName), let name = parts.last else {
            return nil
        }
        guard let key = try? ObjectKey(kind, name), key.path == path else { return nil }
        return key
    }
}
