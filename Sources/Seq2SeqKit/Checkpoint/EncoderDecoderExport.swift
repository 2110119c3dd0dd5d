import Foundation

/// An encoder-decoder model as Hugging Face's `MarianMTModel` (post-norm) or
/// `PegasusForConditionalGeneration` (pre-norm): the inverse of ``MarianImport``'s tensor mapping.
///
/// Both classes name their layers as the spec does (`encoder.layers.0.self_attn.q_proj.weight`,
/// `fc1`, `final_layer_norm`, …) under `model.`, with linear weights [out, in] as ours. What differs
/// is around the layers: the token tables (`model.shared` and every alias of it, because
/// transformers ties them only when `tie_word_embeddings` is true), `lm_head`, `final_logits_bias`
/// as [1, V], and Pegasus's position tables, which it loads from the file (Marian builds its own
/// and never saves them).
enum EncoderDecoderExport {
    /// The tensors of the Hugging Face state dict, copied from `model`'s parameters.
    static func tensors(_ model: Transformer, architecture: HuggingFaceArchitecture) -> [SafeTensors.Entry] {
        let c = model.config, entry = model.exportEntry
        var out: [SafeTensors.Entry] = []
        for e in model.layout.entries {
            switch e.name {
            case "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight", "final_logits_bias": continue
            default: out.append(entry("model.\(e.name)", e.name))
            }
        }
        let decoderTable = "decoder.embed_tokens.weight"
        if c.shareEmbeddings {
            for name in ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"] {
                out.append(entry(name, decoderTable))
            }
        } else {
            out.append(entry("model.encoder.embed_tokens.weight", "encoder.embed_tokens.weight"))
            out.append(entry("model.decoder.embed_tokens.weight", decoderTable))
        }
        out.append(entry("lm_head.weight", c.tieOutput ? decoderTable : "lm_head.weight"))
        if let bias = model.layout.entry("final_logits_bias") {
            out.append(.f32("final_logits_bias", [1, c.tgtVocabSize], model.parameters.pointer + bias.offset))
        } else {
            out.append(.f32("final_logits_bias", [1, c.tgtVocabSize], [Float](repeating: 0, count: c.tgtVocabSize)))
        }
        if architecture == .pegasus {
            // [max_positions, d]: sines in the first half of each row, cosines in the second, as Pegasus's table.
            for stack in ["encoder", "decoder"] {
                out.append(.f32("model.\(stack).embed_positions.weight", [c.maxPositions, c.dModel], model.sinusoid.pointer))
            }
        }
        return out
    }

    /// config.json for `architecture` (Marian or Pegasus).
    ///
    /// Dropout goes to `dropout` (residual connections, as the spec's) and to `attention_dropout`
    /// (``ModelConfig/attentionDropoutRate``); activation dropout is 0 because the spec has none. `normalize_before` and `normalize_embedding` are not
    /// Pegasus's own fields: CTranslate2's converter reads them to build a pre-norm model without an
    /// embedding LayerNorm.
    static func config(_ c: ModelConfig, architecture: HuggingFaceArchitecture) -> [String: Any] {
        let marian = architecture == .marian
        var h: [String: Any] = [
            "architectures": [architecture.rawValue],
            "model_type": marian ? "marian" : "pegasus",
            "is_encoder_decoder": true,
            "vocab_size": c.srcVocabSize,
            "d_model": c.dModel,
            "encoder_layers": c.encoderLayers, "decoder_layers": c.decoderLayers,
            "encoder_attention_heads": c.nHeads, "decoder_attention_heads": c.nHeads,
            "encoder_ffn_dim": c.dFF, "decoder_ffn_dim": c.dFF,
            "max_position_embeddings": c.maxPositions,
            "activation_function": HuggingFaceExport.activationName(c.activation, marian: marian),
            "scale_embedding": c.scaleEmbedding,
            "tie_word_embeddings": c.tieOutput,
            "pad_token_id": c.padId, "eos_token_id": c.eosId, "decoder_start_token_id": c.bosId,
            // Marian's default forced_eos_token_id (0) would be a token of ours; decoding forces nothing.
            "forced_eos_token_id": NSNull(),
            "dropout": HuggingFaceExport.decimal(c.dropout), "attention_dropout": HuggingFaceExport.decimal(c.attentionDropoutRate), "activation_dropout": 0.0,
            "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0,
            "init_std": 0.02, "use_cache": true,
        ]
        if marian {
            h["share_encoder_decoder_embeddings"] = c.shareEmbeddings
            h["decoder_vocab_size"] = c.tgtVocabSize
            h["static_position_embeddings"] = true
        } else {
            h["normalize_before"] = true
            h["normalize_embedding"] = false
        }
        return h
    }
}
