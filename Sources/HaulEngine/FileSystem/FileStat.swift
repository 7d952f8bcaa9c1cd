import Glibc
import HaulFormat

/// The metadata of one directory entry as `lstat`/`fstatat(AT_SYMLINK_NOFOLLOW)`/`fstat` report it.
public struct FileStat: Sendable, Hashable {
    /// The file type (`st_mode & S_IFMT`).
    public enum Kind: Sendable, Hashable, CaseIterable {
        case file, directory, symlink, fifo, characterDevice, blockDevice, socket

        /// The kind a tree stores, or `nil` for sockets, which are not stored (format.md §9).
        public var nodeKind: Node.Kind? {
            switch self {
            case .file: .file
            case .directory: .directory
            case .symlink: .symlink
            case .fifo: .fifo
            case .characterDevice: .characterDevice
            case .blockDevice: .blockDevice
            case .socket: nil
            }
        }
    }

    public var kind: Kind
    /// `st_mode & 0o7777`: permissions, setuid, setgid, sticky.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// `st_size`: the logical size (holes included) for files, the target length for symlinks.
    public var size: UInt64
    public var mtime: Node.Timestamp
    public var ctime: Node.Timestamp
    /// `st_dev`: the file system holding the entry.
    public var device: UInt64
    /// `st_ino`.
    public var inode: UInt64
    /// `st_nlink`.
    public var linkCount: UInt64
    /// `st_rdev`: the device number of character and block devices.
    public var rdev: UInt64
    /// `st_blocks`: allocated 512-byte blocks (less than `size / 512` for sparse files).
    public var blocks: UInt64

    /// Converts a `struct stat`. An unknown file type (none exists on Linux) is reported as `.socket`, i.e. not
    /// storable.
    public init(_ st: Glibc.stat) {
        switch st.st_mode & 0o170000 {
        case 0o100000: kind = .file
        case 0o040000: kind = .directory
        case 0o120000: kind = .symlink
        case 0o010000: kind = .fifo
        case 0o020000: kind = .characterDevice
        case 0o060000: kind = .blockDevice
        default: kind = .socket
        }
        mode = UInt32(st.st_mode & 0o7777)
        uid = UInt32(st.st_uid)
        gid = UInt32(st.st_gid)
        size = UInt64(clamping: st.st_size)
        mtime = Node.Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(clamping: st.st_mtim.tv_nsec))
        ctime = Node.Timestamp(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: UInt32(clamping: st.st_ctim.tv_nsec))
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        linkCount = UInt64(st.st_nlink)
        rdev = UInt64(st.st_rdev)
        blocks = UInt64(clamping: st.st_blocks)
    }
}
