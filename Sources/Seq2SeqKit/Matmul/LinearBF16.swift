// Linear layer in mixed precision (train --precision bf16): operands in bfloat16, products summed
// in float32, outputs, biases and gradients in float32. PyTorch layout: W[out, in], b[out].
// Dims legend: N rows (tokens), I input features, O output features.
//
// The operands arrive already in bf16: the model converts its flat parameter buffer once per
// forward pass, each layer input once per pass (kept for the weight gradient of the backward), and
// each output gradient once (Model/Transformer+Precision.swift).

/// y[N, O] = x16[N, I] · W16[O, I]ᵀ + b[O]          (x16 = bf16(x), W16 = bf16(W))
public func linearForwardBF16(
    _ y: FloatPtr, _ x16: ConstBF16Ptr, _ w: ConstBF16Ptr, _ b: ConstFloatPtr?,
    rows n: Int, inFeatures i: Int, outFeatures o: Int
) {
    if n == 0 { return }
    gemmBF16(transA: false, transB: true, m: n, n: o, k: i, x16, lda: i, w, ldb: i, bias: b, y, ldc: o)
}

/// Backward of `linearForwardBF16`, accumulating:
/// dx[N, I] += dy16[N, O] · W16[O, I];  dW[O, I] += dy16ᵀ · x16;  db[O] += Σ_rows dy,
/// with dy16 = bf16(dy) (the bias gradient sums the float32 dy, as float32 training does).
/// dx is overwritten instead when not `accumulateDx` (a layer whose input has no other gradient).
/// Throws when oneDNN failed while adding into dx or dW (`gemmBF16`): they may then be partly updated.
public func linearBackwardBF16(
    dx: FloatPtr?, dw: FloatPtr, db: FloatPtr?,
    _ dy: ConstFloatPtr, _ dy16: ConstBF16Ptr, _ x16: ConstBF16Ptr, _ w: ConstBF16Ptr,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, accumulateDx: Bool = true
) throws(OneDNNError) {
    if n == 0 { return }
    if let dx {
        try gemmBF16(transA: false, transB: false, m: n, n: i, k: o, dy16, lda: o, w, ldb: i,
                     accumulate: accumulateDx, dx, ldc: i)
    }
    try gemmBF16(transA: true, transB: false, m: o, n: i, k: n, dy16, lda: o, x16, ldb: i,
                 accumulate: true, dw, ldc: i)
    if let db { addColumnSums(db, dy, rows: n, cols: o) }
}
