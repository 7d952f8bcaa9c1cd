import Crypto
import Glibc
import HaulFormat
import HaulStorage
import Synchronization

extension S3BlobStore {
    /// Stages an object in a local temporary file (`mkstemp(3)` in `Options.stagingDirectory`, unlinked at once, so a
    /// crash leaves nothing behind and nothing is ever visible in the bucket before `commit`).
    /// - Throws: `HaulError(.io)` if the file cannot be created.
    public func stage(_ kind: ObjectKind) throws -> any StagedObject {
        var template = Array("\(options.stagingDirectory)/haul-s3-stage-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw HaulError(
                .io, "cannot create a staging file in \(options.stagingDirectory): \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return S3StagedObject(store: self, fd: fd)
    }
}

/// An object buffered in an unlinked local file; `commit` uploads it with one `PUT` or, above the multipart threshold,
/// part by part read back with `pread(2)`, so at most one part is in memory.
final class S3StagedObject: StagedObject {
    private struct State {
        var fd: Int32
        var size = 0
        var hash = SHA256()
    }

    let store: S3BlobStore
    private let state: Mutex<State>

    init(store: S3BlobStore, fd: Int32) {
        self.store = store
        self.state = Mutex(State(fd: fd))
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try state.withLock { state throws(HaulError) in
            guard state.fd >= 0 else { throw HaulError(.internalError, "the staged S3 object is already closed") }
            guard let base = bytes.baseAddress else { return }
            var done = 0
            while done < bytes.count {
                let n = write(state.fd, base + done, bytes.count - done)
                if n > 0 {
                    done += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    let reason = String(cString: strerror(n == 0 ? ENOSPC : errno))
                    throw HaulError(
                        .io, "cannot write the staging file in \(store.options.stagingDirectory): \(reason)")
                }
            }
            state.hash.update(bufferPointer: bytes)
            state.size += bytes.count
        }
    }

    func commit(as key: ObjectKey) async throws {
        let (fd, size, hash) = state.withLock { state in
            defer { state.fd = -1 }
            return (state.fd, state.size, state.hash)
        }
        guard fd >= 0 else { throw HaulError(.internalError, "the staged S3 object for \(key.path) is already closed") }
        defer { close(fd) }
        if store.verifies(key) { try store.checkContentAddress(key, hash.finalize()) }
        if size <= store.options.multipartThreshold {
            try await store.put(key, try Self.read(fd, offset: 0, count: size), mode: .overwrite)
            return
        }
        let partSize = store.options.partSize
        try await store.multipartUpload(key, partCount: (size + partSize - 1) / partSize) { part in
            try Self.read(fd, offset: part * partSize, count: min(partSize, size - part * partSize))
        }
    }

    func discard() {
        let fd = state.withLock { state in
            defer { state.fd = -1 }
            return state.fd
        }
        if fd >= 0 { close(fd) }
    }

    deinit {
        discard()
    }

    private static func read(_ fd: Int32, offset: Int, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        try bytes.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n > 0 {
                    done += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    let reason = n == 0 ? "unexpected end of file" : String(cString: strerror(errno))
                    throw HaulError(.io, "cannot read back the staging file: \(reason)")
                }
            }
        }
        return bytes
    }
}
