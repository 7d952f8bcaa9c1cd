import Foundation

/// An object deleted or overwritten through the API, recoverable until `purgeAfter` (docs/service.md §7).
public struct DeletedObjectInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var serverId: UUID
    /// The object's path in its repository (format.md §1), e.g. `keys/<64 hex>`.
    public var objectPath: String
    public var size: Int64
    public var deletedAt: Date
    public var purgeAfter: Date
    public init(id: UUID, serverId: UUID, objectPath: String, size: Int64, deletedAt: Date, purgeAfter: Date) {
        self.id = id
        self.serverId = serverId
        self.objectPath = objectPath
        self.size = size
        self.deletedAt = deletedAt
        self.purgeAfter = purgeAfter
    }
}

/// `GET /v1/vaults/{vault}/deleted` (subscription admin), oldest deletion first.
public struct DeletedObjectList: Codable, Sendable, Hashable {
    public var objects: [DeletedObjectInfo]
    public init(objects: [DeletedObjectInfo]) { self.objects = objects }
}

/// `POST /v1/vaults/{vault}/undelete` (subscription admin). The object goes back to its path; if an object is there
/// now, it is moved to the trash first (so nothing is lost either way).
public struct UndeleteRequest: APIRequestBody, Hashable {
    public var id: UUID
    public init(id: UUID) { self.id = id }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case id }
}
