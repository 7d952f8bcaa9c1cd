import Foundation
import Glibc
import HaulFormat
import HaulStorage

extension FileSystemBlobStore {
    /// Removes temporary files (`.tmp-*`) left behind by interrupted writes, for `prune` to call.
    ///
    /// Looks in the root, every kind folder and every data fan-out folder; unlinks (`unlink(2)`) each regular
    /// temporary file whose modification time (`stat(2)`) is more than `olderThan` seconds before `now`, then
    /// `fsync`s the folders it changed. Pick an age well above the longest write, since a fresh temporary file may
    /// belong to a `put` still running in another process. A file that vanishes meanwhile is skipped.
    /// - Parameters:
    ///   - olderThan: minimum age in seconds.
    ///   - now: the current time; injected by tests.
    /// - Returns: how many files were removed.
    /// - Throws: mapped I/O errors for folders that cannot be read or files that cannot be removed.
    @discardableResult
    public func removeStaleTemporaryFiles(olderThan: TimeInterval, now: Date = Date()) throws -> Int {
        let cutoff = now.timeIntervalSince1970 - olderThan
        var folders = [root]
        for kind in ObjectKind.allCases where kind != .config {
            let folder = "\(root)/\(kind.rawValue)"
            folders.append(folder)
            if kind == .data {
                for fanOut in try SystemCall.directoryEntries(folder) ?? [] where Self.isFanOutName(fanOut) {
                    folders.append("\(folder)/\(fanOut)")
                }
            }
        }
        var removed = 0
        for folder in folders {
            var changed = false
            for name in try SystemCall.directoryEntries(folder) ?? [] where name.hasPrefix(Self.temporaryPrefix) {
                let path = "\(folder)/\(name)"
                guard let info = try SystemCall.statIfPresent(path), info.isRegularFile else { continue }
                let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                guard modified < cutoff else { continue }
                if Glibc.unlink(path) != 0 {
                    if errno == ENOENT { continue }
                    throw SystemCall.error("unlink", path, errno: errno)
                }
                removed += 1
                changed = true
            }
            if changed { try SystemCall.fsyncDirectory(folder) }
        }
        return removed
    }
}
