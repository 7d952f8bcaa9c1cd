import HaulFormat

/// Visits every node below a tree, depth first, with its path relative to the snapshot root.
public struct TreeWalker: Sendable {
    public let source: any BlobSource
    public init(source: any BlobSource) { self.source = source }

    /// Finds the node at `path` (components separated by "/"), or nil.
    public func find(root: BlobID, path: [UInt8]) async throws -> Node? {
        let parts = path.split(separator: 47).map(Array.init)
        var tree = try await source.loadTree(root)
        var current: Node?
        for (i, part) in parts.enumerated() {
            guard let node = tree.node(named: part) else { return nil }
            current = node
            if i < parts.count - 1 {
                guard node.kind == .directory, let sub = node.subtree else { return nil }
                tree = try await source.loadTree(sub)
            }
        }
        return current
    }

    /// Calls `visit` for every node below `root` (or below the directory at `prefix`), in name order.
    public func walk(root: BlobID, prefix: [UInt8] = [], _ visit: (_ path: [UInt8], _ node: Node) throws -> Void)
        async throws
    {
        var start = root
        if !prefix.isEmpty {
            guard let node = try await find(root: root, path: prefix) else {
                throw HaulError(.notFound, "no entry \(String(decoding: prefix, as: UTF8.self)) in this snapshot")
            }
            let trimmed = Array(prefix.split(separator: 47).joined(separator: [47]))
            guard node.kind == .directory, let sub = node.subtree else {
                try visit(trimmed, node)
                return
            }
            try visit(trimmed, node)
            start = sub
            try await walkTree(start, path: trimmed, visit)
            return
        }
        try await walkTree(start, path: [], visit)
    }

    private func walkTree(_ id: BlobID, path: [UInt8], _ visit: (_ path: [UInt8], _ node: Node) throws -> Void)
        async throws
    {
        let tree = try await source.loadTree(id)
        for node in tree.nodes {
            let p = path.isEmpty ? node.name : path + [47] + node.name
            try visit(p, node)
            if node.kind == .directory, let sub = node.subtree { try await walkTree(sub, path: p, visit) }
        }
    }
}
