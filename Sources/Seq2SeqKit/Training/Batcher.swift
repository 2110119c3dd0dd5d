/// Token-budget batches from length buckets, as fairseq's --max-tokens: pairs are sorted by
/// (source length, target length) with ties in a seeded random order, cut so that sentences ×
/// longest side (with bos/eos) stays within `maxTokens`, and the batch order is shuffled per epoch.
/// Epoch e always gives the same batches in the same order for the same seed and corpus, whatever
/// the number of processes, so a resumed or distributed run sees exactly the same data.
///
/// Memory is two UInt32 per pair while planning and one after: the sort is two stable counting
/// passes (by target length, then source length) over a shuffled index, O(pairs), no comparisons.
public struct Batcher: Sendable {
    /// The token budget: sentences × the longest side (bos/eos included) of a batch stays within it, except
    /// that a single pair longer than the budget makes a batch of its own.
    public let maxTokens: Int
    /// Seeds the tie order and the batch order of every epoch.
    public let seed: UInt64

    /// A batcher with a token budget and a seed.
    public init(maxTokens: Int, seed: UInt64) { self.maxTokens = maxTokens; self.seed = seed }

    /// One epoch's batches: batch k is `order[starts[b] ..< starts[b + 1]]` with b = `batchOrder[k]`.
    public struct Plan: Sendable {
        /// Pair indices sorted by (source length, target length), ties in a seeded random order.
        public var order: [UInt32] = []
        /// Where each batch (in sorted order) starts in ``order``, plus ``order``'s count at the end.
        public var starts: [Int] = [0]
        /// The sorted batches' indices in training order (shuffled).
        public var batchOrder: [UInt32] = []
        /// The number of batches.
        public var count: Int { batchOrder.count }
        /// The pair indices of the k-th batch in training order.
        public func batch(_ k: Int) -> ArraySlice<UInt32> {
            let b = Int(batchOrder[k])
            return order[starts[b]..<starts[b + 1]]
        }
    }

    /// The batches of epoch `epoch` (1-based).
    public func plan(epoch: Int, source d: PairSource) -> Plan {
        var rng = RNG(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        let n = d.pairCount
        var plan = Plan()
        guard n > 0 else { return plan }
        // A seeded shuffle of all pair indices breaks ties between equal lengths.
        var a = [UInt32](unsafeUninitializedCapacity: n) { buf, c in
            for i in 0..<n { buf[i] = UInt32(i) }
            c = n
        }
        for i in stride(from: n - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var longest = (src: 0, tgt: 0)
        for i in 0..<n { let l = d.lengths(i); longest = (max(longest.src, l.src), max(longest.tgt, l.tgt)) }
        var b = [UInt32](repeating: 0, count: n)
        Self.countingSort(a, into: &b, keys: longest.tgt + 1) { d.lengths(Int($0)).tgt }
        Self.countingSort(b, into: &a, keys: longest.src + 1) { d.lengths(Int($0)).src }
        b = []
        // Cut: a batch grows while (sentences + 1) × longest (with bos/eos) fits the budget.
        var cur = 0, widest = 0
        for (pos, i) in a.enumerated() {
            let l = d.lengths(Int(i))
            let w = max(l.src, l.tgt) + 2
            if cur > 0 && (cur + 1) * max(widest, w) > maxTokens {
                plan.starts.append(pos)
                cur = 0; widest = 0
            }
            cur += 1
            widest = max(widest, w)
        }
        plan.starts.append(n)
        plan.order = a
        let batches = plan.starts.count - 1
        plan.batchOrder = (0..<batches).map { UInt32($0) }
        for i in stride(from: batches - 1, to: 0, by: -1) { plan.batchOrder.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return plan
    }

    /// A stable counting sort of `input` by `key` (0..<keys) into `output`.
    static func countingSort(_ input: [UInt32], into output: inout [UInt32], keys: Int, key: (UInt32) -> Int) {
        var start = [Int](repeating: 0, count: keys + 1)
        for i in input { start[key(i) + 1] += 1 }
        for k in 0..<keys { start[k + 1] += start[k] }
        output.withUnsafeMutableBufferPointer { out in
            for i in input {
                let k = key(i)
                out[start[k]] = i
                start[k] += 1
            }
        }
    }

    /// The batches of an epoch as lists of pair indices, in training order (for tests and tools).
    public func epoch(_ epoch: Int, source: PairSource) -> [[Int]] {
        let p = plan(epoch: epoch, source: source)
        return (0..<p.count).map { p.batch($0).map { Int($0) } }
    }
}
