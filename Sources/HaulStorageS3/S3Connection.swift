import Crypto
import Foundation
import HaulFormat

/// One S3 request before signing: method, bucket-relative key, query, extra headers and body.
struct S3Call: Sendable {
    var method: String
    /// The object's full key in the bucket, or `nil` for a request on the bucket itself.
    var key: String?
    var query: [(String, String)] = []
    var headers: [(String, String)] = []
    var body: [UInt8]?
    /// The value of `x-amz-content-sha256`; `nil` means the SHA-256 of `body` (or of no bytes).
    var payloadHash: String?
    /// Statuses besides 2xx that the caller handles itself (404 for `head`, 416 for ranged reads, …).
    var accept: Set<Int> = []
    /// Whether a 200 reply may still carry an `<Error>` document (CompleteMultipartUpload, CopyObject).
    var errorMayHide200 = false
}

/// Signs, sends and retries S3 calls for one endpoint and bucket, and turns failures into `HaulError`s. Shared by
/// every `S3BlobStore` made from one another with `withPrefix`.
final class S3Connection: Sendable {
    let transport: any S3Transport
    let signer: SigV4Signer
    let endpoint: String
    let bucket: String
    let host: String
    let retry: S3RetryPolicy
    let requestTimeout: Duration
    let now: @Sendable () -> Date

    init(
        transport: any S3Transport, credentials: S3Credentials, location: S3Location, retry: S3RetryPolicy,
        requestTimeout: Duration, now: @escaping @Sendable () -> Date
    ) {
        self.transport = transport
        self.signer = SigV4Signer(
            accessKey: credentials.accessKey, secretKey: credentials.secretKey, region: location.region)
        self.endpoint = location.endpoint
        self.bucket = location.bucket
        let endpoint = location.endpoint
        self.host = endpoint.range(of: "://").map { String(endpoint[$0.upperBound...]) } ?? endpoint
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.now = now
    }

    /// What people read in messages: `s3://bucket/key`.
    func describe(_ key: String?) -> String {
        "s3://\(bucket)/\(key ?? "")"
    }

    /// Sends `call` with retries; returns a 2xx reply or one whose status is in `call.accept`.
    /// - Throws: the mapped `HaulError` of the last attempt (transient if a later retry might still succeed).
    func perform(_ call: S3Call) async throws -> S3HTTPResponse {
        var attempt = 1
        while true {
            let outcome: Result<S3HTTPResponse, HaulError>
            do {
                let response = try await transport.send(signed(call), timeout: timeout(for: call))
                outcome = classify(response, call)
            } catch let error as HaulError {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let response):
                return response
            case .failure(let error) where error.isTransient && attempt < retry.attempts:
                try await retry.sleep(retry.delay(beforeRetry: attempt))
                attempt += 1
            case .failure(var error):
                if error.isTransient, retry.attempts > 1 { error.message += " (gave up after \(attempt) attempts)" }
                throw error
            }
        }
    }

    /// The signed HTTP request (a fresh `x-amz-date` per attempt).
    func signed(_ call: S3Call) -> S3HTTPRequest {
        var path = "/" + SigV4Signer.encode(bucket)
        if let key = call.key { path += "/" + SigV4Signer.encodePath(key) }
        let payloadHash =
            call.payloadHash
            ?? (call.body.map { SigV4Signer.hex(SHA256.hash(data: $0)) } ?? SigV4Signer.emptyPayloadHash)
        var headers = call.headers
        headers.append(("host", host))
        headers.append(("x-amz-content-sha256", payloadHash))
        let signedHeaders = signer.sign(
            method: call.method, path: path, query: call.query, headers: headers, payloadHash: payloadHash, date: now())
        let query = SigV4Signer.canonicalQuery(call.query)
        return S3HTTPRequest(
            method: call.method, url: endpoint + path + (query.isEmpty ? "" : "?" + query), headers: signedHeaders,
            body: call.body)
    }

    /// The deadline of one attempt: the base timeout plus one second per MiB of body.
    private func timeout(for call: S3Call) -> Duration {
        requestTimeout + .seconds((call.body?.count ?? 0) >> 20)
    }

    private func classify(_ response: S3HTTPResponse, _ call: S3Call) -> Result<S3HTTPResponse, HaulError> {
        let status = response.status
        if (200..<300).contains(status) {
            if call.errorMayHide200, let error = try? S3XMLElement.parse(response.body, what: call.method),
                error.name == "Error"
            {
                // S3 answers 200 before it knows the outcome of a long copy or completion.
                return .failure(
                    S3ErrorMapping.error(
                        status: 500, code: error.text("Code"), message: error.text("Message"), call: call,
                        target: describe(call.key)))
            }
            return .success(response)
        }
        if call.accept.contains(status) { return .success(response) }
        let document = response.body.isEmpty ? nil : try? S3XMLElement.parse(response.body, what: call.method)
        return .failure(
            S3ErrorMapping.error(
                status: status, code: document?.text("Code"), message: document?.text("Message"), call: call,
                target: describe(call.key)))
    }
}

/// How S3 replies become `HaulError`s: the code says what happened, `transient` whether a retry can help, and the
/// message names the bucket and key and what to do.
enum S3ErrorMapping {
    static let transientCodes: Set<String> = [
        "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "BadDigest", "OperationAborted",
        "ConditionalRequestConflict",
    ]
    static let transientStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]

    static func error(status: Int, code: String?, message: String?, call: S3Call, target: String) -> HaulError {
        let reply = "HTTP \(status)" + (code.map { " \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
        let what = "S3 \(call.method) \(target) failed (\(reply))"
        if transientStatuses.contains(status) || code.map(transientCodes.contains) == true {
            let hint = code == "BadDigest" ? "; the bytes changed on the way (Content-MD5 mismatch)" : ""
            return HaulError(.io, "\(what)\(hint); the server is busy or failing, retry later", transient: true)
        }
        switch (status, code) {
        case (_, "XAmzContentSHA256Mismatch"):
            return HaulError(
                .corrupted,
                "\(what): the bytes do not hash to the SHA-256 the object is named by; nothing was stored")
        case (404, "NoSuchBucket"):
            return HaulError(
                .repositoryNotFound, "\(what): bucket \"\(target)\" does not exist; create it or check the s3:// URL")
        case (404, _):
            return HaulError(.notFound, "object \(target) not found (\(reply))")
        case (412, _):
            return HaulError(.alreadyExists, "object \(target) already exists (a create-only put was refused)")
        case (403, "RequestTimeTooSkewed"):
            return HaulError(
                .permissionDenied, "\(what): this machine's clock differs from the server's; fix the clock (NTP)")
        case (403, _), (401, _):
            return HaulError(
                .permissionDenied,
                "\(what): check the access key and secret (HAUL_S3_ACCESS_KEY, HAUL_S3_SECRET_KEY) and that they "
                    + "may use this bucket")
        case (_, "EntityTooLarge"):
            return HaulError(.limitExceeded, "\(what): the object is larger than the server accepts")
        case (400, _), (405, _), (411, _), (416, _):
            return HaulError(.invalidArgument, "\(what): the server refused the request")
        default:
            return HaulError(.io, "\(what): unexpected reply from the S3 server")
        }
    }
}
