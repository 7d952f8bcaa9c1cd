import Crypto
import Foundation
import HaulFormat

/// scrypt parameters of a key file (format.md §3).
public struct KDFParameters: Codable, Sendable, Hashable {
    /// CPU/memory cost, a power of two.
    public var n: Int
    /// Block size.
    public var r: Int
    /// Parallelism: independent lanes, run on up to as many threads as there are cores (`Scrypt`).
    public var p: Int

    public init(n: Int, r: Int, p: Int) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// Cheap parameters for tests (`HAUL_KDF_PROFILE=test`, format.md §3): 1 MiB, milliseconds.
    public static let test = KDFParameters(n: 1024, r: 8, p: 1)

    /// Caps a reader enforces before deriving (format.md §3).
    public static let maxN = 1 << 20
    public static let maxR = 32
    public static let maxP = 64
    public static let maxMemory = 1 << 30

    /// Parameters for a new key on this machine (format.md §3): n = 2^16, r = 8 (64 MiB), p raised until one real
    /// derivation with its lanes run one after another (one core's work) takes at least 0.5 s, p at most 64. The
    /// strength is what one core does in 0.5 s, whatever the number of cores that later run the lanes at once.
    /// Takes about a second.
    public static func calibrated() -> KDFParameters {
        let salt = [UInt8](repeating: 0x5a, count: 32)
        let passphrase = Array("haul calibration".utf8)
        func seconds(_ params: KDFParameters) -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            // Fixed, valid parameters: a failure here is a bug, not an input error.
            _ = params.derive(passphrase: passphrase, salt: salt, workers: 1)
            let d = clock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        var params = KDFParameters(n: 1 << 16, r: 8, p: 1)
        let one = seconds(params)
        if one >= 0.5 { return params }
        params.p = Swift.min(maxP, Swift.max(1, Int((0.5 / Swift.max(one, 1e-6)).rounded(.up))))
        while params.p < maxP, seconds(params) < 0.5 { params.p += 1 }
        return params
    }

    /// `.test` when the environment variable `HAUL_KDF_PROFILE` is `test`, else `calibrated()` (format.md §3).
    public static func forNewKey() -> KDFParameters {
        ProcessInfo.processInfo.environment["HAUL_KDF_PROFILE"] == "test" ? .test : calibrated()
    }

    /// Refuses parameters above the caps of format.md §3 (`limitExceeded`: n ≤ 2^20, r ≤ 32, p ≤ 64,
    /// 128·r·n ≤ 1 GiB) and malformed ones (`invalidArgument`: n not a power of two ≥ 2, r or p below 1).
    public func validate() throws {
        guard n >= 2, n.nonzeroBitCount == 1, r >= 1, p >= 1 else {
            throw HaulError(
                .invalidArgument,
                "scrypt parameters n=\(n) r=\(r) p=\(p) are malformed (n must be a power of two ≥ 2, r and p ≥ 1)")
        }
        guard n <= Self.maxN, r <= Self.maxR, p <= Self.maxP, r <= Self.maxMemory / 128 / n else {
            throw HaulError(
                .limitExceeded,
                "scrypt parameters n=\(n) r=\(r) p=\(p) exceed the caps n ≤ 2^20, r ≤ 32, p ≤ 64, 128·r·n ≤ 1 GiB; refusing to derive"
            )
        }
    }

    /// scrypt(passphrase, salt, n, r, p) → 32-byte key, the lanes on up to as many threads as there are cores.
    /// The caller has validated the parameters.
    func deriveKey(passphrase: [UInt8], salt: [UInt8]) throws -> SymmetricKey {
        SymmetricKey(data: derive(passphrase: passphrase, salt: salt, workers: nil))
    }

    /// The 32 bytes of the key, on at most `workers` threads (nil: one per core).
    func derive(passphrase: [UInt8], salt: [UInt8], workers: Int?) -> [UInt8] {
        Scrypt.derive(passphrase: passphrase, salt: salt, n: n, r: r, p: p, outputByteCount: 32, workers: workers)
    }
}

/// A key file (format.md §3): the master key set wrapped under a passphrase. UTF-8 JSON with the fields
/// `version, kdf, n, r, p, salt, wrapped, created, hostname, username`.
public struct KeyFile: Codable, Sendable {
    public var version: Int
    /// Always `"scrypt"`.
    public var kdf: String
    public var n: Int
    public var r: Int
    public var p: Int
    /// Base64 of the 32-byte scrypt salt.
    public var salt: String
    /// Base64 of `nonce (12) ‖ AES-256-GCM(master key set) ‖ tag (16)`, aad `"haul key v1"`.
    public var wrapped: String
    public var created: Date
    public var hostname: String
    public var username: String

    static let aad = Array("haul key v1".utf8)
    static let wrappedLength = 12 + MasterKeys.encodedLength + 16

    /// The scrypt parameters of this file.
    public var parameters: KDFParameters { KDFParameters(n: n, r: r, p: p) }

    /// Wraps `keys` under `passphrase` with a fresh salt and nonce (format.md §3). `parameters` must pass
    /// `validate()`; an empty passphrase is refused (`invalidArgument`).
    public static func create(
        wrapping keys: MasterKeys, passphrase: [UInt8], parameters: KDFParameters, hostname: String, username: String,
        now: Date
    ) throws -> KeyFile {
        try parameters.validate()
        guard !passphrase.isEmpty else { throw HaulError(.invalidArgument, "the passphrase is empty") }
        let salt = randomBytes(32)
        let wrappingKey = try parameters.deriveKey(passphrase: passphrase, salt: salt)
        let nonce = randomBytes(12)
        let box = try AES.GCM.seal(
            keys.encoded(), using: wrappingKey, nonce: try AES.GCM.Nonce(data: nonce), authenticating: aad)
        let wrapped = nonce + box.ciphertext + box.tag
        return KeyFile(
            version: 1, kdf: "scrypt", n: parameters.n, r: parameters.r, p: parameters.p,
            salt: Data(salt).base64EncodedString(), wrapped: Data(wrapped).base64EncodedString(), created: now,
            hostname: hostname, username: username)
    }

    /// Unwraps the master keys (format.md §3). Checks the caps before deriving (`limitExceeded`), so a hostile file
    /// costs nothing; a wrong passphrase (or a damaged `wrapped`) throws `wrongPassword`.
    public func unwrap(passphrase: [UInt8]) throws -> MasterKeys {
        try checkShape()
        try parameters.validate()
        guard !passphrase.isEmpty else { throw HaulError(.wrongPassword, "wrong passphrase for this key file") }
        let salt = Array(Data(base64Encoded: self.salt)!)
        let wrapped = Array(Data(base64Encoded: self.wrapped)!)
        let wrappingKey = try parameters.deriveKey(passphrase: passphrase, salt: salt)
        guard
            let box = try? AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: wrapped[0..<12]), ciphertext: wrapped[12..<(wrapped.count - 16)],
                tag: wrapped[(wrapped.count - 16)...]),
            let plaintext = try? AES.GCM.open(box, using: wrappingKey, authenticating: Self.aad)
        else { throw HaulError(.wrongPassword, "wrong passphrase for this key file") }
        return try MasterKeys(decoding: [UInt8](plaintext))
    }

    /// Checks version, kdf and the lengths of salt and wrapped keys.
    private func checkShape() throws {
        guard version == 1 else {
            throw HaulError(.unsupportedVersion, "key file version \(version) is not supported by this Haul")
        }
        guard kdf == "scrypt" else {
            throw HaulError(.unsupportedVersion, "key file uses kdf \(kdf); this Haul knows scrypt")
        }
        guard let s = Data(base64Encoded: salt), s.count == 32 else {
            throw HaulError(.corrupted, "key file salt is not 32 bytes of base64")
        }
        guard let w = Data(base64Encoded: wrapped), w.count == Self.wrappedLength else {
            throw HaulError(.corrupted, "key file wrapped keys are not \(Self.wrappedLength) bytes of base64")
        }
    }

    /// UTF-8 JSON, sorted keys (`JSONEncoder.haul`).
    public func encoded() throws -> [UInt8] {
        do {
            return Array(try JSONEncoder.haul.encode(self))
        } catch {
            throw HaulError(.internalError, "cannot encode key file", cause: error)
        }
    }

    /// Parses a key file; throws `corrupted` for malformed JSON or field shapes, `unsupportedVersion` for
    /// another version or kdf. Does not check the scrypt caps (`unwrap` does, before deriving).
    public init(decoding bytes: [UInt8]) throws {
        do {
            self = try JSONDecoder.haul.decode(KeyFile.self, from: Data(bytes))
        } catch {
            throw HaulError(.corrupted, "key file is not valid JSON of the expected shape", cause: error)
        }
        try checkShape()
    }

    init(
        version: Int, kdf: String, n: Int, r: Int, p: Int, salt: String, wrapped: String, created: Date,
        hostname: String, username: String
    ) {
        (self.version, self.kdf, self.n, self.r, self.p) = (version, kdf, n, r, p)
        (self.salt, self.wrapped, self.created, self.hostname, self.username) = (
            salt, wrapped, created, hostname, username
        )
    }
}
