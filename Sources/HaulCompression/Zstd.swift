import CZstd
import HaulFormat

/// A zstd compressor holding one reusable `ZSTD_CCtx` (format.md §4: blobs are zstd-compressed, level 3).
///
/// Not `Sendable` and not thread-safe: keep one instance per worker.
public final class ZstdCompressor {
    private let context: OpaquePointer
    public let level: Int

    /// - Parameter level: zstd compression level (Haul's default is 3, format.md §5 config `compression.level`).
    public init(level: Int) {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
        self.context = context
        self.level = level
        let rc = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: level))
        precondition(ZSTD_isError(rc) == 0, "zstd refuses compression level \(level)")
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `src` into one zstd frame (format.md §4).
    public func compress(_ src: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = ZSTD_compressBound(src.count)
        guard let out = try compress(src, limit: bound) else {
            throw HaulError(.internalError, "zstd output exceeded ZSTD_compressBound(\(src.count))")
        }
        return out
    }

    /// Compresses `src` into at most `limit` bytes; `nil` when the frame would not fit.
    func compress(_ src: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8]? {
        var tooSmall = false
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: Swift.max(limit, 1)) { buffer, initialized in
            let rc = ZSTD_compress2(context, buffer.baseAddress, limit, src.baseAddress, src.count)
            if ZSTD_isError(rc) != 0 {
                if ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall {
                    tooSmall = true
                } else {
                    failure = String(cString: ZSTD_getErrorName(rc))
                }
                // A failed call may leave the context mid-frame; start the next one clean.
                ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
                initialized = 0
            } else {
                initialized = rc
            }
        }
        if let failure { throw HaulError(.internalError, "zstd compression failed: \(failure)") }
        return tooSmall ? nil : out
    }
}

/// A zstd decompressor holding one reusable `ZSTD_DCtx`.
///
/// Not `Sendable` and not thread-safe: keep one instance per worker.
public final class ZstdDecompressor {
    private let context: OpaquePointer

    public init() {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses `src`, which must expand to exactly `rawLength` bytes (the pack or index entry's `rawLength`,
    /// format.md §6, §7); anything else throws `corrupted`.
    public func decompress(_ src: UnsafeRawBufferPointer, rawLength: Int) throws -> [UInt8] {
        guard rawLength >= 0 else { throw HaulError(.invalidArgument, "negative raw length \(rawLength)") }
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: Swift.max(rawLength, 1)) { buffer, initialized in
            let rc = ZSTD_decompressDCtx(context, buffer.baseAddress, rawLength, src.baseAddress, src.count)
            if ZSTD_isError(rc) != 0 {
                failure = String(cString: ZSTD_getErrorName(rc))
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                initialized = 0
            } else {
                initialized = rc
            }
        }
        if let failure {
            throw HaulError(.corrupted, "zstd data does not decompress (\(failure)); expected \(rawLength) bytes")
        }
        guard out.count == rawLength else {
            throw HaulError(.corrupted, "zstd data decompresses to \(out.count) bytes, expected \(rawLength)")
        }
        return out
    }
}

extension ZstdDecompressor {
    /// The content size a zstd frame records in its header (every frame Haul writes records it), at most `limit`;
    /// nil when `src` is not a frame with a recorded size or the size is above `limit`.
    public static func frameContentSize(_ src: UnsafeRawBufferPointer, limit: Int) -> Int? {
        guard src.count > 0 else { return nil }
        let size = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
        guard size < UInt64.max - 1, size <= UInt64(limit) else { return nil }
        return Int(size)
    }
}

/// The per-blob compression decision of format.md §4.
public enum Compression {
    /// zstd-compresses `src` unless the result is not at least 1/32 smaller than `src` (format.md §4); then
    /// returns `(.raw, nil)` and the caller stores `src` as it is. Otherwise returns `(.zstd, compressed)`.
    public static func compressIfUseful(_ src: UnsafeRawBufferPointer, with compressor: ZstdCompressor) throws -> (
        BlobCompression, [UInt8]?
    ) {
        // Useful iff src.count - compressed.count >= src.count / 32 (exact rational comparison).
        let limit = src.count - (src.count + 31) / 32
        guard limit > 0, let out = try compressor.compress(src, limit: limit) else { return (.raw, nil) }
        return (.zstd, out)
    }
}
