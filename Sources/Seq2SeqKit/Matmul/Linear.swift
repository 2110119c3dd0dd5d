// Linear layer, PyTorch layout: weight W[out, in], bias b[out].
// Dims legend: N rows (tokens), I input features, O output features.

/// y[N, O] = x[N, I] · W[O, I]ᵀ + b[O]
public func linearForward(
    _ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, _ b: ConstFloatPtr?,
    rows n: Int, inFeatures i: Int, outFeatures o: Int
) {
    if FewRowsLinear.takes(rows: n, inFeatures: i, outFeatures: o) {
        fewRowsLinear(y, x, w, b, rows: n, inFeatures: i, outFeatures: o)  // see FewRowsLinear.swift
        return
    }
    guard let b else { return gemm(transA: false, transB: true, m: n, n: o, k: i, x, lda: i, w, ldb: i, y, ldc: o) }
    fillRows(y, with: b, rows: n, cols: o)
    do throws(OneDNNError) {
        try gemm(transA: false, transB: true, m: n, n: o, k: i, x, lda: i, w, ldb: i, beta: 1, y, ldc: o)
    } catch {
        // oneDNN failed while adding the product to the bias rows: start again from the bias, on OpenBLAS.
        fillRows(y, with: b, rows: n, cols: o)
        blasGemm(transA: false, transB: true, m: n, n: o, k: i, alpha: 1, x, lda: i, w, ldb: i, beta: 1, y, ldc: o)
    }
}

/// Backward of `linearForward`, accumulating:
/// dx[N, I] += dy[N, O] · W[O, I];  dW[O, I] += dyᵀ · x;  db[O] += Σ_rows dy.
/// dx is overwritten instead when not `accumulateDx` (a layer whose input has no other gradient).
/// Throws when oneDNN failed while adding into dx or dW (`gemm`): they may then be partly updated.
public func linearBackward(
    dx: FloatPtr?, dw: FloatPtr, db: FloatPtr?,
    _ dy: ConstFloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, accumulateDx: Bool = true
) throws(OneDNNError) {
    if let dx {
        try gemm(transA: false, transB: false, m: n, n: i, k: o, dy, lda: o, w, ldb: i, beta: accumulateDx ? 1 : 0,
                 dx, ldc: i)
    }
    try gemm(transA: true, transB: false, m: o, n: i, k: n, dy, lda: o, x, ldb: i, beta: 1, dw, ldc: i)
    if let db { addColumnSums(db, dy, rows: n, cols: o) }
}
