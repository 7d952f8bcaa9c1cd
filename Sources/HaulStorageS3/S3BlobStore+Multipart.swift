import Crypto
import HaulFormat
import HaulStorage

extension S3BlobStore {
    /// A multipart upload: `POST ?uploads`, one `PUT ?partNumber=N&uploadId=…` per part (each with its own
    /// `Content-MD5` and SHA-256, each retried alone), then `POST ?uploadId=…` with the part list. Any failure aborts
    /// the upload (`DELETE ?uploadId=…`) so no parts are left behind. The object appears only when the last step
    /// succeeds.
    ///
    /// - Parameters:
    ///   - partCount: how many parts; at least 1.
    ///   - part: the bytes of part `0..<partCount`; every part but the last must be at least 5 MiB.
    func multipartUpload(
        _ key: ObjectKey, partCount: Int, part: @Sendable (Int) async throws -> [UInt8]
    ) async throws {
        let objectKey = objectKey(key)
        var start = S3Call(method: "POST", key: objectKey, query: [("uploads", "")])
        start.body = []
        let started = try await connection.perform(start)
        guard
            let uploadID = try S3XMLElement.parse(started.body, what: "CreateMultipartUpload of \(describe(key))")
                .text("UploadId"), !uploadID.isEmpty
        else {
            throw HaulError(.corrupted, "CreateMultipartUpload of \(describe(key)) returned no UploadId")
        }
        do {
            var etags: [String] = []
            for number in 0..<max(partCount, 1) {
                let bytes = try await part(number)
                var call = S3Call(
                    method: "PUT", key: objectKey,
                    query: [("partNumber", String(number + 1)), ("uploadId", uploadID)], body: bytes)
                call.headers = [("content-md5", Self.md5(bytes))]
                let response = try await connection.perform(call)
                guard let etag = response.headers["etag"] else {
                    throw HaulError(.corrupted, "part \(number + 1) of \(describe(key)) was stored without an ETag")
                }
                etags.append(etag)
            }
            var document = "<CompleteMultipartUpload>"
            for (index, etag) in etags.enumerated() {
                document +=
                    "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(S3XMLElement.escape(etag))</ETag></Part>"
            }
            document += "</CompleteMultipartUpload>"
            var complete = S3Call(method: "POST", key: objectKey, query: [("uploadId", uploadID)])
            complete.body = Array(document.utf8)
            complete.errorMayHide200 = true
            _ = try await connection.perform(complete)
        } catch {
            var abort = S3Call(method: "DELETE", key: objectKey, query: [("uploadId", uploadID)])
            abort.accept = [404]
            _ = try? await connection.perform(abort)
            throw error
        }
    }
}
