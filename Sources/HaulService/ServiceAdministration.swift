import Foundation
import HaulFormat
import HaulIdentity
import HaulMetadata
import HaulProtocol

/// What `hauld admin` does, on the metadata store directly (beside running instances): subscriptions, admin and
/// operator credentials, the datacenter address. Every change is written to the audit log as `admin-cli`.
public struct ServiceAdministration: Sendable {
    public let metadata: any MetadataStore
    public let authority: CertificateAuthority
    public let now: @Sendable () -> Date

    /// How long an admin or operator certificate lives.
    public static let credentialLifetime: TimeInterval = 365 * 86_400

    public init(
        metadata: any MetadataStore, authority: CertificateAuthority, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.metadata = metadata
        self.authority = authority
        self.now = now
    }

    public func createSubscription(name: ResourceName) async throws -> Subscription {
        let subscription = Subscription(id: UUID(), name: name.rawValue, created: now())
        try await metadata.createSubscription(subscription)
        try await audit(subscription.id, "subscription.create", name.rawValue, subscription.id.lowercased)
        return subscription
    }

    public func subscriptions() async throws -> [Subscription] { try await metadata.subscriptions() }

    /// Makes a key here, has the CA certify it as a `subscriptionAdmin` of `subscription`, registers the identity
    /// and returns the credential (the caller writes it 0600).
    public func adminCredential(subscription: UUID, serviceURL: String, pins: [String]) async throws
        -> AdminCredential
    {
        guard try await metadata.subscription(id: subscription) != nil else {
            throw HaulError(
                .notFound, "no subscription \(subscription.lowercased); list them with hauld admin subscription list")
        }
        let adminID = UUID()
        let (key, certificate) = try issue(commonName: "admin \(adminID.lowercased)")
        try await metadata.createIdentity(
            Identity(
                thumbprint: certificate.thumbprint.hex, subscription: subscription, role: .subscriptionAdmin,
                subject: adminID.lowercased, certificatePEM: certificate.pem, notAfter: certificate.notValidAfter,
                created: now()))
        try await audit(subscription, "adminCredential.issue", adminID.lowercased, certificate.thumbprint.hex)
        return AdminCredential(
            serviceURL: serviceURL, pins: pins, subscription: subscription, certificatePEM: certificate.pem,
            privateKeyPEM: key.pem, caCertificatePEM: authority.certificate.pem)
    }

    /// Creates an operator and its credential.
    public func createOperator(name: ResourceName, serviceURL: String, pins: [String]) async throws
        -> OperatorCredential
    {
        let op = Operator(id: UUID(), name: name.rawValue, created: now())
        try await metadata.createOperator(op)
        let (key, certificate) = try issue(commonName: "operator \(op.id.lowercased)")
        try await metadata.createIdentity(
            Identity(
                thumbprint: certificate.thumbprint.hex, subscription: nil, role: .operator, subject: op.id.lowercased,
                certificatePEM: certificate.pem, notAfter: certificate.notValidAfter, created: now()))
        try await audit(nil, "operator.create", name.rawValue, op.id.lowercased)
        return OperatorCredential(
            serviceURL: serviceURL, pins: pins, operatorId: op.id, name: name.rawValue,
            certificatePEM: certificate.pem, privateKeyPEM: key.pem, caCertificatePEM: authority.certificate.pem)
    }

    public func setDatacenter(name: String, address: String) async throws {
        guard !name.isEmpty, !address.isEmpty else {
            throw HaulError(.invalidArgument, "the datacenter needs a name and an address")
        }
        try await metadata.setDatacenter(Datacenter(name: name, address: address))
        try await audit(nil, "datacenter.set", name, address)
    }

    private func issue(commonName: String) throws -> (IdentityKey, IdentityCertificate) {
        let key = IdentityKey()
        let request = try CertificateRequest(key: key, commonName: commonName)
        let time = now()
        let certificate = try authority.issueClientCertificate(
            for: request, commonName: commonName,
            notValidBefore: max(time.addingTimeInterval(-300), authority.certificate.notValidBefore),
            notValidAfter: min(time.addingTimeInterval(Self.credentialLifetime), authority.certificate.notValidAfter))
        return (key, certificate)
    }

    private func audit(_ subscription: UUID?, _ action: String, _ target: String, _ detail: String) async throws {
        try await metadata.appendAudit(
            AuditEvent(
                time: now(), subscription: subscription, actor: "admin-cli", action: action, target: target,
                detail: detail))
    }
}
