import Crypto
import Foundation
import Glibc
import Synchronization

/// scrypt (RFC 7914) whose `p` lanes run on as many threads as there are cores (at most four).
///
/// scrypt is PBKDF2-HMAC-SHA256 over the passphrase and salt, then `p` independent lanes of ROMix (each `128·r·n`
/// bytes of memory, `2·n` BlockMix rounds of Salsa20/8), then PBKDF2 again over the lanes' output. The lanes share
/// nothing, so an attacker's cost is the same whether they run one after another or at once; BoringSSL's
/// implementation runs them one after another, which on two cores leaves one idle while a backup waits for its keys.
/// Here each worker reuses its memory for the next lane it takes, and with w workers each keeps every w-th block of
/// V (`ROMixMemory`), so the memory at once stays `128·r·n` bytes, as when the lanes run one after another.
enum Scrypt {
    /// The derived key. Parameters must be valid (`KDFParameters.validate`); `workers` caps the threads (nil: the
    /// number of active cores, at most four).
    static func derive(
        passphrase: [UInt8], salt: [UInt8], n: Int, r: Int, p: Int, outputByteCount: Int, workers: Int? = nil
    ) -> [UInt8] {
        precondition(n >= 2 && n.nonzeroBitCount == 1 && r >= 1 && p >= 1 && n <= Int(UInt32.max))
        let laneWords = 32 * r
        var lanes = pbkdf2(passphrase: passphrase, salt: salt, byteCount: p * laneWords * 4)
        // At most four threads: each more costs every lane a quarter more work (`ROMixMemory`), so more threads than
        // cores, where the core count overstates what the process gets, would make a derivation slower.
        let width = max(1, min(p, workers ?? min(4, ProcessInfo.processInfo.activeProcessorCount)))
        lanes.withUnsafeMutableBytes { raw in
            let words = UnsafeMutableBufferPointer(
                start: raw.baseAddress!.assumingMemoryBound(to: UInt32.self), count: p * laneWords)
            // Little-endian words, as RFC 7914 reads them (every Linux host Swift targets is little-endian).
            let shared = LaneWords(words: words)
            let next = LaneCounter()
            runOnThreads(width) {
                // Each of `width` workers keeps every width-th block of V, so they hold n blocks together: as much
                // memory as one lane, which is all the lanes one after another ever held.
                let memory = ROMixMemory(n: n, r: r, keepEvery: width)
                while true {
                    let lane = next.value.add(1, ordering: .relaxed).oldValue
                    if lane >= p { break }
                    memory.mix(shared.words.baseAddress! + lane * laneWords)
                }
                memory.free()
            }
        }
        return pbkdf2(passphrase: passphrase, salt: lanes, byteCount: outputByteCount)
    }

    /// PBKDF2-HMAC-SHA256 with one iteration, as scrypt uses it.
    static func pbkdf2(passphrase: [UInt8], salt: [UInt8], byteCount: Int) -> [UInt8] {
        let key = SymmetricKey(data: passphrase)
        var out: [UInt8] = []
        out.reserveCapacity(byteCount + 32)
        var block: UInt32 = 1
        while out.count < byteCount {
            var mac = HMAC<SHA256>(key: key)
            mac.update(data: salt)
            mac.update(data: [
                UInt8(block >> 24), UInt8(block >> 16 & 0xff), UInt8(block >> 8 & 0xff), UInt8(block & 0xff),
            ])
            out.append(contentsOf: mac.finalize())
            block += 1
        }
        return Array(out.prefix(byteCount))
    }

    /// The lanes' words, handed to the worker threads (each lane is written by the one worker that took it).
    private struct LaneWords: @unchecked Sendable {
        let words: UnsafeMutableBufferPointer<UInt32>
    }

    /// The next lane a worker takes.
    private final class LaneCounter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Runs `body` on `count` threads at once (this one and `count - 1` new ones) and returns when all are done.
    private static func runOnThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
        guard count > 1 else { return body() }
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var threads: [pthread_t] = []
        for _ in 1..<count {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(Box(body)).toOpaque()
            let rc = pthread_create(
                &thread, nil,
                { argument in
                    Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                    return nil
                }, box)
            if rc == 0 {
                threads.append(thread)
            } else {
                Unmanaged<Box>.fromOpaque(box).release()  // fewer threads: the lanes still all run
            }
        }
        body()
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// One worker's ROMix state: every `keepEvery`-th block of `V` (n blocks of 128·r bytes in all) and four blocks of
/// scratch. With `keepEvery` k > 1 a block of V that was not kept is recomputed from the kept one before it, by up to
/// k - 1 more BlockMix rounds (on average (k - 1) / 2 per lookup): the known time-memory trade-off of scrypt, which
/// gives the same result with 1/k of the memory for 1 + (k - 1) / 4 times the work. Two lanes at once with k = 2
/// take 1.25 times one lane's time instead of twice, in the memory of one lane.
private struct ROMixMemory {
    let n: Int
    let r: Int
    let keep: Int
    let v: UnsafeMutablePointer<UInt32>
    let scratch: UnsafeMutablePointer<UInt32>

    init(n: Int, r: Int, keepEvery: Int) {
        self.n = n
        self.r = r
        keep = max(1, keepEvery)
        v = .allocate(capacity: (n + keep - 1) / keep * 32 * r)
        scratch = .allocate(capacity: 4 * 32 * r)
    }

    func free() {
        v.deallocate()
        scratch.deallocate()
    }

    /// ROMix (RFC 7914 §5) of the lane at `b`, in place.
    func mix(_ b: UnsafeMutablePointer<UInt32>) {
        let words = 32 * r
        var x = scratch
        var y = scratch + words
        var t = scratch + 2 * words
        var u = scratch + 3 * words
        x.update(from: b, count: words)
        for i in 0..<n {
            if i % keep == 0 { (v + i / keep * words).update(from: x, count: words) }
            blockMix(x, into: y, r: r)
            swap(&x, &y)
        }
        let mask = UInt32(truncatingIfNeeded: n - 1)
        for _ in 0..<n {
            // Integerify: the first word of the last 64-byte block, modulo n (a power of two up to 2^32).
            let j = Int(x[words - 16] & mask)
            var vj = v + j / keep * words
            let steps = j % keep
            if steps > 0 {
                blockMix(vj, into: t, r: r)
                for _ in 1..<steps {
                    blockMix(t, into: u, r: r)
                    swap(&t, &u)
                }
                vj = t
            }
            for k in 0..<words { x[k] ^= vj[k] }
            blockMix(x, into: y, r: r)
            swap(&x, &y)
        }
        b.update(from: x, count: words)
    }
}

/// BlockMix with Salsa20/8 (RFC 7914 §4): `input` and `output` are 2·r blocks of 16 words; even blocks go to the
/// first half of the output, odd ones to the second.
@inline(__always)
private func blockMix(_ input: UnsafeMutablePointer<UInt32>, into output: UnsafeMutablePointer<UInt32>, r: Int) {
    var s = SalsaState(input + (2 * r - 1) * 16)
    for i in 0..<(2 * r) {
        s.xorAndMix(input + i * 16)
        s.store(output + ((i & 1) * r + (i >> 1)) * 16)
    }
}

/// The 16 words of Salsa20/8 in locals (registers), as `xorAndMix` updates them.
private struct SalsaState {
    var w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15: UInt32

    @inline(__always)
    init(_ p: UnsafeMutablePointer<UInt32>) {
        (w0, w1, w2, w3) = (p[0], p[1], p[2], p[3])
        (w4, w5, w6, w7) = (p[4], p[5], p[6], p[7])
        (w8, w9, w10, w11) = (p[8], p[9], p[10], p[11])
        (w12, w13, w14, w15) = (p[12], p[13], p[14], p[15])
    }

    @inline(__always)
    func store(_ p: UnsafeMutablePointer<UInt32>) {
        (p[0], p[1], p[2], p[3]) = (w0, w1, w2, w3)
        (p[4], p[5], p[6], p[7]) = (w4, w5, w6, w7)
        (p[8], p[9], p[10], p[11]) = (w8, w9, w10, w11)
        (p[12], p[13], p[14], p[15]) = (w12, w13, w14, w15)
    }

    /// self = Salsa20/8(self ⊕ block).
    @inline(__always)
    mutating func xorAndMix(_ p: UnsafeMutablePointer<UInt32>) {
        w0 ^= p[0]
        w1 ^= p[1]
        w2 ^= p[2]
        w3 ^= p[3]
        w4 ^= p[4]
        w5 ^= p[5]
        w6 ^= p[6]
        w7 ^= p[7]
        w8 ^= p[8]
        w9 ^= p[9]
        w10 ^= p[10]
        w11 ^= p[11]
        w12 ^= p[12]
        w13 ^= p[13]
        w14 ^= p[14]
        w15 ^= p[15]
        var (x0, x1, x2, x3, x4, x5, x6, x7) = (w0, w1, w2, w3, w4, w5, w6, w7)
        var (x8, x9, x10, x11, x12, x13, x14, x15) = (w8, w9, w10, w11, w12, w13, w14, w15)
        @inline(__always) func rotl(_ v: UInt32, _ c: UInt32) -> UInt32 { (v << c) | (v >> (32 - c)) }
        for _ in 0..<4 {
            // Columns.
            x4 ^= rotl(x0 &+ x12, 7)
            x8 ^= rotl(x4 &+ x0, 9)
            x12 ^= rotl(x8 &+ x4, 13)
            x0 ^= rotl(x12 &+ x8, 18)
            x9 ^= rotl(x5 &+ x1, 7)
            x13 ^= rotl(x9 &+ x5, 9)
            x1 ^= rotl(x13 &+ x9, 13)
            x5 ^= rotl(x1 &+ x13, 18)
            x14 ^= rotl(x10 &+ x6, 7)
            x2 ^= rotl(x14 &+ x10, 9)
            x6 ^= rotl(x2 &+ x14, 13)
            x10 ^= rotl(x6 &+ x2, 18)
            x3 ^= rotl(x15 &+ x11, 7)
            x7 ^= rotl(x3 &+ x15, 9)
            x11 ^= rotl(x7 &+ x3, 13)
            x15 ^= rotl(x11 &+ x7, 18)
            // Rows.
            x1 ^= rotl(x0 &+ x3, 7)
            x2 ^= rotl(x1 &+ x0, 9)
            x3 ^= rotl(x2 &+ x1, 13)
            x0 ^= rotl(x3 &+ x2, 18)
            x6 ^= rotl(x5 &+ x4, 7)
            x7 ^= rotl(x6 &+ x5, 9)
            x4 ^= rotl(x7 &+ x6, 13)
            x5 ^= rotl(x4 &+ x7, 18)
            x11 ^= rotl(x10 &+ x9, 7)
            x8 ^= rotl(x11 &+ x10, 9)
            x9 ^= rotl(x8 &+ x11, 13)
            x10 ^= rotl(x9 &+ x8, 18)
            x12 ^= rotl(x15 &+ x14, 7)
            x13 ^= rotl(x12 &+ x15, 9)
            x14 ^= rotl(x13 &+ x12, 13)
            x15 ^= rotl(x14 &+ x13, 18)
        }
        w0 &+= x0
        w1 &+= x1
        w2 &+= x2
        w3 &+= x3
        w4 &+= x4
        w5 &+= x5
        w6 &+= x6
        w7 &+= x7
        w8 &+= x8
        w9 &+= x9
        w10 &+= x10
        w11 &+= x11
        w12 &+= x12
        w13 &+= x13
        w14 &+= x14
        w15 &+= x15
    }
}
