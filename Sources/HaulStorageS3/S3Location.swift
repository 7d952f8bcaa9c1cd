import Foundation
import HaulFormat

/// Where a repository lives in S3-compatible storage: `s3://BUCKET/PREFIX?endpoint=URL&region=REGION` (docs/s3.md).
///
/// Requests use path-style addressing (`ENDPOINT/BUCKET/KEY`), which Ceph RGW, MinIO and AWS all accept. Objects live
/// at `PREFIX/<ObjectKey.path>`; an empty prefix is the bucket's root.
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    public let bucket: String
    /// Without leading or trailing `/`; empty for the bucket's root.
    public private(set) var prefix: String
    /// Scheme, host and port, e.g. `http://127.0.0.1:7480`, without a trailing `/`.
    public let endpoint: String
    public let region: String

    /// - Throws: `HaulError(.invalidArgument)` for an empty bucket, a bucket with `/`, or an endpoint that is not
    ///   `http://` or `https://` with a host.
    public init(bucket: String, prefix: String = "", endpoint: String, region: String = "us-east-1") throws {
        guard !bucket.isEmpty, !bucket.contains("/") else {
            throw HaulError(.invalidArgument, "S3 bucket name \"\(bucket)\" is empty or contains \"/\"")
        }
        var endpoint = endpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme),
            url.host != nil, url.path.isEmpty, url.query == nil
        else {
            throw HaulError(
                .invalidArgument,
                "S3 endpoint \"\(endpoint)\" must be http:// or https:// with a host and no path, e.g. "
                    + "http://127.0.0.1:7480")
        }
        guard !region.isEmpty else { throw HaulError(.invalidArgument, "S3 region must not be empty") }
        self.bucket = bucket
        self.prefix = Self.normalized(prefix)
        self.endpoint = endpoint
        self.region = region
    }

    /// Parses `s3://BUCKET[/PREFIX][?endpoint=URL][&region=REGION]`. Without `endpoint` it is AWS's regional
    /// endpoint `https://s3.REGION.amazonaws.com`; without `region`, `us-east-1`.
    /// - Throws: `HaulError(.invalidArgument)` naming what is wrong with the URL.
    public init(url text: String) throws {
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "s3",
            let bucket = components.host, !bucket.isEmpty
        else {
            throw HaulError(
                .invalidArgument,
                "\"\(text)\" is not an S3 location; expected s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION"
            )
        }
        var endpoint: String?
        var region = "us-east-1"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "endpoint": endpoint = item.value
            case "region": region = item.value ?? ""
            default:
                throw HaulError(
                    .invalidArgument, "unknown parameter \"\(item.name)\" in \(text); known: endpoint, region")
            }
        }
        try self.init(
            bucket: bucket, prefix: components.path, endpoint: endpoint ?? "https://s3.\(region).amazonaws.com",
            region: region)
    }

    /// This location with `child` appended to the prefix (`a/b` + `c` = `a/b/c`).
    public func appending(prefix child: String) -> S3Location {
        let child = Self.normalized(child)
        var copy = self
        copy.prefix = [prefix, child].filter { !$0.isEmpty }.joined(separator: "/")
        return copy
    }

    /// The S3 key of a path inside the prefix.
    func key(_ path: String) -> String {
        prefix.isEmpty ? path : "\(prefix)/\(path)"
    }

    public var description: String {
        let path = prefix.isEmpty ? "" : "/\(prefix)"
        return "s3://\(bucket)\(path)?endpoint=\(endpoint)&region=\(region)"
    }

    private static func normalized(_ prefix: String) -> String {
        prefix.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }
}

/// An access key and its secret.
public struct S3Credentials: Sendable, Hashable {
    public let accessKey: String
    public let secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// From `HAUL_S3_ACCESS_KEY` and `HAUL_S3_SECRET_KEY`.
    /// - Throws: `HaulError(.invalidArgument)` naming the variable that is unset or empty.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> S3Credentials
    {
        for name in ["HAUL_S3_ACCESS_KEY", "HAUL_S3_SECRET_KEY"] where (environment[name] ?? "").isEmpty {
            throw HaulError(.invalidArgument, "\(name) is not set; export the S3 access key and secret key")
        }
        return S3Credentials(
            accessKey: environment["HAUL_S3_ACCESS_KEY"]!, secretKey: environment["HAUL_S3_SECRET_KEY"]!)
    }
}

extension S3Credentials: CustomStringConvertible {
    /// Names the access key, never the secret.
    public var description: String { "S3Credentials(accessKey: \(accessKey), secretKey: <redacted>)" }
}
