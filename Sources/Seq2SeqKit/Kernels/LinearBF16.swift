// Linear layer in mixed precision (train --precision bf16): operands rounded to bfloat16, products
// summed in float32, outputs, biases and gradients in float32. PyTorch layout: W[out, in], b[out].
// Dims legend: N rows (tokens), I input features, O output features.
//
// The weights arrive already in bf16 (the model converts its flat parameter buffer once per
// forward pass); activations and output gradients are converted here into the caller's scratch,
// which costs N·I (or N·O) element copies against the product's N·I·O multiply-adds.

/// y[N, O] = bf16(x)[N, I] · W16[O, I]ᵀ + b[O]
public func linearForwardBF16(
    _ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstBF16Ptr, _ b: ConstFloatPtr?,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, scratch: BF16Buffer
) {
    if n == 0 { return }
    scratch.reserve(n * i)
    convertToBF16(scratch.pointer, x, count: n * i)
    if let b { fillRows(y, with: b, rows: n, cols: o) }
    gemmBF16(transA: false, transB: true, m: n, n: o, k: i, scratch.pointer, lda: i, w, ldb: i,
             accumulate: b != nil, y, ldc: o)
}

/// Backward of `linearForwardBF16`, accumulating:
/// dx[N, I] += bf16(dy)[N, O] · W16[O, I];  dW[O, I] += bf16(dy)ᵀ · bf16(x);  db[O] += Σ_rows dy.
public func linearBackwardBF16(
    dx: FloatPtr?, dw: FloatPtr, db: FloatPtr?,
    _ dy: ConstFloatPtr, _ x: ConstFloatPtr, _ w: ConstBF16Ptr,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, scratchA: BF16Buffer, scratchB: BF16Buffer
) {
    if n == 0 { return }
    scratchA.reserve(n * o)
    convertToBF16(scratchA.pointer, dy, count: n * o)
    if let dx {
        gemmBF16(transA: false, transB: false, m: n, n: i, k: o, scratchA.pointer, lda: o, w, ldb: i,
                 accumulate: true, dx, ldc: i)
    }
    scratchB.reserve(n * i)
    convertToBF16(scratchB.pointer, x, count: n * i)
    gemmBF16(transA: true, transB: false, m: o, n: i, k: n, scratchA.pointer, lda: o, scratchB.pointer, ldb: i,
             accumulate: true, dw, ldc: i)
    if let db { addColumnSums(db, dy, rows: n, cols: o) }
}
