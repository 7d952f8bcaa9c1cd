import Foundation
import HaulFormat
import Testing

@testable import HaulIdentity

struct KnownAnswers: Codable {
    var description: String
    var commonName: String
    var thumbprintHex: String
    var spkiPinBase64: String
    var spkiPinHex: String
}

@Suite struct ThumbprintTests {
    let answers: KnownAnswers
    let certificate: IdentityCertificate

    init() throws {
        answers = try JSONDecoder().decode(KnownAnswers.self, from: Data(try fixture("known-answers.json").utf8))
        certificate = try IdentityCertificate(pem: try fixture("fixture-certificate.pem"))
    }

    @Test func thumbprintMatchesOpenSSL() throws {
        #expect(certificate.thumbprint.hex == answers.thumbprintHex)
        #expect(try Thumbprint(hex: answers.thumbprintHex) == certificate.thumbprint)
        #expect(Thumbprint(certificateDER: certificate.derBytes) == certificate.thumbprint)
        #expect(certificate.subjectCommonName == answers.commonName)
    }

    @Test func spkiPinMatchesOpenSSL() throws {
        #expect(certificate.spkiPin.base64 == answers.spkiPinBase64)
        #expect(certificate.spkiPin.hex == answers.spkiPinHex)
        #expect(try SPKIPin(base64: answers.spkiPinBase64) == certificate.spkiPin)
        #expect(try SPKIPin(certificateDER: certificate.derBytes) == certificate.spkiPin)
        #expect(SPKIPin(certificate: certificate) == certificate.spkiPin)
        #expect(try IdentityKey(pem: try fixture("fixture-key.pem")).spkiPin.base64 == answers.spkiPinBase64)
    }

    @Test func pemAndDERRoundTripKeepTheThumbprint() throws {
        let fromPEM = try IdentityCertificate(pem: certificate.pem)
        let fromDER = try IdentityCertificate(derEncoded: certificate.derBytes)
        #expect(fromPEM == certificate)
        #expect(fromDER.thumbprint.hex == answers.thumbprintHex)
    }

    @Test func base64URLFormIsTheJOSEForm() throws {
        let text = certificate.thumbprint.base64URL
        #expect(text.count == 43)
        #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
        #expect(try Thumbprint(base64URL: text) == certificate.thumbprint)
    }

    @Test(arguments: [
        "", "abc", String(repeating: "a", count: 63), String(repeating: "a", count: 65),
        String(repeating: "A", count: 64), String(repeating: "g", count: 64),
        "b6:a6:f7:2f:4f:0a:81:7a:c1:d8:d7:83:49:5c:e5:97:65:f0:b9:47:b2:47:71:22:45:ed:80:8e:16:3e:c2:ef",
    ])
    func hexRefusesBadInput(text: String) throws {
        let error = try #require(throws: HaulError.self) { try Thumbprint(hex: text) }
        #expect(error.code == .invalidArgument)
    }

    @Test func pinRefusesBadInput() throws {
        #expect(throws: HaulError.self) { try SPKIPin(base64: "") }
        #expect(throws: HaulError.self) { try SPKIPin(base64: answers.spkiPinHex) }
        #expect(throws: HaulError.self) { try SPKIPin(base64: String(answers.spkiPinBase64.dropLast())) }
        #expect(throws: HaulError.self) { try Thumbprint(base64URL: answers.spkiPinBase64) }
        #expect(throws: HaulError.self) { try Thumbprint(bytes: [1, 2, 3]) }
    }

    @Test func codableUsesTheTextForms() throws {
        struct Row: Codable, Equatable {
            var thumbprint: Thumbprint
            var pin: SPKIPin
        }
        let row = Row(thumbprint: certificate.thumbprint, pin: certificate.spkiPin)
        let json = String(decoding: try JSONEncoder().encode(row), as: UTF8.self)
        #expect(json.contains("\"\(answers.thumbprintHex)\""))
        #expect(json.contains(answers.spkiPinBase64.replacingOccurrences(of: "/", with: "\\/")))
        #expect(try JSONDecoder().decode(Row.self, from: Data(json.utf8)) == row)
    }

    @Test func notACertificateIsRefused() {
        #expect(throws: HaulError.self) { try IdentityCertificate(derEncoded: [0x30, 0x03, 0x02, 0x01, 0x00]) }
        #expect(throws: HaulError.self) { try IdentityCertificate(pem: "hello") }
        #expect(throws: HaulError.self) { try SPKIPin(certificateDER: [1, 2, 3]) }
    }
}
