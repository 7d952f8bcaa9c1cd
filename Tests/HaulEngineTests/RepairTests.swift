import Foundation
import HaulFormat
import HaulRepository
import HaulStorage
import Testing

@testable import HaulEngine

/// A repeatable random source for the random pack subsets.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A backed-up source tree in a memory store with many small (1 MiB) packs.
struct DamageFixture {
    let tmp: TempDir
    let source: String
    let store: any BlobStore
    let repository: Repository
    let snapshot: StoredSnapshot

    init(_ label: String, files: Int = 12) async throws {
        tmp = try TempDir(label)
        source = tmp.sub("src")
        try writeSimpleTree(at: source, files: files, bytesEach: 450_000, seed: 77)
        store = MemoryBlobStore()
        repository = try await newRepository(store)
        let result = try await backup(repository, [source])
        snapshot = StoredSnapshot(id: result.snapshotID, snapshot: result.snapshot)
    }

    /// A freshly opened repository over the same store, as a new process would see it.
    func reopen() async throws -> Repository {
        try await Repository.open(store: store, passphrase: enginePassphrase)
    }

    func packs(_ type: BlobType? = nil) async throws -> [(id: PackID, size: Int64)] {
        var out: [(id: PackID, size: Int64)] = []
        for info in try await store.list(.data) {
            let id = try #require(ObjectID(hex: info.key.name))
            if let type, try await repository.readPackHeader(id, size: info.size).type != type { continue }
            out.append((id, info.size))
        }
        return out.sorted { $0.id < $1.id }
    }

    /// Flips one byte of a pack at `offset` (negative: from the end).
    func flip(_ pack: PackID, at offset: Int) async throws {
        let key = ObjectKey(.data, pack)
        var bytes = try await store.get(key)
        bytes[offset >= 0 ? offset : bytes.count + offset] ^= 0x40
        try await store.put(key, bytes)
    }

    /// Paths (inside the snapshot) of the files with a chunk in `pack`.
    func files(withDataIn pack: PackID) async throws -> [String] {
        var out: [String] = []
        let index = repository.index
        try await TreeWalker(source: repository).walk(root: try snapshot.snapshot.treeID()) { path, node in
            if node.kind == .file, node.chunks.contains(where: { index.location(of: $0.blob)?.pack == pack }) {
                out.append(String(decoding: path, as: UTF8.self))
            }
        }
        return out.sorted()
    }

    /// Every regular file below `root`, relative to it, with its content.
    static func contents(of root: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        for p in try fm.subpathsOfDirectory(atPath: root) {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: root + "/" + p, isDirectory: &isDir)
            if !isDir.boolValue { out[p] = fm.contents(atPath: root + "/" + p) }
        }
        return out
    }
}

@Suite struct PackSubsetTests {
    static let valid: [(String, PackSubset)] = [
        ("1/1", .group(1, of: 1)), ("3/7", .group(3, of: 7)), ("10%", .percent(10)), ("2.5%", .percent(2.5)),
        ("100%", .percent(100)), ("500M", .bytes(500 << 20)), ("2G", .bytes(2 << 30)), ("1.5GiB", .bytes(3 << 29)),
        ("64k", .bytes(64 << 10)), ("4096", .bytes(4096)), ("1TB", .bytes(1 << 40)),
    ]

    @Test(arguments: valid)
    func parses(_ text: String, _ expected: PackSubset) throws {
        #expect(try PackSubset(parsing: text) == expected)
    }

    @Test(arguments: [
        "", "0/3", "4/3", "1/0", "a/b", "1/", "-1/2", "0%", "101%", "x%", "12Q", "M", "0", "1.2.3G", "-5M",
    ])
    func refuses(_ text: String) {
        #expect(throws: HaulError.self) { try PackSubset(parsing: text) }
    }

    @Test func groupsPartitionAndRandomSubsetsHaveTheirSize() {
        let packs = (0..<50).map { i in
            (id: ObjectID(Digest256(w0: UInt64(i) &* 0x9E37_79B9_7F4A_7C15, w1: 1, w2: 2, w3: 3)), size: UInt64(100))
        }
        var random = SplitMix(state: 1)
        let groups = (1...4).map { PackSubset.group($0, of: 4).select(from: packs, using: &random) }
        #expect(groups.reduce(0) { $0 + $1.count } == 50)
        #expect(Set(groups.joined()) == Set(packs.map(\.id)))
        #expect(PackSubset.percent(10).select(from: packs, using: &random).count == 5)
        #expect(PackSubset.percent(1).select(from: packs, using: &random).count == 1)
        #expect(PackSubset.bytes(250).select(from: packs, using: &random).count == 3)
        #expect(PackSubset.bytes(300).select(from: packs, using: &random).count == 3)
        #expect(Set(PackSubset.percent(100).select(from: packs, using: &random)) == Set(packs.map(\.id)))
    }

    static func packs(_ n: Int) -> [(id: PackID, size: UInt64)] {
        (0..<n).map { i in
            (id: ObjectID(Digest256(w0: UInt64(i) &* 0x9E37_79B9_7F4A_7C15, w1: 1, w2: 2, w3: 3)), size: UInt64(100))
        }
    }

    /// `runs` successive runs, each starting from the cursor the previous one left.
    static func roll(_ subset: PackSubset, _ packs: [(id: PackID, size: UInt64)], runs: Int) -> [[PackID]] {
        var cursor = SubsetCursor()
        return (0..<runs).map { _ in
            let (chosen, next) = subset.select(from: packs, cursor: cursor)
            cursor = next
            return chosen
        }
    }

    @Test(arguments: [(10, 30.0), (50, 10.0), (7, 50.0), (3, 30.0), (1, 25.0), (20, 100.0), (33, 2.5)])
    func percentRollsSoCeil100OverPRunsReadEveryPackExactlyOnce(count: Int, percent: Double) {
        let packs = Self.packs(count)
        let runs = Int((100 / percent).rounded(.up))
        let cycle = Self.roll(.percent(percent), packs, runs: 2 * runs)
        let first = cycle.prefix(runs).flatMap { $0 }
        #expect(first.count == count, "\(cycle.map(\.count))")
        #expect(Set(first) == Set(packs.map(\.id)))
        // Each run reads at most its share, rounded up; the next cycle starts over in the same order.
        #expect(cycle.prefix(runs).allSatisfy { $0.count <= Int((Double(count) * percent / 100).rounded(.up)) })
        #expect(Array(cycle.suffix(runs)) == Array(cycle.prefix(runs)))
    }

    @Test func sizeRollsOnFromTheCursorAndWrapsAround() {
        let packs = Self.packs(10)
        let sorted = packs.map(\.id).sorted()
        let runs = Self.roll(.bytes(250), packs, runs: 4)
        #expect(runs[0] == Array(sorted[0..<3]))
        #expect(runs[1] == Array(sorted[3..<6]))
        #expect(runs[2] == Array(sorted[6..<9]))
        // Wraps to the lowest ids, never reading a pack twice in one run.
        #expect(runs[3] == [sorted[0], sorted[1], sorted[9]])
        #expect(Self.roll(.bytes(1 << 40), packs, runs: 1)[0] == sorted)
    }

    @Test func theCursorSurvivesAFileAndAMissingOneStartsOver() throws {
        let dir = NSTemporaryDirectory() + "haul-cursor-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(SubsetCursor.load(directory: dir) == SubsetCursor())
        var cursor = SubsetCursor()
        cursor.lastPack = String(repeating: "ab", count: 32)
        cursor.run = 2
        cursor.runs = 5
        try cursor.save(directory: dir)
        #expect(SubsetCursor.load(directory: dir) == cursor)
        try "{not json".write(toFile: dir + "/" + SubsetCursor.fileName, atomically: true, encoding: .utf8)
        #expect(SubsetCursor.load(directory: dir) == SubsetCursor())
    }
}

@Suite struct CheckSubsetTests {
    @Test func rollingSubsetReadsEveryPackOnceAndFindsTheCorruptedOne() async throws {
        let f = try await DamageFixture("check-subset")
        defer { f.tmp.cleanup() }
        let all = try await f.packs().map(\.id)
        #expect(all.count >= 4)

        var seen: [String] = []
        for n in 1...3 {
            let report = try await Checker(repository: try await f.reopen()).check(
                readData: true, subset: .group(n, of: 3))
            #expect(report.isClean, "\(report.problems)")
            #expect(report.readSubset == "\(n)/3")
            #expect(report.packsRead == report.readPacks.count)
            seen += report.readPacks
        }
        #expect(seen.sorted() == all.map(\.hex).sorted())  // every pack, exactly once

        // Damage one data pack: only the group that holds it finds it.
        let victim = try #require(try await f.packs(.data).first?.id)
        try await f.flip(victim, at: PackLayout.preambleLength + 20)
        let group = PackSubset.group(of: victim, groups: 3)
        for n in 1...3 {
            let report = try await Checker(repository: try await f.reopen()).check(
                readData: true, subset: .group(n, of: 3))
            if n == group {
                #expect(report.problems.map(\.kind) == ["packCorrupted"])
                #expect(report.problems.first?.object == victim.hex)
                #expect(!report.affectedFiles.isEmpty)
            } else {
                #expect(report.isClean)
                #expect(!report.readPacks.contains(victim.hex))
            }
        }
    }

    @Test func randomSubsetsReadTheirShare() async throws {
        let f = try await DamageFixture("check-random")
        defer { f.tmp.cleanup() }
        let packs = try await f.packs()
        var random = SplitMix(state: 9)
        let half = try await Checker(repository: try await f.reopen()).check(
            readData: true, subset: .percent(50), using: &random)
        #expect(half.readPacks.count == (packs.count + 1) / 2)
        #expect(half.packsRead == half.readPacks.count)
        let one = try await Checker(repository: try await f.reopen()).check(
            readData: true, subset: .bytes(1), using: &random)
        #expect(one.readPacks.count == 1)
        #expect(one.bytesRead == UInt64(packs.first { $0.id.hex == one.readPacks[0] }!.size))
    }
}

@Suite struct IndexRebuilderTests {
    @Test func packHeaderFromRangedReadsEqualsTheWholePackParse() async throws {
        let f = try await DamageFixture("pack-header", files: 3)
        defer { f.tmp.cleanup() }
        for p in try await f.packs() {
            let whole = try await f.repository.readPack(p.id)
            for prefetch in [4, 64, 1 << 20] {  // header after the trailer read, partly in it, wholly in it
                let ranged = try await f.repository.readPackHeader(p.id, size: p.size, prefetch: prefetch)
                #expect(ranged.type == whole.type)
                #expect(ranged.info.salt == whole.salt)
                #expect(ranged.info.entries == whole.entries)
                #expect(ranged.info.size == UInt64(whole.bytes.count))
            }
        }
        await #expect(throws: HaulError.self) {
            try await f.repository.readPackHeader(try await f.packs()[0].id, size: 30)
        }
    }

    @Test func rebuildsALostIndexFromPackHeaders() async throws {
        let f = try await DamageFixture("repair-index")
        defer { f.tmp.cleanup() }
        let before = try await f.reopen().loadIndex()
        let oldIndex = try await f.store.list(.index)
        #expect(!oldIndex.isEmpty)
        for info in oldIndex { try await f.store.delete(info.key) }

        let repo = try await f.reopen()
        #expect(try await repo.loadIndex().blobs == 0)
        let report = try await IndexRebuilder(repository: repo).rebuild()
        #expect(report.packsIndexed == (try await f.packs().count))
        #expect(report.blobs == before.blobs)
        #expect(report.packsUnreadable.isEmpty)
        #expect(report.indexFilesWritten == 1)
        #expect(report.indexFilesRemoved == 0)

        let fresh = try await f.reopen()
        let check = try await Checker(repository: fresh).check(readData: true)
        #expect(check.isClean, "\(check.problems)")
        #expect(check.blobs == before.blobs)
        let target = f.tmp.sub("restore")
        _ = try await restore(fresh, f.snapshot.snapshot, to: target)
        #expect(try sameFiles(f.source, target + "/src"))
    }

    @Test func aPackOfAnUnknownVersionStopsTheRepairBeforeAnythingIsWritten() async throws {
        let f = try await DamageFixture("repair-version")
        defer { f.tmp.cleanup() }
        let oldIndex = Set(try await f.store.list(.index).map(\.key.name))
        let packs = try await f.packs(.data)
        try await f.flip(packs[0].id, at: 8)  // the preamble's version byte: 2 becomes 66

        await #expect { try await IndexRebuilder(repository: try await f.reopen()).rebuild() } throws: {
            $0.haulCode == .unsupportedVersion && "\($0)".contains(packs[0].id.hex)
        }
        #expect(Set(try await f.store.list(.index).map(\.key.name)) == oldIndex)
    }

    @Test func supersedesAndRemovesExistingIndexFilesAndReportsAPackWithABadHeader() async throws {
        let f = try await DamageFixture("repair-header")
        defer { f.tmp.cleanup() }
        let oldIndex = Set(try await f.store.list(.index).map(\.key.name))
        let packs = try await f.packs(.data)
        let victim = packs[packs.count / 2]
        let victimBlobs = try await f.repository.readPackHeader(victim.id, size: victim.size).info.entries.count
        let before = try await f.reopen().loadIndex()
        try await f.flip(victim.id, at: -10)  // inside the sealed header

        let report = try await IndexRebuilder(repository: try await f.reopen()).rebuild()
        #expect(report.packsUnreadable.map(\.pack) == [victim.id.hex])
        #expect(report.packsUnreadable.first?.message.contains("header") == true)
        #expect(report.packsIndexed == (try await f.packs().count) - 1)
        #expect(report.blobs == before.blobs - victimBlobs)
        #expect(report.indexFilesRemoved == oldIndex.count)
        let now = Set(try await f.store.list(.index).map(\.key.name))
        #expect(now.isDisjoint(with: oldIndex))
        #expect(now.count == report.indexFilesWritten)

        // The files of that pack are now known to be missing; nothing else is.
        let check = try await Checker(repository: try await f.reopen()).check(readData: false)
        #expect(check.problems.allSatisfy { $0.kind == "blobMissing" })
        #expect(check.unreferencedPacks == [victim.id.hex])
    }
}

@Suite struct SnapshotRepairerTests {
    @Test func lostDataPackRemovesExactlyItsFilesAndTheRestRestores() async throws {
        let f = try await DamageFixture("repair-snapshots")
        defer { f.tmp.cleanup() }
        let packs = try await f.packs(.data)
        let victim = packs[1].id
        let expected = try await f.files(withDataIn: victim)
        #expect(!expected.isEmpty)
        try await f.store.delete(ObjectKey(.data, victim))

        // The index still names the lost pack: repair snapshots asks for repair index first.
        await #expect(throws: HaulError.self) {
            try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: false, dryRun: false)
        }
        _ = try await IndexRebuilder(repository: try await f.reopen()).rebuild()

        let dry = try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: true, dryRun: true)
        #expect(dry.damaged.first?.removedFiles.map(\.description) == expected)
        #expect(dry.damaged.first?.repaired == nil)
        #expect(try await f.store.list(.snapshots).count == 1)

        let kept = try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: false, dryRun: false)
        let first = try #require(kept.damaged.first)
        #expect(!first.forgotten && !first.reused)
        #expect(try await f.store.list(.snapshots).count == 2)

        // A later run with --forget finds the damage again, reuses the salvaged copy and removes the original.
        let report = try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: true, dryRun: false)
        #expect(report.snapshots == 2)
        #expect(report.intact == 1)
        #expect(report.damaged.count == 1)
        let damage = try #require(report.damaged.first)
        #expect(damage.snapshot == f.snapshot.id.hex)
        #expect(damage.removedFiles.map(\.description) == expected)
        #expect(damage.emptiedDirectories.isEmpty)
        #expect(damage.reused && damage.repaired == first.repaired)
        #expect(damage.forgotten)

        let repo = try await f.reopen()
        let snapshots = try await repo.listSnapshots()
        #expect(snapshots.map(\.id.hex) == [try #require(damage.repaired)])
        let fixed = try #require(snapshots.first?.snapshot)
        #expect(fixed.parent == f.snapshot.id.hex)
        #expect(fixed.tags.contains("repaired"))
        #expect(HaulDate.format(fixed.time) == HaulDate.format(f.snapshot.snapshot.time))
        #expect(fixed.startNanos == f.snapshot.snapshot.startNanos)
        #expect(fixed.paths == f.snapshot.snapshot.paths)
        #expect(fixed.summary.files == f.snapshot.snapshot.summary.files - expected.count)

        let check = try await Checker(repository: repo).check(readData: true)
        #expect(check.isClean, "\(check.problems)")
        let target = f.tmp.sub("restore")
        _ = try await restore(repo, fixed, to: target)
        var want = try DamageFixture.contents(of: f.tmp.path).filter { $0.key.hasPrefix("src/") }
        for p in expected { #expect(want.removeValue(forKey: p) != nil) }
        let got = try DamageFixture.contents(of: target)
        #expect(got.keys.sorted() == want.keys.sorted())
        #expect(got == want)
        for p in expected { #expect(!FileManager.default.fileExists(atPath: target + "/" + p)) }

        // Nothing is damaged any more: a second run touches nothing.
        let again = try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: true, dryRun: false)
        #expect(again.damaged.isEmpty && again.intact == 1)
    }

    @Test func lostTreesBecomeEmptyDirectoriesAndIntactSnapshotsAreUntouched() async throws {
        let f = try await DamageFixture("repair-trees", files: 4)
        defer { f.tmp.cleanup() }
        // A second backup of another tree writes its own tree pack.
        let other = f.tmp.sub("other")
        try writeSimpleTree(at: other, files: 2, bytesEach: 1000, seed: 5)
        let second = try await backup(try await f.reopen(), [other])
        let repo = try await f.reopen()
        try await repo.loadIndex()
        let firstTrees = try #require(repo.index.location(of: try f.snapshot.snapshot.treeID())?.pack)
        #expect(repo.index.location(of: try second.snapshot.treeID())?.pack != firstTrees)

        try await f.store.delete(ObjectKey(.data, firstTrees))
        _ = try await IndexRebuilder(repository: try await f.reopen()).rebuild()
        let report = try await SnapshotRepairer(repository: try await f.reopen()).repair(forget: true, dryRun: false)
        #expect(report.snapshots == 2)
        #expect(report.intact == 1)
        let damage = try #require(report.damaged.first)
        #expect(damage.snapshot == f.snapshot.id.hex)
        #expect(damage.emptiedDirectories == [LosslessBytes("")])  // the root itself
        #expect(damage.removedFiles.isEmpty)

        let after = try await f.reopen()
        let ids = Set(try await after.listSnapshots().map(\.id.hex))
        #expect(ids == [second.snapshotID.hex, try #require(damage.repaired)])
        let fixed = try await after.loadSnapshot(try #require(ObjectID(hex: damage.repaired!)))
        try await after.loadIndex()
        #expect(try await after.loadTree(try fixed.treeID()).nodes.isEmpty)
        let check = try await Checker(repository: after).check(readData: true)
        #expect(check.isClean, "\(check.problems)")
    }
}
