import Foundation
import HaulProtocol
import Testing

/// What clients see: the exact bytes of a few error responses.
@Suite struct ErrorBodySnapshotTests {
    @Test func snapshots() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let noToken = try await client.call(.get, APIRoute.vaults)
            #expect(
                noToken.text
                    == #"{"error":{"code":"unauthenticated","message":"send Authorization: Bearer <token> (from POST /v1/token)"}}"#
            )
            #expect(noToken.headers[.contentType] == "application/json")
            let unknown = try await client.call(
                .post, APIRoute.vaults, token: token, rawJSON: #"{"name":"v","colour":1}"#)
            #expect(
                unknown.text
                    == #"{"error":{"code":"unknownField","message":"unknown field \"colour\"; allowed fields: name, retentionDays"}}"#
            )
            let missing = try await client.call(.get, "/v1/vaults/nope", token: token)
            #expect(missing.text == #"{"error":{"code":"notFound","message":"no vault \"nope\""}}"#)
            let route = try await client.call(.get, "/nowhere")
            #expect(route.text == #"{"error":{"code":"notFound","message":"no such route"}}"#)
        }
    }
}
