import Foundation
import Glibc
import HaulFormat
import Testing

@testable import HaulIdentity

@Suite struct IdentityKeyTests {
    @Test func saveWritesMode0600AndLoadRoundTrips() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/identity.pem"
        let key = IdentityKey()
        try key.save(to: path)

        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try IdentityKey.load(from: path).spkiPin == key.spkiPin)
        // Only the key file is left: the temporary file was renamed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["identity.pem"])
    }

    @Test func saveReplacesAnExistingFileAtomically() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/identity.pem"
        try IdentityKey().save(to: path)
        let second = IdentityKey()
        try second.save(to: path)
        #expect(try IdentityKey.load(from: path).spkiPin == second.spkiPin)
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o601, 0o700 | 0o010])
    func loadRefusesAKeyFileOthersMayAccess(mode: Int) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/identity.pem"
        try IdentityKey().save(to: path)
        #expect(chmod(path, mode_t(mode)) == 0)

        let error = try #require(throws: HaulError.self) { try IdentityKey.load(from: path) }
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains(path))
        #expect(error.message.contains("chmod 600 \(path)"))
        #expect(error.message.contains(String(mode, radix: 8)))
    }

    @Test func loadAcceptsOwnerOnlyModes() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/identity.pem"
        let key = IdentityKey()
        try key.save(to: path)
        #expect(chmod(path, 0o400) == 0)
        #expect(try IdentityKey.load(from: path).spkiPin == key.spkiPin)
    }

    @Test func loadOfAMissingFileIsNotFound() throws {
        let error = try #require(throws: HaulError.self) {
            try IdentityKey.load(from: "/nonexistent-haul-dir/identity.pem")
        }
        #expect(error.code == .notFound)
        #expect(error.message.contains("/nonexistent-haul-dir/identity.pem"))
    }

    @Test func loadRefusesAFileThatIsNotAKey() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/identity.pem"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("not a key\n".utf8)))
        #expect(chmod(path, 0o600) == 0)
        let error = try #require(throws: HaulError.self) { try IdentityKey.load(from: path) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(path))
    }

    @Test func pemRoundTripsAndReadsOpenSSLKeys() throws {
        let key = IdentityKey()
        #expect(try IdentityKey(pem: key.pem).spkiPin == key.spkiPin)

        let openssl = try IdentityKey(pem: try fixture("fixture-key.pem"))
        let certificate = try IdentityCertificate(pem: try fixture("fixture-certificate.pem"))
        #expect(openssl.matches(certificate))
        #expect(!key.matches(certificate))
        #expect(throws: HaulError.self) { try IdentityKey(pem: try fixture("fixture-certificate.pem")) }
    }
}
