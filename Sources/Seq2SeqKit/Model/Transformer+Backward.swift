extension Transformer {
    /// Label-smoothed cross-entropy of the last forward pass (spec's Loss section). Replaces the logits
    /// with their gradient, scaled by `gradScale` (default: 1 / non-pad tokens, the mean's gradient).
    /// Returns the summed loss and the number of non-pad labels.
    @discardableResult
    public func loss(smoothing: Float, gradScale: Float? = nil, computeGradient: Bool = true) -> (sum: Double, count: Int) {
        let n = rowTargets.count, v = config.tgtVocabSize
        let pad = Int32(config.padId)
        let count = rowTargets.reduce(0) { $0 + ($1 == pad ? 0 : 1) }
        let scale = gradScale ?? (count > 0 ? 1 / Float(count) : 0)
        // A mixed-precision pass gets bf16(dLogits) from the same sweep, for the output projection's backward.
        let dLogits16 = computeGradient && bf16Pass ? bf16.gradientSlot(for: logits.pointer, count: n * v) : nil
        return rowTargets.withUnsafeBufferPointer { tp in
            crossEntropyForwardBackward(dLogits: computeGradient ? logits.pointer : nil,
                                        dLogits16: dLogits16, rowLoss: rowLoss.pointer,
                                        logits.pointer, targets: tp.baseAddress!, rows: n, vocab: v,
                                        smoothing: smoothing, padId: pad, gradScale: scale)
        }
    }

    /// R-Drop's loss of the last forward pass, over a batch made by ``Batch/doubled()`` (each sentence
    /// twice, under different dropout masks): the label-smoothed cross-entropy of every row plus `alpha`
    /// times the symmetric KL divergence between each sentence's two output distributions
    /// (`consistencyCrossEntropyForwardBackward`). Replaces the logits with the gradient × `gradScale`.
    /// Returns the summed cross-entropy, the non-pad labels (both copies) and the summed divergence.
    @discardableResult
    public func consistencyLoss(smoothing: Float, alpha: Float, gradScale: Float) -> (sum: Double, count: Int, divergence: Double) {
        let n = rowTargets.count, v = config.tgtVocabSize
        precondition(n % 2 == 0, "R-Drop needs a batch of sentence pairs (Batch.doubled())")
        let dLogits16 = bf16Pass ? bf16.gradientSlot(for: logits.pointer, count: n * v) : nil
        return rowTargets.withUnsafeBufferPointer { tp in
            consistencyCrossEntropyForwardBackward(dLogits: logits.pointer, dLogits16: dLogits16, rowLoss: rowLoss.pointer,
                                                   logits.pointer, targets: tp.baseAddress!, pairs: n / 2, vocab: v,
                                                   smoothing: smoothing, alpha: alpha, padId: Int32(config.padId),
                                                   gradScale: gradScale)
        }
    }

    /// Backpropagates the gradient left in the logits by `loss`, accumulating into `gradients`.
    /// Call `gradients.zero()` between optimizer steps (accumulation across batches is by design).
    /// Throws `OneDNNError` when oneDNN failed while adding a product into the gradients: they may
    /// then be partly updated, so the step's gradients are lost (zero them before another pass).
    /// Every other oneDNN failure is answered by OpenBLAS (see OneDNNError).
    public func backward() throws {
        let c = config, d = c.dModel
        let dec = decoderActs
        let n = dec.rows, v = c.tgtVocabSize
        let enc = encoderActs
        let m = enc?.rows ?? 0
        scratch.reserve(rows: max(n, m), memoryRows: m, d: d, ff: c.dFF)
        let dropout = DropoutRates(config: c, training: trainingPass)

        // Output projection: dh [N', D] = dLogits · W_out;  dW_out += dLogitsᵀ · h (over the logits' N' rows).
        let dTop = c.norm == .pre ? scratch.dSum.pointer : scratch.residualA.pointer
        let rows = rowTargets.count
        if let labelled = labelledRows {
            // Only the labelled rows have logits: their gradients go back to their rows, zero elsewhere.
            labelledGradient.reserve(rows * d)
            if rows > 0 {
                try outputProjectionBackward(dh: labelledGradient.pointer, logits.pointer, labelledHidden.pointer, rows: rows)
            }
            labelled.withUnsafeBufferPointer { scatterRows(dTop, rows: n, labelledGradient.pointer, at: $0, width: d) }
        } else {
            try outputProjectionBackward(dh: dTop, logits.pointer, dec.output(c.norm), rows: n)
        }
        if let ob = outputBias {
            // d final_logits_bias [V] += Σ_rows dLogits
            let g = grad(ob), dl = logits.pointer
            for r in 0..<rows { let row = dl + r * v; for j in 0..<v { g[j] += row[j] } }
        }

        if enc != nil { scratch.dMemory.zero() }
        try stackBackward(dec, decoderRef, dOutput: dTop, memory: enc.map { UnsafePointer($0.output(c.norm)) },
                      memoryLength: enc?.length ?? 0, causal: true, dropout: dropout, layerRanges: decoderLayerRanges)
        if let enc, let ref = encoderRef {
            // dMemory is the encoder output's gradient; copy it into the residual buffer the stack starts from.
            let start = c.norm == .pre ? scratch.dSum.pointer : scratch.residualA.pointer
            start.update(from: scratch.dMemory.pointer, count: m * d)
            try stackBackward(enc, ref, dOutput: start, memory: nil, memoryLength: 0, causal: false, dropout: dropout,
                              layerRanges: encoderLayerRanges)
        }
    }

    /// dOutput: gradient of the stack's output [N, D] (for pre-norm: before the final LayerNorm's
    /// backward; it must not be residualA/residualB then). Leaves parameter gradients accumulated.
    func stackBackward(_ a: StackActivations, _ ref: StackRef, dOutput: FloatPtr, memory: ConstFloatPtr?,
                       memoryLength keys: Int, causal: Bool, dropout: DropoutRates, layerRanges: [Range<Int>]) throws(OneDNNError) {
        let c = config, d = c.dModel, n = a.rows
        // dOut: the gradient of the current block's output; `spare` the other residual buffer.
        var dOut = scratch.residualA.pointer, spare = scratch.residualB.pointer
        if let fn = ref.finalNorm {
            let last = a.layers.last.map { UnsafePointer($0.ffnBlock.output(c.norm)) } ?? UnsafePointer(a.embedded.pointer)
            zeroElements(dOut, count: n * d)
            layerNormBackward(dx: dOut, dGamma: grad(fn.weight), dBeta: grad(fn.bias), dOutput, last,
                              mean: a.finalMean.pointer, rstd: a.finalRstd.pointer, gamma: param(fn.weight),
                              rows: n, dim: d)
        } else if dOutput != dOut {
            dOut.update(from: dOutput, count: n * d)
        }
        /// Steps back over one block: dOut becomes the gradient of the block's input.
        func block(_ r: ResidualActivations, x: ConstFloatPtr, norm: NormRef,
                   _ sublayer: (ConstFloatPtr, ConstFloatPtr, FloatPtr) throws(OneDNNError) -> Void) throws(OneDNNError) {
            let dIn = try residualBackward(r, x: x, dOut: dOut, spare: spare, norm: norm, rows: n, dropout: dropout.residual > 0, sublayer)
            if dIn == spare { swap(&dOut, &spare) }
        }
        for i in stride(from: a.layers.count - 1, through: 0, by: -1) {
            let l = a.layers[i], lr = ref.layers[i]
            let layerIn = i == 0 ? UnsafePointer(a.embedded.pointer) : UnsafePointer(a.layers[i - 1].ffnBlock.output(c.norm))
            let afterSelf = UnsafePointer(l.selfBlock.output(c.norm))
            let ffnIn = l.crossBlock.map { UnsafePointer($0.output(c.norm)) } ?? afterSelf
            try block(l.ffnBlock, x: ffnIn, norm: lr.ffnNorm) { h, dS, dH throws(OneDNNError) in
                try feedForwardBackward(l, lr, x: h, dOut: dS, dX: dH, rows: n)
            }
            if let cb = l.crossBlock, let ca = l.crossAttention, let cr = lr.crossAttention, let cn = lr.crossNorm,
               let memory {
                try block(cb, x: afterSelf, norm: cn) { h, dS, dH throws(OneDNNError) in
                    try attentionBackward(ca, cr, x: h, memory: memory, batch: a.batch, queries: a.length, keys: keys,
                                          causal: false, dropout: dropout.attention > 0, dOut: dS, dX: dH, dMemory: scratch.dMemory.pointer)
                }
            }
            try block(l.selfBlock, x: layerIn, norm: lr.selfNorm) { h, dS, dH throws(OneDNNError) in
                try attentionBackward(l.selfAttention, lr.selfAttention, x: h, memory: h, batch: a.batch, queries: a.length,
                                      keys: a.length, causal: causal, dropout: dropout.attention > 0, dOut: dS, dX: dH, dMemory: dH)
            }
            onLayerGradients?(layerRanges[i])  // this layer's parameters get nothing more
        }
        // embeddings: undo dropout, scatter-add into the token (and learned position) tables
        if dropout.residual > 0 {
            multiplyElementwise(dOut, dOut, a.embedMask.pointer, count: n * d)
        }
        a.ids.withUnsafeBufferPointer { idp in
            embeddingBackward(dTable: grad(ref.embedTokens), dPositions: ref.embedPositions.map { grad($0) }, dOut,
                              ids: idp.baseAddress!, scale: c.scaleEmbedding ? Float(d).squareRoot() : 1,
                              batch: a.batch, length: a.length, dModel: d,
                              rowScale: a.wordDropped ? UnsafePointer(a.wordKeep.pointer) : nil)
        }
    }

    /// Backward of `residualForward`. x: the block's input; dOut: gradient of its output. Returns
    /// the gradient of x: dOut itself, updated in place (pre-norm: the residual path plus the
    /// norm's), or `spare` (post-norm). The sublayer closure gets (its input, the gradient of its
    /// output, a buffer it writes its input's gradient into).
    func residualBackward(
        _ r: ResidualActivations, x: ConstFloatPtr, dOut: FloatPtr, spare: FloatPtr, norm: NormRef, rows n: Int,
        dropout: Bool, _ sublayer: (ConstFloatPtr, ConstFloatPtr, FloatPtr) throws(OneDNNError) -> Void
    ) throws(OneDNNError) -> FloatPtr {
        let c = config, d = c.dModel, count = n * d
        var dSum = dOut
        if c.norm == .post {
            dSum = scratch.dSum.pointer
            zeroElements(dSum, count: count)
            layerNormBackward(dx: dSum, dGamma: grad(norm.weight), dBeta: grad(norm.bias), dOut, r.sum.pointer,
                              mean: r.mean.pointer, rstd: r.rstd.pointer, gamma: param(norm.weight), rows: n, dim: d)
        }
        var dSub = UnsafePointer(dSum)
        if dropout {
            let ds = scratch.dSub.pointer
            multiplyElementwise(ds, dSum, r.dropMask.pointer, count: count)
            dSub = UnsafePointer(ds)
        }
        let dh = scratch.dSubIn.pointer
        if c.norm == .pre {
            try sublayer(r.lnOut.pointer, dSub, dh)
            // dx = dOut (the residual path) + LN'(dh): accumulated into dOut, whose last reader was the sublayer.
            layerNormBackward(dx: dOut, dGamma: grad(norm.weight), dBeta: grad(norm.bias), dh, x,
                              mean: r.mean.pointer, rstd: r.rstd.pointer, gamma: param(norm.weight), rows: n, dim: d)
            return dOut
        }
        try sublayer(x, dSub, dh)
        addElementwise(spare, dSum, dh, count: count)  // the residual path plus the sublayer's
        return spare
    }

    /// Backward of `attentionSublayer`: dX = dQ·Wq (overwritten); dMemory += dK·Wk + dV·Wv (dMemory == dX
    /// for self-attention, which then receives all three).
    func attentionBackward(
        _ a: AttentionActivations, _ w: AttentionRef, x: ConstFloatPtr, memory: ConstFloatPtr,
        batch: Int, queries: Int, keys: Int, causal: Bool, dropout: Bool, dOut: ConstFloatPtr, dX: FloatPtr,
        dMemory: FloatPtr
    ) throws(OneDNNError) {
        let d = config.dModel, n = batch * queries, m = batch * keys
        let dctx = scratch.dctx.pointer, dq = scratch.dq.pointer, dk = scratch.dk.pointer, dv = scratch.dv.pointer
        try linearGrad(dx: dctx, dOut, a.ctx.pointer, w.out, rows: n, accumulateDx: false)
        let shape = AttentionShape(batch: batch, heads: config.nHeads, queries: queries, keys: keys, dModel: d)
        Seq2SeqKit.attentionBackward(
            dq: dq, dk: dk, dv: dv, dctx: dctx, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, probs: a.probs.pointer,
            dropped: dropout ? UnsafePointer(a.dropped.pointer) : nil,
            dropMask: dropout ? UnsafePointer(a.dropMask.pointer) : nil, causal: causal, shape: shape)
        try linearGrad(dx: dX, dq, x, w.q, rows: n, accumulateDx: false)
        try linearGrad(dx: dMemory, dk, memory, w.k, rows: m)
        try linearGrad(dx: dMemory, dv, memory, w.v, rows: m)
    }

    /// Backward of `feedForward`: dX = the gradient of x (overwritten).
    func feedForwardBackward(_ l: LayerActivations, _ w: LayerRef, x: ConstFloatPtr, dOut: ConstFloatPtr, dX: FloatPtr,
                             rows n: Int) throws(OneDNNError) {
        let f = config.dFF
        let dAct = scratch.dActivated.pointer, dHid = scratch.dHidden.pointer
        // In bf16 fc2 reads the activation's bf16 copy (the forward pass wrote no float32 one), and the
        // activation's gradient is written with its bf16 copy for fc1's products.
        try linearGrad(dx: dAct, dOut, l.ffnActivated.pointer, w.fc2, rows: n, accumulateDx: false)
        activationBackward(dx: dHid, bf16: bf16Pass ? bf16.gradientSlot(for: dHid, count: n * f) : nil, dAct,
                           l.ffnHidden.pointer, count: n * f, config.activation)
        try linearGrad(dx: dX, dHid, x, w.fc1, rows: n, accumulateDx: false)
    }
}
