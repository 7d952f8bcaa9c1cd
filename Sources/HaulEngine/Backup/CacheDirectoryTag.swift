/// The Cache Directory Tagging convention (https://bford.info/cachedir/): a directory holding a file `CACHEDIR.TAG`
/// that starts with `signature` holds only data that can be made again; `BackupOptions.excludeCaches` leaves its
/// content out.
public enum CacheDirectoryTag {
    public static let name = Array("CACHEDIR.TAG".utf8)
    /// The 43 bytes a valid tag file starts with.
    public static let signature = Array("Signature: 8a477f597d28d172789f06886806bc55".utf8)

    /// Whether `dir` holds a regular file `CACHEDIR.TAG` that starts with the signature (never follows a symlink).
    public static func isValid(in dir: DirectoryHandle) -> Bool {
        guard (try? dir.stat(name))?.kind == .file, let reader = try? FileReader(dir: dir, name: name) else {
            return false
        }
        var head = [UInt8](repeating: 0, count: signature.count)
        let got = (try? head.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }) ?? 0
        return got == signature.count && head == signature
    }
}
