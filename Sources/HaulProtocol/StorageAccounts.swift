import Foundation

/// `POST /v1/storage-accounts` (subscription admin).
public struct StorageAccountCreateRequest: APIRequestBody, Hashable {
    public var name: ResourceName
    public init(name: ResourceName) { self.name = name }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case name }
}

public struct StorageAccountInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: ResourceName
    public var created: Date
    public init(id: UUID, name: ResourceName, created: Date) {
        self.id = id
        self.name = name
        self.created = created
    }
}

public struct StorageAccountList: Codable, Sendable, Hashable {
    public var storageAccounts: [StorageAccountInfo]
    public init(storageAccounts: [StorageAccountInfo]) { self.storageAccounts = storageAccounts }
}

/// `POST /v1/storage-accounts/{account}/containers` (subscription admin).
public struct ContainerCreateRequest: APIRequestBody, Hashable {
    public var name: ResourceName
    public init(name: ResourceName) { self.name = name }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case name }
}

public struct ContainerInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var storageAccountId: UUID
    public var name: ResourceName
    public var created: Date
    public init(id: UUID, storageAccountId: UUID, name: ResourceName, created: Date) {
        self.id = id
        self.storageAccountId = storageAccountId
        self.name = name
        self.created = created
    }
}

public struct ContainerList: Codable, Sendable, Hashable {
    public var containers: [ContainerInfo]
    public init(containers: [ContainerInfo]) { self.containers = containers }
}
