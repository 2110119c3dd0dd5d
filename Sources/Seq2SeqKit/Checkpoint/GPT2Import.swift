import Foundation

/// `seq2seq import`: a Hugging Face GPT-2 folder (`GPT2LMHeadModel`, the Hub's `gpt2`, `distilgpt2`,
/// nanoGPT's exports) → our decoder-only model directory.
///
/// GPT-2 in the spec's terms: pre-norm decoder layers with a final LayerNorm, learned positions,
/// unscaled token embeddings, GELU's tanh approximation (`gelu_new` → `gelu_tanh`), the output tied to
/// the token table, `<|endoftext|>` as bos and eos (and as padding, as Hugging Face pads GPT-2 with
/// it). Its `Conv1D` layers store weights as [in, out]: they are transposed into our [out, in], and
/// the fused query-key-value projection `attn.c_attn` [d, 3d] is cut into q, k and v. Tensor names
/// may carry `transformer.` (transformers' own files) or not (the Hub's `gpt2`). The tokenizer
/// (tokenizer.json, or vocab.json + merges.txt) becomes the model directory's tokenizer.json.
public enum GPT2Import {
    /// Imports the Hugging Face GPT-2 folder `hf` into the model directory `output` (created if needed).
    ///
    /// The configuration, every tensor's name and shape, and the tokenizer are checked before
    /// anything is written.
    /// - Throws: ``ModelError`` for a missing file, a configuration or tensor the engine does not run,
    ///   or weights that disagree with the configuration; ``SafeTensors/Error`` for a damaged weights
    ///   file; ``VocabularyError`` for a tokenizer that is not GPT-2's byte-level BPE or does not fit.
    public static func run(from hf: String, to output: String, config hfConfig: [String: Any]) throws -> ImportSummary {
        let fm = FileManager.default
        let config = try translate(hfConfig, path: "\(hf)/config.json")
        let weightsPath = "\(hf)/model.safetensors"
        guard fm.fileExists(atPath: weightsPath) else {
            throw ModelError.badFile(weightsPath, "not found\(HuggingFaceImport.otherWeights(in: hf)); make one with transformers: python -c \"from transformers import GPT2LMHeadModel as M; M.from_pretrained('\(hf)').save_pretrained('\(hf)', safe_serialization=True, max_shard_size='100GB')\"")
        }
        let vocabulary = try tokenizer(in: hf)
        guard vocabulary.count <= config.tgtVocabSize else {
            throw ModelError.badFile(hf, "the tokenizer has \(vocabulary.count) tokens but the model only \(config.tgtVocabSize); the tokenizer files are not this model's")
        }
        for (name, id) in [("bos_token_id", config.bosId), ("eos_token_id", config.eosId)] where id >= vocabulary.count {
            throw ModelError.badFile("\(hf)/config.json", "\(name) \(id) is not a token of the tokenizer (\(vocabulary.count) tokens)")
        }
        let file = try SafeTensors(contentsOf: weightsPath)
        let model = try Transformer(config: config)
        let dtypes = try loadWeights(file, into: model)

        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        try Vocabularies(joint: Vocabulary(byteLevel: vocabulary)).save(to: output)
        _ = try ModelDirectory.loadVocabularies(output, for: config)
        try ModelDirectory.save(model, to: output)
        return ImportSummary(config: config, dtypes: dtypes,
                             files: [Vocabulary.fileName, ModelDirectory.configFile, ModelDirectory.weightsFile])
    }

    /// The folder's byte-level BPE: tokenizer.json, else vocab.json + merges.txt.
    static func tokenizer(in hf: String) throws -> ByteLevelBPE {
        let fm = FileManager.default
        let json = "\(hf)/\(Vocabulary.fileName)"
        if let data = fm.contents(atPath: json) { return try ByteLevelBPE.load(tokenizerJSON: data, path: json) }
        let vocab = "\(hf)/\(GPT2Files.vocab)", merges = "\(hf)/\(GPT2Files.merges)"
        guard fm.fileExists(atPath: vocab), fm.fileExists(atPath: merges) else {
            throw ModelError.badFile(hf, "no tokenizer: a GPT-2 folder holds tokenizer.json, or vocab.json and merges.txt, beside the weights (download the whole model repository)")
        }
        return try ByteLevelBPE.load(vocabJSON: vocab, mergesTXT: merges)
    }

    /// Hugging Face's GPT2Config → ours; any variant the engine does not run is an error naming the field.
    static func translate(_ c: [String: Any], path: String) throws -> ModelConfig {
        func fail(_ m: String) -> ModelError { .badFile(path, m) }
        func int(_ keys: [String], _ fallback: Int? = nil) throws -> Int {
            for k in keys { if let v = c[k] as? Int { return v } }
            if let f = fallback { return f }
            throw fail("missing integer field '\(keys[0])'")
        }
        func flag(_ key: String, _ fallback: Bool) -> Bool { c[key] as? Bool ?? fallback }
        func real(_ key: String, _ fallback: Double) -> Double { (c[key] as? NSNumber)?.doubleValue ?? fallback }
        let activation: Activation
        switch c["activation_function"] as? String ?? "gelu_new" {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .geluTanh
        case "gelu": activation = .gelu
        case "relu": activation = .relu
        case "silu", "swish": activation = .silu
        case let other: throw fail("activation_function '\(other)' is not supported (gelu_new, gelu_pytorch_tanh, gelu, relu, silu are)")
        }
        if flag("add_cross_attention", false) { throw fail("add_cross_attention is true (cross-attention layers): a decoder-only GPT-2 has none; this variant is not supported") }
        if !flag("scale_attn_weights", true) { throw fail("scale_attn_weights is false (attention scores not divided by √head_dim): not supported") }
        if flag("scale_attn_by_inverse_layer_idx", false) { throw fail("scale_attn_by_inverse_layer_idx is true (scores divided by the layer's index): not supported") }
        let d = try int(["n_embd", "hidden_size"]), layers = try int(["n_layer", "num_hidden_layers"])
        let heads = try int(["n_head", "num_attention_heads"])
        let inner = c["n_inner"] as? Int ?? 4 * d
        let vocab = try int(["vocab_size"])
        let eos = try int(["eos_token_id"], 50256), bos = try int(["bos_token_id"], eos)
        // GPT-2 has no padding token; Hugging Face pads it with eos, and so do we (see ModelConfig.neverGenerated).
        let pad = c["pad_token_id"] as? Int ?? eos
        var config = ModelConfig(
            srcVocabSize: 0, tgtVocabSize: vocab, dModel: d, nHeads: heads, dFF: inner, encoderLayers: 0, decoderLayers: layers,
            maxPositions: try int(["n_positions", "n_ctx", "max_position_embeddings"]), positional: .learned, norm: .pre,
            activation: activation, scaleEmbedding: false, shareEmbeddings: false, tieOutput: flag("tie_word_embeddings", true),
            layerNormEps: Float(real("layer_norm_epsilon", 1e-5)), dropout: Float(real("resid_pdrop", 0.1)),
            padId: pad, bosId: bos, eosId: eos)
        config.dropout = min(max(config.dropout, 0), 0.95)
        config.attentionDropout = Float(min(max(real("attn_pdrop", 0.1), 0), 0.95))  // GPT2Config's default: 0.1
        do { try config.validate() } catch { throw fail("\(error)") }
        return config
    }

    /// Fills the model from a GPT-2 state dict; returns dtype → tensor count.
    static func loadWeights(_ file: SafeTensors, into model: Transformer) throws -> [String: Int] {
        defer { model.parametersDidChange() }
        let c = model.config, d = c.dModel, f = c.dFF
        let prefix = file.tensors["transformer.wte.weight"] != nil ? "transformer." : ""
        var dtypes: [String: Int] = [:]
        var used = Set<String>()
        /// Reads `name` (checking its shape) as float32.
        func read(_ name: String, _ shape: [Int]) throws -> [Float] {
            let full = name == "lm_head.weight" ? name : prefix + name
            guard let t = file.tensors[full] else { throw ModelError.missingTensor(file: file.path, name: full) }
            guard t.shape == shape else { throw ModelError.shapeMismatch(file: file.path, name: full, expected: shape, found: t.shape) }
            var v = [Float](repeating: 0, count: t.count)
            try v.withUnsafeMutableBufferPointer { try file.readConverting(full, into: $0.baseAddress!) }
            dtypes[t.dtype.rawValue, default: 0] += 1
            used.insert(full)
            return v
        }
        func put(_ ours: String, _ values: [Float]) {
            let e = model.layout.entry(ours)!
            precondition(e.count == values.count, "\(ours): \(values.count) values for \(e.count)")
            values.withUnsafeBufferPointer { (model.parameters.pointer + e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
        /// Columns `lo..<lo+width` of a row-major [rows, cols] matrix, transposed: [width, rows].
        func transposed(_ m: [Float], rows: Int, cols: Int, columns lo: Int, width: Int) -> [Float] {
            var out = [Float](repeating: 0, count: width * rows)
            for r in 0..<rows { for j in 0..<width { out[j * rows + r] = m[r * cols + lo + j] } }
            return out
        }
        put("decoder.embed_tokens.weight", try read("wte.weight", [c.tgtVocabSize, d]))
        put("decoder.embed_positions.weight", try read("wpe.weight", [c.maxPositions, d]))
        for i in 0..<c.decoderLayers {
            let h = "h.\(i).", l = "decoder.layers.\(i)."
            put(l + "self_attn_layer_norm.weight", try read(h + "ln_1.weight", [d]))
            put(l + "self_attn_layer_norm.bias", try read(h + "ln_1.bias", [d]))
            // Conv1D: y = x W + b with W [in, out]; c_attn's out is q, k, v side by side.
            let qkv = try read(h + "attn.c_attn.weight", [d, 3 * d]), qkvBias = try read(h + "attn.c_attn.bias", [3 * d])
            for (k, p) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                put(l + "self_attn.\(p).weight", transposed(qkv, rows: d, cols: 3 * d, columns: k * d, width: d))
                put(l + "self_attn.\(p).bias", Array(qkvBias[(k * d)..<((k + 1) * d)]))
            }
            put(l + "self_attn.out_proj.weight", transposed(try read(h + "attn.c_proj.weight", [d, d]), rows: d, cols: d, columns: 0, width: d))
            put(l + "self_attn.out_proj.bias", try read(h + "attn.c_proj.bias", [d]))
            put(l + "final_layer_norm.weight", try read(h + "ln_2.weight", [d]))
            put(l + "final_layer_norm.bias", try read(h + "ln_2.bias", [d]))
            put(l + "fc1.weight", transposed(try read(h + "mlp.c_fc.weight", [d, f]), rows: d, cols: f, columns: 0, width: f))
            put(l + "fc1.bias", try read(h + "mlp.c_fc.bias", [f]))
            put(l + "fc2.weight", transposed(try read(h + "mlp.c_proj.weight", [f, d]), rows: f, cols: d, columns: 0, width: d))
            put(l + "fc2.bias", try read(h + "mlp.c_proj.bias", [d]))
        }
        put("decoder.layer_norm.weight", try read("ln_f.weight", [d]))
        put("decoder.layer_norm.bias", try read("ln_f.bias", [d]))
        if !c.tieOutput {
            put("lm_head.weight", try read("lm_head.weight", [c.tgtVocabSize, d]))
        } else if file.tensors["lm_head.weight"] != nil {
            // A tied head saved beside the token table must be the same matrix.
            let head = try read("lm_head.weight", [c.tgtVocabSize, d])
            let table = model.layout.entry("decoder.embed_tokens.weight")!
            let p = model.parameters.pointer + table.offset
            if let bad = (0..<head.count).first(where: { head[$0] != p[$0] }) {
                throw ModelError.badFile(file.path, "'lm_head.weight' differs from the token table at element \(bad), but config.json ties them (tie_word_embeddings); set it to false if the head is its own matrix")
            }
        }
        // The causal-mask buffers older checkpoints saved are not parameters.
        for name in file.names where !used.contains(name) {
            let bare = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
            if bare.hasPrefix("h."), bare.hasSuffix(".attn.bias") || bare.hasSuffix(".attn.masked_bias") { continue }
            throw ModelError.unexpectedTensor(file: file.path, name: name)
        }
        return dtypes
    }
}
