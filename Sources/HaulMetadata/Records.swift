import Foundation
import HaulFormat
import HaulProtocol

/// The roles a caller can hold: one definition, in `HaulProtocol`, shared by the API and the store.
public typealias Role = HaulProtocol.Role

/// A customer of the provider: everything else belongs to exactly one subscription.
public struct Subscription: Sendable, Hashable, Codable {
    public var id: UUID
    public var name: String
    public var created: Date
    public init(id: UUID, name: String, created: Date) {
        self.id = id
        self.name = name
        self.created = created
    }
}

/// A registered certificate: who a thumbprint is. `subscription` is `nil` only for operators.
public struct Identity: Sendable, Hashable, Codable {
    /// SHA-256 of the certificate's DER, 64 lowercase hex digits.
    public var thumbprint: String
    public var subscription: UUID?
    public var role: Role
    /// The vault (site), server (server), application (offlineApp), admin or operator id the identity acts for.
    public var subject: String
    public var certificatePEM: String
    public var notAfter: Date
    public var revoked: Bool
    public var created: Date
    public init(
        thumbprint: String, subscription: UUID?, role: Role, subject: String, certificatePEM: String, notAfter: Date,
        revoked: Bool = false, created: Date
    ) {
        self.thumbprint = thumbprint
        self.subscription = subscription
        self.role = role
        self.subject = subject
        self.certificatePEM = certificatePEM
        self.notAfter = notAfter
        self.revoked = revoked
        self.created = created
    }
}

public struct Vault: Sendable, Hashable, Codable {
    public var id: UUID
    public var subscription: UUID
    public var name: String
    /// Days a deleted object stays recoverable; never below 14 (docs/service.md §7).
    public var retentionDays: Int
    public var created: Date
    public init(id: UUID, subscription: UUID, name: String, retentionDays: Int = 14, created: Date) {
        self.id = id
        self.subscription = subscription
        self.name = name
        self.retentionDays = retentionDays
        self.created = created
    }
}

/// A machine registered with a vault; it owns one repository in the vault.
public struct Server: Sendable, Hashable, Codable {
    public var id: UUID
    public var vault: UUID
    public var name: String
    public var revoked: Bool
    public var created: Date
    public init(id: UUID, vault: UUID, name: String, revoked: Bool = false, created: Date) {
        self.id = id
        self.vault = vault
        self.name = name
        self.revoked = revoked
        self.created = created
    }
}

public struct StorageAccount: Sendable, Hashable, Codable {
    public var id: UUID
    public var subscription: UUID
    public var name: String
    public var created: Date
    public init(id: UUID, subscription: UUID, name: String, created: Date) {
        self.id = id
        self.subscription = subscription
        self.name = name
        self.created = created
    }
}

public struct Container: Sendable, Hashable, Codable {
    public var id: UUID
    public var storageAccount: UUID
    public var name: String
    public var created: Date
    public init(id: UUID, storageAccount: UUID, name: String, created: Date) {
        self.id = id
        self.storageAccount = storageAccount
        self.name = name
        self.created = created
    }
}

/// The "offline backup application" of a subscription, with the thumbprint of its uploaded certificate.
public struct Application: Sendable, Hashable, Codable {
    public var id: UUID
    public var subscription: UUID
    public var name: String
    public var certificateThumbprint: String?
    public var certificatePEM: String?
    public var created: Date
    public init(
        id: UUID, subscription: UUID, name: String, certificateThumbprint: String? = nil, certificatePEM: String? = nil,
        created: Date
    ) {
        self.id = id
        self.subscription = subscription
        self.name = name
        self.certificateThumbprint = certificateThumbprint
        self.certificatePEM = certificatePEM
        self.created = created
    }
}

/// A bearer token, stored only as the SHA-256 of its bytes.
public struct TokenRecord: Sendable, Hashable, Codable {
    /// SHA-256 of the token string, lowercase hex.
    public var hash: String
    public var thumbprint: String
    public var subscription: UUID?
    public var role: Role
    public var subject: String
    public var expires: Date
    public var revoked: Bool
    public init(
        hash: String, thumbprint: String, subscription: UUID?, role: Role, subject: String, expires: Date,
        revoked: Bool = false
    ) {
        self.hash = hash
        self.thumbprint = thumbprint
        self.subscription = subscription
        self.role = role
        self.subject = subject
        self.expires = expires
        self.revoked = revoked
    }
}

/// A repository lease held in the service (format.md §10): the lease JSON as the agent wrote it.
public struct LeaseRecord: Sendable, Hashable, Codable {
    public var server: UUID
    /// The lease object's name (64 lowercase hex digits).
    public var name: String
    public var body: [UInt8]
    public var expires: Date
    public init(server: UUID, name: String, body: [UInt8], expires: Date) {
        self.server = server
        self.name = name
        self.body = body
        self.expires = expires
    }
}

/// An object deleted or overwritten through the API, kept in the trash until `purgeAfter`.
public struct DeletedObject: Sendable, Hashable, Codable {
    public var id: UUID
    public var vault: UUID
    public var server: UUID
    /// The object's path inside its repository (format.md §1), e.g. `data/ab/ab…`.
    public var objectPath: String
    /// Where the bytes are kept in the service's blob store.
    public var trashPrefix: String
    public var size: Int64
    public var deletedAt: Date
    public var purgeAfter: Date
    public init(
        id: UUID, vault: UUID, server: UUID, objectPath: String, trashPrefix: String, size: Int64, deletedAt: Date,
        purgeAfter: Date
    ) {
        self.id = id
        self.vault = vault
        self.server = server
        self.objectPath = objectPath
        self.trashPrefix = trashPrefix
        self.size = size
        self.deletedAt = deletedAt
        self.purgeAfter = purgeAfter
    }
}

/// One line of the audit log. `sequence` is assigned by the store, increasing.
public struct AuditEvent: Sendable, Hashable, Codable {
    public var sequence: Int64
    public var time: Date
    public var subscription: UUID?
    /// `role:subject` of the caller, or `admin-cli` for `hauld admin`.
    public var actor: String
    public var action: String
    public var target: String
    public var detail: String
    public init(
        sequence: Int64 = 0, time: Date, subscription: UUID?, actor: String, action: String, target: String,
        detail: String = ""
    ) {
        self.sequence = sequence
        self.time = time
        self.subscription = subscription
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// A datacenter operator of the provider.
public struct Operator: Sendable, Hashable, Codable {
    public var id: UUID
    public var name: String
    public var created: Date
    public init(id: UUID, name: String, created: Date) {
        self.id = id
        self.name = name
        self.created = created
    }
}

/// Where customers ship drives.
public struct Datacenter: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
}
