import HaulFormat
import Testing

@testable import HaulEngine

@Suite struct PruneAccountingTests {
    /// A group of small blobs counts once, shared among its members by raw length (format.md §4).
    @Test func aGroupsStoredBytesAreSharedByItsMembers() {
        func id(_ n: UInt64) -> BlobID { BlobID(Digest256(w0: n, w1: n, w2: n, w3: n)) }
        let a = PackEntry(
            id: id(1), type: .data, compression: .zstd, offset: 44, storedLength: 200, rawLength: 100, memberOffset: 0)
        let b = PackEntry(
            id: id(2), type: .data, compression: .zstd, offset: 44, storedLength: 200, rawLength: 300,
            memberOffset: 100)
        let alone = PackEntry(id: id(3), type: .data, compression: .raw, offset: 244, storedLength: 50, rawLength: 34)
        let pack = IndexFile.PackInfo(
            id: ObjectID(Digest256(w0: 9, w1: 9, w2: 9, w3: 9)), size: 400, salt: [UInt8](repeating: 1, count: 32),
            entries: [a, b, alone])
        #expect(Pruner.storedBytes(of: pack.entries, in: pack) == 250)
        #expect(Pruner.storedBytes(of: [a], in: pack) == 50)
        #expect(Pruner.storedBytes(of: [b, alone], in: pack) == 200)
    }
}
