import CKernels

// One decoding step's attention over a key/value cache: one query row per head against the
// `count` cached key rows [count, heads · headDim], and the probabilities against the value rows.
// Both walk the cache in order, every row read once (CKernels, at the active kernel level). And
// the encoder's batch-invariant self-attention, a sequence and a head at a time.

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

/// Encoder self-attention with values that do not depend on the batch: each query row attends to
/// its own sequence's keys only, up to its last valid one, never to the padding its batch adds (a
/// softmax or weighted sum over a padded row could round differently), a sequence and a head at a
/// time (`s2s_sequence_attention`). Same contract as `attentionForward` (queries are the keys'
/// positions, no causal mask, no dropout), except that rows of padding queries are zero:
///   ctx [B·T, D];  probs [B, H, T, T] (zero beyond each row's keys; `seq2seq attention` shows them).
@_spi(Testing)
public func invariantAttentionForward(ctx: FloatPtr, probs: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
                                      keyValid: UnsafePointer<UInt8>, shape s: AttentionShape) {
    let t = s.queries, d = s.dModel, dh = s.headDim, heads = s.heads
    let scale = 1 / Float(dh).squareRoot()
    let C = SendablePointer(ctx), P = SendablePointer(probs), Q = SendablePointer(q), K = SendablePointer(k)
    let V = SendablePointer(v), M = SendablePointer(keyValid)
    let lengths = validKeyLengths(keyValid, sequences: s.batch, length: t)
    parallelRows(s.batch * heads, cost: t * t * dh * 4) { range in
        for unit in range {
            let b = unit / heads, h = unit % heads, n = lengths[b]
            if n == 0 { continue }
            let padded = (n + 15) & ~15
            let scratch = ThreadScratch.buffer((dh + 4) * padded).pointer
            let base = b * t * d
            s2s_sequence_attention(C.p + base, P.p + b * heads * t * t, t * t, t, Q.p + base, K.p + base, V.p + base,
                                   M.p + b * t, n, n, heads, dh, scale, h, h + 1, scratch)
        }
    }
    // Zeros: padding rows (past the last valid position, or holes in the mask) and the
    // probabilities beyond each row's keys.
    for b in 0..<s.batch {
        let n = lengths[b], valid = keyValid + b * t
        for i in 0..<t where i >= n || valid[i] == 0 {
            (ctx + (b * t + i) * d).update(repeating: 0, count: d)
            for h in 0..<heads { (probs + ((b * heads + h) * t + i) * t).update(repeating: 0, count: t) }
        }
        if n < t {
            for h in 0..<heads {
                for i in 0..<n { (probs + ((b * heads + h) * t + i) * t + n).update(repeating: 0, count: t - n) }
            }
        }
    }
}
