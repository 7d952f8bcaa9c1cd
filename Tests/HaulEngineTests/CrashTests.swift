import Foundation
import HaulFormat
import HaulRepository
import HaulStorage
import HaulTesting
import Testing

@testable import HaulEngine

/// An interrupted backup or prune at any write leaves a repository that checks clean, and the next run succeeds
/// and reuses what was written (issue: crash safety, format.md §11).
@Suite(.serialized) struct CrashTests {
    /// `lands`: whether the crashing write itself reaches the store (durable but never acknowledged) or is dropped
    /// like every write that was not yet durable.
    @Test(arguments: [false, true]) func backupInterruptedAtEveryWrite(lands: Bool) async throws {
        let tmp = try TempDir("crash-backup-\(lands)")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSimpleTree(at: source, files: 6, bytesEach: 400_000, seed: 11)
        let pristine = MemoryBlobStore()
        _ = try await newRepository(pristine)
        let initial = await pristine.snapshot()

        // Count the writes of an uninterrupted backup.
        let counting = CrashingBlobStore(base: MemoryBlobStore(contents: initial), crashAfterWrites: Int.max)
        let full = try await Repository.open(store: counting, passphrase: enginePassphrase)
        try await full.loadIndex()
        let fullRun = try await backup(full, [source])
        let fullDataBlobs = fullRun.snapshot.summary.dataBlobsNew
        let total = await counting.writesPerformed
        #expect(total >= 5)

        var crashes = 0
        for n in 0..<total {
            let disk = MemoryBlobStore(contents: initial)
            let crashing = CrashingBlobStore(base: disk, crashAfterWrites: n, crashingWriteLands: lands)
            let repo = try await Repository.open(store: crashing, passphrase: enginePassphrase)
            try await repo.loadIndex()
            // The last write is dropping the lease, which a backup survives; every other crash fails it. The number
            // of writes varies by a pack or two between runs (blobs are sealed in two lanes per type, so the data can
            // end in one pack or two), so the write that crashed decides, not its number.
            let survived = (try? await backup(repo, [source])) != nil
            let crashed = await crashing.hasCrashed
            if crashed { crashes += 1 }
            let atLeaseRelease = await crashing.crashingWrite.map { $0.isDelete && $0.key.kind == .leases } ?? false
            #expect(survived == (!crashed || atLeaseRelease), "crash after \(n) of about \(total) writes")

            // "Reboot": only what completed survives.
            let rebooted = MemoryBlobStore(contents: await disk.snapshot())
            let after = try await Repository.open(store: rebooted, passphrase: enginePassphrase)
            let report = try await Checker(repository: after).check(readData: true)
            #expect(report.isClean, "check after crash at write \(n): \(report.problems)")

            let dataPacksLeft = await rebooted.list(.data).count
            // The next backup first indexes the packs the interrupted one stored but had not indexed yet.
            let adopted = try await OrphanPackRecovery(
                repository: after, leases: LeaseManager(store: rebooted, hostname: "test")
            ).adopt()
            #expect(adopted.skippedBusy == false)
            let again = try await backup(after, [source])
            #expect(again.warnings.isEmpty)
            // Reuse: blobs of packs the interrupted run stored (indexed or adopted) are not stored again.
            if report.blobs > 0 || dataPacksLeft > 0 {
                #expect(again.snapshot.summary.dataBlobsNew < fullDataBlobs, "crash at write \(n) reused nothing")
            }
            let final = try await Checker(repository: after).check(readData: true)
            #expect(final.isClean)
            let target = tmp.sub("restore-\(n)")
            _ = try await restore(after, again.snapshot, to: target)
            #expect(try sameFiles(source, target + "/src"))
        }
        #expect(crashes >= total - 2, "only \(crashes) of \(total) runs crashed")
    }

    @Test(arguments: [false, true]) func pruneInterruptedAtEveryWrite(lands: Bool) async throws {
        let tmp = try TempDir("crash-prune-\(lands)")
        defer { tmp.cleanup() }
        let source = tmp.sub("src")
        try writeSimpleTree(at: source, files: 6, bytesEach: 300_000, seed: 5)
        let disk0 = MemoryBlobStore()
        let repo0 = try await newRepository(disk0)
        let first = try await backup(repo0, [source])
        // Replace half the files so the first snapshot's data becomes partly unused.
        try writeSimpleTree(at: source, files: 3, bytesEach: 300_000, seed: 99)
        let second = try await backup(repo0, [source])
        try await repo0.deleteSnapshot(first.snapshotID)
        let initial = await disk0.snapshot()

        let counting = CrashingBlobStore(base: MemoryBlobStore(contents: initial), crashAfterWrites: Int.max)
        let full = try await Repository.open(store: counting, passphrase: enginePassphrase)
        let fullReport = try await Pruner(repository: full).prune(dryRun: false)
        #expect(fullReport.packsDeleted + fullReport.packsRepacked > 0)
        let total = await counting.writesPerformed

        var crashes = 0
        for n in 0..<total {
            let disk = MemoryBlobStore(contents: initial)
            let crashing = CrashingBlobStore(base: disk, crashAfterWrites: n, crashingWriteLands: lands)
            let repo = try await Repository.open(store: crashing, passphrase: enginePassphrase)
            // Every crash fails the prune. A run that repacks into fewer packs than the counting run (two sealing
            // lanes per type) may finish before write n: then it must succeed.
            let pruned = (try? await Pruner(repository: repo).prune(dryRun: false)) != nil
            let crashed = await crashing.hasCrashed
            if crashed { crashes += 1 }
            #expect(pruned == !crashed, "prune with a crash after \(n) of about \(total) writes")
            let rebooted = MemoryBlobStore(contents: await disk.snapshot())
            let after = try await Repository.open(store: rebooted, passphrase: enginePassphrase)
            let report = try await Checker(repository: after).check(readData: true)
            #expect(report.isClean, "check after prune crash at write \(n): \(report.problems)")
            let target = tmp.sub("restore-\(n)")
            _ = try await restore(after, second.snapshot, to: target)
            #expect(try sameFiles(source, target + "/src"))
            // A second prune completes.
            _ = try await Pruner(repository: after).prune(dryRun: false)
            #expect(try await Checker(repository: after).check(readData: true).isClean)
        }
        #expect(crashes >= total - 2, "only \(crashes) of \(total) runs crashed")
    }
}
