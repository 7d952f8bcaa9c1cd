/// Bounds how many tasks do an expensive thing at once (reading files, holding chunk buffers).
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func wait() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func signal() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }

    func withPermit<R: Sendable>(_ body: @Sendable () async throws -> R) async throws -> R {
        await wait()
        do {
            let r = try await body()
            signal()
            return r
        } catch {
            signal()
            throw error
        }
    }
}
