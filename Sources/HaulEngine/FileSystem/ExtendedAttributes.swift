import CLinux
import Glibc
import HaulFormat

/// Extended attributes by path without following a final symlink (`llistxattr`, `lgetxattr`, `lsetxattr`).
///
/// Callers pass `DirectoryHandle.procPath(of:)`, so the calls reach entries at any depth and symlinks themselves.
/// POSIX ACLs are the attributes `system.posix_acl_access` and `system.posix_acl_default` and need nothing special.
enum ExtendedAttributes {
    /// All attributes of the entry, sorted by name. A file system without xattr support (`ENOTSUP`) gives `[]`;
    /// an attribute removed between listing and reading (`ENODATA`) is left out.
    static func read(at procPath: [UInt8], displayPath: [UInt8]) throws -> [Node.ExtendedAttribute] {
        try withCString(procPath) { path in
            var list = [UInt8]()
            while true {
                let needed = haul_llistxattr(path, nil, 0)
                if needed < 0 {
                    let code = haul_errno()
                    if code == haul_enotsup() || code == haul_eopnotsupp() { return [] }
                    throw SystemCallError.make("list extended attributes of", displayPath, errno: code)
                }
                if needed == 0 { return [] }
                list = [UInt8](repeating: 0, count: needed)
                let got = list.withUnsafeMutableBytes {
                    haul_llistxattr(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                }
                if got >= 0 {
                    list.removeLast(list.count - got)
                    break
                }
                if haul_errno() != haul_erange() {
                    throw SystemCallError.make("list extended attributes of", displayPath)
                }
            }
            var result = [Node.ExtendedAttribute]()
            for name in list.split(separator: 0) where !name.isEmpty {
                let name = Array(name)
                guard let value = try readValue(path: path, name: name, displayPath: displayPath) else { continue }
                result.append(Node.ExtendedAttribute(name: name, value: value))
            }
            result.sort { $0.name.lexicographicallyPrecedes($1.name) }
            return result
        }
    }

    /// One attribute's value, or `nil` when it vanished (`ENODATA`).
    private static func readValue(path: UnsafePointer<CChar>, name: [UInt8], displayPath: [UInt8]) throws -> [UInt8]? {
        try withCString(name) { cName in
            while true {
                let needed = haul_lgetxattr(path, cName, nil, 0)
                if needed < 0 {
                    if haul_errno() == haul_enodata() { return nil }
                    throw SystemCallError.make("read extended attribute \(printable(name)) of", displayPath)
                }
                var value = [UInt8](repeating: 0, count: needed)
                let got = value.withUnsafeMutableBytes { haul_lgetxattr(path, cName, $0.baseAddress, $0.count) }
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
        let rc = withCString(procPath) { path in
            withCString(attribute.name) { name in
                attribute.value.withUnsafeBytes { haul_lsetxattr(path, name, $0.baseAddress, $0.count, 0) }
            }
        }
        guard rc == 0 else {
            throw SystemCallError.make("set extended attribute \(printable(attribute.name)) on", displayPath)
        }
    }
}
