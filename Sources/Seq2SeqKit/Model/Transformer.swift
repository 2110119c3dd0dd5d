import RealModule
import Synchronization

/// The encoder-decoder Transformer of MODEL_SPEC.md, and its decoder-only (GPT) configuration, from
/// one set of blocks. Parameters and gradients are two flat buffers with one layout; activations live
/// in stack workspaces planned from the batch shape.
///
/// Not thread-safe for training: ``forward(_:training:logitRows:rng:)``, ``loss(smoothing:gradScale:computeGradient:)``
/// and ``backward()`` share the model's workspaces. Decoding through separate ``IncrementalDecoder``s
/// (one per ``Translator``) only reads the parameters, so translators on several threads may share one
/// model, as long as nothing changes its parameters meanwhile.
public final class Transformer {
    /// The configuration the model was built from (``quantize()`` sets its ``ModelConfig/quantization``).
    public internal(set) var config: ModelConfig
    /// Where each named tensor lives in ``parameters`` and ``gradients``.
    public let layout: ParameterLayout
    /// Every parameter, float32, in one flat buffer laid out by ``layout``. In an int8 model the linear
    /// layers' matrices are zeros here (their int8 copies are used) and the token tables hold dequantized values.
    /// Decoding reads copies of the linear layers made from them: after writing them directly, call
    /// ``parametersDidChange(bf16CopyWritten:)``.
    public let parameters: FloatBuffer
    /// The parameters' gradients, in the same layout; ``backward()`` adds into them.
    public let gradients: FloatBuffer

    let encoderRef: StackRef?
    let decoderRef: StackRef
    /// Output projection [V_tgt, D]: the decoder token table when tied, else lm_head.
    let outputWeight: Int
    /// Offset of `final_logits_bias` [V_tgt] when the configuration has one.
    let outputBias: Int?
    /// int8 matrices by the offset of the float tensor they replace (empty for a float model; see
    /// Transformer+Quantization.swift). Their float storage is then never read, nor made resident.
    @_spi(Testing) public internal(set) var quantized: [Int: QuantizedMatrix] = [:]
    /// The parameters' version and decoding's panel copies of the linear layers (Transformer+Panels.swift).
    let panelState = Mutex(PanelState())
    /// Sinusoidal table [max_positions, D] (zeros for learned positions, which live in the parameters).
    @_spi(Testing) public let sinusoid: FloatBuffer

    // Workspaces, grown on demand.
    let encoderActs: StackActivations?
    let decoderActs: StackActivations
    let scratch = GradientScratch()
    let logits = FloatBuffer(count: 0)   // [N', V] (N' = B·T, or the labelled rows); holds dLogits after `loss`
    let rowLoss = FloatBuffer(count: 0)  // [N']
    /// The labels of the logits' rows: the batch's tgtOut, or its non-pad entries (`LogitRows.labelled`).
    var rowTargets: [Int32] = []
    /// With `LogitRows.labelled` and padding in the batch, the decoder rows (b·T + t) the logits' rows
    /// come from, ascending; nil when the logits have every row.
    var labelledRows: [Int32]? = nil
    let labelledHidden = FloatBuffer(count: 0)    // [N', D] those rows of the decoder's output
    let labelledGradient = FloatBuffer(count: 0)  // [N', D] their gradient, before `scatterRows`
    var trainingPass = false
    /// The format of training passes' products (Transformer+Precision.swift); `bf16Pass` is whether
    /// the last forward pass (and so its backward) uses bf16, `bf16` its operand copies.
    public internal(set) var precision: Precision = .float32
    var bf16Pass = false
    let bf16 = BF16Workspace()
    /// The parameters' version (`panelState`) whose bf16 copy an optimizer step wrote into
    /// `bf16.parameters`, nil when the last change did not write one (Transformer+Precision.swift).
    var bf16ParametersVersion: Int? = nil

    /// Word dropout of training passes (Marian's `--dropout-src`/`--dropout-trg`): each source
    /// (encoder input) or target (decoder input) position's token embedding is zeroed with this
    /// probability and the kept ones scaled by 1/(1-p), its position kept. 0 (the default): off.
    /// Applies only when ``forward(_:training:logitRows:rng:)`` trains; each in [0, 1).
    public var sourceWordDropout: Float = 0
    /// The decoder input's word dropout probability (a language model's only stack); see ``sourceWordDropout``.
    public var targetWordDropout: Float = 0

    /// Called during `backward` as soon as a layer's parameter gradients are final, with that
    /// layer's part of the flat gradient buffer, in `layerRangesInBackwardOrder`'s order: a
    /// distributed trainer starts reducing them while the rest of the backward pass runs.
    public var onLayerGradients: ((Range<Int>) -> Void)? = nil
    /// Decoder layers top down, then encoder layers top down.
    public let layerRangesInBackwardOrder: [Range<Int>]
    let encoderLayerRanges: [Range<Int>], decoderLayerRanges: [Range<Int>]

    /// Allocates a model for `config` with all parameters zero: call ``initialize(seed:)`` or
    /// ``loadWeights(from:allowExtra:)`` next.
    /// - Throws: ``ModelError/invalidConfig(_:)`` if the configuration fails ``ModelConfig/validate()``.
    public init(config: ModelConfig) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        parameters = FloatBuffer(count: layout.totalCount)
        gradients = FloatBuffer(count: layout.totalCount)
        encoderRef = config.isDecoderOnly ? nil : layout.stackRef("encoder", layers: config.encoderLayers, config: config)
        decoderRef = layout.stackRef("decoder", layers: config.decoderLayers, config: config)
        outputWeight = config.tieOutput ? layout.offset("decoder.embed_tokens.weight") : layout.offset("lm_head.weight")
        outputBias = layout.entry("final_logits_bias")?.offset
        sinusoid = FloatBuffer(count: config.maxPositions * config.dModel)
        if config.positional == .sinusoidal {
            sinusoidalPositions(sinusoid.pointer, positions: config.maxPositions, dModel: config.dModel)
        }
        encoderActs = config.isDecoderOnly ? nil : StackActivations(layers: config.encoderLayers, cross: false)
        decoderActs = StackActivations(layers: config.decoderLayers, cross: !config.isDecoderOnly)
        let l = layout
        encoderLayerRanges = config.isDecoderOnly ? [] : (0..<config.encoderLayers).map { l.range(prefix: "encoder.layers.\($0).")! }
        decoderLayerRanges = (0..<config.decoderLayers).map { l.range(prefix: "decoder.layers.\($0).")! }
        layerRangesInBackwardOrder = decoderLayerRanges.reversed() + encoderLayerRanges.reversed()
    }

    /// The parts of the gradient buffer outside every layer (embeddings, final norms, lm_head),
    /// final only when `backward` returns.
    public var rangesOutsideLayers: [Range<Int>] {
        var out: [Range<Int>] = [], at = 0
        for r in layerRangesInBackwardOrder.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if r.lowerBound > at { out.append(at..<r.lowerBound) }
            at = max(at, r.upperBound)
        }
        if at < layout.totalCount { out.append(at..<layout.totalCount) }
        return out
    }

    /// The number of parameters (without the layout's alignment padding).
    public var parameterCount: Int { layout.parameterCount }

    /// Fairseq-style initialization: token and position embeddings N(0, D^-1/2), matrices Xavier
    /// uniform, biases 0, LayerNorm weight 1 and bias 0.
    public func initialize(seed: UInt64) {
        var rng = RNG(seed: seed)
        let p = parameters.pointer
        defer { parametersDidChange() }
        parameters.zero()
        for e in layout.entries {
            let t = p + e.offset
            if e.name.hasSuffix("layer_norm.weight") {
                t.update(repeating: 1, count: e.count)
            } else if e.name.contains("embed_") {
                let std = 1 / Float(config.dModel).squareRoot()
                for i in 0..<e.count { t[i] = rng.nextGaussian() * std }
                if e.name.contains("embed_tokens") { (t + config.padId * config.dModel).update(repeating: 0, count: config.dModel) }
            } else if e.shape.count == 2 {
                let bound = (6 / Float(e.shape[0] + e.shape[1])).squareRoot()
                for i in 0..<e.count { t[i] = (rng.nextFloat() * 2 - 1) * bound }
            }
        }
    }

    @inline(__always) func param(_ offset: Int) -> FloatPtr { parameters.pointer + offset }

    /// logits [N, V] = h [N, D] · W_out [V, D]ᵀ for the few rows of a decoding step.
    func projectOutput(_ logits: FloatPtr, _ h: ConstFloatPtr, rows n: Int, panels: DecodingPanels?) {
        let bias = outputBias.map { UnsafePointer(param($0)) }
        if let q = quantized[outputWeight] { return int8LinearForward(logits, h, q, bias, rows: n) }
        invariantLinearForward(logits, h, param(outputWeight), bias, panels: panels?[outputWeight], rows: n,
                               inFeatures: config.dModel, outFeatures: config.tgtVocabSize)
    }
    @inline(__always) func grad(_ offset: Int) -> FloatPtr { gradients.pointer + offset }

    /// Rejects batches the model cannot take (positions beyond max_positions, ids outside the vocabulary).
    func check(_ batch: Batch) throws {
        let c = config
        if batch.tgtLength > c.maxPositions || batch.srcLength > c.maxPositions {
            throw ModelError.invalidInput(
                "sequence of \(max(batch.tgtLength, batch.srcLength)) tokens exceeds max_positions \(c.maxPositions)")
        }
        if let bad = batch.tgtIn.first(where: { $0 < 0 || Int($0) >= c.tgtVocabSize }) ?? batch.tgtOut.first(where: { $0 < 0 || Int($0) >= c.tgtVocabSize }) {
            throw ModelError.invalidInput("target id \(bad) is outside the vocabulary of \(c.tgtVocabSize)")
        }
        if !c.isDecoderOnly, let bad = batch.src.first(where: { $0 < 0 || Int($0) >= c.srcVocabSize }) {
            throw ModelError.invalidInput("source id \(bad) is outside the vocabulary of \(c.srcVocabSize)")
        }
    }

    // MARK: - Forward

    /// Runs the model on a batch and returns the logits [B·T, V_tgt]. With `training`, dropout is on
    /// (driven by `rng`) and the activations are kept for `backward`.
    ///
    /// The returned logits are [B·T, V_tgt], row-major (row b·T + t), and stay valid until the next pass;
    /// with `logitRows` ``LogitRows/labelled``, [N', V_tgt] for the N' positions whose label is not the
    /// pad id, in order (the same loss and gradients, without computing the padding's logits).
    /// - Throws: ``ModelError/invalidInput(_:)`` if a sequence is longer than max_positions or an id is
    ///   outside its vocabulary.
    @discardableResult
    public func forward(_ batch: Batch, training: Bool, logitRows: LogitRows = .all,
                        rng: inout RNG) throws -> UnsafeBufferPointer<Float> {
        try check(batch)
        let c = config
        let dropout = DropoutRates(config: c, training: training)
        trainingPass = training
        beginPass(training: training)
        let b = batch.batchSize, s = batch.srcLength, t = batch.tgtLength
        let sourceWords = training ? sourceWordDropout : 0, targetWords = training ? targetWordDropout : 0
        encoderActs?.reserve(batch: b, length: s, memoryLength: 0, config: c, dropout: dropout, wordDropout: sourceWords > 0)
        decoderActs.reserve(batch: b, length: t, memoryLength: s, config: c, dropout: dropout, wordDropout: targetWords > 0)
        var memory: ConstFloatPtr? = nil
        var memoryValid: [UInt8] = []
        if let enc = encoderActs, let ref = encoderRef {
            stackForward(enc, ref, ids: batch.src, memory: nil, memoryValid: [], causal: false, dropout: dropout,
                         wordDropout: sourceWords, rng: &rng)
            memory = UnsafePointer(enc.output(c.norm))
            memoryValid = enc.keyValid
        }
        stackForward(decoderActs, decoderRef, ids: batch.tgtIn, memory: memory, memoryValid: memoryValid,
                     causal: true, dropout: dropout, wordDropout: targetWords, rng: &rng)
        let v = c.tgtVocabSize
        let (h, n) = logitInputs(batch, logitRows)
        logits.reserve(n * v)
        rowLoss.reserve(n)
        // logits [N', V] = h [N', D] · W_out [V, D]ᵀ
        if n > 0 { passOutputProjection(logits.pointer, h, rows: n) }
        if let ob = outputBias {
            // logits[r, :] += final_logits_bias [V]
            let bias = param(ob), l = logits.pointer
            for r in 0..<n { let row = l + r * v; for j in 0..<v { row[j] += bias[j] } }
        }
        return UnsafeBufferPointer(start: logits.pointer, count: n * v)
    }

    /// The decoder output rows the logits are computed from and their count N': all B·T rows, or
    /// (``LogitRows/labelled`` and padding in the batch) the labelled ones packed into
    /// `labelledHidden` (in a mixed-precision pass only its bf16 copy, which is all the product reads).
    /// Sets `rowTargets` and `labelledRows` for `loss` and `backward`.
    func logitInputs(_ batch: Batch, _ logitRows: LogitRows) -> (ConstFloatPtr, rows: Int) {
        let d = config.dModel, n = decoderActs.rows, pad = Int32(config.padId)
        let h = decoderActs.output(config.norm)
        guard logitRows == .labelled, batch.tgtOut.contains(pad) else {
            labelledRows = nil
            rowTargets = batch.tgtOut
            return (UnsafePointer(h), n)
        }
        // Refilled in place: taken out first, so the arrays are not shared when they are emptied.
        var rows = labelledRows ?? [], targets = rowTargets
        labelledRows = nil; rowTargets = []
        rows.removeAll(keepingCapacity: true); targets.removeAll(keepingCapacity: true)
        for (r, y) in batch.tgtOut.enumerated() where y != pad { rows.append(Int32(r)); targets.append(y) }
        labelledRows = rows; rowTargets = targets
        let m = rows.count
        labelledHidden.reserve(m * d)
        rows.withUnsafeBufferPointer { rp in
            if bf16Pass {
                gatherRows(bf16.slot(for: labelledHidden.pointer, count: m * d), bf16.copy(of: h, count: n * d),
                           rows: rp, width: d)
            } else {
                gatherRows(labelledHidden.pointer, h, rows: rp, width: d)
            }
        }
        return (UnsafePointer(labelledHidden.pointer), m)
    }

    func stackForward(
        _ a: StackActivations, _ ref: StackRef, ids: [Int32], memory: ConstFloatPtr?, memoryValid: [UInt8],
        causal: Bool, dropout: DropoutRates, wordDropout: Float = 0, panels: DecodingPanels? = nil, rng: inout RNG
    ) {
        let c = config, d = c.dModel, n = a.rows
        a.ids = ids
        // Reuses the mask's storage: a steady training loop allocates nothing here.
        a.keyValid.removeAll(keepingCapacity: true)
        let pad = Int32(c.padId)
        if causal {
            // A causal stack's rows are padded at the end: its padding is the run of pad ids that ends
            // a row, after its first position. A pad id before a real token is a token (Marian's decoder
            // starts from <pad>; GPT-2's <|endoftext|> is its pad, bos and eos at once), and Hugging
            // Face masks none of them.
            a.keyValid.append(contentsOf: repeatElement(1, count: ids.count))
            for r in 0..<a.batch {
                var j = a.length - 1
                while j > 0 && ids[r * a.length + j] == pad { a.keyValid[r * a.length + j] = 0; j -= 1 }
            }
        } else {
            for id in ids { a.keyValid.append(id == pad ? 0 : 1) }
        }
        // Word dropout: a row factor k [N], 0 (the word's embedding dropped) or 1/(1-p).
        a.wordDropped = wordDropout > 0
        if a.wordDropped { dropoutMask(a.wordKeep.pointer, count: n, p: wordDropout, rng: &rng) }
        ids.withUnsafeBufferPointer { idp in
            embed(a.embedded.pointer, ids: idp.baseAddress!, ref, batch: a.batch, length: a.length,  // [B, T] -> [N, D]
                  rowScale: a.wordDropped ? UnsafePointer(a.wordKeep.pointer) : nil)
        }
        if dropout.residual > 0 {
            dropoutForward(a.embedded.pointer, mask: a.embedMask.pointer, a.embedded.pointer, count: n * d,
                           p: dropout.residual, rng: &rng)
        }
        var x = UnsafePointer(a.embedded.pointer)
        let copies = bf16Pass && panels == nil ? bf16 : nil  // a mixed-precision training pass's bf16 copies
        for (l, lr) in zip(a.layers, ref.layers) {
            x = residualForward(l.selfBlock, x: x, norm: lr.selfNorm, rows: n, dropout: dropout.residual, bf16Copies: copies,
                                rng: &rng) { h, out, rng in
                attentionSublayer(l.selfAttention, lr.selfAttention, x: h, memory: h, batch: a.batch, queries: a.length,
                                  keys: a.length, keyValid: a.keyValid, causal: causal, dropout: dropout.attention, panels: panels,
                                  out: out, rng: &rng)
            }
            if let cb = l.crossBlock, let ca = l.crossAttention, let cr = lr.crossAttention, let cn = lr.crossNorm,
               let memory {
                x = residualForward(cb, x: x, norm: cn, rows: n, dropout: dropout.residual, bf16Copies: copies,
                                    rng: &rng) { h, out, rng in
                    attentionSublayer(ca, cr, x: h, memory: memory, batch: a.batch, queries: a.length,
                                      keys: memoryValid.count / a.batch, keyValid: memoryValid, causal: false,
                                      dropout: dropout.attention, panels: panels, out: out, rng: &rng)
                }
            }
            x = residualForward(l.ffnBlock, x: x, norm: lr.ffnNorm, rows: n, dropout: dropout.residual, bf16Copies: copies,
                                rng: &rng) { h, out, _ in
                feedForward(lr, x: h, rows: n, hidden: l.ffnHidden.pointer, activated: l.ffnActivated.pointer, out: out,
                            bf16Copies: copies) { passLinear($0, $1, $2, rows: $3, panels: panels) }
            }
        }
        _ = finalNorm(ref, x: x, out: a.finalOut.pointer, mean: a.finalMean.pointer, rstd: a.finalRstd.pointer, rows: n,
                      bf16Copies: copies)
    }

    /// pre-norm: out = x + dropout(S(LN(x)));  post-norm: out = LN(x + dropout(S(x))): `residualBlock`
    /// over the block's activations, with the pass's dropout rate (0: none) and (a mixed-precision
    /// training pass) bf16 copies.
    func residualForward(
        _ r: ResidualActivations, x: ConstFloatPtr, norm: NormRef, rows n: Int, dropout: Float,
        bf16Copies: BF16Workspace?, rng: inout RNG, _ sublayer: (ConstFloatPtr, FloatPtr, inout RNG) -> Void
    ) -> ConstFloatPtr {
        let c = config
        return residualBlock(x: x, norm: norm, rows: n, r.buffers, bf16Copies: bf16Copies,
                             sublayer: { h, out in sublayer(h, out, &rng) }) { sub in
            if dropout > 0 {
                dropoutForward(sub, mask: r.dropMask.pointer, sub, count: n * c.dModel, p: dropout, rng: &rng)
            }
        }
    }

    /// out [N, D] = MultiHead(q = x [N, D], k = v = memory [M, D]) through the out projection, with
    /// `dropout` the rate on the attention probabilities (0: none).
    func attentionSublayer(
        _ a: AttentionActivations, _ w: AttentionRef, x: ConstFloatPtr, memory: ConstFloatPtr,
        batch: Int, queries: Int, keys: Int, keyValid: [UInt8], causal: Bool, dropout: Float,
        panels: DecodingPanels? = nil, out: FloatPtr, rng: inout RNG
    ) {
        let d = config.dModel, n = batch * queries, m = batch * keys
        passLinear(a.q.pointer, x, w.q, rows: n, panels: panels)
        passLinear(a.k.pointer, memory, w.k, rows: m, panels: panels)
        passLinear(a.v.pointer, memory, w.v, rows: m, panels: panels)
        let shape = AttentionShape(batch: batch, heads: config.nHeads, queries: queries, keys: keys, dModel: d)
        if panels != nil && !causal && x == memory {  // encoding (Decoding/Encoder.swift): batch-invariant
            keyValid.withUnsafeBufferPointer { kv in
                invariantAttentionForward(ctx: a.ctx.pointer, probs: a.probs.pointer, q: a.q.pointer, k: a.k.pointer,
                                          v: a.v.pointer, keyValid: kv.baseAddress!, shape: shape)
            }
            return passLinear(out, a.ctx.pointer, w.out, rows: n, panels: panels)
        }
        keyValid.withUnsafeBufferPointer { kv in
            attentionForward(ctx: a.ctx.pointer, probs: a.probs.pointer,
                             dropped: dropout > 0 ? a.dropped.pointer : nil, dropMask: dropout > 0 ? a.dropMask.pointer : nil,
                             q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, keyValid: kv.baseAddress, causal: causal,
                             shape: shape, dropout: dropout, rng: &rng)
        }
        passLinear(out, a.ctx.pointer, w.out, rows: n)
    }

    /// A linear layer of decoding or encoding for it: int8 when the model is quantized, otherwise
    /// batch-invariant (Matmul/InvariantLinear.swift).
    @inline(__always)
    func linear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int, panels: DecodingPanels?) {
        if let q = quantized[w.weight] {
            return int8LinearForward(y, x, q, w.bias.map { UnsafePointer(param($0)) }, rows: n)
        }
        invariantLinearForward(y, x, param(w.weight), w.bias.map { UnsafePointer(param($0)) }, panels: panels?[w.weight],
                               rows: n, inFeatures: w.inFeatures, outFeatures: w.outFeatures)
    }

    /// A linear layer of a full forward pass in float32: on the product engines (`linearForward`)
    /// when the pass trains or measures loss, batch-invariant (`linear`) when it encodes for decoding
    /// (`panels` given).
    @inline(__always)
    func engineLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int, panels: DecodingPanels?) {
        if panels != nil || quantized[w.weight] != nil { return linear(y, x, w, rows: n, panels: panels) }
        linearForward(y, x, param(w.weight), w.bias.map { UnsafePointer(param($0)) }, rows: n,
                      inFeatures: w.inFeatures, outFeatures: w.outFeatures)
    }
}
