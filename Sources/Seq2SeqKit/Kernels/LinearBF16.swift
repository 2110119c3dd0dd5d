// Linear layer in mixed precision (train --precision bf16): operands rounded to bfloat16, products
// summed in float32, outputs, biases and gradients in float32. PyTorch layout: W[out, in], b[out].
// Dims legend: N rows (tokens), I input features, O output features.
//
// The weights arrive already in bf16 (the model converts its flat parameter buffer once per
// forward pass); activations and output gradients are converted here into the caller's scratch,
// which costs N·I (or N·O) element copies against the product's N·I·O multiply-adds.

/// y[N, O] = bf16(x)[N, I] · W16[O, I]ᵀ + b[O]
/// `xIsConverted`: scratch already holds bf16(x) (layers that share an input convert it once).
public func linearForwardBF16(
    _ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstBF16Ptr, _ b: ConstFloatPtr?,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, scratch: BF16Buffer, xIsConverted: Bool = false
) {
    if n == 0 { return }
    if !xIsConverted {
        scratch.reserve(n * i)
        convertToBF16(scratch.pointer, x, count: n * i)
    }
    precondition(scratch.count >= n * i, "linearForwardBF16: bf16(x) has \(scratch.count) values, not \(n * i)")
    if let b { fillRows(y, with: b, rows: n, cols: o) }
    gemmBF16(transA: false, transB: true, m: n, n: o, k: i, scratch.pointer, lda: i, w, ldb: i,
             accumulate: b != nil, y, ldc: o)
}

/// Backward of `linearForwardBF16`, accumulating:
/// dx[N, I] += bf16(dy)[N, O] · W16[O, I];  dW[O, I] += bf16(dy)ᵀ · bf16(x);  db[O] += Σ_rows dy.
/// `dyIsConverted`: scratchA already holds bf16(dy) (the loss kernel wrote it); `xIsConverted`:
/// scratchB holds bf16(x) (layers that share an input convert it once); else they are made here.
public func linearBackwardBF16(
    dx: FloatPtr?, dw: FloatPtr, db: FloatPtr?,
    _ dy: ConstFloatPtr, _ x: ConstFloatPtr, _ w: ConstBF16Ptr,
    rows n: Int, inFeatures i: Int, outFeatures o: Int, scratchA: BF16Buffer, scratchB: BF16Buffer,
    dyIsConverted: Bool = false, xIsConverted: Bool = false
) {
    if n == 0 { return }
    if !dyIsConverted {
        scratchA.reserve(n * o)
        convertToBF16(scratchA.pointer, dy, count: n * o)
    }
    precondition(scratchA.count >= n * o, "linearBackwardBF16: bf16(dy) has \(scratchA.count) values, not \(n * o)")
    if let dx {
        gemmBF16(transA: false, transB: false, m: n, n: i, k: o, scratchA.pointer, lda: o, w, ldb: i,
                 accumulate: true, dx, ldc: i)
    }
    if !xIsConverted {
        scratchB.reserve(n * i)
        convertToBF16(scratchB.pointer, x, count: n * i)
    }
    precondition(scratchB.count >= n * i, "linearBackwardBF16: bf16(x) has \(scratchB.count) values, not \(n * i)")
    gemmBF16(transA: true, transB: false, m: o, n: i, k: n, scratchA.pointer, lda: o, scratchB.pointer, ldb: i,
             accumulate: true, dw, ldc: i)
    if let db { addColumnSums(db, dy, rows: n, cols: o) }
}
