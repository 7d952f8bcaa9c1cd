import CLinux
import Glibc
import HaulFormat

/// Extended attributes by path without following a final symlink (`llistxattr`, `lgetxattr`, `lsetxattr`), or of an
/// open file (`flistxattr`, `fgetxattr`, `fsetxattr`).
///
/// Callers pass `DirectoryHandle.procPath(of:)`, so the calls reach entries at any depth and symlinks themselves.
/// POSIX ACLs are the attributes `system.posix_acl_access` and `system.posix_acl_default` and need nothing special.
enum ExtendedAttributes {
    /// All attributes of the entry, sorted by name. A file system without xattr support (`ENOTSUP`) gives `[]`;
    /// an attribute removed between listing and reading (`ENODATA`) is left out.
    static func read(at procPath: [UInt8], displayPath: [UInt8]) throws -> [Node.ExtendedAttribute] {
        try withCString(procPath) { path in
            try read(
                displayPath: displayPath, list: { haul_llistxattr(path, $0, $1) },
                get: { haul_lgetxattr(path, $0, $1, $2) })
        }
    }

    /// The attributes of an open file (`flistxattr`, `fgetxattr`), like `read(at:displayPath:)`: no path lookup,
    /// which cost a backup of small files 5 % of its CPU through `/proc/self/fd`.
    static func read(fd: Int32, displayPath: [UInt8]) throws -> [Node.ExtendedAttribute] {
        try read(
            displayPath: displayPath, list: { haul_flistxattr(fd, $0, $1) }, get: { haul_fgetxattr(fd, $0, $1, $2) })
    }

    /// Lists with `list(buffer, size)` and reads each value with `get(name, buffer, size)` (both with the
    /// conventions of `listxattr(2)` and `getxattr(2)`).
    private static func read(
        displayPath: [UInt8], list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
        get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    ) throws -> [Node.ExtendedAttribute] {
        var names = [UInt8]()
        while true {
            let needed = list(nil, 0)
            if needed < 0 {
                let code = haul_errno()
                if code == haul_enotsup() || code == haul_eopnotsupp() { return [] }
                throw SystemCallError.make("list extended attributes of", displayPath, errno: code)
            }
            if needed == 0 { return [] }
            names = [UInt8](repeating: 0, count: needed)
            let got = names.withUnsafeMutableBytes {
                list($0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
            }
            if got >= 0 {
                names.removeLast(names.count - got)
                break
            }
            if haul_errno() != haul_erange() {
                throw SystemCallError.make("list extended attributes of", displayPath)
            }
        }
        var result = [Node.ExtendedAttribute]()
        for name in names.split(separator: 0) where !name.isEmpty {
            let name = Array(name)
            guard let value = try readValue(name: name, displayPath: displayPath, get: get) else { continue }
            result.append(Node.ExtendedAttribute(name: name, value: value))
        }
        result.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return result
    }

    /// One attribute's value, or `nil` when it vanished (`ENODATA`).
    private static func readValue(
        name: [UInt8], displayPath: [UInt8], get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    ) throws -> [UInt8]? {
        try withCString(name) { cName in
            while true {
                let needed = get(cName, nil, 0)
                if needed < 0 {
                    if haul_errno() == haul_enodata() { return nil }
                    throw SystemCallError.make("read extended attribute \(printable(name)) of", displayPath)
                }
                var value = [UInt8](repeating: 0, count: needed)
                let got = value.withUnsafeMutableBytes { get(cName, $0.baseAddress, $0.count) }
                if got >= 0 {
                    value.removeLast(value.count - got)
                    return value
                }
                let code = haul_errno()
                if code == haul_enodata() { return nil }
                if code != haul_erange() {
                    throw SystemCallError.make(
                        "read extended attribute \(printable(name)) of", displayPath, errno: code)
                }
            }
        }
    }

    /// Sets one attribute (`lsetxattr`, creating or replacing it).
    static func write(_ attribute: Node.ExtendedAttribute, at procPath: [UInt8], displayPath: [UInt8]) throws {
        try write(attribute, displayPath: displayPath) { name, value, size in
            withCString(procPath) { haul_lsetxattr($0, name, value, size, 0) }
        }
    }

    /// Sets one attribute of an open file (`fsetxattr`, creating or replacing it).
    static func write(_ attribute: Node.ExtendedAttribute, fd: Int32, displayPath: [UInt8]) throws {
        try write(attribute, displayPath: displayPath) { haul_fsetxattr(fd, $0, $1, $2, 0) }
    }

    private static func write(
        _ attribute: Node.ExtendedAttribute, displayPath: [UInt8],
        set: (UnsafePointer<CChar>, UnsafeRawPointer?, Int) -> Int32
    ) throws {
        let rc = withCString(attribute.name) { name in
            attribute.value.withUnsafeBytes { set(name, $0.baseAddress, $0.count) }
        }
        guard rc == 0 else {
            throw SystemCallError.make("set extended attribute \(printable(attribute.name)) on", displayPath)
        }
    }
}
