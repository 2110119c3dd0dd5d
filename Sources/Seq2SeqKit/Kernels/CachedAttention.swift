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
/// padding its batch adds (a softmax or weighted sum over a padded row could round differently).
/// Same contract as `attentionForward` without dropout, except that in self-attention (`selfAttention`:
/// the queries are the keys' own positions) rows of padding queries are zero:
///   ctx [B·Tq, D];  probs [B, H, Tq, Tk] (zero beyond each row's keys; `seq2seq attention` shows them).
/// Self-attention without a causal mask (an encoder's) takes each sequence's rows at once
/// (`s2s_sequence_attention`); the other kinds go row by row through the decoding kernels above, so
/// that a decoder's full pass gives the bits of its step-by-step decoding.
@_spi(Testing)
public func invariantAttentionForward(ctx: FloatPtr, probs: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
                                      keyValid: UnsafePointer<UInt8>, causal: Bool, selfAttention: Bool, shape s: AttentionShape) {
    if selfAttention && !causal {
        return sequenceAttentionForward(ctx: ctx, probs: probs, q: q, k: k, v: v, keyValid: keyValid, shape: s)
    }
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim, heads = s.heads
    let scale = 1 / Float(dh).squareRoot()
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

/// Self-attention without a mask of the future, a sequence and a head at a time: the rows of
/// sequence b up to its last valid position attend to the same positions (padding keys masked);
/// rows of padding are zero, as are the probabilities beyond each row's keys.
private func sequenceAttentionForward(ctx: FloatPtr, probs: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
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
