import Crypto
import Foundation
import Glibc
import HaulFormat

/// Where Haul keeps local, derived data such as the index cache (format.md §15).
public enum LocalCache {
    /// `$HAUL_CACHE_DIR`, else `$XDG_CACHE_HOME/haul`, else `$HOME/.cache/haul`; `nil` when none is set.
    ///
    /// Each repository gets a subdirectory named by its repository id.
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let dir = value("HAUL_CACHE_DIR") { return dir }
        if let xdg = value("XDG_CACHE_HOME") { return "\(xdg)/haul" }
        if let home = value("HOME") { return "\(home)/.cache/haul" }
        return nil
    }
}

extension Repository {
    /// The result of `loadIndexTable`.
    struct LoadedTable {
        var table: IndexTable
        /// The cache file the table is mapped from; `nil` when it lives on the heap.
        var cacheFile: String?
        var reused: Bool
        /// How many index files were read: none when reused, the new ones when extended, all when built.
        var indexFilesRead: Int
    }

    /// The index-set hash (format.md §15): SHA-256 of a label, the repository id and the sorted index file ids.
    static func indexSetHash(repository: Digest256, files: [IndexID]) -> Digest256 {
        var h = SHA256()
        h.update(data: Array("haul index cache v1".utf8))
        h.update(data: repository.bytes)
        for id in files.sorted() { h.update(data: id.digest.bytes) }
        return h.finalize().withUnsafeBytes { IndexTable.digest($0.baseAddress!) }
    }

    /// This repository's directory in the local cache, created if needed; `nil` without a usable one.
    var repositoryCacheDirectory: String? {
        guard let cacheDirectory else { return nil }
        let dir = "\(cacheDirectory)/\(keys.repositoryID.hex)"
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return nil
        }
        return access(dir, W_OK) == 0 ? dir : nil
    }

    /// Lists the index files and returns the base table for them: the cache file named by their set hash when it
    /// verifies; else the cache file of an earlier set extended with the index files added since, when that is
    /// possible; else a table built from all index files into a new cache file (or on the heap without a cache
    /// directory, or when writing the cache fails). A damaged cache file is deleted, never trusted.
    func loadIndexTable() async throws -> LoadedTable {
        let ids = try await store.list(.index).map { ObjectID(hex: $0.key.name)! }
        let setHash = Self.indexSetHash(repository: keys.repositoryID, files: ids)
        var read = 0
        if let dir = repositoryCacheDirectory {
            let path = "\(dir)/index-\(setHash.hex).cache"
            if let table = Self.mapCacheFile(path, expectedSetHash: setHash) {
                return LoadedTable(table: table, cacheFile: path, reused: true, indexFilesRead: 0)
            }
            do {
                var table: IndexTable?
                if let base = earlierTable(in: dir, listed: Set(ids), except: path) {
                    table = try await extendIndexTable(
                        base, ids: ids, setHash: setHash, directory: dir, path: path, read: &read)
                }
                if table == nil {
                    table = try await buildIndexTable(ids, setHash: setHash, directory: dir, path: path, read: &read)
                }
                removeStaleCacheFiles(in: dir, keeping: path)
                return LoadedTable(table: table!, cacheFile: path, reused: false, indexFilesRead: read)
            } catch is CacheIOError {
                // The cache directory is not usable (full, read-only): keep the table on the heap.
            }
        }
        let table = try await buildIndexTable(ids, setHash: setHash, directory: nil, path: nil, read: &read)
        return LoadedTable(table: table, cacheFile: nil, reused: false, indexFilesRead: read)
    }

    /// Maps and verifies a cache file; a file that does not verify is deleted (one that cannot be mapped is not).
    private static func mapCacheFile(_ path: String, expectedSetHash: Digest256?) -> IndexTable? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        do {
            let region = try CacheRegion.map(fd: fd, what: path)
            return try IndexTable(region: region, expectedSetHash: expectedSetHash, what: "index cache \(path)")
        } catch let error as HaulError where error.code == .corrupted {
            unlink(path)
            return nil
        } catch {
            return nil
        }
    }

    /// The valid cache file of an earlier set of index files that are all still listed, the one of the most files
    /// (format.md §15, "Extending"). A file whose stored ids do not give its set hash is deleted.
    private func earlierTable(in dir: String, listed: Set<IndexID>, except path: String) -> IndexTable? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        var best: IndexTable?
        for name in names where name.hasPrefix("index-") && name.hasSuffix(".cache") && "\(dir)/\(name)" != path {
            let full = "\(dir)/\(name)"
            guard let table = Self.mapCacheFile(full, expectedSetHash: nil) else { continue }
            guard Self.indexSetHash(repository: keys.repositoryID, files: table.listedIDs) == table.setHash,
                "index-\(table.setHash.hex).cache" == name
            else {
                unlink(full)
                continue
            }
            if table.listedIDs.allSatisfy(listed.contains), table.listedFiles > best?.listedFiles ?? -1 {
                best = table
            }
        }
        return best
    }

    /// The table of `ids` from `base` and the index files `base` does not list, or `nil` when one of those
    /// supersedes other files (then only a build gives the right set of files in use). Counts the files read.
    private func extendIndexTable(
        _ base: IndexTable, ids: [IndexID], setHash: Digest256, directory: String, path: String, read: inout Int
    ) async throws -> IndexTable? {
        let known = Set(base.listedIDs)
        let new = ids.filter { !known.contains($0) }
        var files = IndexFileSet(
            used: Array(base.usedFiles), supersededListed: Array(base.listedIDs[base.usedFiles.count...]),
            superseded: Set(base.supersededIDs))
        var builder = try IndexTableBuilder(directory: directory)
        for id in new {
            let file = try await readIndexFile(id)
            read += 1
            guard file.supersedes.isEmpty else { return nil }
            if files.superseded.contains(id) {
                files.supersededListed.append(id)
            } else {
                try builder.add(file)
                files.used.append(id)
            }
        }
        let added = files.used.count - base.usedFiles.count
        return try Self.writeTable(
            builder, used: Array(0..<added), files: files, setHash: setHash, extending: base, path: path)
    }

    /// The table of `ids` from every one of them; counts the files read.
    private func buildIndexTable(
        _ ids: [IndexID], setHash: Digest256, directory: String?, path: String?, read: inout Int
    ) async throws -> IndexTable {
        var builder = try IndexTableBuilder(directory: directory)
        var superseded = Set<IndexID>()
        for id in ids {
            let file = try await readIndexFile(id)
            read += 1
            superseded.formUnion(file.supersedes)
            try builder.add(file)
        }
        let used = ids.indices.filter { !superseded.contains(ids[$0]) }
        let files = IndexFileSet(
            used: used.map { ids[$0] }, supersededListed: ids.filter(superseded.contains), superseded: superseded)
        guard let path else {
            return try builder.finish(used: used, files: files, setHash: setHash, into: ByteSink(), what: "index table")
        }
        return try Self.writeTable(builder, used: used, files: files, setHash: setHash, extending: nil, path: path)
    }

    /// Finishes `builder` into a temporary file renamed to `path` once complete.
    private static func writeTable(
        _ builder: IndexTableBuilder, used: [Int], files: IndexFileSet, setHash: Digest256, extending base: IndexTable?,
        path: String
    ) throws -> IndexTable {
        var g = SystemRandomNumberGenerator()
        let temporary = "\(path).\(String(g.next() as UInt64, radix: 16)).tmp"
        do {
            let table = try builder.finish(
                used: used, files: files, setHash: setHash, extending: base, into: try ByteSink(creating: temporary),
                what: "index cache \(path)")
            guard rename(temporary, path) == 0 else { throw CacheIOError("cannot rename \(temporary)", errno: errno) }
            return table
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Deletes cache files for other index sets, and temporary files an interrupted build left over an hour ago.
    private func removeStaleCacheFiles(in dir: String, keeping path: String) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: dir) else { return }
        for name in names where name.hasPrefix("index-") {
            let full = "\(dir)/\(name)"
            if name.hasSuffix(".cache") && full != path {
                unlink(full)
            } else if name.hasSuffix(".tmp"),
                let modified = (try? fm.attributesOfItem(atPath: full))?[.modificationDate] as? Date,
                modified.timeIntervalSinceNow < -3600
            {
                unlink(full)
            }
        }
    }
}
