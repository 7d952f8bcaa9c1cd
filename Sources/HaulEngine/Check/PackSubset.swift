import HaulFormat

/// Which packs `check` reads when it reads data (`haul check --read-data-subset`).
///
/// - `group(n, of: m)`: packs fall into `m` groups by the first 8 bytes of their id, as a big-endian integer, modulo
///   `m`; group `n` (1-based) is read. The group of a pack never changes, so running `1/m`, `2/m` … `m/m` (one a
///   day, say) reads every pack exactly once: a rolling check.
/// - `percent(p)`: a random `p` percent of the packs (rounded up, so never none when there are packs).
/// - `bytes(n)`: random packs until `n` bytes are read; the last pack may go past `n`.
public enum PackSubset: Sendable, Hashable, CustomStringConvertible {
    case all
    case group(Int, of: Int)
    case percent(Double)
    case bytes(UInt64)

    /// Parses `N/M`, `P%` or a size (`500M`, `2G`, `1.5GiB`, `4096`; units K, M, G, T are powers of 1024).
    ///
    /// - Throws: `invalidArgument` naming the text and the accepted forms.
    public init(parsing text: String) throws {
        let forms = "give N/M (1 ≤ N ≤ M, e.g. 2/7), a percentage (e.g. 10%) or a size (e.g. 500M, 2G)"
        let trimmed = text.trimmingWhitespace
        if let slash = trimmed.firstIndex(of: "/") {
            guard let n = Int(trimmed[..<slash]), let m = Int(trimmed[trimmed.index(after: slash)...]) else {
                throw HaulError(
                    .invalidArgument, "read-data subset \"\(text)\" is not N/M with whole numbers: \(forms)")
            }
            guard m >= 1, n >= 1, n <= m else {
                throw HaulError(
                    .invalidArgument, "read-data subset \"\(text)\": N must be between 1 and M, and M at least 1")
            }
            self = .group(n, of: m)
        } else if trimmed.hasSuffix("%") {
            guard let p = Double(trimmed.dropLast()), p.isFinite else {
                throw HaulError(.invalidArgument, "read-data subset \"\(text)\" is not a percentage: \(forms)")
            }
            guard p > 0, p <= 100 else {
                throw HaulError(
                    .invalidArgument, "read-data subset \"\(text)\": the percentage must be above 0 and at most 100")
            }
            self = .percent(p)
        } else {
            guard let n = Self.parseSize(trimmed) else {
                throw HaulError(.invalidArgument, "read-data subset \"\(text)\" is not understood: \(forms)")
            }
            guard n > 0 else {
                throw HaulError(.invalidArgument, "read-data subset \"\(text)\": the size must be above 0")
            }
            self = .bytes(n)
        }
    }

    private static func parseSize(_ text: String) -> UInt64? {
        var s = text.uppercased()
        for suffix in ["IB", "B"] where s.hasSuffix(suffix) {
            s.removeLast(suffix.count)
            break
        }
        var multiplier: Double = 1
        if let last = s.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            multiplier = Double(UInt64(1) << (10 * power))
            s.removeLast()
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(s), value.isFinite else {
            return nil
        }
        let bytes = (value * multiplier).rounded(.up)
        guard bytes < Double(UInt64.max / 2) else { return nil }
        return UInt64(bytes)
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .group(let n, let m): "\(n)/\(m)"
        case .percent(let p): "\(p.formatted)%"
        case .bytes(let n): "\(n) bytes"
        }
    }

    /// The group (1-based) a pack belongs to when packs are split into `groups` groups.
    public static func group(of pack: PackID, groups: Int) -> Int {
        Int(pack.digest.w0 % UInt64(groups)) + 1
    }

    /// The packs to read, in ascending id order.
    ///
    /// - Parameters:
    ///   - packs: every candidate pack with its size.
    ///   - random: the random source for `percent` and `bytes` (injected so tests are repeatable).
    public func select<R: RandomNumberGenerator>(from packs: [(id: PackID, size: UInt64)], using random: inout R)
        -> [PackID]
    {
        let sorted = packs.sorted { $0.id < $1.id }
        switch self {
        case .all:
            return sorted.map(\.id)
        case .group(let n, let m):
            return sorted.filter { Self.group(of: $0.id, groups: m) == n }.map(\.id)
        case .percent(let p):
            let count = min(sorted.count, Int((Double(sorted.count) * p / 100).rounded(.up)))
            return sorted.shuffled(using: &random).prefix(count).map(\.id).sorted()
        case .bytes(let limit):
            var total: UInt64 = 0
            var chosen: [PackID] = []
            for p in sorted.shuffled(using: &random) where total < limit {
                chosen.append(p.id)
                total += p.size
            }
            return chosen.sorted()
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

extension Double {
    /// Without a trailing `.0` for whole numbers.
    fileprivate var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
