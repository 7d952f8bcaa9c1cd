import CLinux
import Glibc
import HaulFormat

/// Compares a source tree with its restored copy, entry by entry, through `*at` calls (so paths longer than
/// `PATH_MAX` are compared too). The answer is a list of differences for people; an empty list means equal.
public enum TreeComparison {
    /// What to compare. Everything is on by default.
    public struct CompareOptions: Sendable, Hashable {
        /// Compare uid and gid (a restore by a non-root user cannot set them).
        public var ownership: Bool
        /// Compare the data ranges reported by `SEEK_DATA`/`SEEK_HOLE`.
        public var holes: Bool
        /// Compare directory mtimes.
        public var directoryMtimes: Bool
        /// Compare symlink mtimes.
        public var symlinkMtimes: Bool
        /// Compare extended attributes (including the ACL xattrs `system.posix_acl_*`).
        public var extendedAttributes: Bool
        /// Compare the mode, mtime, owner and xattrs of the two roots themselves, not only what is below them.
        public var rootAttributes: Bool
        /// Compare which paths share an inode within each tree.
        public var hardlinks: Bool
        /// Stop after this many differences.
        public var limit: Int

        public init(
            ownership: Bool = true,
            holes: Bool = true,
            directoryMtimes: Bool = true,
            symlinkMtimes: Bool = true,
            extendedAttributes: Bool = true,
            rootAttributes: Bool = true,
            hardlinks: Bool = true,
            limit: Int = 500
        ) {
            self.ownership = ownership
            self.holes = holes
            self.directoryMtimes = directoryMtimes
            self.symlinkMtimes = symlinkMtimes
            self.extendedAttributes = extendedAttributes
            self.rootAttributes = rootAttributes
            self.hardlinks = hardlinks
            self.limit = limit
        }
    }

    /// Walks `source` and `restored` side by side and lists every difference.
    ///
    /// Compared per entry: the set of names (raw bytes), the kind, the mode including setuid/setgid/sticky, uid and
    /// gid, mtime to the nanosecond, file bytes (streamed), sparse data ranges, symlink targets, xattr names and
    /// values, and `rdev` of devices; then, across each tree, which paths share an inode. Sockets in `source` are
    /// ignored (a backup skips them); a socket in `restored` is reported. `ctime`, `atime` and inode numbers are not
    /// compared.
    ///
    /// - Returns: One line per difference, as `path: what differs`; empty when the trees are equal.
    /// - Throws: `HaulError` with code `io` when either tree cannot be read (`openat`, `fstatat`, `readdir`, `read`,
    ///   `llistxattr`, `lgetxattr`, `readlinkat`, `lseek`).
    public static func differences(source: String, restored: String, options: CompareOptions) throws
        -> [String]
    {
        var walk = Walk(options: options)
        let a = try DirectoryHandle.open(path: source)
        let b = try DirectoryHandle.open(path: restored)
        if options.rootAttributes {
            try walk.compareAttributes(
                path: [0x2E], a: try a.ownStatus(), b: try b.ownStatus(),
                xattrs: { (try a.extendedAttributes(nil), try b.extendedAttributes(nil)) })
        }
        try walk.compareDirectories(a, b)
        if options.hardlinks { walk.compareLinkGroups() }
        return walk.differences
    }

    /// A path for people: printable UTF-8 as is, other bytes and control characters as `\xNN`, "\n" as `\n`.
    public static func display(_ path: [UInt8]) -> String {
        guard let text = String(validating: path, as: UTF8.self) else {
            return path.map { b in
                (0x20..<0x7F).contains(b) && b != 0x5C ? String(UnicodeScalar(b)) : hexEscape(b)
            }.joined()
        }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += hexEscape(UInt8(scalar.value))
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func hexEscape(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }
}

extension TreeComparison {
    /// The state of one comparison: differences so far and the inode groups of both trees.
    struct Walk {
        let options: CompareOptions
        var differences: [String] = []
        /// (device, inode) → paths, per tree; non-directories only.
        var sourceInodes: [InodeKey: [[UInt8]]] = [:]
        var restoredInodes: [InodeKey: [[UInt8]]] = [:]

        struct InodeKey: Hashable {
            var device: UInt64
            var inode: UInt64
        }

        init(options: CompareOptions) { self.options = options }

        var isFull: Bool { differences.count >= options.limit }

        mutating func report(_ path: [UInt8], _ what: String) {
            guard !isFull else { return }
            differences.append("\(TreeComparison.display(path)): \(what)")
            if isFull { differences.append("… stopped after \(options.limit) differences") }
        }

        mutating func compareDirectories(_ a: DirectoryHandle, _ b: DirectoryHandle) throws {
            var aNames: [[UInt8]: stat] = [:]
            for name in try a.names() {
                let st = try a.status(name)
                if Kind(st) == .socket { continue }
                aNames[name] = st
            }
            var bNames: [[UInt8]: stat] = [:]
            for name in try b.names() { bNames[name] = try b.status(name) }

            for name in bNames.keys.sorted(by: { $0.lexicographicallyPrecedes($1) })
            where aNames[name] == nil {
                report(b.path(name), "only in restored tree (\(Kind(bNames[name]!)))")
            }
            for name in aNames.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                guard !isFull else { return }
                let sa = aNames[name]!
                let path = a.path(name)
                guard let sb = bNames[name] else {
                    report(path, "missing in restored tree (\(Kind(sa)))")
                    continue
                }
                let ka = Kind(sa)
                let kb = Kind(sb)
                guard ka == kb else {
                    report(path, "kind \(ka) != \(kb)")
                    continue
                }
                if ka != .directory {
                    sourceInodes[InodeKey(sa), default: []].append(path)
                    restoredInodes[InodeKey(sb), default: []].append(path)
                }
                try compareAttributes(
                    path: path, a: sa, b: sb,
                    xattrs: { (try a.extendedAttributes(name), try b.extendedAttributes(name)) })
                switch ka {
                case .file:
                    try compareContents(path: path, a: a, b: b, name: name, size: sa.st_size)
                case .symlink:
                    let ta = try a.linkTarget(name)
                    let tb = try b.linkTarget(name)
                    if ta != tb { report(path, "symlink target \"\(display(ta))\" != \"\(display(tb))\"") }
                case .characterDevice, .blockDevice:
                    if sa.st_rdev != sb.st_rdev {
                        report(path, "device \(devString(sa.st_rdev)) != \(devString(sb.st_rdev))")
                    }
                case .directory:
                    try compareDirectories(try a.openDirectory(name), try b.openDirectory(name))
                case .fifo, .socket, .unknown:
                    break
                }
            }
        }

        mutating func compareAttributes(
            path: [UInt8], a: stat, b: stat,
            xattrs: () throws -> ([(name: [UInt8], value: [UInt8])], [(name: [UInt8], value: [UInt8])])
        ) throws {
            let kind = Kind(a)
            let modeA = a.st_mode & 0o7777
            let modeB = b.st_mode & 0o7777
            if modeA != modeB { report(path, "mode \(octal(modeA)) != \(octal(modeB))") }
            if options.ownership && (a.st_uid != b.st_uid || a.st_gid != b.st_gid) {
                report(path, "owner \(a.st_uid):\(a.st_gid) != \(b.st_uid):\(b.st_gid)")
            }
            let checkMtime =
                switch kind {
                case .directory: options.directoryMtimes
                case .symlink: options.symlinkMtimes
                default: true
                }
            if checkMtime
                && (a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec)
            {
                report(path, "mtime \(timeString(a.st_mtim)) != \(timeString(b.st_mtim))")
            }
            guard options.extendedAttributes else { return }
            let (xa, xb) = try xattrs()
            let mapA = Dictionary(xa.map { ($0.name, $0.value) }, uniquingKeysWith: { x, _ in x })
            let mapB = Dictionary(xb.map { ($0.name, $0.value) }, uniquingKeysWith: { x, _ in x })
            for (name, value) in xa {
                guard let other = mapB[name] else {
                    report(path, "xattr \(display(name)) missing in restored tree")
                    continue
                }
                if other != value {
                    report(path, "xattr \(display(name)) differs (\(value.count) vs \(other.count) bytes)")
                }
            }
            for (name, _) in xb where mapA[name] == nil {
                report(path, "xattr \(display(name)) only in restored tree")
            }
        }

        mutating func compareContents(
            path: [UInt8], a: DirectoryHandle, b: DirectoryHandle, name: [UInt8], size: Int
        ) throws {
            let fa = try a.openFile(name, flags: O_RDONLY)
            defer { close(fa) }
            let fb = try b.openFile(name, flags: O_RDONLY)
            defer { close(fb) }
            let chunk = 1 << 20
            var bufA = [UInt8](repeating: 0, count: chunk)
            var bufB = [UInt8](repeating: 0, count: chunk)
            var offset = 0
            while true {
                let na = try readFull(fa, &bufA, path: path)
                let nb = try readFull(fb, &bufB, path: path)
                let common = min(na, nb)
                let same = bufA.withUnsafeBytes { a in
                    bufB.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, common) == 0 }
                }
                if !same, let i = (0..<common).first(where: { bufA[$0] != bufB[$0] }) {
                    report(path, "contents differ at byte \(offset + i)")
                    return
                }
                if na != nb {
                    report(
                        path,
                        "size differs: source has \(na == chunk ? "more" : "\(offset + na)") bytes, restored "
                            + "\(nb == chunk ? "more" : "\(offset + nb)") bytes")
                    return
                }
                if na < chunk { break }
                offset += na
            }
            if options.holes {
                let ra = try dataRanges(fa, path: path)
                let rb = try dataRanges(fb, path: path)
                if ra != rb {
                    report(path, "sparse layout differs: data \(rangesString(ra)) != \(rangesString(rb))")
                }
            }
        }

        /// Reads until the buffer is full or the end of the file.
        func readFull(_ fd: Int32, _ buffer: inout [UInt8], path: [UInt8]) throws -> Int {
            var filled = 0
            while filled < buffer.count {
                let n = buffer.withUnsafeMutableBytes {
                    read(fd, $0.baseAddress! + filled, $0.count - filled)
                }
                if n < 0 {
                    if haul_errno() == EINTR { continue }
                    throw DirectoryHandle.systemError("read", path)
                }
                if n == 0 { break }
                filled += n
            }
            return filled
        }

        /// The data ranges of a file as `lseek(SEEK_DATA)` / `lseek(SEEK_HOLE)` report them.
        func dataRanges(_ fd: Int32, path: [UInt8]) throws -> [Range<Int>] {
            var ranges: [Range<Int>] = []
            var position: off_t = 0
            while true {
                let start = haul_seek_data(fd, position)
                if start < 0 {
                    if haul_errno() == ENXIO { break }
                    throw DirectoryHandle.systemError("lseek SEEK_DATA", path)
                }
                let end = haul_seek_hole(fd, start)
                guard end >= 0 else { throw DirectoryHandle.systemError("lseek SEEK_HOLE", path) }
                ranges.append(Int(start)..<Int(end))
                position = end
            }
            return ranges
        }

        mutating func compareLinkGroups() {
            func groups(_ map: [InodeKey: [[UInt8]]]) -> Set<[[UInt8]]> {
                Set(
                    map.values.filter { $0.count > 1 }.map { $0.sorted { $0.lexicographicallyPrecedes($1) } })
            }
            let ga = groups(sourceInodes)
            let gb = groups(restoredInodes)
            let describe = { (g: [[UInt8]]) in g.map { display($0) }.joined(separator: ", ") }
            for g in ga.subtracting(gb).sorted(by: { describe($0) < describe($1) }) {
                report(g[0], "hardlink group not preserved in restored tree: [\(describe(g))]")
            }
            for g in gb.subtracting(ga).sorted(by: { describe($0) < describe($1) }) {
                report(g[0], "hardlink group only in restored tree: [\(describe(g))]")
            }
        }
    }

    enum Kind: CustomStringConvertible {
        case file, directory, symlink, fifo, characterDevice, blockDevice, socket, unknown

        init(_ st: stat) {
            switch st.st_mode & S_IFMT {
            case S_IFREG: self = .file
            case S_IFDIR: self = .directory
            case S_IFLNK: self = .symlink
            case S_IFIFO: self = .fifo
            case S_IFCHR: self = .characterDevice
            case S_IFBLK: self = .blockDevice
            case S_IFSOCK: self = .socket
            default: self = .unknown
            }
        }

        var description: String {
            switch self {
            case .file: "file"
            case .directory: "directory"
            case .symlink: "symlink"
            case .fifo: "fifo"
            case .characterDevice: "character device"
            case .blockDevice: "block device"
            case .socket: "socket"
            case .unknown: "unknown kind"
            }
        }
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    static func timeString(_ t: timespec) -> String {
        let ns = String(t.tv_nsec)
        return "\(t.tv_sec).\(String(repeating: "0", count: max(0, 9 - ns.count)))\(ns)"
    }

    static func devString(_ d: dev_t) -> String { "\(haul_major(d)):\(haul_minor(d))" }

    static func rangesString(_ ranges: [Range<Int>]) -> String {
        "[" + ranges.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ") + "]"
    }
}

extension TreeComparison.Walk.InodeKey {
    init(_ st: stat) { self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }
}
