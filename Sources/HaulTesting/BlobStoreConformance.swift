import Crypto
import Foundation
import HaulFormat
import HaulStorage

/// The contract of `BlobStoreReader` and `BlobStore`, as a suite every store runs (memory, filesystem, S3).
///
/// Each check gets a fresh, empty store from `makeStore`. The first violation ends the run with a
/// `ConformanceFailure` naming the check and what differed. Checks cover put/get/head/list/delete on every kind,
/// `createOnly` against `overwrite`, the shape of "not found", ranged reads (at the end, past the end, negative),
/// empty and large (9 MiB) objects, many objects across data fan-out folders, equal names in different kinds,
/// and, when the store claims `atomicCreateOnly`, concurrent creators.
public enum BlobStoreConformance {
    /// What the store under test checks on writes, beyond the `BlobStore` contract.
    public enum Profile: Sendable {
        /// Any name holds any bytes (memory, filesystem, S3).
        case opaque
        /// The vault object API (docs/service.md §6): names of content-addressed kinds must be the SHA-256 of the
        /// bytes, lease bodies must be lease JSON (format.md §10), and config is written once. The checks write
        /// only such objects, and expect an overwrite of config to fail with `alreadyExists`.
        case verifying
    }

    /// Runs every check. `makeStore` must return an empty store each time it is called.
    /// - Throws: `ConformanceFailure` on the first violation, or the store's error where a call had to succeed.
    public static func run(profile: Profile = .opaque, _ makeStore: () async throws -> any BlobStore) async throws {
        for (name, check) in checks {
            let store = try await makeStore()
            do {
                try await check(Checker(name: name, store: store, profile: profile))
            } catch let failure as ConformanceFailure {
                throw failure
            } catch {
                throw ConformanceFailure(check: name, message: "unexpected error: \(error)")
            }
        }
    }

    /// The names of the checks, in the order `run` performs them.
    public static var checkNames: [String] { checks.map(\.0) }

    private static let checks: [(String, @Sendable (Checker) async throws -> Void)] = [
        ("empty store", emptyStore),
        ("put and get every kind", putAndGetEveryKind),
        ("overwrite", overwrite),
        ("createOnly", createOnly),
        ("empty object", emptyObject),
        ("ranged reads", rangedReads),
        ("large object", largeObject),
        ("delete", delete),
        ("list", list),
        ("same name in different kinds", sameNameInDifferentKinds),
        ("concurrent createOnly", concurrentCreateOnly),
        ("readers never see a partial object", noPartialObjects),
    ]

    // MARK: Checks

    private static func emptyStore(_ c: Checker) async throws {
        for kind in ObjectKind.allCases {
            try await c.equal(try await c.store.list(kind).count, 0, "list(\(kind.rawValue)) of an empty store")
        }
        for key in [ObjectKey.config, try Fixture.key(.data, 1), try Fixture.key(.leases, 2)] {
            try await c.equal(try await c.store.head(key), nil, "head(\(key.path)) of an empty store")
            try await c.expectError(.notFound, "get(\(key.path))") { _ = try await c.store.get(key) }
            try await c.expectError(.notFound, "ranged get(\(key.path))") {
                _ = try await c.store.get(key, offset: 0, length: 1)
            }
            try await c.expectError(.notFound, "delete(\(key.path))") { try await c.store.delete(key) }
        }
    }

    private static func putAndGetEveryKind(_ c: Checker) async throws {
        var expected: [ObjectKey: [UInt8]] = [:]
        for (i, kind) in ObjectKind.allCases.enumerated() {
            let (key, bytes) = try c.object(kind, seed: UInt64(10 + i), count: 100 + 37 * i)
            try await c.store.put(key, bytes)
            expected[key] = bytes
        }
        for (key, bytes) in expected {
            try await c.equalBytes(try await c.store.get(key), bytes, "get(\(key.path)) after put")
            try await c.equal(
                try await c.store.head(key), ObjectInfo(key: key, size: Int64(bytes.count)), "head(\(key.path))")
            try await c.equal(
                Set(try await c.store.list(key.kind)), [ObjectInfo(key: key, size: Int64(bytes.count))],
                "list(\(key.kind.rawValue)) with one object")
        }
    }

    private static func overwrite(_ c: Checker) async throws {
        let key = try Fixture.key(.leases, 20)
        for (step, count) in [1000, 10, 5000, 0, 3].enumerated() {
            let bytes = c.bytes(.leases, seed: UInt64(step), count: count)
            try await c.store.put(key, bytes, mode: .overwrite)
            try await c.equalBytes(try await c.store.get(key), bytes, "get after overwrite #\(step) (\(count) bytes)")
            try await c.equal(try await c.store.head(key)?.size, Int64(bytes.count), "head after overwrite #\(step)")
        }
        try await c.equal(try await c.store.list(.leases).count, 1, "list after repeated overwrites")
    }

    private static func createOnly(_ c: Checker) async throws {
        for (seed, kind) in [(29, ObjectKind.config), (30, .keys), (31, .data)] {
            let (key, first) = try c.object(kind, seed: UInt64(seed), count: 300)
            try await c.store.put(key, first, mode: .createOnly)
            // Under `.verifying` a content-addressed name admits only its own bytes.
            let fixed = c.profile == .verifying && kind.isContentAddressed
            try await c.expectError(.alreadyExists, "second createOnly put of \(key.path)") {
                try await c.store.put(key, fixed ? first : Fixture.bytes(count: 20, seed: 2), mode: .createOnly)
            }
            try await c.equalBytes(try await c.store.get(key), first, "\(key.path) after a refused createOnly put")
            let second = fixed ? first : Fixture.bytes(count: 50, seed: 3)
            if c.profile == .verifying && kind == .config {
                try await c.expectError(.alreadyExists, "overwrite of the write-once config") {
                    try await c.store.put(key, second, mode: .overwrite)
                }
                try await c.equalBytes(try await c.store.get(key), first, "config after a refused overwrite")
                continue
            }
            try await c.store.put(key, second, mode: .overwrite)
            try await c.equalBytes(try await c.store.get(key), second, "\(key.path) after overwrite")
        }
    }

    private static func emptyObject(_ c: Checker) async throws {
        let (key, _) = try c.object(.data, seed: 40, count: 0)
        try await c.store.put(key, [], mode: .createOnly)
        try await c.equalBytes(try await c.store.get(key), [], "get of an empty object")
        try await c.equal(try await c.store.head(key), ObjectInfo(key: key, size: 0), "head of an empty object")
        try await c.equal(try await c.store.list(.data), [ObjectInfo(key: key, size: 0)], "list with an empty object")
        try await c.equalBytes(try await c.store.get(key, offset: 0, length: 0), [], "get(0, 0) of an empty object")
        try await c.equalBytes(try await c.store.get(key, offset: 0, length: 10), [], "get(0, 10) of an empty object")
        try await c.expectError(.invalidArgument, "get(1, 1) of an empty object") {
            _ = try await c.store.get(key, offset: 1, length: 1)
        }
    }

    private static func rangedReads(_ c: Checker) async throws {
        let (key, bytes) = try c.object(.index, seed: 50, count: 1000)
        try await c.store.put(key, bytes)
        let cases: [(offset: Int, length: Int, expected: Range<Int>)] = [
            (0, 10, 0..<10), (500, 100, 500..<600), (0, 1000, 0..<1000), (990, 10, 990..<1000),
            (995, 10, 995..<1000), (999, 1, 999..<1000), (1000, 10, 1000..<1000), (10, 0, 10..<10),
            (0, 1 << 40, 0..<1000), (1000, 0, 1000..<1000),
        ]
        for (offset, length, range) in cases {
            try await c.equalBytes(
                try await c.store.get(key, offset: Int64(offset), length: length), Array(bytes[range]),
                "get(\(key.path), offset: \(offset), length: \(length))")
        }
        for (offset, length) in [(1001, 1), (1001, 0), (5000, 10), (-1, 1), (10, -1)] {
            try await c.expectError(.invalidArgument, "get(offset: \(offset), length: \(length)) of 1000 bytes") {
                _ = try await c.store.get(key, offset: Int64(offset), length: length)
            }
        }
    }

    private static func largeObject(_ c: Checker) async throws {
        let count = 9 << 20 + 17
        let (key, bytes) = try c.object(.data, seed: 60, count: count)
        try await c.store.put(key, bytes, mode: .createOnly)
        try await c.equal(try await c.store.head(key)?.size, Int64(count), "head of a 9 MiB object")
        try await c.equalBytes(try await c.store.get(key), bytes, "get of a 9 MiB object")
        for (offset, length) in [(8 << 20 - 100, 200), (count - 100, 100), (count - 50, 1 << 20), (1 << 20, 4 << 20)] {
            let end = min(offset + length, count)
            try await c.equalBytes(
                try await c.store.get(key, offset: Int64(offset), length: length), Array(bytes[offset..<end]),
                "ranged get(offset: \(offset), length: \(length)) of a 9 MiB object")
        }
    }

    private static func delete(_ c: Checker) async throws {
        let (key, original) = try c.object(.snapshots, seed: 70, count: 64)
        let (other, otherBytes) = try c.object(.snapshots, seed: 71, count: 65)
        try await c.store.put(key, original)
        try await c.store.put(other, otherBytes)
        try await c.store.delete(key)
        try await c.equal(try await c.store.head(key), nil, "head after delete")
        try await c.expectError(.notFound, "get after delete") { _ = try await c.store.get(key) }
        try await c.expectError(.notFound, "ranged get after delete") {
            _ = try await c.store.get(key, offset: 0, length: 1)
        }
        try await c.expectError(.notFound, "second delete") { try await c.store.delete(key) }
        try await c.equal(
            try await c.store.list(.snapshots), [ObjectInfo(key: other, size: 65)], "list after deleting one of two")
        let again = c.profile == .verifying ? original : Fixture.bytes(count: 10, seed: 72)
        try await c.store.put(key, again, mode: .createOnly)
        try await c.equalBytes(try await c.store.get(key), again, "createOnly put after delete")
    }

    private static func list(_ c: Checker) async throws {
        var expected: [ObjectKind: Set<ObjectInfo>] = [:]
        // Data names share and differ in their first two hex digits, so fan-out folders hold one or several.
        // (Under `.verifying` the names are hashes of the bytes, which spread over the fan-out folders by themselves.)
        var names = (0..<30).map { Fixture.name(UInt64(100 + $0)) }
        names += ["00", "00", "ff", "ff", "a0"].enumerated().map { i, prefix in
            prefix + Fixture.name(UInt64(200 + i)).dropFirst(2)
        }
        for (i, name) in names.enumerated() {
            let bytes = Fixture.bytes(count: i, seed: UInt64(i))
            let key =
                c.profile == .verifying ? try c.object(.data, seed: 0, bytes: bytes).0 : try ObjectKey(.data, name)
            try await c.store.put(key, bytes)
            expected[.data, default: []].insert(ObjectInfo(key: key, size: Int64(i)))
        }
        for (k, kind) in [ObjectKind.keys, .index, .snapshots, .leases].enumerated() {
            for i in 0..<3 {
                let (key, bytes) = try c.object(kind, seed: UInt64(300 + 10 * i + k), count: 7 + i, contentSeed: 9)
                try await c.store.put(key, bytes)
                expected[kind, default: []].insert(ObjectInfo(key: key, size: Int64(bytes.count)))
            }
        }
        try await c.store.put(.config, Fixture.bytes(count: 5, seed: 5))
        expected[.config] = [ObjectInfo(key: .config, size: 5)]
        for kind in ObjectKind.allCases {
            let listed = try await c.store.list(kind)
            try await c.equal(listed.count, Set(listed).count, "list(\(kind.rawValue)) has no duplicates")
            try await c.equal(Set(listed), expected[kind] ?? [], "list(\(kind.rawValue))")
        }
    }

    private static func sameNameInDifferentKinds(_ c: Checker) async throws {
        let kinds = ObjectKind.allCases.filter { $0 != .config }
        // Under `.verifying` the content-addressed kinds share one body, whose hash is the common name.
        let shared = Fixture.bytes(count: 33, seed: 400)
        let name = c.profile == .verifying ? Fixture.sha256(shared) : Fixture.name(400)
        func body(_ i: Int, _ kind: ObjectKind) -> [UInt8] {
            c.profile == .verifying && kind.isContentAddressed ? shared : c.bytes(kind, seed: UInt64(i), count: 10 + i)
        }
        for (i, kind) in kinds.enumerated() {
            try await c.store.put(try ObjectKey(kind, name), body(i, kind))
        }
        for (i, kind) in kinds.enumerated() {
            let key = try ObjectKey(kind, name)
            try await c.equalBytes(try await c.store.get(key), body(i, kind), "get(\(key.path))")
            try await c.equal(try await c.store.list(kind).map(\.key), [key], "list(\(kind.rawValue))")
        }
        try await c.store.delete(try ObjectKey(.index, name))
        try await c.equal(try await c.store.head(try ObjectKey(.index, name)), nil, "index after deleting it")
        for (i, kind) in kinds.enumerated() where kind != .index {
            try await c.equal(
                try await c.store.head(try ObjectKey(kind, name))?.size, Int64(body(i, kind).count),
                "\(kind.rawValue) object after deleting the index object of the same name")
        }
    }

    private static func concurrentCreateOnly(_ c: Checker) async throws {
        guard c.store.capabilities.atomicCreateOnly else { return }
        let store = c.store
        for round in 0..<5 {
            let key = round == 0 ? ObjectKey.config : try Fixture.key(.keys, UInt64(500 + round))
            let outcomes = await withTaskGroup(of: (Int, (any Error)?).self) { group in
                for writer in 0..<6 {
                    group.addTask {
                        do {
                            try await store.put(key, Fixture.bytes(count: 100 + writer, seed: 7), mode: .createOnly)
                            return (writer, nil)
                        } catch {
                            return (writer, error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == nil }.map(\.0)
            try await c.equal(winners.count, 1, "successful concurrent createOnly puts of \(key.path) (round \(round))")
            for (writer, error) in outcomes where error != nil && error?.haulCode != .alreadyExists {
                throw c.failure("writer \(writer) of \(key.path) failed with \(error!), expected alreadyExists")
            }
            try await c.equalBytes(
                try await c.store.get(key), Fixture.bytes(count: 100 + winners[0], seed: 7),
                "\(key.path) holds the winner's bytes")
        }
    }

    private static func noPartialObjects(_ c: Checker) async throws {
        let store = c.store
        let key = try Fixture.key(.leases, 600)
        let versions = [c.bytes(.leases, seed: 1, count: 256 << 10), c.bytes(.leases, seed: 2, count: 3 << 10)]
        try await store.put(key, versions[0])
        let torn = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for i in 1...16 { try await store.put(key, versions[i % 2]) }
                return 0
            }
            group.addTask {
                var torn = 0
                for _ in 0..<64 where !versions.contains(try await store.get(key)) { torn += 1 }
                return torn
            }
            return try await group.reduce(0, +)
        }
        try await c.equal(torn, 0, "reads that returned neither the old nor the new object during overwrites")
    }
}

/// Assertions that throw `ConformanceFailure` for one named check.
private struct Checker: ConformanceChecking {
    let name: String
    let store: any BlobStore
    let profile: BlobStoreConformance.Profile

    /// Bytes of about `count` for an object of `kind`: under `.verifying` a lease is lease JSON (at least its
    /// minimal size), everything else pseudo-random.
    func bytes(_ kind: ObjectKind, seed: UInt64, count: Int) -> [UInt8] {
        profile == .verifying && kind == .leases
            ? Fixture.lease(count: count, seed: seed) : Fixture.bytes(count: count, seed: seed)
    }

    /// A key and bytes for `kind`; under `.verifying` content-addressed names are the SHA-256 of the bytes.
    func object(_ kind: ObjectKind, seed: UInt64, count: Int, contentSeed: UInt64? = nil) throws -> (
        ObjectKey, [UInt8]
    ) {
        try object(kind, seed: seed, bytes: bytes(kind, seed: contentSeed ?? seed, count: count))
    }

    func object(_ kind: ObjectKind, seed: UInt64, bytes: [UInt8]) throws -> (ObjectKey, [UInt8]) {
        if kind == .config { return (.config, bytes) }
        if profile == .verifying && kind.isContentAddressed {
            return (try ObjectKey(kind, Fixture.sha256(bytes)), bytes)
        }
        return (try Fixture.key(kind, seed), bytes)
    }

    /// Compares bytes without printing megabytes: reports sizes and the first difference.
    func equalBytes(_ actual: [UInt8], _ expected: [UInt8], _ what: String, line: Int = #line) async throws {
        guard actual != expected else { return }
        if actual.count != expected.count {
            throw failure("\(what): expected \(expected.count) bytes, got \(actual.count)", line: line)
        }
        let index = actual.indices.first { actual[$0] != expected[$0] } ?? 0
        throw failure(
            "\(what): bytes differ first at offset \(index) (expected \(expected[index]), got \(actual[index]))",
            line: line)
    }

}

/// Deterministic names and contents, so a failure reproduces.
enum Fixture {
    /// `count` pseudo-random bytes from a SplitMix64 stream seeded with `seed`.
    static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(count)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i < raw.count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                for shift in stride(from: 0, to: 64, by: 8) where i < raw.count {
                    raw[i] = UInt8(truncatingIfNeeded: z >> UInt64(shift))
                    i += 1
                }
            }
        }
        return out
    }

    /// 64 lowercase hex digits derived from `seed`.
    static func name(_ seed: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        let hex = bytes(count: 32, seed: seed ^ 0x5EED).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }
        return String(decoding: hex, as: UTF8.self)
    }

    static func key(_ kind: ObjectKind, _ seed: UInt64) throws -> ObjectKey {
        try ObjectKey(kind, name(seed))
    }

    /// 64 lowercase hex digits of the SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> String {
        ObjectID(Digest256(bytes: Array(SHA256.hash(data: bytes)))).hex
    }

    /// Lease JSON (format.md §10) of `count` bytes, or of its minimal size when `count` is smaller; the purpose
    /// is padded to reach the size.
    static func lease(count: Int, seed: UInt64) -> [UInt8] {
        func encoded(_ purpose: String) -> [UInt8] {
            let lease = Lease(
                kind: .shared, hostname: "conformance", pid: Int32(seed % 30_000), purpose: purpose,
                created: Date(timeIntervalSince1970: 1_800_000_000),
                expires: Date(timeIntervalSince1970: 4_000_000_000))
            return Array(try! JSONEncoder.haul.encode(lease))
        }
        let minimal = encoded("").count
        return count <= minimal ? encoded("") : encoded(String(repeating: "p", count: count - minimal))
    }
}
