import Crypto
import HaulFormat
import HaulStorage

extension Repository {
    /// What a pack's header says about it: enough to index it (format.md §6, §7).
    public struct PackHeaderSummary: Sendable, Hashable {
        public var type: BlobType
        public var info: IndexFile.PackInfo
    }

    /// Reads only a pack's preamble and header with ranged reads, never its blobs: the preamble for the salt, the
    /// last bytes for the trailer (`u32` header length) and the sealed header (format.md §6). Used by
    /// `repair index` to rebuild the index from packs alone.
    ///
    /// The header is authenticated (its tag covers the preamble) and its entries are checked to lie between the
    /// preamble and the header, with the pack's blob type. The blobs and the pack's SHA-256 are not verified: that is
    /// `check --read-data`'s job.
    ///
    /// - Parameters:
    ///   - id: the pack.
    ///   - size: the pack's size in bytes as listed by the store.
    ///   - prefetch: how many bytes of the tail to read at once; a longer header costs a second ranged read.
    /// - Throws: `notFound` if the pack is gone, `corrupted` if its preamble, trailer or header is damaged.
    public func readPackHeader(_ id: PackID, size: Int64, prefetch: Int = 64 << 10) async throws -> PackHeaderSummary {
        let what = "pack \(id.hex)"
        let key = ObjectKey(.data, id)
        let minimum = Int64(PackLayout.preambleLength + PackLayout.tagLength + 4 + 4)
        guard size >= minimum else { throw HaulError(.corrupted, "\(what) is truncated (\(size) bytes)") }
        let preamble = try await store.get(key, offset: 0, length: PackLayout.preambleLength)
        let (type, salt) = try PackLayout.parsePreamble(preamble[...], what: what)

        // One read of the tail usually holds the trailer and the whole header (50 bytes per blob).
        let tailLength = Int(min(size - Int64(PackLayout.preambleLength), Int64(max(4, prefetch))))
        let tail = try await store.get(key, offset: size - Int64(tailLength), length: tailLength)
        guard tail.count == tailLength else { throw HaulError(.corrupted, "\(what) is shorter than listed") }
        var r = ByteReader(Array(tail[(tail.count - 4)...]), what: what)
        let headerLength = Int(try r.u32())
        let headerStart = size - 4 - Int64(headerLength)
        guard headerLength >= PackLayout.tagLength + 4, headerStart >= Int64(PackLayout.preambleLength) else {
            throw HaulError(.corrupted, "\(what) has an impossible header length \(headerLength)")
        }
        let sealedHeader: [UInt8]
        if headerLength + 4 <= tail.count {
            sealedHeader = Array(tail[(tail.count - 4 - headerLength)..<(tail.count - 4)])
        } else {
            sealedHeader = try await store.get(key, offset: headerStart, length: headerLength)
            guard sealedHeader.count == headerLength else { throw HaulError(.corrupted, "\(what) is truncated") }
        }
        let entries = try openPackHeader(sealedHeader, preamble: preamble, salt: salt, what: what)
        for e in entries {
            guard e.type == type, Int64(e.offset) >= Int64(PackLayout.preambleLength),
                Int64(e.offset) + Int64(e.storedLength) <= headerStart
            else {
                throw HaulError(.corrupted, "\(what) has a header entry for blob \(e.id.hex) outside its blob area")
            }
        }
        return PackHeaderSummary(
            type: type, info: IndexFile.PackInfo(id: id, size: UInt64(size), salt: salt, entries: entries))
    }

    /// Verifies every byte of a pack without holding it whole (format.md §6): reads the header with
    /// `readPackHeader`, then the pack front to back in segments of whole blobs (about `segment` bytes each), feeding
    /// every byte to SHA-256 and opening every blob (tag, decompression, keyed id). At the end the SHA-256 must equal
    /// the pack's name. Memory stays at about one segment plus one blob, whatever the pack size.
    ///
    /// - Parameter onBytes: called with the size of each segment read, for progress.
    /// - Throws: `corrupted` naming the pack (and the blob) on any mismatch; `notFound` if the pack is gone.
    public func verifyPack(
        _ id: PackID, size: Int64, segment: Int = 4 << 20, onBytes: (Int) -> Void = { _ in }
    ) async throws {
        let what = "pack \(id.hex)"
        let key = ObjectKey(.data, id)
        let summary = try await readPackHeader(id, size: size)
        let records = try Self.records(of: summary.info.entries, what: what)
        var hasher = SHA256()
        var position: Int64 = 0
        var next = 0
        while position < size {
            var end = size
            var last = next
            if next < records.count {
                end = Int64(records[next][0].offset) + Int64(records[next][0].storedLength)
                last = next + 1
                while last < records.count {
                    let candidate = Int64(records[last][0].offset) + Int64(records[last][0].storedLength)
                    guard candidate - position <= Int64(segment) else { break }
                    end = candidate
                    last += 1
                }
            }
            guard end > position else { throw HaulError(.corrupted, "\(what) has overlapping blobs in its header") }
            let bytes = try await store.get(key, offset: position, length: Int(end - position))
            guard Int64(bytes.count) == end - position else { throw HaulError(.corrupted, "\(what) is truncated") }
            try bytes.withUnsafeBytes { buffer in
                hasher.update(bufferPointer: buffer)
                for record in records[next..<last] {
                    let e = record[0]
                    let start = Int(Int64(e.offset) - position)
                    let sealed = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + Int(e.storedLength))])
                    let location = BlobLocation(pack: id, salt: summary.info.salt, entry: e)
                    guard e.memberOffset != nil else {
                        _ = try openBlob(sealedBytes: sealed, location: location)
                        continue
                    }
                    let group = try openGroup(sealedBytes: sealed, location: location)
                    let covered = record.reduce(0) { $0 + Int($1.rawLength) }
                    guard covered == group.count else {
                        throw HaulError(
                            .corrupted,
                            "\(what) has a group at offset \(e.offset) of \(group.count) bytes whose members cover "
                                + "\(covered)")
                    }
                    for m in record {
                        _ = try member(of: group, location: BlobLocation(pack: id, salt: summary.info.salt, entry: m))
                    }
                }
            }
            onBytes(bytes.count)
            next = last
            position = end
        }
        let digest = Digest256(bytes: Array(hasher.finalize()))
        guard digest == id.digest else {
            throw HaulError(
                .corrupted, "\(what) does not match its name (SHA-256 is \(digest.hex)): the stored bytes are damaged")
        }
    }

    /// A pack's entries in records: a blob sealed alone, or the members of one group (format.md §4, §6), in file
    /// order. Members of a group share the group's offset, length and compression and tile its plaintext in order.
    static func records(of entries: [PackEntry], what: String) throws -> [[PackEntry]] {
        let sorted = entries.sorted { ($0.offset, $0.storedMemberOffset) < ($1.offset, $1.storedMemberOffset) }
        var records: [[PackEntry]] = []
        for e in sorted {
            if let first = records.last?.first, first.offset == e.offset {
                let previous = records[records.count - 1].last!
                guard let m = e.memberOffset, let p = previous.memberOffset, first.storedLength == e.storedLength,
                    first.compression == e.compression, m == p + previous.rawLength
                else {
                    throw HaulError(
                        .corrupted, "\(what) has overlapping blobs at offset \(e.offset) in its header")
                }
                records[records.count - 1].append(e)
            } else {
                guard e.memberOffset == nil || e.memberOffset == 0 else {
                    throw HaulError(.corrupted, "\(what) has a group at offset \(e.offset) without its first member")
                }
                records.append([e])
            }
        }
        return records
    }
}
