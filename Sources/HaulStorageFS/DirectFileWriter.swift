import CLinux
import Dispatch
import Glibc
import HaulFormat
import Synchronization

/// Writes a file from front to back, possibly jumping forward over holes, in page-aligned blocks of `blockSize`
/// bytes that the writer threads (`DedicatedThreads.writers`) write while the caller fills the next ones. Up to
/// `queueDepth` blocks are queued or being written at once, so a caller that fills blocks faster than one write
/// completes does not wait for each write in turn: it waits only when the disk, not the latency of a single write, is
/// the limit.
///
/// With `direct`, the aligned part of each block goes through a second descriptor opened with `O_DIRECT`: from
/// memory to the disk without a copy into the page cache. On some VMs that copy (first touch of page-cache memory)
/// costs more CPU than all the hashing of a backup (bench/RESULTS.md). The unaligned edges of a write after a jump
/// and of the last block go through the caller's descriptor with ordinary `pwrite(2)`; Linux keeps the two coherent.
/// A file system without direct I/O (the second open fails), or a direct write refused with `EINVAL`, leaves every
/// write on the caller's descriptor.
///
/// Holes stay holes: bytes are written only where `write` put them. Nothing is durable before the caller's `fsync`.
/// The caller keeps its descriptor and may close it at any time: background writes go through descriptors of the
/// writer's own (a `dup(2)` and the direct one), and `deinit` waits for every queued write before freeing its blocks.
public final class DirectFileWriter: Sendable {
    public static let blockSize = 1 << 20
    /// Blocks of one writer queued or being written at once. One write at a time left a backup's sealing thread
    /// waiting for each 1 MiB block (about 2.4 ms on this VM's disk) while the disk was busy less than half the time.
    public static let queueDepth = 4
    /// File offsets, lengths and buffer addresses of direct writes are multiples of this: the page size, which covers
    /// the logical block size of the disks Linux file systems sit on.
    public static let alignment = 4096

    private let fd: Int32
    private let path: String
    private let state: Mutex<State>
    private let writer: BlockWriter

    private struct State {
        /// The block being filled.
        var current: Block
        /// File offset of `current[0]`, a multiple of `alignment`.
        var start: Int64 = 0
        /// `current[0..<lead]` is not ours to write (the block starts before the offset a jump went to).
        var lead = 0
        var filled = 0
        var finished = false
    }

    /// - Parameters:
    ///   - fd: a descriptor open for writing; stays the caller's (not closed here).
    ///   - path: names the file in error messages.
    ///   - direct: use `O_DIRECT` where the file system supports it; false: ordinary writes only.
    /// - Throws: the mapped `dup(2)` error when the writer's own descriptor cannot be made (too many open files).
    public convenience init(fd: Int32, path: String, direct: Bool) throws(HaulError) {
        try self.init(fd: fd, path: path, direct: direct, writeDelay: 0)
    }

    /// `writeDelay`: microseconds each background write sleeps first (tests: a disk slower than the caller).
    init(fd: Int32, path: String, direct: Bool, writeDelay: UInt32) throws(HaulError) {
        self.fd = fd
        self.path = path
        let own = dup(fd)
        guard own >= 0 else { throw SystemCall.error("dup", path, errno: errno) }
        _ = fcntl(own, F_SETFD, FD_CLOEXEC)
        let directFD = direct ? haul_reopen_direct(fd) : -1
        self.writer = BlockWriter(fd: own, directFD: directFD, path: path, writeDelay: writeDelay)
        self.state = Mutex(State(current: Block.take()))
    }

    deinit {
        writer.waitIdle()  // no write still reads a block
        writer.close()
        state.withLock { s in Block.give([s.current]) }
    }

    /// Whether full blocks still go out with `O_DIRECT`.
    public var isDirect: Bool { writer.isDirect }

    /// How many times a caller's thread slept because `queueDepth` blocks were queued (never, through the calls that
    /// suspend the task instead).
    var threadSleeps: Int { writer.threadSleeps.load(ordering: .relaxed) }

    /// Writes `bytes` at `offset`, which is at or past the end of everything written before.
    /// - Throws: the error of an earlier background write, `.invalidArgument` for an offset before the end, or
    ///   `.internalError` after `finish`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(HaulError) {
        try state.withLock { s throws(HaulError) in
            guard !s.finished else { throw HaulError(.internalError, "\(path) was already finished") }
            let end = s.start + Int64(s.filled)
            if offset != end {
                guard offset > end else {
                    throw HaulError(.invalidArgument, "write at \(offset) in \(path) goes back before \(end)")
                }
                try flush(&s)
                let a = Int64(Self.alignment)
                s.start = offset / a * a
                s.lead = Int(offset - s.start)
                s.filled = s.lead
            }
            guard var source = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = min(left, Self.blockSize - s.filled)
                (s.current.bytes.baseAddress! + s.filled).copyMemory(from: source, byteCount: n)
                s.filled += n
                source += n
                left -= n
                if s.filled == Self.blockSize { try flush(&s) }
            }
        }
    }

    /// `write(_:at:)` for a caller on Swift's task threads (one task writing at a time): where the bytes would queue
    /// a block while `queueDepth` are queued, the task is suspended until one is written, not its thread. The
    /// synchronous `write` sleeps in the queue instead, and a restore's two task threads both sleeping there left a
    /// core idle while small files waited (docs/architecture.md, "Direct writes").
    public func write(_ bytes: [UInt8], at offset: Int64) async throws(HaulError) {
        var done = 0
        repeat {
            let position = offset + Int64(done)
            // Room left in the block these bytes go to, and whether they jump (which queues the block before).
            let (room, jumps) = state.withLock { s in
                let end = s.start + Int64(s.filled)
                guard position != end else { return (Self.blockSize - s.filled, false) }
                return (Self.blockSize - Int(position % Int64(Self.alignment)), true)
            }
            // No room only after a failed write left the block full: the synchronous write throws that error.
            let count = room == 0 ? bytes.count - done : min(bytes.count - done, room)
            await writer.waitUntilQueued(atMost: max(0, Self.queueDepth - (jumps ? 1 : 0) - (count >= room ? 1 : 0)))
            let piece = done..<(done + count)
            // `Array.withUnsafeBytes` rethrows untyped errors: the write's error comes out as a result.
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(HaulError) in try write(UnsafeRawBufferPointer(rebasing: raw[piece]), at: position) }
            }
            try result.get()
            done += count
        } while done < bytes.count
    }

    /// Suspends the task, not its thread, until `write` of `byteCount` bytes at the end of what was written would
    /// queue every block those bytes fill without waiting: for a caller that holds the writer alone and writes
    /// synchronously after it (a pack being sealed, `StagedObject.waitForRoom`). Bytes filling more than
    /// `queueDepth` blocks wait for an empty queue; the synchronous write then waits for the rest.
    public func waitForRoom(toWrite byteCount: Int) async {
        let fills = state.withLock { s in (s.filled + byteCount) / Self.blockSize }
        guard fills > 0 else { return }
        await writer.waitUntilQueued(atMost: max(0, Self.queueDepth - fills))
    }

    /// Writes what is left and waits for every write; throws the first error of any of them. Later writes throw.
    public func finish() throws(HaulError) {
        try queueTheRest()
        try writer.drain()
    }

    /// `finish()` for a caller on Swift's task threads: the task, not its thread, waits for the writes.
    public func finish() async throws(HaulError) {
        await writer.waitUntilQueued(atMost: Self.queueDepth - 1)
        try queueTheRest()
        await writer.waitUntilQueued(atMost: 0)
        try writer.drain()
    }

    /// Marks the writer finished and queues the partly filled block (at most one block more).
    private func queueTheRest() throws(HaulError) {
        try state.withLock { s throws(HaulError) in
            guard !s.finished else { return }
            s.finished = true
            try flush(&s)
        }
    }

    /// Writes `current[lead..<filled]`: the aligned middle in the background, the unaligned edges now, through the
    /// caller's descriptor. Then a free block from the writer becomes the one to fill, at the next offset.
    private func flush(_ s: inout State) throws(HaulError) {
        guard s.filled > s.lead else { return }
        let a = Self.alignment
        let low = (s.lead + a - 1) / a * a
        let high = s.filled / a * a
        let middle = low < high ? low..<high : s.lead..<s.lead
        let bytes = UnsafeRawBufferPointer(s.current.bytes)
        if middle.isEmpty {
            try writer.writeNow(
                UnsafeRawBufferPointer(rebasing: bytes[s.lead..<s.filled]), fd: fd, at: s.start + Int64(s.lead))
        } else {
            if s.lead < middle.lowerBound {
                try writer.writeNow(
                    UnsafeRawBufferPointer(rebasing: bytes[s.lead..<middle.lowerBound]), fd: fd,
                    at: s.start + Int64(s.lead))
            }
            if middle.upperBound < s.filled {
                try writer.writeNow(
                    UnsafeRawBufferPointer(rebasing: bytes[middle.upperBound..<s.filled]), fd: fd,
                    at: s.start + Int64(middle.upperBound))
            }
            // Waits while `queueDepth` blocks are queued; the writer hands back a free block to fill next.
            s.current = try writer.submit(s.current, range: middle, at: s.start + Int64(middle.lowerBound))
        }
        s.start += Int64(s.filled)
        s.lead = 0
        s.filled = 0
        if s.start % Int64(a) != 0 {
            // Only after a partial block (a jump or the end): the next write jumps, or there is none.
            let aligned = s.start / Int64(a) * Int64(a)
            s.lead = Int(s.start - aligned)
            s.filled = s.lead
            s.start = aligned
        }
    }
}

/// One page-aligned block of `DirectFileWriter.blockSize` bytes; owned by its writer, lent to the queue.
private struct Block: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    /// Blocks of finished writers, reused by the next ones: a restore opens a writer per large file, and fresh
    /// blocks from malloc's per-thread arenas stayed resident beside the reused ones (+40 MiB peak RSS), besides
    /// costing a page fault per 4 KiB on first touch.
    private static let free = Mutex<[Block]>([])
    static let freeLimit = 16

    static func take() -> Block {
        free.withLock { $0.popLast() }
            ?? Block(bytes: .allocate(byteCount: DirectFileWriter.blockSize, alignment: DirectFileWriter.alignment))
    }

    static func give(_ blocks: [Block]) {
        for block in blocks {
            let kept = free.withLock { list in
                guard list.count < freeLimit else { return false }
                list.append(block)
                return true
            }
            if !kept { block.bytes.deallocate() }
        }
    }
}

/// Writes the blocks of one file on `DedicatedThreads.writers`, up to `DirectFileWriter.queueDepth` at once; keeps the
/// first error.
private final class BlockWriter: Sendable {
    /// The writer's own duplicate of the caller's descriptor (buffered writes).
    let fd: Int32
    /// The `O_DIRECT` descriptor, or -1.
    let directFD: Int32
    let path: String
    private let direct: Atomic<Bool>
    /// One permit per block that may be queued or being written.
    private let slots = DispatchSemaphore(value: DirectFileWriter.queueDepth)
    /// Blocks whose write is done, to be filled again.
    private let free = Mutex<[Block]>([])
    private let failure = Mutex<HaulError?>(nil)
    /// Blocks queued or being written, and the tasks waiting for that count to drop to their limit
    /// (`waitUntilQueued`). A block's permit in `slots` is back before the count drops, so a task that saw the count
    /// at its limit does not sleep in `slots.wait()`.
    private let queued = Mutex<(count: Int, waiters: [(limit: Int, task: CheckedContinuation<Void, Never>)])>((0, []))

    let writeDelay: UInt32
    let threadSleeps = Atomic(0)

    init(fd: Int32, directFD: Int32, path: String, writeDelay: UInt32) {
        self.fd = fd
        self.directFD = directFD
        self.path = path
        self.direct = Atomic(directFD >= 0)
        self.writeDelay = writeDelay
    }

    var isDirect: Bool { direct.load(ordering: .relaxed) }

    /// Waits until no write is queued or running; the permits are taken until `close` (or `drain` gives them back).
    func waitIdle() {
        for _ in 0..<DirectFileWriter.queueDepth { slots.wait() }
    }

    /// After `waitIdle`: closes the descriptors and gives the free blocks back to the pool.
    func close() {
        for _ in 0..<DirectFileWriter.queueDepth { slots.signal() }
        Glibc.close(fd)
        if directFD >= 0 { Glibc.close(directFD) }
        Block.give(
            free.withLock { list in
                defer { list = [] }
                return list
            })
    }

    /// Waits while `queueDepth` blocks are queued or being written, then writes `block[range]` at `offset` in the
    /// background and returns a free block to fill next. Throws the error of an earlier write (the caller keeps
    /// `block`).
    func submit(_ block: Block, range: Range<Int>, at offset: Int64) throws(HaulError) -> Block {
        if slots.wait(timeout: .now()) == .timedOut {
            threadSleeps.add(1, ordering: .relaxed)
            slots.wait()
        }
        if let error = failure.withLock({ $0 }) {
            slots.signal()
            throw error
        }
        let job = Job(block: block, range: range, offset: offset)
        queued.withLock { $0.count += 1 }
        DedicatedThreads.writers.run {
            defer {
                self.free.withLock { $0.append(job.block) }
                self.slots.signal()
                self.dequeued()
            }
            if self.writeDelay > 0 { usleep(self.writeDelay) }
            do throws(HaulError) {
                try self.write(
                    UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(job.block.bytes)[job.range]),
                    fd: self.fd, at: job.offset, useDirect: true)
            } catch {
                self.failure.withLock { $0 = $0 ?? error }
            }
        }
        return free.withLock { $0.popLast() } ?? Block.take()
    }

    /// Returns when at most `limit` blocks are queued or being written; the task is suspended meanwhile.
    func waitUntilQueued(atMost limit: Int) async {
        if queued.withLock({ $0.count <= limit }) { return }
        await withCheckedContinuation { task in
            let now = queued.withLock { q in
                guard q.count > limit else { return true }
                q.waiters.append((limit, task))
                return false
            }
            if now { task.resume() }
        }
    }

    /// One block less in the queue: resumes the tasks whose limit it reaches.
    private func dequeued() {
        let ready = queued.withLock { q in
            q.count -= 1
            let count = q.count
            defer { q.waiters.removeAll { $0.limit >= count } }
            return q.waiters.filter { $0.limit >= count }
        }
        for waiter in ready { waiter.task.resume() }
    }

    /// Waits for every write queued; throws the first error of any write.
    func drain() throws(HaulError) {
        waitIdle()
        for _ in 0..<DirectFileWriter.queueDepth { slots.signal() }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// An unaligned piece, written through the caller's descriptor on the calling thread.
    func writeNow(_ bytes: UnsafeRawBufferPointer, fd: Int32, at offset: Int64) throws(HaulError) {
        try write(bytes, fd: fd, at: offset, useDirect: false)
    }

    /// `pwrite(2)` until every byte is written, through `directFD` when `useDirect` and direct writes still work,
    /// else through `fd`; an `EINVAL` from a direct write moves this and every later write to `fd`.
    private func write(_ bytes: UnsafeRawBufferPointer, fd: Int32, at offset: Int64, useDirect: Bool)
        throws(HaulError)
    {
        var done = 0
        while done < bytes.count {
            let viaDirect = useDirect && direct.load(ordering: .relaxed)
            let n = pwrite(
                viaDirect ? directFD : fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n < 0, errno == EINTR {
                continue
            } else if n < 0, errno == EINVAL, viaDirect {
                direct.store(false, ordering: .relaxed)
            } else {
                throw SystemCall.error("write", path, errno: n == 0 ? ENOSPC : errno)
            }
        }
    }

    private struct Job: Sendable {
        let block: Block
        let range: Range<Int>
        let offset: Int64
    }
}
