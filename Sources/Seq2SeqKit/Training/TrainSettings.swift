import Foundation

/// Every training setting, saved as `train.json` in the model directory.
///
/// ``TrainingRun/settings(for:pairs:)`` makes them from a run's options; the keys of train.json are the
/// fields' names in snake_case. A value is plain data: ``validate()`` checks it, ``Trainer`` uses it.
public struct TrainSettings: Codable, Equatable, Sendable {
    /// What is trained: an encoder-decoder model on sentence pairs (`translation`), or a decoder-only model
    /// on a token stream (`languageModel`, `"lm"` in train.json).
    public enum Mode: String, Codable, Sendable { case translation, languageModel = "lm" }
    /// Adam, or AdamW (Adam with decoupled weight decay: ``weightDecay`` applies only to `adamw`).
    public enum Optimizer: String, Codable, Sendable, CaseIterable { case adam, adamw }

    /// What is trained (default ``Mode/translation``).
    public var mode: Mode = .translation
    // data
    /// Source-side training text (translation).
    public var source: String? = nil
    /// Target-side training text (translation), or the language model's text.
    public var target: String? = nil
    /// Validation source text (translation).
    public var validSource: String? = nil
    /// Validation references (translation), line-aligned with ``validSource``.
    public var validTarget: String? = nil
    /// A corpus made by `seq2seq prepare` (instead of source/target text, which training prepares
    /// into the model directory itself).
    public var data: String? = nil
    /// Translation pairs with a side longer than this many tokens are skipped (default 128; at most 65535).
    public var maxLength = 128
    /// Tokens per translation batch and side, counted as sentences × longest sentence (default 4096).
    public var batchTokens = 4096
    /// Batches per update and rank (gradient accumulation, default 1).
    public var updateFreq = 1
    // language model data
    /// Tokens per language-model training block (default 64).
    public var blockSize = 64
    /// Blocks per language-model batch (default 12).
    public var batchSize = 12
    /// The held-out tail of the language model's text, for validation (default 0.1, in [0, 1)).
    public var validFraction = 0.1
    /// Language-model validation batches (default 20).
    public var evalBatches = 20
    // optimization
    /// The optimizer (default ``Optimizer/adam``).
    public var optimizer: Optimizer = .adam
    /// The peak learning rate (default 1e-3; positive).
    public var lr: Float = 1e-3
    /// The schedule's floor (default 0; at most ``lr``).
    public var minLR: Float = 0
    /// Updates of linear warm-up (default 500).
    public var warmupSteps = 500
    /// The learning-rate schedule (default ``LRSchedule/inverseSqrt``; ``LRSchedule/cosine`` needs ``maxSteps`` or ``maxSeconds``).
    public var schedule: LRSchedule = .inverseSqrt
    /// Adam's β1 (default 0.9).
    public var beta1: Float = 0.9
    /// Adam's β2 (default 0.98).
    public var beta2: Float = 0.98
    /// Adam's ε (default 1e-9).
    public var adamEps: Float = 1e-9
    /// AdamW's decoupled weight decay (default 0; ignored by Adam).
    public var weightDecay: Float = 0
    /// The gradient's global L2 norm is clipped to this (default 1; 0: no clipping).
    public var clipNorm: Float = 1
    /// Label smoothing of the training loss (default 0.1; in [0, 1)).
    public var labelSmoothing: Float = 0.1
    /// BPE-dropout: each epoch segments the training text anew, skipping each merge with this
    /// probability (default 0: the prepared, deterministic segmentation; in [0, 1); translation with
    /// source and target text and a BPE vocabulary). See ``BPEDropoutCorpus``.
    public var bpeDropout: Float = 0
    /// R-Drop's weight α (default 0: off): each batch is trained twice under different dropout masks and
    /// the loss adds α times the symmetric KL divergence between the two output distributions
    /// (Liang et al., 2021). An update then costs about twice as much. ≥ 0.
    public var rdropAlpha: Float = 0
    /// Word dropout on the source side (Marian's `--dropout-src`): each source token's embedding is
    /// zeroed with this probability in training, its position kept (default 0: off; in [0, 1);
    /// translation). See ``Transformer/sourceWordDropout``.
    public var sourceWordDropout: Float = 0
    /// Word dropout on the decoder's input (Marian's `--dropout-trg`; the labels are untouched)
    /// (default 0: off; in [0, 1)).
    public var targetWordDropout: Float = 0
    /// Seeds the initialization, the batch order and the dropout masks (default 1).
    public var seed: UInt64 = 1
    /// The format of the matrix products (float32, or bf16 operands with float32 sums and master weights).
    public var precision: Precision = .float32
    // limits and evaluation
    /// Stop after this many updates (default 0: no limit).
    public var maxSteps = 0
    /// Stop after this many epochs (default 0: no limit).
    public var maxEpochs = 0
    /// Stop after this many seconds of training, counted across resumes (default 0: no limit).
    public var maxSeconds: Double = 0
    /// Validate every N updates, as well as at epoch ends (default 0: epoch ends only).
    public var validateEvery = 0
    /// Stop after this many validations without a better score (default 0: never).
    public var patience = 0
    /// Keep the last N step checkpoints, written at each validation (default 0: none).
    public var keepLast = 0
    /// At the end of the run, average the last N step checkpoints and keep the mean as model.safetensors
    /// when it validates better than the best single model (default 0: off; at least N step checkpoints
    /// are kept).
    public var averageLast = 0
    /// Beam size of the validation translations (default 1: greedy; 1...256).
    public var validBeam = 1
    /// GNMT length penalty α of the validation translations (default 1.4).
    public var lengthPenalty: Float = 1.4
    /// A log line every N updates (default 50).
    public var logEvery = 50
    /// The thread count the run was started with, recorded only (0: all cores); a run's threads come
    /// from ``TrainingRun/Options/threads``.
    public var threads = 0
    /// checkpoint_last every N updates without validating (0: off), and at least every so many
    /// seconds of training (0: off), so that a crash loses little whatever the epoch's length.
    public var saveEvery = 0
    /// The interval of the time-based saves of checkpoint_last, in seconds (default 600; 0: off).
    public var saveSeconds: Double = 600
    /// An epoch-end validation closer than this to the previous validation is skipped (small
    /// corpora end epochs every few seconds); validations due by `validateEvery` always run.
    public var minValidateSeconds: Double = 60

    /// The defaults above (not a recipe: see ``TrainingRun/settings(for:pairs:)``).
    public init() {}

    enum CodingKeys: String, CodingKey {
        case mode, source, target, data, validSource = "valid_source", validTarget = "valid_target", maxLength = "max_length"
        case batchTokens = "batch_tokens", updateFreq = "update_freq", blockSize = "block_size", batchSize = "batch_size"
        case validFraction = "valid_fraction", evalBatches = "eval_batches", optimizer, lr, minLR = "min_lr"
        case warmupSteps = "warmup_steps", schedule, beta1, beta2, adamEps = "adam_eps", weightDecay = "weight_decay"
        case clipNorm = "clip_norm", labelSmoothing = "label_smoothing", seed, maxSteps = "max_steps"
        case maxEpochs = "max_epochs", maxSeconds = "max_seconds", validateEvery = "validate_every", patience
        case keepLast = "keep_last", validBeam = "valid_beam", lengthPenalty = "length_penalty", logEvery = "log_every"
        case threads, saveEvery = "save_every", saveSeconds = "save_seconds", minValidateSeconds = "min_validate_seconds"
        case precision, averageLast = "average_last", bpeDropout = "bpe_dropout", rdropAlpha = "rdrop_alpha"
        case sourceWordDropout = "source_word_dropout", targetWordDropout = "target_word_dropout"
    }

    /// Decodes train.json; every field is optional and an absent one keeps its default.
    public init(from decoder: Decoder) throws {
        // Every field is optional in train.json (older files lack the newer ones); absent ones keep the defaults.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var s = TrainSettings()
        func get<T: Decodable>(_ k: CodingKeys, _ v: inout T) throws { if let x = try c.decodeIfPresent(T.self, forKey: k) { v = x } }
        try get(.mode, &s.mode); s.source = try c.decodeIfPresent(String.self, forKey: .source)
        s.target = try c.decodeIfPresent(String.self, forKey: .target); s.data = try c.decodeIfPresent(String.self, forKey: .data)
        s.validSource = try c.decodeIfPresent(String.self, forKey: .validSource)
        s.validTarget = try c.decodeIfPresent(String.self, forKey: .validTarget)
        try get(.maxLength, &s.maxLength); try get(.batchTokens, &s.batchTokens); try get(.updateFreq, &s.updateFreq)
        try get(.blockSize, &s.blockSize); try get(.batchSize, &s.batchSize); try get(.validFraction, &s.validFraction)
        try get(.evalBatches, &s.evalBatches); try get(.optimizer, &s.optimizer); try get(.lr, &s.lr); try get(.minLR, &s.minLR)
        try get(.warmupSteps, &s.warmupSteps); try get(.schedule, &s.schedule); try get(.beta1, &s.beta1); try get(.beta2, &s.beta2)
        try get(.adamEps, &s.adamEps); try get(.weightDecay, &s.weightDecay); try get(.clipNorm, &s.clipNorm)
        try get(.labelSmoothing, &s.labelSmoothing); try get(.seed, &s.seed); try get(.maxSteps, &s.maxSteps)
        try get(.maxEpochs, &s.maxEpochs); try get(.maxSeconds, &s.maxSeconds); try get(.validateEvery, &s.validateEvery)
        try get(.patience, &s.patience); try get(.keepLast, &s.keepLast); try get(.validBeam, &s.validBeam)
        try get(.lengthPenalty, &s.lengthPenalty); try get(.logEvery, &s.logEvery); try get(.threads, &s.threads)
        try get(.saveEvery, &s.saveEvery); try get(.saveSeconds, &s.saveSeconds)
        try get(.minValidateSeconds, &s.minValidateSeconds); try get(.precision, &s.precision)
        try get(.averageLast, &s.averageLast); try get(.bpeDropout, &s.bpeDropout)
        try get(.rdropAlpha, &s.rdropAlpha)
        try get(.sourceWordDropout, &s.sourceWordDropout); try get(.targetWordDropout, &s.targetWordDropout)
        self = s
    }

    /// Checks that the settings can train; the message names the `seq2seq train` flag to change.
    /// - Throws: ``TrainError/settings(_:)`` for the first setting out of range.
    public func validate() throws {
        func fail(_ m: String) -> TrainError { .settings(m) }
        if !(lr > 0) || !lr.isFinite { throw fail("--lr must be a positive finite number") }
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { throw fail("Adam's β1 and β2 (--beta2) must be in [0, 1)") }
        if !(adamEps > 0) || !adamEps.isFinite { throw fail("Adam's epsilon must be positive") }
        if !(weightDecay >= 0) || !weightDecay.isFinite { throw fail("--weight-decay must be a finite number ≥ 0") }
        if !(clipNorm >= 0) || !clipNorm.isFinite { throw fail("--clip-norm must be a finite number ≥ 0") }
        if warmupSteps < 0 { throw fail("--warmup-steps must not be negative") }
        if validateEvery < 0 || patience < 0 || keepLast < 0 { throw fail("--validate-every, --patience and --keep-last must not be negative") }
        if averageLast < 0 || averageLast == 1 { throw fail("--average-last must be 0 (off) or at least 2 (got \(averageLast))") }
        if validBeam < 1 || validBeam > 256 { throw fail("--valid-beam must be between 1 and 256") }
        if !lengthPenalty.isFinite || lengthPenalty < 0 { throw fail("--length-penalty must be a finite number ≥ 0") }
        if evalBatches < 0 { throw fail("--eval-batches must not be negative") }
        if threads < 0 { throw fail("--threads must not be negative") }
        if !maxSeconds.isFinite { throw fail("--max-time must be finite") }
        if !(minValidateSeconds >= 0) || !minValidateSeconds.isFinite { throw fail("--min-validate-interval must be a finite duration") }
        if saveEvery < 0 || !(saveSeconds >= 0) || !saveSeconds.isFinite { throw fail("--save-every and --save-interval must not be negative") }
        if minLR < 0 || minLR > lr { throw fail("--min-lr must be between 0 and --lr") }
        if batchTokens < 8 { throw fail("--batch-tokens must be at least 8") }
        if updateFreq < 1 { throw fail("--update-freq must be at least 1") }
        if !(0..<1).contains(labelSmoothing) { throw fail("--label-smoothing must be in [0, 1)") }
        if !(rdropAlpha >= 0) || !rdropAlpha.isFinite { throw fail("--rdrop-alpha must be a finite number ≥ 0") }
        if !(0..<1).contains(bpeDropout) { throw fail("--bpe-dropout must be in [0, 1)") }
        if !(0..<1).contains(sourceWordDropout) || !(0..<1).contains(targetWordDropout) {
            throw fail("--source-word-dropout and --target-word-dropout must be in [0, 1)")
        }
        if sourceWordDropout > 0 && mode == .languageModel {
            throw fail("--source-word-dropout applies to translation; a language model has only --target-word-dropout")
        }
        if bpeDropout > 0 && mode == .languageModel { throw fail("--bpe-dropout applies to translation, not --lm") }
        if bpeDropout > 0 && data != nil {
            throw fail("--bpe-dropout segments the text anew each epoch: give --src and --tgt instead of a prepared --data corpus")
        }
        if mode == .languageModel && (blockSize < 1 || batchSize < 1) { throw fail("--block-size and --batch-size must be positive") }
        if mode == .languageModel && !(0.0..<1.0).contains(validFraction) { throw fail("--valid-fraction must be in [0, 1)") }
        if schedule == .cosine && maxSteps <= 0 && maxSeconds <= 0 { throw fail("the cosine schedule needs --max-steps or --max-time (it decays to --min-lr at the end of the run)") }
        if maxSteps < 0 || maxEpochs < 0 || maxSeconds < 0 { throw fail("limits must not be negative") }
        if maxLength < 1 || maxLength > Int(UInt16.max) { throw fail("--max-length must be between 1 and \(UInt16.max)") }
        if logEvery < 1 { throw fail("--log-every must be at least 1") }
    }

    /// train.json's bytes: pretty-printed with sorted keys.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// Why training cannot go on.
public enum TrainError: Error, CustomStringConvertible {
    /// A training setting is out of range; the message names the flag.
    case settings(String)
    /// The run stopped after this many consecutive updates with a NaN or infinite loss or gradient norm.
    case diverged(Int)
    /// A checkpoint cannot be resumed from (file, reason).
    case checkpoint(String, String)

    /// The message, with what to do.
    public var description: String {
        switch self {
        case .settings(let m): return "invalid training settings: \(m)"
        case .diverged(let n):
            return "training stopped: \(n) consecutive steps had a NaN or infinite loss or gradient; lower --lr or raise --warmup-steps"
        case .checkpoint(let f, let m): return "\(f): \(m)"
        }
    }
}

/// "90s", "60m", "1h30m", "2h", "45" (seconds) → seconds.
///
/// Units may be combined ("1h30m", "1.5h"); a bare number is seconds. Returns nil for anything else,
/// a negative number, or a number without a unit after a unit ("1h30"); an empty string gives 0.
public func parseDuration(_ s: String) -> Double? {
    if let v = Double(s) { return v >= 0 && v.isFinite ? v : nil }
    var total = 0.0, number = ""
    for ch in s {
        if ch.isNumber || ch == "." { number.append(ch); continue }
        guard let v = Double(number) else { return nil }
        switch ch {
        case "h": total += v * 3600
        case "m": total += v * 60
        case "s": total += v
        default: return nil
        }
        number = ""
    }
    return number.isEmpty && total.isFinite ? total : nil
}
