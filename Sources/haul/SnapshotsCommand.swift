import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots", abstract: "List snapshots, oldest first.",
        discussion: "Example: haul snapshots --repo /backup/repo --json")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let all = try await repository.listSnapshots()
        if global.json {
            struct Out: Encodable {
                let id: String
                let snapshot: Snapshot
            }
            try printJSON(all.map { Out(id: $0.id.hex, snapshot: $0.snapshot) })
            return
        }
        print("ID                TIME                     HOST             TAGS        SIZE        PATHS")
        for s in all {
            let t = HaulDate.format(s.snapshot.time).prefix(19).replacingOccurrences(of: "T", with: " ")
            print(
                "\(s.id.hex.prefix(16))  \(t)      \(s.snapshot.hostname.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                    + "\(s.snapshot.tags.joined(separator: ",").padding(toLength: 11, withPad: " ", startingAt: 0)) "
                    + "\(formatBytes(s.snapshot.summary.bytes).padding(toLength: 11, withPad: " ", startingAt: 0)) "
                    + s.snapshot.paths.map(\.description).joined(separator: " "))
        }
        print("\(all.count) snapshots")
    }
}

struct LsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the entries of a snapshot.",
        discussion: "Example: haul ls --repo /backup/repo latest data/etc --long")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Snapshot id prefix or `latest`.")
    var snapshot: String

    @Argument(help: "Only list this path inside the snapshot and below it.")
    var path: String?

    @Flag(name: [.short, .long], help: "Show mode, owner, size and time.")
    var long = false

    func run() async throws {
        let repository = try await global.openRepository()
        let snap = try await repository.resolveSnapshot(snapshot)
        struct Entry: Encodable {
            let path: LosslessBytes
            let type: String
            let mode: UInt32
            let uid: UInt32
            let gid: UInt32
            let size: UInt64
            let mtime: String
            let linkTarget: LosslessBytes?
        }
        var entries: [Entry] = []
        let json = global.json
        let long = self.long
        try await TreeWalker(source: repository).walk(
            root: try snap.snapshot.treeID(), prefix: argumentBytes(path ?? "")
        ) {
            p, node in
            let type: String =
                switch node.kind {
                case .file: "file"
                case .directory: "dir"
                case .symlink: "symlink"
                case .fifo: "fifo"
                case .characterDevice: "chardev"
                case .blockDevice: "blockdev"
                }
            let mtime = Date(timeIntervalSince1970: Double(node.mtime.seconds) + Double(node.mtime.nanoseconds) / 1e9)
            if json {
                entries.append(
                    Entry(
                        path: LosslessBytes(p), type: type, mode: node.mode, uid: node.uid, gid: node.gid,
                        size: node.size,
                        mtime: HaulDate.format(mtime),
                        linkTarget: node.kind == .symlink ? LosslessBytes(node.linkTarget) : nil))
            } else if long {
                let link = node.kind == .symlink ? " -> " + String(decoding: node.linkTarget, as: UTF8.self) : ""
                print(
                    "\(type.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(node.mode, radix: 8)) \(node.uid)/\(node.gid) "
                        + "\(String(node.size).padding(toLength: 12, withPad: " ", startingAt: 0)) \(HaulDate.format(mtime)) "
                        + "/\(String(decoding: p, as: UTF8.self))\(link)")
            } else {
                print("/" + String(decoding: p, as: UTF8.self))
            }
        }
        if json { try printJSON(entries) }
    }
}
