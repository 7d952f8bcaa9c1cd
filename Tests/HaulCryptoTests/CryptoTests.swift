import CryptoExtras
import Foundation
import HaulFormat
import Testing

@testable import HaulCrypto

func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func unhex(_ s: String) -> [UInt8] {
    let u = Array(s.utf8)
    return stride(from: 0, to: u.count, by: 2).map {
        UInt8(String(decoding: u[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// Fixed inputs of the known-answer vectors (documented in the fixture).
enum Vectors {
    /// Master key set bytes: byte i = i (0…127).
    static let keyBytes = (0..<128).map { UInt8($0) }
    static let keys = try! MasterKeys(decoding: keyBytes)
    /// Pack salt: 32 × 0x11. Object salt: 32 × 0x22.
    static let packSalt = [UInt8](repeating: 0x11, count: 32)
    static let objectSalt = [UInt8](repeating: 0x22, count: 32)
    static let hello = Array("hello".utf8)
    static let blobIndex: UInt64 = 7
    static let configPlaintext = Array(#"{"version":1}"#.utf8)
    static let passphrase = Array("correct horse battery staple".utf8)
}

struct CryptoFixture: Codable {
    var description: String
    var masterKeys: String
    var blobIDOfHello: String
    var gearFirst: [String]
    var packSalt: String
    var packBlobIndex: UInt64
    var packBlobType: UInt8
    var packBlobSealed: String
    var packHeaderPlaintext: String
    var packHeaderSealed: String
    var objectSalt: String
    var sealedConfig: String
    var passphrase: String
    var keyFile: String
}

func blobIDOfHello() -> BlobID { Vectors.hello.withUnsafeBytes { Vectors.keys.blobID(of: $0) } }

func makeFixture() throws -> CryptoFixture {
    let keys = Vectors.keys
    let id = blobIDOfHello()
    let sealer = PackSealer(keys: keys, salt: Vectors.packSalt)
    let sealed = try Vectors.hello.withUnsafeBytes {
        try sealer.sealBlob(index: Vectors.blobIndex, type: .data, id: id, plaintext: $0)
    }
    let header = PackHeader(entries: [
        PackEntry(id: id, type: .data, compression: .raw, offset: 44, storedLength: UInt32(sealed.count), rawLength: 5)
    ]).encoded()
    let preamble = PackLayout.preamble(type: .data, salt: Vectors.packSalt)
    let config = try ObjectSealer.seal(
        kind: .config, plaintext: Vectors.configPlaintext, compression: .raw, keys: keys, salt: Vectors.objectSalt)
    let keyFile = try KeyFile.create(
        wrapping: keys, passphrase: Vectors.passphrase, parameters: .test, hostname: "backup01", username: "root",
        now: Date(timeIntervalSince1970: 1_795_600_000))
    return CryptoFixture(
        description:
            "masterKeys byte i = i; blob id = HMAC-SHA256(idKey, \"hello\"); pack blob = \"hello\" sealed as data blob 7 of a pack with salt packSalt; header has one entry for it; sealedConfig = format.md §5 config object with objectSalt and plaintext {\"version\":1}; keyFile wraps masterKeys under passphrase with n=1024 r=8 p=1",
        masterKeys: hex(Vectors.keyBytes), blobIDOfHello: id.hex, gearFirst: keys.gearValues().prefix(4).map(hex64),
        packSalt: hex(Vectors.packSalt), packBlobIndex: Vectors.blobIndex, packBlobType: 0, packBlobSealed: hex(sealed),
        packHeaderPlaintext: hex(header), packHeaderSealed: hex(try sealer.sealHeader(header, preamble: preamble)),
        objectSalt: hex(Vectors.objectSalt), sealedConfig: hex(config),
        passphrase: String(decoding: Vectors.passphrase, as: UTF8.self),
        keyFile: String(decoding: try keyFile.encoded(), as: UTF8.self))
}

func loadFixture() throws -> CryptoFixture {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/crypto-vectors", withExtension: "json"))
    return try JSONDecoder().decode(CryptoFixture.self, from: Data(contentsOf: url))
}

func isAuthFailure(_ error: any Error) -> Bool { error.haulCode == .authenticationFailed }

@Suite struct KnownAnswerTests {
    /// Writes the fixture into the source tree. Run once: `HAUL_REGENERATE_FIXTURES=1 swift test --filter regenerate`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HAUL_REGENERATE_FIXTURES"] == "1"))
    func regenerateFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/crypto-vectors.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(try makeFixture()).write(to: url)
    }

    @Test func idsGearAndSealing() throws {
        let f = try loadFixture()
        #expect(f.masterKeys == hex(Vectors.keyBytes))
        #expect(blobIDOfHello().hex == f.blobIDOfHello)
        #expect(Vectors.keys.gearValues().prefix(4).map(hex64) == f.gearFirst)
        let sealer = PackSealer(keys: Vectors.keys, salt: unhex(f.packSalt))
        let id = try #require(BlobID(hex: f.blobIDOfHello))
        let sealed = try Vectors.hello.withUnsafeBytes {
            try sealer.sealBlob(index: f.packBlobIndex, type: .data, id: id, plaintext: $0)
        }
        #expect(hex(sealed) == f.packBlobSealed)
        let preamble = PackLayout.preamble(type: .data, salt: unhex(f.packSalt))
        #expect(hex(try sealer.sealHeader(unhex(f.packHeaderPlaintext), preamble: preamble)) == f.packHeaderSealed)
        #expect(try sealer.openHeader(unhex(f.packHeaderSealed), preamble: preamble) == unhex(f.packHeaderPlaintext))
        let config = try ObjectSealer.seal(
            kind: .config, plaintext: Vectors.configPlaintext, compression: .raw, keys: Vectors.keys,
            salt: unhex(f.objectSalt))
        #expect(hex(config) == f.sealedConfig)
    }

    @Test func storedObjectsOpen() throws {
        let f = try loadFixture()
        let (compression, plaintext) = try ObjectSealer.open(
            unhex(f.sealedConfig), kind: .config, keys: Vectors.keys, what: "config")
        #expect(compression == .raw)
        #expect(plaintext == Vectors.configPlaintext)
        let keyFile = try KeyFile(decoding: Array(f.keyFile.utf8))
        #expect(try keyFile.unwrap(passphrase: Array(f.passphrase.utf8)).encoded() == Vectors.keyBytes)
    }

    @Test func sha256() {
        let abc = Array("abc".utf8)
        #expect(
            abc.withUnsafeBytes { Hashing.sha256($0) }.hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct MasterKeyTests {
    @Test func encodingRoundTrips() throws {
        let keys = MasterKeys.generate()
        let bytes = keys.encoded()
        #expect(bytes.count == 128)
        #expect(Array(bytes[0..<32]) == keys.repositoryID.bytes)
        #expect(try MasterKeys(decoding: bytes).encoded() == bytes)
        #expect(MasterKeys.generate().encoded() != bytes)
        #expect { try MasterKeys(decoding: Array(bytes.prefix(127))) } throws: { $0.haulCode == .corrupted }
    }

    @Test func gearValuesAreKeyed() {
        let a = Vectors.keys.gearValues()
        #expect(a.count == 256)
        #expect(Set(a).count == 256)
        #expect(MasterKeys.generate().gearValues() != a)
    }

    @Test func blobIDsAreKeyed() {
        let other = MasterKeys.generate()
        let a = blobIDOfHello()
        let b = Vectors.hello.withUnsafeBytes { other.blobID(of: $0) }
        #expect(a != b)
        #expect(a != BlobID(Vectors.hello.withUnsafeBytes { Hashing.sha256($0) }))
    }
}

@Suite struct PackSealerTests {
    let keys = MasterKeys.generate()

    func sample(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test(arguments: [0, 1, 5, 4096, 1 << 20])
    func blobRoundTrip(size: Int) throws {
        let sealer = PackSealer(keys: keys, salt: PackSealer.newSalt())
        let plain = sample(size)
        let id = plain.withUnsafeBytes { keys.blobID(of: $0) }
        let sealed = try plain.withUnsafeBytes { try sealer.sealBlob(index: 3, type: .tree, id: id, plaintext: $0) }
        #expect(sealed.count == size + 16)
        // The streaming variant hands over the same bytes, ciphertext then tag.
        var pieces: [[UInt8]] = []
        let length = try plain.withUnsafeBytes {
            try sealer.sealBlob(index: 3, type: .tree, id: id, plaintext: $0) { pieces.append(Array($0)) }
        }
        #expect(length == sealed.count && pieces.count == 2 && pieces[1].count == 16)
        #expect(pieces.joined().elementsEqual(sealed))
        let opened = try sealed.withUnsafeBytes { try sealer.openBlob(index: 3, type: .tree, id: id, sealed: $0) }
        #expect(opened == plain)
        // Another pack (new salt) holds the same blob under another key.
        let other = PackSealer(keys: keys, salt: PackSealer.newSalt())
        #expect(
            try plain.withUnsafeBytes { try other.sealBlob(index: 3, type: .tree, id: id, plaintext: $0) } != sealed)
    }

    @Test func tamperingIsDetected() throws {
        let salt = PackSealer.newSalt()
        let sealer = PackSealer(keys: keys, salt: salt)
        let plain = sample(1000)
        let id = plain.withUnsafeBytes { keys.blobID(of: $0) }
        let sealed = try plain.withUnsafeBytes { try sealer.sealBlob(index: 9, type: .data, id: id, plaintext: $0) }
        func open(
            _ bytes: [UInt8], index: UInt64 = 9, type: BlobType = .data, id: BlobID = id, with s: PackSealer? = nil
        )
            throws -> [UInt8]
        {
            try bytes.withUnsafeBytes { try (s ?? sealer).openBlob(index: index, type: type, id: id, sealed: $0) }
        }
        #expect(try open(sealed) == plain)
        var flippedCiphertext = sealed
        flippedCiphertext[500] ^= 0x01
        #expect(throws: HaulError.self) { try open(flippedCiphertext) }
        #expect { try open(flippedCiphertext) } throws: { isAuthFailure($0) }
        var flippedTag = sealed
        flippedTag[sealed.count - 1] ^= 0x80
        #expect { try open(flippedTag) } throws: { isAuthFailure($0) }
        var otherID = id
        otherID.digest.w3 ^= 1
        #expect { try open(sealed, id: otherID) } throws: { isAuthFailure($0) }
        #expect { try open(sealed, type: .tree) } throws: { isAuthFailure($0) }
        #expect { try open(sealed, index: 8) } throws: { isAuthFailure($0) }
        #expect { try open(sealed, with: PackSealer(keys: keys, salt: PackSealer.newSalt())) } throws: {
            isAuthFailure($0)
        }
        #expect { try open(sealed, with: PackSealer(keys: MasterKeys.generate(), salt: salt)) } throws: {
            isAuthFailure($0)
        }
        #expect { try open(Array(sealed.prefix(15))) } throws: { isAuthFailure($0) }
        #expect { try open(Array(sealed.dropLast())) } throws: { isAuthFailure($0) }
    }

    @Test func headerSealing() throws {
        let salt = PackSealer.newSalt()
        let sealer = PackSealer(keys: keys, salt: salt)
        let preamble = PackLayout.preamble(type: .data, salt: salt)
        let header = PackHeader(entries: []).encoded()
        let sealed = try sealer.sealHeader(header, preamble: preamble)
        #expect(try sealer.openHeader(sealed, preamble: preamble) == header)
        let treePreamble = PackLayout.preamble(type: .tree, salt: salt)
        #expect { try sealer.openHeader(sealed, preamble: treePreamble) } throws: { isAuthFailure($0) }
        var flipped = sealed
        flipped[0] ^= 4
        #expect { try sealer.openHeader(flipped, preamble: preamble) } throws: { isAuthFailure($0) }
        // The header's nonce domain differs from every blob's: the same bytes sealed as blob 0 differ.
        let asBlob = try header.withUnsafeBytes {
            try sealer.sealBlob(index: 0, type: .data, id: BlobID(.zero), plaintext: $0)
        }
        #expect(Array(asBlob.prefix(header.count)) != Array(sealed.prefix(header.count)))
    }
}

@Suite struct ObjectSealerTests {
    let keys = MasterKeys.generate()

    @Test(arguments: [SealedKind.config, .index, .snapshot])
    func roundTrip(kind: SealedKind) throws {
        let plain = Array("{\"a\": 1}".utf8)
        let sealed = try ObjectSealer.seal(kind: kind, plaintext: plain, compression: .zstd, keys: keys)
        #expect(sealed.count == 44 + plain.count + 16)
        #expect(Array(sealed.prefix(8)) == Array("HAULSEAL".utf8))
        #expect(sealed[9] == kind.rawValue && sealed[10] == 1)
        let (compression, opened) = try ObjectSealer.open(sealed, kind: kind, keys: keys, what: "test object")
        #expect(compression == .zstd)
        #expect(opened == plain)
        // Fresh salt every time.
        #expect(try ObjectSealer.seal(kind: kind, plaintext: plain, compression: .zstd, keys: keys) != sealed)
    }

    @Test func tamperingIsDetected() throws {
        let plain = [UInt8](repeating: 7, count: 300)
        let sealed = try ObjectSealer.seal(kind: .index, plaintext: plain, compression: .raw, keys: keys)
        func open(_ b: [UInt8], kind: SealedKind = .index, keys: MasterKeys? = nil) throws {
            _ = try ObjectSealer.open(b, kind: kind, keys: keys ?? self.keys, what: "index 1234")
        }
        var compressionFlag = sealed
        compressionFlag[10] = 1
        #expect { try open(compressionFlag) } throws: { isAuthFailure($0) }
        var salt = sealed
        salt[20] ^= 1
        #expect { try open(salt) } throws: { isAuthFailure($0) }
        var body = sealed
        body[100] ^= 1
        #expect { try open(body) } throws: { isAuthFailure($0) }
        var tag = sealed
        tag[tag.count - 3] ^= 1
        #expect { try open(tag) } throws: { isAuthFailure($0) }
        #expect { try open(sealed, keys: MasterKeys.generate()) } throws: { isAuthFailure($0) }
        #expect { try open(sealed, kind: .snapshot) } throws: { $0.haulCode == .corrupted }
        #expect { try open(Array(sealed.prefix(50))) } throws: { $0.haulCode == .corrupted }
        #expect { try open(Array(sealed.dropLast())) } throws: { isAuthFailure($0) }
    }
}

@Suite struct KeyFileTests {
    let keys = MasterKeys.generate()
    let passphrase = Array("open sesame".utf8)

    func makeFile() throws -> KeyFile {
        try KeyFile.create(
            wrapping: keys, passphrase: passphrase, parameters: .test, hostname: "host1", username: "alice",
            now: Date(timeIntervalSince1970: 1_795_600_000))
    }

    @Test func wrapAndUnwrap() throws {
        let file = try makeFile()
        #expect(try file.unwrap(passphrase: passphrase).encoded() == keys.encoded())
        let decoded = try KeyFile(decoding: try file.encoded())
        #expect(try decoded.unwrap(passphrase: passphrase).encoded() == keys.encoded())
        #expect(decoded.parameters == .test)
        // Two files for the same keys differ (fresh salt and nonce).
        #expect(try makeFile().wrapped != file.wrapped)
    }

    @Test func jsonHasTheFieldsOfTheSpec() throws {
        let json = try JSONSerialization.jsonObject(with: Data(try makeFile().encoded())) as! [String: Any]
        #expect(
            Set(json.keys) == ["version", "kdf", "n", "r", "p", "salt", "wrapped", "created", "hostname", "username"])
        #expect(json["version"] as? Int == 1)
        #expect(json["kdf"] as? String == "scrypt")
        #expect(json["n"] as? Int == 1024 && json["r"] as? Int == 8 && json["p"] as? Int == 1)
        #expect(Data(base64Encoded: json["salt"] as! String)?.count == 32)
        #expect(Data(base64Encoded: json["wrapped"] as! String)?.count == 12 + 128 + 16)
        #expect((json["created"] as? String)?.hasPrefix("2026-11-25T") == true)
        #expect(json["hostname"] as? String == "host1" && json["username"] as? String == "alice")
    }

    @Test func wrongPassphrase() throws {
        let file = try makeFile()
        #expect { try file.unwrap(passphrase: Array("open sesame!".utf8)) } throws: { $0.haulCode == .wrongPassword }
        #expect { try file.unwrap(passphrase: []) } throws: { $0.haulCode == .wrongPassword }
        #expect {
            try KeyFile.create(
                wrapping: keys, passphrase: [], parameters: .test, hostname: "h", username: "u", now: Date())
        } throws: { $0.haulCode == .invalidArgument }
    }

    @Test func hostileParametersAreRefusedBeforeDeriving() throws {
        let clock = ContinuousClock()
        let start = clock.now
        for (n, r, p) in [(1 << 24, 8, 1), (1 << 20, 16, 1), (1 << 16, 64, 1), (1 << 16, 8, 65), (1 << 21, 1, 1)] {
            var file = try makeFile()
            (file.n, file.r, file.p) = (n, r, p)
            let reparsed = try KeyFile(decoding: try file.encoded())
            #expect { try reparsed.unwrap(passphrase: passphrase) } throws: { error in
                error.haulCode == .limitExceeded && "\(error)".contains("n=\(n) r=\(r) p=\(p)")
            }
        }
        #expect(clock.now - start < .seconds(2))
        // The largest allowed memory is exactly 1 GiB.
        #expect(throws: Never.self) { try KDFParameters(n: 1 << 20, r: 8, p: 64).validate() }
        #expect { try KDFParameters(n: 1000, r: 8, p: 1).validate() } throws: { $0.haulCode == .invalidArgument }
        #expect { try KDFParameters(n: 1024, r: 0, p: 1).validate() } throws: { $0.haulCode == .invalidArgument }
    }

    @Test func malformedFilesAreRefused() throws {
        let good = try makeFile()
        var v2 = good
        v2.version = 2
        #expect { try KeyFile(decoding: try v2.encoded()) } throws: { $0.haulCode == .unsupportedVersion }
        var argon = good
        argon.kdf = "argon2id"
        #expect { try KeyFile(decoding: try argon.encoded()) } throws: { $0.haulCode == .unsupportedVersion }
        var shortSalt = good
        shortSalt.salt = Data([1, 2, 3]).base64EncodedString()
        #expect { try KeyFile(decoding: try shortSalt.encoded()) } throws: { $0.haulCode == .corrupted }
        #expect { try shortSalt.unwrap(passphrase: passphrase) } throws: { $0.haulCode == .corrupted }
        #expect { try KeyFile(decoding: Array("{\"version\": 1}".utf8)) } throws: { $0.haulCode == .corrupted }
        // A damaged wrapped key set looks like a wrong passphrase (GCM cannot tell them apart).
        var damaged = good
        var w = Array(Data(base64Encoded: good.wrapped)!)
        w[40] ^= 1
        damaged.wrapped = Data(w).base64EncodedString()
        #expect { try damaged.unwrap(passphrase: passphrase) } throws: { $0.haulCode == .wrongPassword }
    }

    @Test func newKeyParameters() throws {
        if ProcessInfo.processInfo.environment["HAUL_KDF_PROFILE"] == "test" {
            #expect(KDFParameters.forNewKey() == .test)
        }
        try KDFParameters.test.validate()
    }

    /// Real-size memory (64 MiB, as for new keys) must pass scrypt's memory limit.
    @Test func realSizeParametersDerive() throws {
        let file = try KeyFile.create(
            wrapping: keys, passphrase: passphrase, parameters: KDFParameters(n: 1 << 16, r: 8, p: 1), hostname: "h",
            username: "u", now: Date())
        #expect(try file.unwrap(passphrase: passphrase).encoded() == keys.encoded())
    }

    /// Runs one real calibration (about a second): n = 2^16, r = 8, p within the caps.
    @Test func calibration() throws {
        let params = KDFParameters.calibrated()
        #expect(params.n == 1 << 16 && params.r == 8)
        #expect(params.p >= 1 && params.p <= 64)
        try params.validate()
    }
}

/// Haul's scrypt (`Scrypt`, lanes on threads) against RFC 7914's vectors and BoringSSL's implementation.
@Suite struct ScryptTests {
    /// RFC 7914 §12, the first two vectors.
    @Test func rfcVectors() {
        let first = Scrypt.derive(passphrase: [], salt: [], n: 16, r: 1, p: 1, outputByteCount: 64)
        #expect(
            hex(first)
                == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        let second = Scrypt.derive(
            passphrase: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16, outputByteCount: 64)
        #expect(
            hex(second)
                == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    /// Equal to BoringSSL's scrypt for any number of worker threads, including more workers than lanes.
    @Test(arguments: [(2, 1, 1), (64, 2, 3), (1024, 8, 2), (256, 3, 5)])
    func matchesBoringSSL(n: Int, r: Int, p: Int) throws {
        let passphrase = Array("correct horse".utf8)
        let salt = (0..<32).map { UInt8($0 * 7 & 0xff) }
        let reference = try KDF.Scrypt.deriveKey(
            from: passphrase, salt: salt, outputByteCount: 48, rounds: n, blockSize: r, parallelism: p,
            maxMemory: 128 * r * (n + p + 2) + (1 << 20)
        ).withUnsafeBytes { Array($0) }
        for workers in [1, 2, p + 1] {
            let ours = Scrypt.derive(
                passphrase: passphrase, salt: salt, n: n, r: r, p: p, outputByteCount: 48, workers: workers)
            #expect(ours == reference, "n=\(n) r=\(r) p=\(p) workers=\(workers)")
        }
    }

    /// A key file's parameters derive the same key whether the lanes run one after another or at once.
    @Test func keyFileParametersAreThreadIndependent() throws {
        let params = KDFParameters(n: 1 << 12, r: 8, p: 4)
        let salt = [UInt8](repeating: 9, count: 32)
        let sequential = params.derive(passphrase: Vectors.passphrase, salt: salt, workers: 1)
        #expect(params.derive(passphrase: Vectors.passphrase, salt: salt, workers: 4) == sequential)
        #expect(sequential.count == 32)
    }
}
