import Foundation

extension Transformer {
    /// Loads every parameter by its spec name, strictly: a missing tensor, a wrong dtype or shape,
    /// or (unless `allowExtra` accepts it) a tensor the configuration does not have is an error.
    /// An int8 configuration reads its matrices as I8 with F32 per-row scales (`NAME_scale`).
    /// - Parameters:
    ///   - file: The opened model.safetensors (or checkpoint).
    ///   - allowExtra: Returns true for names of tensors the file may hold beyond the model's (ignored).
    /// - Throws: ``ModelError/missingTensor(file:name:)`` or ``ModelError/shapeMismatch(file:name:expected:found:)``
    ///   (checked before anything is read), ``SafeTensors/Error`` for a wrong dtype or a bad scale, and
    ///   ``ModelError/unexpectedTensor(file:name:)`` for an extra tensor. After a dtype or extra-tensor
    ///   error the parameters may be partly overwritten.
    public func loadWeights(from file: SafeTensors, allowExtra: (String) -> Bool = { _ in false }) throws {
        try layout.check(file)
        defer { parametersDidChange() }
        let int8 = config.quantization == .int8
        let quantizedNames = int8 ? Set(layout.quantizedEntries.map(\.name)) : []
        var q: [Int: QuantizedMatrix] = [:]
        for e in layout.entries {
            if quantizedNames.contains(e.name) {
                q[e.offset] = try file.readQuantized(e.name, rows: e.shape[0], columns: e.shape[1])
            } else {
                try file.readFloats(e.name, shape: e.shape, into: parameters.pointer + e.offset)
            }
        }
        let scales = Set(quantizedNames.map(ParameterLayout.scaleName))
        for name in file.names where layout.entry(name) == nil && !scales.contains(name) && !allowExtra(name) {
            throw ModelError.unexpectedTensor(file: file.path, name: name)
        }
        for e in layout.quantizedEntries { if let m = q[e.offset] { installQuantized(m, for: e) } }
        quantized = q
    }

    /// The parameters as safetensors entries, in layout order, with the spec's names; an int8
    /// model's matrices as I8 with their F32 scales.
    /// - Parameters:
    ///   - buffer: Values to write instead of ``Transformer/parameters``, laid out as ``Transformer/layout``
    ///     (for example averaged weights); all of them are written as F32, even for an int8 model.
    ///   - prefix: Prepended to every tensor name.
    public func weightEntries(from buffer: FloatBuffer? = nil, prefix: String = "") -> [SafeTensors.Entry] {
        let base = (buffer ?? parameters).pointer
        return layout.entries.flatMap { e -> [SafeTensors.Entry] in
            if buffer == nil, let m = quantized[e.offset] {
                return [.i8(prefix + e.name, e.shape, m.denseValues()),
                        .f32(prefix + ParameterLayout.scaleName(e.name), [m.rows], m.scales)]
            }
            return [.f32(prefix + e.name, e.shape, base + e.offset)]
        }
    }

    /// Writes model.safetensors (atomically) in the spec's names, loadable with safetensors.torch.load_file.
    /// - Throws: ``SafeTensors/Error/io(_:_:)`` if the file cannot be written or renamed into place.
    public func saveWeights(to path: String) throws {
        try SafeTensors.write(weightEntries(), metadata: ["format": "pt"], to: path)
    }
}

extension SafeTensors {
    /// An I8 matrix [rows, columns] and its F32 scales [rows] (finite, not negative).
    func readQuantized(_ name: String, rows: Int, columns: Int) throws -> QuantizedMatrix {
        let scaleName = ParameterLayout.scaleName(name)
        guard let st = tensors[scaleName] else {
            throw ModelError.missingTensor(file: path, name: scaleName)
        }
        guard st.shape == [rows] else {
            throw ModelError.shapeMismatch(file: path, name: scaleName, expected: [rows], found: st.shape)
        }
        let scales = try floats(scaleName)
        if let bad = scales.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw Error.tensor(path, scaleName, "scale \(bad) is \(scales[bad]); scales must be finite and not negative (the file is damaged: quantize the model again)")
        }
        var values = [Int8](repeating: 0, count: rows * columns)
        try values.withUnsafeMutableBufferPointer { try readInt8s(name, shape: [rows, columns], into: $0.baseAddress!) }
        return values.withUnsafeBufferPointer { QuantizedMatrix(values: $0.baseAddress!, scales: scales, rows: rows, columns: columns) }
    }
}

extension ParameterLayout {
    /// Every tensor of the layout is in `file` with its shape (checked before anything is allocated or read).
    ///
    /// Tensors of `file` that the layout does not have are not looked at here.
    /// - Throws: ``ModelError/missingTensor(file:name:)`` or ``ModelError/shapeMismatch(file:name:expected:found:)``
    ///   for the first layout entry that is absent or has another shape. Dtypes are not checked.
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
///
/// ``save(_:to:weightsFile:)`` writes one; ``load(_:weightsFile:)`` and ``loadVocabularies(_:for:)`` read it
/// back. The vocabulary files (``Vocabularies``) live in the same directory.
public enum ModelDirectory {
    /// The configuration's file name in a model directory.
    public static let configFile = "config.json"
    /// The weights' default file name in a model directory (training keeps its checkpoints beside it,
    /// see ``TrainingFiles``).
    public static let weightsFile = "model.safetensors"

    /// Writes `model`'s config.json and weights into `dir`, creating the directory if needed.
    ///
    /// Each file is written atomically (a temporary file renamed over the old one). The vocabularies are
    /// not written: save them with ``Vocabularies/save(to:)``.
    /// - Parameters:
    ///   - model: The model to save; an int8 model writes its matrices as I8 with F32 scales.
    ///   - dir: The model directory.
    ///   - weightsFile: The weights' file name inside `dir` (default ``weightsFile``).
    /// - Throws: A Foundation error if `dir` cannot be created, ``SafeTensors/Error/io(_:_:)`` if a file
    ///   cannot be written.
    public static func save(_ model: Transformer, to dir: String, weightsFile: String = weightsFile) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeAtomically(model.config.jsonData(), to: "\(dir)/\(configFile)")
        try model.saveWeights(to: "\(dir)/\(weightsFile)")
    }

    /// Reads and validates `dir`/config.json.
    /// - Throws: ``ModelError/badFile(_:_:)`` if the file is missing, is not a valid configuration, or
    ///   fails ``ModelConfig/validate()``.
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
    /// - Parameters:
    ///   - dir: The model directory.
    ///   - weightsFile: The weights' file name inside `dir`, for example a checkpoint (default ``weightsFile``).
    /// - Returns: The model with its weights, ready to decode.
    /// - Throws: ``ModelError/badFile(_:_:)`` for a missing or invalid config.json or one that does not match
    ///   the weights, ``SafeTensors/Error`` if the weights file is unreadable or malformed, and the errors
    ///   of ``Transformer/loadWeights(from:allowExtra:)``.
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
    ///
    /// Reads what ``Vocabularies/load(from:)`` reads: a Marian model's SentencePiece files, a joint
    /// tokenizer.json, or source and target tokenizer files.
    /// - Throws: ``VocabularyError`` if no vocabulary is found or a file is damaged;
    ///   ``ModelError/badFile(_:_:)`` if the vocabulary has more entries than the model has tokens.
    public static func loadVocabularies(_ dir: String, for config: ModelConfig) throws -> Vocabularies {
        let v = try Vocabularies.load(from: dir)
        if v.target.count > config.tgtVocabSize || (!config.isDecoderOnly && v.source.count > config.srcVocabSize) {
            throw ModelError.badFile(dir, "the vocabulary has \(v.source.count)/\(v.target.count) entries but the model only \(config.srcVocabSize)/\(config.tgtVocabSize) tokens; the tokenizer files are not this model's")
        }
        return v
    }
}
