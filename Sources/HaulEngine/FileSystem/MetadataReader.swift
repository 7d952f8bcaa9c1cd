import CLinux
import Glibc
import HaulFormat

/// Builds tree nodes (format.md §9) from the file system, for the backup.
public enum MetadataReader {
    /// Every field of the node for entry `name` except `chunks` and `subtree`, which the archiver fills after
    /// reading the content.
    ///
    /// - `size` is set for files only (other kinds store 0, so directory churn does not change trees needlessly).
    /// - Symlinks get `linkTarget` from `readlinkat`; devices get `rdev`.
    /// - Extended attributes (POSIX ACLs included) come from `llistxattr`/`lgetxattr` on
    ///   `/proc/self/fd/<dirfd>/<name>`, which neither follows a symlink nor depends on the path length. A file
    ///   system without xattr support gives none.
    ///
    /// - Parameters:
    ///   - dir: the directory holding the entry.
    ///   - name: the entry's name.
    ///   - stat: the entry's metadata from `dir.stat(name)`.
    /// - Throws: `HaulError` `.invalidArgument` for a socket (sockets are not stored; the caller warns),
    ///   `.notFound` when the entry vanished, `.permissionDenied`, `.io`.
    ///   - extendedAttributes: false leaves `xattrs` empty (the caller reads them from the open file).
    public static func node(in dir: DirectoryHandle, name: [UInt8], stat: FileStat, extendedAttributes: Bool = true)
        throws -> Node
    {
        guard let kind = stat.kind.nodeKind else {
            throw HaulError(.invalidArgument, "\(printable(dir.path(of: name))) is a socket; sockets are not stored")
        }
        var node = Node(
            name: name, kind: kind, mode: stat.mode, uid: stat.uid, gid: stat.gid, mtime: stat.mtime,
            ctime: stat.ctime, device: stat.device, inode: stat.inode, linkCount: stat.linkCount,
            size: kind == .file ? stat.size : 0,
            rdev: kind == .characterDevice || kind == .blockDevice ? stat.rdev : 0)
        if kind == .symlink {
            node.linkTarget = try linkTarget(in: dir, name: name, sizeHint: Int(clamping: stat.size))
        }
        if extendedAttributes { node.xattrs = try Self.extendedAttributes(in: dir, name: name) }
        return node
    }

    /// The extended attributes of entry `name`, sorted by name (`llistxattr`, `lgetxattr` on
    /// `/proc/self/fd/<dirfd>/<name>`). `ENOTSUP` gives `[]`.
    public static func extendedAttributes(in dir: DirectoryHandle, name: [UInt8]) throws -> [Node.ExtendedAttribute] {
        try checkComponentName(name, in: dir.path)
        return try ExtendedAttributes.read(at: dir.procPath(of: name), displayPath: dir.path(of: name))
    }

    /// The target of symlink `name`, as raw bytes (`readlinkat`, growing the buffer until the target fits).
    public static func linkTarget(in dir: DirectoryHandle, name: [UInt8], sizeHint: Int = 256) throws -> [UInt8] {
        try checkComponentName(name, in: dir.path)
        var capacity = max(sizeHint + 1, 64)
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let got = withCString(name) { cName in
                buffer.withUnsafeMutableBytes {
                    readlinkat(dir.fd, cName, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                }
            }
            guard got >= 0 else { throw SystemCallError.make("read symlink", dir.path(of: name)) }
            if got < capacity { return Array(buffer[0..<got]) }
            capacity *= 2
        }
    }
}
