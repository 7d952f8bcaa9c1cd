import Foundation

/// `GET /v1/vaults/{vault}/usage` (subscription admin): bytes and objects stored, computed by listing the blob
/// store (trash not included).
public struct VaultUsage: Codable, Sendable, Hashable {
    public var vaultId: UUID
    public var vault: ResourceName
    public var bytes: Int64
    public var objects: Int
    public var servers: [ServerUsage]
    public init(vaultId: UUID, vault: ResourceName, bytes: Int64, objects: Int, servers: [ServerUsage]) {
        self.vaultId = vaultId
        self.vault = vault
        self.bytes = bytes
        self.objects = objects
        self.servers = servers
    }
}

public struct ServerUsage: Codable, Sendable, Hashable {
    public var serverId: UUID
    public var name: ResourceName
    public var bytes: Int64
    public var objects: Int
    public init(serverId: UUID, name: ResourceName, bytes: Int64, objects: Int) {
        self.serverId = serverId
        self.name = name
        self.bytes = bytes
        self.objects = objects
    }
}
