import CKernels

// LayerNorm over the last dimension. Dims: N rows, D features.

/// y[N, D] = (x - mean) · rstd · gamma + beta; saves mean[N] and rstd[N] for the backward pass.
/// With `bf16` (an output that only bf16 products read), bf16(y) is written there and y is not written.
public func layerNormForward(
    _ y: FloatPtr, bf16 y16: BF16Ptr? = nil, mean: FloatPtr, rstd: FloatPtr,
    _ x: ConstFloatPtr, gamma: ConstFloatPtr, beta: ConstFloatPtr,
    rows n: Int, dim d: Int, eps: Float
) {
    let yp = SendablePointer(y), mp = SendablePointer(mean), rp = SendablePointer(rstd), xp = SendablePointer(x)
    let gp = SendablePointer(gamma), bp = SendablePointer(beta), y16p = y16.map { SendablePointer($0) }
    parallelRows(n, cost: d * 4) { range in
        let r = range.lowerBound
        s2s_layernorm_forward(yp.p + r * d, y16p.map { $0.p + r * d }, mp.p + r, rp.p + r, xp.p + r * d, gp.p, bp.p,
                              range.count, d, eps)
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
        let r = rows.lowerBound
        s2s_layernorm_backward_dx(dxp.p + r * d, dyp.p + r * d, xp.p + r * d, mp.p + r, rp.p + r, gp.p, rows.count, d)
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
