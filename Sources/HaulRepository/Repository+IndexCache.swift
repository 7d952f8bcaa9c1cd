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
    /// verifies, else a table built from the index files into a new cache file (or on the heap without a cache
    /// directory, or when writing the cache fails). A damaged cache file is deleted and rebuilt, never trusted.
    func loadIndexTable() async throws -> LoadedTable {
        let ids = try await store.list(.index).map { ObjectID(hex: $0.key.name)! }
        let setHash = Self.indexSetHash(repository: keys.repositoryID, files: ids)
        if let dir = repositoryCacheDirectory {
            let path = "\(dir)/index-\(setHash.hex).cache"
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                do {
                    let region = try CacheRegion.map(fd: fd, what: path)
                    let table = try IndexTable(region: region, expectedSetHash: setHash, what: "index cache \(path)")
                    return LoadedTable(table: table, cacheFile: path, reused: true)
                } catch {
                    unlink(path)
                }
            }
            do {
                let table = try await buildIndexTable(ids, setHash: setHash, directory: dir, path: path)
                removeStaleCacheFiles(in: dir, keeping: path)
                return LoadedTable(table: table, cacheFile: path, reused: false)
            } catch is CacheIOError {
                // The cache directory is not usable (full, read-only): keep the table on the heap.
            }
        }
        let table = try await buildIndexTable(ids, setHash: setHash, directory: nil, path: nil)
        return LoadedTable(table: table, cacheFile: nil, reused: false)
    }

    private func buildIndexTable(_ ids: [IndexID], setHash: Digest256, directory: String?, path: String?)
        async throws -> IndexTable
    {
        var builder = try IndexTableBuilder(directory: directory)
        var superseded = Set<IndexID>()
        for id in ids {
            let file = try await readIndexFile(id)
            superseded.formUnion(file.supersedes)
            try builder.add(file)
        }
        let used = ids.indices.filter { !superseded.contains(ids[$0]) }
        guard let path else {
            return try builder.finish(
                used: used, usedIDs: used.map { ids[$0] }, listed: ids.count, setHash: setHash, into: ByteSink(),
                what: "index table")
        }
        var g = SystemRandomNumberGenerator()
        let temporary = "\(path).\(String(g.next() as UInt64, radix: 16)).tmp"
        do {
            let table = try builder.finish(
                used: used, usedIDs: used.map { ids[$0] }, listed: ids.count, setHash: setHash,
                into: try ByteSink(creating: temporary), what: "index cache \(path)")
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
