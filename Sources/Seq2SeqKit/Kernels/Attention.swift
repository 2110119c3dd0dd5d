import CKernels

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
/// mask: -inf where keyValid[b, j] == 0 (padding) and, when `causal`, where j > i; a row with every
/// key masked gets zero probabilities.
/// With dropout p > 0, `dropMask` [B, H, Tq, Tk] receives the mask and `dropped` the masked
/// probabilities (both kept for backward); otherwise both may be nil.
///
/// One (sequence, head) at a time, split over the threads (`s2s_attention_forward`): scores, masks,
/// softmax, dropout and the weighted sum of one head stay in the core's cache, where B·H separate
/// products of 12-64 rows ran at 50-100 GFLOP/s through oneDNN's batched matmul.
public func attentionForward(
    ctx: FloatPtr, probs: FloatPtr, dropped: FloatPtr?, dropMask: FloatPtr?,
    q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
    keyValid: UnsafePointer<UInt8>?, causal: Bool, shape s: AttentionShape,
    dropout p: Float = 0, rng: inout RNG
) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim, heads = s.heads
    if s.batch == 0 || heads == 0 || tq == 0 { return }
    let scale = 1 / Float(dh).squareRoot()
    let useDropout = p > 0 && dropped != nil && dropMask != nil
    if useDropout { dropoutMask(dropMask!, count: s.probCount, p: p, rng: &rng) }
    let C = SendablePointer(ctx), P = SendablePointer(probs), Q = SendablePointer(q), K = SendablePointer(k)
    let V = SendablePointer(v), M = keyValid.map { SendablePointer($0) }
    let Dr = useDropout ? SendablePointer(dropped!) : nil, DM = useDropout ? SendablePointer(dropMask!) : nil
    let scratchCount = dh * ((tk + 15) & ~15)
    parallelRows(s.batch * heads, cost: tq * tk * dh * 4) { range in
        let scratch = ThreadScratch.buffer(scratchCount).pointer
        for bh in range {
            let b = bh / heads, h = bh % heads, sequenceProbs = b * heads * tq * tk
            s2s_attention_forward(C.p + b * tq * d, P.p + sequenceProbs, Dr.map { $0.p + sequenceProbs },
                                  DM.map { UnsafePointer($0.p + sequenceProbs) }, Q.p + b * tq * d, K.p + b * tk * d,
                                  V.p + b * tk * d, M.map { UnsafePointer($0.p + b * tk) }, tq, tk, heads, dh,
                                  causal ? 1 : 0, scale, h, h + 1, scratch)
        }
    }
}

/// Backward of `attentionForward`, writing dq [B·Tq, D], dk and dv [B·Tk, D] (overwritten):
///   dP' = dctx · Vᵀ;  dV = P'ᵀ · dctx;  dP = dP' ∘ mask;  dS = P ∘ (dP - rowsum(dP ∘ P)) / √Dh;
///   dQ = dS · K;  dK = dSᵀ · Q.      P' is the dropped probabilities (P without dropout).
/// One (sequence, head) at a time, as the forward pass (`s2s_attention_backward`); `causal` says
/// that the forward pass masked keys j > i, whose terms (exactly zero) are then skipped.
public func attentionBackward(
    dq: FloatPtr, dk: FloatPtr, dv: FloatPtr,
    dctx: ConstFloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
    probs: ConstFloatPtr, dropped: ConstFloatPtr?, dropMask: ConstFloatPtr?, causal: Bool, shape s: AttentionShape
) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim, heads = s.heads
    if s.batch == 0 || heads == 0 || tk == 0 { return }
    let scale = 1 / Float(dh).squareRoot()
    let DQ = SendablePointer(dq), DK = SendablePointer(dk), DV = SendablePointer(dv), G = SendablePointer(dctx)
    let Q = SendablePointer(q), K = SendablePointer(k), V = SendablePointer(v), P = SendablePointer(probs)
    let Dr = dropped.map { SendablePointer($0) }, DM = dropMask.map { SendablePointer($0) }
    let scratchCount = (dh + tq) * ((tk + 15) & ~15)
    parallelRows(s.batch * heads, cost: tq * tk * dh * 8) { range in
        let scratch = ThreadScratch.buffer(scratchCount).pointer
        for bh in range {
            let b = bh / heads, h = bh % heads, sequenceProbs = b * heads * tq * tk
            s2s_attention_backward(DQ.p + b * tq * d, DK.p + b * tk * d, DV.p + b * tk * d, G.p + b * tq * d,
                                   Q.p + b * tq * d, K.p + b * tk * d, V.p + b * tk * d, P.p + sequenceProbs,
                                   Dr.map { $0.p + sequenceProbs }, DM.map { $0.p + sequenceProbs }, tq, tk, heads, dh,
                                   causal ? 1 : 0, scale, h, h + 1, scratch)
        }
    }
}
