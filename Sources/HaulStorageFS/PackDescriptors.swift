import Glibc
import Synchronization

/// Descriptors of the packs that ranged reads came from lately, kept open so that a restore's many small reads from
/// one pack cost a `pread(2)` each instead of `open(2)` (a path lookup), `fstat(2)`, `pread(2)` and `close(2)`.
///
/// A pack never changes under its name (format.md §1: the name is the SHA-256 of its bytes), so a kept descriptor
/// reads what the name promises. `FileSystemBlobStore.put` and `delete` drop the descriptor of the object they
/// touch; one in use is closed when its last read ends. At most `capacity` descriptors are kept; the one used least
/// recently and not in use makes room. A read that finds no room uses a descriptor of its own, closed after it.
final class PackDescriptors: Sendable {
    private struct Entry {
        var fd: Int32
        var size: Int64
        var users: Int
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        /// Dropped descriptors still in use → their users.
        var retired: [Int32: Int] = [:]
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 8) { self.capacity = capacity }

    deinit {
        state.withLock { s in
            for entry in s.entries.values { Glibc.close(entry.fd) }
            for fd in s.retired.keys { Glibc.close(fd) }
        }
    }

    /// Descriptors kept now (tests).
    var count: Int { state.withLock { $0.entries.count } }

    /// Runs `body` with a descriptor of `path` and its size: a kept one, or one from `open` (which also checks what
    /// it opened), then kept if there is room.
    func with<T>(
        _ path: String, open: () throws -> (fd: Int32, size: Int64), _ body: (Int32, Int64) throws -> T
    ) throws -> T {
        let (fd, size, kept) = try acquire(path, open: open)
        defer { release(path, fd: fd, kept: kept) }
        return try body(fd, size)
    }

    /// Closes the kept descriptor of `path`, or retires it until its last user is done.
    func drop(_ path: String) {
        let unused: Int32? = state.withLock { s in
            guard let entry = s.entries.removeValue(forKey: path) else { return nil }
            if entry.users == 0 { return entry.fd }
            s.retired[entry.fd] = entry.users
            return nil
        }
        if let unused { Glibc.close(unused) }
    }

    private func acquire(_ path: String, open: () throws -> (fd: Int32, size: Int64)) throws -> (Int32, Int64, Bool) {
        let found: (Int32, Int64)? = state.withLock { s in
            guard var entry = s.entries[path] else { return nil }
            s.clock += 1
            entry.users += 1
            entry.lastUse = s.clock
            s.entries[path] = entry
            return (entry.fd, entry.size)
        }
        if let (fd, size) = found { return (fd, size, true) }
        let opened = try open()
        let (kept, evicted): (Bool, Int32?) = state.withLock { s in
            guard s.entries[path] == nil else { return (false, nil) }  // another read kept one meanwhile
            var evicted: Int32?
            if s.entries.count >= capacity {
                guard
                    let (victim, entry) = s.entries.lazy.filter({ $0.value.users == 0 }).min(by: {
                        $0.value.lastUse < $1.value.lastUse
                    })
                else { return (false, nil) }
                s.entries.removeValue(forKey: victim)
                evicted = entry.fd
            }
            s.clock += 1
            s.entries[path] = Entry(fd: opened.fd, size: opened.size, users: 1, lastUse: s.clock)
            return (true, evicted)
        }
        if let evicted { Glibc.close(evicted) }
        return (opened.fd, opened.size, kept)
    }

    private func release(_ path: String, fd: Int32, kept: Bool) {
        guard kept else {
            Glibc.close(fd)
            return
        }
        let unused: Int32? = state.withLock { s in
            if var entry = s.entries[path], entry.fd == fd {
                entry.users -= 1
                s.entries[path] = entry
                return nil
            }
            let users = (s.retired[fd] ?? 1) - 1
            if users > 0 {
                s.retired[fd] = users
                return nil
            }
            s.retired.removeValue(forKey: fd)
            return fd
        }
        if let unused { Glibc.close(unused) }
    }
}
