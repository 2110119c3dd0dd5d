import RealModule

// LayerNorm over the last dimension. Dims: N rows, D features.

/// y[N, D] = (x - mean) · rstd · gamma + beta; saves mean[N] and rstd[N] for the backward pass.
public func layerNormForward(
    _ y: FloatPtr, mean: FloatPtr, rstd: FloatPtr,
    _ x: ConstFloatPtr, gamma: ConstFloatPtr, beta: ConstFloatPtr,
    rows n: Int, dim d: Int, eps: Float
) {
    let yp = SendablePointer(y), mp = SendablePointer(mean), rp = SendablePointer(rstd), xp = SendablePointer(x)
    let gp = SendablePointer(gamma), bp = SendablePointer(beta)
    parallelRows(n, cost: d * 4) { range in
        for r in range {
            let xr = xp.p + r * d, yr = yp.p + r * d
            var s: Float = 0
            for j in 0..<d { s = Relaxed.sum(s, xr[j]) }  // relaxed order lets the loop vectorize
            let m = s / Float(d)
            var v: Float = 0
            for j in 0..<d { let c = xr[j] - m; v = Relaxed.multiplyAdd(c, c, v) }
            let rs = 1 / (v / Float(d) + eps).squareRoot()
            for j in 0..<d { yr[j] = (xr[j] - m) * rs * gp.p[j] + bp.p[j] }
            mp.p[r] = m
            rp.p[r] = rs
        }
    }
}

/// Backward, accumulating: dx += rstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat)),
/// dgamma += Σ_rows dy · xhat, dbeta += Σ_rows dy, where dxhat = dy · gamma.
/// Rows are split over the threads for dx, columns for dgamma and dbeta, so every sum is taken in
/// the same order as on one thread: the result does not depend on the thread count.
public func layerNormBackward(
    dx: FloatPtr, dGamma: FloatPtr, dBeta: FloatPtr,
    _ dy: ConstFloatPtr, _ x: ConstFloatPtr, mean: ConstFloatPtr, rstd: ConstFloatPtr, gamma: ConstFloatPtr,
    rows n: Int, dim d: Int
) {
    let dxp = SendablePointer(dx), dgp = SendablePointer(dGamma), dbp = SendablePointer(dBeta)
    let dyp = SendablePointer(dy), xp = SendablePointer(x), mp = SendablePointer(mean)
    let rp = SendablePointer(rstd), gp = SendablePointer(gamma)
    parallelRows(n, cost: d * 4) { rows in
        for r in rows {
            let xr = xp.p + r * d, gr = dyp.p + r * d, dxr = dxp.p + r * d
            let m = mp.p[r], rs = rp.p[r]
            var sumG: Float = 0, sumGX: Float = 0
            for j in 0..<d {
                let xhat = (xr[j] - m) * rs
                let dxhat = gr[j] * gp.p[j]
                sumG += dxhat
                sumGX += dxhat * xhat
            }
            let meanG = sumG / Float(d), meanGX = sumGX / Float(d)
            for j in 0..<d {
                let xhat = (xr[j] - m) * rs
                dxr[j] += rs * (gr[j] * gp.p[j] - meanG - xhat * meanGX)
            }
        }
    }
    parallelRows(d, cost: n * 3) { cols in
        for r in 0..<n {
            let xr = xp.p + r * d, gr = dyp.p + r * d
            let m = mp.p[r], rs = rp.p[r]
            for j in cols {
                let xhat = (xr[j] - m) * rs
                dgp.p[j] += gr[j] * xhat
                dbp.p[j] += gr[j]
            }
        }
    }
}
