import CLinux
import Glibc
import HaulFormat

/// An open regular file for reading its content during a backup.
///
/// Opened with `openat(dir.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME)`: a symlink
/// swapped in after the `stat` is refused (`ELOOP`), a FIFO swapped in does not block the open, and reading does not
/// update the access time. `O_NOATIME` needs ownership or `CAP_FOWNER`; on `EPERM` the open is retried without it.
/// Callers compare `stat()` with the entry's earlier `fstatat` to detect a file replaced in between.
///
/// Thread safety: reads are positional (`pread`), so one reader may serve several tasks.
public final class FileReader: @unchecked Sendable {
    /// The open descriptor; closed when the reader is released.
    public let fd: Int32
    /// The file's path for messages.
    public let path: [UInt8]

    /// - Throws: `HaulError` `.notFound`, `.permissionDenied`, `.io` (`ELOOP` when the entry is a symlink).
    public init(dir: DirectoryHandle, name: [UInt8]) throws {
        try checkComponentName(name, in: dir.path)
        let path = dir.path(of: name)
        let flags = O_RDONLY | O_NONBLOCK | haul_o_nofollow() | haul_o_cloexec()
        var fd = withCString(name) { haul_openat(dir.fd, $0, flags | haul_o_noatime(), 0) }
        if fd < 0 && haul_errno() == EPERM {
            fd = withCString(name) { haul_openat(dir.fd, $0, flags, 0) }
        }
        guard fd >= 0 else { throw SystemCallError.make("open file", path) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// The metadata of the open file (`fstat`).
    public func stat() throws -> FileStat {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw SystemCallError.make("stat", path) }
        return FileStat(st)
    }

    /// The ranges of `0..<size` that hold data, ascending and disjoint; everything else is a hole.
    ///
    /// Walks `lseek(SEEK_DATA)` / `lseek(SEEK_HOLE)`. A file system that does not support them (`EINVAL`,
    /// `ENOTSUP`) gives the whole file as one range. Ranges are clipped to `size`, so a file that grows during the
    /// backup is read as of the size the caller stored.
    /// - Throws: `HaulError` `.io`.
    public func dataRanges(size: UInt64) throws -> [Range<UInt64>] {
        guard size > 0 else { return [] }
        let end = Int(clamping: size)
        var ranges = [Range<UInt64>]()
        var position = 0
        while position < end {
            let dataStart = haul_seek_data(fd, position)
            if dataStart < 0 {
                let code = haul_errno()
                if code == haul_enxio() { break }  // no data after `position`: the rest is a hole
                if code == EINVAL || code == haul_enotsup() || code == haul_eopnotsupp() { return [0..<size] }
                throw SystemCallError.make("find data in", path, errno: code)
            }
            if dataStart >= end { break }
            var holeStart = haul_seek_hole(fd, dataStart)
            if holeStart < 0 {
                let code = haul_errno()
                if code != haul_enxio() { throw SystemCallError.make("find holes in", path, errno: code) }
                holeStart = end  // truncated meanwhile
            }
            let stop = min(holeStart, end)
            if stop > dataStart { ranges.append(UInt64(dataStart)..<UInt64(stop)) }
            position = max(stop, dataStart + 1)
        }
        return ranges
    }

    /// Reads up to `buffer.count` bytes at `offset` (`pread`, retried on `EINTR` and continued after short reads).
    ///
    /// - Returns: the number of bytes read; less than `buffer.count` only at end of file.
    /// - Throws: `HaulError` `.io`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let got = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if haul_errno() == EINTR { continue }
                throw SystemCallError.make("read", path)
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}
