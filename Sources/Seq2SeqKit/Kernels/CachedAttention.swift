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
