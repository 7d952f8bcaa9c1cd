import Crypto
import HaulFormat
import HaulStorage

extension S3BlobStore {
    /// A multipart upload: `POST ?uploads`, one `PUT ?partNumber=N&uploadId=…` per part (each with its own
    /// `Content-MD5` and SHA-256, each retried alone), then `POST ?uploadId=…` with the part list. Parts go up
    /// `Options.partsInFlight` at a time. Any failure aborts the upload (`DELETE ?uploadId=…`) so no parts are left
    /// behind. The object appears only when the last step succeeds.
    ///
    /// - Parameters:
    ///   - partCount: how many parts; at least 1.
    ///   - part: the bytes of part `0..<partCount`; every part but the last must be at least 5 MiB. Called for up to
    ///     `Options.partsInFlight` parts at once, so that many parts are in memory at most.
    func multipartUpload(
        _ key: ObjectKey, partCount: Int, part: @escaping @Sendable (Int) async throws -> [UInt8]
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
            let count = max(partCount, 1)
            let width = max(1, options.partsInFlight)
            var etags = [String](repeating: "", count: count)
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var next = 0
                while next < min(width, count) {
                    let number = next
                    group.addTask { (number, try await uploadPart(number, uploadID: uploadID, key: key, part: part)) }
                    next += 1
                }
                while let (number, etag) = try await group.next() {
                    etags[number] = etag
                    if next < count {
                        let number = next
                        group.addTask {
                            (number, try await uploadPart(number, uploadID: uploadID, key: key, part: part))
                        }
                        next += 1
                    }
                }
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

    /// `PUT ?partNumber=N+1&uploadId=…` of part `number` (0-based); returns its ETag.
    private func uploadPart(
        _ number: Int, uploadID: String, key: ObjectKey, part: @Sendable (Int) async throws -> [UInt8]
    ) async throws -> String {
        let bytes = try await part(number)
        var call = S3Call(
            method: "PUT", key: objectKey(key), query: [("partNumber", String(number + 1)), ("uploadId", uploadID)],
            body: bytes)
        call.headers = [("content-md5", Self.md5(bytes))]
        let response = try await connection.perform(call)
        guard let etag = response.headers["etag"] else {
            throw HaulError(.corrupted, "part \(number + 1) of \(describe(key)) was stored without an ETag")
        }
        return etag
    }
}
