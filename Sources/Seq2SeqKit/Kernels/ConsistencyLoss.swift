import RealModule

/// R-Drop (Liang et al., 2021): label-smoothed cross-entropy over a batch that holds every sentence
/// twice, plus α times the symmetric KL divergence between the two copies' output distributions
/// (each copy went through its own dropout masks):
///
///     J = Σ_rows CE(row) + α · Σ_pairs ½ (KL(p_a ‖ p_b) + KL(p_b ‖ p_a))
///
/// as fairseq's `label_smoothed_cross_entropy_with_rdrop`. Row r (r < n) and row r + n are a pair.
/// With log-probabilities l = log p, the divergence's gradients with respect to the logits are
///
///     ∂KL(p_a‖p_b)/∂z_a = p_a ⊙ (l_a - l_b - KL(p_a‖p_b)),   ∂KL(p_a‖p_b)/∂z_b = p_b - p_a
///
/// and symmetrically for KL(p_b‖p_a), so ∂/∂z_a of the pair's ½(KL_ab + KL_ba) is
/// ½ (p_a ⊙ (l_a - l_b - KL_ab) + p_a - p_b).
///
/// logits[2n, V] in, targets[2n] in (a pair's two rows carry the same labels: a pad pair contributes
/// nothing). Writes rowLoss[2n] (each row's cross-entropy alone, 0 for pad rows) and, when `dLogits`
/// is given, dLogits[2n, V] = ∂J/∂logits · gradScale, which may alias `logits`; with `dLogits16` also
/// its bf16 rounding. Returns (Σ rowLoss, non-pad rows, Σ_pairs ½(KL_ab + KL_ba)).
@discardableResult
public func consistencyCrossEntropyForwardBackward(
    dLogits: FloatPtr?, dLogits16: BF16Ptr? = nil, rowLoss: FloatPtr, _ logits: ConstFloatPtr,
    targets: UnsafePointer<Int32>, pairs n: Int, vocab v: Int, smoothing e: Float, alpha: Float,
    padId: Int32, gradScale: Float
) -> (sum: Double, count: Int, divergence: Double) {
    let dp = dLogits.map { SendablePointer($0) }, lp = SendablePointer(logits)
    let d16 = dLogits16.map { SendablePointer($0) }
    let rp = SendablePointer(rowLoss), tp = SendablePointer(targets)
    let divergence = UnsafeMutablePointer<Double>.allocate(capacity: n)
    defer { divergence.deallocate() }
    let kp = SendablePointer(divergence)
    parallelRows(n, cost: v * 16) { range in
        // p_a and p_b of the pair at hand.
        let pa = FloatPtr.allocate(capacity: v), pb = FloatPtr.allocate(capacity: v)
        defer { pa.deallocate(); pb.deallocate() }
        for r in range {
            let a = r, b = r + n
            let xa = lp.p + a * v, xb = lp.p + b * v
            let y = tp.p[a]
            if y == padId {
                rp.p[a] = 0; rp.p[b] = 0; kp.p[r] = 0
                if let dp { (dp.p + a * v).update(repeating: 0, count: v); (dp.p + b * v).update(repeating: 0, count: v) }
                if let d16 { (d16.p + a * v).update(repeating: 0, count: v); (d16.p + b * v).update(repeating: 0, count: v) }
                continue
            }
            let ma = rowMax(xa, v), mb = rowMax(xb, v)
            let sa = expShiftSum(pa, xa, shift: ma, n: v), sb = expShiftSum(pb, xb, shift: mb, n: v)
            let logZa = ma + Float.log(sa), logZb = mb + Float.log(sb)
            let ia = 1 / sa, ib = 1 / sb
            var sumXa: Float = 0, sumXb: Float = 0, klAB: Float = 0, klBA: Float = 0
            for j in 0..<v {
                pa[j] *= ia; pb[j] *= ib
                sumXa = Relaxed.sum(sumXa, xa[j]); sumXb = Relaxed.sum(sumXb, xb[j])
                // l_a - l_b
                let diff = (xa[j] - logZa) - (xb[j] - logZb)
                klAB = Relaxed.multiplyAdd(pa[j], diff, klAB)
                klBA = Relaxed.multiplyAdd(pb[j], -diff, klBA)
            }
            let yi = Int(y)
            rp.p[a] = smoothedCrossEntropy(logZ: logZa, target: xa[yi], sum: sumXa, vocab: v, smoothing: e)
            rp.p[b] = smoothedCrossEntropy(logZ: logZb, target: xb[yi], sum: sumXb, vocab: v, smoothing: e)
            kp.p[r] = 0.5 * (Double(klAB) + Double(klBA))
            guard let dp else { continue }
            let da = dp.p + a * v, db = dp.p + b * v
            let off = gradScale * e / Float(v), half = 0.5 * alpha * gradScale
            // Both rows in one sweep: da may alias xa and db xb, and each element is read before it is written.
            for j in 0..<v {
                let diff = (xa[j] - logZa) - (xb[j] - logZb)
                let p = pa[j], q = pb[j]
                da[j] = gradScale * p - off + half * (p * (diff - klAB) + p - q)
                db[j] = gradScale * q - off + half * (q * (-diff - klBA) + q - p)
            }
            da[yi] -= gradScale * (1 - e)
            db[yi] -= gradScale * (1 - e)
            if let d16 {
                convertToBF16Serial(d16.p + a * v, da, count: v)
                convertToBF16Serial(d16.p + b * v, db, count: v)
            }
        }
    }
    let ce = nonPadSum(rowLoss, targets: targets, rows: 2 * n, padId: padId)
    var kl = 0.0
    for r in 0..<n { kl += divergence[r] }
    return (ce.sum, ce.count, kl)
}
