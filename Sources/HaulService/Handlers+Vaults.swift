import Foundation
import HaulFormat
import HaulMetadata
import HaulProtocol
import HaulStorage
import Hummingbird

extension Handlers {
    /// Vaults, site credentials, usage, deleted objects and undelete.
    func addVaultRoutes(to v1: RouterGroup<ServiceRequestContext>) {
        v1.get("vaults") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            var vaults = try await metadata.vaults(subscription: try subscription(of: caller))
            if caller.role == .site { vaults = vaults.filter { $0.id.lowercased == caller.subject } }
            return try json(VaultList(vaults: try vaults.map { try Self.info($0) }))
        }
        v1.post("vaults") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let body = try await decode(VaultCreateRequest.self, from: request)
            let retention = body.retentionDays ?? 14
            guard (14...36_500).contains(retention) else {
                throw APIError(.invalidSettings, "retentionDays must be from 14 to 36500, not \(retention)")
            }
            let vault = Vault(
                id: UUID(), subscription: try subscription(of: caller), name: body.name.rawValue,
                retentionDays: retention, created: now())
            try await metadata.createVault(vault)
            try await audit(caller, "vault.create", vault.name, vault.id.lowercased)
            return try json(try Self.info(vault), status: .created)
        }
        v1.get("vaults/{vault}") { _, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            return try json(try Self.info(try await vault(try name(context, "vault"), for: caller)))
        }
        v1.post("vaults/{vault}/site-credentials") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let body = try await decode(SiteCredentialRequest.self, from: request)
            let time = now()
            guard body.expiresAt > time, body.expiresAt.timeIntervalSince(time) <= SiteCredentialRequest.maximumLifetime
            else {
                throw APIError(.invalidSettings, "expiresAt must be in the future and at most 365 days away")
            }
            let certificate = try issue(
                csrPEM: body.csrPEM, commonName: "site \(vault.id.lowercased)", notAfter: body.expiresAt)
            try await register(certificate, subscription: vault.subscription, role: .site, subject: vault.id.lowercased)
            try await audit(
                caller, "siteCredential.issue", vault.name,
                "\(certificate.thumbprint.hex) until \(ISO8601DateFormatter().string(from: certificate.notValidAfter))")
            return try json(
                SiteCredential(
                    subscription: vault.subscription, vaultId: vault.id, vault: try ResourceName(vault.name),
                    certificatePEM: certificate.pem, thumbprint: certificate.thumbprint.hex,
                    notAfter: certificate.notValidAfter, caCertificatePEM: authority.certificate.pem),
                status: .created)
        }
        v1.get("vaults/{vault}/site-credentials") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let identities = try await metadata.identities(
                subscription: vault.subscription, subject: vault.id.lowercased)
            return try json(
                SiteCredentialList(
                    credentials: identities.filter { $0.role == .site }.sorted {
                        ($0.created, $0.thumbprint) < ($1.created, $1.thumbprint)
                    }
                    .map(Self.siteCredentialInfo)))
        }
        v1.post("vaults/{vault}/site-credentials/{thumbprint}/revoke") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let thumbprint = context.parameters.get("thumbprint") ?? ""
            // Another vault's, another subscription's, a server's or a malformed thumbprint: all the same 404.
            guard ObjectID(hex: thumbprint) != nil, let identity = try await metadata.identity(thumbprint: thumbprint),
                identity.role == .site, identity.subscription == vault.subscription,
                identity.subject == vault.id.lowercased
            else {
                throw APIError(.notFound, "no site credential \(thumbprint.prefix(64)) in vault \"\(vault.name)\"")
            }
            if !identity.revoked {
                try await metadata.revokeIdentity(thumbprint: thumbprint)
                try await audit(caller, "siteCredential.revoke", vault.name, thumbprint)
            }
            var revoked = identity
            revoked.revoked = true
            return try json(Self.siteCredentialInfo(revoked))
        }
        v1.get("vaults/{vault}/usage") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            var servers: [ServerUsage] = []
            for server in try await metadata.servers(vault: vault.id) {
                let store = try await blobs.repository(vault: vault.id, server: server.id)
                var bytes: Int64 = 0
                var objects = 0
                if let config = try await store.head(.config) {
                    bytes += config.size
                    objects += 1
                }
                for kind in [ObjectKind.keys, .data, .index, .snapshots] {
                    for info in try await store.list(kind) {
                        bytes += info.size
                        objects += 1
                    }
                }
                servers.append(
                    ServerUsage(
                        serverId: server.id, name: try ResourceName(server.name), bytes: bytes, objects: objects))
            }
            return try json(
                VaultUsage(
                    vaultId: vault.id, vault: try ResourceName(vault.name), bytes: servers.reduce(0) { $0 + $1.bytes },
                    objects: servers.reduce(0) { $0 + $1.objects }, servers: servers))
        }
        v1.get("vaults/{vault}/deleted") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let deleted = try await metadata.deletedObjects(vault: vault.id)
            return try json(DeletedObjectList(objects: deleted.map { Self.info($0) }))
        }
        v1.post("vaults/{vault}/undelete") { request, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let body = try await decode(UndeleteRequest.self, from: request)
            guard let deleted = try await metadata.deletedObject(id: body.id), deleted.vault == vault.id else {
                throw APIError(.notFound, "no deleted object \(body.id.lowercased) in vault \"\(vault.name)\"")
            }
            try await undelete(deleted, vault: vault, caller: caller)
            return try json(Self.info(deleted))
        }
    }

    static func info(_ vault: Vault) throws -> VaultInfo {
        VaultInfo(
            id: vault.id, name: try ResourceName(vault.name), retentionDays: vault.retentionDays, created: vault.created
        )
    }

    static func info(_ deleted: DeletedObject) -> DeletedObjectInfo {
        DeletedObjectInfo(
            id: deleted.id, serverId: deleted.server, objectPath: deleted.objectPath, size: deleted.size,
            deletedAt: deleted.deletedAt, purgeAfter: deleted.purgeAfter)
    }

    static func siteCredentialInfo(_ identity: Identity) -> SiteCredentialInfo {
        SiteCredentialInfo(
            thumbprint: identity.thumbprint, created: identity.created, notAfter: identity.notAfter,
            revoked: identity.revoked)
    }
}
