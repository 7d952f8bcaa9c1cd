import Foundation
import Glibc
import HaulFormat
internal import SwiftASN1
internal import X509

extension CertificateAuthority {
    /// Makes a fresh P-256 key and a self-signed TLS server certificate for it.
    ///
    /// Each entry of `hostnames` that parses as an IPv4 or IPv6 address (`inet_pton`) becomes an IP address
    /// subject alternative name, every other entry a DNS name; the subject is `CN=<first hostname>`. Extensions:
    /// basic constraints `CA:FALSE` and key usage `digitalSignature` (critical), extended key usage `serverAuth`,
    /// subject key identifier. This certificate is independent of the client-issuing CA.
    ///
    /// - Throws: `HaulError` `invalidArgument` when `hostnames` is empty, an entry is empty, or the validity
    ///   period is empty.
    public static func makeSelfSignedServerCertificate(
        hostnames: [String] = ["localhost", "127.0.0.1"],
        notValidBefore: Date,
        notValidAfter: Date
    ) throws -> ServerCredentials {
        guard let first = hostnames.first else {
            throw HaulError(.invalidArgument, "a server certificate needs at least one host name")
        }
        var names: [GeneralName] = []
        for hostname in hostnames {
            guard !hostname.isEmpty, hostname.utf8.count <= 253 else {
                throw HaulError(.invalidArgument, "\"\(hostname.prefix(80))\" is not a host name")
            }
            if let address = ipAddressBytes(hostname) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: address[...])))
            } else {
                names.append(.dnsName(hostname))
            }
        }
        let (key, x509) = try selfSigned(
            commonName: String(first.prefix(64)), notValidBefore: notValidBefore, notValidAfter: notValidAfter
        ) { publicKey in
            try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: publicKey)
            }
        }
        return try ServerCredentials(key: key, certificate: try IdentityCertificate(x509: x509))
    }

    /// The 4 or 16 bytes of a textual IPv4 or IPv6 address, or `nil` when `text` is not one.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
