/// The number format of a training pass's matrix products.
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// Every product in float32.
    case float32
    /// Mixed precision: the operands of the linear layers' and the output projection's products
    /// (forward and both backward products) rounded to bfloat16, their sums in float32; weights,
    /// Adam moments, LayerNorm, softmax, attention and the loss stay float32, as under PyTorch's
    /// bf16 autocast with float32 master weights.
    case bf16
}

/// The bf16 copies a mixed-precision pass works from: the flat parameter buffer (same layout,
/// converted at the start of every training forward pass, so it always matches the float32
/// master weights) and two operands converted per product.
final class BF16Workspace {
    let parameters = BF16Buffer()
    let a = BF16Buffer(), b = BF16Buffer()
    /// `a` holds bf16(dLogits), written by the loss for the output projection's backward.
    var dLogitsInA = false
}

extension Transformer {
    /// Sets the format of the products of training passes (forward with `training: true` and its
    /// backward). Validation, scoring and decoding always run in float32 (or int8 when quantized).
    public func setPrecision(_ p: Precision) throws {
        if p == .bf16 {
            if !BF16Gemm.isAvailable {
                throw ModelError.invalidInput("--precision bf16 needs a processor with AVX-512 (oneDNN has no bf16 products without it); train with --precision float32")
            }
            if isQuantized { throw ModelError.invalidInput("an int8 model cannot be trained in bf16") }
        }
        precision = p
    }

    /// Called at the start of every forward pass: decides whether this pass (and its backward) runs
    /// in bf16, and if so refreshes the bf16 weights from the float32 ones.
    func beginPass(training: Bool) {
        bf16Pass = training && precision == .bf16
        bf16.dLogitsInA = false
        if bf16Pass {
            bf16.parameters.reserve(layout.totalCount)
            convertToBF16(bf16.parameters.pointer, parameters.pointer, count: layout.totalCount)
        }
    }

    @inline(__always) func param16(_ offset: Int) -> ConstBF16Ptr { UnsafePointer(bf16.parameters.pointer + offset) }

    /// A linear layer of the full forward pass: bf16 in a mixed-precision training pass, else `linear`.
    /// `xIsConverted`: bf16.a already holds bf16(x) (`passLinears`).
    @inline(__always)
    func passLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int, xIsConverted: Bool = false) {
        guard bf16Pass else { return linear(y, x, w, rows: n) }
        linearForwardBF16(y, x, param16(w.weight), w.bias.map { UnsafePointer(param($0)) }, rows: n,
                          inFeatures: w.inFeatures, outFeatures: w.outFeatures, scratch: bf16.a, xIsConverted: xIsConverted)
    }

    /// Linear layers of the full forward pass that read the same input x [N, I] (q, k and v of
    /// self-attention; k and v of cross-attention): a mixed-precision pass rounds x to bf16 once.
    func passLinears(_ x: ConstFloatPtr, rows n: Int, _ layers: [(y: FloatPtr, w: LinearRef)]) {
        guard bf16Pass, let first = layers.first else {
            for l in layers { passLinear(l.y, x, l.w, rows: n) }
            return
        }
        bf16.a.reserve(n * first.w.inFeatures)
        convertToBF16(bf16.a.pointer, x, count: n * first.w.inFeatures)
        for l in layers {
            precondition(l.w.inFeatures == first.w.inFeatures, "passLinears: layers of one input have one width")
            passLinear(l.y, x, l.w, rows: n, xIsConverted: true)
        }
    }

    /// logits [N, V] = h [N, D] · W_out [V, D]ᵀ of the full forward pass.
    func passOutputProjection(_ logits: FloatPtr, _ h: ConstFloatPtr, rows n: Int) {
        let d = config.dModel, v = config.tgtVocabSize
        if let q = quantized[outputWeight] { return int8LinearForward(logits, h, q, nil, rows: n) }
        if bf16Pass {
            return linearForwardBF16(logits, h, param16(outputWeight), nil, rows: n, inFeatures: d, outFeatures: v,
                                     scratch: bf16.a)
        }
        gemm(transA: false, transB: true, m: n, n: v, k: d, h, lda: d, param(outputWeight), ldb: d, logits, ldc: v)
    }

    /// Backward of `passOutputProjection`: dh [N, D] = dLogits · W_out (overwritten); dW_out += dLogitsᵀ · h.
    func outputProjectionBackward(dh: FloatPtr, _ dLogits: ConstFloatPtr, _ h: ConstFloatPtr, rows n: Int) {
        let d = config.dModel, v = config.tgtVocabSize
        if bf16Pass {
            dh.update(repeating: 0, count: n * d)
            defer { bf16.dLogitsInA = false }
            return linearBackwardBF16(dx: dh, dw: grad(outputWeight), db: nil, dLogits, h, param16(outputWeight),
                                      rows: n, inFeatures: d, outFeatures: v, scratchA: bf16.a, scratchB: bf16.b,
                                      dyIsConverted: bf16.dLogitsInA)
        }
        gemm(transA: false, transB: false, m: n, n: d, k: v, dLogits, lda: v, param(outputWeight), ldb: d,
             beta: 0, dh, ldc: d)
        gemm(transA: true, transB: false, m: v, n: d, k: n, dLogits, lda: v, h, ldb: d, beta: 1,
             grad(outputWeight), ldc: d)
    }

    /// Backward of `passLinear` (bf16 in a mixed-precision pass, else float32), accumulating into dx and the layer's gradients.
    /// `xIsConverted`: bf16.b already holds bf16(x) (`linearGrads`).
    @inline(__always)
    func linearGrad(dx: FloatPtr?, _ dy: ConstFloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int,
                    xIsConverted: Bool = false) {
        if bf16Pass {
            return linearBackwardBF16(dx: dx, dw: grad(w.weight), db: w.bias.map { grad($0) }, dy, x, param16(w.weight),
                                      rows: n, inFeatures: w.inFeatures, outFeatures: w.outFeatures,
                                      scratchA: bf16.a, scratchB: bf16.b, xIsConverted: xIsConverted)
        }
        linearBackward(dx: dx, dw: grad(w.weight), db: w.bias.map { grad($0) }, dy, x, param(w.weight),
                       rows: n, inFeatures: w.inFeatures, outFeatures: w.outFeatures)
    }

    /// Backward of `passLinears`: layers that read the same x [N, I], each with its output gradient
    /// and the buffer its input gradient accumulates into; a mixed-precision pass rounds x once.
    func linearGrads(_ x: ConstFloatPtr, rows n: Int, _ layers: [(dx: FloatPtr?, dy: ConstFloatPtr, w: LinearRef)]) {
        guard bf16Pass, let first = layers.first else {
            for l in layers { linearGrad(dx: l.dx, l.dy, x, l.w, rows: n) }
            return
        }
        bf16.b.reserve(n * first.w.inFeatures)
        convertToBF16(bf16.b.pointer, x, count: n * first.w.inFeatures)
        for l in layers {
            precondition(l.w.inFeatures == first.w.inFeatures, "linearGrads: layers of one input have one width")
            linearGrad(dx: l.dx, l.dy, x, l.w, rows: n, xIsConverted: true)
        }
    }
}
