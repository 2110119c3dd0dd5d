import CKernels

// One decoding step's attention over a key/value cache: one query row per head against the
// `count` cached key rows [count, heads · headDim], and the probabilities against the value rows.
// Both walk the cache in order, every row read once (CKernels, at the active kernel level).

/// p[h, j] = scale · q[h] · k_j[h] for heads h and keys j < count, k_j = keys + j·(heads·headDim):
/// each key row read once, in order; heads four at a time, their sums folded together (CKernels).
@_spi(Testing) @inline(__always)
public func headScores(_ p: FloatPtr, _ q: ConstFloatPtr, keys: ConstFloatPtr, count: Int, heads: Int, headDim dh: Int,
                       scale: Float) {
    s2s_head_scores(p, q, keys, count, heads, dh, scale)
}

/// out[h·headDim ..< (h+1)·headDim] = Σ_j p[h, j] · v_j[h] over keys j < count, v_j = values +
/// j·(heads·headDim): each value row read once, in order, into an output row that stays in L1.
@_spi(Testing) @inline(__always)
public func headWeightedSum(_ out: FloatPtr, _ p: ConstFloatPtr, values: ConstFloatPtr, count: Int, heads: Int, headDim dh: Int) {
    s2s_head_weighted_sum(out, p, values, count, heads, dh)
}

/// For each of `sequences` rows of the key-validity mask `valid` [sequences, length]: the number of keys
/// up to its last valid one (padding sits at the end). Attention for decoding reads those keys only.
func validKeyLengths(_ valid: UnsafePointer<UInt8>, sequences: Int, length: Int) -> [Int] {
    (0..<sequences).map { m in
        var n = length
        while n > 0 && valid[m * length + n - 1] == 0 { n -= 1 }
        return n
    }
}

/// Scaled dot-product attention for encoding, with values that do not depend on the batch: each
/// query row attends to its own sequence's keys only, up to its last valid one, never to the
/// padding its batch adds (a softmax or weighted sum over a padded row could round differently), by
/// the decoding kernels above. Same contract as `attentionForward` without dropout, except that rows
/// of padding queries (keyValid 0 in self-attention, where queries are the keys) are zero:
///   ctx [B·Tq, D];  probs [B, H, Tq, Tk] (zero beyond each row's keys; `seq2seq attention` shows them).
func invariantAttentionForward(ctx: FloatPtr, probs: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
                               keyValid: UnsafePointer<UInt8>, causal: Bool, shape s: AttentionShape) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim, heads = s.heads
    let scale = 1 / Float(dh).squareRoot()
    let selfAttention = tq == tk
    let C = SendablePointer(ctx), P = SendablePointer(probs), Q = SendablePointer(q), K = SendablePointer(k)
    let V = SendablePointer(v), M = SendablePointer(keyValid)
    let lengths = validKeyLengths(keyValid, sequences: s.batch, length: tk)
    parallelRows(s.batch * tq, cost: tk * d * 4) { range in
        let scores = ThreadScratch.buffer(heads * max(tk, 1)).pointer  // [heads, count]
        for row in range {
            let b = row / tq, i = row % tq, valid = M.p + b * tk
            let count = causal ? min(i + 1, lengths[b]) : lengths[b]
            let out = C.p + row * d
            @inline(__always) func probRow(_ h: Int) -> FloatPtr { P.p + ((b * heads + h) * tq + i) * tk }
            if count == 0 || (selfAttention && valid[i] == 0) {
                out.update(repeating: 0, count: d)
                for h in 0..<heads { probRow(h).update(repeating: 0, count: tk) }
                continue
            }
            headScores(scores, UnsafePointer(Q.p + row * d), keys: UnsafePointer(K.p + b * tk * d), count: count,
                       heads: heads, headDim: dh, scale: scale)
            for h in 0..<heads {
                let ph = scores + h * count
                for j in 0..<count where valid[j] == 0 { ph[j] = -.infinity }
                softmaxRow(ph, ph, count)
                probRow(h).update(from: ph, count: count)
                (probRow(h) + count).update(repeating: 0, count: tk - count)
            }
            headWeightedSum(out, UnsafePointer(scores), values: UnsafePointer(V.p + b * tk * d), count: count,
                            heads: heads, headDim: dh)
        }
    }
}
