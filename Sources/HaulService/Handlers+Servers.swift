import Foundation
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Hummingbird

extension Handlers {
    /// Server registration, listing, revocation and recovery.
    func addServerRoutes(to v1: RouterGroup<ServiceRequestContext>) {
        v1.get("vaults/{vault}/servers") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let servers = try await metadata.servers(vault: vault.id)
            return try json(ServerList(servers: try servers.map { try Self.info($0) }))
        }
        v1.post("vaults/{vault}/servers") { request, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            let vault = try await vault(try name(context, "vault"), for: caller)
            let body = try await decode(ServerRegisterRequest.self, from: request)
            if try await metadata.server(vault: vault.id, name: body.name.rawValue) != nil {
                throw APIError(
                    .alreadyExists,
                    "a server \"\(body.name)\" is already registered in vault \"\(vault.name)\"; to move it to this "
                        + "machine, recover it (POST \(APIPath.serverRecover(try ResourceName(vault.name), body.name)))"
                )
            }
            let server = Server(id: UUID(), vault: vault.id, name: body.name.rawValue, created: now())
            let certificate = try issue(
                csrPEM: body.csrPEM, commonName: "server \(server.id.lowercased)",
                notAfter: now().addingTimeInterval(configuration.serverCertificateLifetime))
            try await metadata.createServer(server)
            try await register(
                certificate, subscription: vault.subscription, role: .server, subject: server.id.lowercased)
            try await audit(caller, "server.register", "\(vault.name)/\(server.name)", server.id.lowercased)
            return try json(try registration(server, vault: vault, certificate: certificate), status: .created)
        }
        v1.get("vaults/{vault}/servers/{server}") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let (_, server) = try await server(context, for: caller)
            return try json(try Self.info(server))
        }
        v1.post("vaults/{vault}/servers/{server}/revoke") { _, context in
            let caller = try require(context, .subscriptionAdmin)
            let (vault, server) = try await server(context, for: caller)
            try await metadata.revokeServer(id: server.id)
            try await audit(caller, "server.revoke", "\(vault.name)/\(server.name)", server.id.lowercased)
            var revoked = server
            revoked.revoked = true
            return try json(try Self.info(revoked))
        }
        v1.post("vaults/{vault}/servers/{server}/recover") { request, context in
            let caller = try require(context, .subscriptionAdmin, .site)
            let (vault, server) = try await server(context, for: caller)
            let body = try await decode(ServerRecoverRequest.self, from: request)
            guard !server.revoked else {
                throw APIError(.forbidden, "server \"\(server.name)\" is revoked and cannot be recovered")
            }
            let certificate = try issue(
                csrPEM: body.csrPEM, commonName: "server \(server.id.lowercased)",
                notAfter: now().addingTimeInterval(configuration.serverCertificateLifetime))
            for identity in try await metadata.identities(
                subscription: vault.subscription, subject: server.id.lowercased)
            where identity.role == .server && !identity.revoked {
                try await metadata.revokeIdentity(thumbprint: identity.thumbprint)
            }
            try await register(
                certificate, subscription: vault.subscription, role: .server, subject: server.id.lowercased)
            try await audit(caller, "server.recover", "\(vault.name)/\(server.name)", certificate.thumbprint.hex)
            return try json(try registration(server, vault: vault, certificate: certificate))
        }
    }

    private func server(_ context: ServiceRequestContext, for caller: Caller) async throws -> (Vault, Server) {
        let vault = try await vault(try name(context, "vault"), for: caller)
        let serverName = try name(context, "server")
        guard let server = try await metadata.server(vault: vault.id, name: serverName.rawValue) else {
            throw APIError(.notFound, "no server \"\(serverName)\" in vault \"\(vault.name)\"")
        }
        return (vault, server)
    }

    private func registration(_ server: Server, vault: Vault, certificate: IdentityCertificate) throws
        -> ServerRegistration
    {
        ServerRegistration(
            serverId: server.id, vaultId: vault.id, vault: try ResourceName(vault.name),
            name: try ResourceName(server.name), subscription: vault.subscription, certificatePEM: certificate.pem,
            thumbprint: certificate.thumbprint.hex, notAfter: certificate.notValidAfter,
            caCertificatePEM: authority.certificate.pem,
            repositoryPath: "/v1/repositories/\(server.id.lowercased)")
    }

    static func info(_ server: Server) throws -> ServerInfo {
        ServerInfo(
            id: server.id, vaultId: server.vault, name: try ResourceName(server.name), revoked: server.revoked,
            created: server.created)
    }
}
