import Foundation

/// Facts about the file system under a test's files, from the util-linux and coreutils tools Debian ships (Glibc's
/// Swift module has no `statfs` or `mincore` wrappers).
public enum FileSystemProbe {
    /// `stat -f -c %T`: the type of the file system under `path` (`ext2/ext3` for ext4, `tmpfs`), "" if unknown.
    public static func type(of path: String) -> String {
        output(of: "/usr/bin/stat", ["-f", "-c", "%T", path]) ?? ""
    }

    /// Whether the file system under `path` takes `O_DIRECT` on this kernel: ext2/3/4, and tmpfs since Linux 6.6.
    public static func takesDirectIO(_ path: String) -> Bool {
        ["ext2/ext3", "tmpfs"].contains(type(of: path))
    }

    /// Bytes of the file at `path` in the page cache (`fincore`), nil if it cannot be told.
    public static func residentBytes(_ path: String) -> Int? {
        output(of: "/usr/bin/fincore", ["--bytes", "--noheadings", "--output", "RES", path]).flatMap { Int($0) }
    }

    /// The standard output of `executable arguments…`, trimmed; nil if it cannot be started.
    static func output(of executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
