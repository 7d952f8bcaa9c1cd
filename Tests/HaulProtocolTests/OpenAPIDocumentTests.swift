import Foundation
import HaulProtocol
import Testing

/// docs/openapi.yaml names every route and every error code of `HaulProtocol`.
@Suite struct OpenAPIDocumentTests {
    private static let document: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)) ?? ""
    }()

    @Test(arguments: APIErrorCode.allCases)
    func namesErrorCode(_ code: APIErrorCode) {
        #expect(Self.document.contains(code.rawValue))
    }

    @Test(arguments: [
        APIRoute.healthz, APIRoute.metrics, APIRoute.token, APIRoute.me, APIRoute.datacenter, APIRoute.vaults,
        APIRoute.vault, APIRoute.servers, APIRoute.server, APIRoute.serverRevoke, APIRoute.serverRecover,
        APIRoute.siteCredentials, APIRoute.siteCredentialRevoke, APIRoute.usage, APIRoute.deleted, APIRoute.undelete,
        APIRoute.storageAccounts,
        APIRoute.storageAccount, APIRoute.containers, APIRoute.applications, APIRoute.application,
        APIRoute.applicationCertificate, APIRoute.audit, APIRoute.objectList, APIRoute.object, APIRoute.config,
    ])
    func documentsRoute(_ route: String) {
        #expect(Self.document.contains("\n  \(route):\n"))
    }
}
