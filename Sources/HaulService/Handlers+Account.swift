import Foundation
import HaulFormat
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Hummingbird

extension Handlers {
    /// `/v1/me`, `/v1/datacenter`, storage accounts, containers, applications and the audit log.
    func addAccountRoutes(to v1: RouterGroup<ServiceRequestContext>) {
        v1.get("me") { _, context in
            let caller = try context.requireCaller()
            return try json(
                CallerInfo(
                    subscription: caller.subscription, role: caller.role, subject: caller.subject,
                    expiresAt: caller.tokenExpires))
        }
        v1.get("datacenter") { _, context in
            _ = try context.requireCaller()
            guard let datacenter = try await metadata.datacenter() else {
                throw APIError(.notFound, "the provider has not set a datacenter address yet")
            }
            return try json(DatacenterInfo(name: datacenter.name, address: datacenter.address))
        }

        // Storage accounts and containers.
        v1.get("storage-accounts") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            let accounts = try await metadata.storageAccounts(subscription: try subscription(of: caller))
            return try json(StorageAccountList(storageAccounts: try accounts.map { try Self.info($0) }))
        }
        v1.post("storage-accounts") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let body = try await decode(StorageAccountCreateRequest.self, from: request)
            let account = StorageAccount(
                id: UUID(), subscription: try subscription(of: caller), name: body.name.rawValue, created: now())
            try await metadata.createStorageAccount(account)
            try await audit(caller, "storageAccount.create", body.name.rawValue, account.id.lowercased)
            return try json(try Self.info(account), status: .created)
        }
        v1.get("storage-accounts/{account}") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            return try json(try Self.info(try await storageAccount(try name(context, "account"), for: caller)))
        }
        v1.get("storage-accounts/{account}/containers") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            let account = try await storageAccount(try name(context, "account"), for: caller)
            let containers = try await metadata.containers(storageAccount: account.id)
            return try json(ContainerList(containers: try containers.map { try Self.info($0) }))
        }
        v1.post("storage-accounts/{account}/containers") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let account = try await storageAccount(try name(context, "account"), for: caller)
            let body = try await decode(ContainerCreateRequest.self, from: request)
            let container = Container(id: UUID(), storageAccount: account.id, name: body.name.rawValue, created: now())
            try await metadata.createContainer(container)
            try await audit(caller, "container.create", "\(account.name)/\(body.name)", container.id.lowercased)
            return try json(try Self.info(container), status: .created)
        }

        // Applications.
        v1.get("applications") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            let applications = try await metadata.applications(subscription: try subscription(of: caller))
            return try json(ApplicationList(applications: try applications.map { try Self.info($0) }))
        }
        v1.post("applications") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let body = try await decode(ApplicationCreateRequest.self, from: request)
            let subscription = try subscription(of: caller)
            let certificate = try body.certificatePEM.map(Self.parseCertificate)
            var application = HaulMetadata.Application(
                id: UUID(), subscription: subscription, name: body.name.rawValue,
                certificateThumbprint: certificate?.thumbprint.hex, certificatePEM: certificate?.pem, created: now())
            if let certificate { try await requireUnused(certificate, by: application) }
            try await metadata.createApplication(application)
            if let certificate {
                do {
                    try await register(
                        certificate, subscription: subscription, role: .offlineApp, subject: application.id.lowercased)
                } catch {
                    // Registered meanwhile by another request: leave no application pointing at that identity.
                    try? await metadata.deleteApplication(id: application.id)
                    throw error
                }
            }
            application.certificatePEM = nil
            try await audit(caller, "application.create", body.name.rawValue, certificate?.thumbprint.hex ?? "")
            return try json(try Self.info(application), status: .created)
        }
        v1.get("applications/{application}") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            return try json(try Self.info(try await application(try name(context, "application"), for: caller)))
        }
        v1.put("applications/{application}/certificate") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            var application = try await application(try name(context, "application"), for: caller)
            let body = try await decode(ApplicationCertificateUpload.self, from: request)
            let certificate = try Self.parseCertificate(body.certificatePEM)
            try await requireUnused(certificate, by: application)
            // Register before pointing the application at the certificate: the identity row is the claim, so a
            // request that registered the same certificate meanwhile makes this one 409, never a takeover.
            if try await metadata.identity(thumbprint: certificate.thumbprint.hex) == nil {
                do {
                    try await register(
                        certificate, subscription: application.subscription, role: .offlineApp,
                        subject: application.id.lowercased)
                } catch let error as HaulError where error.code == .alreadyExists {
                    try await requireUnused(certificate, by: application)
                }
            }
            if let previous = application.certificateThumbprint, previous != certificate.thumbprint.hex {
                try await metadata.revokeIdentity(thumbprint: previous)
            }
            try await metadata.setApplicationCertificate(
                id: application.id, thumbprint: certificate.thumbprint.hex, pem: certificate.pem)
            application.certificateThumbprint = certificate.thumbprint.hex
            try await audit(caller, "application.certificate", application.name, certificate.thumbprint.hex)
            return try json(try Self.info(application))
        }
        v1.delete("applications/{application}") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let application = try await application(try name(context, "application"), for: caller)
            if let thumbprint = application.certificateThumbprint {
                try await metadata.revokeIdentity(thumbprint: thumbprint)
            }
            try await metadata.deleteApplication(id: application.id)
            try await audit(caller, "application.delete", application.name, application.id.lowercased)
            return Response(status: .noContent)
        }

        // Audit log.
        v1.get("audit") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let after = try Self.integer(request, "after", default: 0, range: 0...Int64.max)
            let limit = Int(try Self.integer(request, "limit", default: 100, range: 1...1000))
            let events = try await metadata.audit(
                subscription: try subscription(of: caller), after: after, limit: limit)
            let page = AuditPage(
                events: events.map {
                    AuditEventInfo(
                        sequence: $0.sequence, time: $0.time, actor: $0.actor, action: $0.action, target: $0.target,
                        detail: $0.detail)
                },
                next: events.count == limit ? events.last?.sequence : nil)
            return try json(page)
        }
    }

    func storageAccount(_ name: ResourceName, for caller: Caller) async throws -> StorageAccount {
        guard
            let account = try await metadata.storageAccount(
                subscription: try subscription(of: caller), name: name.rawValue)
        else { throw APIError(.notFound, "no storage account \"\(name)\"") }
        return account
    }

    func application(_ name: ResourceName, for caller: Caller) async throws -> HaulMetadata.Application {
        guard
            let application = try await metadata.application(
                subscription: try subscription(of: caller), name: name.rawValue)
        else { throw APIError(.notFound, "no application \"\(name)\"") }
        return application
    }

    /// Refuses (`409 alreadyExists`) a certificate that is registered for anything but this application's own live
    /// identity. A certificate is public: without this, whoever holds another identity's certificate (of any
    /// subscription) could attach it to an application and revoke that identity by replacing or deleting the
    /// application.
    func requireUnused(_ certificate: IdentityCertificate, by application: HaulMetadata.Application) async throws {
        guard let identity = try await metadata.identity(thumbprint: certificate.thumbprint.hex) else { return }
        guard
            identity.role == .offlineApp, identity.subscription == application.subscription,
            identity.subject == application.id.lowercased, !identity.revoked
        else {
            throw APIError(
                .alreadyExists,
                "this certificate is already registered; make a new key and certificate for the application")
        }
    }

    static func parseCertificate(_ pem: String) throws -> IdentityCertificate {
        do {
            return try IdentityCertificate(pem: pem)
        } catch {
            throw APIError(.invalidCertificate, "certificatePEM is not a PEM X.509 certificate")
        }
    }

    /// An integer query parameter within `range` (else `400 invalidParameter`).
    static func integer(_ request: Request, _ key: String, default value: Int64, range: ClosedRange<Int64>) throws
        -> Int64
    {
        guard let text = request.uri.queryParameters.get(key) else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw APIError(
                .invalidParameter, "\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func info(_ account: StorageAccount) throws -> StorageAccountInfo {
        StorageAccountInfo(id: account.id, name: try ResourceName(account.name), created: account.created)
    }

    static func info(_ container: Container) throws -> ContainerInfo {
        ContainerInfo(
            id: container.id, storageAccountId: container.storageAccount, name: try ResourceName(container.name),
            created: container.created)
    }

    static func info(_ application: HaulMetadata.Application) throws -> ApplicationInfo {
        ApplicationInfo(
            id: application.id, name: try ResourceName(application.name),
            certificateThumbprint: application.certificateThumbprint, created: application.created)
    }
}
