import Foundation
import HaulFormat
import HaulIdentity
import NIOSSL

extension HaulError.Code {
    /// The service presented a TLS key none of the pins names.
    public static let untrustedService = HaulError.Code(rawValue: "untrustedService")
}

/// The SPKI SHA-256 pins a client accepts for the service's TLS key (docs/service.md §1, docs/agent.md §3).
/// Several pins let the service rotate its certificate: any one must match.
public struct ServicePins: Sendable, Hashable, CustomStringConvertible {
    public let pins: Set<SPKIPin>

    /// - Throws: `invalidArgument` when `pins` is empty.
    public init(_ pins: [SPKIPin]) throws {
        guard !pins.isEmpty else { throw HaulError(.invalidArgument, "no SPKI pin of the service's key is given") }
        self.pins = Set(pins)
    }

    /// The pin of a certificate's public key, or `nil` when its key cannot be read.
    static func pin(of certificate: NIOSSLCertificate) -> SPKIPin? {
        guard let spki = try? certificate.extractPublicKey().toSPKIBytes() else { return nil }
        return SPKIPin(subjectPublicKeyInfoDER: spki)
    }

    /// Whether the certificate's public key is pinned.
    public func accepts(_ certificate: NIOSSLCertificate) -> Bool {
        Self.pin(of: certificate).map(pins.contains) ?? false
    }

    public var description: String { pins.map(\.base64).sorted().joined(separator: ", ") }
}
