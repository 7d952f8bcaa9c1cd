import Foundation
import HaulFormat
import Testing
import X509

@testable import HaulIdentity

@Suite struct CertificateAuthorityTests {
    @Test func anIssuedCertificateChainsToTheCA() async throws {
        let world = try World()
        let certificate = world.certificate
        #expect(certificate.subjectCommonName == "server-a")
        #expect(certificate.issuerCommonName == "Haul test CA")
        #expect(certificate.notValidBefore == testNow.addingTimeInterval(-3_600))
        #expect(certificate.notValidAfter == testNow.addingTimeInterval(86_400 * 30))
        #expect(!certificate.isCertificateAuthority)
        #expect(world.authority.certificate.isCertificateAuthority)
        #expect(certificate.spkiPin == world.key.spkiPin)
        #expect(world.key.matches(certificate))
        #expect(try certificate.x509.extensions.extendedKeyUsage?.contains(.clientAuth) == true)

        try await world.authority.verify(certificate, at: testNow)
        // Through PEM, as the service stores and reloads it.
        try await world.authority.verify(try IdentityCertificate(pem: certificate.pem), at: testNow)
    }

    @Test func verificationUsesTheInjectedClock() async throws {
        let world = try World()
        for time in [testNow.addingTimeInterval(86_400 * 31), testNow.addingTimeInterval(-7_200)] {
            let error = try await #require(throws: HaulError.self) {
                try await world.authority.verify(world.certificate, at: time)
            }
            #expect(error.code == .authenticationFailed)
        }
    }

    @Test func aCertificateOfAnotherCAIsRefused() async throws {
        let world = try World()
        let other = try World()
        let error = try await #require(throws: HaulError.self) {
            try await world.authority.verify(other.certificate, at: testNow)
        }
        #expect(error.code == .authenticationFailed)
        // A self-signed certificate with the CA's name is not the CA either.
        let impostor = try CertificateAuthority.create(
            commonName: "Haul test CA", notValidBefore: testNow.addingTimeInterval(-60),
            notValidAfter: testNow.addingTimeInterval(3_600))
        await #expect(throws: HaulError.self) { try await world.authority.verify(impostor.certificate, at: testNow) }
    }

    @Test func issuingRefusesBadRequestsAndValidities() throws {
        let world = try World()
        let request = try CertificateRequest(key: IdentityKey(), commonName: "x")
        let ca = world.authority.certificate
        for (from, until) in [
            (testNow, testNow),
            (ca.notValidBefore.addingTimeInterval(-1), testNow),
            (testNow, ca.notValidAfter.addingTimeInterval(1)),
        ] {
            let error = try #require(throws: HaulError.self) {
                try world.authority.issueClientCertificate(
                    for: request, commonName: "x", notValidBefore: from, notValidAfter: until)
            }
            #expect(error.code == .invalidArgument)
        }
        var der = request.derBytes
        der[der.count - 1] ^= 0x01  // the signature's last byte
        let forged = try CertificateRequest(derEncoded: der)
        let error = try #require(throws: HaulError.self) {
            try world.authority.issueClientCertificate(
                for: forged, commonName: "x", notValidBefore: testNow, notValidAfter: testNow.addingTimeInterval(60))
        }
        #expect(error.code == .authenticationFailed)
    }

    @Test func fractionalTimesAreRoundedDownToWholeSeconds() async throws {
        let start = testNow.addingTimeInterval(0.6)
        let authority = try CertificateAuthority.create(
            commonName: "CA", notValidBefore: start, notValidAfter: start.addingTimeInterval(3_600))
        #expect(authority.certificate.notValidBefore == testNow)
        let issued = try authority.issueClientCertificate(
            for: try CertificateRequest(key: IdentityKey(), commonName: "c"), commonName: "c", notValidBefore: start,
            notValidAfter: start.addingTimeInterval(60))
        #expect(issued.notValidBefore == testNow)
        #expect(issued.notValidAfter == testNow.addingTimeInterval(60))
        try await authority.verify(issued, at: start)
    }

    @Test func reloadingChecksTheKeyAndCertificatePair() throws {
        let world = try World()
        let reloaded = try CertificateAuthority(
            key: try IdentityKey(pem: world.authority.key.pem),
            certificate: try IdentityCertificate(pem: world.authority.certificate.pem))
        #expect(reloaded.certificate == world.authority.certificate)
        #expect(throws: HaulError.self) {
            try CertificateAuthority(key: IdentityKey(), certificate: world.authority.certificate)
        }
        #expect(throws: HaulError.self) { try CertificateAuthority(key: world.key, certificate: world.certificate) }
    }

    @Test func selfSignedServerCertificateNamesItsHosts() throws {
        let server = try CertificateAuthority.makeSelfSignedServerCertificate(
            hostnames: ["localhost", "127.0.0.1", "::1", "haul.example"], notValidBefore: testNow,
            notValidAfter: testNow.addingTimeInterval(86_400 * 365))
        let certificate = server.certificate
        #expect(server.key.matches(certificate))
        #expect(certificate.subjectCommonName == "localhost")
        #expect(certificate.dnsNames == ["localhost", "haul.example"])
        #expect(certificate.ipAddresses == [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]])
        #expect(!certificate.isCertificateAuthority)
        #expect(try certificate.x509.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(certificate.x509.publicKey.isValidSignature(certificate.x509.signature, for: certificate.x509))
        #expect(throws: HaulError.self) {
            try CertificateAuthority.makeSelfSignedServerCertificate(
                hostnames: [], notValidBefore: testNow, notValidAfter: testNow.addingTimeInterval(1))
        }
        let reloaded = try ServerCredentials(
            key: try IdentityKey(pem: server.key.pem), certificate: try IdentityCertificate(pem: certificate.pem))
        #expect(reloaded.certificate.spkiPin == certificate.spkiPin)
        #expect(throws: HaulError.self) { try ServerCredentials(key: IdentityKey(), certificate: certificate) }
    }
}
