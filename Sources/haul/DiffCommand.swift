import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two snapshots.",
        discussion: """
            One line per changed path, in path order: `+` added, `-` removed, `M` content changed, `U` only \
            metadata changed (mode, owner, mtime, extended attributes, symlink target), `T` type changed (a file \
            that became a symlink, say). Directories end with `/`. Everything inside an added or removed directory \
            is listed. The summary counts the changes and the data that came and went, measured as distinct blobs \
            of the changed files. Directories whose content is identical in both snapshots are skipped unread.

            Example: haul diff --repo /backup/repo 3fa2c1d0 latest
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The older snapshot (id prefix or `latest`).")
    var from: String

    @Argument(help: "The newer snapshot (id prefix or `latest`).")
    var to: String

    func run() async throws {
        let repository = try await global.openRepository()
        let a = try await repository.resolveSnapshot(from)
        let b = try await repository.resolveSnapshot(to)
        let result = try await SnapshotDiff(repository: repository).compare(
            old: try a.snapshot.treeID(), new: try b.snapshot.treeID())
        if global.json {
            struct Out: Encodable {
                let from: String
                let to: String
                let changes: [SnapshotDiff.Change]
                let summary: SnapshotDiff.Summary
            }
            try printJSON(Out(from: a.id.hex, to: b.id.hex, changes: result.changes, summary: result.summary))
            return
        }
        var text = ""
        for c in result.changes {
            text += "\(c.kind.marker)    /\(c.path.description)\(c.isDirectory ? "/" : "")\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
        let s = result.summary
        if !global.quiet {
            if !result.changes.isEmpty { print("") }
            print("Added:    \(s.added) entries")
            print("Removed:  \(s.removed) entries")
            print("Changed:  \(s.modified) content, \(s.metadata) metadata only, \(s.typeChanged) type")
            print(
                "Data:     +\(formatBytes(s.bytesAdded)) in \(s.blobsAdded) new blobs, "
                    + "-\(formatBytes(s.bytesRemoved)) in \(s.blobsRemoved) blobs no longer used")
        }
    }
}
