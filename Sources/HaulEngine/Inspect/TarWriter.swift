import HaulFormat

/// Headers of a POSIX tar archive (pax interchange format, POSIX.1-2001 `ustar` plus `x` extended headers).
///
/// Each entry is a 512-byte `ustar` header, preceded by a pax extended header when a value does not fit `ustar`:
/// a name or link target longer than 100 bytes or not ASCII, a mtime with nanoseconds or outside the octal field,
/// a size of 8 GiB or more, an owner id above 2097151, or extended attributes (`SCHILY.xattr.NAME`, the records GNU
/// tar and bsdtar read with `--xattrs`). Contents follow their header, padded with zeros to 512 bytes; an archive
/// ends with two zero blocks (`trailer`).
public enum TarWriter {
    public static let blockSize = 512

    /// One archive member.
    public struct Entry: Sendable, Hashable {
        public enum Kind: UInt8, Sendable, Hashable {
            case file = 0x30  // "0"
            case hardlink = 0x31  // "1"
            case symlink = 0x32  // "2"
            case characterDevice = 0x33  // "3"
            case blockDevice = 0x34  // "4"
            case directory = 0x35  // "5"
            case fifo = 0x36  // "6"
        }

        /// The member's path, without a trailing `/` (one is added for directories).
        public var name: [UInt8]
        public var kind: Kind
        /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var mtime: Node.Timestamp
        /// Content length; only regular files have content.
        public var size: UInt64
        /// The symlink target, or for a hard link the name of the member it links to.
        public var linkName: [UInt8]
        public var deviceMajor: UInt32
        public var deviceMinor: UInt32
        public var xattrs: [Node.ExtendedAttribute]

        public init(
            name: [UInt8], kind: Kind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0,
            mtime: Node.Timestamp = .init(seconds: 0, nanoseconds: 0), size: UInt64 = 0, linkName: [UInt8] = [],
            deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [Node.ExtendedAttribute] = []
        ) {
            self.name = name
            self.kind = kind
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.mtime = mtime
            self.size = size
            self.linkName = linkName
            self.deviceMajor = deviceMajor
            self.deviceMinor = deviceMinor
            self.xattrs = xattrs
        }
    }

    /// Two zero blocks: the end of an archive.
    public static var trailer: [UInt8] { [UInt8](repeating: 0, count: 2 * blockSize) }

    /// Zero bytes that pad `size` bytes of content to a whole block.
    public static func padding(forSize size: UInt64) -> Int {
        let rest = Int(size % UInt64(blockSize))
        return rest == 0 ? 0 : blockSize - rest
    }

    /// The header blocks of `entry`: a pax extended header when needed, then the `ustar` header.
    public static func header(for entry: Entry) -> [UInt8] {
        var name = entry.name
        if entry.kind == .directory && name.last != 47 { name.append(47) }
        var records: [(String, [UInt8])] = []
        if name.count > 100 || !isPortable(name) { records.append(("path", name)) }
        if entry.linkName.count > 100 || !isPortable(entry.linkName) { records.append(("linkpath", entry.linkName)) }
        if String(validating: name, as: UTF8.self) == nil
            || String(validating: entry.linkName, as: UTF8.self) == nil
        {
            // Names are bytes on Linux; tell readers not to convert them from UTF-8.
            records.insert(("hdrcharset", Array("BINARY".utf8)), at: 0)
        }
        let maxOctal11: UInt64 = (1 << 33) - 1
        let maxOctal7: UInt64 = (1 << 21) - 1
        if entry.size > maxOctal11 { records.append(("size", Array(String(entry.size).utf8))) }
        if UInt64(entry.uid) > maxOctal7 { records.append(("uid", Array(String(entry.uid).utf8))) }
        if UInt64(entry.gid) > maxOctal7 { records.append(("gid", Array(String(entry.gid).utf8))) }
        let seconds = entry.mtime.seconds
        if entry.mtime.nanoseconds != 0 || seconds < 0 || seconds > Int64(maxOctal11) {
            records.append(("mtime", Array(paxTime(entry.mtime).utf8)))
        }
        for x in entry.xattrs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            // A record key ends at the first "="; a name holding one cannot be written.
            guard !x.name.contains(UInt8(ascii: "=")), !x.name.contains(0) else { continue }
            records.append(("SCHILY.xattr." + String(decoding: x.name, as: UTF8.self), x.value))
        }

        var out: [UInt8] = []
        if !records.isEmpty {
            var data: [UInt8] = []
            for (key, value) in records { data += paxRecord(key, value) }
            let base = name.split(separator: 47).last.map(Array.init) ?? []
            let paxName = Array(portablePrefix(Array("PaxHeaders/".utf8) + base, limit: 100))
            out += ustar(
                name: paxName, kind: 0x78,  // "x"
                mode: 0o644, uid: 0, gid: 0, mtime: max(0, min(seconds, Int64(maxOctal11))), size: UInt64(data.count),
                linkName: [], major: 0, minor: 0)
            out += data
            out += [UInt8](repeating: 0, count: padding(forSize: UInt64(data.count)))
        }
        out += ustar(
            name: portablePrefix(name, limit: 100), kind: entry.kind.rawValue, mode: entry.mode & 0o7777,
            uid: min(UInt64(entry.uid), maxOctal7), gid: min(UInt64(entry.gid), maxOctal7),
            mtime: max(0, min(seconds, Int64(maxOctal11))),
            size: entry.kind == .file ? min(entry.size, maxOctal11) : 0,
            linkName: portablePrefix(entry.linkName, limit: 100), major: entry.deviceMajor, minor: entry.deviceMinor)
        return out
    }

    /// One `ustar` header block.
    static func ustar(
        name: [UInt8], kind: UInt8, mode: UInt32, uid: UInt64, gid: UInt64, mtime: Int64, size: UInt64,
        linkName: [UInt8], major: UInt32, minor: UInt32
    ) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (i, b) in bytes.prefix(width).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: UInt64, at offset: Int, width: Int) {
            // width - 1 digits, zero-padded, then NUL.
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(Array(padded.utf8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(UInt64(mode), at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(UInt64(mtime), at: 136, width: 12)
        h[156] = kind
        put(linkName, at: 157, width: 100)
        put(Array("ustar".utf8) + [0], at: 257, width: 6)
        put(Array("00".utf8), at: 263, width: 2)
        if kind == Entry.Kind.characterDevice.rawValue || kind == Entry.Kind.blockDevice.rawValue {
            octal(UInt64(major), at: 329, width: 8)
            octal(UInt64(minor), at: 337, width: 8)
        }
        // The checksum is the sum of all header bytes with its own field read as eight spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148, width: 8)
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(
            Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, 0x20], at: 148,
            width: 8)
        return h
    }

    /// `"LEN key=value\n"`, where LEN counts the whole record, its own digits included.
    static func paxRecord(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [10]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }

    /// Seconds and nanoseconds as a pax decimal (`-1.500000000` is 1.5 s before the epoch).
    static func paxTime(_ t: Node.Timestamp) -> String {
        var seconds = t.seconds
        var nanos = Int64(t.nanoseconds)
        var sign = ""
        if seconds < 0 {
            sign = "-"
            if nanos > 0 {
                seconds += 1
                nanos = 1_000_000_000 - nanos
            }
            seconds = -seconds
        }
        let frac = String(nanos)
        return "\(sign)\(seconds).\(String(repeating: "0", count: 9 - frac.count))\(frac)"
    }

    /// Printable ASCII only: such names need no pax record.
    static func isPortable(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f } }

    /// The longest prefix of at most `limit` bytes, with non-ASCII bytes replaced by `_` (the header field of an
    /// entry whose real name is in a pax record; readers that ignore pax get a recognizable name).
    static func portablePrefix(_ bytes: [UInt8], limit: Int) -> [UInt8] {
        bytes.prefix(limit).map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: "_") }
    }
}
