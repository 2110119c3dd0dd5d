import Foundation

/// The model contract of MODEL_SPEC.md, mirrored field by field in `config.json` (snake_case keys).
///
/// docs/formats.md lists each field's meaning and constraints; ``validate()`` enforces them, and
/// ``ModelDirectory/loadConfig(_:)`` reads a model directory's config.json.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Where LayerNorm sits in each residual block: `pre` (x + F(LN(x)), with a final LayerNorm per stack)
    /// or `post` (LN(x + F(x))).
    public enum Norm: String, Codable, Sendable, CaseIterable { case pre, post }
    /// How positions are encoded: a fixed sinusoid table, or a learned [max_positions, d_model] table per stack.
    public enum Positional: String, Codable, Sendable, CaseIterable { case sinusoidal, learned }
    /// How model.safetensors stores the matrices: absent for float32; "int8" for per-row int8 weights
    /// with float32 scales (`seq2seq quantize`, Model/Transformer+Quantization.swift).
    public enum Quantization: String, Codable, Sendable, CaseIterable { case int8 }

    /// Source vocabulary size (`src_vocab_size`); 0 (unused) for a decoder-only model.
    public var srcVocabSize: Int
    /// Target vocabulary size (`tgt_vocab_size`), the width V of the logits.
    public var tgtVocabSize: Int
    /// Width d of every hidden state (`d_model`); a multiple of ``nHeads``, even with sinusoidal positions.
    public var dModel: Int
    /// Attention heads (`n_heads`); each head has width ``headDim``.
    public var nHeads: Int
    /// Hidden width of the feed-forward layers (`d_ff`).
    public var dFF: Int
    /// Encoder depth (`encoder_layers`); 0 makes a decoder-only (GPT) model.
    public var encoderLayers: Int
    /// Decoder depth (`decoder_layers`), at least 1.
    public var decoderLayers: Int
    /// The longest sequence the model takes, in tokens (`max_positions`), for the source and the target alike.
    public var maxPositions: Int
    /// How positions are encoded (`positional`).
    public var positional: Positional
    /// Pre-norm or post-norm residual blocks (`norm`).
    public var norm: Norm
    /// The feed-forward non-linearity (`activation`).
    public var activation: Activation
    /// Whether token embeddings are multiplied by √d_model (`scale_embedding`).
    public var scaleEmbedding: Bool
    /// Whether the encoder uses the decoder's token table (`share_embeddings`; needs equal vocabulary sizes).
    public var shareEmbeddings: Bool
    /// Whether the output projection is the decoder's token table (`tie_output`) rather than `lm_head.weight`.
    public var tieOutput: Bool
    /// ε of every LayerNorm (`layer_norm_eps`).
    public var layerNormEps: Float
    /// Dropout rate during training (`dropout`, in [0, 1)) on the embedded input and on each sublayer's
    /// output before its residual add; never applied at inference.
    public var dropout: Float
    /// Dropout rate on the attention probabilities during training (`attention_dropout`, in [0, 1),
    /// Hugging Face's and fairseq's name); nil (absent from config.json) means ``dropout``, the spec's
    /// rule. See ``attentionDropoutRate``.
    public var attentionDropout: Float? = nil
    /// The padding token's id (`pad_id`); padded positions are masked and not scored.
    public var padId: Int
    /// The id decoding starts from (`bos_id`).
    public var bosId: Int
    /// The end-of-sequence id (`eos_id`): sources end with it, and decoding stops at it.
    public var eosId: Int
    /// How the weights file stores the matrices (`quantization`); nil for float32.
    public var quantization: Quantization? = nil
    /// A learned bias added to the logits (`final_logits_bias` [V_tgt], Hugging Face's Marian/BART
    /// name); absent (nil) means none, as the spec's models.
    public var finalLogitsBias: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case srcVocabSize = "src_vocab_size", tgtVocabSize = "tgt_vocab_size", dModel = "d_model"
        case nHeads = "n_heads", dFF = "d_ff", encoderLayers = "encoder_layers", decoderLayers = "decoder_layers"
        case maxPositions = "max_positions", positional, norm, activation, scaleEmbedding = "scale_embedding"
        case shareEmbeddings = "share_embeddings", tieOutput = "tie_output", layerNormEps = "layer_norm_eps"
        case dropout, padId = "pad_id", bosId = "bos_id", eosId = "eos_id", quantization
        case finalLogitsBias = "final_logits_bias", attentionDropout = "attention_dropout"
    }

    /// A configuration from its fields; the defaults are the `small` translation preset (d 256, 4 heads,
    /// d_ff 1024, 3 + 3 layers, 8000-token vocabularies). Not validated here: see ``validate()``.
    public init(
        srcVocabSize: Int = 8000, tgtVocabSize: Int = 8000, dModel: Int = 256, nHeads: Int = 4, dFF: Int = 1024,
        encoderLayers: Int = 3, decoderLayers: Int = 3, maxPositions: Int = 1024,
        positional: Positional = .sinusoidal, norm: Norm = .pre, activation: Activation = .relu,
        scaleEmbedding: Bool = true, shareEmbeddings: Bool = false, tieOutput: Bool = true,
        layerNormEps: Float = 1e-5, dropout: Float = 0.1, attentionDropout: Float? = nil, padId: Int = 0, bosId: Int = 1,
        eosId: Int = 2
    ) {
        self.srcVocabSize = srcVocabSize; self.tgtVocabSize = tgtVocabSize; self.dModel = dModel
        self.nHeads = nHeads; self.dFF = dFF; self.encoderLayers = encoderLayers; self.decoderLayers = decoderLayers
        self.maxPositions = maxPositions; self.positional = positional; self.norm = norm
        self.activation = activation; self.scaleEmbedding = scaleEmbedding; self.shareEmbeddings = shareEmbeddings
        self.tieOutput = tieOutput; self.layerNormEps = layerNormEps; self.dropout = dropout
        self.attentionDropout = attentionDropout
        self.padId = padId; self.bosId = bosId; self.eosId = eosId
    }

    /// The ids decoding never produces: pad and bos, except the one that is also eos (GPT-2's
    /// `<|endoftext|>` is its bos, eos and padding at once, and ends a text like any eos).
    public var neverGenerated: [Int] { [padId, bosId].filter { $0 != eosId } }

    /// The dropout rate on attention probabilities in training: ``attentionDropout``, or ``dropout`` when
    /// that is not set.
    public var attentionDropoutRate: Float { attentionDropout ?? dropout }

    /// Decoder-only (GPT) when there is no encoder.
    public var isDecoderOnly: Bool { encoderLayers == 0 }
    /// The width of one attention head, d_model / n_heads.
    public var headDim: Int { dModel / nHeads }

    /// Checks the configuration is one the spec allows; the message says which field to change.
    /// - Throws: ``ModelError/invalidConfig(_:)`` for the first field out of range (including sizes too
    ///   large to allocate: more than 2^32 parameters).
    public func validate() throws {
        func fail(_ message: String) -> ModelError { .invalidConfig(message) }
        if dModel <= 0 || nHeads <= 0 || dModel % nHeads != 0 {
            throw fail("d_model (\(dModel)) must be a positive multiple of n_heads (\(nHeads))")
        }
        if positional == .sinusoidal && dModel % 2 != 0 {
            throw fail("sinusoidal positions need an even d_model (got \(dModel))")
        }
        if dFF <= 0 { throw fail("d_ff must be positive (got \(dFF))") }
        if decoderLayers <= 0 { throw fail("decoder_layers must be at least 1 (got \(decoderLayers))") }
        if encoderLayers < 0 { throw fail("encoder_layers must be 0 (decoder-only) or more (got \(encoderLayers))") }
        if tgtVocabSize <= max(padId, bosId, eosId) {
            throw fail("tgt_vocab_size (\(tgtVocabSize)) must exceed the special token ids")
        }
        if !isDecoderOnly && srcVocabSize <= max(padId, bosId, eosId) {
            throw fail("src_vocab_size (\(srcVocabSize)) must exceed the special token ids")
        }
        if shareEmbeddings && !isDecoderOnly && srcVocabSize != tgtVocabSize {
            throw fail("share_embeddings needs equal vocabularies (src \(srcVocabSize), tgt \(tgtVocabSize))")
        }
        if maxPositions <= 0 { throw fail("max_positions must be positive") }
        if !(0..<1).contains(dropout) { throw fail("dropout must be in [0, 1) (got \(dropout))") }
        if !(layerNormEps > 0) || !layerNormEps.isFinite { throw fail("layer_norm_eps must be positive") }
        // Absurd sizes are refused before anything is allocated.
        if dModel > 65_536 || nHeads > dModel || dFF > 1 << 20 { throw fail("d_model ≤ 65536, n_heads ≤ d_model and d_ff ≤ 1048576 (got \(dModel), \(nHeads), \(dFF))") }
        if encoderLayers > 256 || decoderLayers > 256 { throw fail("at most 256 layers per stack (got \(encoderLayers) + \(decoderLayers))") }
        if maxPositions > 1 << 20 { throw fail("max_positions must be at most 1048576 (got \(maxPositions))") }
        if srcVocabSize < 0 || srcVocabSize > 1 << 24 || tgtVocabSize > 1 << 24 {
            throw fail("vocabulary sizes must be between 0 and 16777216 (got \(srcVocabSize), \(tgtVocabSize))")
        }
        for (name, id) in [("pad_id", padId), ("bos_id", bosId), ("eos_id", eosId)] where id < 0 || id >= tgtVocabSize || (!isDecoderOnly && id >= srcVocabSize) {
            throw fail("\(name) \(id) must be a token id of the vocabulary (0..<\(tgtVocabSize))")
        }
        if !dropout.isFinite { throw fail("dropout must be finite") }
        if let a = attentionDropout, !(0..<1).contains(a) { throw fail("attention_dropout must be in [0, 1) (got \(a))") }
        // Parameters ≤ 2^32 floats (16 GB), computed without overflow from the bounds above.
        let perLayer = 4 * dModel * dModel + 2 * dModel * dFF
        let total = (encoderLayers + 2 * decoderLayers) * perLayer + (srcVocabSize + 2 * tgtVocabSize + maxPositions) * dModel
        if total > 1 << 32 { throw fail("about \(total) parameters: more than this toolkit allocates (4,294,967,296)") }
    }

    /// config.json's bytes: snake_case keys, sorted, pretty-printed.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// Decodes and validates config.json's bytes; `source` names them in errors.
    /// - Throws: ``ModelError/badFile(_:_:)`` naming `source`, for JSON that is not a configuration (which key
    ///   is missing or of the wrong type) or a configuration that fails ``validate()``.
    public static func decode(_ data: Data, source: String) throws -> ModelConfig {
        do {
            let c = try JSONDecoder().decode(ModelConfig.self, from: data)
            try c.validate()
            return c
        } catch let e as ModelError {
            throw ModelError.badFile(source, "\(e)")
        } catch {
            throw ModelError.badFile(source, "not a valid model configuration: \(describeDecodingError(error))")
        }
    }
}

/// Errors of the model layer; each message names the file or field and what to do.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// A configuration field is out of range (from ``ModelConfig/validate()``).
    case invalidConfig(String)
    /// A file (or directory) cannot be used (path, reason).
    case badFile(String, String)
    /// The weights file lacks a tensor the configuration implies.
    case missingTensor(file: String, name: String)
    /// The weights file holds a tensor the configuration does not have.
    case unexpectedTensor(file: String, name: String)
    /// A tensor's shape differs from the one the configuration implies.
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    /// An input or request the model cannot serve, the message says which: ids outside the vocabulary, a
    /// sequence longer than max_positions, the wrong kind of model (encoder-decoder or decoder-only), an int8
    /// model where a float one is needed, bf16 without the processor for it.
    case invalidInput(String)

    /// The message, naming the file, tensor or field.
    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid model configuration: \(m)"
        case .badFile(let f, let m): return "\(f): \(m)"
        case .missingTensor(let f, let n): return "\(f): tensor '\(n)' is missing; the file does not match config.json"
        case .unexpectedTensor(let f, let n):
            return "\(f): unexpected tensor '\(n)'; the file does not match config.json"
        case .shapeMismatch(let f, let n, let e, let s):
            return "\(f): tensor '\(n)' has shape \(s), config.json implies \(e)"
        case .invalidInput(let m): return m
        }
    }
}

/// A short human reading of a JSONDecoder error (which key, what was wrong).
func describeDecodingError(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
    switch e {
    case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
    case .typeMismatch(_, let ctx): return "field '\(path(ctx))' has the wrong type"
    case .valueNotFound(_, let ctx): return "field '\(path(ctx))' is null"
    case .dataCorrupted(let ctx):
        return path(ctx).isEmpty ? "malformed JSON" : "field '\(path(ctx))': \(ctx.debugDescription)"
    @unknown default: return "\(error)"
    }
}
