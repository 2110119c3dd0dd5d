/// One flat buffer for all parameters, laid out by one function that follows MODEL_SPEC.md's names
/// and shapes. Gradients and optimizer moments use the same layout (same offsets).
public struct ParameterLayout: Sendable {
    /// One tensor of the layout.
    public struct Entry: Sendable, Equatable {
        /// The spec's name, as in model.safetensors (`decoder.layers.0.fc1.weight`).
        public let name: String
        /// The shape, row-major; linear weights are [out, in].
        public let shape: [Int]
        /// The first element's index in the flat buffer (a multiple of 16: every tensor is 64-byte aligned).
        public let offset: Int
        /// The number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// The tensors in buffer order: the encoder, the decoder, then `lm_head` and `final_logits_bias` when present.
    public private(set) var entries: [Entry] = []
    /// The flat buffer's length in floats, alignment padding included.
    public private(set) var totalCount = 0
    private var index: [String: Int] = [:]

    /// The layout of `c`'s parameters; it does not validate `c`.
    public init(_ c: ModelConfig) {
        let d = c.dModel
        func attention(_ prefix: String) {
            for p in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                add("\(prefix).\(p).weight", [d, d])
                add("\(prefix).\(p).bias", [d])
            }
        }
        func norm(_ name: String) {
            add("\(name).weight", [d])
            add("\(name).bias", [d])
        }
        func stack(_ s: String, layers: Int, vocab: Int, embed: Bool, cross: Bool) {
            if embed { add("\(s).embed_tokens.weight", [vocab, d]) }
            if c.positional == .learned { add("\(s).embed_positions.weight", [c.maxPositions, d]) }
            for i in 0..<layers {
                let l = "\(s).layers.\(i)"
                attention("\(l).self_attn")
                norm("\(l).self_attn_layer_norm")
                if cross {
                    attention("\(l).encoder_attn")
                    norm("\(l).encoder_attn_layer_norm")
                }
                add("\(l).fc1.weight", [c.dFF, d])
                add("\(l).fc1.bias", [c.dFF])
                add("\(l).fc2.weight", [d, c.dFF])
                add("\(l).fc2.bias", [d])
                norm("\(l).final_layer_norm")
            }
            if c.norm == .pre { norm("\(s).layer_norm") }
        }
        if !c.isDecoderOnly {
            stack("encoder", layers: c.encoderLayers, vocab: c.srcVocabSize, embed: !c.shareEmbeddings, cross: false)
        }
        stack("decoder", layers: c.decoderLayers, vocab: c.tgtVocabSize, embed: true, cross: !c.isDecoderOnly)
        if !c.tieOutput { add("lm_head.weight", [c.tgtVocabSize, d]) }
        if c.finalLogitsBias == true { add("final_logits_bias", [c.tgtVocabSize]) }
    }

    private mutating func add(_ name: String, _ shape: [Int]) {
        let e = Entry(name: name, shape: shape, offset: totalCount)
        index[name] = entries.count
        entries.append(e)
        // Keep every tensor 16-float (64-byte) aligned inside the flat buffer.
        totalCount += (e.count + 15) / 16 * 16
    }

    /// The tensor named `name`, or nil if the configuration has none.
    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Offset of a tensor the layout must have (a programming error otherwise).
    public func offset(_ name: String) -> Int {
        guard let e = entry(name) else { preconditionFailure("parameter layout has no '\(name)'") }
        return e.offset
    }

    /// The part of the flat buffer that the tensors named `prefix…` occupy (with their alignment
    /// padding), or nil if none is.
    public func range(prefix: String) -> Range<Int>? {
        var lo = Int.max, hi = 0
        for e in entries where e.name.hasPrefix(prefix) {
            lo = min(lo, e.offset)
            hi = max(hi, e.offset + (e.count + 15) / 16 * 16)
        }
        return lo < hi ? lo..<hi : nil
    }

    /// Number of real parameters (without alignment padding).
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.count } }
}
