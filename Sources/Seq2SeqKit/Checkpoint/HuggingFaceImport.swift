import Foundation

/// What `seq2seq import` imported.
public struct ImportSummary: Sendable {
    /// The model configuration translated from the Hugging Face config.json (and written as ours).
    public var config: ModelConfig
    /// dtype → number of tensors read in it.
    public var dtypes: [String: Int]
    /// The file names written into the output directory.
    public var files: [String]
}

/// `seq2seq import`: a Hugging Face model folder → our model directory, by its config.json's
/// `model_type`: `marian` (``MarianImport``) or `gpt2` (``GPT2Import``).
public enum HuggingFaceImport {
    /// The model types `run(from:to:)` imports.
    public static let supportedTypes = ["marian", "gpt2"]

    /// Imports the Hugging Face folder `hf` into the model directory `output`.
    /// - Throws: ``ModelError/badFile(_:_:)`` when `hf` is not a folder with a readable config.json, or its
    ///   model type is not one of ``supportedTypes`` (the message names what the architecture has that
    ///   the engine does not run); then the errors of the importer of its type.
    public static func run(from hf: String, to output: String) throws -> ImportSummary {
        let config = try readConfig(hf)
        let type = config["model_type"] as? String ?? "(none)"
        switch type {
        case "marian": return try MarianImport.run(from: hf, to: output, config: config)
        case "gpt2": return try GPT2Import.run(from: hf, to: output, config: config)
        default:
            let missing: String
            switch type {
            case "gpt_neo": missing = "GPT-Neo's local-attention layers"
            case "gptj", "gpt_neox", "codegen": missing = "rotary positions and parallel attention and feed-forward blocks"
            case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3": missing = "RMSNorm, rotary positions, gated (SwiGLU) feed-forward layers and grouped-query attention"
            case "opt": missing = "OPT's ReLU layers with learned positions offset by 2"
            case "bart", "mbart", "m2m_100", "fsmt", "t5", "mt5": missing = "its encoder-decoder variant (only Marian's is imported)"
            default: missing = "an architecture this importer does not know"
            }
            throw ModelError.badFile("\(hf)/config.json", "model_type is '\(type)': it needs \(missing), which seq2seq does not run; \(supportedTypes.joined(separator: " and ")) models can be imported")
        }
    }

    /// The folder's config.json as a JSON object.
    /// - Throws: ``ModelError/badFile(_:_:)`` when `hf` is not a folder, or its config.json is missing or not a JSON object.
    static func readConfig(_ hf: String) throws -> [String: Any] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: hf, isDirectory: &isDir), isDir.boolValue else {
            throw ModelError.badFile(hf, "not a folder; give the Hugging Face model folder (config.json, model.safetensors and the tokenizer files)")
        }
        let configPath = "\(hf)/config.json"
        guard let data = fm.contents(atPath: configPath) else {
            throw ModelError.badFile(configPath, "not found; is '\(hf)' a Hugging Face model folder?")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.badFile(configPath, "not valid JSON")
        }
        return config
    }

    /// " (it holds pytorch_model.bin, ...)" when the folder has weights in another format, else "".
    static func otherWeights(in hf: String) -> String {
        let other = ["pytorch_model.bin", "tf_model.h5", "model.safetensors.index.json"].filter { FileManager.default.fileExists(atPath: "\(hf)/\($0)") }
        return other.isEmpty ? "" : " (it holds \(other.joined(separator: ", ")))"
    }
}
