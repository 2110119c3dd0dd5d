import ArgumentParser
import Foundation
import Seq2SeqKit
import Seq2SeqDistributed

extension ModelConfig.Norm: ExpressibleByArgument {}
extension ModelConfig.Positional: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension BeamSearch.LengthNormalization: ExpressibleByArgument {}
extension BeamSearch.Style: ExpressibleByArgument {}
extension LRSchedule: ExpressibleByArgument {}
extension TrainSettings.Optimizer: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// Model-shape flags, named after config.json's fields in kebab case; each overrides the preset.
struct ModelOptions: ParsableArguments {
    @Option(help: "Named configuration and its recipe: narrow (d 128, 4+4 layers, dropout 0.3 and none on the attention weights, label smoothing 0.2, learning rate 5e-3; the default under 100,000 training pairs), small (d 256, 3+3; the default from 100,000 pairs), base (d 512, 6+6), tiny (d 160, 3+1: a distillation student); for --lm: small (nanoGPT's CPU model, 2,000 updates; the default) or medium (6 layers, d 256, 3,000 updates of 16 blocks of 256: the 30-minute character model).")
    var preset: String?
    @Option(help: "Width.") var dModel: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(help: "Feed-forward width.") var dFF: Int?
    @Option(help: "Encoder layers.") var encoderLayers: Int?
    @Option(help: "Decoder layers.") var decoderLayers: Int?
    @Option(help: "Encoder and decoder layers.") var layers: Int?
    @Option(help: "Dropout (default: the preset's: 0.3 narrow, 0.2 small, base and tiny; for --lm 0 small, 0.05 medium).") var dropout: Float?
    @Option(help: "Dropout on the attention weights (fairseq's --attention-dropout; default: 0 for narrow, the same as --dropout otherwise).") var attentionDropout: Float?
    @Option(help: "pre or post LayerNorm.") var norm: ModelConfig.Norm?
    @Option(help: "relu, gelu, gelu_tanh (GPT-2's tanh approximation) or silu.") var activation: Activation?
    @Option(help: "sinusoidal or learned positions.") var positional: ModelConfig.Positional?
    @Option(help: "Longest sequence the positions cover.") var maxPositions: Int?
    @Option(help: "Share source and target embeddings (true/false; default: true with a joint vocabulary).")
    var shareEmbeddings: Bool?
    @Option(help: "Tie the output projection to the target embedding (true/false).") var tieOutput: Bool?

    /// The library's model shape of these flags.
    var architecture: TrainingRun.Architecture {
        var a = TrainingRun.Architecture()
        a.preset = preset
        a.dModel = dModel; a.heads = heads; a.dFF = dFF
        a.encoderLayers = encoderLayers; a.decoderLayers = decoderLayers; a.layers = layers
        a.dropout = dropout; a.attentionDropout = attentionDropout; a.norm = norm; a.activation = activation; a.positional = positional
        a.maxPositions = maxPositions; a.shareEmbeddings = shareEmbeddings; a.tieOutput = tieOutput
        return a
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a translation model (or, with --lm, a GPT language model).",
        discussion: """
        Examples:
          seq2seq train --src train.de --tgt train.en --valid-src val.de --valid-tgt val.en --model runs/de-en
          seq2seq train --lm --text input.txt --model runs/shakespeare --max-steps 2000
        """
    )

    // Data
    @Option(help: "Source-side training text (one sentence per line).") var src: String?
    @Option(help: "Target-side training text, line-aligned with --src.") var tgt: String?
    @Option(help: "Source-side validation text.") var validSrc: String?
    @Option(help: "Target-side validation text.") var validTgt: String?
    @Flag(help: "Train a decoder-only language model on --text.") var lm = false
    @Option(help: "Plain text for --lm.") var text: String?
    @Option(help: "A corpus made by `seq2seq prepare` (instead of --src/--tgt, or of --text with --lm); memory-mapped.")
    var data: String?
    @Option(help: "Model directory (created; holds config.json, train.json, the vocabulary, checkpoints, metrics).")
    var model: String
    @Option(help: "Vocabulary: a directory or tokenizer.json to use; or 'bpe' / 'char' (--lm only) to learn one from the text (default: the --data corpus's; else learn BPE, or char for --lm).")
    var vocab: String?
    @Option(help: "Size of a learned BPE vocabulary (default: the preset's, 10000 for narrow and 8000 for the others; 8000 for --lm).") var vocabSize: Int?
    @Flag(help: "Learn separate source and target vocabularies.") var separateVocab = false
    @OptionGroup var normalization: NormalizationOptions
    @Option(help: "Skip pairs with a side longer than this many tokens.") var maxLength = 128
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false

    @OptionGroup var modelOptions: ModelOptions

    // Optimization
    @Option(help: "Peak learning rate (default: the preset's: 5e-3 narrow, 1e-3 small, base and tiny; 1e-3 small, 1.5e-3 medium for --lm).") var lr: Float?
    @Option(help: "Floor of the learning rate.") var minLR: Float?
    @Option(help: "Warm-up steps (default: the preset's: 2,000 narrow, 500 small, base and tiny; 100 for --lm).") var warmupSteps: Int?
    @Option(help: "inverse-sqrt (default) or cosine (down to --min-lr at the end of --max-steps or --max-time; default for --lm).") var schedule: LRSchedule?
    @Option(help: "adam (default) or adamw (default for --lm).") var optimizer: TrainSettings.Optimizer?
    @Option(help: "AdamW weight decay (matrices only).") var weightDecay: Float?
    @Option(help: "Adam β2.") var beta2: Float?
    @Option(help: "Label smoothing (default: the preset's: 0.2 narrow, 0.1 small, base and tiny, and when fine-tuning; 0 for --lm).") var labelSmoothing: Float?
    @Option(help: "BPE-dropout: segment the training text anew each epoch, skipping each merge with this probability (e.g. 0.1; default 0). Needs --src/--tgt and a BPE vocabulary.") var bpeDropout: Float?
    @Option(help: "R-Drop: train each batch twice under different dropout masks and add this weight times the symmetric KL divergence between the two outputs to the loss (e.g. 5; default 0: off). An update costs about twice as much.") var rdropAlpha: Float?
    @Option(help: "Word dropout (Marian's --dropout-src): zero each source token's embedding with this probability in training, keeping its position (default 0: off).") var sourceWordDropout: Float?
    @Option(help: "Word dropout of the decoder's input tokens (Marian's --dropout-trg; default 0: off).") var targetWordDropout: Float?
    @Option(help: "Tokens per batch and side (sentences × longest).") var batchTokens = 4096
    @Option(help: "Batches per update and rank (gradient accumulation; default 1). With --resume it may change, e.g. when the number of ranks does.") var updateFreq: Int?
    @Option(help: "Clip the gradient norm to this (0: off).") var clipNorm: Float = 1
    @Option(help: "Random seed (batches, dropout, initialization).") var seed: UInt64 = 1
    @Option(help: "Matrix products in float32, bf16 (bfloat16 operands, float32 sums and master weights; needs AVX-512) or auto (bf16 where it trains faster: processors with AMX, or AMD processors with AVX512_BF16; else float32). Default: auto. With --resume it may change.") var precision: Precision?
    // LM data
    @Option(help: "--lm: tokens per training block (default: the preset's, 64 small, 256 medium).") var blockSize: Int?
    @Option(help: "--lm: blocks per batch (default: the preset's, 12 small, 16 medium).") var batchSize: Int?
    @Option(help: "--lm: held-out tail of the text for validation.") var validFraction = 0.1
    @Option(help: "--lm: validation batches.") var evalBatches = 20

    // Limits and evaluation
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(help: "Stop after this many epochs.") var maxEpochs: Int?
    @Option(help: "Stop after this long, e.g. 90s, 60m, 1h30m.") var maxTime: String?
    @Option(help: "Validate every N updates as well as at epoch ends (default: epoch ends only, at most every --min-validate-interval; 250 for --lm).") var validateEvery: Int?
    @Option(help: "Stop after N validations without a better score (0: never).") var patience = 0
    @Option(help: "Also keep the last N step checkpoints (for `seq2seq average`).") var keepLast = 0
    @Option(help: "At the end, average the last N step checkpoints and keep the mean as model.safetensors when it validates better than the best single model (beam 5 decides when validation is greedy); 0: off. Default: 8 with the narrow preset, else 0.") var averageLast: Int?
    @Option(help: "Beam size for validation translations (1: greedy, fastest).") var validBeam = 1
    @Option(help: "GNMT length penalty α for validation translations.") var lengthPenalty: Float = 1.4
    @Option(help: "Log a line every N updates when not on a terminal.") var logEvery = 50
    @Flag(help: "Continue from checkpoint_last in --model with its settings.") var resume = false
    @Flag(help: "Start afresh in a --model directory that holds another run (its checkpoints, metrics and vocabulary are replaced).")
    var overwrite = false
    @Option(help: "Also write checkpoint_last every N updates, without validating (0: off).") var saveEvery = 0
    @Option(help: "Also write checkpoint_last at least this often, e.g. 10m (0: off).") var saveInterval = "10m"
    @Option(help: "Skip an epoch-end validation closer than this to the previous one, e.g. 60s (0: validate at every epoch end).")
    var minValidateInterval = "60s"
    @Option(help: "Fine-tune: start from this model directory (its configuration and vocabulary kept; learning rate 1e-4, or 3e-5 with --lm, unless --lr) or .safetensors file.") var initFrom: String?
    @Flag(inversion: .prefixedNo, help: "Under mpirun: reduce each layer's gradients while the backward pass goes on (MPI_Iallreduce), instead of all of them after it.")
    var overlapReduction = true
    @OptionGroup var compute: ComputeOptions

    /// The flags' own checks (durations); then the library's checks of the options they make.
    func validate() throws {
        if let t = maxTime, parseDuration(t) == nil { throw ValidationError("--max-time '\(t)': use a duration like 90s, 60m or 1h30m") }
        if parseDuration(minValidateInterval) == nil { throw ValidationError("--min-validate-interval '\(minValidateInterval)': use a duration like 30s or 5m (0: every epoch end)") }
        if parseDuration(saveInterval) == nil { throw ValidationError("--save-interval '\(saveInterval)': use a duration like 90s, 10m or 1h (0: off)") }
        do { try options().validate() } catch { throw ValidationError(error.description) }
    }

    /// The library's options of these flags.
    func options() -> TrainingRun.Options {
        var o = TrainingRun.Options(modelDirectory: model, task: lm ? .languageModel : .translation)
        o.source = src; o.target = tgt; o.validSource = validSrc; o.validTarget = validTgt
        o.text = text; o.data = data; o.lenient = lenient
        switch vocab {
        case nil: o.vocabulary = .automatic
        case "char": o.vocabulary = .learnCharacters
        case "bpe": o.vocabulary = .learnBPE
        case let path?: o.vocabulary = .load(path)
        }
        o.vocabularySize = vocabSize; o.separateVocabularies = separateVocab; o.normalizer = normalization.normalizer
        o.architecture = modelOptions.architecture
        o.lr = lr; o.minLR = minLR; o.warmupSteps = warmupSteps; o.schedule = schedule; o.optimizer = optimizer
        o.weightDecay = weightDecay; o.beta2 = beta2; o.labelSmoothing = labelSmoothing; o.bpeDropout = bpeDropout
        o.rdropAlpha = rdropAlpha; o.sourceWordDropout = sourceWordDropout; o.targetWordDropout = targetWordDropout
        o.maxLength = maxLength; o.batchTokens = batchTokens; o.updateFreq = updateFreq; o.clipNorm = clipNorm
        o.seed = seed; o.precision = precision
        o.blockSize = blockSize; o.batchSize = batchSize; o.validFraction = validFraction; o.evalBatches = evalBatches
        o.maxSteps = maxSteps; o.maxEpochs = maxEpochs; o.maxSeconds = maxTime.flatMap(parseDuration)
        o.validateEvery = validateEvery; o.patience = patience; o.keepLast = keepLast; o.averageLast = averageLast; o.validBeam = validBeam
        o.lengthPenalty = lengthPenalty; o.logEvery = logEvery
        o.saveEvery = saveEvery; o.saveSeconds = parseDuration(saveInterval) ?? 600
        o.minValidateSeconds = parseDuration(minValidateInterval) ?? 60
        o.resume = resume; o.overwrite = overwrite; o.initFrom = initFrom; o.overlapReduction = overlapReduction
        o.threads = compute.threads
        return o
    }

    func run() throws { try Self.train(options()) }

    /// Trains as a command: the first SIGINT or SIGTERM during training stops it after the update
    /// (with checkpoint_last saved), and under mpirun every process runs this, MPI started here and
    /// all ranks ended on one's error.
    static func train(_ options: TrainingRun.Options) throws {
        try runOnEveryRank("train") { try train(options, $0) }
    }

    /// The run, with its progress on standard error: a live status line on a terminal.
    static func train(_ options: TrainingRun.Options, _ world: Communicator) throws {
        let prepared = try TrainingRun(options, communicator: world).prepare(log: stderrLine)
        let trainer = prepared.trainer
        trainer.stopRequest = StopSignals.reason
        if world.isMain && isatty(STDERR_FILENO) != 0 {
            let clear = "\r\u{1B}[K"
            let line = trainer.log
            trainer.log = { FileHandle.standardError.write(Data(clear.utf8)); line($0) }
            trainer.status = { FileHandle.standardError.write(Data((clear + $0).utf8)) }
        }
        StopSignals.arm()
        defer { StopSignals.disarm() }
        try prepared.train()
    }
}

/// Runs a command that may be launched by mpirun: stop signals installed before any thread starts
/// (MPI's, OpenMP's: see StopSignals), MPI started only under mpirun, and on one rank's error all
/// ranks ended (the others may be waiting in a collective), MPI finalized either way.
func runOnEveryRank(_ command: String, _ body: (Communicator) throws -> Void) throws {
    StopSignals.install()
    let world: Communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcess()
    let mpi = world as? MPICommunicator
    do {
        try body(world)
    } catch {
        if let mpi, mpi.size > 1 {
            stderrLine("seq2seq \(command), rank \(mpi.rank) of \(mpi.size): error: \(error)")
            mpi.abort(code: 1)
        }
        mpi?.finalize()
        throw error
    }
    mpi?.finalize()
}
