import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Repair a damaged repository: rebuild the index, salvage snapshots.",
        discussion: """
            After a lost or damaged pack or index file: run `haul repair index`, then `haul repair snapshots`, then \
            `haul check`. Both take the exclusive lease (exit status 11 while anything else runs).

            Example: haul repair index --repo /backup/repo
            """,
        subcommands: [RepairIndexCommand.self, RepairSnapshotsCommand.self])
}

struct RepairIndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Rebuild the index from the pack headers alone.",
        discussion: """
            Reads the header of every pack (not its data), writes new index files that list every readable pack and \
            replace all existing index files, then deletes the old ones. Packs whose header cannot be read are \
            listed and their blobs are left out of the index; `haul repair snapshots` then removes the files that \
            need them. Exit status 3 means some packs were unreadable.

            Example: haul repair index --repo /backup/repo
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let report = try await global.leases(repository).withLease(.exclusive, purpose: "repair index") {
            try await IndexRebuilder(repository: repository).rebuild()
        }
        if global.json {
            try printJSON(report)
        } else if !global.quiet || !report.packsUnreadable.isEmpty {
            for p in report.packsUnreadable { printErr("error: unreadable pack \(p.pack): \(p.message)") }
            print(
                "indexed \(report.packsIndexed) packs with \(report.blobs) blobs; \(report.packsUnreadable.count) packs "
                    + "unreadable; wrote \(report.indexFilesWritten) index files, removed \(report.indexFilesRemoved)")
            if !report.packsUnreadable.isEmpty {
                print("run `haul repair snapshots` to remove the files whose data was in the unreadable packs")
            }
        }
        if !report.packsUnreadable.isEmpty { throw ExitCode(ExitStatus.warnings) }
    }
}

struct RepairSnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "Salvage snapshots that refer to missing data.",
        discussion: """
            For every snapshot whose files refer to chunks missing from the index or have chunks that overlap or \
            pass the file's size (or whose directory trees are missing), writes a new snapshot without those files \
            (a directory whose tree is missing becomes empty), \
            tagged `repaired`, with the damaged snapshot as parent and the same time. Every removed path is listed. \
            Snapshots without damage are left alone. Run `haul repair index` first if packs were lost.

            Example: haul repair snapshots --repo /backup/repo --forget
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Delete each damaged snapshot after its repaired copy is written.") var forget = false
    @Flag(name: .long, help: "Only list the damage; write nothing.") var dryRun = false

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let forget = self.forget
        let dryRun = self.dryRun
        let report = try await global.leases(repository).withLease(.exclusive, purpose: "repair snapshots") {
            try await SnapshotRepairer(repository: repository).repair(forget: forget, dryRun: dryRun)
        }
        if global.json {
            try printJSON(report)
            return
        }
        for d in report.damaged {
            print("snapshot \(d.snapshot.prefix(16)):")
            for p in d.emptiedDirectories { print("  directory emptied (tree missing): /\(p)") }
            for p in d.removedFiles { print("  file removed (data missing): /\(p)") }
            if let r = d.repaired {
                let how = d.reused ? "already saved as" : "saved as"
                print("  \(how) snapshot \(r.prefix(16))\(d.forgotten ? ", damaged snapshot removed" : "")")
            }
        }
        let verb = dryRun ? "would repair" : "repaired"
        print("\(report.snapshots) snapshots: \(report.intact) intact, \(verb) \(report.damaged.count)")
        if !dryRun && !forget && !report.damaged.isEmpty {
            print(
                "the damaged snapshots are kept and `haul check` still reports them; remove them with "
                    + "`haul repair snapshots --forget` (their repaired copies are reused)")
        }
    }
}
