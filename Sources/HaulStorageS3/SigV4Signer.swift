import Crypto
import Foundation

/// AWS Signature Version 4 with header authorization, as S3 and Ceph RGW check it.
///
/// The published algorithm, step by step:
/// 1. canonical request: method, canonical URI (each path segment URI-encoded, `/` kept, never normalized for S3),
///    canonical query (names and values URI-encoded, `/` too, sorted by name then value, `name=` for no value),
///    canonical headers (lowercase names, trimmed values with inner runs of spaces collapsed, sorted, one per line),
///    the signed header names joined by `;`, and the payload hash (hex SHA-256, sent as `x-amz-content-sha256`);
/// 2. string to sign: `AWS4-HMAC-SHA256`, the `x-amz-date` timestamp, the scope `DATE/REGION/SERVICE/aws4_request`
///    and the hex SHA-256 of the canonical request, joined by newlines;
/// 3. signing key: HMAC-SHA256 chained over `AWS4`+secret, date, region, service, `aws4_request`;
/// 4. `Authorization: AWS4-HMAC-SHA256 Credential=KEY/SCOPE, SignedHeaders=…, Signature=hex(HMAC(key, string))`.
struct SigV4Signer: Sendable {
    let accessKey: String
    let secretKey: String
    let region: String
    let service: String

    init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The hex SHA-256 of no bytes: the payload hash of GET, HEAD and DELETE.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Signs a request: returns `headers` plus `x-amz-date` and `Authorization`.
    ///
    /// - Parameters:
    ///   - method: `GET`, `PUT`, …
    ///   - path: the canonical URI, already encoded with `encodePath` (path-style: `/bucket/key`).
    ///   - query: the query parameters, not yet encoded.
    ///   - headers: every header to sign, `host` among them; `x-amz-content-sha256` should be there for S3.
    ///   - payloadHash: the hex SHA-256 of the body, or the value the server must check it against.
    ///   - date: the signing time (UTC).
    func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String,
        date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        var headers = headers
        headers.append(("x-amz-date", stamp))
        let canonicalHeaders = Self.canonicalHeaders(headers)
        let signedHeaders = canonicalHeaders.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method,
            path,
            Self.canonicalQuery(query),
            canonicalHeaders.map { "\($0.0):\($0.1)\n" }.joined(),
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", stamp, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey(day)))
        headers.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
            ))
        return headers
    }

    /// The derived key of one day: HMAC chain over date, region, service and `aws4_request`.
    func signingKey(_ day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    // MARK: Canonical forms

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC, as `x-amz-date` carries it.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
    }

    /// Lowercase names, values trimmed with inner runs of spaces collapsed, sorted by name; repeated names are
    /// joined with commas.
    static func canonicalHeaders(_ headers: [(String, String)]) -> [(String, String)] {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            let collapsed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            byName[name.lowercased(), default: []].append(collapsed.trimmingCharacters(in: .whitespaces))
        }
        return byName.keys.sorted().map { ($0, byName[$0]!.joined(separator: ",")) }
    }

    /// Encoded `name=value` pairs sorted by encoded name, then value, joined by `&`.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// URI-encodes every byte except the unreserved `A–Z a–z 0–9 - . _ ~` (and `/` when `keepSlash`), as `%XX`
    /// with uppercase hex digits.
    static func encode(_ text: String, keepSlash: Bool = false) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if unreserved[Int(byte)] || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `A–Z a–z 0–9 - . _ ~`, by byte value.
    private static let unreserved: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        let letterOrDigit =
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
        return letterOrDigit || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte)
    }

    /// A canonical URI: each segment encoded, `/` kept.
    static func encodePath(_ path: String) -> String {
        encode(path, keepSlash: true)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
