import HaulFormat

/// What a restore would do, worked out without writing anything (`Restorer.plan`).
public struct RestorePlan: Sendable, Codable, Hashable {
    /// What happens to one entry of the snapshot.
    public enum Action: String, Sendable, Codable, Hashable {
        /// Nothing of that name exists in the target: created.
        case create
        /// An existing non-directory entry is replaced.
        case replace
        /// An existing directory receives the snapshot directory's content and metadata.
        case merge
        /// Left alone under `OverwritePolicy.never`.
        case keep
        /// An existing file with the snapshot's size and mtime, kept under `OverwritePolicy.ifChanged`.
        case unchanged
        /// An existing directory is in the way of a non-directory: left alone with a warning.
        case blocked
        /// A later name of a hard-linked file: linked to its first name.
        case link
    }

    public struct Entry: Sendable, Codable, Hashable {
        public var path: LosslessBytes
        /// `file`, `directory`, `symlink`, `fifo`, `characterDevice` or `blockDevice`.
        public var kind: String
        public var action: Action
        /// The logical size of a regular file that would be written (holes included); 0 otherwise.
        public var bytes: UInt64
    }

    /// Regular files that would be written (created or replaced; later hard-link names excluded).
    public var files = 0
    /// Their logical sizes (holes included), the bytes a restore reports as done.
    public var bytes: UInt64 = 0
    /// Directories that would be created or updated.
    public var directories = 0
    /// Later names of hard-linked files that would be linked.
    public var hardlinks = 0
    /// Symlinks, FIFOs and device nodes that would be created or replaced.
    public var otherEntries = 0
    /// Existing files kept as they are under `OverwritePolicy.ifChanged`.
    public var unchanged = 0
    /// Existing entries left alone (`OverwritePolicy.never`, or a directory in the way).
    public var skipped = 0
    /// Every entry with its action, when asked for (`Restorer.plan(listEntries: true)`); else nil.
    public var entries: [Entry]?

    public init() {}

    var restoredEntries: Int { files + directories + hardlinks + otherEntries + unchanged }
}

/// Walks a snapshot tree beside the target directory and records what a restore with `options` would do there.
struct RestorePlanner: Sendable {
    let source: any BlobSource
    let options: RestoreOptions
    let listEntries: Bool

    func plan(
        _ tree: Tree, in dir: DirectoryHandle?, path: [UInt8], included: Bool, links: inout Set<RestoreRun.HardlinkKey>
    ) async throws -> RestorePlan {
        var plan = RestorePlan()
        if listEntries { plan.entries = [] }
        for node in tree.nodes {
            try Task.checkCancellation()
            try RestoreRun.checkName(node.name, in: path)
            let nodePath = joinPath(path, node.name)
            let selected = RestoreRun.selection(
                of: node, path: nodePath, parentIncluded: included, includes: options.includes)
            if selected == .none { continue }
            let existing =
                options.overwrite == .refuseNonEmptyTarget ? nil : dir.flatMap { try? $0.stat(node.name) }
            let disposition = RestoreRun.disposition(of: node, existing: existing, policy: options.overwrite)
            var action: RestorePlan.Action
            switch disposition {
            case .create: action = .create
            case .replace: action = .replace
            case .merge: action = .merge
            case .skip: action = .keep
            case .blocked: action = .blocked
            case .unchanged: action = .unchanged
            }
            var bytes: UInt64 = 0
            switch node.kind {
            case .directory:
                guard action == .create || action == .replace || action == .merge else {
                    plan.skipped += 1
                    break
                }
                guard let subtree = node.subtree else {
                    throw HaulError(
                        .corrupted, "cannot restore directory \(printable(nodePath)): its node has no subtree")
                }
                let child = action == .merge ? try DirectoryHandle(parent: dir!, name: node.name) : nil
                let sub = try await self.plan(
                    try await source.loadTree(subtree), in: child, path: nodePath, included: selected == .all,
                    links: &links)
                if selected == .descend && action != .merge && sub.restoredEntries == 0 { continue }
                if listEntries { plan.entries!.append(Self.entry(nodePath, node, action, 0)) }
                plan.add(sub)
                plan.directories += 1
                continue
            case .file:
                let key = RestoreRun.HardlinkKey(device: node.device, inode: node.inode)
                let laterName = node.linkCount > 1 && links.contains(key)
                switch action {
                case .create, .replace:
                    if laterName {
                        action = .link
                        plan.hardlinks += 1
                    } else {
                        plan.files += 1
                        plan.bytes += node.size
                        bytes = node.size
                    }
                case .unchanged:
                    plan.unchanged += 1
                default:
                    plan.skipped += 1
                }
                if node.linkCount > 1 && (action == .create || action == .replace || action == .unchanged) {
                    links.insert(key)
                }
            case .symlink, .fifo, .characterDevice, .blockDevice:
                if action == .create || action == .replace { plan.otherEntries += 1 } else { plan.skipped += 1 }
            }
            if listEntries { plan.entries!.append(Self.entry(nodePath, node, action, bytes)) }
        }
        return plan
    }

    static func entry(_ path: [UInt8], _ node: Node, _ action: RestorePlan.Action, _ bytes: UInt64)
        -> RestorePlan.Entry
    {
        RestorePlan.Entry(path: LosslessBytes(path), kind: kindName(node.kind), action: action, bytes: bytes)
    }

    static func kindName(_ kind: Node.Kind) -> String {
        switch kind {
        case .file: "file"
        case .directory: "directory"
        case .symlink: "symlink"
        case .fifo: "fifo"
        case .characterDevice: "characterDevice"
        case .blockDevice: "blockDevice"
        }
    }
}

extension RestorePlan {
    mutating func add(_ other: RestorePlan) {
        files += other.files
        bytes += other.bytes
        directories += other.directories
        hardlinks += other.hardlinks
        otherEntries += other.otherEntries
        unchanged += other.unchanged
        skipped += other.skipped
        if let more = other.entries { entries = (entries ?? []) + more }
    }
}
