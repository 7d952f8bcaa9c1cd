import HaulFormat

/// A glob pattern over paths relative to the backup root, used by `--exclude` (backup) and `--include` (restore).
///
/// The rules are in docs/patterns.md. In short: paths are bytes with `/` between components; `*` matches any bytes
/// within one component, `?` one byte, `[abc]`, `[a-z]`, `[!x]` (or `[^x]`) one byte of a class, `\` quotes the next
/// byte, and a `**` component matches any number of components, none included. A pattern that does not start with
/// `/` may match starting at any depth (`*.tmp` matches `a/b/c.tmp`); a leading `/` anchors it at the root; a
/// trailing `/` restricts it to directories. A pattern matches a path exactly: whether the content of a matched
/// directory counts as matched too is the caller's rule (backup does not descend into an excluded directory;
/// restore restores everything below an included one).
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as the user wrote it.
    public let text: String
    private let segments: [Segment]
    private let directoryOnly: Bool

    enum Segment: Sendable, Hashable {
        /// `**`: zero or more whole components.
        case anyComponents
        /// One component matched by a glob.
        case component([Token])
    }

    enum Token: Sendable, Hashable {
        case byte(UInt8)
        case anyByte
        case star
        case byteClass(ByteClass)
    }

    /// A set of bytes as a 256-bit map.
    struct ByteClass: Sendable, Hashable {
        var words: [UInt64] = [0, 0, 0, 0]
        var negated = false
        mutating func insert(_ range: ClosedRange<UInt8>) {
            for b in range { words[Int(b >> 6)] |= 1 << UInt64(b & 63) }
        }
        func contains(_ b: UInt8) -> Bool { (words[Int(b >> 6)] >> UInt64(b & 63)) & 1 == 1 ? !negated : negated }
    }

    /// Parses a pattern.
    /// - Throws: `HaulError(.invalidArgument)` naming the pattern for an empty pattern or component (`a//b`), a `.`
    ///   or `..` component, an unclosed `[`, or a trailing `\`.
    public init(_ pattern: String) throws {
        try self.init(bytes: Array(pattern.utf8))
    }

    /// Parses a pattern given as bytes, as it comes from the command line or a file: names that are not UTF-8 are
    /// matched byte for byte. `text` is its UTF-8 decoding (for messages only).
    /// - Throws: what `init(_:)` throws.
    public init(bytes pattern: [UInt8]) throws {
        let text = String(decoding: pattern, as: UTF8.self)
        func invalid(_ why: String) -> HaulError {
            HaulError(.invalidArgument, "invalid pattern \(String(reflecting: text)): \(why) (see docs/patterns.md)")
        }
        var bytes = pattern
        let slash = UInt8(ascii: "/")
        let anchored = bytes.first == slash
        if anchored { bytes.removeFirst() }
        let directoryOnly = bytes.last == slash
        if directoryOnly { bytes.removeLast() }
        guard !bytes.isEmpty else { throw invalid("it names no path component") }
        var segments = [Segment]()
        if !anchored { segments.append(.anyComponents) }
        for part in bytes.split(separator: slash, omittingEmptySubsequences: false) {
            let part = Array(part)
            if part.isEmpty { throw invalid("it has an empty path component") }
            if part == [46] || part == [46, 46] { throw invalid("\".\" and \"..\" never occur in stored paths") }
            if part == [42, 42] {
                if segments.last != .anyComponents { segments.append(.anyComponents) }
                continue
            }
            segments.append(.component(try Self.tokens(part, invalid: invalid)))
        }
        self.text = text
        self.segments = segments
        self.directoryOnly = directoryOnly
    }

    private static func tokens(_ part: [UInt8], invalid: (String) -> HaulError) throws -> [Token] {
        var tokens = [Token]()
        var i = 0
        while i < part.count {
            let c = part[i]
            switch c {
            case UInt8(ascii: "*"):
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case UInt8(ascii: "?"):
                tokens.append(.anyByte)
                i += 1
            case UInt8(ascii: "\\"):
                guard i + 1 < part.count else { throw invalid("it ends with an unfinished \"\\\"") }
                tokens.append(.byte(part[i + 1]))
                i += 2
            case UInt8(ascii: "["):
                var set = ByteClass()
                var j = i + 1
                if j < part.count && (part[j] == UInt8(ascii: "!") || part[j] == UInt8(ascii: "^")) {
                    set.negated = true
                    j += 1
                }
                var first = true
                var closed = false
                while j < part.count {
                    var lo = part[j]
                    if lo == UInt8(ascii: "]") && !first {
                        closed = true
                        j += 1
                        break
                    }
                    first = false
                    if lo == UInt8(ascii: "\\") && j + 1 < part.count {
                        j += 1
                        lo = part[j]
                    }
                    if j + 2 < part.count && part[j + 1] == UInt8(ascii: "-") && part[j + 2] != UInt8(ascii: "]") {
                        var hi = part[j + 2]
                        var next = j + 3
                        if hi == UInt8(ascii: "\\") && j + 3 < part.count {
                            hi = part[j + 3]
                            next = j + 4
                        }
                        guard lo <= hi else {
                            throw invalid(
                                "the class range \(Character(Unicode.Scalar(lo)))-\(Character(Unicode.Scalar(hi))) is reversed"
                            )
                        }
                        set.insert(lo...hi)
                        j = next
                    } else {
                        set.insert(lo...lo)
                        j += 1
                    }
                }
                guard closed else { throw invalid("a \"[\" class is not closed by \"]\"") }
                tokens.append(.byteClass(set))
                i = j
            default:
                tokens.append(.byte(c))
                i += 1
            }
        }
        return tokens
    }

    /// Whether the path (relative to the backup root, `/`-separated, no leading `/`) matches the pattern.
    /// - Parameter isDirectory: whether the path names a directory (patterns with a trailing `/` need one).
    public func matches(_ relativePath: [UInt8], isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        guard let states = run(relativePath) else { return false }
        return states[segments.count]
    }

    /// Whether some path strictly inside directory `dirPath` might match, so an include-filtered restore has to
    /// descend into it. `false` means nothing below can match (the directory itself may still match).
    public func mayMatchBelow(_ dirPath: [UInt8]) -> Bool {
        guard let states = run(dirPath) else { return false }
        return states[0..<segments.count].contains(true)
    }

    public var description: String { text }

    /// The pattern positions reachable after consuming every component of `path` (an NFA walk), or `nil` when none
    /// is.
    private func run(_ path: [UInt8]) -> [Bool]? {
        var states = [Bool](repeating: false, count: segments.count + 1)
        states[0] = true
        close(&states)
        for component in path.split(separator: UInt8(ascii: "/")) {
            var next = [Bool](repeating: false, count: segments.count + 1)
            var any = false
            for (i, segment) in segments.enumerated() where states[i] {
                switch segment {
                case .anyComponents:
                    next[i] = true
                    any = true
                case .component(let tokens):
                    if Self.glob(tokens, component) {
                        next[i + 1] = true
                        any = true
                    }
                }
            }
            guard any else { return nil }
            close(&next)
            states = next
        }
        return states
    }

    /// Lets a `**` match zero components.
    private func close(_ states: inout [Bool]) {
        for (i, segment) in segments.enumerated() where states[i] && segment == .anyComponents {
            states[i + 1] = true
        }
    }

    /// Matches one component against glob tokens; `*` backtracks to its latest position only, which suffices for
    /// globs without alternation.
    private static func glob(_ tokens: [Token], _ name: ArraySlice<UInt8>) -> Bool {
        let s = Array(name)
        var t = 0
        var i = 0
        var starToken = -1
        var starInput = 0
        while i < s.count {
            if t < tokens.count {
                switch tokens[t] {
                case .star:
                    starToken = t
                    starInput = i
                    t += 1
                    continue
                case .anyByte:
                    t += 1
                    i += 1
                    continue
                case .byte(let b) where b == s[i]:
                    t += 1
                    i += 1
                    continue
                case .byteClass(let set) where set.contains(s[i]):
                    t += 1
                    i += 1
                    continue
                default:
                    break
                }
            }
            guard starToken >= 0 else { return false }
            starInput += 1
            i = starInput
            t = starToken + 1
        }
        while t < tokens.count && tokens[t] == .star { t += 1 }
        return t == tokens.count
    }
}
