/// The 44-byte header of a sealed object (format.md §5); HaulCrypto seals the rest.
public enum SealedKind: UInt8, Sendable, Hashable {
    case config = 1
    case index = 2
    case snapshot = 3

    /// The HKDF info suffix of this kind.
    public var name: String {
        switch self {
        case .config: "config"
        case .index: "index"
        case .snapshot: "snapshot"
        }
    }
}

public enum SealedEnvelope {
    public static let magic: [UInt8] = Array("HAULSEAL".utf8)
    public static let headerLength = 44

    public static func header(kind: SealedKind, compression: BlobCompression, salt: [UInt8]) -> [UInt8] {
        precondition(salt.count == 32)
        return magic + [1, kind.rawValue, compression.rawValue, 0] + salt
    }

    /// Parses and checks the header, returning compression and salt.
    public static func parse(_ bytes: [UInt8], expecting kind: SealedKind, what: String) throws -> (
        BlobCompression, [UInt8]
    ) {
        guard bytes.count >= headerLength + 16, Array(bytes[0..<8]) == magic else {
            throw HaulError(.corrupted, "\(what) is not a sealed Haul object")
        }
        guard bytes[8] == 1 else { throw HaulError(.unsupportedVersion, "\(what) has envelope version \(bytes[8])") }
        guard bytes[9] == kind.rawValue else { throw HaulError(.corrupted, "\(what) is not a \(kind.name) object") }
        guard let comp = BlobCompression(rawValue: bytes[10]) else {
            throw HaulError(.corrupted, "\(what) has unknown compression")
        }
        return (comp, Array(bytes[12..<44]))
    }
}
