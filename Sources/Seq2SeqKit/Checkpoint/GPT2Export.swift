import Foundation

/// A decoder-only model as Hugging Face's `GPT2LMHeadModel`: the inverse of ``GPT2Import``.
///
/// GPT-2's `Conv1D` layers store weights as [in, out], so ours ([out, in]) are transposed, and the
/// query, key and value projections are fused into `attn.c_attn` [d, 3d]. The position table `wpe` is
/// the learned one, or the sinusoid table written out (GPT-2 then treats it as learned, and computes
/// the same). `lm_head.weight` is written beside `wte` even when tied, as transformers saves it.
enum GPT2Export {
    /// The tensors of the Hugging Face state dict, from `model`'s parameters.
    static func tensors(_ model: Transformer) -> [SafeTensors.Entry] {
        let c = model.config, d = c.dModel, f = c.dFF, entry = model.exportEntry
        func values(_ ours: String) -> UnsafeBufferPointer<Float> {
            let e = model.layout.entry(ours)!
            return UnsafeBufferPointer(start: model.parameters.pointer + e.offset, count: e.count)
        }
        /// Our [rows, cols] matrices side by side, transposed: [cols, Σ rows] (Conv1D's [in, out]).
        func conv1D(_ names: [String], rows: Int, cols: Int) -> [Float] {
            let width = rows * names.count
            var out = [Float](repeating: 0, count: cols * width)
            for (k, name) in names.enumerated() {
                let w = values(name)
                for r in 0..<rows { for j in 0..<cols { out[j * width + k * rows + r] = w[r * cols + j] } }
            }
            return out
        }
        let t = "transformer."
        var out: [SafeTensors.Entry] = [entry(t + "wte.weight", "decoder.embed_tokens.weight")]
        if c.positional == .learned {
            out.append(entry(t + "wpe.weight", "decoder.embed_positions.weight"))
        } else {
            out.append(.f32(t + "wpe.weight", [c.maxPositions, d], model.sinusoid.pointer))
        }
        for i in 0..<c.decoderLayers {
            let h = "\(t)h.\(i).", l = "decoder.layers.\(i)."
            out.append(entry(h + "ln_1.weight", l + "self_attn_layer_norm.weight"))
            out.append(entry(h + "ln_1.bias", l + "self_attn_layer_norm.bias"))
            let qkv = ["q_proj", "k_proj", "v_proj"].map { l + "self_attn.\($0)" }
            out.append(.f32(h + "attn.c_attn.weight", [d, 3 * d], conv1D(qkv.map { $0 + ".weight" }, rows: d, cols: d)))
            out.append(.f32(h + "attn.c_attn.bias", [3 * d], qkv.flatMap { Array(values($0 + ".bias")) }))
            out.append(.f32(h + "attn.c_proj.weight", [d, d], conv1D([l + "self_attn.out_proj.weight"], rows: d, cols: d)))
            out.append(entry(h + "attn.c_proj.bias", l + "self_attn.out_proj.bias"))
            out.append(entry(h + "ln_2.weight", l + "final_layer_norm.weight"))
            out.append(entry(h + "ln_2.bias", l + "final_layer_norm.bias"))
            out.append(.f32(h + "mlp.c_fc.weight", [d, f], conv1D([l + "fc1.weight"], rows: f, cols: d)))
            out.append(entry(h + "mlp.c_fc.bias", l + "fc1.bias"))
            out.append(.f32(h + "mlp.c_proj.weight", [f, d], conv1D([l + "fc2.weight"], rows: d, cols: f)))
            out.append(entry(h + "mlp.c_proj.bias", l + "fc2.bias"))
        }
        out.append(entry(t + "ln_f.weight", "decoder.layer_norm.weight"))
        out.append(entry(t + "ln_f.bias", "decoder.layer_norm.bias"))
        out.append(entry("lm_head.weight", c.tieOutput ? "decoder.embed_tokens.weight" : "lm_head.weight"))
        return out
    }

    /// config.json: GPT2Config's fields. Dropout goes to the residual and embedding dropout, the
    /// attention probabilities' (``ModelConfig/attentionDropoutRate``) to `attn_pdrop`.
    static func config(_ c: ModelConfig) -> [String: Any] {
        [
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": c.tgtVocabSize, "n_positions": c.maxPositions, "n_embd": c.dModel,
            "n_layer": c.decoderLayers, "n_head": c.nHeads, "n_inner": c.dFF,
            "activation_function": HuggingFaceExport.activationName(c.activation),
            "layer_norm_epsilon": HuggingFaceExport.decimal(c.layerNormEps),
            "resid_pdrop": HuggingFaceExport.decimal(c.dropout), "embd_pdrop": HuggingFaceExport.decimal(c.dropout), "attn_pdrop": HuggingFaceExport.decimal(c.attentionDropoutRate),
            "bos_token_id": c.bosId, "eos_token_id": c.eosId, "pad_token_id": c.padId,
            "tie_word_embeddings": c.tieOutput, "scale_attn_weights": true, "initializer_range": 0.02, "use_cache": true,
        ]
    }
}
