import HaulFormat
import HaulRepository
import HaulStorage

/// One problem `check` found.
public struct CheckProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public var kind: String
    public var object: String
    public var message: String
    public init(kind: String, object: String, message: String) {
        self.kind = kind
        self.object = object
        self.message = message
    }
    public var description: String { message }
}

/// Files whose content is damaged, per snapshot.
public struct AffectedFile: Sendable, Hashable, Codable {
    public var snapshot: String
    public var path: LosslessBytes
}

public struct CheckReport: Sendable, Codable {
    public var indexFiles = 0
    public var packs = 0
    public var blobs = 0
    public var snapshots = 0
    public var trees = 0
    public var packsRead = 0
    public var bytesRead: UInt64 = 0
    /// The subset of packs read (`all`, `2/7`, `10%`, `524288000 bytes`), `nil` without reading data.
    public var readSubset: String?
    /// The packs whose data was read, in ascending id order (missing packs and those of the wrong size are not read).
    public var readPacks: [String] = []
    public var problems: [CheckProblem] = []
    public var unreferencedPacks: [String] = []
    public var affectedFiles: [AffectedFile] = []
    /// Where the next rolling `P%` or `SIZE` run continues (`nil` unless one ran with a cursor).
    public var cursor: SubsetCursor?
    public var isClean: Bool { problems.isEmpty }
}

/// Verifies a repository (format.md §11): the index against the packs present, every snapshot's trees, the blobs
/// they name and the layout of each file's chunks (format.md §9), and with `readData` every byte of every pack
/// (SHA-256 name, header, each blob's tag and id), or of a subset of the packs (`PackSubset`).
public struct Checker: Sendable {
    public let repository: Repository
    public let progress: ProgressCounters

    public init(repository: Repository, progress: ProgressCounters = ProgressCounters()) {
        self.repository = repository
        self.progress = progress
    }

    /// Checks the repository; with `readData`, reads the packs `subset` selects (random choices from the system
    /// random source).
    public func check(readData: Bool, subset: PackSubset = .all, cursor: SubsetCursor? = nil) async throws
        -> CheckReport
    {
        var random = SystemRandomNumberGenerator()
        return try await check(readData: readData, subset: subset, cursor: cursor, using: &random)
    }

    /// Checks the repository; with `readData`, reads the packs `subset` selects: with a `cursor`, a `P%` or `SIZE`
    /// subset rolls on from it (`SubsetCursor`, and `report.cursor` is where the next run continues); without one,
    /// they are random choices drawn from `random`.
    public func check<R: RandomNumberGenerator>(
        readData: Bool, subset: PackSubset, cursor: SubsetCursor? = nil, using random: inout R
    ) async throws -> CheckReport {
        var report = CheckReport()
        let load = try await repository.loadIndex()
        report.indexFiles = load.files
        report.blobs = load.blobs
        let indexed = repository.index.packs
        report.packs = indexed.count
        var present: [PackID: Int64] = [:]
        for info in try await repository.store.list(.data) { present[ObjectID(hex: info.key.name)!] = info.size }
        var badPacks = Set<PackID>()
        for (id, size) in indexed {
            guard let actual = present[id] else {
                report.problems.append(
                    .init(kind: "packMissing", object: id.hex, message: "pack \(id.hex) is in the index but missing"))
                badPacks.insert(id)
                continue
            }
            if actual != Int64(size) {
                report.problems.append(
                    .init(
                        kind: "packSize", object: id.hex,
                        message: "pack \(id.hex) has \(actual) bytes, the index says \(size)"))
                badPacks.insert(id)
            }
        }
        let indexedSet = Set(indexed.map(\.id))
        report.unreferencedPacks = present.keys.filter { !indexedSet.contains($0) }.map(\.hex).sorted()

        if readData {
            let selected: [PackID]
            if let cursor, subset.usesCursor {
                (selected, report.cursor) = subset.select(from: indexed, cursor: cursor)
            } else {
                selected = subset.select(from: indexed, using: &random)
            }
            let toRead = selected.filter { !badPacks.contains($0) }
            let sizes = Dictionary(indexed.map { ($0.id, $0.size) }, uniquingKeysWith: { a, _ in a })
            report.readSubset = subset.description
            report.readPacks = toRead.map(\.hex)
            progress.update { $0.totalBytes = toRead.reduce(0) { $0 + (sizes[$1] ?? 0) } }
            let width = 2
            try await withThrowingTaskGroup(of: (PackID, Int, (any Error)?).self) { group in
                var next = 0
                func collect(_ result: (PackID, Int, (any Error)?)) {
                    let (id, size, error) = result
                    report.bytesRead += UInt64(size)
                    if let error {
                        badPacks.insert(id)
                        report.problems.append(.init(kind: "packCorrupted", object: id.hex, message: "\(error)"))
                    } else {
                        report.packsRead += 1
                    }
                }
                while next < min(width, toRead.count) {
                    let id = toRead[next]
                    let size = sizes[id] ?? 0
                    group.addTask { await self.verifyPack(id, size: size) }
                    next += 1
                }
                while let result = try await group.next() {
                    collect(result)
                    if next < toRead.count {
                        let id = toRead[next]
                        let size = sizes[id] ?? 0
                        group.addTask { await self.verifyPack(id, size: size) }
                        next += 1
                    }
                }
            }
        }

        // Snapshots and trees.
        var treesSeen = Set<BlobID>()
        let snapshots: [StoredSnapshot]
        do {
            snapshots = try await repository.listSnapshots()
        } catch {
            report.problems.append(.init(kind: "snapshotUnreadable", object: "snapshots", message: "\(error)"))
            return report
        }
        report.snapshots = snapshots.count
        for s in snapshots {
            do {
                try await walk(
                    tree: try s.snapshot.treeID(), path: [], snapshot: s.id, seen: &treesSeen, badPacks: badPacks,
                    report: &report)
            } catch {
                report.problems.append(
                    .init(kind: "snapshotUnreadable", object: s.id.hex, message: "snapshot \(s.id.hex): \(error)"))
            }
        }
        report.trees = treesSeen.count
        return report
    }

    /// Reads one pack and verifies every byte: name, header, each blob's tag and id.
    private func verifyPack(_ id: PackID, size: UInt64) async -> (PackID, Int, (any Error)?) {
        do {
            let progress = self.progress
            try await repository.verifyPack(id, size: Int64(size)) { progress.addBytes(UInt64($0)) }
            return (id, Int(size), nil)
        } catch {
            return (id, 0, error)
        }
    }

    /// Walks a tree; files with missing or damaged chunks become affected files.
    private func walk(
        tree id: BlobID, path: [UInt8], snapshot: SnapshotID, seen: inout Set<BlobID>, badPacks: Set<PackID>,
        report: inout CheckReport
    ) async throws {
        let firstVisit = seen.insert(id).inserted
        let tree: Tree
        do {
            // A delta tree is read through its chain of bases (format.md §9): a damaged base makes it unreadable.
            tree = try await repository.loadTree(id)
        } catch {
            if firstVisit {
                report.problems.append(
                    .init(
                        kind: "treeUnreadable", object: id.hex,
                        message: "tree \(id.hex) at /\(String(decoding: path, as: UTF8.self)): \(error)"))
            }
            return
        }
        for node in tree.nodes {
            let childPath = path.isEmpty ? node.name : path + [47] + node.name
            switch node.kind {
            case .directory:
                if let sub = node.subtree {
                    try await walk(
                        tree: sub, path: childPath, snapshot: snapshot, seen: &seen, badPacks: badPacks, report: &report
                    )
                }
            case .file:
                var damaged = false
                var rawLengths: [UInt64?] = []
                rawLengths.reserveCapacity(node.chunks.count)
                for c in node.chunks {
                    guard let loc = repository.index.location(of: c.blob) else {
                        rawLengths.append(nil)
                        damaged = true
                        if firstVisit {
                            report.problems.append(
                                .init(
                                    kind: "blobMissing", object: c.blob.hex,
                                    message:
                                        "data blob \(c.blob.hex) of /\(String(decoding: childPath, as: UTF8.self)) is not in the index"
                                ))
                        }
                        continue
                    }
                    rawLengths.append(UInt64(loc.entry.rawLength))
                    if badPacks.contains(loc.pack) { damaged = true }
                }
                if let fault = ChunkLayoutFault.first(in: node, rawLengths: rawLengths) {
                    damaged = true
                    if firstVisit {
                        report.problems.append(
                            .init(
                                kind: "chunkLayout", object: id.hex,
                                message:
                                    "/\(String(decoding: childPath, as: UTF8.self)) in tree \(id.hex): \(fault); "
                                    + "restoring it would not give the file that was saved"))
                    }
                }
                if damaged {
                    report.affectedFiles.append(AffectedFile(snapshot: snapshot.hex, path: LosslessBytes(childPath)))
                }
            default:
                break
            }
        }
    }
}
