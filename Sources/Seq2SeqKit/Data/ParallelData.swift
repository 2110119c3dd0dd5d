import Foundation

/// A tokenized parallel corpus: pairs of source and target ids (no bos/eos yet).
public struct ParallelData: Sendable {
    public var pairs: [(src: [Int32], tgt: [Int32])]
    public var skippedEmpty = 0
    public var skippedLong = 0

    /// Reads line-aligned files, checks them, encodes both sides and drops empty pairs and pairs
    /// with a side longer than `maxLength` tokens (counted in `skippedEmpty`, `skippedLong`).
    public static func load(source: String, target: String, vocabularies v: Vocabularies, maxLength: Int,
                            lenient: Bool = false) throws -> ParallelData {
        let s = try TextFile.readLines(source, lenient: lenient).lines
        let t = try TextFile.readLines(target, lenient: lenient).lines
        guard s.count == t.count else { throw TextError.lineCountMismatch(source, s.count, target, t.count) }
        if s.isEmpty { throw TextError.empty(source) }
        return make(sourceIds: v.source.encodeBatch(s), targetIds: v.target.encodeBatch(t), maxLength: maxLength)
    }

    public static func make(sourceIds: [[Int32]], targetIds: [[Int32]], maxLength: Int) -> ParallelData {
        var d = ParallelData(pairs: [])
        for (a, b) in zip(sourceIds, targetIds) {
            if a.isEmpty || b.isEmpty { d.skippedEmpty += 1; continue }
            if a.count > maxLength || b.count > maxLength { d.skippedLong += 1; continue }
            d.pairs.append((a, b))
        }
        return d
    }

    public var sourceTokens: Int { pairs.reduce(0) { $0 + $1.src.count + 1 } }
    public var targetTokens: Int { pairs.reduce(0) { $0 + $1.tgt.count + 1 } }
}

/// Token-budget batches from length buckets, as fairseq's --max-tokens: pairs are sorted by length
/// (ties broken by a seeded shuffle), cut so that sentences × longest side (with bos/eos) stays
/// within `maxTokens`, and the batch order is shuffled per epoch. Epoch e always gives the same
/// batches in the same order for the same seed, so a resumed run sees exactly the same data.
public struct Batcher: Sendable {
    public let maxTokens: Int
    public let seed: UInt64

    public init(maxTokens: Int, seed: UInt64) { self.maxTokens = maxTokens; self.seed = seed }

    /// The batches of epoch `epoch` (1-based), each a list of pair indices.
    public func epoch(_ epoch: Int, lengths: [(Int, Int)]) -> [[Int]] {
        var rng = RNG(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var keys = lengths.indices.map { (i: $0, noise: rng.next()) }
        keys.sort { a, b in
            let la = lengths[a.i], lb = lengths[b.i]
            if la.0 != lb.0 { return la.0 < lb.0 }
            if la.1 != lb.1 { return la.1 < lb.1 }
            return a.noise < b.noise
        }
        var batches: [[Int]] = []
        var cur: [Int] = []
        var longest = 0
        for k in keys {
            let l = max(lengths[k.i].0, lengths[k.i].1) + 1
            if !cur.isEmpty && (cur.count + 1) * max(longest, l) > maxTokens {
                batches.append(cur)
                cur = []; longest = 0
            }
            cur.append(k.i)
            longest = max(longest, l)
        }
        if !cur.isEmpty { batches.append(cur) }
        for i in stride(from: batches.count - 1, to: 0, by: -1) { batches.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return batches
    }
}
