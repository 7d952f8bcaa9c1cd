import Foundation
import HaulFormat
import Testing

@testable import HaulIdentity

@Suite struct CertificateRequestTests {
    @Test func pemAndDERRoundTrip() throws {
        let key = IdentityKey()
        let request = try CertificateRequest(key: key, commonName: "server-a")
        #expect(request.pem.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))

        let fromPEM = try CertificateRequest(pem: request.pem)
        let fromDER = try CertificateRequest(derEncoded: request.derBytes)
        #expect(fromPEM.derBytes == request.derBytes)
        #expect(fromDER == request)
        #expect(fromPEM.subjectCommonName == "server-a")
        #expect(fromPEM.spkiPin == key.spkiPin)
        try fromPEM.verifySignature()
    }

    @Test func aTamperedRequestFailsVerification() throws {
        let request = try CertificateRequest(key: IdentityKey(), commonName: "server-a")
        // The common name's last byte ("a" → "b"): still a well-formed request, signed over other bytes.
        var der = request.derBytes
        let name = Array("server-a".utf8)
        let start = try #require(
            (0...(der.count - name.count)).first { Array(der[$0..<$0 + name.count]) == name })
        der[start + name.count - 1] = UInt8(ascii: "b")
        let tampered = try CertificateRequest(derEncoded: der)
        #expect(tampered.subjectCommonName == "server-b")
        let error = try #require(throws: HaulError.self) { try tampered.verifySignature() }
        #expect(error.code == .authenticationFailed)
    }

    @Test func badInputIsRefused() throws {
        #expect(throws: HaulError.self) { try CertificateRequest(pem: try fixture("fixture-certificate.pem")) }
        #expect(throws: HaulError.self) { try CertificateRequest(derEncoded: [0x30, 0x00]) }
        #expect(throws: HaulError.self) { try CertificateRequest(key: IdentityKey(), commonName: "") }
        #expect(throws: HaulError.self) {
            try CertificateRequest(key: IdentityKey(), commonName: String(repeating: "x", count: 65))
        }
    }
}
