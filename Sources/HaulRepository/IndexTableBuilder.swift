import Crypto
import Glibc
import HaulFormat

/// The index files an `IndexTable` describes (format.md §15).
struct IndexFileSet {
    /// The files in use, in list order.
    var used: [IndexID] = []
    /// The listed files that another listed file supersedes.
    var supersededListed: [IndexID] = []
    /// Every id named by the `supersedes` list of a listed file, listed or not.
    var superseded: Set<IndexID> = []
}

/// Builds an `IndexTable` (format.md §15) from index files without holding their entries in memory.
///
/// Each index file is turned into a sorted run of table entries (with the file's own pack ordinals) in a scratch
/// sink; `finish` then merges the runs of the files in use, k ways, into the table: equal ids keep the entry of the
/// earliest file, and within a file the lowest pack ordinal and offset, as `MemoryIndex.add` does. Both sinks live in
/// the cache directory (the run file is unlinked as soon as it is open) or, without one, on the heap.
struct IndexTableBuilder {
    private struct Run {
        var start: Int
        var count: Int
        var packs: [MemoryIndex.PackRecord]
    }

    private let runs: ByteSink
    private var runList: [Run] = []
    private var scratch: [UInt8] = []

    /// - Parameter directory: where the scratch file goes; `nil` keeps the runs on the heap.
    init(directory: String?) throws {
        runs = try directory.map { try ByteSink(scratchIn: $0) } ?? ByteSink()
    }

    /// Adds one index file as a run; files are numbered in the order they are added.
    mutating func add(_ file: IndexFile) throws {
        var order: [(id: Digest256, pack: UInt32, entry: PackEntry)] = []
        order.reserveCapacity(file.blobCount)
        for (ordinal, pack) in file.packs.enumerated() {
            for e in pack.entries { order.append((e.id.digest, UInt32(ordinal), e)) }
        }
        order.sort { ($0.id, $0.pack, $0.entry.offset) < ($1.id, $1.pack, $1.entry.offset) }
        scratch.removeAll(keepingCapacity: true)
        for (_, pack, e) in order { Self.appendEntry(&scratch, e, pack: pack) }
        runList.append(
            Run(
                start: runs.written / IndexTable.entryLength, count: order.count,
                packs: file.packs.map { MemoryIndex.PackRecord(id: $0.id, size: $0.size, salt: $0.salt) }))
        try scratch.withUnsafeBytes { try runs.append($0) }
    }

    /// Merges the runs of `used` (positions in the order of `add`) into `output` and returns the table.
    ///
    /// - Parameters:
    ///   - files: the index files the table describes, stored in it for `Repository.indexFiles` and for extending.
    ///   - base: a table whose entries come first (a blob in both keeps its entry) and whose packs keep their
    ///     ordinals: the table being extended (format.md §15, "Extending").
    func finish(
        used: [Int], files: IndexFileSet, setHash: Digest256, extending base: IndexTable? = nil,
        into output: ByteSink, what: String
    ) throws -> IndexTable {
        // Global pack ordinals: the base's, then in order of first appearance, as MemoryIndex.add assigns them.
        var packs: [MemoryIndex.PackRecord] = base?.packs ?? []
        var ordinalOf: [PackID: UInt32] = [:]
        for (i, p) in packs.enumerated() where ordinalOf[p.id] == nil { ordinalOf[p.id] = UInt32(i) }
        var mapping: [[UInt32]] = Array(repeating: [], count: runList.count)
        for f in used {
            mapping[f] = runList[f].packs.map { p in
                if let o = ordinalOf[p.id] { return o }
                let o = UInt32(packs.count)
                packs.append(p)
                ordinalOf[p.id] = o
                return o
            }
        }

        try output.append(zeros: IndexTable.headerLength)
        output.startChecksum()
        var body: [UInt8] = []
        for id in files.used + files.supersededListed + files.superseded.sorted() {
            body.append(contentsOf: id.digest.bytes)
        }
        for p in packs {
            body.append(contentsOf: p.id.digest.bytes)
            Self.appendLE(&body, p.size, 8)
            body.append(contentsOf: p.salt)
        }
        try body.withUnsafeBytes { try output.append($0) }

        // The runs are unmapped before the table is mapped and verified, so their pages are not resident together.
        let count: Int
        do {
            let scratch = try runs.finish()
            var sources = used.map {
                MergeRun(
                    entries: scratch.base, start: runList[$0].start, count: runList[$0].count, ordinals: mapping[$0])
            }
            if let base {
                base.region.adviseSequentialAccess()
                let identity = (0..<UInt32(base.packs.count)).map { $0 }
                sources.insert(MergeRun(entries: base.entries, start: 0, count: base.count, ordinals: identity), at: 0)
            }
            count = try withExtendedLifetime((scratch, base)) { try Self.merge(sources, into: output) }
        }

        var header: [UInt8] = IndexTable.magic
        Self.appendLE(&header, UInt64(IndexTable.version), 4)
        Self.appendLE(&header, UInt64(IndexTable.entryLength), 4)
        header.append(contentsOf: setHash.bytes)
        Self.appendLE(&header, UInt64(files.used.count + files.supersededListed.count), 4)
        Self.appendLE(&header, UInt64(files.used.count), 4)
        Self.appendLE(&header, UInt64(packs.count), 4)
        Self.appendLE(&header, UInt64(files.superseded.count), 4)
        Self.appendLE(&header, UInt64(count), 8)
        header.append(contentsOf: output.checksum().bytes)
        precondition(header.count == IndexTable.headerLength)
        try output.patch(at: 0, header)
        return try IndexTable(region: try output.finish(), expectedSetHash: setHash, what: what)
    }

    /// Sorted entries to merge: `count` entries from position `start` of `entries`, whose pack ordinals map through
    /// `ordinals` to the table's.
    private struct MergeRun {
        var entries: UnsafeRawPointer
        var start: Int
        var count: Int
        var ordinals: [UInt32]
    }

    /// K-way merge over the runs with a binary heap ordered by (id, run position); returns the entries written.
    private static func merge(_ runs: [MergeRun], into output: ByteSink) throws -> Int {
        struct Cursor {
            var next: Int
            var end: Int
            var key: Digest256
            let run: Int
        }
        func entry(_ run: Int, _ i: Int) -> UnsafeRawPointer { runs[run].entries + i * IndexTable.entryLength }
        var heap: [Cursor] = runs.enumerated().compactMap { run, r in
            r.count == 0
                ? nil
                : Cursor(next: r.start, end: r.start + r.count, key: IndexTable.digest(entry(run, r.start)), run: run)
        }
        func less(_ a: Cursor, _ b: Cursor) -> Bool { a.key < b.key || (a.key == b.key && a.run < b.run) }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }

        var written = 0
        var last: Digest256?
        var buffer = [UInt8](repeating: 0, count: IndexTable.entryLength)
        while !heap.isEmpty {
            let top = heap[0]
            if top.key != last {
                last = top.key
                let e = entry(top.run, top.next)
                let ordinal = runs[top.run].ordinals[Int(IndexTable.u32(e, 32))]
                try buffer.withUnsafeMutableBytes { b in
                    b.copyMemory(from: UnsafeRawBufferPointer(start: e, count: IndexTable.entryLength))
                    b.storeBytes(of: ordinal.littleEndian, toByteOffset: 32, as: UInt32.self)
                    try output.append(UnsafeRawBufferPointer(b))
                }
                written += 1
            }
            if top.next + 1 < top.end {
                heap[0].next += 1
                heap[0].key = IndexTable.digest(entry(top.run, top.next + 1))
            } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
        }
        return written
    }

    private static func appendEntry(_ out: inout [UInt8], _ e: PackEntry, pack: UInt32) {
        let d = e.id.digest
        for w in [d.w0, d.w1, d.w2, d.w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift)))
            }
        }
        appendLE(&out, UInt64(pack), 4)
        appendLE(&out, UInt64(e.offset), 4)
        appendLE(&out, UInt64(e.storedLength), 4)
        appendLE(&out, UInt64(e.rawLength), 4)
        out.append(e.type.rawValue)
        out.append(e.compression.rawValue)
        out.append(contentsOf: [0, 0])
        appendLE(&out, UInt64(e.storedMemberOffset), 4)
    }

    private static func appendLE(_ out: inout [UInt8], _ v: UInt64, _ n: Int) {
        for i in 0..<n { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }
}

/// An append-only byte sink with a 1 MiB buffer, flushed with `pwrite(2)` to a file or copied to a heap block;
/// optionally computes SHA-256 of everything appended after `startChecksum()`.
final class ByteSink {
    private let fd: Int32?
    private var heap: UnsafeMutableRawPointer?
    private var heapCapacity = 0
    private let buffer: UnsafeMutableRawPointer
    private static let bufferSize = 1 << 20
    private var buffered = 0
    private var flushed = 0
    private var hasher: SHA256?
    private var checksumFrom = 0
    let what: String

    /// A heap sink.
    init() {
        fd = nil
        what = "memory"
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
    }

    /// A file sink on `path`, created exclusively.
    init(creating path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CacheIOError("cannot create \(path)", errno: errno) }
        self.fd = fd
        what = path
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
    }

    /// An anonymous scratch file in `directory`: created, then unlinked at once so that nothing is left behind.
    convenience init(scratchIn directory: String) throws {
        var g = SystemRandomNumberGenerator()
        let path = "\(directory)/runs-\(String(g.next() as UInt64, radix: 16)).tmp"
        try self.init(creating: path)
        unlink(path)
    }

    deinit {
        buffer.deallocate()
        if let fd { close(fd) }
        free(heap)
    }

    var written: Int { flushed + buffered }

    func startChecksum() {
        hasher = SHA256()
        checksumFrom = written
    }

    func checksum() -> Digest256 {
        try? flush()
        return hasher!.finalize().withUnsafeBytes { IndexTable.digest($0.baseAddress!) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if buffered == Self.bufferSize { try flush() }
            let n = min(rest.count, Self.bufferSize - buffered)
            (buffer + buffered).copyMemory(from: rest.baseAddress!, byteCount: n)
            buffered += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    func append(zeros n: Int) throws {
        try [UInt8](repeating: 0, count: n).withUnsafeBytes { try append($0) }
    }

    /// Overwrites bytes already written (the header).
    func patch(at offset: Int, _ bytes: [UInt8]) throws {
        try flush()
        if let fd {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard n == bytes.count else { throw CacheIOError("cannot write \(what)", errno: errno) }
        } else {
            bytes.withUnsafeBytes { (heap! + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        let chunk = UnsafeRawBufferPointer(start: buffer, count: buffered)
        if hasher != nil {
            let skip = max(0, checksumFrom - flushed)
            if skip < buffered { hasher!.update(bufferPointer: UnsafeRawBufferPointer(rebasing: chunk[skip...])) }
        }
        if let fd {
            var done = 0
            while done < buffered {
                let n = pwrite(fd, buffer + done, buffered - done, off_t(flushed + done))
                guard n > 0 else { throw CacheIOError("cannot write \(what)", errno: errno) }
                done += n
            }
        } else {
            if flushed + buffered > heapCapacity {
                let capacity = max(flushed + buffered, heapCapacity * 2, 1 << 16)
                guard let grown = realloc(heap, capacity) else { throw CacheIOError("out of memory", errno: ENOMEM) }
                heap = grown
                heapCapacity = capacity
            }
            (heap! + flushed).copyMemory(from: buffer, byteCount: buffered)
        }
        flushed += buffered
        buffered = 0
    }

    /// Flushes and returns the bytes as a read-only region (a file mapping, or the heap block handed over).
    func finish() throws -> CacheRegion {
        try flush()
        if let fd, flushed > 0 { return try CacheRegion.map(fd: fd, what: what) }
        if heap == nil { heap = malloc(1) }
        defer { heap = nil }
        return CacheRegion(heap: heap!, count: flushed)
    }
}
