import Foundation
import Glibc
import HaulFormat
import HaulStorage
import HaulTesting
import Testing

@testable import HaulStorageFS

@Suite struct FileSystemBlobStoreTests {
    @Test func conformance() async throws {
        try await TemporaryDirectory.with { directory in
            var stores = 0
            try await BlobStoreConformance.run {
                stores += 1
                let root = "\(directory)/store-\(stores)"
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
                return try FileSystemBlobStore(root: root)
            }
        }
    }

    @Test func layoutFollowsFormatSection1() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root + "/")
            let pack = testKey(.data, 1, prefix: "ab")
            try await store.put(pack, testBytes(33))
            try await store.put(.config, [7], mode: .createOnly)
            try await store.put(testKey(.leases, 2), [8])
            #expect(store.path(of: pack) == "\(root)/data/ab/\(pack.name)")
            #expect(FileManager.default.contents(atPath: "\(root)/data/ab/\(pack.name)") == Data(testBytes(33)))
            #expect(FileManager.default.contents(atPath: "\(root)/config") == Data([7]))
            #expect(FileManager.default.fileExists(atPath: "\(root)/leases/\(testKey(.leases, 2).name)"))
            #expect(try temporaryFiles(under: root).isEmpty)
        }
    }

    /// A pack into a missing fan-out folder makes all 256 (one `fsync` of `data/` instead of one per later folder);
    /// the empty ones list nothing, a folder that was there keeps its packs, and a stray file where a folder would go
    /// fails only the packs of that folder.
    @Test func aMissingFanOutFolderMakesThemAll() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            let old = testKey(.data, 1, prefix: "ab")
            try FileManager.default.createDirectory(atPath: "\(root)/data/ab", withIntermediateDirectories: true)
            try writeFile("\(root)/data/ab/\(old.name)", contents: Data([1]))
            try writeFile("\(root)/data/7f", contents: Data([9]))
            let new = testKey(.data, 2, prefix: "0f")
            try await store.put(new, [2, 3])
            let folders = try FileManager.default.contentsOfDirectory(atPath: "\(root)/data").sorted()
            #expect(folders == (0..<256).map { String(format: "%02x", $0) })
            #expect(
                try await store.list(.data).sorted { $0.key.name < $1.key.name }
                    == [ObjectInfo(key: new, size: 2), ObjectInfo(key: old, size: 1)])
            await #expect(throws: HaulError.self) { try await store.put(testKey(.data, 3, prefix: "7f"), [4]) }
        }
    }

    @Test func strayEntriesAreIgnored() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            let pack = testKey(.data, 1, prefix: "ab")
            try await store.put(pack, [1])
            let manager = FileManager.default
            try writeFile("\(root)/data/ab/notes.txt", contents: Data([1]))
            try writeFile("\(root)/data/ab/\(testKey(.data, 2, prefix: "cd").name)", contents: Data([1]))
            try writeFile("\(root)/data/\(testKey(.data, 3, prefix: "ab").name)", contents: Data([1]))
            try manager.createDirectory(atPath: "\(root)/data/zz", withIntermediateDirectories: true)
            try manager.createDirectory(
                atPath: "\(root)/index/\(testKey(.index, 4).name)", withIntermediateDirectories: true)
            try writeFile("\(root)/index/README", contents: Data([1]))
            try writeFile("\(root)/index/\(testKey(.index, 0xabcdef).name.uppercased())", contents: Data([1]))
            #expect(try await store.list(.data) == [ObjectInfo(key: pack, size: 1)])
            #expect(try await store.list(.index) == [])
            #expect(try await store.head(testKey(.index, 4)) == nil)
        }
    }

    @Test func crashLeftoversAreNotListedAndArePruned() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            let index = testKey(.index, 1)
            let pack = testKey(.data, 2, prefix: "ef")
            try await store.put(index, [1])
            try await store.put(pack, [2])
            let leftovers = ["\(root)/index/.tmp-0123456789abcdef", "\(root)/data/ef/.tmp-1", "\(root)/.tmp-config"]
            for path in leftovers { try writeFile(path, contents: Data(testBytes(100))) }
            #expect(try await store.list(.index) == [ObjectInfo(key: index, size: 1)])
            #expect(try await store.list(.data) == [ObjectInfo(key: pack, size: 1)])
            #expect(try await store.list(.config) == [])

            #expect(try store.removeStaleTemporaryFiles(olderThan: 3600) == 0)
            #expect(try store.removeStaleTemporaryFiles(olderThan: 3600, now: Date() + 7200) == 3)
            #expect(try temporaryFiles(under: root).isEmpty)
            #expect(try await store.get(index) == [1])
            #expect(try await store.get(pack) == [2])
        }
    }

    @Test func rangedReadsOfPacksKeepAFewDescriptorsAndSeeRewritesAndDeletes() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            let packs = (1...12).map { testKey(.data, $0, prefix: "ab") }
            for (n, pack) in packs.enumerated() { try await store.put(pack, testBytes(300, UInt8(n))) }
            for _ in 0..<2 {
                for (n, pack) in packs.enumerated() {
                    #expect(
                        try await store.get(pack, offset: 100, length: 50) == Array(testBytes(300, UInt8(n))[100..<150])
                    )
                }
            }
            #expect(store.packDescriptors.count == store.packDescriptors.capacity)
            // Index files are not kept.
            try await store.put(testKey(.index, 1), testBytes(10))
            #expect(try await store.get(testKey(.index, 1), offset: 2, length: 3) == Array(testBytes(10)[2..<5]))

            let last = packs.last!
            try await store.put(last, testBytes(300, 99), mode: .overwrite)
            #expect(try await store.get(last, offset: 0, length: 4) == Array(testBytes(300, 99)[0..<4]))
            try await store.delete(last)
            await #expect {
                _ = try await store.get(last, offset: 0, length: 4)
            } throws: { ($0 as? HaulError)?.code == .notFound }
        }
    }

    @Test func aDescriptorDroppedWhileInUseIsClosedAfterItsRead() async throws {
        try await TemporaryDirectory.with { root in
            let path = root + "/pack"
            try writeFile(path, contents: Data(testBytes(64)))
            let descriptors = PackDescriptors(capacity: 2)
            let open = { () throws -> (fd: Int32, size: Int64) in (Glibc.open(path, O_RDONLY | O_CLOEXEC), 64) }
            let kept = try descriptors.with(path, open: open) { fd, _ in fd }
            let used = try descriptors.with(path, open: open) { fd, _ in
                descriptors.drop(path)
                var byte: UInt8 = 0
                #expect(pread(fd, &byte, 1, 1) == 1 && byte == testBytes(64)[1], "still readable while in use")
                return fd
            }
            #expect(used == kept, "the second read used the kept descriptor")
            #expect(descriptors.count == 0)
            // Closed once the read ended: that number no longer names the pack (another test may have reused it).
            let named = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(used)")
            #expect(named != path, "closed once the read ended")
        }
    }

    @Test func concurrentCreateOnlyPutsHaveOneWinner() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            for round in 0..<20 {
                let key = testKey(.keys, round)
                async let first = caught { try await store.put(key, testBytes(4096, 1), mode: .createOnly) }
                async let second = caught { try await store.put(key, testBytes(4096, 2), mode: .createOnly) }
                let failures = await [first, second].compactMap { $0 }
                #expect(failures.count == 1)
                #expect(failures.first?.haulCode == .alreadyExists)
                let stored = try await store.get(key)
                #expect(stored == testBytes(4096, 1) || stored == testBytes(4096, 2))
            }
            #expect(try temporaryFiles(under: root).isEmpty)
        }
    }

    @Test func rootMustBeAnExistingDirectory() async throws {
        try await TemporaryDirectory.with { root in
            #expect { try FileSystemBlobStore(root: "\(root)/missing") } throws: { error in
                let error = error as? HaulError
                return error?.code == .notFound && error?.message.contains("\(root)/missing") == true
            }
            try writeFile("\(root)/file", contents: Data())
            #expect { try FileSystemBlobStore(root: "\(root)/file") } throws: { error in
                let error = error as? HaulError
                return error?.code == .invalidArgument && error?.message.contains("\(root)/file") == true
            }
        }
    }

    /// Staged bytes come back exactly, whatever the sizes of the appends: pieces across block boundaries, a total
    /// that ends on a block boundary and one that does not, with direct writes and with buffered ones.
    @Test(arguments: [true, false])
    func stagedObjectsKeepEveryByte(direct: Bool) async throws {
        try await TemporaryDirectory.with { root in
            var store = try FileSystemBlobStore(root: root)
            store.directStagedWrites = direct
            let block = DirectFileWriter.blockSize
            let patterns: [[Int]] = [
                [0, 1, 4095, 1, block - 4097, block, 3, 2 * block + 5] + Array(repeating: 37, count: 100),
                [block, block],
                [block - 1, 1, 7],
                [],
            ]
            for (n, sizes) in patterns.enumerated() {
                let staged = try store.stage(.data)
                let file = try #require(staged as? StagedFile)
                var expected: [UInt8] = []
                for (i, size) in sizes.enumerated() {
                    let piece = testBytes(size, UInt8(truncatingIfNeeded: i))
                    try piece.withUnsafeBytes { try staged.append($0) }
                    expected += piece
                }
                if direct && FileSystemProbe.takesDirectIO(root) { #expect(file.isDirect) }
                if !direct { #expect(!file.isDirect) }
                let key = testKey(.data, n, prefix: "ab")
                try await staged.commit(as: key)
                let stored = try await store.get(key)
                #expect(stored.count == expected.count)
                #expect(stored == expected)
            }
            #expect(try temporaryFiles(under: root).isEmpty)
        }
    }

    @Test func discardedStagedObjectLeavesNothing() async throws {
        try await TemporaryDirectory.with { root in
            let store = try FileSystemBlobStore(root: root)
            let staged = try store.stage(.data)
            try testBytes(3 * DirectFileWriter.blockSize + 11).withUnsafeBytes { try staged.append($0) }
            staged.discard()
            #expect(try temporaryFiles(under: root).isEmpty)
            #expect(try await store.list(.data) == [])
            #expect { try [1].withUnsafeBytes { try staged.append($0) } } throws: { error in
                (error as? HaulError)?.code == .internalError
            }
        }
    }

    /// A real full disk: a 1 MiB tmpfs mounted for the test (root only).
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func diskFullFailsCleanly() async throws {
        try await TemporaryDirectory.with { directory in
            guard mount("tmpfs", directory, "tmpfs", 0, "size=1M,mode=0700") == 0 else {
                let reason = String(cString: strerror(errno))
                withKnownIssue("cannot mount a tmpfs here: \(reason)") { throw HaulError(.io, reason) }
                return
            }
            defer { umount2(directory, Int32(MNT_DETACH)) }
            let store = try FileSystemBlobStore(root: directory)
            let key = testKey(.data, 1, prefix: "aa")
            await #expect { try await store.put(key, testBytes(2 << 20)) } throws: { error in
                let error = error as? HaulError
                return error?.code == .io && error?.isTransient == false
                    && error?.message.contains("disk full") == true
                    && error?.message.contains(store.path(of: key)) == true
            }
            #expect(try await store.head(key) == nil)
            #expect(try await store.list(.data) == [])
            #expect(try temporaryFiles(under: directory).isEmpty)
            try await store.put(key, testBytes(1000))
            #expect(try await store.get(key) == testBytes(1000))

            // A staged object too large for the disk: the error names the file, nothing is left behind.
            let staged = try store.stage(.data)
            let big = testBytes(3 * DirectFileWriter.blockSize)
            do {
                try big.withUnsafeBytes { try staged.append($0) }
                try await staged.commit(as: testKey(.data, 2, prefix: "bb"))
                Issue.record("a staged object larger than the disk was committed")
            } catch let error as HaulError {
                #expect(error.code == .io && error.message.contains("disk full") && error.message.contains(".tmp-"))
            }
            staged.discard()
            #expect(try await store.head(testKey(.data, 2, prefix: "bb")) == nil)
            #expect(try temporaryFiles(under: directory).isEmpty)
            #expect(try await store.get(key) == testBytes(1000))
        }
    }
}

/// Every `.tmp-*` file below `root`.
private func temporaryFiles(under root: String) throws -> [String] {
    let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
    return all.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
}

/// The error `body` throws, or `nil`.
private func caught(_ body: @Sendable () async throws -> Void) async -> (any Error)? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}

/// Writes a file outside the store, as a stray entry or a crash leftover.
private func writeFile(_ path: String, contents: Data) throws {
    try contents.write(to: URL(fileURLWithPath: path))
}
