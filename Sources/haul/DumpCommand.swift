import ArgumentParser
import Foundation
import Glibc
import HaulEngine
import HaulFormat
import HaulRepository

struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write a file's content, or a directory as a tar archive, to standard output.",
        discussion: """
            For a file, the output is its content (holes written as zeros), so `haul dump … > copy` equals the \
            original. For a directory (or any entry with --archive tar) it is a POSIX tar archive (pax format) with \
            modes, owners, nanosecond mtimes, symlinks, hard links, FIFOs, devices and extended attributes \
            (SCHILY.xattr records; extract them with `tar --xattrs`). Names in the archive are the paths inside the \
            snapshot; PATH `/` archives the whole snapshot. Binary data is not written to a terminal unless --force \
            is given. Standard output carries the data, so --json writes its JSON to standard error: on success \
            {"snapshot", "path", "format": "content"|"tar", "bytes"}, on failure the usual {"error": …} object.

            Example: haul dump --repo /backup/repo latest data/etc | tar -x -C /tmp/restored
            """)

    enum Archive: String, ExpressibleByArgument, CaseIterable {
        case tar
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Snapshot id prefix or `latest`.")
    var snapshot: String

    @Argument(help: "Path inside the snapshot (as `haul ls` prints it); `/` for the whole snapshot.")
    var path: String

    @Option(name: .long, help: "Write a tar archive even for a single file.")
    var archive: Archive?

    @Flag(name: .long, help: "Write binary data to a terminal anyway.")
    var force = false

    func run() async throws {
        let repository = try await global.openRepository()
        let snap = try await repository.resolveSnapshot(snapshot)
        let root = try snap.snapshot.treeID()
        let components = argumentBytes(path).split(separator: 47).map(Array.init)
        let name = Array(components.joined(separator: [47]))
        let node: Node
        if name.isEmpty {
            node = Node(name: [], kind: .directory, mode: 0o755, subtree: root)
        } else {
            guard let found = try await TreeWalker(source: repository).find(root: root, path: name) else {
                throw HaulError(
                    .notFound,
                    "no entry /\(String(decoding: name, as: UTF8.self)) in snapshot \(snap.id.hex.prefix(16)); "
                        + "list the snapshot with `haul ls \(snap.id.hex.prefix(8))`")
            }
            node = found
        }
        let asTar = archive == .tar || node.kind != .file
        let toTerminal = isatty(1) == 1 && !force
        if asTar && toTerminal {
            throw HaulError(
                .invalidArgument,
                "refusing to write a tar archive to a terminal: redirect standard output (`> file.tar`, `| tar -x`) "
                    + "or pass --force")
        }
        let output = StandardOutput(refuseBinary: toTerminal)
        let dump = SnapshotDump(source: repository)
        if asTar {
            try await dump.writeTar(of: node, name: name, to: output.write)
        } else {
            try await dump.writeContent(of: node, path: name, to: output.write)
        }
        try output.flush()
        if global.json {
            struct Out: Encodable {
                let snapshot: String
                let path: LosslessBytes
                let format: String
                let bytes: UInt64
            }
            try printJSON(
                Out(
                    snapshot: snap.id.hex, path: LosslessBytes(name), format: asTar ? "tar" : "content",
                    bytes: output.written),
                to: .standardError)
        }
    }
}

/// Buffered writes to file descriptor 1; optionally refuses a stream that starts like binary data.
private final class StandardOutput {
    private var buffer: [UInt8] = []
    /// Bytes written to standard output so far.
    private(set) var written: UInt64 = 0
    private var checked: Bool
    private let limit = 1 << 20

    init(refuseBinary: Bool) {
        checked = !refuseBinary
        buffer.reserveCapacity(limit)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if !checked {
            checked = true
            if SnapshotDump.looksBinary(UnsafeRawBufferPointer(rebasing: bytes.prefix(8192))) {
                throw HaulError(
                    .invalidArgument,
                    "refusing to write binary data to a terminal: redirect standard output (`> file`) or pass --force")
            }
        }
        if buffer.count + bytes.count > limit { try flush() }
        if bytes.count >= limit {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(1, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw HaulError(.io, "cannot write to standard output: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        written += UInt64(bytes.count)
    }
}
