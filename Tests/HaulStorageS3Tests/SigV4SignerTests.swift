import Foundation
import Testing

@testable import HaulStorageS3

/// Known answers from AWS's published Signature Version 4 examples: the SigV4 test suite (`get-vanilla`,
/// `get-vanilla-query-order-key-case`, credentials `AKIDEXAMPLE`, service `service`) and the S3 developer guide's
/// "Examples: Signature Calculations" (bucket `examplebucket`, credentials `AKIAIOSFODNN7EXAMPLE`).
@Suite struct SigV4SignerTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let accessKey: String
        let secretKey: String
        let service: String
        let timestamp: String
        let method: String
        let path: String
        let query: [(String, String)]
        let headers: [(String, String)]
        let payloadHash: String
        let authorization: String
        var testDescription: String { name }
    }

    static let suiteKey = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let s3Key = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3Host = ("host", "examplebucket.s3.amazonaws.com")

    static let vectors: [Vector] = [
        Vector(
            name: "get-vanilla", accessKey: suiteKey.0, secretKey: suiteKey.1, service: "service",
            timestamp: "20150830T123600Z", method: "GET", path: "/", query: [],
            headers: [("Host", "example.amazonaws.com")], payloadHash: SigV4Signer.emptyPayloadHash,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "get-vanilla-query-order-key-case", accessKey: suiteKey.0, secretKey: suiteKey.1,
            service: "service", timestamp: "20150830T123600Z", method: "GET", path: "/",
            query: [("Param2", "value2"), ("Param1", "value1")], headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(
            name: "S3 GET object with Range", accessKey: s3Key.0, secretKey: s3Key.1, service: "s3",
            timestamp: "20130524T000000Z", method: "GET", path: "/test.txt", query: [],
            headers: [
                s3Host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ],
            payloadHash: SigV4Signer.emptyPayloadHash,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        Vector(
            name: "S3 PUT object", accessKey: s3Key.0, secretKey: s3Key.1, service: "s3",
            timestamp: "20130524T000000Z", method: "PUT", path: SigV4Signer.encodePath("/test$file.text"), query: [],
            headers: [
                s3Host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
            ],
            payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        Vector(
            name: "S3 GET bucket lifecycle", accessKey: s3Key.0, secretKey: s3Key.1, service: "s3",
            timestamp: "20130524T000000Z", method: "GET", path: "/", query: [("lifecycle", "")],
            headers: [s3Host, ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)],
            payloadHash: SigV4Signer.emptyPayloadHash,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                + "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        Vector(
            name: "S3 list objects", accessKey: s3Key.0, secretKey: s3Key.1, service: "s3",
            timestamp: "20130524T000000Z", method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")],
            headers: [s3Host, ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)],
            payloadHash: SigV4Signer.emptyPayloadHash,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                + "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    @Test(arguments: vectors) func knownAnswer(_ vector: Vector) throws {
        let signer = SigV4Signer(
            accessKey: vector.accessKey, secretKey: vector.secretKey, region: "us-east-1", service: vector.service)
        let headers = signer.sign(
            method: vector.method, path: vector.path, query: vector.query, headers: vector.headers,
            payloadHash: vector.payloadHash, date: try Self.date(vector.timestamp))
        #expect(headers.first { $0.0 == "x-amz-date" }?.1 == vector.timestamp)
        #expect(headers.first { $0.0 == "Authorization" }?.1 == vector.authorization)
    }

    @Test func signingKeyOfTheDeveloperGuide() {
        // "Deriving the signing key" example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830,
        // us-east-1, service iam.
        let signer = SigV4Signer(
            accessKey: "AKIDEXAMPLE", secretKey: Self.suiteKey.1, region: "us-east-1", service: "iam")
        let key = signer.signingKey("20150830").withUnsafeBytes { Array($0) }
        #expect(SigV4Signer.hex(key) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func uriEncoding() {
        #expect(SigV4Signer.encode("a b+c/d~e_f.g-h=") == "a%20b%2Bc%2Fd~e_f.g-h%3D")
        #expect(SigV4Signer.encodePath("/bucket/data/ab/x y") == "/bucket/data/ab/x%20y")
        #expect(SigV4Signer.encode("é") == "%C3%A9")
        #expect(SigV4Signer.canonicalQuery([("b", "2"), ("a", "x/y"), ("uploads", "")]) == "a=x%2Fy&b=2&uploads=")
    }

    @Test func canonicalHeadersTrimAndSort() {
        let headers = SigV4Signer.canonicalHeaders([("X-Amz-Meta", "  a   b  "), ("Host", "h"), ("x-amz-meta", "c")])
        #expect(headers.map(\.0) == ["host", "x-amz-meta"])
        #expect(headers.map(\.1) == ["h", "a b,c"])
    }

    @Test func timestampIsUTC() throws {
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_369_353_600)) == "20130524T000000Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_440_938_160.9)) == "20150830T123600Z")
    }

    static func date(_ stamp: String) throws -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return try #require(formatter.date(from: stamp))
    }
}
