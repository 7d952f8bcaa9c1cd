import Foundation

/// `POST /v1/vaults` (subscription admin).
public struct VaultCreateRequest: APIRequestBody, Hashable {
    public var name: ResourceName
    /// Days a deleted object stays recoverable; at least 14 (the default).
    public var retentionDays: Int?
    public init(name: ResourceName, retentionDays: Int? = nil) {
        self.name = name
        self.retentionDays = retentionDays
    }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case name, retentionDays }
}

public struct VaultInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: ResourceName
    public var retentionDays: Int
    public var created: Date
    public init(id: UUID, name: ResourceName, retentionDays: Int, created: Date) {
        self.id = id
        self.name = name
        self.retentionDays = retentionDays
        self.created = created
    }
}

public struct VaultList: Codable, Sendable, Hashable {
    public var vaults: [VaultInfo]
    public init(vaults: [VaultInfo]) { self.vaults = vaults }
}
