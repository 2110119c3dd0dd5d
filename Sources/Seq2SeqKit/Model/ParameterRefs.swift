// Offsets of each layer's tensors inside the flat parameter buffer (and, identically, the gradient
// buffer). Built once from a ParameterLayout, so the hot loops never look names up.

struct LinearRef {
    let weight: Int, bias: Int?
    let inFeatures: Int, outFeatures: Int
}

struct NormRef { let weight: Int, bias: Int }

struct AttentionRef { let q: LinearRef, k: LinearRef, v: LinearRef, out: LinearRef }

struct LayerRef {
    let selfAttention: AttentionRef, selfNorm: NormRef
    let crossAttention: AttentionRef?, crossNorm: NormRef?
    let fc1: LinearRef, fc2: LinearRef, ffnNorm: NormRef
}

struct StackRef {
    /// Token table [V, D] (the decoder's when embeddings are shared).
    let embedTokens: Int
    /// Learned position table [max_positions, D], or nil for sinusoidal positions.
    let embedPositions: Int?
    let layers: [LayerRef]
    /// Final LayerNorm (pre-norm only).
    let finalNorm: NormRef?
}

extension ParameterLayout {
    func linearRef(_ name: String, bias: Bool = true) -> LinearRef {
        let e = entry("\(name).weight")!
        return LinearRef(weight: e.offset, bias: bias ? offset("\(name).bias") : nil,
                         inFeatures: e.shape[1], outFeatures: e.shape[0])
    }

    func normRef(_ name: String) -> NormRef {
        NormRef(weight: offset("\(name).weight"), bias: offset("\(name).bias"))
    }

    func attentionRef(_ name: String) -> AttentionRef {
        AttentionRef(q: linearRef("\(name).q_proj"), k: linearRef("\(name).k_proj"),
                     v: linearRef("\(name).v_proj"), out: linearRef("\(name).out_proj"))
    }

    func stackRef(_ s: String, layers: Int, config c: ModelConfig) -> StackRef {
        let cross = s == "decoder" && !c.isDecoderOnly
        let table = entry("\(s).embed_tokens.weight") ?? entry("decoder.embed_tokens.weight")!
        return StackRef(
            embedTokens: table.offset,
            embedPositions: entry("\(s).embed_positions.weight")?.offset,
            layers: (0..<layers).map { i in
                let l = "\(s).layers.\(i)"
                return LayerRef(
                    selfAttention: attentionRef("\(l).self_attn"), selfNorm: normRef("\(l).self_attn_layer_norm"),
                    crossAttention: cross ? attentionRef("\(l).encoder_attn") : nil,
                    crossNorm: cross ? normRef("\(l).encoder_attn_layer_norm") : nil,
                    fc1: linearRef("\(l).fc1"), fc2: linearRef("\(l).fc2"), ffnNorm: normRef("\(l).final_layer_norm"))
            },
            finalNorm: c.norm == .pre ? normRef("\(s).layer_norm") : nil)
    }
}
