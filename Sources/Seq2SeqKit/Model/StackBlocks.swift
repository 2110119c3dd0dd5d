// The blocks of a Transformer stack over plain buffers: the embedding, the residual block around
// each sublayer, the feed-forward sublayer and the final LayerNorm. The full forward pass
// (`stackForward`, with its training activations and dropout) and the decoding step
// (`IncrementalDecoder.step`, with its step scratch) run the same functions, so there is one stack.
// Dims: N rows, D width, F ffn width.

/// A matrix product y [N, out] = x [N, in] · Wᵀ + b of one linear layer: `passLinear` in a
/// forward pass (bf16-aware), `linear` in a decoding step (float or int8).
typealias LinearProduct = (_ y: FloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, _ rows: Int) -> Void

/// The buffers one residual block writes. A forward pass keeps one set per block
/// (`ResidualActivations`); a decoding step reuses its scratch for every block.
struct ResidualBuffers {
    let lnOut: FloatPtr  // [N, D] pre: LN(x) (the sublayer's input); post: LN(sum) (the output)
    let mean: FloatPtr   // [N]
    let rstd: FloatPtr   // [N]
    let sub: FloatPtr    // [N, D] the sublayer's output
    let sum: FloatPtr    // [N, D] x + sub (may be x itself: the sum then lands in place)
}

extension Transformer {
    /// out [B·T, D] = E[ids [B, T]]·scale·k + P[start ..< start + T]: a stack's input (k [B·T]: word
    /// dropout's `rowScale`, 1 when nil).
    func embed(_ out: FloatPtr, ids: UnsafePointer<Int32>, _ ref: StackRef, batch b: Int, length t: Int, start: Int = 0,
               rowScale: ConstFloatPtr? = nil) {
        let d = config.dModel
        let positions = ref.embedPositions.map { UnsafePointer(param($0)) } ?? UnsafePointer(sinusoid.pointer)
        embeddingForward(out, ids: ids, table: param(ref.embedTokens), positions: positions,
                         scale: config.scaleEmbedding ? Float(d).squareRoot() : 1, batch: b, length: t, dModel: d,
                         start: start, rowScale: rowScale)
    }

    /// pre-norm: out = x + S(LN(x));  post-norm: out = LN(x + S(x)), on [N, D]. `dropout` acts on
    /// S's output in place before the add (a training pass's dropout; nothing by default). Returns
    /// the output: `sum` (pre-norm) or `lnOut` (post-norm). With `bf16Copies` (a mixed-precision
    /// training pass, whose sublayers read their input only through bf16 products), a pre-norm
    /// LayerNorm writes only the bf16 copy of `lnOut`, registered as its copy.
    func residualBlock(
        x: ConstFloatPtr, norm: NormRef, rows n: Int, _ r: ResidualBuffers, bf16Copies: BF16Workspace? = nil,
        sublayer: (ConstFloatPtr, FloatPtr) -> Void, dropout: (FloatPtr) -> Void = { _ in }
    ) -> ConstFloatPtr {
        let c = config, d = c.dModel
        if c.norm == .pre {
            layerNormForward(r.lnOut, bf16: bf16Copies?.slot(for: r.lnOut, count: n * d), mean: r.mean, rstd: r.rstd, x,
                             gamma: param(norm.weight), beta: param(norm.bias), rows: n, dim: d, eps: c.layerNormEps)
            sublayer(r.lnOut, r.sub)
        } else {
            sublayer(x, r.sub)
        }
        dropout(r.sub)
        addElementwise(r.sum, x, r.sub, count: n * d)
        if c.norm == .post {
            layerNormForward(r.lnOut, mean: r.mean, rstd: r.rstd, r.sum, gamma: param(norm.weight), beta: param(norm.bias),
                             rows: n, dim: d, eps: c.layerNormEps)
            return UnsafePointer(r.lnOut)
        }
        return UnsafePointer(r.sum)
    }

    /// out [N, D] = fc2(act(fc1(x))): fc1's output goes to `hidden` [N, F], the activation's to
    /// `activated` [N, F] (which may be `hidden`: the activation then runs in place). With `bf16Copies`
    /// (a mixed-precision training pass, whose fc2 reads bf16 and whose backward reads `hidden`) the
    /// activation writes only its bf16 copy, registered as `activated`'s.
    func feedForward(
        _ w: LayerRef, x: ConstFloatPtr, rows n: Int, hidden: FloatPtr, activated: FloatPtr, out: FloatPtr,
        bf16Copies: BF16Workspace? = nil, _ product: LinearProduct
    ) {
        let count = n * config.dFF
        product(hidden, x, w.fc1, n)                                                      // [N, D] -> [N, F]
        if let bf16Copies {
            activationForwardBF16(bf16Copies.slot(for: activated, count: count), hidden, count: count, config.activation)
        } else {
            activationForward(activated, hidden, count: count, config.activation)
        }
        product(out, activated, w.fc2, n)                                                 // [N, F] -> [N, D]
    }

    /// x [N, D] through the stack's final LayerNorm into `out`, or x itself when the stack has
    /// none (post-norm). With `bf16Copies` (a mixed-precision training pass, where the output
    /// projection and cross-attention read the result only through bf16 products), only the bf16
    /// copy of `out` is written, registered as its copy.
    func finalNorm(_ ref: StackRef, x: ConstFloatPtr, out: FloatPtr, mean: FloatPtr, rstd: FloatPtr,
                   rows n: Int, bf16Copies: BF16Workspace? = nil) -> ConstFloatPtr {
        guard let fn = ref.finalNorm else { return x }
        layerNormForward(out, bf16: bf16Copies?.slot(for: out, count: n * config.dModel), mean: mean, rstd: rstd, x,
                         gamma: param(fn.weight), beta: param(fn.bias), rows: n, dim: config.dModel,
                         eps: config.layerNormEps)
        return UnsafePointer(out)
    }
}
