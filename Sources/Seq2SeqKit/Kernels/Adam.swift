import CKernels

/// One Adam(W) step over `count` parameters laid out alike (p, m, v, g, and the decay mask):
///   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
///   p −= stepSize · m / (√v · rootC2 + eps) + lrTimesDecay · mask · p
/// stepSize = lr / (1 − β1ᵗ) and rootC2 = 1 / √(1 − β2ᵗ) carry the bias corrections. Sixteen lanes at
/// a time (CKernels), the same operations in the same order as its scalar tail, so every element gets
/// the same bits at every kernel level and thread count. With `bf16Copy`, bf16(p) is written there too
/// (the weights a mixed-precision pass reads), in the same sweep over p.
public func adamStep(_ p: FloatPtr, m: FloatPtr, v: FloatPtr, grads g: FloatPtr, decayMask: ConstFloatPtr?,
                     count: Int, beta1: Float, beta2: Float, stepSize: Float, rootC2: Float, eps: Float,
                     lrTimesDecay: Float, bf16Copy: BF16Ptr? = nil) {
    let P = SendablePointer(p), G = SendablePointer(g), M = SendablePointer(m), V = SendablePointer(v)
    let D = decayMask.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    let P16 = bf16Copy.map { SendablePointer($0) }
    parallelRows(count, cost: 8) { range in
        let i = range.lowerBound
        s2s_adam(P.p + i, P16.map { $0.p + i }, M.p + i, V.p + i, G.p + i, D.map { UnsafePointer($0.p + i) }, range.count,
                 beta1, beta2, stepSize, rootC2, eps, lrTimesDecay)
    }
}
