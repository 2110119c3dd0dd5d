import RealModule

/// Shape of one multi-head attention call. Queries come from one sequence [B, Tq, D] and keys and
/// values from another [B, Tk, D] (the same one for self-attention). Head h occupies columns
/// h·Dh ..< (h+1)·Dh of each D-wide row, so heads are addressed in place with a row stride of D.
public struct AttentionShape: Sendable {
    public var batch: Int, heads: Int, queries: Int, keys: Int, dModel: Int
    public var headDim: Int { dModel / heads }
    /// Elements of one probability tensor [B, H, Tq, Tk].
    public var probCount: Int { batch * heads * queries * keys }
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
    let P = SendablePointer(probs), Q = SendablePointer(q), K = SendablePointer(k), V = SendablePointer(v)
    let C = SendablePointer(ctx)
    let M = keyValid.map { SendablePointer($0) }
    let Dr = useDropout ? SendablePointer(dropped!) : nil, DM = useDropout ? SendablePointer(dropMask!) : nil
    parallelRows(s.batch * s.heads, cost: tq * tk * dh) { range in
        for bh in range {
            let b = bh / s.heads, h = bh % s.heads
            let pb = P.p + bh * tq * tk
            let qb = Q.p + b * tq * d + h * dh, kb = K.p + b * tk * d + h * dh, vb = V.p + b * tk * d + h * dh
            gemm(transA: false, transB: true, m: tq, n: tk, k: dh, alpha: scale, qb, lda: d, kb, ldb: d,
                 beta: 0, pb, ldc: tk)
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
            var used = UnsafePointer(pb)
            if let Dr, let DM {
                let db = Dr.p + bh * tq * tk, mb = DM.p + bh * tq * tk
                for i in 0..<(tq * tk) { db[i] = pb[i] * mb[i] }
                used = UnsafePointer(db)
            }
            gemm(transA: false, transB: false, m: tq, n: dh, k: tk, used, lda: tk, vb, ldb: d,
                 beta: 0, C.p + b * tq * d + h * dh, ldc: d)
        }
    }
}

/// Backward of `attentionForward`, accumulating into dq [B·Tq, D], dk and dv [B·Tk, D]:
///   dP' = dctx · Vᵀ;  dV += P'ᵀ · dctx;  dP = dP' ∘ mask;  dS = P ∘ (dP - rowsum(dP ∘ P)) / √Dh;
///   dQ += dS · K;  dK += dSᵀ · Q.      P' is the dropped probabilities (P without dropout).
/// `scratch` holds [B, H, Tq, Tk] floats.
public func attentionBackward(
    dq: FloatPtr, dk: FloatPtr, dv: FloatPtr, scratch: FloatPtr,
    dctx: ConstFloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
    probs: ConstFloatPtr, dropped: ConstFloatPtr?, dropMask: ConstFloatPtr?, shape s: AttentionShape
) {
    let tq = s.queries, tk = s.keys, d = s.dModel, dh = s.headDim
    let scale = 1 / Float(dh).squareRoot()
    let DQ = SendablePointer(dq), DK = SendablePointer(dk), DV = SendablePointer(dv), S = SendablePointer(scratch)
    let DC = SendablePointer(dctx), Q = SendablePointer(q), K = SendablePointer(k), V = SendablePointer(v)
    let P = SendablePointer(probs)
    let Dr = dropped.map { SendablePointer($0) }, DM = dropMask.map { SendablePointer($0) }
    parallelRows(s.batch * s.heads, cost: tq * tk * dh * 2) { range in
        for bh in range {
            let b = bh / s.heads, h = bh % s.heads
            let off = bh * tq * tk
            let pb = P.p + off, sb = S.p + off
            let used = Dr.map { $0.p + off } ?? pb
            let qo = b * tq * d + h * dh, ko = b * tk * d + h * dh
            // dP' [Tq, Tk] = dctx_bh [Tq, Dh] · V_bhᵀ
            gemm(transA: false, transB: true, m: tq, n: tk, k: dh, DC.p + qo, lda: d, V.p + ko, ldb: d,
                 beta: 0, sb, ldc: tk)
            // dV_bh [Tk, Dh] += P'ᵀ · dctx_bh
            gemm(transA: true, transB: false, m: tk, n: dh, k: tq, used, lda: tk, DC.p + qo, ldb: d,
                 beta: 1, DV.p + ko, ldc: d)
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
            // dQ_bh += dS · K_bh · scale;  dK_bh += dSᵀ · Q_bh · scale
            gemm(transA: false, transB: false, m: tq, n: dh, k: tk, alpha: scale, sb, lda: tk, K.p + ko, ldb: d,
                 beta: 1, DQ.p + qo, ldc: d)
            gemm(transA: true, transB: false, m: tk, n: dh, k: tq, alpha: scale, sb, lda: tk, Q.p + qo, ldb: d,
                 beta: 1, DK.p + ko, ldc: d)
        }
    }
}
