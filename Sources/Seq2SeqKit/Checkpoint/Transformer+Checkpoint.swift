import Foundation

extension Transformer {
    /// Loads every parameter by its spec name, strictly: a missing tensor, a wrong dtype or shape,
    /// or (unless `allowExtra` accepts it) a tensor the configuration does not have is an error.
    public func loadWeights(from file: SafeTensors, allowExtra: (String) -> Bool = { _ in false }) throws {
        try layout.check(file)
        for e in layout.entries { try file.readFloats(e.name, shape: e.shape, into: parameters.pointer + e.offset) }
        for name in file.names where layout.entry(name) == nil && !allowExtra(name) {
            throw ModelError.unexpectedTensor(file: file.path, name: name)
        }
    }

    /// The parameters as safetensors entries, in layout order, with the spec's names.
    public func weightEntries(from buffer: FloatBuffer? = nil, prefix: String = "") -> [SafeTensors.Entry] {
        let base = (buffer ?? parameters).pointer
        return layout.entries.map { .f32(prefix + $0.name, $0.shape, base + $0.offset) }
    }

    /// Writes model.safetensors (atomically) in the spec's names, loadable with safetensors.torch.load_file.
    public func saveWeights(to path: String) throws {
        try SafeTensors.write(weightEntries(), metadata: ["format": "pt"], to: path)
    }
}

extension ParameterLayout {
    /// Every tensor of the layout is in `file` with its shape (checked before anything is allocated or read).
    public func check(_ file: SafeTensors) throws {
        for e in entries {
            guard let t = file.tensors[e.name] else { throw ModelError.missingTensor(file: file.path, name: e.name) }
            guard t.shape == e.shape else {
                throw ModelError.shapeMismatch(file: file.path, name: e.name, expected: e.shape, found: t.shape)
            }
        }
    }
}

/// A model directory: `config.json` (the spec's configuration) and `model.safetensors`.
public enum ModelDirectory {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"

    public static func save(_ model: Transformer, to dir: String, weightsFile: String = weightsFile) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeAtomically(model.config.jsonData(), to: "\(dir)/\(configFile)")
        try model.saveWeights(to: "\(dir)/\(weightsFile)")
    }

    public static func loadConfig(_ dir: String) throws -> ModelConfig {
        let path = "\(dir)/\(configFile)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.badFile(path, "not found; is '\(dir)' a model directory (config.json + model.safetensors)?")
        }
        return try ModelConfig.decode(data, source: path)
    }

    /// Loads config.json and the weights. Every tensor's name and shape is checked against what
    /// config.json implies before the model is allocated, so a config.json out of step with its
    /// weights (or claiming an absurd size) is an error naming both files, not an allocation.
    public static func load(_ dir: String, weightsFile: String = weightsFile) throws -> Transformer {
        let config = try loadConfig(dir)
        let file = try SafeTensors(contentsOf: "\(dir)/\(weightsFile)")
        do { try ParameterLayout(config).check(file) } catch {
            throw ModelError.badFile("\(dir)/\(configFile)", "\(error); config.json and the weights are from different models")
        }
        let model = try Transformer(config: config)
        try model.loadWeights(from: file)
        return model
    }

    /// The model directory's vocabulary, checked against the model: every id it can produce must be
    /// one of the model's tokens.
    public static func loadVocabularies(_ dir: String, for config: ModelConfig) throws -> Vocabularies {
        let v = try Vocabularies.load(from: dir)
        if v.target.count > config.tgtVocabSize || (!config.isDecoderOnly && v.source.count > config.srcVocabSize) {
            throw ModelError.badFile(dir, "the vocabulary has \(v.source.count)/\(v.target.count) entries but the model only \(config.srcVocabSize)/\(config.tgtVocabSize) tokens; the tokenizer files are not this model's")
        }
        return v
    }
}
