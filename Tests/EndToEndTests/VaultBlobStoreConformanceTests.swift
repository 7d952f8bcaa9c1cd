import Foundation
import HaulAgent
import HaulProtocol
import HaulStorage
import HaulTesting
import Testing

/// `BlobStoreConformance` (`.verifying` profile) against `VaultBlobStore` on a real `hauld`: each check gets a
/// freshly registered server, whose repository is empty.
@Suite(.serialized) struct VaultBlobStoreConformanceTests {
    @Test func vaultBlobStoreConforms() async throws {
        let scratch = try ScratchDirectory()
        var admin = HaulProcess(repo: "")
        admin.environment["HAUL_STATE_DIR"] = scratch("admin-state")
        let fixture = try VaultFixture(scratch, admin: admin)
        let settings = try PublishSettings.read(from: fixture.settings)
        var count = 0
        try await BlobStoreConformance.run(profile: .verifying) {
            count += 1
            let state = AgentState(path: scratch("server-\(count)"))
            _ = try await Registrar(state: state, settings: settings).register(name: try ResourceName("conf-\(count)"))
            return try state.vaultStore()
        }
        #expect(count == BlobStoreConformance.checkNames.count)
    }
}
