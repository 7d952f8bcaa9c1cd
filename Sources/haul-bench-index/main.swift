// haul-bench-index: anonymous memory per indexed blob (bench/index-memory.md).
//
//   haul-bench-index [--blobs N] [--lookups M] [--dir DIR] [--keep]
//
// Writes a synthetic repository (real, sealed index files; no pack data) of N blobs into DIR (default: a fresh
// temporary directory), then measures in fresh child processes, so that nothing the generator allocated is
// counted: the first builds the index cache, the second reuses it; then the parent adds one index file more (what a
// backup of 16,000 new blobs writes) and a third child extends the cache with it. Each child reads /proc/self/status
// before and after `loadIndex` and after M lookups (half hits, half misses). Prints one JSON object.
import Foundation
import Glibc
import HaulCrypto
import HaulFormat
import HaulRepository
import HaulStorageFS

let passphrase = Array("bench passphrase".utf8)
let blobsPerPack = 2000
let packsPerIndexFile = 8
let hitSeed: UInt64 = 0x1234_5678
let missSeed: UInt64 = 0x9ABC_DEF0

/// SplitMix64: the i-th value of a stream, so the measuring process can recompute any generated id.
func mix(_ seed: UInt64, _ i: UInt64) -> UInt64 {
    var z = seed &+ (i &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

func blobID(_ seed: UInt64, _ i: Int) -> BlobID {
    let b = UInt64(i) * 4
    return BlobID(Digest256(w0: mix(seed, b), w1: mix(seed, b + 1), w2: mix(seed, b + 2), w3: mix(seed, b + 3)))
}

func status() -> [String: Int] {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, ["RssAnon", "RssFile", "VmHWM", "VmRSS"].contains(String(parts[0])) else { continue }
        let kb = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
        out[String(parts[0])] = kb * 1024
    }
    return out
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func json(_ value: Any) -> String {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

/// Writes index files for the blobs `range` of the hit stream; the repository is created for a range from 0.
func generate(root: String, range: Range<Int>) async throws {
    try FileManager.default.createDirectory(atPath: "\(root)/repo", withIntermediateDirectories: true)
    let store = try FileSystemBlobStore(root: "\(root)/repo")
    let repo =
        range.lowerBound == 0
        ? try await Repository.initialize(
            store: store, passphrase: passphrase, kdf: .test, hostname: "bench", username: "bench")
        : try await Repository.open(store: store, passphrase: passphrase)
    let blobs = range.upperBound
    var next = range.lowerBound
    // Pack ids of a later range come from numbers of their own.
    var packNumber: UInt64 = range.lowerBound == 0 ? 0 : 1 << 32 | UInt64(range.lowerBound)
    while next < blobs {
        var packs: [IndexFile.PackInfo] = []
        for _ in 0..<packsPerIndexFile where next < blobs {
            let count = min(blobsPerPack, blobs - next)
            var entries: [PackEntry] = []
            var offset: UInt32 = 40
            for j in 0..<count {
                let stored = UInt32(1000 + mix(7, UInt64(next + j)) % 15_000)
                entries.append(
                    PackEntry(
                        id: blobID(hitSeed, next + j), type: .data, compression: j % 3 == 0 ? .raw : .zstd,
                        offset: offset, storedLength: stored, rawLength: stored + 100))
                offset += stored
            }
            next += count
            packNumber += 1
            let salt = Digest256(w0: mix(3, packNumber), w1: 1, w2: 2, w3: 3).bytes
            let packID = ObjectID(Digest256(w0: mix(5, packNumber), w1: mix(6, packNumber), w2: 0, w3: 0))
            packs.append(IndexFile.PackInfo(id: packID, size: UInt64(offset) + 4096, salt: salt, entries: entries))
        }
        _ = try await repo.writeIndexFile(IndexFile(packs: packs))
    }
}

func measure(root: String, blobs: Int, lookups: Int) async throws -> [String: Any] {
    let store = try FileSystemBlobStore(root: "\(root)/repo")
    let repo = try await Repository.open(store: store, passphrase: passphrase, cacheDirectory: "\(root)/cache")
    let before = status()
    let start = ContinuousClock.now
    let report = try await repo.loadIndex()
    let loadSeconds = seconds(since: start)
    let afterLoad = status()

    var hits = 0
    var falseHits = 0
    let lookupStart = ContinuousClock.now
    for i in 0..<lookups {
        if i & 1 == 0 {
            let id = blobID(hitSeed, Int(mix(11, UInt64(i)) % UInt64(blobs)))
            if let loc = repo.index.location(of: id), loc.entry.id == id { hits += 1 }
        } else if repo.index.contains(blobID(missSeed, i)) {
            falseHits += 1
        }
    }
    let lookupSeconds = seconds(since: lookupStart)
    let afterLookups = status()
    let anonDelta = (afterLoad["RssAnon"] ?? 0) - (before["RssAnon"] ?? 0)
    return [
        "blobs": report.blobs, "indexFiles": report.files, "packs": report.packs,
        "cacheReused": report.cacheReused, "indexFilesRead": report.indexFilesRead,
        "cacheFileBytes": fileSize(report.cacheFile),
        "loadSeconds": loadSeconds,
        "beforeLoad": before, "afterLoad": afterLoad, "afterLookups": afterLookups,
        "anonBytesPerBlob": Double(anonDelta) / Double(max(blobs, 1)),
        "lookups": lookups, "hits": hits, "expectedHits": (lookups + 1) / 2, "falseHits": falseHits,
        "lookupsPerSecond": Double(lookups) / lookupSeconds,
    ]
}

func fileSize(_ path: String?) -> Int {
    guard let path, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
        return 0
    }
    return size
}

func runChild(_ args: [String]) throws -> Any {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw HaulError(.corrupted, "measuring child failed: \(args)") }
    return try JSONSerialization.jsonObject(with: data)
}

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

do {
    if arguments.first == "measure", arguments.count == 4, let n = Int(arguments[2]), let m = Int(arguments[3]) {
        print(json(try await measure(root: arguments[1], blobs: n, lookups: m)))
        exit(0)
    }
    let blobs = option("--blobs").flatMap { Int($0) } ?? 10_000_000
    let lookups = option("--lookups").flatMap { Int($0) } ?? 1_000_000
    let root: String
    if let dir = option("--dir") {
        root = dir
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    } else {
        var template = Array("/tmp/haul-bench-index-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    defer { if !arguments.contains("--keep") { try? FileManager.default.removeItem(atPath: root) } }

    let start = ContinuousClock.now
    try await generate(root: root, range: 0..<blobs)
    let generateSeconds = seconds(since: start)
    let build = try runChild(["measure", root, String(blobs), String(lookups)])
    let reuse = try runChild(["measure", root, String(blobs), String(lookups)])
    let added = blobsPerPack * packsPerIndexFile
    try await generate(root: root, range: blobs..<(blobs + added))
    let extend = try runChild(["measure", root, String(blobs + added), String(lookups)])
    guard (extend as? [String: Any])?["indexFilesRead"] as? Int == 1 else {
        throw HaulError(.internalError, "the third child did not extend the cache: \(extend)")
    }
    print(
        json([
            "blobs": blobs, "generateSeconds": generateSeconds, "build": build, "reuse": reuse,
            "extendAddedBlobs": added, "extend": extend,
        ]))
} catch {
    FileHandle.standardError.write(Data("haul-bench-index: \(error)\n".utf8))
    exit(1)
}
