import Foundation

/// Counts the space-separated words of many lines by their UTF-8 bytes, then normalizes each
/// distinct word once. Keys are byte strings in an open-addressing table (no String hashing, which
/// in Swift is Unicode-aware and dominates a word count). Normalization, lowercasing and the
/// whitespace clean-up never act across an ASCII space, so counting raw words and normalizing each
/// distinct one equals normalizing whole lines first (a test checks it).
struct WordCounter {
    /// Distinct words: bytes[start ..< start + length], in first-seen order.
    private(set) var bytes: [UInt8] = []
    private(set) var starts: [Int] = []
    private(set) var lengths: [Int] = []
    private(set) var counts: [Int] = []
    private var hashes: [UInt64] = []
    private var slots: [Int32]          // entry index, -1 when empty
    private var mask: Int

    init(capacity: Int = 1 << 14) {
        var n = 16
        while n < 2 * capacity { n <<= 1 }
        slots = [Int32](repeating: -1, count: n)
        mask = n - 1
    }

    /// Adds every word of a line (runs of bytes between ASCII spaces).
    mutating func addLine(_ line: String) {
        var line = line
        line.withUTF8 { buf in
            guard let base = buf.baseAddress else { return }
            var i = 0
            let n = buf.count
            while i < n {
                while i < n && base[i] == 0x20 { i += 1 }
                let start = i
                while i < n && base[i] != 0x20 { i += 1 }
                if i > start { add(base + start, i - start, count: 1) }
            }
        }
    }

    /// Adds `count` occurrences of the word bytes p[0 ..< n].
    mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, count: Int) {
        let h = Self.hash(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[s])
            if e < 0 { break }
            if hashes[e] == h && lengths[e] == n && bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress! + starts[e], p, n) == 0 }) {
                counts[e] += count
                return
            }
            s = (s + 1) & mask
        }
        slots[s] = Int32(counts.count)
        starts.append(bytes.count)
        lengths.append(n)
        counts.append(count)
        hashes.append(h)
        bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        if counts.count * 2 > slots.count { grow() }
    }

    /// Adds all of another counter's words.
    mutating func merge(_ other: WordCounter) {
        other.bytes.withUnsafeBufferPointer { b in
            for e in 0..<other.counts.count { add(b.baseAddress! + other.starts[e], other.lengths[e], count: other.counts[e]) }
        }
    }

    private mutating func grow() {
        let n = slots.count * 2
        slots = [Int32](repeating: -1, count: n)
        mask = n - 1
        for e in 0..<counts.count {
            var s = Int(truncatingIfNeeded: hashes[e]) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(e)
        }
    }

    /// 64-bit multiply-xorshift hash over 8-byte chunks.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(truncatingIfNeeded: n) &* k
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k
            h ^= h >> 29
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            for j in 0..<(n - i) { tail |= UInt64(p[i + j]) << (8 * UInt64(j)) }
            h = (h ^ tail) &* k
        }
        h ^= h >> 32
        return h &* k ^ (h >> 29)
    }

    /// Marked normalized words ("▁" + word) → occurrences. Printable ASCII words are already
    /// normalized (every form leaves them alone; lowercasing is ASCII there); others go through
    /// the normalizer and may split into several words or vanish.
    func normalizedCounts(_ normalizer: Normalizer) -> [String: Int] {
        var total: [String: Int] = [:]
        total.reserveCapacity(counts.count)
        bytes.withUnsafeBufferPointer { b in
            for e in 0..<counts.count {
                let word = UnsafeBufferPointer(start: b.baseAddress! + starts[e], count: lengths[e])
                if word.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                    var marked: [UInt8] = [0xE2, 0x96, 0x81]  // ▁
                    marked.reserveCapacity(word.count + 3)
                    if normalizer.lowercase {
                        for c in word { marked.append(c >= 0x41 && c <= 0x5A ? c + 32 : c) }
                    } else {
                        marked.append(contentsOf: word)
                    }
                    total[String(decoding: marked, as: UTF8.self), default: 0] += counts[e]
                } else {
                    for w in PreTokenizer.words(normalizer(String(decoding: word, as: UTF8.self))) {
                        total[PreTokenizer.marked(w), default: 0] += counts[e]
                    }
                }
            }
        }
        return total
    }
}
