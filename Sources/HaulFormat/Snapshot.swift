import Foundation

/// A recovery point (format.md §8): who, when, what was backed up, and the root tree.
public struct Snapshot: Codable, Sendable, Hashable {
    public struct Summary: Codable, Sendable, Hashable {
        public var files: Int = 0
        public var directories: Int = 0
        public var otherEntries: Int = 0
        public var bytes: UInt64 = 0
        public var filesNew: Int = 0
        public var filesChanged: Int = 0
        public var filesUnchanged: Int = 0
        public var bytesRead: UInt64 = 0
        public var dataBlobsNew: Int = 0
        public var bytesAdded: UInt64 = 0
        public var bytesStored: UInt64 = 0
        public var warnings: Int = 0
        public init() {}
    }

    public var version: Int = 1
    public var time: Date
    public var startNanos: Int64
    public var endNanos: Int64
    public var tree: String
    public var paths: [LosslessBytes]
    public var hostname: String
    public var username: String
    public var uid: UInt32
    public var gid: UInt32
    public var tags: [String]
    public var parent: String?
    public var summary: Summary

    public init(
        startNanos: Int64, endNanos: Int64, tree: BlobID, paths: [LosslessBytes], hostname: String, username: String,
        uid: UInt32, gid: UInt32, tags: [String], parent: SnapshotID?, summary: Summary
    ) {
        self.time = Date(timeIntervalSince1970: Double(startNanos) / 1e9)
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.tree = tree.hex
        self.paths = paths
        self.hostname = hostname
        self.username = username
        self.uid = uid
        self.gid = gid
        self.tags = tags
        self.parent = parent?.hex
        self.summary = summary
    }

    /// The root tree; throws `corrupted` if the stored id is malformed.
    public func treeID() throws -> BlobID {
        guard let id = BlobID(hex: tree) else {
            throw HaulError(.corrupted, "snapshot names a malformed tree id \(tree)")
        }
        return id
    }
}
