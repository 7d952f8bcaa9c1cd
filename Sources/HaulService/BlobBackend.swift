import Foundation
import Glibc
import HaulFormat
import HaulStorage
import HaulStorageFS

/// Where the service keeps blobs: one `BlobStore` per prefix (docs/service.md §5). A server's repository is the
/// prefix `vaults/<vault id>/servers/<server id>`, a soft-deleted object `trash/<deleted-object id>`.
///
/// The filesystem backend maps a prefix to a directory under its root (made on first use); an S3 backend maps it
/// to a key prefix of a bucket through the same closure.
public struct BlobBackend: Sendable {
    private let open: @Sendable (String) async throws -> any BlobStore
    private let removeEmpty: @Sendable (String) async throws -> Void

    /// A backend from a closure that opens the store of a prefix. The prefix never starts or ends with `/` and
    /// holds only names made by the service (ids, fixed words). `removeEmpty` drops what a prefix leaves behind
    /// once its last object is deleted (the filesystem's folders; nothing on S3, which has no folders).
    public init(
        open: @escaping @Sendable (String) async throws -> any BlobStore,
        removeEmpty: @escaping @Sendable (String) async throws -> Void = { _ in }
    ) {
        self.open = open
        self.removeEmpty = removeEmpty
    }

    /// The store at `prefix`.
    public func store(_ prefix: String) async throws -> any BlobStore { try await open(prefix) }

    /// Removes the empty remains of a prefix whose objects are all deleted (a purged trash entry).
    public func removeEmptyPrefix(_ prefix: String) async throws { try await removeEmpty(prefix) }

    /// The repository of a server.
    public func repository(vault: UUID, server: UUID) async throws -> any BlobStore {
        try await store(Self.repositoryPrefix(vault: vault, server: server))
    }

    public static func repositoryPrefix(vault: UUID, server: UUID) -> String {
        "vaults/\(vault.uuidString.lowercased())/servers/\(server.uuidString.lowercased())"
    }

    public static func trashPrefix(_ id: UUID) -> String { "trash/\(id.uuidString.lowercased())" }

    /// Filesystem stores under `root` (`DIR/blobs`): `mkdir -p root/prefix` (mode 0700), then a
    /// `FileSystemBlobStore` there.
    public static func fileSystem(root: String) -> BlobBackend {
        BlobBackend(
            open: { prefix in
                let path = "\(root)/\(prefix)"
                do {
                    try FileManager.default.createDirectory(
                        atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw HaulError(.io, "cannot create the blob directory \(path)", cause: error)
                }
                return try FileSystemBlobStore(root: path)
            },
            removeEmpty: { prefix in try removeEmptyDirectories("\(root)/\(prefix)") })
    }

    /// Removes `path` and the folders below it, deepest first, with `rmdir(2)`: a folder that still holds a file
    /// stays (and so do its parents), so an object written there meanwhile is never lost.
    static func removeEmptyDirectories(_ path: String) throws {
        let manager = FileManager.default
        guard let children = try? manager.contentsOfDirectory(atPath: path) else { return }
        for child in children {
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: "\(path)/\(child)", isDirectory: &isDirectory), isDirectory.boolValue {
                try removeEmptyDirectories("\(path)/\(child)")
            }
        }
        if rmdir(path) != 0, errno != ENOTEMPTY, errno != EEXIST, errno != ENOENT {
            throw HaulError(.io, "cannot remove the empty folder \(path): \(String(cString: strerror(errno)))")
        }
    }
}
