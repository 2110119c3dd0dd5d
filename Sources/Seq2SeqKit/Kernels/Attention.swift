import RealModule

/// Shape of one multi-head attention call. Queries come from one sequence [B, Tq, D] and keys and
/// values from another [B, Tk, D] (the same one for self-attention). Head h occupies columns
/// h·Dh ..< (h+1)·Dh of each D-wide row, so heads are addressed in place with a row stride of D.
public struct AttentionShape: Sendable {
    /// B, H, Tq, Tk and D: sequences, heads, query and key positions per sequence, and the model width.
    public var batch: Int, heads: Int, queries: Int, keys: Int, dModel: Int
    /// Dh = D / H, the width of one head.
    public var headDim: Int { dModel / heads }
    /// Elements of one probability tensor [B, H, Tq, Tk].
    public var probCount: Int { batch * heads * queries * keys }
    /// A shape from its five sizes (D must be a multiple of H).
    public init(batch: Int, heads: Int, queries: Int, keys: Int, dModel: Int) {
        self.batch = batch; self.heads = heads; self.queries = queries; self.keys = keys; self.dModel = dModel
    }
}

/// Scaled dot-product attention, forward:
///   probs[b, h] = softmax(Q_bh · K_bhᵀ / √Dh + mask)         [B, H, Tq, Tk]
///   ctx_bh      = dropout(probs[b, h]) · V_bh                  ctx [B·Tq, D]
/// mask: -inf where keyValid[b, j] == 0 (padding) and, when `causal`, where j > i.
/// With dropout p > 0, `dropMask` [B, H, Tq, Tk] receives the mask and `dropped` the masked
/// probabilities (both kept for backward); otherwise both may be nil.
/// The two products run over all heads at once (`batchedGemm`); the masks and the softmax per row.
public func attentionForward(
    ctx: FloatPtr, probs: FloatPtr, dropped: FloatPtr?, dropMask: FloatPtr?,
    q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
    keyValid: UnsafePointer<UInt8>?, causal: Bool, shape s: AttentionShape,
    dropout p: Float = 0, rng: inout RNG
) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim
    let scale = 1 / Float(dh).squareRoot()
    let useDropout = p > 0 && dropped != nil && dropMask != nil
    if useDropout { dropoutMask(dropMask!, count: s.probCount, p: p, rng: &rng) }
    let queries = BatchedLayout.headsOf(length: tq, dModel: d, headDim: dh)
    let keys = BatchedLayout.headsOf(length: tk, dModel: d, headDim: dh)
    let scores = BatchedLayout.dense(heads: s.heads, rows: tq, cols: tk)
    // probs [B, H, Tq, Tk] = Q_bh [Tq, Dh] · K_bhᵀ [Dh, Tk] / √Dh
    batchedGemm(batch: s.batch, heads: s.heads, m: tq, n: tk, k: dh, alpha: scale, q, queries, k, keys.transposed,
                probs, scores)
    let P = SendablePointer(probs)
    let M = keyValid.map { SendablePointer($0) }
    let Dr = useDropout ? SendablePointer(dropped!) : nil, DM = useDropout ? SendablePointer(dropMask!) : nil
    parallelRows(s.batch * s.heads, cost: tq * tk * 8) { range in
        for bh in range {
            let b = bh / s.heads
            let pb = P.p + bh * tq * tk
            for i in 0..<tq {
                let row = pb + i * tk
                if let M {
                    let valid = M.p + b * tk
                    for j in 0..<tk where valid[j] == 0 { row[j] = -.infinity }
                }
                if causal && i + 1 < tk {
                    for j in (i + 1)..<tk { row[j] = -.infinity }
                }
                softmaxRow(row, row, tk)
            }
            if let Dr, let DM {
                let db = Dr.p + bh * tq * tk, mb = DM.p + bh * tq * tk
                for i in 0..<(tq * tk) { db[i] = pb[i] * mb[i] }
            }
        }
    }
    // ctx_bh [Tq, Dh] = P'_bh [Tq, Tk] · V_bh [Tk, Dh]   (P' the dropped probabilities)
    batchedGemm(batch: s.batch, heads: s.heads, m: tq, n: dh, k: tk, useDropout ? UnsafePointer(dropped!) : UnsafePointer(probs),
                scores, v, keys, ctx, queries)
}

/// Backward of `attentionForward`, writing dq [B·Tq, D], dk and dv [B·Tk, D] (overwritten):
///   dP' = dctx · Vᵀ;  dV = P'ᵀ · dctx;  dP = dP' ∘ mask;  dS = P ∘ (dP - rowsum(dP ∘ P)) / √Dh;
///   dQ = dS · K;  dK = dSᵀ · Q.      P' is the dropped probabilities (P without dropout).
/// `scratch` holds [B, H, Tq, Tk] floats.
public func attentionBackward(
    dq: FloatPtr, dk: FloatPtr, dv: FloatPtr, scratch: FloatPtr,
    dctx: ConstFloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
    probs: ConstFloatPtr, dropped: ConstFloatPtr?, dropMask: ConstFloatPtr?, shape s: AttentionShape
) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim
    let scale = 1 / Float(dh).squareRoot()
    let queries = BatchedLayout.headsOf(length: tq, dModel: d, headDim: dh)
    let keys = BatchedLayout.headsOf(length: tk, dModel: d, headDim: dh)
    let scores = BatchedLayout.dense(heads: s.heads, rows: tq, cols: tk)
    let (bs, hs) = (s.batch, s.heads)
    // dP' [Tq, Tk] = dctx_bh [Tq, Dh] · V_bhᵀ
    batchedGemm(batch: bs, heads: hs, m: tq, n: tk, k: dh, dctx, queries, v, keys.transposed, scratch, scores)
    // dV_bh [Tk, Dh] = P'ᵀ · dctx_bh
    batchedGemm(batch: bs, heads: hs, m: tk, n: dh, k: tq, dropped ?? probs, scores.transposed, dctx, queries, dv, keys)
    let S = SendablePointer(scratch), P = SendablePointer(probs)
    let DM = dropMask.map { SendablePointer($0) }
    parallelRows(bs * hs, cost: tq * tk * 4) { range in
        for bh in range {
            let off = bh * tq * tk
            let pb = P.p + off, sb = S.p + off
            if let DM {
                let mb = DM.p + off
                for i in 0..<(tq * tk) { sb[i] *= mb[i] }
            }
            for i in 0..<tq {
                let g = sb + i * tk, pr = pb + i * tk
                var dot: Float = 0
                for j in 0..<tk { dot = Relaxed.multiplyAdd(g[j], pr[j], dot) }
                for j in 0..<tk { g[j] = pr[j] * (g[j] - dot) }
            }
        }
    }
    // dQ_bh = dS · K_bh · scale;  dK_bh = dSᵀ · Q_bh · scale
    batchedGemm(batch: bs, heads: hs, m: tq, n: dh, k: tk, alpha: scale, scratch, scores, k, keys, dq, queries)
    batchedGemm(batch: bs, heads: hs, m: tk, n: dh, k: tq, alpha: scale, scratch, scores.transposed, q, queries, dk, keys)
}
