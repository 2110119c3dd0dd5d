import CKernels
import RealModule

// Row softmax. Dims: N rows, C columns. Rows that are entirely -inf (fully masked) give zeros.

/// y[N, C] = softmax(x) along rows. Safe in place.
public func softmaxForward(_ y: FloatPtr, _ x: ConstFloatPtr, rows n: Int, cols c: Int) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    parallelRows(n, cost: c * 3) { range in
        s2s_softmax_rows(yp.p + range.lowerBound * c, xp.p + range.lowerBound * c, range.count, c)
    }
}

/// One row of `softmaxForward`.
@inline(__always)
func softmaxRow(_ y: FloatPtr, _ x: ConstFloatPtr, _ c: Int) { s2s_softmax_rows(y, x, 1, c) }

/// dx[N, C] += y ∘ (dy - Σ_c dy·y), with y the softmax output.
public func softmaxBackward(dx: FloatPtr, _ dy: ConstFloatPtr, _ y: ConstFloatPtr, rows n: Int, cols c: Int) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), yp = SendablePointer(y)
    parallelRows(n, cost: c * 2) { range in
        for r in range {
            let d = dxp.p + r * c, g = dyp.p + r * c, p = yp.p + r * c
            var dot: Float = 0
            for j in 0..<c { dot = Relaxed.multiplyAdd(g[j], p[j], dot) }
            for j in 0..<c { d[j] += p[j] * (g[j] - dot) }
        }
    }
}

/// log Σ exp(x[i]) over the `n` floats at `x` (n ≥ 1), with the row's maximum taken out first so
/// that large values do not overflow: the log of `softmaxForward`'s normalizer, at the active
/// kernel level. A row of only −∞ gives NaN.
@inline(__always)
public func logSumExp(_ x: ConstFloatPtr, _ n: Int) -> Float { s2s_log_sum_exp(x, n) }

@inline(__always)
func logSumExp(_ x: FloatPtr, _ n: Int) -> Float { logSumExp(UnsafePointer(x), n) }
