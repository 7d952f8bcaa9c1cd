import HaulFormat
import HaulRepository
import HaulStorage

/// A pack whose header could not be read: its blobs are not indexed.
public struct UnreadablePack: Sendable, Hashable, Codable {
    public var pack: String
    public var message: String
}

public struct IndexRebuildReport: Sendable, Codable {
    public var packsIndexed = 0
    public var blobs = 0
    public var packsUnreadable: [UnreadablePack] = []
    public var indexFilesWritten = 0
    public var indexFilesRemoved = 0
}

/// Rebuilds the index from the packs alone (`haul repair index`, format.md §6, §7, §11). The caller holds the
/// exclusive lease.
///
/// Every pack in `data/` is listed and only its header is read (`Repository.readPackHeader`: preamble, trailer and
/// header, never the blobs). New index files listing every readable pack are written, each superseding every index
/// file present before, and only then are the old index files deleted, so a crash leaves either the old or the new
/// index in force (the same order as prune). Existing index files are never read: a damaged or lost index is what
/// this repairs.
public struct IndexRebuilder: Sendable {
    public let repository: Repository
    /// Pack headers read at once.
    public var concurrency = 4
    /// Packs listed per new index file.
    public var packsPerIndexFile = 2048

    public init(repository: Repository) { self.repository = repository }

    public func rebuild() async throws -> IndexRebuildReport {
        var report = IndexRebuildReport()
        let oldIndexIDs = try await repository.store.list(.index).compactMap { ObjectID(hex: $0.key.name) }.sorted()
        let packs = try await repository.store.list(.data).compactMap { info in
            ObjectID(hex: info.key.name).map { (id: $0, size: info.size) }
        }.sorted { $0.id < $1.id }

        var readable: [IndexFile.PackInfo] = []
        try await withThrowingTaskGroup(of: (PackID, Result<IndexFile.PackInfo, any Error>).self) { group in
            var next = 0
            func start() {
                let p = packs[next]
                next += 1
                group.addTask {
                    do {
                        return (p.id, .success(try await repository.readPackHeader(p.id, size: p.size).info))
                    } catch {
                        return (p.id, .failure(error))
                    }
                }
            }
            while next < min(max(1, concurrency), packs.count) { start() }
            while let (id, result) = try await group.next() {
                switch result {
                case .success(let info): readable.append(info)
                case .failure(let error):
                    // A transient store error is not damage: stop rather than drop the pack's blobs from the index.
                    if (error as? HaulError)?.isTransient == true { throw error }
                    // Nor is a pack of a version this Haul does not know (written by a newer one): dropping it from
                    // the index would let the next prune delete it.
                    if (error as? HaulError)?.code == .unsupportedVersion {
                        throw HaulError(
                            .unsupportedVersion,
                            "pack \(id.hex) was written by a newer Haul; repair the index with that version",
                            cause: error)
                    }
                    report.packsUnreadable.append(UnreadablePack(pack: id.hex, message: "\(error)"))
                }
                if next < packs.count { start() }
            }
        }
        readable.sort { $0.id < $1.id }
        report.packsUnreadable.sort { $0.pack < $1.pack }
        report.packsIndexed = readable.count
        report.blobs = readable.reduce(0) { $0 + $1.entries.count }

        var batches = stride(from: 0, to: readable.count, by: packsPerIndexFile).map {
            Array(readable[$0..<min($0 + packsPerIndexFile, readable.count)])
        }
        if batches.isEmpty { batches = [[]] }
        for batch in batches {
            _ = try await repository.writeIndexFile(IndexFile(supersedes: oldIndexIDs, packs: batch))
            report.indexFilesWritten += 1
        }
        for id in oldIndexIDs {
            do {
                try await repository.store.delete(ObjectKey(.index, id))
            } catch let e as HaulError where e.code == .notFound {}
            report.indexFilesRemoved += 1
        }
        try await repository.loadIndex()
        return report
    }
}
