import Dispatch
import Glibc
import Synchronization

/// Plain threads for system calls that sleep: direct writes, `fsync(2)`, reads of whole objects. On Linux, dispatch
/// queues and Swift's tasks share one pool of threads (two on two cores): a call that sleeps on a dispatch queue
/// sleeps on a thread that also runs tasks, and that core idles meanwhile (docs/architecture.md, "Direct writes").
/// A backup whose packs were `fsync`ed through a dispatch queue had its two task threads in `fsync` a tenth of the
/// time each. Jobs run in the order submitted, on whichever of the threads is free.
final class DedicatedThreads: Sendable {
    /// The background writes of every `DirectFileWriter`.
    static let writers = DedicatedThreads(count: 2)
    /// `FileSystemBlobStore.blocking`: the store's calls that can sleep (a commit's `fsync`s and rename, `put`,
    /// `delete`, `list`, `head`, reads of whole objects and of more than 256 KiB). Eight, so that a backup's four
    /// packs being committed (and the last ones `flush` adds) still leave threads for index writes and reads, and a
    /// service's concurrent requests do not queue behind each other's `fsync`s. Idle threads cost nothing.
    static let systemCalls = DedicatedThreads(count: 8)

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let ready = DispatchSemaphore(value: 0)

    private init(count: Int) {
        for _ in 0..<count {
            var thread = pthread_t()
            let me = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(
                &thread, nil,
                { argument in
                    Unmanaged<DedicatedThreads>.fromOpaque(argument!).takeRetainedValue().serve()
                }, me)
            precondition(rc == 0, "cannot start a thread: \(String(cString: strerror(rc)))")
            pthread_detach(thread)
        }
    }

    /// Runs `job` on one of the threads.
    func run(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        ready.signal()
    }

    /// Runs `body` on one of the threads; the caller's task is suspended, not its thread.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            run {
                do {
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func serve() -> Never {
        while true {
            ready.wait()
            let job = jobs.withLock { $0.removeFirst() }
            job()
        }
    }
}
