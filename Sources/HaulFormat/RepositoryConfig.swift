import Foundation

/// Chunker parameters for files of at least `minFileSize` bytes (format.md §4).
public struct ChunkerClass: Codable, Sendable, Hashable {
    public var minFileSize: UInt64
    public var min: Int
    public var avg: Int
    public var max: Int

    public init(minFileSize: UInt64, min: Int, avg: Int, max: Int) {
        self.minFileSize = minFileSize
        self.min = min
        self.avg = avg
        self.max = max
    }

    /// Checks the invariants a chunker relies on.
    public func validate() throws {
        guard min >= 64, min < avg, avg < max, avg.nonzeroBitCount == 1, max <= 64 << 20, avg.trailingZeroBitCount >= 8
        else {
            throw HaulError(
                .invalidArgument,
                "chunker class \(self) is invalid: need 64 ≤ min < avg < max ≤ 64 MiB, avg a power of two")
        }
    }
}

/// How blobs are compressed (format.md §4, §5).
public struct CompressionSettings: Codable, Sendable, Hashable {
    public var algorithm: String
    public var level: Int
    /// Blobs shorter than `smallBlobSize` bytes are compressed at `smallBlobLevel` (both absent in configs written
    /// before they existed: every blob at `level`). zstd's cost per frame makes small inputs slow at level 3, and
    /// level 1 loses little on them (format.md §4).
    public var smallBlobSize: Int?
    public var smallBlobLevel: Int?

    public static let defaultSmallBlobSize = 32 << 10
    public static let defaultSmallBlobLevel = 1

    public init(
        algorithm: String = "zstd", level: Int = 3, smallBlobSize: Int? = CompressionSettings.defaultSmallBlobSize,
        smallBlobLevel: Int? = CompressionSettings.defaultSmallBlobLevel
    ) {
        self.algorithm = algorithm
        self.level = level
        self.smallBlobSize = smallBlobSize
        self.smallBlobLevel = smallBlobLevel
    }

    func validate() throws {
        guard algorithm == "zstd" || algorithm == "none" else {
            throw HaulError(.unsupportedVersion, "repository config names compression \(algorithm)")
        }
        guard (1...19).contains(level), smallBlobLevel.map({ (1...19).contains($0) }) ?? true,
            smallBlobSize.map({ (0...(64 << 20)).contains($0) }) ?? true,
            (smallBlobSize == nil) == (smallBlobLevel == nil)
        else {
            throw HaulError(
                .corrupted,
                "repository config has compression level \(level), small-blob level "
                    + "\(smallBlobLevel.map(String.init) ?? "none") below "
                    + "\(smallBlobSize.map(String.init) ?? "none") bytes; levels are 1 to 19, sizes 0 to 64 MiB, "
                    + "and the two small-blob fields come together")
        }
    }
}

/// The repository config (format.md §5): immutable after creation.
public struct RepositoryConfig: Codable, Sendable, Hashable {
    public var version: Int
    public var id: String
    public var created: Date
    public var chunker: [ChunkerClass]
    public var compression: CompressionSettings
    public var packSize: Int

    /// Files below 16 MiB: 512 KiB / 1 MiB / 8 MiB. Larger files (VM images, databases, big media) take
    /// 32 KiB / 128 KiB / 512 KiB chunks, so a scattered write re-stores about an eighth as much, and a reader needs
    /// only a 1 MiB window.
    public static let defaultChunker = [
        ChunkerClass(minFileSize: 0, min: 512 << 10, avg: 1 << 20, max: 8 << 20),
        ChunkerClass(minFileSize: 16 << 20, min: 32 << 10, avg: 128 << 10, max: 512 << 10),
    ]

    public init(
        id: Digest256, created: Date, chunker: [ChunkerClass] = RepositoryConfig.defaultChunker,
        compression: CompressionSettings = .init(), packSize: Int = 32 << 20
    ) {
        self.version = Self.currentVersion
        self.id = id.hex
        self.created = created
        self.chunker = chunker
        self.compression = compression
        self.packSize = packSize
    }

    /// The chunker class for a file of `size` bytes.
    public func chunkerClass(forFileSize size: UInt64) -> ChunkerClass {
        chunker.filter { $0.minFileSize <= size }.max { $0.minFileSize < $1.minFileSize } ?? chunker[0]
    }

    /// Version 2: the repository may hold version 2 packs and index files (groups of small blobs, format.md §4), so
    /// a Haul that reads only version 1 refuses it. Version 1 configs are read, and raised to 2 before the first
    /// write (`Repository.prepareForWriting`).
    public static let currentVersion = 2

    public func validate() throws {
        guard version == 1 || version == Self.currentVersion else {
            throw HaulError(
                .unsupportedVersion,
                "repository config version \(version) is not supported by this Haul (it reads versions 1 and 2): "
                    + "use a newer Haul")
        }
        guard !chunker.isEmpty, chunker.contains(where: { $0.minFileSize == 0 }) else {
            throw HaulError(.corrupted, "repository config has no chunker class for small files")
        }
        for c in chunker { try c.validate() }
        guard packSize >= 1 << 20, packSize <= 1 << 30 else {
            throw HaulError(.corrupted, "repository config has pack size \(packSize)")
        }
        try compression.validate()
    }
}

extension JSONEncoder {
    /// The encoder for every JSON object Haul stores: sorted keys, ISO 8601 dates with fractional seconds.
    public static var haul: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(HaulDate.format(date))
        }
        return e
    }
}

extension JSONDecoder {
    public static var haul: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = HaulDate.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(s)")
            }
            return date
        }
        return d
    }
}

/// ISO 8601 UTC timestamps with up to nanosecond fractions.
public enum HaulDate {
    public static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    public static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
