import Foundation

/// The model contract of MODEL_SPEC.md, mirrored field by field in `config.json` (snake_case keys).
public struct ModelConfig: Codable, Equatable, Sendable {
    public enum Norm: String, Codable, Sendable, CaseIterable { case pre, post }
    public enum Positional: String, Codable, Sendable, CaseIterable { case sinusoidal, learned }
    /// How model.safetensors stores the matrices: absent for float32; "int8" for per-row int8 weights
    /// with float32 scales (`seq2seq quantize`, Model/Transformer+Quantization.swift).
    public enum Quantization: String, Codable, Sendable, CaseIterable { case int8 }

    public var srcVocabSize: Int
    public var tgtVocabSize: Int
    public var dModel: Int
    public var nHeads: Int
    public var dFF: Int
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var maxPositions: Int
    public var positional: Positional
    public var norm: Norm
    public var activation: Activation
    public var scaleEmbedding: Bool
    public var shareEmbeddings: Bool
    public var tieOutput: Bool
    public var layerNormEps: Float
    public var dropout: Float
    public var padId: Int
    public var bosId: Int
    public var eosId: Int
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
        case finalLogitsBias = "final_logits_bias"
    }

    public init(
        srcVocabSize: Int = 8000, tgtVocabSize: Int = 8000, dModel: Int = 256, nHeads: Int = 4, dFF: Int = 1024,
        encoderLayers: Int = 3, decoderLayers: Int = 3, maxPositions: Int = 1024,
        positional: Positional = .sinusoidal, norm: Norm = .pre, activation: Activation = .relu,
        scaleEmbedding: Bool = true, shareEmbeddings: Bool = false, tieOutput: Bool = true,
        layerNormEps: Float = 1e-5, dropout: Float = 0.1, padId: Int = 0, bosId: Int = 1, eosId: Int = 2
    ) {
        self.srcVocabSize = srcVocabSize; self.tgtVocabSize = tgtVocabSize; self.dModel = dModel
        self.nHeads = nHeads; self.dFF = dFF; self.encoderLayers = encoderLayers; self.decoderLayers = decoderLayers
        self.maxPositions = maxPositions; self.positional = positional; self.norm = norm
        self.activation = activation; self.scaleEmbedding = scaleEmbedding; self.shareEmbeddings = shareEmbeddings
        self.tieOutput = tieOutput; self.layerNormEps = layerNormEps; self.dropout = dropout
        self.padId = padId; self.bosId = bosId; self.eosId = eosId
    }

    /// Decoder-only (GPT) when there is no encoder.
    public var isDecoderOnly: Bool { encoderLayers == 0 }
    public var headDim: Int { dModel / nHeads }

    /// The named presets of `seq2seq train --preset` and `seq2seq bench train`.
    public static func preset(_ name: String) -> ModelConfig? {
        switch name {
        case "small": return ModelConfig()
        case "base": return ModelConfig(dModel: 512, nHeads: 8, dFF: 2048, encoderLayers: 6, decoderLayers: 6)
        default: return nil
        }
    }
    public static let presetNames = ["small", "base"]

    /// Checks the configuration is one the spec allows; the message says which field to change.
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
        // Parameters ≤ 2^32 floats (16 GB), computed without overflow from the bounds above.
        let perLayer = 4 * dModel * dModel + 2 * dModel * dFF
        let total = (encoderLayers + 2 * decoderLayers) * perLayer + (srcVocabSize + 2 * tgtVocabSize + maxPositions) * dModel
        if total > 1 << 32 { throw fail("about \(total) parameters: more than this toolkit allocates (4,294,967,296)") }
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

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
    case invalidConfig(String)
    case badFile(String, String)
    case missingTensor(file: String, name: String)
    case unexpectedTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    case invalidInput(String)

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
