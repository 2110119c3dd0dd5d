import RealModule

/// Label-smoothed cross-entropy fused with log-softmax, exactly the spec's formula:
///   loss_t = (1 - e)·(-log p[y_t]) - e·mean_c(log p[c]),   rows with y_t == pad contribute nothing.
/// Its gradient with respect to the logits is p - (1 - e)·onehot(y) - e/V.
///
/// logits[N, V] in, targets[N] (Int32) in. Writes rowLoss[N] (0 for pad rows) and, when `dLogits`
/// is given, dLogits[N, V] = gradient · gradScale (0 for pad rows); `dLogits` may alias `logits`.
/// With `dLogits16` (and `dLogits`) each gradient row is also rounded to bf16 there while it is
/// still in cache, for a mixed-precision backward pass (it would otherwise read [N, V] again).
/// Returns (Σ rowLoss, number of non-pad rows). The mean loss is sum / count; pass
/// gradScale = 1 / count for the mean's gradient.
@discardableResult
public func crossEntropyForwardBackward(
    dLogits: FloatPtr?, dLogits16: BF16Ptr? = nil, rowLoss: FloatPtr, _ logits: ConstFloatPtr,
    targets: UnsafePointer<Int32>, rows n: Int, vocab v: Int, smoothing e: Float, padId: Int32, gradScale: Float
) -> (sum: Double, count: Int) {
    let dp = dLogits.map { SendablePointer($0) }, lp = SendablePointer(logits)
    let d16 = dLogits16.map { SendablePointer($0) }
    let rp = SendablePointer(rowLoss), tp = SendablePointer(targets)
    parallelRows(n, cost: v * 4) { range in
        for r in range {
            let x = lp.p + r * v
            let y = tp.p[r]
            if y == padId {
                rp.p[r] = 0
                if let dp { (dp.p + r * v).update(repeating: 0, count: v) }
                if let d16 { (d16.p + r * v).update(repeating: 0, count: v) }
                continue
            }
            var sumX: Float = 0
            for j in 0..<v { sumX = Relaxed.sum(sumX, x[j]) }
            let xy = x[Int(y)]
            // p = exp(x - m) / s, written into dLogits when we have it (aliasing-safe: x read first);
            // the loss alone needs only log s (the kernels' logSumExp).
            var s: Float = 1
            let logZ: Float
            if let dp {
                let m = rowMax(x, v)
                s = expShiftSum(dp.p + r * v, x, shift: m, n: v)
                logZ = m + Float.log(s)
            } else {
                logZ = logSumExp(x, v)
            }
            rp.p[r] = smoothedCrossEntropy(logZ: logZ, target: xy, sum: sumX, vocab: v, smoothing: e)
            if let dp {
                let d = dp.p + r * v
                let inv = gradScale / s, off = gradScale * e / Float(v)
                for j in 0..<v { d[j] = d[j] * inv - off }
                d[Int(y)] -= gradScale * (1 - e)
                if let d16 { convertToBF16Serial(d16.p + r * v, d, count: v) }
            }
        }
    }
    return nonPadSum(rowLoss, targets: targets, rows: n, padId: padId)
}

/// One row's loss from its log-partition log Z, its target's logit and the sum of its V logits:
/// (1 - e)·(log Z - x_y) - e·(Σx / V - log Z), the spec's formula.
@inline(__always)
func smoothedCrossEntropy(logZ: Float, target xy: Float, sum: Float, vocab v: Int, smoothing e: Float) -> Float {
    (1 - e) * (logZ - xy) - e * (sum / Float(v) - logZ)
}

/// (Σ rowLoss over the rows whose target is not pad, the number of those rows).
func nonPadSum(_ rowLoss: FloatPtr, targets: UnsafePointer<Int32>, rows n: Int, padId: Int32) -> (sum: Double, count: Int) {
    var sum: Double = 0
    var count = 0
    for r in 0..<n where targets[r] != padId {
        sum += Double(rowLoss[r])
        count += 1
    }
    return (sum, count)
}
