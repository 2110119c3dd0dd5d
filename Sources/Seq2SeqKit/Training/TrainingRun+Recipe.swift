import Foundation

extension TrainingRun {
    /// The model's shape: a named preset, and the fields that override it (nil keeps the preset's).
    /// The names follow config.json's fields.
    public struct Architecture: Equatable, Sendable {
        /// A ``TranslationPreset`` name (narrow, small, base, tiny) for translation, a ``LanguageModelPreset``
        /// name (small, medium) for a language model; nil: the corpus chooses for translation
        /// (``TranslationPreset/default(pairs:)``: narrow under 100,000 pairs, else small), small for a language model.
        public var preset: String? = nil
        /// The model width d_model; nil: the preset's (128 narrow, 256 small, 512 base; 128 for a language model).
        public var dModel: Int? = nil
        /// Attention heads (n_heads, which must divide d_model); nil: the preset's (4 narrow and small, 8 base; 4).
        public var heads: Int? = nil
        /// The feed-forward width d_ff; nil: the preset's (256 narrow, 1024 small, 2048 base; 512).
        public var dFF: Int? = nil
        /// Encoder layers (translation; ignored for a language model); overrides ``layers``.
        public var encoderLayers: Int? = nil
        /// Decoder layers; overrides ``layers``.
        public var decoderLayers: Int? = nil
        /// Encoder and decoder layers (a language model's decoder layers).
        public var layers: Int? = nil
        /// nil: the preset's (0.3 narrow, 0.2 the other translation presets; 0 small, 0.05 medium for a language model).
        public var dropout: Float? = nil
        /// Dropout on the attention weights (attention_dropout); nil: the preset's (0 narrow), else the
        /// same as ``dropout``.
        public var attentionDropout: Float? = nil
        /// Pre-norm or post-norm layers; nil: the preset's (pre-norm).
        public var norm: ModelConfig.Norm? = nil
        /// The feed-forward activation; nil: the preset's (ReLU for translation, GELU for a language model).
        public var activation: Activation? = nil
        /// Sinusoidal or learned positions; nil: the preset's (sinusoidal for translation, learned for a
        /// language model).
        public var positional: ModelConfig.Positional? = nil
        /// Positions the model takes (max_positions); nil: the preset's (1024; 64 for a language model). A new
        /// run raises it to ``Options/maxLength`` + 2 (translation) or ``Options/blockSize`` (language model)
        /// when that is larger.
        public var maxPositions: Int? = nil
        /// Share source and target embeddings; nil: shared with a joint vocabulary (translation).
        public var shareEmbeddings: Bool? = nil
        /// Tie the output projection to the target embedding.
        public var tieOutput: Bool? = nil

        /// The default preset with no overrides.
        public init() {}

        /// The translation preset named, or without a name the one for a corpus of `pairs` training pairs
        /// (``TranslationPreset/default(pairs:)``; small when the count is not known).
        /// - Throws: ``TrainingRunError/invalidOption(_:)`` for an unknown name.
        public func translationPreset(pairs: Int?) throws(TrainingRunError) -> TranslationPreset {
            guard let name = preset else { return pairs.map(TranslationPreset.default(pairs:)) ?? .small }
            guard let p = TranslationPreset.named(name) else {
                throw .invalidOption("unknown preset '\(name)'; choose one of \(ModelConfig.presetNames.joined(separator: ", "))")
            }
            return p
        }

        /// The preset's configuration with the overrides applied (the vocabulary sizes are set
        /// once the vocabulary is known, see `TrainingRun.modelConfig`).
        /// - Parameters:
        ///   - task: Translation or a language model (whose presets differ).
        ///   - pairs: The training pairs, which choose a translation preset when none is named (see
        ///     ``translationPreset(pairs:)``).
        /// - Throws: ``TrainingRunError/invalidOption(_:)`` for a preset the task does not know. The overrides'
        ///   ranges are checked by ``Options/validate()``, and the configuration itself once the vocabulary is known.
        public func config(for task: Task, pairs: Int? = nil) throws(TrainingRunError) -> ModelConfig {
            let lm = task == .languageModel
            var c: ModelConfig
            if lm {
                let name = preset ?? LanguageModelPreset.small.name
                guard let p = LanguageModelPreset.named(name) else {
                    throw .invalidOption("--lm knows the presets \(LanguageModelPreset.all.map(\.name).joined(separator: " and ")) (got '\(name)')")
                }
                c = p.config
            } else {
                let p = try translationPreset(pairs: pairs)
                c = p.config
                c.dropout = p.dropout
            }
            if let v = dModel { c.dModel = v }
            if let v = heads { c.nHeads = v }
            if let v = dFF { c.dFF = v }
            if let v = layers { c.decoderLayers = v; if !lm { c.encoderLayers = v } }
            if let v = encoderLayers, !lm { c.encoderLayers = v }
            if let v = decoderLayers { c.decoderLayers = v }
            if let v = dropout { c.dropout = v }
            if let v = attentionDropout { c.attentionDropout = v }
            if let v = norm { c.norm = v }
            if let v = activation { c.activation = v }
            if let v = positional { c.positional = v }
            if let v = maxPositions { c.maxPositions = v }
            if let v = tieOutput { c.tieOutput = v }
            return c
        }

        /// The preset is known and every override is in range.
        func validate(for task: Task) throws(TrainingRunError) {
            _ = try config(for: task)  // an unknown preset is an option error before any file is read
            try OptionRange.int(dModel, "--d-model", 1...65_536)
            try OptionRange.int(heads, "--heads", 1...1024)
            try OptionRange.int(dFF, "--d-ff", 1...1_048_576)
            try OptionRange.int(encoderLayers, "--encoder-layers", 0...256)
            try OptionRange.int(decoderLayers, "--decoder-layers", 1...256)
            try OptionRange.int(layers, "--layers", 1...256)
            try OptionRange.real(dropout, "--dropout", 0...0.95)
            try OptionRange.real(attentionDropout, "--attention-dropout", 0...0.95)
            try OptionRange.int(maxPositions, "--max-positions", 1...1_048_576)
        }
    }

    /// The training settings (train.json) of these options: the task's recipe, then every option
    /// given. Translation follows its preset's recipe (``TranslationPreset``; without `--preset`, the one
    /// for a corpus of `pairs` pairs); a language model nanoGPT's defaults; with `--init-from`, the learning
    /// rate and warm-up of ``FineTuningDefaults``.
    ///
    /// This is what a new run writes as train.json; a resumed run trains with its saved train.json instead
    /// (with the limits, ``Options/updateFreq`` and ``Options/precision`` given now). The result is not validated here.
    /// - Parameters:
    ///   - o: The run's options.
    ///   - pairs: The training pairs, known once the corpus is prepared; nil: not known (a translation
    ///     run without `--preset` then follows `small`).
    public static func settings(for o: Options, pairs: Int? = nil) -> TrainSettings {
        var s = TrainSettings()
        let lm = o.isLanguageModel
        s.mode = lm ? .languageModel : .translation
        s.source = lm ? nil : o.source
        s.target = lm ? o.text : o.target
        s.data = o.data
        s.validSource = o.validSource; s.validTarget = o.validTarget
        s.maxLength = o.maxLength; s.batchTokens = o.batchTokens; s.updateFreq = o.updateFreq ?? 1
        s.validFraction = o.validFraction; s.evalBatches = o.evalBatches
        if lm {  // nanoGPT's optimizer, and the preset's data, length, learning rate and precision
            let p = o.architecture.preset.flatMap(LanguageModelPreset.named) ?? .small
            s.optimizer = .adamw; s.schedule = .cosine; s.lr = p.lr; s.minLR = 1e-4; s.warmupSteps = 100
            s.beta2 = 0.99; s.weightDecay = 0.1; s.adamEps = 1e-8; s.labelSmoothing = 0; s.maxSteps = p.maxSteps
            s.validateEvery = p.validateEvery; s.blockSize = p.blockSize; s.batchSize = p.batchSize; s.precision = p.precision
        } else {
            // An unknown preset name is an option error (``Options/validate()``) before this is used.
            let p = (try? o.architecture.translationPreset(pairs: pairs)) ?? .small
            s.optimizer = .adam; s.schedule = .inverseSqrt; s.lr = p.lr; s.warmupSteps = p.warmupSteps; s.validateEvery = 0
            s.lengthPenalty = 1.4; s.precision = .auto; s.averageLast = p.averageLast; s.labelSmoothing = p.labelSmoothing
        }
        if o.initFrom != nil {  // fine-tuning: see FineTuningDefaults
            if lm {
                s.lr = FineTuningDefaults.languageModel.lr; s.minLR = s.lr; s.warmupSteps = FineTuningDefaults.languageModel.warmupSteps
            } else {
                s.lr = FineTuningDefaults.translation.lr; s.warmupSteps = FineTuningDefaults.translation.warmupSteps
                s.labelSmoothing = FineTuningDefaults.translation.labelSmoothing
                s.averageLast = 0  // the preset's averaging was measured on training from scratch only
            }
        }
        if let v = o.blockSize { s.blockSize = v }
        if let v = o.batchSize { s.batchSize = v }
        if let v = o.lr { s.lr = v }
        if let v = o.minLR { s.minLR = v }
        if let v = o.warmupSteps { s.warmupSteps = v }
        if let v = o.schedule { s.schedule = v }
        if let v = o.optimizer { s.optimizer = v }
        if let v = o.weightDecay { s.weightDecay = v }
        if let v = o.beta2 { s.beta2 = v }
        if let v = o.labelSmoothing { s.labelSmoothing = v }
        if let v = o.bpeDropout { s.bpeDropout = v }
        if let v = o.rdropAlpha { s.rdropAlpha = v }
        if let v = o.sourceWordDropout { s.sourceWordDropout = v }
        if let v = o.targetWordDropout { s.targetWordDropout = v }
        s.clipNorm = o.clipNorm; s.seed = o.seed
        if let v = o.precision { s.precision = v }
        if let v = o.maxSteps { s.maxSteps = v }
        if let v = o.maxEpochs { s.maxEpochs = v }
        if let v = o.maxSeconds { s.maxSeconds = v }
        if let v = o.validateEvery { s.validateEvery = v }
        if let v = o.averageLast { s.averageLast = v }
        s.patience = o.patience; s.keepLast = o.keepLast; s.validBeam = o.validBeam; s.lengthPenalty = o.lengthPenalty
        s.logEvery = o.logEvery; s.threads = o.threads ?? 0
        s.saveEvery = o.saveEvery; s.saveSeconds = o.saveSeconds
        s.minValidateSeconds = o.minValidateSeconds
        return s
    }

    /// The settings this run trains with: the options' (`settings(for:pairs:)`), or on resuming the
    /// saved train.json's with the limits, `updateFreq`, `precision` and `averageLast` given now.
    func runSettings(pairs: Int? = nil) throws -> TrainSettings {
        var settings = Self.settings(for: options, pairs: pairs)
        if options.resume {
            let path = "\(directory)/\(TrainingFiles.settings)"
            guard let data = FileManager.default.contents(atPath: path),
                  let saved = try? JSONDecoder().decode(TrainSettings.self, from: data) else {
                throw TrainingRunError.input("\(path): missing or unreadable; --resume needs a directory that training wrote")
            }
            let given = settings
            settings = saved
            if options.maxSteps != nil { settings.maxSteps = given.maxSteps }
            if options.maxEpochs != nil { settings.maxEpochs = given.maxEpochs }
            if options.maxSeconds != nil { settings.maxSeconds = given.maxSeconds }
            if options.updateFreq != nil { settings.updateFreq = given.updateFreq }
            if options.precision != nil { settings.precision = given.precision }
            if options.averageLast != nil { settings.averageLast = given.averageLast }
        }
        settings.precision = settings.precision.resolved  // train.json says what the run uses
        try settings.validate()
        return settings
    }

    /// config.json of a new run: the architecture with the vocabulary's sizes, positions for the
    /// longest block or pair, and embeddings shared when the vocabulary is joint (translation); or
    /// the configuration of the model `--init-from` names (`initConfig`).
    func modelConfig(settings: TrainSettings, vocabularies v: Vocabularies, pairs: Int?) throws -> ModelConfig {
        if let dir = initDirectory { return try initConfig(settings: settings, from: dir) }
        let lm = options.isLanguageModel
        var config = try options.architecture.config(for: options.task, pairs: pairs)
        config.tgtVocabSize = v.target.count
        config.srcVocabSize = lm ? 0 : v.source.count
        config.shareEmbeddings = !lm && (options.architecture.shareEmbeddings ?? v.joint)
        if lm { config.maxPositions = max(config.maxPositions, settings.blockSize) }
        else { config.maxPositions = max(config.maxPositions, settings.maxLength + 2) }
        try config.validate()
        return config
    }
}

/// A `--lm` preset: the model's shape and what it trains with by default (AdamW, 100 warm-up steps and a
/// cosine to 1e-4 for all; each flag given overrides its value).
public struct LanguageModelPreset: Sendable {
    /// The `--preset` name.
    public let name: String
    /// The model (the vocabulary size is set when the vocabulary is known).
    public let config: ModelConfig
    /// Tokens per block, blocks per batch, updates, updates between validations.
    public let blockSize: Int, batchSize: Int, maxSteps: Int, validateEvery: Int
    /// The peak learning rate.
    public let lr: Float
    /// The products' format.
    public let precision: Precision

    /// nanoGPT's `shakespeare_char` configuration for CPUs: 4 pre-norm GELU layers of width 128 with 4 heads and
    /// learned positions, no dropout; 2,000 updates of 12 blocks of 64 tokens at 1e-3, in bf16 where the processor
    /// trains faster in bf16 (``Precision/bf16Pays``).
    public static let small = LanguageModelPreset(name: "small", config: .gptSmall, blockSize: 64, batchSize: 12,
                                                  maxSteps: 2000, validateEvery: 250, lr: 1e-3, precision: .auto)
    /// The best character model 30 minutes buy on two cores (docs/language-models.md): 6 layers of width 256
    /// with 4 heads and dropout 0.05; 3,000 updates of 16 blocks of 256 tokens at 1.5e-3, validated every 500, in
    /// bf16 where it pays (``Precision/bf16Pays``).
    public static let medium = LanguageModelPreset(name: "medium", config: .gptMedium, blockSize: 256, batchSize: 16,
                                                   maxSteps: 3000, validateEvery: 500, lr: 1.5e-3, precision: .auto)
    /// Every preset, in size order.
    public static let all = [small, medium]

    /// The preset of that name (`gpt-small` is an older name of `small`); nil for an unknown one.
    public static func named(_ name: String) -> LanguageModelPreset? {
        name == "gpt-small" ? .small : all.first { $0.name == name }
    }
}

extension ModelConfig {
    /// The language model preset `small` (`seq2seq train --lm`): nanoGPT's CPU model, 4 pre-norm
    /// GELU decoder layers of width 128 with learned positions and no dropout (the vocabulary
    /// size is set when the vocabulary is known).
    public static let gptSmall = ModelConfig(srcVocabSize: 0, dModel: 128, nHeads: 4, dFF: 512, encoderLayers: 0, decoderLayers: 4,
                                             maxPositions: 64, positional: .learned, norm: .pre, activation: .gelu,
                                             scaleEmbedding: false, dropout: 0)
    /// The language model preset `medium` (``LanguageModelPreset/medium``): 6 pre-norm GELU decoder layers
    /// of width 256, 4 heads, feed-forward 1,024, 256 learned positions, dropout 0.05.
    public static let gptMedium = ModelConfig(srcVocabSize: 0, dModel: 256, nHeads: 4, dFF: 1024, encoderLayers: 0, decoderLayers: 6,
                                              maxPositions: 256, positional: .learned, norm: .pre, activation: .gelu,
                                              scaleEmbedding: false, dropout: 0.05)
}
