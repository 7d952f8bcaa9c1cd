import Glibc
import HaulFormat
import HaulStorage
import Synchronization

extension FileSystemBlobStore: StagingBlobStore {
    /// Creates `<kind>/.tmp-<random>` (`open(2)` with `O_EXCL`) to receive the object's bytes.
    public func stage(_ kind: ObjectKind) throws -> any StagedObject {
        let folder = "\(root)/\(kind.rawValue)"
        if try SystemCall.makeDirectory(folder, mode: Self.directoryMode) { try SystemCall.fsyncDirectory(root) }
        let path = "\(folder)/\(Self.temporaryPrefix)\(Self.randomSuffix())"
        let fd = try SystemCall.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: Self.fileMode)
        return StagedFile(store: self, fd: fd, path: path)
    }
}

/// A temporary file that becomes an object on `commit`: `write(2)` appends, then `fsync(2)`, `rename(2)` into place
/// and `fsync(2)` of the folder, exactly like `put`.
final class StagedFile: StagedObject {
    let store: FileSystemBlobStore
    let path: String
    private let fd: Mutex<Int32>

    init(store: FileSystemBlobStore, fd: Int32, path: String) {
        self.store = store
        self.path = path
        self.fd = Mutex(fd)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try fd.withLock { fd throws(HaulError) in
            guard fd >= 0 else { throw HaulError(.internalError, "staged file \(path) is already closed") }
            guard let base = bytes.baseAddress else { return }
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(fd, base + done, bytes.count - done)
                if n > 0 {
                    done += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    throw SystemCall.error("write", path, errno: n == 0 ? ENOSPC : errno)
                }
            }
        }
    }

    func commit(as key: ObjectKey) async throws {
        let target = store.path(of: key)
        let directory = store.directory(of: key)
        let root = store.root
        let path = path
        let descriptor = fd.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        guard descriptor >= 0 else { throw HaulError(.internalError, "staged file \(path) is already closed") }
        try await FileSystemBlobStore.blocking { () throws in
            do {
                do {
                    try SystemCall.fsync(descriptor, path)
                } catch {
                    Glibc.close(descriptor)
                    throw error
                }
                try SystemCall.close(descriptor, path)
                try FileSystemBlobStore.makeDirectories(for: key, root: root)
                try SystemCall.rename(path, target)
            } catch {
                Glibc.unlink(path)
                throw error
            }
            try SystemCall.fsyncDirectory(directory)
        }
    }

    func discard() {
        let descriptor = fd.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if descriptor >= 0 { Glibc.close(descriptor) }
        Glibc.unlink(path)
    }
}
