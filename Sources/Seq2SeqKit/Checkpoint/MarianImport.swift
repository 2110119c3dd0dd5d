import Foundation

/// `seq2seq import`: a Hugging Face Marian folder (OPUS-MT, `MarianMTModel`) → our model directory.
///
/// Marian in the spec's terms: post-norm layers, sinusoidal positions (Hugging Face's table, which
/// is the spec's), token embeddings scaled by √d, SiLU ("swish") feed-forward, a `final_logits_bias`,
/// `</s>` = 0, `<pad>` = the last id, decoding starts from `<pad>`. Tensor names lose their `model.`
/// prefix; `model.shared`, `{encoder,decoder}.embed_tokens` and `lm_head` may all be spellings of one
/// tied matrix. F32, F16 and BF16 tensors are read (and stored as F32). The tokenizer files are copied
/// as they are: the model directory's vocabularies are then the SentencePiece pair.
public enum MarianImport {
    /// What ``MarianImport/run(from:to:)`` imported.
    public typealias Summary = ImportSummary

    static let tokenizerFiles = [MarianFiles.sourceSPM, MarianFiles.targetSPM, MarianFiles.vocab, MarianFiles.targetVocab,
                                 "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]

    /// Imports the Hugging Face Marian folder `hf` into the model directory `output` (created if needed).
    ///
    /// The folder needs config.json, model.safetensors (a single file, not shards), source.spm, target.spm
    /// and vocab.json (and target_vocab.json when the vocabularies are separate). The configuration, the
    /// tensors' names and shapes, and the vocabularies are all checked before config.json and the weights
    /// are written; tokenizer files already copied into `output` stay there when a later check fails.
    /// - Parameters:
    ///   - hf: The Hugging Face model folder.
    ///   - output: The model directory to write.
    /// - Returns: The configuration, the dtypes read and the files written.
    /// - Throws: ``ModelError`` for a missing file, a configuration or tensor the engine does not run, or
    ///   weights that disagree with the configuration; ``SafeTensors/Error`` for a damaged weights file;
    ///   ``VocabularyError`` for tokenizer files that do not load or do not fit the model.
    public static func run(from hf: String, to output: String) throws -> Summary {
        try run(from: hf, to: output, config: HuggingFaceImport.readConfig(hf))
    }

    /// The same with the folder's config.json already read (`HuggingFaceImport` reads it to choose the importer).
    static func run(from hf: String, to output: String, config hfConfig: [String: Any]) throws -> Summary {
        let fm = FileManager.default
        let configPath = "\(hf)/config.json"
        let config = try translate(hfConfig, path: configPath)

        let weightsPath = "\(hf)/model.safetensors"
        guard fm.fileExists(atPath: weightsPath) else {
            throw ModelError.badFile(weightsPath, "not found\(HuggingFaceImport.otherWeights(in: hf)); make one with transformers: python -c \"from transformers import MarianMTModel as M; M.from_pretrained('\(hf)').save_pretrained('\(hf)', safe_serialization=True, max_shard_size='100GB')\"")
        }
        for f in [MarianFiles.sourceSPM, MarianFiles.targetSPM, MarianFiles.vocab] where !fm.fileExists(atPath: "\(hf)/\(f)") {
            throw ModelError.badFile("\(hf)/\(f)", "not found; a Marian folder holds source.spm, target.spm and vocab.json beside the weights (download the whole model repository)")
        }
        let file = try SafeTensors(contentsOf: weightsPath)
        // Names and shapes are checked before the model is allocated.
        let sources = try tensorNames(file, layout: ParameterLayout(config), config: config)
        let model = try Transformer(config: config)
        let dtypes = try loadWeights(file, sources: sources, into: model)

        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        // A shared vocabulary has no target_vocab.json in use (MarianTokenizer reads it only with separate_vocabs).
        let separate = hfConfig["share_encoder_decoder_embeddings"] as? Bool == false
        var copied: [String] = []
        for f in tokenizerFiles where fm.fileExists(atPath: "\(hf)/\(f)") && (f != MarianFiles.targetVocab || separate) {
            guard let bytes = fm.contents(atPath: "\(hf)/\(f)") else { throw ModelError.badFile("\(hf)/\(f)", "cannot be read") }
            try writeAtomically(bytes, to: "\(output)/\(f)")
            copied.append(f)
        }
        if separate && !copied.contains(MarianFiles.targetVocab) {
            throw ModelError.badFile("\(hf)/\(MarianFiles.targetVocab)", "not found; the model has separate source and target vocabularies (share_encoder_decoder_embeddings false) and needs it")
        }
        // The vocabularies must load and fit the model before anything else is written.
        _ = try ModelDirectory.loadVocabularies(output, for: config)
        try ModelDirectory.save(model, to: output)
        return Summary(config: config, dtypes: dtypes, files: copied + [ModelDirectory.configFile, ModelDirectory.weightsFile])
    }

    /// Hugging Face's MarianConfig → ours; any variant the engine does not run is an error naming the field.
    static func translate(_ c: [String: Any], path: String) throws -> ModelConfig {
        func fail(_ m: String) -> ModelError { .badFile(path, m) }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = c[key] as? Int { return v }
            if let f = fallback { return f }
            throw fail("missing integer field '\(key)'")
        }
        func flag(_ key: String, _ fallback: Bool) -> Bool { c[key] as? Bool ?? fallback }
        let type = c["model_type"] as? String ?? "(none)"
        guard type == "marian" else {
            throw fail("model_type is '\(type)'; only Marian models (model_type \"marian\", Helsinki-NLP/opus-mt-*) can be imported")
        }
        // Options of the BART family that Marian checkpoints do not use and the engine does not run.
        for (key, meaning) in [("normalize_before", "pre-norm layers"), ("add_final_layer_norm", "a final LayerNorm per stack"),
                               ("normalize_embedding", "a LayerNorm on the embeddings"), ("add_bias_logits", "a bias in the output projection")]
        where flag(key, false) {
            throw fail("\(key) is true (\(meaning)): this Marian variant is not supported")
        }
        if !flag("static_position_embeddings", true) {
            throw fail("static_position_embeddings is false (learned positions): this Marian variant is not supported")
        }
        let activation: Activation
        switch c["activation_function"] as? String ?? "gelu" {
        case "swish", "silu": activation = .silu
        case "relu": activation = .relu
        case "gelu": activation = .gelu
        case let other: throw fail("activation_function '\(other)' is not supported (swish, silu, relu, gelu are)")
        }
        let heads = try int("encoder_attention_heads"), ff = try int("encoder_ffn_dim")
        if try int("decoder_attention_heads") != heads || int("decoder_ffn_dim") != ff {
            throw fail("the encoder and decoder differ in heads or feed-forward width; this toolkit runs one of each per model")
        }
        let shared = flag("share_encoder_decoder_embeddings", true)
        let vocab = try int("vocab_size")
        let targetVocab = shared ? vocab : try int("decoder_vocab_size", vocab)
        let pad = try int("pad_token_id"), eos = c["eos_token_id"] as? Int ?? 0
        guard let start = c["decoder_start_token_id"] as? Int ?? Optional(pad) else { throw fail("no decoder_start_token_id") }
        var config = ModelConfig(
            srcVocabSize: vocab, tgtVocabSize: targetVocab, dModel: try int("d_model"), nHeads: heads, dFF: ff,
            encoderLayers: try int("encoder_layers"), decoderLayers: try int("decoder_layers"),
            maxPositions: try int("max_position_embeddings", 512), positional: .sinusoidal, norm: .post,
            activation: activation, scaleEmbedding: flag("scale_embedding", false), shareEmbeddings: shared,
            tieOutput: flag("tie_word_embeddings", true), layerNormEps: 1e-5,
            dropout: Float(c["dropout"] as? Double ?? 0.1), padId: pad, bosId: start, eosId: eos)
        config.finalLogitsBias = true
        // Fine-tuning's attention dropout, as Hugging Face's (MarianConfig's default: 0).
        config.attentionDropout = Float((c["attention_dropout"] as? NSNumber)?.doubleValue ?? 0)
        if config.encoderLayers < 1 { throw fail("encoder_layers must be at least 1") }
        do { try config.validate() } catch { throw fail("\(error)") }
        return config
    }

    /// The Hugging Face tensor that holds each of our parameters (layout entry name → file name),
    /// each checked for its element count and shape ([1, V] and [V] are the same shape here).
    static func tensorNames(_ file: SafeTensors, layout: ParameterLayout, config c: ModelConfig) throws -> [String: String] {
        var out: [String: String] = [:]
        /// The first of `names` the file holds.
        func find(_ names: [String]) -> String? { names.first { file.tensors[$0] != nil } }
        for e in layout.entries {
            var candidates = ["model.\(e.name)", e.name]
            switch e.name {
            case "encoder.embed_tokens.weight":
                candidates += ["model.shared.weight"]
            case "decoder.embed_tokens.weight":
                candidates += c.shareEmbeddings ? ["model.shared.weight", "model.encoder.embed_tokens.weight"] : []
                if c.tieOutput { candidates += ["lm_head.weight"] }
            case "lm_head.weight":
                candidates = ["lm_head.weight"]
            case "final_logits_bias":
                candidates = ["final_logits_bias", "model.final_logits_bias"]
            default: break
            }
            // transformers loads a missing final_logits_bias as zeros (it is in _keys_to_ignore_on_load_missing).
            if e.name == "final_logits_bias" && find(candidates) == nil { out[e.name] = ""; continue }
            guard let name = find(candidates) else { throw ModelError.missingTensor(file: file.path, name: candidates[0]) }
            let t = file.tensors[name]!
            // final_logits_bias is [1, V] in Hugging Face's files, [V] in ours.
            guard t.count == e.count, t.shape.filter({ $0 != 1 }) == e.shape.filter({ $0 != 1 }) else {
                throw ModelError.shapeMismatch(file: file.path, name: name, expected: e.shape, found: t.shape)
            }
            out[e.name] = name
        }
        return out
    }

    /// Fills the model's parameters from a Hugging Face state dict (`sources` from `tensorNames`);
    /// returns dtype → tensor count.
    static func loadWeights(_ file: SafeTensors, sources: [String: String], into model: Transformer) throws -> [String: Int] {
        defer { model.parametersDidChange() }
        let c = model.config
        var dtypes: [String: Int] = [:]
        var used = Set<String>()
        for e in model.layout.entries {
            let name = sources[e.name]!  // tensorNames maps every entry
            if name.isEmpty { (model.parameters.pointer + e.offset).update(repeating: 0, count: e.count); continue }
            let t = file.tensors[name]!
            try file.readConverting(name, into: model.parameters.pointer + e.offset)
            dtypes[t.dtype.rawValue, default: 0] += 1
            used.insert(name)
        }
        // Aliases of one tied matrix must agree with the copy read; the positions, which transformers
        // builds itself, must be the sinusoids (else this is a variant with learned positions).
        let table = UnsafeBufferPointer(start: model.sinusoid.pointer, count: c.maxPositions * c.dModel)
        for name in file.names where !used.contains(name) {
            let t = file.tensors[name]!
            var values = [Float](repeating: 0, count: t.count)
            try values.withUnsafeMutableBufferPointer { try file.readConverting(name, into: $0.baseAddress!) }
            if name.hasSuffix("embed_positions.weight") {
                let n = min(values.count, table.count)
                if let bad = (0..<n).first(where: { abs(values[$0] - table[$0]) > 1e-3 }) {
                    throw ModelError.badFile(file.path, "tensor '\(name)' differs from the sinusoid table at element \(bad) (learned positions?); this Marian variant is not supported")
                }
                continue
            }
            let twin: String?
            switch name {
            case "model.shared.weight", "model.encoder.embed_tokens.weight", "encoder.embed_tokens.weight":
                twin = c.shareEmbeddings ? "decoder.embed_tokens.weight" : "encoder.embed_tokens.weight"
            case "model.decoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight":
                twin = name == "lm_head.weight" && !c.tieOutput ? "lm_head.weight" : "decoder.embed_tokens.weight"
            default: twin = nil
            }
            guard let twin, let e = model.layout.entry(twin), e.count == values.count else {
                throw ModelError.unexpectedTensor(file: file.path, name: name)
            }
            let p = model.parameters.pointer + e.offset
            if let bad = (0..<e.count).first(where: { values[$0] != p[$0] }) {
                throw ModelError.badFile(file.path, "'\(name)' should be the same matrix as the one read for \(twin) but differs at element \(bad); the configuration's share_encoder_decoder_embeddings / tie_word_embeddings do not match the weights")
            }
        }
        return dtypes
    }
}

extension SafeTensors {
    /// Reads an F32, F16, BF16 or F64 tensor as float32 into `destination` (count elements).
    func readConverting(_ name: String, into destination: FloatPtr) throws {
        let t = try tensor(name)
        let n = t.count
        try data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + t.range.lowerBound
            switch t.dtype {
            case .f32: memcpy(destination, base, n * 4)
            case .f16:
                for i in 0..<n { destination[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                // bfloat16 is the top half of a float32.
                for i in 0..<n { destination[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            case .f64:
                for i in 0..<n { destination[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            default:
                throw Error.tensor(path, name, "dtype \(t.dtype.rawValue); a weight must be F32, F16, BF16 or F64")
            }
        }
    }
}
