import Foundation
import HaulAgent
import HaulFormat
import HaulIdentity
import HaulProtocol
import Testing

@Suite struct PublishSettingsTests {
    static let sample = PublishSettings(
        serviceURL: "https://127.0.0.1:8443",
        pins: [
            SPKIPin(subjectPublicKeyInfoDER: [1, 2, 3]), SPKIPin(subjectPublicKeyInfoDER: [4, 5, 6]),
        ],
        subscription: UUID(uuidString: "5E7B3C2A-0000-4000-8000-000000000001")!, vault: try! ResourceName("office"),
        expires: Date(timeIntervalSince1970: 2_000_000_000),
        certificatePEM: "-----BEGIN CERTIFICATE-----\nMIIB<&>\"\n-----END CERTIFICATE-----\n",
        privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n")

    @Test func roundTrip() throws {
        let parsed = try PublishSettings.parse(Self.sample.xml())
        #expect(parsed == Self.sample)
    }

    @Test func roundTripThroughAFileWithMode0600() throws {
        let dir = try TemporaryTestDirectory()
        let path = dir.path + "/office.publishsettings"
        try Self.sample.write(to: path)
        #expect(try FileMode.of(path) == 0o600)
        let read = try PublishSettings.read(from: path, now: Date(timeIntervalSince1970: 1_900_000_000))
        #expect(read == Self.sample)
        #expect(throws: HaulError.self) { try Self.sample.write(to: path) }  // never replaced silently
    }

    @Test(arguments: [
        "<!DOCTYPE PublishSettings [<!ENTITY x \"y\">]>",
        "<!doctype PublishSettings SYSTEM \"file:///etc/passwd\">",
        "<!ENTITY lol \"lol\">",
    ])
    func refusesDocumentTypeAndEntityDeclarations(_ declaration: String) throws {
        var text = String(decoding: Self.sample.xml(), as: UTF8.self)
        text = text.replacingOccurrences(
            of: "<PublishSettings", with: declaration + "\n<PublishSettings", options: [], range: nil)
        let error = #expect(throws: HaulError.self) { try PublishSettings.parse(Array(text.utf8)) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("declaration") == true)
    }

    @Test func refusesAnEntityReference() throws {
        var text = String(decoding: Self.sample.xml(), as: UTF8.self)
        text = text.replacingOccurrences(of: "<Vault>office</Vault>", with: "<Vault>&xxe;</Vault>")
        #expect(throws: HaulError.self) { try PublishSettings.parse(Array(text.utf8)) }
    }

    @Test func refusesOversizedFilesUnread() throws {
        var bytes = Self.sample.xml()
        bytes.removeLast("</PublishSettings>\n".utf8.count)
        bytes += Array("<!-- ".utf8) + [UInt8](repeating: 0x61, count: PublishSettings.maximumSize) + Array(" -->".utf8)
        bytes += Array("</PublishSettings>\n".utf8)
        let error = #expect(throws: HaulError.self) { try PublishSettings.parse(bytes) }
        #expect(error?.message.contains("64 KiB") == true)

        let dir = try TemporaryTestDirectory()
        let path = dir.path + "/big.xml"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        let fromFile = #expect(throws: HaulError.self) { try PublishSettings.read(from: path) }
        #expect(fromFile?.message.contains("64 KiB") == true, "\(String(describing: fromFile))")
    }

    /// The file holds the site's private key: one that group or others may read is refused with the fix.
    @Test func refusesSettingsOthersMayRead() throws {
        let dir = try TemporaryTestDirectory()
        let path = dir.path + "/office.publishsettings"
        try Self.sample.write(to: path)
        #expect(chmod(path, 0o644) == 0)
        let error = #expect(throws: HaulError.self) {
            try PublishSettings.read(from: path, now: Date(timeIntervalSince1970: 1_900_000_000))
        }
        #expect(error?.code == .insecurePermissions)
        #expect(error?.message.contains("chmod 600 \(path)") == true)
        #expect(chmod(path, 0o600) == 0)
        #expect(try PublishSettings.read(from: path, now: Date(timeIntervalSince1970: 1_900_000_000)) == Self.sample)
    }

    @Test func refusesExpiredSettingsWithWhatToDo() throws {
        let dir = try TemporaryTestDirectory()
        let path = dir.path + "/old.publishsettings"
        try Self.sample.write(to: path)
        let error = #expect(throws: HaulError.self) {
            try PublishSettings.read(from: path, now: Date(timeIntervalSince1970: 2_000_000_001))
        }
        #expect(error?.code == .settingsExpired)
        #expect(error?.message.contains("ask your administrator for new publish settings") == true)
        #expect(error?.message.contains("haul cloud publish-settings --vault office") == true)
    }

    @Test(arguments: [
        ("<Vault>office</Vault>", "<Vault>Office!</Vault>"),
        ("<Vault>office</Vault>", ""),
        ("<Vault>office</Vault>", "<Vault>office</Vault><Vault>other</Vault>"),
        ("<Vault>office</Vault>", "<Vault>office</Vault><Extra/>"),
        ("<Vault>office</Vault>", "<Vault><b>office</b></Vault>"),
        ("version=\"1\"", "version=\"2\""),
        ("<Subscription>", "<Subscription>x"),
        ("</PublishSettings>", ""),
    ])
    func refusesMalformedSettings(_ replacement: (String, String)) throws {
        let text = String(decoding: Self.sample.xml(), as: UTF8.self)
            .replacingOccurrences(of: replacement.0, with: replacement.1)
        #expect(throws: HaulError.self) { try PublishSettings.parse(Array(text.utf8)) }
    }

    @Test func refusesSettingsWithoutPins() throws {
        var settings = Self.sample
        settings.pins = []
        #expect(throws: HaulError.self) { try PublishSettings.parse(settings.xml()) }
    }
}
