import Foundation
import Glibc
import HaulFormat
import HaulTesting
import Testing

@testable import HaulStorageFS

@Suite struct DirectFileWriterTests {
    static let block = DirectFileWriter.blockSize

    /// Writes at rising offsets with jumps (across blocks, inside one page next to earlier data, by one byte) land
    /// exactly, the bytes between them read as zeros, and a large jump stays a hole, with direct writes and without,
    /// through the calls that sleep in the queue and through those that suspend the task (`suspending`).
    @Test(arguments: [true, false], [true, false])
    func writesLandExactlyAndJumpsStayHoles(direct: Bool, suspending: Bool) async throws {
        try await Self.withWriter(direct: direct) { root, path, fd, writer in
            if direct && FileSystemProbe.takesDirectIO(root) { #expect(writer.isDirect) }
            if !direct { #expect(!writer.isDirect) }
            let mib = 1 << 20
            let writes: [(offset: Int, count: Int)] = [
                (0, 10), (10, 4086), (4096, Self.block + 3),  // to a page edge, then across a block
                (3 * mib + 100, 5000),  // a jump that leaves a hole
                (3 * mib + 6000, 300),  // a jump inside the page the last write ended in
                (6 * mib, 2 * Self.block),  // aligned, whole blocks
                (8 * mib + 1, 1),  // a jump of one byte
                (8 * mib + 2, 3 * Self.block - 7),  // contiguous again, ends unaligned
            ]
            let size = 12 * mib
            var expected = [UInt8](repeating: 0, count: size)
            for (i, w) in writes.enumerated() {
                let piece = (0..<w.count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i &* 31 &+ 1) }
                expected.replaceSubrange(w.offset..<(w.offset + w.count), with: piece)
                if suspending {
                    try await writer.write(piece, at: Int64(w.offset))
                } else {
                    try piece.withUnsafeBytes { try writer.write($0, at: Int64(w.offset)) }
                }
            }
            if suspending { try await writer.finish() } else { try Self.finishSleeping(writer) }
            #expect(ftruncate(fd, off_t(size)) == 0)
            let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(stored.count == size)
            #expect(stored == expected)
            // The jump from ~3 MiB to 6 MiB was not written: the file system keeps it as a hole.
            let reader = open(path, O_RDONLY)
            defer { close(reader) }
            let seekData: Int32 = 3  // SEEK_DATA
            #expect(lseek(reader, off_t(4 * mib), seekData) == off_t(6 * mib))
        }
    }

    /// How a test writes: through the calls that suspend the task, through the synchronous ones after `waitForRoom`
    /// (a pack being sealed), or through the synchronous ones alone.
    enum Caller: CaseIterable { case suspending, waitingForRoom, synchronous }

    /// With writes slower than the caller (each sleeps 20 ms first), the calls that suspend, and the synchronous
    /// calls after `waitForRoom`, keep the caller's thread awake: the queue fills, yet the thread never sleeps in it;
    /// the synchronous calls alone do sleep there. The bytes land every way.
    @Test(arguments: Caller.allCases)
    func suspendingCallsNeverPutTheThreadToSleep(caller: Caller) async throws {
        try await TemporaryDirectory.with { root in
            let path = "\(root)/file"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            try #require(fd >= 0)
            defer { close(fd) }
            let writer = try DirectFileWriter(fd: fd, path: path, direct: false, writeDelay: 20_000)
            let blocks = 3 * DirectFileWriter.queueDepth
            // Pieces of one and a half blocks: the writes fill one block and two in turn.
            let piece = (0..<(Self.block + Self.block / 2)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
            var expected: [UInt8] = []
            for _ in 0..<(blocks * Self.block / piece.count) {
                switch caller {
                case .suspending:
                    try await writer.write(piece, at: Int64(expected.count))
                case .waitingForRoom:
                    await writer.waitForRoom(toWrite: piece.count)
                    try piece.withUnsafeBytes { try writer.write($0, at: Int64(expected.count)) }
                case .synchronous:
                    try piece.withUnsafeBytes { try writer.write($0, at: Int64(expected.count)) }
                }
                expected += piece
            }
            if caller == .synchronous { try Self.finishSleeping(writer) } else { try await writer.finish() }
            if caller == .synchronous {
                #expect(writer.threadSleeps > 0)
            } else {
                #expect(writer.threadSleeps == 0)
            }
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == expected)
        }
    }

    @Test func goingBackOrWritingAfterFinishIsRefused() async throws {
        try await Self.withWriter(direct: true) { _, path, _, writer in
            try [UInt8](repeating: 1, count: 10_000).withUnsafeBytes { try writer.write($0, at: 0) }
            #expect {
                try [UInt8]([2]).withUnsafeBytes { try writer.write($0, at: 9_999) }
            } throws: { error in
                let error = error as? HaulError
                return error?.code == .invalidArgument && error?.message.contains(path) == true
            }
            try Self.finishSleeping(writer)
            #expect { try [UInt8]([2]).withUnsafeBytes { try writer.write($0, at: 10_000) } } throws: { error in
                (error as? HaulError)?.code == .internalError
            }
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == [UInt8](repeating: 1, count: 10_000))
        }
    }
}

extension DirectFileWriterTests {
    /// The synchronous `finish()` (an async context picks the overload that suspends).
    static func finishSleeping(_ writer: DirectFileWriter) throws { try writer.finish() }

    /// A new file in a temporary directory and a writer for it: (directory, file path, descriptor, writer).
    static func withWriter(
        direct: Bool, _ body: (String, String, Int32, DirectFileWriter) async throws -> Void
    ) async throws {
        try await TemporaryDirectory.with { root in
            let path = "\(root)/file"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            try #require(fd >= 0)
            defer { close(fd) }
            try await body(root, path, fd, try DirectFileWriter(fd: fd, path: path, direct: direct))
        }
    }
}
