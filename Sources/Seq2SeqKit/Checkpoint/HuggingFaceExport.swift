import Foundation

/// What `seq2seq export` wrote.
public struct ExportSummary: Sendable {
    /// The transformers class the folder loads as: `MarianMTModel`, `PegasusForConditionalGeneration`
    /// or `GPT2LMHeadModel`.
    public var architecture: String
    /// The configuration exported.
    public var config: ModelConfig
    /// The files written into the output folder (relative paths).
    public var files: [String]
}

/// `seq2seq export --format huggingface`: a model directory → a Hugging Face folder that transformers
/// loads with `AutoModelForSeq2SeqLM` (or `AutoModelForCausalLM`) and `AutoTokenizer`, computing what
/// this model computes, and that `ct2-transformers-converter` takes on to CTranslate2.
///
/// Each configuration goes to the transformers class that computes exactly the spec's forward pass:
/// - a **post-norm** encoder-decoder (an imported OPUS-MT model, `train --norm post`) → `MarianMTModel`:
///   LN(x + F(x)) layers, the sinusoid table transformers builds itself, embeddings scaled by √d or not,
///   shared or separate vocabularies, `final_logits_bias`;
/// - a **pre-norm** encoder-decoder (the training default) → `PegasusForConditionalGeneration`: x + F(LN(x))
///   layers with a final LayerNorm per stack, the same sinusoid table (stored in the file), one token
///   table for both stacks (a joint vocabulary);
/// - a **decoder-only** model → `GPT2LMHeadModel`: pre-norm layers with a final LayerNorm, unscaled
///   embeddings, the position table (learned, or the sinusoids written out as one), linear layers
///   stored as GPT-2's transposed `Conv1D` with q, k and v fused.
///
/// A configuration that none of them represents (learned positions in an encoder-decoder, a pre-norm
/// model with separate vocabularies, a LayerNorm ε other than 1e-5 where transformers fixes it,
/// an int8 model) is refused with a message naming what does not fit. The tokenizer goes with the
/// weights: an imported Marian model's SentencePiece files as they came; our BPE and character
/// vocabularies as tokenizer.json (already Hugging Face's format) with a post-processor appending
/// `</s>` to sources; GPT-2's byte-level BPE as its tokenizer.json. generation_config.json holds the
/// start token and the tokens decoding never produces (`bad_words_ids`), so that `generate` decodes as
/// `seq2seq translate` and `generate` do.
public enum HuggingFaceExport {
    /// Writes the model directory `dir` (its config.json, the weights file `weightsFile` and the
    /// vocabulary) as the Hugging Face folder `output` (created if needed; files of the same names are
    /// replaced).
    ///
    /// Everything is checked before the first file is written.
    /// - Parameters:
    ///   - dir: The model directory (float32; an int8 one is refused).
    ///   - weightsFile: The weights' file name inside `dir`, for example an averaged checkpoint.
    ///   - output: The folder to write.
    /// - Returns: The class the folder loads as, the configuration, and the files written.
    /// - Throws: ``ModelError/badFile(_:_:)`` naming `dir`'s config.json when no transformers class
    ///   represents the model, and the errors of ``ModelDirectory/load(_:weightsFile:)`` and
    ///   ``ModelDirectory/loadVocabularies(_:for:)``; ``SafeTensors/Error/io(_:_:)`` when a file cannot be written.
    public static func run(model dir: String, weightsFile: String = ModelDirectory.weightsFile, to output: String) throws -> ExportSummary {
        let config = try ModelDirectory.loadConfig(dir)
        let architecture = try HuggingFaceArchitecture(config, configPath: "\(dir)/\(ModelDirectory.configFile)")
        let vocabularies = try ModelDirectory.loadVocabularies(dir, for: config)
        let model = try ModelDirectory.load(dir, weightsFile: weightsFile)
        let tensors: [SafeTensors.Entry]
        let hfConfig: [String: Any]
        switch architecture {
        case .gpt2:
            tensors = GPT2Export.tensors(model)
            hfConfig = GPT2Export.config(config)
        case .marian, .pegasus:
            tensors = EncoderDecoderExport.tensors(model, architecture: architecture)
            hfConfig = EncoderDecoderExport.config(config, architecture: architecture)
        }
        var files: [String: Data] = [:]
        try files.merge(tokenizerFiles(vocabularies, config: config, modelDir: dir)) { a, _ in a }
        if files["generation_config.json"] == nil {
            files["generation_config.json"] = try json(generationConfig(config))
        }
        files["config.json"] = try json(hfConfig)

        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: "\(output)/model.safetensors")
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            let path = "\(output)/\(name)"
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try writeAtomically(data, to: path)
        }
        return ExportSummary(architecture: architecture.rawValue, config: config, files: ["model.safetensors"] + files.keys.sorted())
    }

    /// Pretty-printed JSON with sorted keys (the same model always gives the same bytes).
    static func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// `x` as the shortest decimal that reads back as it (1e-05 and 0.1, not 9.99999974737875e-06).
    static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    /// transformers' name of each activation (Marian checkpoints spell SiLU "swish").
    static func activationName(_ a: Activation, marian: Bool = false) -> String {
        switch a {
        case .relu: return "relu"
        case .gelu: return "gelu"
        case .geluTanh: return "gelu_new"
        case .silu: return marian ? "swish" : "silu"
        }
    }

    /// generation_config.json: the start token, eos and padding, and `bad_words_ids` for the tokens
    /// decoding never produces (``ModelConfig/neverGenerated``), so that `generate` never picks them either.
    static func generationConfig(_ c: ModelConfig) -> [String: Any] {
        var g: [String: Any] = ["eos_token_id": c.eosId, "pad_token_id": c.padId, "max_length": c.maxPositions]
        if c.isDecoderOnly {
            g["bos_token_id"] = c.bosId
        } else {
            g["decoder_start_token_id"] = c.bosId
            g["forced_eos_token_id"] = NSNull()
        }
        let never = Array(Set(c.neverGenerated)).sorted()
        if !never.isEmpty { g["bad_words_ids"] = never.map { [$0] } }
        return g
    }

    /// The tokenizer's files: file name (relative to the folder) → bytes.
    static func tokenizerFiles(_ v: Vocabularies, config c: ModelConfig, modelDir dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        if v.source.sentencePiece != nil {
            // An imported Marian model: MarianTokenizer's files, as `import` copied them.
            for name in MarianImport.tokenizerFiles {
                let path = "\(dir)/\(name)"
                guard FileManager.default.fileExists(atPath: path) else { continue }
                guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.badFile(path, "cannot be read") }
                files[name] = data
            }
            return files
        }
        if let bl = v.target.byteLevel {
            // GPT-2's byte-level BPE: `<|endoftext|>` (or the configuration's tokens) as bos, eos and padding.
            files["tokenizer.json"] = try bl.jsonData()
            let piece = { (id: Int) in id < v.target.count ? v.target.pieces[id] : "<|endoftext|>" }
            files["tokenizer_config.json"] = try json([
                "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c.maxPositions,
                "bos_token": piece(c.bosId), "eos_token": piece(c.eosId), "unk_token": piece(c.eosId), "pad_token": piece(c.padId),
                "add_prefix_space": false, "clean_up_tokenization_spaces": false,
            ] as [String: Any])
            return files
        }
        // Our BPE or character vocabulary: its tokenizer.json is Hugging Face's format already. Sources
        // end with </s> (the encoder is trained so); a language model's prompt gets nothing added.
        func piece(_ kind: String, _ id: String) -> [String: Any] { [kind: ["id": id, "type_id": 0] as [String: Any]] }
        let eos: [String: Any] = ["id": "</s>", "ids": [Int(Vocabulary.eosId)], "tokens": ["</s>"]]
        let appendEOS: [String: Any]? = c.isDecoderOnly ? nil : [
            "type": "TemplateProcessing",
            "single": [piece("Sequence", "A"), piece("SpecialToken", "</s>")],
            "pair": [piece("Sequence", "A"), piece("Sequence", "B"), piece("SpecialToken", "</s>")],
            "special_tokens": ["</s>": eos],
        ]
        // unk: the byte fallback leaves no unknown text, but CTranslate2's converter needs an unk token
        // of the vocabulary; padding serves (it is never produced).
        let tokenizerConfig = try json([
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c.maxPositions,
            "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<pad>",
            "clean_up_tokenization_spaces": false,
        ] as [String: Any])
        files["tokenizer.json"] = try v.source.tokenizerData(postProcessor: appendEOS, path: "tokenizer.json")
        files["tokenizer_config.json"] = tokenizerConfig
        if !v.joint {
            // Separate vocabularies: AutoTokenizer.from_pretrained(folder) encodes sources, and
            // AutoTokenizer.from_pretrained(folder + "/target_tokenizer") encodes targets and decodes outputs.
            files["\(targetTokenizerFolder)/tokenizer.json"] = try v.target.tokenizerData(postProcessor: appendEOS, path: "tokenizer.json")
            files["\(targetTokenizerFolder)/tokenizer_config.json"] = tokenizerConfig
        }
        return files
    }

    /// The subfolder with the target side's tokenizer when a model has separate vocabularies.
    public static let targetTokenizerFolder = "target_tokenizer"
}

extension Transformer {
    /// Our parameter `name` as an F32 tensor called `hfName` (its values copied now).
    func exportEntry(_ hfName: String, _ name: String) -> SafeTensors.Entry {
        let e = layout.entry(name)!
        return .f32(hfName, e.shape, parameters.pointer + e.offset)
    }
}

/// The transformers class a configuration exports as, chosen by ``init(_:configPath:)``.
enum HuggingFaceArchitecture: String {
    case marian = "MarianMTModel", pegasus = "PegasusForConditionalGeneration", gpt2 = "GPT2LMHeadModel"

    /// The class that represents `c` exactly, or an error naming what does not fit.
    init(_ c: ModelConfig, configPath: String) throws {
        func refuse(_ why: String) -> ModelError {
            .badFile(configPath, "cannot be exported to Hugging Face: \(why)")
        }
        if let q = c.quantization {
            throw refuse("the model is \(q.rawValue) (seq2seq quantize); export the float32 model it was made from (ct2-transformers-converter --quantization int8 quantizes for CTranslate2)")
        }
        if c.isDecoderOnly {
            if c.norm == .post { throw refuse("GPT-2's layers are pre-norm and this language model's are post-norm; no transformers class runs a post-norm decoder-only model") }
            if c.scaleEmbedding { throw refuse("GPT-2 does not scale token embeddings by √d_model and this model does (scale_embedding true)") }
            if c.finalLogitsBias == true { throw refuse("GPT-2 has no bias on the logits and this model has final_logits_bias") }
            self = .gpt2
            return
        }
        if c.positional == .learned {
            throw refuse("the encoder-decoder classes that match the spec (Marian, Pegasus) use sinusoidal positions and this model learned its own (positional learned); train with sinusoidal positions to export")
        }
        if c.layerNormEps != 1e-5 {
            throw refuse("Marian's and Pegasus's LayerNorms have ε 1e-5 and this model's layer_norm_eps is \(c.layerNormEps)")
        }
        if c.norm == .post {
            self = .marian
            return
        }
        if !c.shareEmbeddings {
            throw refuse("pre-norm encoder-decoder models export as Pegasus, whose encoder and decoder share one token table, and this model has separate ones (share_embeddings false); train with a joint vocabulary (the default) or with --norm post (Marian takes separate vocabularies)")
        }
        self = .pegasus
    }
}
