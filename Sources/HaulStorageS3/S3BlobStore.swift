import Crypto
import Foundation
import HaulFormat
import HaulStorage

/// A `BlobStore` in an S3-compatible object store (AWS S3, Ceph RGW, MinIO), over SigV4-signed HTTP (docs/s3.md).
///
/// Objects live at `PREFIX/<ObjectKey.path>` in one bucket, addressed path-style. Every request is signed with
/// `x-amz-content-sha256`; for content-addressed kinds (`data`, `index`, `snapshots`) a put sends the object's
/// name as that hash, so the server itself refuses bytes that are not the object named (`.corrupted`), and every put
/// sends `Content-MD5`, so bytes changed on the wire are refused too (transient, retried).
///
/// Contract as `BlobStore`: puts are atomic (S3 makes an object visible only once complete); `.createOnly` is a
/// single `PUT` with `If-None-Match: *`, atomic on the server, so `capabilities.atomicCreateOnly` is `true`; objects
/// above `Options.multipartThreshold` (overwrite mode only) go up as a multipart upload in parts of
/// `Options.partSize`. `delete` sends `HEAD` first because S3 answers `204` for a missing key. Each request is retried
/// on its own (`S3RetryPolicy`), a multipart upload part by part.
///
/// The HTTP client is owned: call `shutdown()` once when done (or use `withStore`), after which every store made with
/// `withPrefix` from it stops working too.
public struct S3BlobStore: StagingBlobStore {
    /// Tuning and test seams.
    public struct Options: Sendable {
        /// Send the name of content-addressed objects as `x-amz-content-sha256` (the server checks the bytes). Off,
        /// the SHA-256 of the bytes themselves is sent; the conformance suite turns it off because it stores
        /// arbitrary bytes under hex names.
        public var verifyContentAddresses = true
        /// Overwrite puts and staged objects above this size use a multipart upload.
        public var multipartThreshold = 16 << 20
        /// Size of each multipart part except the last (S3's minimum is 5 MiB).
        public var partSize = 8 << 20
        /// Parts of one multipart upload sent at once (each is one part's bytes in memory).
        public var partsInFlight = 2
        public var retry = S3RetryPolicy.standard
        /// How long to try to connect (the HTTP client keeps retrying a refused connection until then).
        public var connectTimeout: Duration = .seconds(10)
        /// Deadline of one request, plus one second per MiB of its body.
        public var requestTimeout: Duration = .seconds(60)
        /// Keys per ListObjectsV2 page (S3's maximum is 1000).
        public var listPageSize = 1000
        /// Where staged objects are buffered (an unlinked temporary file each).
        public var stagingDirectory = NSTemporaryDirectory()
        /// The signing clock.
        public var now: @Sendable () -> Date = { Date() }

        public init() {}
    }

    /// The largest object one `PUT` may carry on S3.
    public static let maximumSinglePut = 5 << 30

    public let location: S3Location
    public let options: Options
    let connection: S3Connection

    /// Both `true`: create-only puts are conditional on the server, and S3 acknowledges a put once it is durable.
    public var capabilities: StoreCapabilities { StoreCapabilities(atomicCreateOnly: true, durableWrites: true) }

    /// Opens a store; nothing is sent until the first call. Call `shutdown()` when done.
    /// - Parameters:
    ///   - location: bucket, prefix, endpoint and region (`S3Location(url:)` parses `s3://…`).
    ///   - credentials: defaults to `HAUL_S3_ACCESS_KEY` / `HAUL_S3_SECRET_KEY`.
    /// - Throws: `HaulError(.invalidArgument)` if the credentials are not given and not in the environment.
    public init(location: S3Location, credentials: S3Credentials? = nil, options: Options = Options()) throws {
        let credentials = try credentials ?? S3Credentials.fromEnvironment()
        self.init(
            location: location, credentials: credentials, options: options,
            transport: HTTPClientTransport(connectTimeout: options.connectTimeout))
    }

    /// A store over any transport (tests inject faults here).
    init(location: S3Location, credentials: S3Credentials, options: Options, transport: any S3Transport) {
        self.location = location
        self.options = options
        self.connection = S3Connection(
            transport: transport, credentials: credentials, location: location, retry: options.retry,
            requestTimeout: options.requestTimeout, now: options.now)
    }

    private init(location: S3Location, options: Options, connection: S3Connection) {
        self.location = location
        self.options = options
        self.connection = connection
    }

    /// Opens a store, runs `body`, and shuts the HTTP client down however `body` ends.
    public static func withStore<T: Sendable>(
        location: S3Location, credentials: S3Credentials? = nil, options: Options = Options(),
        _ body: (S3BlobStore) async throws -> T
    ) async throws -> T {
        let store = try S3BlobStore(location: location, credentials: credentials, options: options)
        let result: T
        do {
            result = try await body(store)
        } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
        return result
    }

    /// The same bucket and connection under `PREFIX/child`: one bucket holds many repositories.
    public func withPrefix(_ child: String) -> S3BlobStore {
        S3BlobStore(location: location.appending(prefix: child), options: options, connection: connection)
    }

    /// Closes the HTTP client shared with every store made by `withPrefix`. Call it once.
    public func shutdown() async throws {
        try await connection.transport.shutdown()
    }

    // MARK: BlobStoreReader

    /// `GET` of the whole object.
    /// - Throws: `.notFound` if there is none.
    public func get(_ key: ObjectKey) async throws -> [UInt8] {
        try await connection.perform(S3Call(method: "GET", key: objectKey(key))).body
    }

    /// `GET` with `Range: bytes=offset-(offset+length-1)`; a read of zero bytes, or one the server calls
    /// unsatisfiable (416: at or past the end), is settled with a `HEAD`.
    /// - Throws: `.notFound` for a missing object; `.invalidArgument` for a negative offset or length or an offset
    ///   past the end.
    public func get(_ key: ObjectKey, offset: Int64, length: Int) async throws -> [UInt8] {
        _ = try ByteRange.validatedStart(offset: offset, length: length, size: .max, key: key)
        if length == 0 { return try await emptyRead(key, offset: offset) }
        let (end, overflow) = offset.addingReportingOverflow(Int64(length) - 1)
        var call = S3Call(method: "GET", key: objectKey(key))
        call.headers = [("range", "bytes=\(offset)-\(overflow ? Int64.max : end)")]
        call.accept = [416]
        let response = try await connection.perform(call)
        switch response.status {
        case 416:
            return try await emptyRead(key, offset: offset)
        case 206:
            return response.body
        default:
            // A server that ignores Range sends the whole object.
            let body = response.body
            let start = try ByteRange.validatedStart(
                offset: offset, length: length, size: Int64(body.count), key: key)
            return Array(body[start..<(start + min(length, body.count - start))])
        }
    }

    /// `HEAD` of the object; `nil` on 404.
    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        var call = S3Call(method: "HEAD", key: objectKey(key))
        call.accept = [404]
        let response = try await connection.perform(call)
        guard response.status != 404 else { return nil }
        guard let size = response.headers["content-length"].flatMap(Int64.init) else {
            throw HaulError(.corrupted, "HEAD \(connection.describe(objectKey(key))) returned no Content-Length")
        }
        return ObjectInfo(key: key, size: size)
    }

    /// ListObjectsV2 under `PREFIX/kind/`, paged with continuation tokens; keys that are not objects of `kind`
    /// (foreign files) are skipped.
    public func list(_ kind: ObjectKind) async throws -> [ObjectInfo] {
        let root = location.key("")
        let prefix = kind == .config ? location.key("config") : location.key("\(kind.rawValue)/")
        var token: String?
        var found: [ObjectInfo] = []
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(options.listPageSize))]
            if let token { query.append(("continuation-token", token)) }
            let response = try await connection.perform(S3Call(method: "GET", key: nil, query: query))
            let result = try S3XMLElement.parse(response.body, what: "ListObjectsV2 of \(prefix)")
            for entry in result.children("Contents") {
                guard let name = entry.text("Key"), name.hasPrefix(root),
                    let key = Self.objectKey(path: String(name.dropFirst(root.count)), kind: kind),
                    let size = entry.text("Size").flatMap(Int64.init)
                else { continue }
                found.append(ObjectInfo(key: key, size: size))
            }
            token = result.text("IsTruncated") == "true" ? result.text("NextContinuationToken") : nil
        } while token != nil
        return found
    }

    // MARK: BlobStore

    /// A `PUT` with `Content-MD5` and `x-amz-content-sha256`; `.createOnly` adds `If-None-Match: *` and is always
    /// one request. Overwrites above `multipartThreshold` are multipart uploads.
    /// - Throws: `.alreadyExists` (createOnly), `.corrupted` if the bytes do not hash to a content-addressed name,
    ///   `.limitExceeded` for a create-only object above 5 GiB.
    public func put(_ key: ObjectKey, _ bytes: [UInt8], mode: PutMode) async throws {
        if mode == .overwrite, bytes.count > options.multipartThreshold {
            if verifies(key) { try checkContentAddress(key, SHA256.hash(data: bytes)) }
            let partSize = options.partSize
            let count = (bytes.count + partSize - 1) / partSize
            try await multipartUpload(key, partCount: count) { part in
                Array(bytes[(part * partSize)..<min(bytes.count, (part + 1) * partSize)])
            }
            return
        }
        guard bytes.count <= Self.maximumSinglePut else {
            throw HaulError(
                .limitExceeded,
                "create-only put of \(describe(key)) has \(bytes.count) bytes, above S3's 5 GiB for one PUT")
        }
        var call = S3Call(method: "PUT", key: objectKey(key), body: bytes)
        call.headers = [("content-md5", Self.md5(bytes))]
        if verifies(key) { call.payloadHash = key.name }
        if mode == .createOnly { call.headers.append(("if-none-match", "*")) }
        _ = try await connection.perform(call)
    }

    /// `HEAD`, then `DELETE`.
    /// - Throws: `.notFound` if there is no object.
    public func delete(_ key: ObjectKey) async throws {
        guard try await head(key) != nil else {
            throw HaulError(.notFound, "object \(describe(key)) not found, nothing to delete")
        }
        var call = S3Call(method: "DELETE", key: objectKey(key))
        call.accept = [404]
        _ = try await connection.perform(call)
    }

    // MARK: Keys

    /// The object's key in the bucket.
    func objectKey(_ key: ObjectKey) -> String {
        location.key(key.path)
    }

    func describe(_ key: ObjectKey) -> String {
        connection.describe(objectKey(key))
    }

    /// The `ObjectKey` of a path relative to the prefix (`data/ab/ab…`, `keys/…`, `config`), or `nil`.
    static func objectKey(path: String, kind: ObjectKind) -> ObjectKey? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch kind {
        case .config:
            return parts == ["config"] ? .config : nil
        case .data:
            guard parts.count == 3, parts[0] == "data", parts[2].hasPrefix(parts[1]), parts[1].count == 2 else {
                return nil
            }
            return try? ObjectKey(.data, parts[2])
        default:
            guard parts.count == 2, parts[0] == kind.rawValue else { return nil }
            return try? ObjectKey(kind, parts[1])
        }
    }

    // MARK: Helpers

    func verifies(_ key: ObjectKey) -> Bool {
        options.verifyContentAddresses && key.kind.isContentAddressed
    }

    /// Refuses bytes whose SHA-256 is not the content-addressed name (checked locally where S3 cannot: multipart).
    func checkContentAddress(_ key: ObjectKey, _ digest: SHA256Digest) throws {
        guard SigV4Signer.hex(digest) == key.name else {
            throw HaulError(
                .corrupted,
                "refusing to store \(describe(key)): its bytes hash to \(SigV4Signer.hex(digest)), not to its name")
        }
    }

    static func md5(_ bytes: [UInt8]) -> String {
        Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
    }

    /// A read of zero bytes at `offset`: the object must exist and `offset` must not be past its end.
    private func emptyRead(_ key: ObjectKey, offset: Int64) async throws -> [UInt8] {
        guard let info = try await head(key) else {
            throw HaulError(.notFound, "object \(describe(key)) not found")
        }
        _ = try ByteRange.validatedStart(offset: offset, length: 0, size: info.size, key: key)
        return []
    }
}
