import Foundation
import HaulIdentity
import HaulProtocol
import HummingbirdTesting
import Testing

/// A self-signed certificate with its key, as an offline application's CertGen makes one.
func applicationIdentity(_ harness: ServiceHarness, _ name: String = "app") throws -> TestIdentity {
    let made = try CertificateAuthority.create(
        commonName: name, notValidBefore: harness.clock.now.addingTimeInterval(-86_400),
        notValidAfter: harness.clock.now.addingTimeInterval(365 * 86_400))
    return TestIdentity(key: made.key, certificate: made.certificate)
}

extension TestClientProtocol {
    /// The whole answer of a token exchange for `identity` (the helper `token` throws on a refusal).
    func exchange(_ harness: ServiceHarness, _ identity: TestIdentity) async throws -> HTTPResult {
        try await call(.post, APIRoute.token, json: TokenRequest(assertion: try await harness.assertion(identity)))
    }

    func auditActions(_ token: String) async throws -> [AuditEventInfo] {
        try await call(.get, APIPath.audit(limit: 1000), token: token).decode(AuditPage.self).events
    }
}

/// Storage accounts, containers and applications (docs/service.md §2, §3, §6 routes).
@Suite struct ResourceRoutesTests {
    @Test func applicationsCreateListCertificateAndDelete() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (subscription, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let seeder = try ResourceName("seeder")

            // Without a certificate.
            let created = try await client.call(
                .post, APIRoute.applications, token: token, json: ApplicationCreateRequest(name: seeder))
            #expect(created.status == .created, "\(created.text)")
            let info = try created.decode(ApplicationInfo.self)
            #expect(info.name == seeder)
            #expect(info.certificateThumbprint == nil)
            #expect(info.created == harness.clock.now)

            // With a certificate: it becomes an offlineApp identity acting for the application.
            let first = try applicationIdentity(harness, "importer")
            let importer = try ResourceName("importer")
            let withCertificate = try await client.call(
                .post, APIRoute.applications, token: token,
                json: ApplicationCreateRequest(name: importer, certificatePEM: first.certificate.pem))
            #expect(withCertificate.status == .created, "\(withCertificate.text)")
            let importerInfo = try withCertificate.decode(ApplicationInfo.self)
            #expect(importerInfo.certificateThumbprint == first.certificate.thumbprint.hex)
            let appToken = try await client.exchange(harness, first)
            #expect(appToken.status == .ok, "\(appToken.text)")
            let tokenInfo = try appToken.decode(TokenResponse.self)
            #expect(tokenInfo.role == .offlineApp)
            #expect(tokenInfo.subject == importerInfo.id.uuidString.lowercased())
            #expect(tokenInfo.subscription == subscription)

            // List (by name) and read one.
            let list = try await client.call(.get, APIRoute.applications, token: token)
            #expect(list.status == .ok)
            #expect(try list.decode(ApplicationList.self).applications.map(\.name) == [importer, seeder])
            let one = try await client.call(.get, APIPath.application(importer), token: token)
            #expect(try one.decode(ApplicationInfo.self) == importerInfo)

            // Uploading a certificate to the application that had none registers it.
            let second = try applicationIdentity(harness, "seeder")
            let upload = try await client.call(
                .put, APIPath.applicationCertificate(seeder), token: token,
                json: ApplicationCertificateUpload(certificatePEM: second.certificate.pem))
            #expect(upload.status == .ok, "\(upload.text)")
            #expect(try upload.decode(ApplicationInfo.self).certificateThumbprint == second.certificate.thumbprint.hex)
            #expect(try await client.exchange(harness, second).status == .ok)
            let read = try await client.call(.get, APIPath.application(seeder), token: token)
            #expect(try read.decode(ApplicationInfo.self).certificateThumbprint == second.certificate.thumbprint.hex)

            // Replacing it revokes the previous certificate's identity (and its tokens) at once.
            let secondToken = try await client.token(harness, second)
            let third = try applicationIdentity(harness, "seeder-2")
            let replace = try await client.call(
                .put, APIPath.applicationCertificate(seeder), token: token,
                json: ApplicationCertificateUpload(certificatePEM: third.certificate.pem))
            #expect(replace.status == .ok, "\(replace.text)")
            #expect(try await client.exchange(harness, second).errorCode == .identityRevoked)
            let stale = try await client.call(.get, APIRoute.me, token: secondToken)
            #expect(stale.status == .unauthorized)
            #expect(stale.errorCode == .tokenRevoked || stale.errorCode == .identityRevoked, "\(stale.text)")
            #expect(try await client.exchange(harness, third).status == .ok)

            // A body that is not a certificate changes nothing.
            let garbage = try await client.call(
                .put, APIPath.applicationCertificate(seeder), token: token,
                json: ApplicationCertificateUpload(certificatePEM: "not a certificate"))
            #expect(garbage.status == .badRequest)
            #expect(garbage.errorCode == .invalidCertificate)
            let unchanged = try await client.call(.get, APIPath.application(seeder), token: token)
            #expect(
                try unchanged.decode(ApplicationInfo.self).certificateThumbprint == third.certificate.thumbprint.hex)

            // Delete: gone from the list, its certificate's identity revoked, a second delete is 404.
            let delete = try await client.call(.delete, APIPath.application(seeder), token: token)
            #expect(delete.status == .noContent)
            #expect(try await client.call(.get, APIPath.application(seeder), token: token).errorCode == .notFound)
            #expect(try await client.exchange(harness, third).errorCode == .identityRevoked)
            let again = try await client.call(.delete, APIPath.application(seeder), token: token)
            #expect(again.status == .notFound)
            #expect(again.errorCode == .notFound)
            let after = try await client.call(.get, APIRoute.applications, token: token)
            #expect(try after.decode(ApplicationList.self).applications.map(\.name) == [importer])

            // Every change is in the audit log, by the admin.
            let events = try await client.auditActions(token)
            let applicationEvents = events.filter { $0.action.hasPrefix("application.") }
            #expect(
                applicationEvents.map(\.action) == [
                    "application.create", "application.create", "application.certificate", "application.certificate",
                    "application.delete",
                ])
            #expect(applicationEvents.map(\.target) == ["seeder", "importer", "seeder", "seeder", "seeder"])
            #expect(applicationEvents.allSatisfy { $0.actor.hasPrefix("subscriptionAdmin:") })
            #expect(applicationEvents[1].detail == first.certificate.thumbprint.hex)
            #expect(applicationEvents[3].detail == third.certificate.thumbprint.hex)
        }
    }

    @Test func applicationRequestsAreValidated() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let cases: [(String, APIErrorCode)] = [
                (#"{"name":"app""#, .malformedJSON),
                (#"["app"]"#, .malformedJSON),
                (#"{"name":"app","certificate":"x"}"#, .unknownField),
                (#"{"name":"App_1"}"#, .invalidName),
                (#"{"name":"app","certificatePEM":"not a certificate"}"#, .invalidCertificate),
                (#"{"name":"app","certificatePEM":7}"#, .malformedJSON),
            ]
            for (body, code) in cases {
                let result = try await client.call(.post, APIRoute.applications, token: token, rawJSON: body)
                #expect(result.status == .badRequest, "\(body)")
                #expect(result.errorCode == code, "\(body): \(result.text)")
            }
            // None of them created anything.
            let list = try await client.call(.get, APIRoute.applications, token: token)
            #expect(try list.decode(ApplicationList.self).applications.isEmpty)

            let name = try ResourceName("app")
            let created = try await client.call(
                .post, APIRoute.applications, token: token, json: ApplicationCreateRequest(name: name))
            #expect(created.status == .created)
            let duplicate = try await client.call(
                .post, APIRoute.applications, token: token, json: ApplicationCreateRequest(name: name))
            #expect(duplicate.status == .conflict)
            #expect(duplicate.errorCode == .alreadyExists)

            let upload = try await client.call(
                .put, APIPath.applicationCertificate(name), token: token,
                rawJSON: #"{"certificatePEM":"x","name":"app"}"#)
            #expect(upload.errorCode == .unknownField)
            let missing = try await client.call(
                .put, APIPath.applicationCertificate(name), token: token, rawJSON: "{}")
            #expect(missing.status == .badRequest)
            #expect(missing.errorCode == .malformedJSON)
            let badPath = try await client.call(.get, "/v1/applications/App_1", token: token)
            #expect(badPath.errorCode == .invalidName)
            #expect(try await client.call(.delete, "/v1/applications/App_1", token: token).errorCode == .invalidName)
            let list2 = try await client.call(.get, APIRoute.applications, token: token)
            #expect(try list2.decode(ApplicationList.self).applications.map(\.name) == [name])
        }
    }

    @Test func aSiteListsButChangesNothing() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            _ = try await client.call(
                .post, APIRoute.vaults, token: token, json: VaultCreateRequest(name: try ResourceName("v1")))
            let app = try ResourceName("seeder")
            let account = try ResourceName("seed")
            #expect(
                try await client.call(
                    .post, APIRoute.applications, token: token, json: ApplicationCreateRequest(name: app)
                ).status == .created)
            #expect(
                try await client.call(
                    .post, APIRoute.storageAccounts, token: token, json: StorageAccountCreateRequest(name: account)
                ).status == .created)
            #expect(
                try await client.call(
                    .post, APIPath.containers(account), token: token,
                    json: ContainerCreateRequest(name: try ResourceName("box"))
                ).status == .created)
            let site = try await client.token(harness, try await siteIdentity(harness, client, token, vault: "v1"))

            // Reading is allowed.
            let apps = try await client.call(.get, APIRoute.applications, token: site)
            #expect(apps.status == .ok)
            #expect(try apps.decode(ApplicationList.self).applications.map(\.name) == [app])
            #expect(try await client.call(.get, APIPath.application(app), token: site).status == .ok)
            let accounts = try await client.call(.get, APIRoute.storageAccounts, token: site)
            #expect(try accounts.decode(StorageAccountList.self).storageAccounts.map(\.name) == [account])
            #expect(try await client.call(.get, APIPath.storageAccount(account), token: site).status == .ok)
            let containers = try await client.call(.get, APIPath.containers(account), token: site)
            #expect(try containers.decode(ContainerList.self).containers.map(\.name.rawValue) == ["box"])

            // Changing is forbidden.
            let certificate = try applicationIdentity(harness)
            let refusals: [HTTPResult] = [
                try await client.call(
                    .post, APIRoute.applications, token: site,
                    json: ApplicationCreateRequest(name: try ResourceName("other"))),
                try await client.call(
                    .put, APIPath.applicationCertificate(app), token: site,
                    json: ApplicationCertificateUpload(certificatePEM: certificate.certificate.pem)),
                try await client.call(.delete, APIPath.application(app), token: site),
                try await client.call(
                    .post, APIRoute.storageAccounts, token: site,
                    json: StorageAccountCreateRequest(name: try ResourceName("other"))),
                try await client.call(
                    .post, APIPath.containers(account), token: site,
                    json: ContainerCreateRequest(name: try ResourceName("other"))),
                try await client.call(.get, APIPath.audit(), token: site),
            ]
            for refusal in refusals {
                #expect(refusal.status == .forbidden, "\(refusal.text)")
                #expect(refusal.errorCode == .forbidden)
            }
            // Nothing changed.
            let appInfo = try await client.call(.get, APIPath.application(app), token: token)
            #expect(try appInfo.decode(ApplicationInfo.self).certificateThumbprint == nil)
            #expect(try await client.exchange(harness, certificate).errorCode == .assertionUnknownCertificate)
            let apps2 = try await client.call(.get, APIRoute.applications, token: token)
            #expect(try apps2.decode(ApplicationList.self).applications.map(\.name) == [app])
            let accounts2 = try await client.call(.get, APIRoute.storageAccounts, token: token)
            #expect(try accounts2.decode(StorageAccountList.self).storageAccounts.map(\.name) == [account])
            let containers2 = try await client.call(.get, APIPath.containers(account), token: token)
            #expect(try containers2.decode(ContainerList.self).containers.map(\.name.rawValue) == ["box"])
            // A server may not even read them.
            let (_, serverToken, _) = try await client.server(harness, admin: token, vault: "v1", name: "s1")
            #expect(try await client.call(.get, APIRoute.applications, token: serverToken).errorCode == .forbidden)
            #expect(try await client.call(.get, APIRoute.storageAccounts, token: serverToken).errorCode == .forbidden)
        }
    }

    @Test func storageAccountsAndContainers() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, admin) = try await harness.subscription("acme")
        try await harness.test { client in
            let token = try await client.token(harness, admin)
            let seed = try ResourceName("seed")
            let archive = try ResourceName("archive")
            let created = try await client.call(
                .post, APIRoute.storageAccounts, token: token, json: StorageAccountCreateRequest(name: seed))
            #expect(created.status == .created, "\(created.text)")
            let seedInfo = try created.decode(StorageAccountInfo.self)
            #expect(seedInfo.name == seed)
            #expect(seedInfo.created == harness.clock.now)
            let archiveInfo = try await client.call(
                .post, APIRoute.storageAccounts, token: token, json: StorageAccountCreateRequest(name: archive)
            ).decode(StorageAccountInfo.self)
            let duplicate = try await client.call(
                .post, APIRoute.storageAccounts, token: token, json: StorageAccountCreateRequest(name: seed))
            #expect(duplicate.status == .conflict)
            #expect(duplicate.errorCode == .alreadyExists)

            let list = try await client.call(.get, APIRoute.storageAccounts, token: token)
            #expect(try list.decode(StorageAccountList.self).storageAccounts == [archiveInfo, seedInfo])
            let one = try await client.call(.get, APIPath.storageAccount(seed), token: token)
            #expect(try one.decode(StorageAccountInfo.self) == seedInfo)

            // Containers belong to one account; a name is unique within its account only.
            let box = try ResourceName("box")
            let container = try await client.call(
                .post, APIPath.containers(seed), token: token, json: ContainerCreateRequest(name: box))
            #expect(container.status == .created, "\(container.text)")
            let boxInfo = try container.decode(ContainerInfo.self)
            #expect(boxInfo.storageAccountId == seedInfo.id)
            #expect(boxInfo.name == box)
            let second = try await client.call(
                .post, APIPath.containers(seed), token: token,
                json: ContainerCreateRequest(name: try ResourceName("alpha")))
            #expect(second.status == .created)
            let again = try await client.call(
                .post, APIPath.containers(seed), token: token, json: ContainerCreateRequest(name: box))
            #expect(again.status == .conflict)
            #expect(again.errorCode == .alreadyExists)
            let elsewhere = try await client.call(
                .post, APIPath.containers(archive), token: token, json: ContainerCreateRequest(name: box))
            #expect(elsewhere.status == .created)
            #expect(try elsewhere.decode(ContainerInfo.self).storageAccountId == archiveInfo.id)

            let containers = try await client.call(.get, APIPath.containers(seed), token: token)
            let names = try containers.decode(ContainerList.self).containers.map(\.name.rawValue)
            #expect(names == ["alpha", "box"])
            let archived = try await client.call(.get, APIPath.containers(archive), token: token)
            #expect(try archived.decode(ContainerList.self).containers.map(\.name) == [box])

            // An account that does not exist.
            let nothing = try ResourceName("nothing")
            #expect(try await client.call(.get, APIPath.storageAccount(nothing), token: token).errorCode == .notFound)
            #expect(try await client.call(.get, APIPath.containers(nothing), token: token).errorCode == .notFound)
            let orphan = try await client.call(
                .post, APIPath.containers(nothing), token: token, json: ContainerCreateRequest(name: box))
            #expect(orphan.status == .notFound)
            #expect(orphan.errorCode == .notFound)

            // Strict bodies.
            let cases: [(String, String, APIErrorCode)] = [
                (APIRoute.storageAccounts, #"{"name":"x""#, .malformedJSON),
                (APIRoute.storageAccounts, #"{"name":"x","region":"eu"}"#, .unknownField),
                (APIRoute.storageAccounts, #"{"name":"X"}"#, .invalidName),
                (APIRoute.storageAccounts, #"{}"#, .malformedJSON),
                (APIPath.containers(seed), #"{"name":"x""#, .malformedJSON),
                (APIPath.containers(seed), #"{"name":"x","tier":"cold"}"#, .unknownField),
                (APIPath.containers(seed), #"{"name":"-x"}"#, .invalidName),
            ]
            for (path, body, code) in cases {
                let result = try await client.call(.post, path, token: token, rawJSON: body)
                #expect(result.status == .badRequest, "\(path) \(body)")
                #expect(result.errorCode == code, "\(path) \(body): \(result.text)")
            }
            #expect(try await client.call(.get, "/v1/storage-accounts/Seed", token: token).errorCode == .invalidName)
            let list2 = try await client.call(.get, APIRoute.storageAccounts, token: token)
            #expect(try list2.decode(StorageAccountList.self).storageAccounts.count == 2)
            let containers2 = try await client.call(.get, APIPath.containers(seed), token: token)
            #expect(try containers2.decode(ContainerList.self).containers.count == 2)

            let events = try await client.auditActions(token)
            let accountEvents = events.filter { $0.action == "storageAccount.create" }
            #expect(accountEvents.map(\.target) == ["seed", "archive"])
            #expect(accountEvents.first?.detail == seedInfo.id.uuidString.lowercased())
            let containerEvents = events.filter { $0.action == "container.create" }
            #expect(containerEvents.map(\.target) == ["seed/box", "seed/alpha", "archive/box"])
            #expect(containerEvents.first?.detail == boxInfo.id.uuidString.lowercased())
        }
    }

    @Test func anotherSubscriptionsAccountsContainersAndApplicationsAreNotFound() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, adminA) = try await harness.subscription("tenant-a")
        let (_, adminB) = try await harness.subscription("tenant-b")
        try await harness.test { client in
            let tokenA = try await client.token(harness, adminA)
            let tokenB = try await client.token(harness, adminB)
            let account = try ResourceName("secret-sa")
            let app = try ResourceName("secret-app")
            let absentAccount = try ResourceName("nothing-sa")
            let absentApp = try ResourceName("nothing-app")
            #expect(
                try await client.call(
                    .post, APIRoute.storageAccounts, token: tokenA, json: StorageAccountCreateRequest(name: account)
                ).status == .created)
            #expect(
                try await client.call(
                    .post, APIPath.containers(account), token: tokenA,
                    json: ContainerCreateRequest(name: try ResourceName("box"))
                ).status == .created)
            let appIdentity = try applicationIdentity(harness, "a")
            let appInfo = try await client.call(
                .post, APIRoute.applications, token: tokenA,
                json: ApplicationCreateRequest(name: app, certificatePEM: appIdentity.certificate.pem)
            ).decode(ApplicationInfo.self)
            let auditBefore = try await client.auditActions(tokenA)

            let otherCertificate = try applicationIdentity(harness, "b")
            let upload = ApplicationCertificateUpload(certificatePEM: otherCertificate.certificate.pem)
            let container = ContainerCreateRequest(name: try ResourceName("stolen"))
            // Each request of tenant B for A's resource, beside the same request for a name that exists nowhere.
            let pairs: [(String, HTTPResult, HTTPResult)] = [
                (
                    "GET account",
                    try await client.call(.get, APIPath.storageAccount(account), token: tokenB),
                    try await client.call(.get, APIPath.storageAccount(absentAccount), token: tokenB)
                ),
                (
                    "GET containers",
                    try await client.call(.get, APIPath.containers(account), token: tokenB),
                    try await client.call(.get, APIPath.containers(absentAccount), token: tokenB)
                ),
                (
                    "POST container",
                    try await client.call(.post, APIPath.containers(account), token: tokenB, json: container),
                    try await client.call(.post, APIPath.containers(absentAccount), token: tokenB, json: container)
                ),
                (
                    "GET application",
                    try await client.call(.get, APIPath.application(app), token: tokenB),
                    try await client.call(.get, APIPath.application(absentApp), token: tokenB)
                ),
                (
                    "PUT certificate",
                    try await client.call(.put, APIPath.applicationCertificate(app), token: tokenB, json: upload),
                    try await client.call(.put, APIPath.applicationCertificate(absentApp), token: tokenB, json: upload)
                ),
                (
                    "DELETE application",
                    try await client.call(.delete, APIPath.application(app), token: tokenB),
                    try await client.call(.delete, APIPath.application(absentApp), token: tokenB)
                ),
            ]
            for (what, foreign, absent) in pairs {
                #expect(foreign.status == .notFound, "\(what): \(foreign.text)")
                #expect(foreign.errorCode == .notFound, "\(what)")
                #expect(absent.status == .notFound, "\(what)")
                // The same answer as for a name that does not exist, apart from the name echoed; no id, no owner.
                let normalized = foreign.text.replacingOccurrences(of: "secret-", with: "nothing-")
                #expect(normalized == absent.text, "\(what): \(foreign.text) vs \(absent.text)")
                #expect(foreign.headers[.contentType] == absent.headers[.contentType], "\(what)")
                #expect(!foreign.text.contains("tenant-a"), "\(what)")
            }
            // B sees none of A's resources in its lists, and its own names are free.
            let accountsB = try await client.call(.get, APIRoute.storageAccounts, token: tokenB)
            #expect(try accountsB.decode(StorageAccountList.self).storageAccounts.isEmpty)
            let appsB = try await client.call(.get, APIRoute.applications, token: tokenB)
            #expect(try appsB.decode(ApplicationList.self).applications.isEmpty)
            #expect(
                try await client.call(
                    .post, APIRoute.storageAccounts, token: tokenB, json: StorageAccountCreateRequest(name: account)
                ).status == .created)
            #expect(
                try await client.call(
                    .post, APIRoute.applications, token: tokenB, json: ApplicationCreateRequest(name: app)
                ).status == .created)

            // A's resources are untouched: no container added, the certificate not replaced, the app not deleted.
            let containersA = try await client.call(.get, APIPath.containers(account), token: tokenA)
            #expect(try containersA.decode(ContainerList.self).containers.map(\.name.rawValue) == ["box"])
            let appA = try await client.call(.get, APIPath.application(app), token: tokenA)
            #expect(try appA.decode(ApplicationInfo.self) == appInfo)
            #expect(try await client.exchange(harness, appIdentity).status == .ok)
            #expect(try await client.exchange(harness, otherCertificate).errorCode == .assertionUnknownCertificate)
            // A's audit log has nothing of B's; B's has only its own two creations.
            let auditAfter = try await client.auditActions(tokenA)
            #expect(auditAfter == auditBefore)
            let auditB = try await client.auditActions(tokenB).map(\.action)
            #expect(!auditB.contains("container.create"))
            #expect(!auditB.contains("application.certificate"))
            #expect(!auditB.contains("application.delete"))
            #expect(auditB.filter { $0 == "storageAccount.create" || $0 == "application.create" }.count == 2)
        }
    }

    /// A certificate is public: anybody holding another identity's certificate must not be able to make it an
    /// application of theirs, or deleting that application (or replacing its certificate) would revoke the other
    /// identity, across subscriptions.
    @Test func anApplicationCannotTakeOverAnotherIdentitysCertificate() async throws {
        let harness = try await ServiceHarness()
        defer { harness.remove() }
        let (_, adminA) = try await harness.subscription("tenant-a")
        let (_, adminB) = try await harness.subscription("tenant-b")
        try await harness.test { client in
            let tokenA = try await client.token(harness, adminA)
            let tokenB = try await client.token(harness, adminB)
            let appIdentity = try applicationIdentity(harness, "a")
            #expect(
                try await client.call(
                    .post, APIRoute.applications, token: tokenA,
                    json: ApplicationCreateRequest(
                        name: try ResourceName("importer"), certificatePEM: appIdentity.certificate.pem)
                ).status == .created)
            let (_, _, serverA) = try await client.server(harness, admin: tokenA, vault: "v1", name: "web-1")

            for victim in [appIdentity.certificate, serverA.certificate, adminA.certificate] {
                // Created with it: refused, and no application is left behind.
                let name = try ResourceName("thief")
                let create = try await client.call(
                    .post, APIRoute.applications, token: tokenB,
                    json: ApplicationCreateRequest(name: name, certificatePEM: victim.pem))
                #expect(create.status == .conflict, "\(create.text)")
                #expect(create.errorCode == .alreadyExists)
                #expect(try await client.call(.get, APIPath.application(name), token: tokenB).errorCode == .notFound)

                // Uploaded to an existing application: refused, the application keeps no certificate.
                #expect(
                    try await client.call(
                        .post, APIRoute.applications, token: tokenB, json: ApplicationCreateRequest(name: name)
                    ).status == .created)
                let upload = try await client.call(
                    .put, APIPath.applicationCertificate(name), token: tokenB,
                    json: ApplicationCertificateUpload(certificatePEM: victim.pem))
                #expect(upload.status == .conflict, "\(upload.text)")
                #expect(upload.errorCode == .alreadyExists)
                let info = try await client.call(.get, APIPath.application(name), token: tokenB)
                #expect(try info.decode(ApplicationInfo.self).certificateThumbprint == nil)
                #expect(try await client.call(.delete, APIPath.application(name), token: tokenB).status == .noContent)
            }
            // In its own subscription too: the admin cannot make a server's certificate an application's.
            let own = try await client.call(
                .post, APIRoute.applications, token: tokenA,
                json: ApplicationCreateRequest(
                    name: try ResourceName("mistake"), certificatePEM: serverA.certificate.pem))
            #expect(own.errorCode == .alreadyExists)

            // Every identity of A still works.
            #expect(try await client.exchange(harness, appIdentity).status == .ok)
            #expect(try await client.exchange(harness, serverA).status == .ok)
            #expect(try await client.exchange(harness, adminA).status == .ok)
            // Re-uploading the application's own current certificate is allowed and changes nothing.
            let reupload = try await client.call(
                .put, APIPath.applicationCertificate(try ResourceName("importer")), token: tokenA,
                json: ApplicationCertificateUpload(certificatePEM: appIdentity.certificate.pem))
            #expect(reupload.status == .ok, "\(reupload.text)")
            #expect(try await client.exchange(harness, appIdentity).status == .ok)
        }
    }
}
