import Foundation

extension Transformer {
    /// Loads every parameter by its spec name, strictly: a missing tensor, a wrong dtype or shape,
    /// or (unless `allowExtra` accepts it) a tensor the configuration does not have is an error.
    public func loadWeights(from file: SafeTensors, allowExtra: (String) -> Bool = { _ in false }) throws {
        for e in layout.entries {
            guard let t = file.tensors[e.name] else { throw ModelError.missingTensor(file: file.path, name: e.name) }
            guard t.shape == e.shape else {
                throw ModelError.shapeMismatch(file: file.path, name: e.name, expected: e.shape, found: t.shape)
            }
            try file.readFloats(e.name, shape: e.shape, into: parameters.pointer + e.offset)
        }
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

    public static func load(_ dir: String, weightsFile: String = weightsFile) throws -> Transformer {
        let model = try Transformer(config: loadConfig(dir))
        try model.loadWeights(from: SafeTensors(contentsOf: "\(dir)/\(weightsFile)"))
        return model
    }
}
