import RealModule

// Row softmax. Dims: N rows, C columns. Rows that are entirely -inf (fully masked) give zeros.

/// y[N, C] = softmax(x) along rows. Safe in place.
public func softmaxForward(_ y: FloatPtr, _ x: ConstFloatPtr, rows n: Int, cols c: Int) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    parallelRows(n, cost: c * 3) { range in
        for r in range { softmaxRow(yp.p + r * c, xp.p + r * c, c) }
    }
}

@inline(__always)
func softmaxRow(_ y: FloatPtr, _ x: ConstFloatPtr, _ c: Int) {
    let m = rowMax(x, c)
    if m == -.infinity {
        y.update(repeating: 0, count: c)
        return
    }
    let s = expShiftSum(y, x, shift: m, n: c)
    let inv = 1 / s
    for j in 0..<c { y[j] *= inv }
}

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
