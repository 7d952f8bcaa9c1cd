import Foundation
import HaulCrypto
import HaulFormat
import HaulRepository
import HaulStorage
import HaulTesting

@testable import HaulEngine

let enginePassphrase = Array("engine test passphrase".utf8)
let smallChunks = [ChunkerClass(minFileSize: 0, min: 4 << 10, avg: 16 << 10, max: 128 << 10)]

/// A fresh temporary directory, removed by `cleanup`.
struct TempDir {
    let path: String
    init(_ label: String = "haul-test") throws {
        path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func sub(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

func xorshiftBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        out[i] = UInt8(truncatingIfNeeded: x)
    }
    return out
}

/// Writes a small tree of regular files and sets their mtimes in the past (so the files cache applies).
func writeSimpleTree(at root: String, files: Int, bytesEach: Int, seed: UInt64) throws {
    try FileManager.default.createDirectory(atPath: root + "/sub/deeper", withIntermediateDirectories: true)
    for i in 0..<files {
        let dir = i % 3 == 0 ? root : (i % 3 == 1 ? root + "/sub" : root + "/sub/deeper")
        let path = dir + "/file-\(i).bin"
        try Data(xorshiftBytes(bytesEach + i * 1000, seed: seed &+ UInt64(i))).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
    }
}

func newRepository(_ store: any BlobStore, chunker: [ChunkerClass] = smallChunks) async throws -> Repository {
    try await Repository.initialize(
        store: store, passphrase: enginePassphrase, kdf: .test, hostname: "test", username: "test", chunker: chunker,
        packSize: 1 << 20)
}

func backup(_ repository: Repository, _ paths: [String], parent: StoredSnapshot? = nil, excludes: [String] = [])
    async throws
    -> BackupResult
{
    var options = BackupOptions(hostname: "test", username: "test")
    options.parent = parent
    options.excludes = try excludes.map { try PathPattern($0) }
    let leases = LeaseManager(store: repository.store, hostname: "test")
    let finalOptions = options
    return try await leases.withLease(.shared, purpose: "backup") {
        try await Archiver(repository: repository).backup(paths: paths.map { Array($0.utf8) }, options: finalOptions)
    }
}

func restore(_ repository: Repository, _ snapshot: Snapshot, to target: String) async throws -> RestoreSummary {
    let restorer = Restorer(
        source: repository, options: RestoreOptions(), progress: ProgressCounters(), warnings: WarningLog())
    return try await restorer.restore(root: try snapshot.treeID(), to: Array(target.utf8))
}

/// Byte-for-byte comparison of regular files and directory structure (metadata is covered by TreeComparison).
func sameFiles(_ a: String, _ b: String) throws -> Bool {
    let fm = FileManager.default
    let la = try fm.subpathsOfDirectory(atPath: a).sorted()
    let lb = try fm.subpathsOfDirectory(atPath: b).sorted()
    guard la == lb else { return false }
    for p in la {
        var isDir: ObjCBool = false
        _ = fm.fileExists(atPath: a + "/" + p, isDirectory: &isDir)
        if !isDir.boolValue && fm.contents(atPath: a + "/" + p) != fm.contents(atPath: b + "/" + p) { return false }
    }
    return true
}
