import Foundation
import HaulProtocol
import Testing

@Suite struct RequestValidationTests {
    @Test func unknownFieldMalformedJSONAndBadNames() async throws {
        let harness = try await ServiceHarness(maximumJSONSize: 4096)
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let cases: [(String, APIErrorCode)] = [
                (#"{"name":"v1","retention":30}"#, .unknownField),
                (#"{"name":"v1""#, .malformedJSON),
                (#"["v1"]"#, .malformedJSON),
                (#"{"name":"Bad_Name"}"#, .invalidName),
                (#"{"name":"../etc"}"#, .invalidName),
                (#"{"name":"v1","retentionDays":3}"#, .invalidSettings),
                (#"{"name":"v1","retentionDays":"x"}"#, .malformedJSON),
            ]
            for (body, code) in cases {
                let result = try await client.call(.post, APIRoute.vaults, token: token, rawJSON: body)
                #expect(result.status == .badRequest, "\(body)")
                #expect(result.errorCode == code, "\(body): \(result.text)")
            }
            let huge = try await client.call(
                .post, APIRoute.vaults, token: token,
                rawJSON: #"{"name":""# + String(repeating: "a", count: 5000) + #""}"#)
            #expect(huge.status == .contentTooLarge)
            #expect(huge.errorCode == .bodyTooLarge)
            // Nothing was created by any of them.
            let list = try await client.call(.get, APIRoute.vaults, token: token)
            #expect(try list.decode(VaultList.self).vaults.isEmpty)
            let badPath = try await client.call(.get, "/v1/vaults/Bad_Name", token: token)
            #expect(badPath.errorCode == .invalidName)
            let unknownRoute = try await client.call(.get, "/v1/nothing-here", token: token)
            #expect(unknownRoute.status == .notFound)
            #expect(unknownRoute.errorCode == .notFound)
            // The token exchange is strict too.
            let token2 = try await client.call(.post, APIRoute.token, rawJSON: #"{"assertion":"a","extra":1}"#)
            #expect(token2.errorCode == .unknownField)
        }
    }

    @Test func duplicateNamesAndBadCSRs() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let name = try ResourceName("v1")
            #expect(
                try await client.call(.post, APIRoute.vaults, token: token, json: VaultCreateRequest(name: name)).status
                    == .created)
            let again = try await client.call(
                .post, APIRoute.vaults, token: token, json: VaultCreateRequest(name: name))
            #expect(again.status == .conflict)
            #expect(again.errorCode == .alreadyExists)
            let csr = try await client.call(
                .post, APIPath.servers(name), token: token,
                json: ServerRegisterRequest(name: try ResourceName("s1"), csrPEM: "-----BEGIN NONSENSE-----"))
            #expect(csr.errorCode == .invalidCertificate)
            #expect(
                try await harness.metadata.servers(
                    vault: try #require(
                        try await harness.metadata.vaults(subscription: harness.metadata.subscriptions()[0].id).first
                    ).id
                ).isEmpty)
        }
    }

    @Test func healthAndMetrics() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        try await harness.test { client in
            let health = try await client.call(.get, APIRoute.healthz)
            #expect(health.status == .ok)
            #expect(try health.decode(HealthResponse.self).status == "ok")
            let metrics = try await client.call(.get, APIRoute.metrics)
            #expect(metrics.status == .ok)
        }
    }
}
