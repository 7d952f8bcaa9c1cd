import HaulFormat
import HaulStorage

extension S3BlobStore {
    /// Server-side copy (`PUT` with `x-amz-copy-source`): the bytes never leave the server. The service uses it to
    /// keep a soft-deleted object under another prefix.
    ///
    /// - Parameters:
    ///   - source: the object in this store.
    ///   - target: its key in `destination`.
    ///   - destination: a store on the same endpoint (another prefix or bucket); this store when `nil`.
    /// - Throws: `.notFound` if `source` does not exist; `.invalidArgument` for objects above 5 GiB (S3 copies those
    ///   only part by part, which this does not do).
    public func copy(from source: ObjectKey, to target: ObjectKey, in destination: S3BlobStore? = nil) async throws {
        let destination = destination ?? self
        guard destination.location.endpoint == location.endpoint else {
            throw HaulError(
                .invalidArgument,
                "cannot copy \(describe(source)) to \(destination.location): a server-side copy needs the same endpoint"
            )
        }
        var call = S3Call(
            method: "PUT", key: destination.objectKey(target), body: [],
            payloadHash: SigV4Signer.emptyPayloadHash)
        call.headers = [("x-amz-copy-source", "/\(location.bucket)/" + SigV4Signer.encodePath(objectKey(source)))]
        call.errorMayHide200 = true
        _ = try await destination.connection.perform(call)
    }

    /// Creates the bucket (`PUT /BUCKET`) unless it exists and is ours.
    /// - Throws: `.alreadyExists` if another account owns the name; `.permissionDenied` if the credentials may not
    ///   create buckets.
    public func createBucketIfMissing() async throws {
        var probe = S3Call(method: "HEAD", key: nil)
        probe.accept = [404]
        guard try await connection.perform(probe).status == 404 else { return }
        var create = S3Call(method: "PUT", key: nil, body: [])
        create.accept = [409]
        let response = try await connection.perform(create)
        if response.status == 409 {
            let code = try? S3XMLElement.parse(response.body, what: "CreateBucket").text("Code")
            guard code == "BucketAlreadyOwnedByYou" else {
                throw HaulError(
                    .alreadyExists,
                    "bucket \(location.bucket) exists and belongs to another account (\(code ?? "HTTP 409")); "
                        + "choose another bucket name")
            }
        }
    }
}
