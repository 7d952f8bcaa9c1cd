import Foundation
import Testing

@testable import HaulFormat

@Suite struct ByteCodecTests {
    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), UInt64.max])
    func uvarintRoundTrip(_ v: UInt64) throws {
        var w = ByteWriter()
        w.uvarint(v)
        var r = ByteReader(w.bytes, what: "test")
        #expect(try r.uvarint() == v)
        #expect(r.isAtEnd)
    }

    @Test(arguments: [Int64(0), -1, 1, Int64.min, Int64.max, -1_700_000_000])
    func svarintRoundTrip(_ v: Int64) throws {
        var w = ByteWriter()
        w.svarint(v)
        var r = ByteReader(w.bytes, what: "test")
        #expect(try r.svarint() == v)
    }

    @Test func knownVarintBytes() {
        var w = ByteWriter()
        w.uvarint(300)
        #expect(w.bytes == [0xAC, 0x02])
    }

    @Test func truncatedInputIsCorrupted() {
        var r = ByteReader([0x80], what: "sample")
        #expect(throws: HaulError.self) { try r.uvarint() }
        var r2 = ByteReader([1, 2], what: "sample")
        #expect(throws: HaulError.self) { try r2.u32() }
    }

    @Test func overlongVarintIsRefused() {
        var r = ByteReader([UInt8](repeating: 0xFF, count: 11) + [0], what: "sample")
        #expect(throws: HaulError.self) { try r.uvarint() }
    }
}

@Suite struct DigestTests {
    @Test func hexRoundTripAndOrdering() throws {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        let d = try #require(Digest256(hex: hex))
        #expect(d.hex == hex)
        #expect(d.bytes.count == 32)
        #expect(Digest256(bytes: d.bytes) == d)
        let bigger = try #require(Digest256(hex: "01" + hex.dropFirst(2)))
        #expect(d < bigger)
    }

    @Test func objectIDIsCanonicalLowercase() {
        #expect(ObjectID(hex: String(repeating: "A", count: 64)) == nil)
        #expect(ObjectID(hex: String(repeating: "a", count: 64)) != nil)
        #expect(ObjectID(hex: String(repeating: "a", count: 63)) == nil)
        #expect(ObjectID(hex: "../" + String(repeating: "a", count: 61)) == nil)
    }
}

@Suite struct TreeCodecTests {
    static func sampleTree() -> Tree {
        let blob = BlobID(Digest256(w0: 1, w1: 2, w2: 3, w3: 4))
        return Tree(nodes: [
            Node(
                name: Array("b file".utf8), kind: .file, mode: 0o4755, uid: 1234, gid: 5678,
                mtime: .init(seconds: 1_700_000_000, nanoseconds: 123_456_789),
                ctime: .init(seconds: -5, nanoseconds: 1),
                device: 2049, inode: 99, linkCount: 2, size: 10 << 20,
                xattrs: [
                    .init(name: Array("user.z".utf8), value: [0, 1]), .init(name: Array("user.a".utf8), value: []),
                ],
                chunks: [.init(offset: 0, blob: blob), .init(offset: 8 << 20, blob: blob)]),
            Node(name: [0x66, 0xFF, 0x0A], kind: .directory, mode: 0o1777, subtree: blob),
            Node(name: Array("link".utf8), kind: .symlink, mode: 0o777, linkTarget: Array("../x/y".utf8)),
            Node(name: Array("dev".utf8), kind: .characterDevice, rdev: 0x0103),
            Node(name: Array("fifo".utf8), kind: .fifo),
        ])
    }

    @Test func roundTrip() throws {
        let tree = Self.sampleTree()
        let decoded = try Tree(decoding: tree.encoded())
        // xattrs are stored sorted by name.
        var expected = tree
        for i in expected.nodes.indices { expected.nodes[i].xattrs.sort { $0.name.lexicographicallyPrecedes($1.name) } }
        #expect(decoded == expected)
        #expect(decoded.node(named: [0x66, 0xFF, 0x0A])?.kind == .directory)
    }

    @Test func encodingIsDeterministicRegardlessOfInputOrder() {
        let tree = Self.sampleTree()
        let shuffled = Tree(nodes: tree.nodes.reversed())
        #expect(tree.encoded() == shuffled.encoded())
    }

    @Test func everyTruncationIsRejected() {
        let bytes = Self.sampleTree().encoded()
        for n in 0..<bytes.count {
            #expect(throws: HaulError.self) { try Tree(decoding: Array(bytes[0..<n])) }
        }
    }

    @Test func invalidNamesAreRejected() {
        var w = ByteWriter()
        w.raw(Array("HTRE".utf8))
        w.u8(1)
        w.uvarint(1)
        w.lengthPrefixed(Array("a/b".utf8))
        #expect(throws: HaulError.self) { try Tree(decoding: w.bytes) }
    }
}

@Suite struct IndexFileTests {
    @Test func roundTripKeepsPacksAndEntries() throws {
        func id(_ n: UInt64) -> BlobID { BlobID(Digest256(w0: n, w1: 0, w2: 0, w3: n)) }
        let salt = [UInt8](repeating: 7, count: 32)
        let packA = IndexFile.PackInfo(
            id: ObjectID(Digest256(w0: 9, w1: 9, w2: 9, w3: 9)), size: 1000, salt: salt,
            entries: [
                PackEntry(id: id(5), type: .data, compression: .zstd, offset: 44, storedLength: 100, rawLength: 300),
                PackEntry(id: id(1), type: .data, compression: .raw, offset: 144, storedLength: 50, rawLength: 34),
            ])
        let packB = IndexFile.PackInfo(
            id: ObjectID(Digest256(w0: 1, w1: 1, w2: 1, w3: 1)), size: 200, salt: salt,
            entries: [
                PackEntry(id: id(3), type: .tree, compression: .zstd, offset: 44, storedLength: 60, rawLength: 90)
            ])
        let file = IndexFile(supersedes: [ObjectID(Digest256(w0: 4, w1: 4, w2: 4, w3: 4))], packs: [packA, packB])
        let decoded = try IndexFile(decoding: file.encoded(), what: "index")
        #expect(decoded == file)
        #expect(decoded.blobCount == 3)
    }

    @Test func membersOfAGroupKeepTheirOffsetsAndVersion1FilesStillDecode() throws {
        func id(_ n: UInt64) -> BlobID { BlobID(Digest256(w0: n, w1: 0, w2: 0, w3: n)) }
        let salt = [UInt8](repeating: 7, count: 32)
        let pack = IndexFile.PackInfo(
            id: ObjectID(Digest256(w0: 9, w1: 9, w2: 9, w3: 9)), size: 1000, salt: salt,
            entries: [
                PackEntry(id: id(5), type: .data, compression: .zstd, offset: 44, storedLength: 100, rawLength: 300),
                PackEntry(
                    id: id(7), type: .data, compression: .zstd, offset: 144, storedLength: 90, rawLength: 120,
                    memberOffset: 0),
                PackEntry(
                    id: id(2), type: .data, compression: .zstd, offset: 144, storedLength: 90, rawLength: 80,
                    memberOffset: 120),
            ])
        let file = IndexFile(packs: [pack])
        let bytes = file.encoded()
        #expect(bytes[4] == 2)
        let decoded = try IndexFile(decoding: bytes, what: "index")
        #expect(decoded == file)
        #expect(decoded.packs[0].entries.map(\.memberOffset) == [nil, 0, 120])

        // The same file in version 1 (50-byte entries, no member offsets, no groups).
        let alone = IndexFile(packs: [
            IndexFile.PackInfo(id: pack.id, size: 1000, salt: salt, entries: [pack.entries[0]])
        ])
        var v1 = ByteWriter()
        v1.raw(Array("HIDX".utf8))
        v1.raw([1, 0, 0, 0])
        v1.u32(0)
        v1.u32(1)
        v1.digest(pack.id.digest)
        v1.u64(1000)
        v1.u32(1)
        v1.raw(salt)
        v1.u32(1)
        let e = pack.entries[0]
        v1.digest(e.id.digest)
        v1.raw([e.type.rawValue, e.compression.rawValue])
        for field in [0, e.offset, e.storedLength, e.rawLength] { v1.u32(field) }
        #expect(try IndexFile(decoding: v1.bytes, what: "index") == alone)
        var v3 = bytes
        v3[4] = 3
        #expect { try IndexFile(decoding: v3, what: "index") } throws: {
            ($0 as? HaulError)?.code == .unsupportedVersion
        }
    }

    @Test func packHeadersOfBothVersionsDecode() throws {
        let entries = [
            PackEntry(
                id: BlobID(Digest256(w0: 1, w1: 2, w2: 3, w3: 4)), type: .data, compression: .zstd, offset: 44,
                storedLength: 70, rawLength: 30, memberOffset: 0),
            PackEntry(
                id: BlobID(Digest256(w0: 5, w1: 6, w2: 7, w3: 8)), type: .data, compression: .zstd, offset: 44,
                storedLength: 70, rawLength: 50, memberOffset: 30),
        ]
        let header = PackHeader(entries: entries)
        let bytes = header.encoded()
        #expect(bytes.count == 4 + 2 * 50)
        #expect(try PackHeader(decoding: bytes, version: 2, what: "pack") == header)
        // Read as version 1, the 50-byte entries do not add up.
        #expect(throws: HaulError.self) { try PackHeader(decoding: bytes, version: 1, what: "pack") }
        var v1 = ByteWriter()
        v1.u32(1)
        v1.digest(entries[0].id.digest)
        v1.raw([0, 1])
        for field in [UInt32(44), 70, 30] { v1.u32(field) }
        let old = try PackHeader(decoding: v1.bytes, version: 1, what: "pack")
        #expect(
            old.entries == [
                PackEntry(
                    id: entries[0].id, type: .data, compression: .zstd, offset: 44, storedLength: 70, rawLength: 30)
            ])
    }

    @Test func wrongEntryCountIsCorrupted() throws {
        let file = IndexFile(packs: [])
        var bytes = file.encoded()
        bytes[bytes.count - 4] = 1
        #expect(throws: HaulError.self) { try IndexFile(decoding: bytes, what: "index") }
    }
}

@Suite struct LosslessBytesTests {
    @Test func utf8IsAStringAndOtherBytesAreBase64() throws {
        let text = try JSONEncoder().encode(LosslessBytes("héllo"))
        #expect(String(decoding: text, as: UTF8.self) == "\"héllo\"")
        let raw = LosslessBytes([0x66, 0xFF, 0xFE])
        let encoded = try JSONEncoder().encode(raw)
        #expect(String(decoding: encoded, as: UTF8.self) == "{\"b64\":\"Zv\\/+\"}")
        #expect(try JSONDecoder().decode(LosslessBytes.self, from: encoded) == raw)
    }
}

@Suite struct ConfigTests {
    @Test func chunkerClassIsChosenBySize() throws {
        var config = RepositoryConfig(id: .zero, created: Date(timeIntervalSince1970: 0))
        config.chunker.append(ChunkerClass(minFileSize: 1 << 30, min: 64 << 10, avg: 128 << 10, max: 1 << 20))
        try config.validate()
        #expect(config.chunkerClass(forFileSize: 10).avg == 1 << 20)
        #expect(config.chunkerClass(forFileSize: 2 << 30).avg == 128 << 10)
    }

    @Test func invalidChunkerIsRefused() {
        #expect(throws: HaulError.self) { try ChunkerClass(minFileSize: 0, min: 100, avg: 1000, max: 5000).validate() }
    }

    @Test func newConfigsCompressSmallBlobsAtTheirOwnLevelOldOnesDoNot() throws {
        let fresh = RepositoryConfig(id: .zero, created: Date(timeIntervalSince1970: 0))
        #expect(fresh.compression.smallBlobSize == 32 << 10)
        #expect(fresh.compression.smallBlobLevel == 1)
        let json = try JSONEncoder.haul.encode(fresh)
        #expect(try JSONDecoder.haul.decode(RepositoryConfig.self, from: json) == fresh)
        // A config written before the small-blob fields existed: every blob at `level`.
        let old = Data(
            """
            {"chunker":[{"avg":1048576,"max":8388608,"min":524288,"minFileSize":0}],
             "compression":{"algorithm":"zstd","level":3},"created":"2026-11-25T10:00:00Z",
             "id":"\(String(repeating: "0", count: 64))","packSize":33554432,"version":1}
            """.utf8)
        let decoded = try JSONDecoder.haul.decode(RepositoryConfig.self, from: old)
        try decoded.validate()
        #expect(decoded.compression.smallBlobSize == nil && decoded.compression.smallBlobLevel == nil)
    }

    @Test func impossibleCompressionSettingsAreRefused() {
        for settings in [
            CompressionSettings(level: 0), CompressionSettings(level: 3, smallBlobSize: 1024, smallBlobLevel: 22),
            CompressionSettings(level: 3, smallBlobSize: nil, smallBlobLevel: 1),
            CompressionSettings(level: 3, smallBlobSize: -1, smallBlobLevel: 1),
        ] {
            var config = RepositoryConfig(id: .zero, created: Date(timeIntervalSince1970: 0))
            config.compression = settings
            #expect(throws: HaulError.self) { try config.validate() }
        }
    }
}

@Suite struct TreeDeltaCodecTests {
    static let base = BlobID(Digest256(w0: 9, w1: 8, w2: 7, w3: 6))

    @Test func deltaAppliedToItsBaseGivesTheNewTree() throws {
        let old = TreeCodecTests.sampleTree()
        var nodes = old.nodes.filter { $0.name != Array("fifo".utf8) }  // removed
        nodes[0].size += 1  // changed ("b file")
        nodes.append(Node(name: Array("a new".utf8), kind: .fifo))  // added, sorts first
        nodes.append(Node(name: Array("zz".utf8), kind: .fifo))  // added, sorts last
        let new = Tree(nodes: nodes)
        let delta = TreeDelta(from: old, to: new, base: Self.base, baseDepth: 2)
        #expect(delta.depth == 3)
        #expect(delta.removed == [Array("fifo".utf8)])
        #expect(delta.nodes.map(\.name) == [Array("a new".utf8), Array("b file".utf8), Array("zz".utf8)])
        let decoded = try TreeDelta(decoding: delta.encoded())
        #expect(decoded == delta)
        #expect(try decoded.applied(to: old) == new)
        guard case .delta(let viaBlob) = try TreeBlob(decoding: delta.encoded()) else {
            Issue.record("a delta tree blob was not recognised")
            return
        }
        #expect(viaBlob == delta)
        guard case .full(let full) = try TreeBlob(decoding: old.encoded()) else {
            Issue.record("a full tree blob was not recognised")
            return
        }
        #expect(full == old)
    }

    @Test func removingANameTheBaseLacksIsCorrupted() {
        let delta = TreeDelta(base: Self.base, depth: 1, removed: [Array("absent".utf8)], nodes: [])
        #expect(throws: HaulError.self) { try delta.applied(to: TreeCodecTests.sampleTree()) }
    }

    @Test(arguments: [0, TreeDelta.readableDepth + 1]) func impossibleDepthIsCorrupted(depth: Int) {
        let bytes = TreeDelta(base: Self.base, depth: depth, removed: [], nodes: []).encoded()
        #expect(throws: HaulError.self) { try TreeDelta(decoding: bytes) }
    }

    @Test func truncatedDeltaIsCorrupted() {
        let bytes = TreeDelta(
            from: TreeCodecTests.sampleTree(), to: Tree(nodes: []), base: Self.base, baseDepth: 0
        ).encoded()
        for n in 0..<bytes.count {
            #expect(throws: HaulError.self) { try TreeDelta(decoding: Array(bytes[0..<n])) }
        }
    }
}
