import HaulFormat

/// The ranged-read rule of `BlobStoreReader.get(_:offset:length:)`, shared by every store so they agree on edges.
public enum ByteRange {
    /// Checks a ranged read against an object of `size` bytes and returns `offset` as an `Int`.
    ///
    /// A read may start anywhere from 0 up to and including `size` (a read at the end returns no bytes) and may ask
    /// for more bytes than remain.
    /// - Throws: `HaulError(.invalidArgument)` for a negative offset or length, or an offset past the end.
    public static func validatedStart(offset: Int64, length: Int, size: Int64, key: ObjectKey) throws -> Int {
        guard offset >= 0, length >= 0 else {
            throw HaulError(
                .invalidArgument, "ranged read of \(key.path) with negative offset \(offset) or length \(length)")
        }
        guard offset <= size else {
            throw HaulError(
                .invalidArgument, "ranged read of \(key.path) starts at \(offset), past its end at \(size) bytes")
        }
        return Int(offset)
    }
}
