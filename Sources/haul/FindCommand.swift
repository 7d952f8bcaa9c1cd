import ArgumentParser
import Foundation
import HaulEngine
import HaulFormat
import HaulRepository

struct FindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Find files and directories by name in snapshots.",
        discussion: """
            PATTERN is matched against each entry's path inside the snapshot, with the rules of --exclude and \
            --include (docs/patterns.md): `*.conf` finds a name at any depth, `/data/etc/*` only directly below \
            data/etc, a trailing `/` finds only directories. Several patterns find what any of them matches. Every \
            snapshot is searched unless --snapshot or --newest narrows it; matches are listed oldest snapshot first.

            Example: haul find --repo /backup/repo '*.sqlite' --newest 5
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Glob patterns (docs/patterns.md).")
    var patterns: [String]

    @Option(name: .long, help: "Search only this snapshot (id prefix or `latest`; repeatable).")
    var snapshot: [String] = []

    @Option(name: .long, help: "Search only the N newest of the snapshots.")
    var newest: Int?

    func validate() throws {
        if patterns.isEmpty { throw ValidationError("give a PATTERN to search for") }
        if let newest, newest < 1 { throw ValidationError("--newest must be at least 1") }
    }

    func run() async throws {
        let parsed = try patterns.map { try PathPattern($0) }
        let repository = try await global.openRepository()
        var chosen: [StoredSnapshot] = []
        if snapshot.isEmpty {
            chosen = try await repository.listSnapshots()
        } else {
            for ref in snapshot {
                let s = try await repository.resolveSnapshot(ref)
                if !chosen.contains(where: { $0.id == s.id }) { chosen.append(s) }
            }
            chosen.sort { ($0.snapshot.startNanos, $0.id) < ($1.snapshot.startNanos, $1.id) }
        }
        if let newest { chosen = Array(chosen.suffix(newest)) }
        let times = Dictionary(chosen.map { ($0.id, $0.snapshot.time) }, uniquingKeysWith: { a, _ in a })
        let matches = try await SnapshotSearch(source: repository).matches(in: chosen, patterns: parsed)
        if global.json {
            struct Out: Encodable {
                let snapshot: String
                let time: Date
                let path: LosslessBytes
                let type: String
                let size: UInt64
                let mtime: String
                let linkTarget: LosslessBytes?
            }
            try printJSON(
                matches.map { m in
                    Out(
                        snapshot: m.snapshot.hex, time: times[m.snapshot] ?? Date(timeIntervalSince1970: 0),
                        path: LosslessBytes(m.path), type: Self.typeName(m.node.kind), size: m.node.size,
                        mtime: Self.format(m.node.mtime),
                        linkTarget: m.node.kind == .symlink ? LosslessBytes(m.node.linkTarget) : nil)
                })
            return
        }
        var text = ""
        for m in matches {
            let time = HaulDate.format(times[m.snapshot] ?? Date(timeIntervalSince1970: 0)).prefix(19)
                .replacingOccurrences(of: "T", with: " ")
            let type = Self.typeName(m.node.kind).padding(toLength: 8, withPad: " ", startingAt: 0)
            let size = String(m.node.size).padding(toLength: 12, withPad: " ", startingAt: 0)
            let dir = m.node.kind == .directory ? "/" : ""
            text +=
                "\(m.snapshot.hex.prefix(16))  \(time)  \(type) \(size) \(Self.format(m.node.mtime))  "
                + "/\(String(decoding: m.path, as: UTF8.self))\(dir)\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
        if !global.quiet {
            let inSnapshots = Set(matches.map(\.snapshot)).count
            print("\(matches.count) matches in \(inSnapshots) of \(chosen.count) snapshots")
        }
    }

    static func typeName(_ kind: Node.Kind) -> String {
        switch kind {
        case .file: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        case .fifo: "fifo"
        case .characterDevice: "chardev"
        case .blockDevice: "blockdev"
        }
    }

    static func format(_ t: Node.Timestamp) -> String {
        HaulDate.format(Date(timeIntervalSince1970: Double(t.seconds) + Double(t.nanoseconds) / 1e9))
    }
}
