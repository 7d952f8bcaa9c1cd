import Foundation
import HaulFormat

/// Where a rolling `--read-data-subset P%` or `SIZE` continues: kept per repository in the local cache as
/// `<cache>/<repository id>/check-cursor.json` (format.md §15). Packs are taken in ascending id order from just after
/// `lastPack`, so successive runs continue where the last one stopped.
///
/// For `P%` a cycle is `runs` = ⌈100/P⌉ runs; run `run` (0-based) of a cycle reads ⌈R / (runs − run)⌉ of the R packs
/// after the cursor, so a cycle reads every pack that existed throughout it exactly once (a cycle over fewer packs
/// than runs has runs that read nothing). Packs added during a cycle with an id below the cursor wait for the next.
/// For `SIZE` each run reads packs after the cursor until that many bytes are read, wrapping around to the lowest id
/// but never reading a pack twice in one run.
public struct SubsetCursor: Codable, Sendable, Hashable {
    public var version = 1
    /// The id (hex) of the last pack read; `nil` at the start of a cycle.
    public var lastPack: String?
    /// For `P%`: runs done in the current cycle.
    public var run = 0
    /// For `P%`: the cycle's length ⌈100/P⌉; 0 when the last run was a `SIZE` run.
    public var runs = 0

    public init() {}

    /// The file name inside the repository's cache directory.
    public static let fileName = "check-cursor.json"

    /// Reads the cursor of the repository whose cache directory is `directory`; a missing or unreadable file is a
    /// fresh cursor (the cache may be deleted at any time).
    public static func load(directory: String) -> SubsetCursor {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName),
            let cursor = try? JSONDecoder().decode(SubsetCursor.self, from: data), cursor.version == 1
        else { return SubsetCursor() }
        return cursor
    }

    /// Writes the cursor atomically (a temporary file renamed over the old one), creating `directory` if needed.
    ///
    /// - Throws: `io` when the cache directory cannot be written.
    public func save(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try JSONEncoder().encode(self).write(
                to: URL(fileURLWithPath: directory + "/" + Self.fileName), options: .atomic)
        } catch {
            throw HaulError(.io, "cannot write the check cursor in \(directory)", cause: error)
        }
    }
}

extension PackSubset {
    /// Whether this subset rolls with a `SubsetCursor` (`P%`, `SIZE`); `N/M` rolls by itself, `all` reads all.
    public var usesCursor: Bool {
        switch self {
        case .percent, .bytes: true
        case .all, .group: false
        }
    }

    /// The packs to read this run, in ascending id order, and the cursor for the next run (see `SubsetCursor`).
    /// `all` and `N/M` ignore the cursor and return it unchanged.
    public func select(from packs: [(id: PackID, size: UInt64)], cursor: SubsetCursor) -> (
        packs: [PackID], cursor: SubsetCursor
    ) {
        let sorted = packs.sorted { $0.id < $1.id }
        let last = cursor.lastPack.flatMap { ObjectID(hex: $0) }
        let start = last.map { l in sorted.firstIndex { $0.id > l } ?? sorted.count } ?? 0
        var next = cursor
        switch self {
        case .all:
            return (sorted.map(\.id), cursor)
        case .group(let n, let m):
            return (sorted.filter { Self.group(of: $0.id, groups: m) == n }.map(\.id), cursor)
        case .percent(let p):
            let runs = max(1, Int((100 / p).rounded(.up)))
            var begin = start
            if cursor.runs != runs {  // a new P, or after SIZE runs: a new cycle from the start
                next = SubsetCursor()
                begin = 0
            }
            next.runs = runs
            let remaining = sorted.count - begin
            let count = (remaining + (runs - next.run) - 1) / (runs - next.run)
            let chosen = sorted[begin..<(begin + count)]
            next.run += 1
            if let l = chosen.last { next.lastPack = l.id.hex }
            if next.run >= runs {
                next.run = 0
                next.lastPack = nil
            }
            return (chosen.map(\.id), next)
        case .bytes(let limit):
            var total: UInt64 = 0
            var chosen: [PackID] = []
            for i in 0..<sorted.count where total < limit {
                let p = sorted[(start + i) % sorted.count]
                chosen.append(p.id)
                total += p.size
            }
            next = SubsetCursor()
            next.lastPack = chosen.last?.hex ?? cursor.lastPack
            return (chosen.sorted(), next)
        }
    }
}
