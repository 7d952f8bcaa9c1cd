import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show how much the snapshots hold and how much the repository stores for them.",
        discussion: """
            --mode restore (the default) counts the files, directories and other entries a restore of each \
            snapshot would create and the bytes it would write (file sizes, holes included; a hard-linked file is \
            counted once per snapshot). --mode raw counts the distinct blobs the snapshots reference, their \
            uncompressed and stored sizes and the compression ratio, plus the whole repository's packs and \
            snapshots. Without SNAPSHOT, every snapshot is counted.

            Example: haul stats --repo /backup/repo latest --mode raw
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case restore
        case raw
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Snapshot id prefixes or `latest` (default: all snapshots).")
    var snapshots: [String] = []

    @Option(name: .long, help: "restore: what a restore writes; raw: what the repository stores.")
    var mode: Mode = .restore

    func run() async throws {
        let repository = try await global.openRepository()
        let all = try await repository.listSnapshots()
        var chosen: [StoredSnapshot] = []
        if snapshots.isEmpty {
            chosen = all
        } else {
            for ref in snapshots {
                let s = try await repository.resolveSnapshot(ref)
                if !chosen.contains(where: { $0.id == s.id }) { chosen.append(s) }
            }
        }
        let stats = SnapshotStats(repository: repository)
        struct Out: Encodable {
            let mode: String
            let snapshots: [String]
            let restore: SnapshotStats.RestoreSize?
            let raw: SnapshotStats.RawData?
        }
        switch mode {
        case .restore:
            let r = try await stats.restoreSize(of: chosen)
            if global.json {
                try printJSON(Out(mode: "restore", snapshots: chosen.map(\.id.hex), restore: r, raw: nil))
                return
            }
            print("Snapshots:     \(r.snapshots)")
            print("Files:         \(r.files)")
            print("Directories:   \(r.directories)")
            print("Other entries: \(r.otherEntries) (symlinks, FIFOs, devices)")
            print("Restore size:  \(formatBytes(r.bytes)) (\(r.bytes) bytes; hard-linked files counted once)")
            if r.extraHardlinks > 0 {
                print("Hard links:    \(r.extraHardlinks) names link to a file already counted")
            }
        case .raw:
            let r = try await stats.rawData(of: chosen, repositorySnapshots: all.count)
            if global.json {
                try printJSON(Out(mode: "raw", snapshots: chosen.map(\.id.hex), restore: nil, raw: r))
                return
            }
            print("Snapshots:     \(r.snapshots) of \(r.repositorySnapshots)")
            print("Unique blobs:  \(r.blobs) (\(r.dataBlobs) data, \(r.treeBlobs) tree)")
            print(
                "Raw size:      \(formatBytes(r.rawBytes)) (\(r.rawBytes) bytes, \(formatBytes(r.dataRawBytes)) of it file data)"
            )
            print("Stored size:   \(formatBytes(r.storedBytes)) (\(r.storedBytes) bytes)")
            print("Compression:   \(String(format: "%.2f", r.compressionRatio))x")
            print(
                "Repository:    \(r.repositoryPacks) packs, \(formatBytes(r.repositoryPackBytes)), \(r.repositorySnapshots) snapshots"
            )
            if r.missingBlobs > 0 {
                print("warning: \(r.missingBlobs) referenced blobs are not in the index; run `haul check`")
            }
        }
    }
}
