import HaulEngine
import HaulFormat
import Testing

@Suite struct PathPatternTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var pattern: String
        var path: String
        var isDirectory = false
        var expected: Bool
        var testDescription: String { "\(pattern) ~ \(path)\(isDirectory ? "/" : "") → \(expected)" }
    }

    static let cases: [Case] = [
        // Base names at any depth.
        Case(pattern: "*.tmp", path: "a.tmp", expected: true),
        Case(pattern: "*.tmp", path: "x/y/a.tmp", expected: true),
        Case(pattern: "*.tmp", path: "a.tmp/b", expected: false),
        Case(pattern: "*.tmp", path: "a.tmpx", expected: false),
        Case(pattern: "cache", path: "home/u/cache", isDirectory: true, expected: true),
        Case(pattern: "*", path: ".hidden", expected: true),
        // `*` stays in one component.
        Case(pattern: "/a/*", path: "a/b", expected: true),
        Case(pattern: "/a/*", path: "a/b/c", expected: false),
        Case(pattern: "/a*c", path: "abbbc", expected: true),
        Case(pattern: "/a*c", path: "ab/c", expected: false),
        Case(pattern: "/*a*b*", path: "xxaxxbxx", expected: true),
        Case(pattern: "/*a*b", path: "xxaxxbxxc", expected: false),
        // `?` is one byte.
        Case(pattern: "/?.txt", path: "a.txt", expected: true),
        Case(pattern: "/?.txt", path: "ab.txt", expected: false),
        Case(pattern: "/?.txt", path: ".txt", expected: false),
        // Classes.
        Case(pattern: "/[abc].c", path: "b.c", expected: true),
        Case(pattern: "/[abc].c", path: "d.c", expected: false),
        Case(pattern: "/[a-z]1", path: "q1", expected: true),
        Case(pattern: "/[a-z]1", path: "Q1", expected: false),
        Case(pattern: "/[!x]y", path: "xy", expected: false),
        Case(pattern: "/[!x]y", path: "zy", expected: true),
        Case(pattern: "/[^x]y", path: "zy", expected: true),
        Case(pattern: "/[]]", path: "]", expected: true),
        Case(pattern: "/\\*", path: "*", expected: true),
        Case(pattern: "/\\*", path: "a", expected: false),
        // Anchoring.
        Case(pattern: "/tmp", path: "tmp", isDirectory: true, expected: true),
        Case(pattern: "/tmp", path: "a/tmp", isDirectory: true, expected: false),
        Case(pattern: "tmp", path: "a/tmp", isDirectory: true, expected: true),
        Case(pattern: "b/c", path: "a/b/c", expected: true),
        Case(pattern: "/b/c", path: "a/b/c", expected: false),
        // `**`.
        Case(pattern: "/a/**/z", path: "a/z", expected: true),
        Case(pattern: "/a/**/z", path: "a/b/c/z", expected: true),
        Case(pattern: "/a/**/z", path: "a/b/c/y", expected: false),
        Case(pattern: "/a/**", path: "a/b/c", expected: true),
        Case(pattern: "/a/**", path: "a", isDirectory: true, expected: true),
        Case(pattern: "/**/x", path: "x", expected: true),
        Case(pattern: "**/x/**/y", path: "p/x/q/r/y", expected: true),
        Case(pattern: "/a**b", path: "axxb", expected: true),
        // Directory-only.
        Case(pattern: "build/", path: "src/build", isDirectory: true, expected: true),
        Case(pattern: "build/", path: "src/build", isDirectory: false, expected: false),
        // Bytes, not characters.
        Case(pattern: "/caf?", path: "café", expected: false),
        Case(pattern: "/caf??", path: "café", expected: true),
        Case(pattern: "/caf*", path: "café", expected: true),
    ]

    @Test(arguments: cases)
    func matches(_ c: Case) throws {
        let p = try PathPattern(c.pattern)
        #expect(p.matches(Array(c.path.utf8), isDirectory: c.isDirectory) == c.expected)
    }

    @Test func matchesNonUTF8Bytes() throws {
        let p = try PathPattern("/d/f?")
        #expect(p.matches([100, 47, 102, 0xff], isDirectory: false))
        #expect(!p.matches([100, 47, 102, 0xff, 0xfe], isDirectory: false))
        #expect(try PathPattern("/d/[\u{1}-~]").matches([100, 47, 65], isDirectory: false))
    }

    struct BelowCase: CustomTestStringConvertible, Sendable {
        var pattern: String
        var dir: String
        var expected: Bool
        var testDescription: String { "\(pattern) below \(dir) → \(expected)" }
    }

    static let belowCases: [BelowCase] = [
        BelowCase(pattern: "/a/b/*.txt", dir: "a", expected: true),
        BelowCase(pattern: "/a/b/*.txt", dir: "a/b", expected: true),
        BelowCase(pattern: "/a/b/*.txt", dir: "c", expected: false),
        BelowCase(pattern: "/a/b/*.txt", dir: "a/b/c", expected: false),
        BelowCase(pattern: "/a/b", dir: "a/b", expected: false),
        BelowCase(pattern: "*.txt", dir: "any/where", expected: true),
        BelowCase(pattern: "/a/**/z", dir: "a/q/r", expected: true),
        BelowCase(pattern: "/a/**/z", dir: "b", expected: false),
        BelowCase(pattern: "/a/**", dir: "a", expected: true),
    ]

    @Test(arguments: belowCases)
    func mayMatchBelow(_ c: BelowCase) throws {
        #expect(try PathPattern(c.pattern).mayMatchBelow(Array(c.dir.utf8)) == c.expected)
    }

    @Test(arguments: ["", "/", "//", "a//b", "[abc", "a\\", "./a", "a/../b", "[z-a]"])
    func invalidPatternsAreRefused(_ text: String) {
        #expect {
            _ = try PathPattern(text)
        } throws: { error in
            (error as? HaulError)?.code == .invalidArgument
                && (error as? HaulError)?.message.contains(String(reflecting: text)) == true
        }
    }
}
