import HaulFormat
import Testing

@testable import HaulStorageS3

@Suite struct S3LocationTests {
    @Test func parsesTheURLForm() throws {
        let location = try S3Location(url: "s3://backups/site-a/server-1/?endpoint=http://127.0.0.1:7480/&region=eu-1")
        #expect(location.bucket == "backups")
        #expect(location.prefix == "site-a/server-1")
        #expect(location.endpoint == "http://127.0.0.1:7480")
        #expect(location.region == "eu-1")
        #expect(location.key("config") == "site-a/server-1/config")
        #expect(location.description == "s3://backups/site-a/server-1?endpoint=http://127.0.0.1:7480&region=eu-1")
    }

    @Test func defaultsToAWSAndTheBucketRoot() throws {
        let location = try S3Location(url: "s3://backups")
        #expect(location.prefix == "")
        #expect(location.endpoint == "https://s3.us-east-1.amazonaws.com")
        #expect(location.region == "us-east-1")
        #expect(location.key("config") == "config")
        #expect(location.appending(prefix: "/vault-7/").key("config") == "vault-7/config")
        #expect(location.appending(prefix: "a").appending(prefix: "b/c").prefix == "a/b/c")
    }

    @Test(arguments: [
        "http://backups/x", "s3:///prefix", "s3://b?endpoint=ftp://host", "s3://b?endpoint=http://h:1/path",
        "s3://b?colour=blue", "s3://b?region=",
    ])
    func refusesMalformedLocations(_ text: String) {
        #expect { _ = try S3Location(url: text) } throws: { $0.haulCode == .invalidArgument }
    }

    @Test func credentialsComeFromTheEnvironment() throws {
        let credentials = try S3Credentials.fromEnvironment(["HAUL_S3_ACCESS_KEY": "a", "HAUL_S3_SECRET_KEY": "s"])
        #expect(credentials == S3Credentials(accessKey: "a", secretKey: "s"))
        #expect(!"\(credentials)".contains("s)"))
        #expect { _ = try S3Credentials.fromEnvironment(["HAUL_S3_ACCESS_KEY": "a"]) } throws: { error in
            (error as? HaulError)?.message.contains("HAUL_S3_SECRET_KEY") == true
        }
    }

    @Test func objectKeysFromPaths() throws {
        let name = String(repeating: "c", count: 64)
        #expect(S3BlobStore.objectKey(path: "data/cc/\(name)", kind: .data)?.name == name)
        #expect(S3BlobStore.objectKey(path: "data/cd/\(name)", kind: .data) == nil)
        #expect(S3BlobStore.objectKey(path: "keys/\(name)", kind: .keys)?.kind == .keys)
        #expect(S3BlobStore.objectKey(path: "keys/\(name)/x", kind: .keys) == nil)
        #expect(S3BlobStore.objectKey(path: "config", kind: .config) == .config)
        #expect(S3BlobStore.objectKey(path: "config.bak", kind: .config) == nil)
    }
}
