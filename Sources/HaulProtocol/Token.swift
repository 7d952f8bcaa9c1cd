import Foundation

/// `POST /v1/token`: a signed assertion (docs/identity.md) for a bearer token.
public struct TokenRequest: APIRequestBody, Hashable {
    /// The compact JWS (ES256, `x5t#S256` header, `aud` = `<service URL>/v1/token`).
    public var assertion: String
    public init(assertion: String) { self.assertion = assertion }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case assertion }
}

/// The bearer token: 32 random bytes, base64url, valid until `expiresAt` (15 minutes).
public struct TokenResponse: Codable, Sendable, Hashable {
    public var token: String
    public var expiresAt: Date
    public var subscription: UUID?
    public var role: Role
    public var subject: String
    public init(token: String, expiresAt: Date, subscription: UUID?, role: Role, subject: String) {
        self.token = token
        self.expiresAt = expiresAt
        self.subscription = subscription
        self.role = role
        self.subject = subject
    }
}

/// `GET /v1/me`: what the bearer token stands for.
public struct CallerInfo: Codable, Sendable, Hashable {
    public var subscription: UUID?
    public var role: Role
    /// The vault id (site), server id (server), application id (offlineApp), admin or operator id.
    public var subject: String
    public var expiresAt: Date
    public init(subscription: UUID?, role: Role, subject: String, expiresAt: Date) {
        self.subscription = subscription
        self.role = role
        self.subject = subject
        self.expiresAt = expiresAt
    }
}

/// `GET /v1/datacenter`: where drives are shipped.
public struct DatacenterInfo: Codable, Sendable, Hashable {
    public var name: String
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
}

/// `GET /healthz`.
public struct HealthResponse: Codable, Sendable, Hashable {
    public var status: String
    public init(status: String = "ok") { self.status = status }
}
