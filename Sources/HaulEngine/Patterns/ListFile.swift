import HaulFormat

/// A text file with one entry per line, as `backup --exclude-file` (patterns) and `--files-from` (paths) read it.
///
/// Lines end with `\n` (a `\r` before it is dropped too). A line that is empty or holds only spaces and tabs, and a
/// line whose first byte is `#`, is ignored; nothing else is trimmed, so an entry may start or end with spaces. An
/// entry that starts with `#` is written `\#` in a pattern, `./#…` as a path.
public enum ListFile {
    /// The entries of `contents`, in order, as raw bytes.
    public static func entries(_ contents: [UInt8]) -> [[UInt8]] {
        contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).compactMap { line in
            var entry = Array(line)
            if entry.last == UInt8(ascii: "\r") { entry.removeLast() }
            if entry.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return nil }
            if entry.first == UInt8(ascii: "#") { return nil }
            return entry
        }
    }

    /// The patterns of `contents` (docs/patterns.md).
    ///
    /// - Parameter file: the file's name, for messages.
    /// - Throws: `HaulError(.invalidArgument)` naming the file, the line number and the pattern that is invalid.
    public static func patterns(_ contents: [UInt8], file: String) throws -> [PathPattern] {
        var patterns: [PathPattern] = []
        for (number, line) in contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            guard let entry = entries(Array(line)).first else { continue }
            do {
                patterns.append(try PathPattern(bytes: entry))
            } catch let error as HaulError {
                throw HaulError(.invalidArgument, "\(file), line \(number + 1): \(error.message)")
            }
        }
        return patterns
    }
}
