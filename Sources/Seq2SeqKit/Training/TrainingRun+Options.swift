import Foundation

extension TrainingRun {
    /// What a training run trains.
    public enum Task: String, Sendable {
        /// An encoder-decoder model on line-aligned source and target text.
        case translation
        /// A decoder-only (GPT) model on plain text.
        case languageModel
    }

    /// Where the run's vocabulary comes from, when the model directory has none yet.
    public enum VocabularyChoice: Equatable, Sendable {
        /// The prepared corpus's vocabulary with `data`; otherwise a learned one: BPE for
        /// translation, characters for a language model.
        case automatic
        /// Learn a BPE vocabulary from the training text, of `Options.learnedVocabularySize(pairs:)`
        /// entries (`vocabularySize`, else the preset's).
        case learnBPE
        /// Learn a character vocabulary from the language model's text (language models only).
        case learnCharacters
        /// Use this vocabulary: a directory (`tokenizer.json`, or `source.tokenizer.json` and
        /// `target.tokenizer.json`) or a `tokenizer.json` file.
        case load(String)
    }

    /// Everything a training run is told: the data, the vocabulary, the model's shape, the
    /// optimization and the limits. The defaults are the library's (and `seq2seq train`'s); an
    /// optional left nil takes the value of the task's recipe (see `settings()`).
    ///
    /// ```swift
    /// var options = TrainingRun.Options(modelDirectory: "runs/de-en")
    /// options.source = "train.de"; options.target = "train.en"
    /// options.validSource = "val.de"; options.validTarget = "val.en"
    /// options.maxSeconds = 3600
    /// let summary = try TrainingRun(options).run(log: { print($0) })
    /// ```
    public struct Options: Sendable {
        // MARK: Data

        /// The model directory: created if needed; it receives config.json, train.json, the
        /// vocabulary, the prepared corpus, the checkpoints and the metrics.
        public var modelDirectory: String
        /// What the run trains (default ``Task/translation``); set by ``init(modelDirectory:task:)``.
        public var task: Task = .translation
        /// Source-side training text (translation), one sentence per line.
        public var source: String? = nil
        /// Target-side training text (translation), line-aligned with `source`.
        public var target: String? = nil
        /// Validation text (translation; both or neither). Rank 0 translates it at each validation.
        public var validSource: String? = nil
        /// Validation references (translation), line-aligned with ``validSource``.
        public var validTarget: String? = nil
        /// Plain training text (language model).
        public var text: String? = nil
        /// A corpus made by `seq2seq prepare` (`CorpusPreparer`), instead of the text files.
        public var data: String? = nil
        /// Replace invalid UTF-8 in the text files instead of stopping.
        public var lenient = false

        // MARK: Vocabulary

        /// Where the vocabulary comes from (default ``VocabularyChoice/automatic``). A model directory that
        /// already holds a vocabulary (a resumed run, or an earlier attempt) keeps its own whatever this says.
        public var vocabulary: VocabularyChoice = .automatic
        /// Size of a learned BPE vocabulary, including the special and byte tokens; nil: the translation
        /// preset's (``TranslationPreset/vocabularySize``), or ``languageModelVocabularySize`` for a
        /// language model (``learnedVocabularySize(pairs:)``).
        public var vocabularySize: Int? = nil
        /// The size of a language model's learned BPE vocabulary without `--vocab-size`.
        public static let languageModelVocabularySize = 8000
        /// Learn one BPE vocabulary per side instead of a joint one (translation).
        public var separateVocabularies = false
        /// The normalization of a learned vocabulary (a character vocabulary keeps whitespace).
        public var normalizer = Normalizer()

        // MARK: Model

        /// The model's shape: a preset and the fields that override it.
        public var architecture = Architecture()

        // MARK: Optimization (nil: the recipe's value)

        /// Peak learning rate; nil: the preset's (``TranslationPreset``, ``LanguageModelPreset``).
        public var lr: Float? = nil
        /// The schedule's floor (the cosine schedule decays to it); nil: 0 for translation, 1e-4 for a language model.
        public var minLR: Float? = nil
        /// Updates of linear warm-up to ``lr``; nil: the translation preset's (2,000 narrow, 500 the others), 100 for a language model.
        public var warmupSteps: Int? = nil
        /// The learning-rate schedule; nil: ``LRSchedule/inverseSqrt`` for translation, ``LRSchedule/cosine``
        /// for a language model. Cosine needs ``maxSteps`` or ``maxSeconds``.
        public var schedule: LRSchedule? = nil
        /// Adam or AdamW; nil: Adam for translation, AdamW for a language model.
        public var optimizer: TrainSettings.Optimizer? = nil
        /// AdamW's decoupled weight decay (ignored by Adam); nil: 0 for translation, 0.1 for a language model.
        public var weightDecay: Float? = nil
        /// Adam's β2; nil: 0.98 for translation, 0.99 for a language model (β1 is 0.9).
        public var beta2: Float? = nil
        /// Label smoothing of the training loss, in [0, 0.99]; nil: 0.1 for translation, 0 for a language model.
        public var labelSmoothing: Float? = nil
        /// BPE-dropout probability, in [0, 0.99]; nil: 0 (off). Translation from --src/--tgt with a BPE vocabulary.
        public var bpeDropout: Float? = nil
        /// R-Drop's weight α, in [0, 100]; nil: 0 (off). See ``TrainSettings/rdropAlpha``.
        public var rdropAlpha: Float? = nil
        /// Word dropout of the source side, in [0, 0.99]; nil: 0 (off). See ``TrainSettings/sourceWordDropout``.
        public var sourceWordDropout: Float? = nil
        /// Word dropout of the decoder's input, in [0, 0.99]; nil: 0 (off). See ``TrainSettings/targetWordDropout``.
        public var targetWordDropout: Float? = nil
        /// Skip translation pairs with a side longer than this many tokens.
        public var maxLength = 128
        /// Tokens per batch and side (sentences × longest), translation.
        public var batchTokens = 4096
        /// Batches per update and rank (gradient accumulation); nil: 1, or the resumed run's.
        public var updateFreq: Int? = nil
        /// Clip the gradient norm to this (0: off).
        public var clipNorm: Float = 1
        /// Seeds the batch order, dropout and initialization.
        public var seed: UInt64 = 1
        /// The matrix products' format; nil: ``Precision/auto`` (a language model's preset's, which is also
        /// auto), or the resumed run's.
        public var precision: Precision? = nil

        // MARK: Language model data

        /// Tokens per training block; nil: the preset's (``LanguageModelPreset``), or the resumed run's.
        public var blockSize: Int? = nil
        /// Blocks per batch; nil: the preset's, or the resumed run's.
        public var batchSize: Int? = nil
        /// The held-out tail of the text, for validation.
        public var validFraction = 0.1
        /// Validation batches.
        public var evalBatches = 20

        // MARK: Limits and evaluation

        /// Stop after this many updates (0: no limit); nil: no limit for translation, the preset's for a language model (2,000 small, 3,000 medium).
        public var maxSteps: Int? = nil
        /// Stop after this many passes over the training data; nil or 0: no limit.
        public var maxEpochs: Int? = nil
        /// Stop after this many seconds of training.
        public var maxSeconds: Double? = nil
        /// Validate every N updates as well as at epoch ends; nil: the recipe's (epoch ends only
        /// for translation, 250 for a language model).
        public var validateEvery: Int? = nil
        /// Stop after N validations without a better score (0: never).
        public var patience = 0
        /// Also keep the last N step checkpoints (for `CheckpointAverage`).
        public var keepLast = 0
        /// At the end, average the last N step checkpoints and keep the mean when it validates better
        /// (0: off); nil: the recipe's (off).
        public var averageLast: Int? = nil
        /// Beam size of the validation translations (1: greedy).
        public var validBeam = 1
        /// GNMT length penalty α of the validation translations.
        public var lengthPenalty: Float = 1.4
        /// A log line every N updates (when there is no live status line).
        public var logEvery = 50
        /// Also write checkpoint_last every N updates (0: off) and at least every so many seconds (0: off).
        public var saveEvery = 0
        /// Also write checkpoint_last once this many seconds have passed since it was last written
        /// (default 600; 0: off); see ``saveEvery``.
        public var saveSeconds: Double = 600
        /// Skip an epoch-end validation closer than this to the previous one (0: validate at every epoch end).
        public var minValidateSeconds: Double = 60

        // MARK: The run

        /// Continue from checkpoint_last in the model directory with its saved settings; of
        /// these options only `maxSteps`, `maxEpochs`, `maxSeconds`, `updateFreq` and
        /// `precision` then apply, when given.
        public var resume = false
        /// Start afresh in a model directory that holds another run: its checkpoints, metrics,
        /// vocabulary and prepared corpus are removed first (see `TrainingRun.runFiles`).
        public var overwrite = false
        /// Start from the weights of this model directory or .safetensors file.
        public var initFrom: String? = nil
        /// Under MPI: reduce each layer's gradients while the backward pass goes on.
        public var overlapReduction = true
        /// Threads of this process; nil: all cores (shared by the ranks on one host under MPI).
        public var threads: Int? = nil

        /// Options with the defaults for `task`; name the data (``source`` and ``target``, ``text``, or ``data``)
        /// before running.
        public init(modelDirectory: String, task: Task = .translation) {
            self.modelDirectory = modelDirectory
            self.task = task
        }

        var isLanguageModel: Bool { task == .languageModel }
    }
}

extension TrainingRun.Options {
    /// Checks every option against its range and against the others, before any file is read.
    /// The message names the `seq2seq train` flag and what to do.
    /// - Throws: ``TrainingRunError/invalidOption(_:)`` for the first option out of range or at odds with another.
    public func validate() throws(TrainingRunError) {
        func fail(_ m: String) -> TrainingRunError { .invalidOption(m) }
        if data != nil && (source != nil || target != nil || text != nil) {
            throw fail("--data replaces --src/--tgt (and --text): give one or the other")
        }
        if isLanguageModel {
            if text == nil && data == nil && !resume { throw fail("--lm needs --text FILE (or --data DIR from `seq2seq prepare --lm`)") }
        } else if !resume && data == nil && (source == nil || target == nil) {
            throw fail("give --src and --tgt (line-aligned training text), --data DIR (from `seq2seq prepare`), or --lm --text FILE")
        }
        if (validSource == nil) != (validTarget == nil) { throw fail("give both --valid-src and --valid-tgt") }
        if let p = bpeDropout, p > 0 {
            if isLanguageModel { throw fail("--bpe-dropout applies to translation, not --lm") }
            if data != nil { throw fail("--bpe-dropout segments the text anew each epoch: give --src and --tgt instead of a prepared --data corpus") }
        }
        if let p = sourceWordDropout, p > 0, isLanguageModel {
            throw fail("--source-word-dropout applies to translation: a language model has only --target-word-dropout")
        }
        try validateVocabularyChoice()
        // Model shape (config.json's own checks follow once the vocabulary is known).
        try architecture.validate(for: task)
        // Optimization, data, limits.
        try OptionRange.int(vocabularySize, "--vocab-size", (Vocabulary.firstPieceId + 1)...1_000_000)
        try OptionRange.int(maxLength, "--max-length", 1...65_535)
        try OptionRange.real(lr, "--lr", 0...10, open: true)
        try OptionRange.real(minLR, "--min-lr", 0...10)
        try OptionRange.int(warmupSteps, "--warmup-steps", 0...100_000_000)
        try OptionRange.real(weightDecay, "--weight-decay", 0...10)
        try OptionRange.real(beta2, "--beta2", 0...1, open: true)
        if let b = beta2, b >= 1 { throw fail("--beta2 must be below 1 (got \(b))") }
        try OptionRange.real(labelSmoothing, "--label-smoothing", 0...0.99)
        try OptionRange.real(bpeDropout, "--bpe-dropout", 0...0.99)
        try OptionRange.real(rdropAlpha, "--rdrop-alpha", 0...100)
        try OptionRange.real(sourceWordDropout, "--source-word-dropout", 0...0.99)
        try OptionRange.real(targetWordDropout, "--target-word-dropout", 0...0.99)
        try OptionRange.int(batchTokens, "--batch-tokens", 8...10_000_000)
        try OptionRange.int(updateFreq, "--update-freq", 1...100_000)
        try OptionRange.real(clipNorm, "--clip-norm", 0...1e9)
        try OptionRange.int(blockSize, "--block-size", 1...1_048_576)
        try OptionRange.int(batchSize, "--batch-size", 1...1_000_000)
        try OptionRange.real(validFraction, "--valid-fraction", 0...0.99)
        try OptionRange.int(evalBatches, "--eval-batches", 0...1_000_000)
        try OptionRange.int(maxSteps, "--max-steps", 0...Int(Int32.max))
        try OptionRange.int(maxEpochs, "--max-epochs", 0...1_000_000)
        try OptionRange.int(validateEvery, "--validate-every", 0...Int(Int32.max))
        try OptionRange.int(patience, "--patience", 0...1_000_000)
        try OptionRange.int(keepLast, "--keep-last", 0...10_000)
        try OptionRange.int(averageLast, "--average-last", 0...10_000)
        if averageLast == 1 { throw fail("--average-last must be 0 (off) or at least 2 (got 1)") }
        try OptionRange.int(validBeam, "--valid-beam", 1...256)
        try OptionRange.real(lengthPenalty, "--length-penalty", 0...10)
        try OptionRange.int(logEvery, "--log-every", 1...Int(Int32.max))
        try OptionRange.int(saveEvery, "--save-every", 0...Int(Int32.max))
        try OptionRange.int(threads, "--threads", 1...1024)
        if let s = maxSeconds, !(s >= 0 && s.isFinite) { throw fail("--max-time must be a finite duration (got \(s) s)") }
        if !(saveSeconds >= 0 && saveSeconds.isFinite) { throw fail("--save-interval must be a finite duration (got \(saveSeconds) s)") }
        if !(minValidateSeconds >= 0 && minValidateSeconds.isFinite) {
            throw fail("--min-validate-interval must be a finite duration (got \(minValidateSeconds) s)")
        }
        if resume && overwrite { throw fail("--resume continues a run, --overwrite starts over: give one of them") }
    }

    /// A vocabulary is learned from text files: not from a prepared corpus (its ids are already
    /// those of its own vocabulary), and characters only for a language model. (A resumed run uses
    /// its model directory's vocabulary whatever `vocabulary` says.)
    func validateVocabularyChoice() throws(TrainingRunError) {
        guard !resume else { return }
        let flag: String
        switch vocabulary {
        case .automatic: return
        case .load(let path):
            if path.isEmpty { throw .invalidOption("--vocab is empty: give a directory or tokenizer.json, or 'bpe' or 'char'") }
            return
        case .learnBPE: flag = "--vocab bpe"
        case .learnCharacters:
            flag = "--vocab char"
            if !isLanguageModel {
                throw .invalidOption("--vocab char learns a character vocabulary for a language model (--lm); translation learns BPE (--vocab bpe, the default) or uses a given vocabulary (--vocab DIR or FILE)")
            }
        }
        if let d = data {
            let source = isLanguageModel ? "--text FILE" : "--src and --tgt"
            throw .invalidOption("\(flag) learns a vocabulary from text, but --data \(d) is already encoded with the vocabulary it was prepared with: leave out --vocab to train with that one, or give \(source) instead of --data")
        }
    }
}

/// Range checks of numeric options; the message names the flag, the range and the value given.
enum OptionRange {
    static func int(_ v: Int?, _ flag: String, _ range: ClosedRange<Int>) throws(TrainingRunError) {
        guard let v, !range.contains(v) else { return }
        let hi = range.upperBound == Int.max ? "" : " and \(range.upperBound)"
        throw .invalidOption(hi.isEmpty ? "\(flag) must be at least \(range.lowerBound) (got \(v))"
                                        : "\(flag) must be between \(range.lowerBound)\(hi) (got \(v))")
    }

    /// A finite number in `range` (NaN and infinities are refused by name).
    static func real<T: BinaryFloatingPoint>(_ v: T?, _ flag: String, _ range: ClosedRange<Double>, open: Bool = false) throws(TrainingRunError) {
        guard let v else { return }
        let d = Double(v)
        guard d.isFinite && range.contains(d) && !(open && d == range.lowerBound) else {
            throw .invalidOption("\(flag) must be a finite number \(open ? "above" : "from") \(range.lowerBound) \(open ? "up to" : "to") \(range.upperBound) (got \(v))")
        }
    }
}
