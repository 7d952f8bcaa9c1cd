import Foundation

/// `POST /v1/applications` (subscription admin): the offline backup application, optionally with its certificate.
public struct ApplicationCreateRequest: APIRequestBody, Hashable {
    public var name: ResourceName
    /// The application's self-signed certificate, PEM (CertGen); may be uploaded later instead.
    public var certificatePEM: String?
    public init(name: ResourceName, certificatePEM: String? = nil) {
        self.name = name
        self.certificatePEM = certificatePEM
    }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case name, certificatePEM }
}

/// `PUT /v1/applications/{application}/certificate` (subscription admin): the manual path of CertGen. Replaces the
/// certificate; the previous one's identity is revoked.
public struct ApplicationCertificateUpload: APIRequestBody, Hashable {
    public var certificatePEM: String
    public init(certificatePEM: String) { self.certificatePEM = certificatePEM }
    public typealias Field = CodingKeys
    public enum CodingKeys: String, CodingKey, CaseIterable { case certificatePEM }
}

public struct ApplicationInfo: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: ResourceName
    /// SHA-256 of the certificate's DER, hex, once a certificate is uploaded.
    public var certificateThumbprint: String?
    public var created: Date
    public init(id: UUID, name: ResourceName, certificateThumbprint: String?, created: Date) {
        self.id = id
        self.name = name
        self.certificateThumbprint = certificateThumbprint
        self.created = created
    }
}

public struct ApplicationList: Codable, Sendable, Hashable {
    public var applications: [ApplicationInfo]
    public init(applications: [ApplicationInfo]) { self.applications = applications }
}
