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
public func layerNormBackward(
    dx: FloatPtr, dGamma: FloatPtr, dBeta: FloatPtr,
    _ dy: ConstFloatPtr, _ x: ConstFloatPtr, mean: ConstFloatPtr, rstd: ConstFloatPtr, gamma: ConstFloatPtr,
    rows n: Int, dim d: Int
) {
    for r in 0..<n {
        let xr = x + r * d, gr = dy + r * d, dxr = dx + r * d
        let m = mean[r], rs = rstd[r]
        var sumG: Float = 0, sumGX: Float = 0
        for j in 0..<d {
            let xhat = (xr[j] - m) * rs
            let dxhat = gr[j] * gamma[j]
            sumG += dxhat
            sumGX += dxhat * xhat
            dGamma[j] += gr[j] * xhat
            dBeta[j] += gr[j]
        }
        let meanG = sumG / Float(d), meanGX = sumGX / Float(d)
        for j in 0..<d {
            let xhat = (xr[j] - m) * rs
            dxr[j] += rs * (gr[j] * gamma[j] - meanG - xhat * meanGX)
        }
    }
}
