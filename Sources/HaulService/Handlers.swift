import Crypto
import Foundation
import HaulFormat
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Hummingbird

/// The route handlers and what they share. One value per router; every field is immutable and `Sendable`.
struct Handlers: Sendable {
    let configuration: ServiceConfiguration
    let metadata: any MetadataStore
    let blobs: BlobBackend
    let authority: CertificateAuthority
    let dependencies: ServiceApplication.Dependencies
    let now: @Sendable () -> Date

    init(_ dependencies: ServiceApplication.Dependencies) {
        self.dependencies = dependencies
        configuration = dependencies.configuration
        metadata = dependencies.metadata
        blobs = dependencies.blobs
        authority = dependencies.authority
        now = dependencies.now
    }

    // MARK: Bodies

    /// Reads at most `limit` bytes of body; a longer body (by `Content-Length` or as it streams) is `413`.
    func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(.bodyTooLarge, "the request body has \(length) bytes; at most \(limit) are accepted")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.bodyTooLarge, "the request body is longer than \(limit) bytes")
        }
    }

    /// Decodes a JSON request body strictly (`StrictJSONDecoder`).
    func decode<T: APIRequestBody>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await body(request, limit: configuration.maximumJSONSize)
        return try StrictJSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// A JSON response.
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try HaulJSON.encoder().encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Names and parameters

    /// A path parameter that must be a `ResourceName` (else `400 invalidName`).
    func name(_ context: ServiceRequestContext, _ parameter: String) throws -> ResourceName {
        let raw = context.parameters.get(parameter) ?? ""
        do {
            return try ResourceName(raw)
        } catch {
            throw APIError(
                .invalidName,
                "\"\(raw.prefix(80))\" is not a valid \(parameter) name: use 1 to 63 lowercase letters, digits and "
                    + "'-', starting with a letter or digit")
        }
    }

    // MARK: Authorization

    /// The caller, if its role is one of `roles`; `403 forbidden` otherwise.
    func require(_ context: ServiceRequestContext, _ roles: Role...) throws -> Caller {
        let caller = try context.requireCaller()
        guard roles.contains(caller.role) else {
            throw APIError(.forbidden, "the role \(caller.role.rawValue) may not do this")
        }
        return caller
    }

    /// The caller's subscription (every customer role has one; operators do not and get `403`).
    func subscription(of caller: Caller) throws -> UUID {
        guard let subscription = caller.subscription else {
            throw APIError(.forbidden, "this route belongs to a subscription; the caller has none")
        }
        return subscription
    }

    /// The vault `name` of the caller's subscription. A site sees only the vault it is bound to; every other vault,
    /// and every vault of another subscription, is `404 notFound`.
    func vault(_ name: ResourceName, for caller: Caller) async throws -> Vault {
        let subscription = try subscription(of: caller)
        guard let vault = try await metadata.vault(subscription: subscription, name: name.rawValue),
            caller.role != .site || caller.subject == vault.id.uuidString.lowercased()
        else {
            throw APIError(.notFound, "no vault \"\(name)\"")
        }
        return vault
    }

    // MARK: Audit

    /// Appends an audit event for an administrative or destructive action.
    func audit(_ caller: Caller, _ action: String, _ target: String, _ detail: String = "") async throws {
        try await metadata.appendAudit(
            AuditEvent(
                time: now(), subscription: caller.subscription, actor: caller.actor, action: action, target: target,
                detail: detail))
    }

    // MARK: Certificates

    /// Issues a client certificate for a CSR, valid from now (less a little skew) until `notAfter`, capped at the
    /// CA's own expiry.
    func issue(csrPEM: String, commonName: String, notAfter: Date) throws -> IdentityCertificate {
        let request: CertificateRequest
        do {
            request = try CertificateRequest(pem: csrPEM)
        } catch {
            throw APIError(.invalidCertificate, "csrPEM is not a PEM certificate signing request")
        }
        let start = max(now().addingTimeInterval(-300), authority.certificate.notValidBefore)
        let end = min(notAfter, authority.certificate.notValidAfter)
        do {
            return try authority.issueClientCertificate(
                for: request, commonName: commonName, notValidBefore: start, notValidAfter: end)
        } catch let error as HaulError {
            throw APIError(.invalidCertificate, "the certificate signing request was refused: \(error.message)")
        }
    }

    /// Registers `certificate` as an identity of `role` acting for `subject`.
    func register(
        _ certificate: IdentityCertificate, subscription: UUID, role: Role, subject: String
    ) async throws {
        try await metadata.createIdentity(
            Identity(
                thumbprint: certificate.thumbprint.hex, subscription: subscription, role: role, subject: subject,
                certificatePEM: certificate.pem, notAfter: certificate.notValidAfter, created: now()))
    }

    static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String { hex(SHA256.hash(data: Array(bytes))) }

    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}

extension UUID {
    /// The lowercase form the service uses in subjects, prefixes and paths.
    var lowercased: String { uuidString.lowercased() }
}
