import Foundation
import Glibc
import HaulEngine
import HaulFormat

/// A `BlobSource` over dictionaries, with distinct made-up ids.
final class MemoryBlobSource: BlobSource, @unchecked Sendable {
    private(set) var trees: [BlobID: Tree] = [:]
    private(set) var data: [BlobID: [UInt8]] = [:]
    private var nextID: UInt64 = 1

    func loadTree(_ id: BlobID) async throws -> Tree {
        guard let tree = trees[id] else { throw HaulError(.notFound, "tree blob \(id.hex) not found") }
        return tree
    }

    func loadData(_ id: BlobID) async throws -> [UInt8] {
        guard let bytes = data[id] else { throw HaulError(.notFound, "data blob \(id.hex) not found") }
        return bytes
    }

    func newID() -> BlobID {
        defer { nextID += 1 }
        return BlobID(Digest256(w0: nextID, w1: 0xfeed, w2: 0, w3: nextID))
    }

    func addData(_ bytes: [UInt8]) -> BlobID {
        let id = newID()
        data[id] = bytes
        return id
    }

    func addTree(_ nodes: [Node]) -> BlobID {
        let id = newID()
        trees[id] = Tree(nodes: nodes)
        return id
    }

    /// A file node whose content is `pieces` at their offsets.
    func file(
        _ name: [UInt8], size: UInt64, pieces: [(offset: UInt64, bytes: [UInt8])], mode: UInt32 = 0o644,
        mtime: Node.Timestamp = .init(seconds: 1_700_000_000, nanoseconds: 123_456_789)
    ) -> Node {
        Node(
            name: name, kind: .file, mode: mode, mtime: mtime, size: size,
            chunks: pieces.map { Node.Chunk(offset: $0.offset, blob: addData($0.bytes)) })
    }

    func directory(
        _ name: [UInt8], _ nodes: [Node], mode: UInt32 = 0o755,
        mtime: Node.Timestamp = .init(seconds: 1_600_000_000, nanoseconds: 42)
    ) -> Node {
        Node(name: name, kind: .directory, mode: mode, mtime: mtime, subtree: addTree(nodes))
    }
}

/// A scratch directory under /tmp, removed (with `rm -rf`, which copes with paths beyond PATH_MAX) on release.
final class ScratchDirectory {
    let path: String
    var bytes: [UInt8] { Array(path.utf8) }

    init() {
        var template = Array("/tmp/haul-engine-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { _ = try? run("/bin/rm", "-rf", path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

/// Runs a tool and returns its standard output; throws when it exits non-zero.
@discardableResult
func run(_ tool: String, _ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw HaulError(.io, "\(tool) \(arguments) exited with \(process.terminationStatus)")
    }
    return String(decoding: output, as: UTF8.self)
}

/// Writes `bytes` to a new file at `path` (short paths only).
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// The whole content of a file, read through the library's `FileReader`.
func readAll(_ dir: DirectoryHandle, _ name: [UInt8]) throws -> [UInt8] {
    let reader = try FileReader(dir: dir, name: name)
    let size = Int(try reader.stat().size)
    var out = [UInt8](repeating: 0, count: size)
    let got = try out.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
    return Array(out[0..<got])
}

/// Deterministic filler bytes.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}
