import Foundation
import HTTPTypes
import HaulProtocol
import Testing

@Suite struct ObjectAPITests {
    @Test func contentHashMismatchStoresNothing() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("pack bytes".utf8)
            let wrong = sha256Hex(Array("other".utf8))
            let put = try await client.call(
                .put, APIPath.object(server: server, kind: "data", name: wrong), token: token, body: bytes)
            #expect(put.status == .badRequest)
            #expect(put.errorCode == .contentHashMismatch)
            let head = try await client.call(
                .head, APIPath.object(server: server, kind: "data", name: wrong), token: token)
            #expect(head.status == .notFound)
            let list = try await client.call(.get, APIPath.objectList(server: server, kind: "data"), token: token)
            #expect(try list.decode(ObjectListPage.self).objects.isEmpty)
            // The right name is stored, and HEAD tells its size.
            let right = sha256Hex(bytes)
            #expect(
                try await client.call(
                    .put, APIPath.object(server: server, kind: "data", name: right), token: token, body: bytes
                ).status == .created)
            let found = try await client.call(
                .head, APIPath.object(server: server, kind: "data", name: right), token: token)
            #expect(found.status == .ok)
            #expect(found.headers[.contentLength] == String(bytes.count))
        }
    }

    /// Content-addressed bodies are streamed into a staged file: a refused body (wrong hash, too large) leaves no
    /// object and no temporary file; an accepted one reads back byte for byte.
    @Test func streamedUploadsLeaveNothingBehindWhenRefused() async throws {
        let harness = try await ServiceHarness(maximumObjectSize: 1 << 20)
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            var generator = SystemRandomNumberGenerator()
            let big = (0..<(1 << 20) - 17).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let path = APIPath.object(server: server, kind: "data", name: sha256Hex(big))
            #expect(try await client.call(.put, path, token: token, body: big).status == .created)
            #expect(try await client.call(.get, path, token: token).body == big)

            var wrong = big
            wrong[wrong.count / 2] ^= 1
            let mismatch = try await client.call(
                .put,
                APIPath.object(
                    server: server, kind: "data",
                    name: sha256Hex(big.reversed())), token: token, body: wrong)
            #expect(mismatch.errorCode == .contentHashMismatch)
            let tooLarge = big + Array(repeating: 7, count: 100)
            let refused = try await client.call(
                .put, APIPath.object(server: server, kind: "data", name: sha256Hex(tooLarge)), token: token,
                body: tooLarge)
            #expect(refused.status == .contentTooLarge)
            #expect(refused.errorCode == .bodyTooLarge)
            let list = try await client.call(.get, APIPath.objectList(server: server, kind: "data"), token: token)
            #expect(try list.decode(ObjectListPage.self).objects.map(\.name) == [sha256Hex(big)])
            let root = harness.blobsRoot
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
            #expect(!files.contains { $0.contains(".tmp-") }, "\(files)")
        }
    }

    @Test func configIsImmutable() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let path = APIPath.object(server: server, kind: "config", name: "")
            #expect(try await client.call(.put, path, token: token, body: [1, 2, 3]).status == .created)
            let again = try await client.call(.put, path, token: token, body: [4, 5, 6])
            #expect(again.status == .conflict)
            #expect(again.errorCode == .immutable)
            let delete = try await client.call(.delete, path, token: token)
            #expect(delete.errorCode == .immutable)
            #expect(try await client.call(.get, path, token: token).body == [1, 2, 3])
        }
    }

    @Test func deleteGoesToTrashAndUndeleteRestores() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("index file".utf8)
            let path = APIPath.object(server: server, kind: "index", name: sha256Hex(bytes))
            #expect(try await client.call(.put, path, token: token, body: bytes).status == .created)
            #expect(try await client.call(.delete, path, token: token).status == .noContent)
            #expect(try await client.call(.get, path, token: token).status == .notFound)

            let vault = try ResourceName("v1")
            let deleted = try await client.call(.get, APIPath.deleted(vault), token: adminToken)
            let objects = try deleted.decode(DeletedObjectList.self).objects
            #expect(objects.count == 1)
            let entry = try #require(objects.first)
            #expect(entry.objectPath == "index/\(sha256Hex(bytes))")
            #expect(entry.purgeAfter == entry.deletedAt.addingTimeInterval(14 * 86_400))
            // A server may not undelete (nor list the trash).
            #expect(try await client.call(.get, APIPath.deleted(vault), token: token).status == .forbidden)

            let undelete = try await client.call(
                .post, APIPath.undelete(vault), token: adminToken, json: UndeleteRequest(id: entry.id))
            #expect(undelete.status == .ok)
            #expect(try await client.call(.get, path, token: token).body == bytes)
            let after = try await client.call(.get, APIPath.deleted(vault), token: adminToken)
            #expect(try after.decode(DeletedObjectList.self).objects.isEmpty)
            let unknown = try await client.call(
                .post, APIPath.undelete(vault), token: adminToken, json: UndeleteRequest(id: UUID()))
            #expect(unknown.status == .notFound)
        }
    }

    @Test func keyOverwriteKeepsTheOldVersion() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let path = APIPath.object(server: server, kind: "keys", name: String(repeating: "ab", count: 32))
            #expect(try await client.call(.put, path, token: token, body: Array("old".utf8)).status == .created)
            var createOnly = HTTPFields()
            createOnly[.ifNoneMatch] = "*"
            let refused = try await client.call(.put, path, token: token, body: Array("x".utf8), headers: createOnly)
            #expect(refused.errorCode == .alreadyExists)
            #expect(try await client.call(.put, path, token: token, body: Array("new".utf8)).status == .created)
            #expect(try await client.call(.get, path, token: token).text == "new")
            let deleted = try await client.call(.get, APIPath.deleted(try ResourceName("v1")), token: adminToken)
            #expect(try deleted.decode(DeletedObjectList.self).objects.map(\.size) == [3])
        }
    }

    @Test func rangeReads() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes: [UInt8] = Array("0123456789".utf8)
            let path = APIPath.object(server: server, kind: "data", name: sha256Hex(bytes))
            _ = try await client.call(.put, path, token: token, body: bytes)
            for (header, expected, contentRange) in [
                ("bytes=2-5", "2345", "bytes 2-5/10"), ("bytes=7-", "789", "bytes 7-9/10"),
                ("bytes=-3", "789", "bytes 7-9/10"), ("bytes=8-100", "89", "bytes 8-9/10"),
            ] {
                var headers = HTTPFields()
                headers[.range] = header
                let result = try await client.call(.get, path, token: token, headers: headers)
                #expect(result.status == .partialContent)
                #expect(result.text == expected)
                #expect(result.headers[.contentRange] == contentRange)
            }
            for header in ["bytes=10-12", "bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=x-"] {
                var headers = HTTPFields()
                headers[.range] = header
                let result = try await client.call(.get, path, token: token, headers: headers)
                #expect(result.status == .badRequest, "\(header)")
                #expect(result.errorCode == .invalidRange)
            }
        }
    }

    @Test func listPaging() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            var names: [String] = []
            for i in 0..<5 {
                let bytes = Array("snapshot \(i)".utf8)
                names.append(sha256Hex(bytes))
                _ = try await client.call(
                    .put, APIPath.object(server: server, kind: "snapshots", name: sha256Hex(bytes)), token: token,
                    body: bytes)
            }
            names.sort()
            var seen: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let result = try await client.call(
                    .get, APIPath.objectList(server: server, kind: "snapshots", after: after, limit: 2), token: token)
                let page = try result.decode(ObjectListPage.self)
                seen += page.objects.map(\.name)
                after = page.next
                pages += 1
            } while after != nil && pages < 10
            #expect(seen == names)
            #expect(pages == 3)
            let bad = try await client.call(
                .get, APIPath.objectList(server: server, kind: "snapshots", limit: 0), token: token)
            #expect(bad.errorCode == .invalidParameter)
        }
    }

    @Test func leasesAreRows() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let lease =
                #"{"created":"2027-01-15T08:00:00Z","expires":"2027-01-15T08:30:00Z","hostname":"h","kind":"shared","pid":1,"purpose":"backup","version":1}"#
            let name = String(repeating: "cd", count: 32)
            let path = APIPath.object(server: server, kind: "leases", name: name)
            #expect(try await client.call(.put, path, token: token, body: Array(lease.utf8)).status == .created)
            #expect(try await client.call(.get, path, token: token).text == lease)
            let list = try await client.call(.get, APIPath.objectList(server: server, kind: "leases"), token: token)
            #expect(try list.decode(ObjectListPage.self).objects.map(\.name) == [name])
            #expect(try await harness.metadata.leases(server: server).count == 1)
            let junk = try await client.call(.put, path, token: token, body: Array("not a lease".utf8))
            #expect(junk.errorCode == .malformedJSON)
            #expect(try await client.call(.delete, path, token: token).status == .noContent)
            #expect(try await harness.metadata.leases(server: server).isEmpty)
        }
    }

    @Test func bodyTooLarge() async throws {
        let harness = try await ServiceHarness(maximumObjectSize: 1024)
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let bytes = [UInt8](repeating: 7, count: 2048)
            let path = APIPath.object(server: server, kind: "data", name: sha256Hex(bytes))
            let result = try await client.call(.put, path, token: token, body: bytes)
            #expect(result.status == .contentTooLarge)
            #expect(result.errorCode == .bodyTooLarge)
            #expect(try await client.call(.head, path, token: token).status == .notFound)
        }
    }

    @Test(arguments: [
        "..", "..%2F..%2Fconfig", "%2e%2e", "ABCDEF", String(repeating: "a", count: 63),
        String(repeating: "A", count: 64),
    ])
    func traversalAndBadNamesAreRefused(_ name: String) async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let adminToken = try await client.token(harness, admin)
            let (server, token, _) = try await client.server(harness, admin: adminToken, vault: "v1", name: "s1")
            let base = "/v1/repositories/\(server.uuidString.lowercased())/objects"
            let put = try await client.call(.put, "\(base)/keys/\(name)", token: token, body: [1])
            #expect(put.status == .badRequest)
            #expect(put.errorCode == .invalidObjectName)
            let get = try await client.call(.get, "\(base)/data/\(name)", token: token)
            #expect(get.errorCode == .invalidObjectName)
            // A slash in the name is another path, which no route serves.
            let nested = try await client.call(
                .get, "\(base)/data/ab/\(String(repeating: "a", count: 64))", token: token)
            #expect(nested.status == .notFound)
            let kind = try await client.call(.get, "\(base)/..%2Fservers", token: token)
            #expect(kind.errorCode == .invalidObjectName)
        }
    }
}
