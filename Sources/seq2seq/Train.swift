import ArgumentParser
import Foundation
import Seq2SeqKit

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
    @Option(help: "Named configuration: small (d 256, 3+3 layers), base (d 512, 6+6); for --lm: small is nanoGPT's CPU model.")
    var preset = "small"
    @Option(help: "Width.") var dModel: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(help: "Feed-forward width.") var dFF: Int?
    @Option(help: "Encoder layers.") var encoderLayers: Int?
    @Option(help: "Decoder layers.") var decoderLayers: Int?
    @Option(help: "Encoder and decoder layers.") var layers: Int?
    @Option(help: "Dropout (default: 0.2 for translation, 0 for --lm).") var dropout: Float?
    @Option(help: "pre or post LayerNorm.") var norm: ModelConfig.Norm?
    @Option(help: "relu, gelu or silu.") var activation: Activation?
    @Option(help: "sinusoidal or learned positions.") var positional: ModelConfig.Positional?
    @Option(help: "Longest sequence the positions cover.") var maxPositions: Int?
    @Option(help: "Share source and target embeddings (true/false; default: true with a joint vocabulary).")
    var shareEmbeddings: Bool?
    @Option(help: "Tie the output projection to the target embedding (true/false).") var tieOutput: Bool?

    func config(lm: Bool) throws -> ModelConfig {
        var c: ModelConfig
        if lm {
            guard preset == "small" || preset == "gpt-small" else { throw ValidationError("--lm knows the preset small") }
            c = ModelConfig(srcVocabSize: 0, dModel: 128, nHeads: 4, dFF: 512, encoderLayers: 0, decoderLayers: 4,
                            maxPositions: 64, positional: .learned, norm: .pre, activation: .gelu, scaleEmbedding: false,
                            dropout: 0)
        } else {
            guard let p = ModelConfig.preset(preset) else {
                throw ValidationError("unknown preset '\(preset)'; choose one of \(ModelConfig.presetNames.joined(separator: ", "))")
            }
            c = p
        }
        if let v = dModel { c.dModel = v }
        if let v = heads { c.nHeads = v }
        if let v = dFF { c.dFF = v }
        if let v = layers { c.decoderLayers = v; if !lm { c.encoderLayers = v } }
        if let v = encoderLayers, !lm { c.encoderLayers = v }
        if let v = decoderLayers { c.decoderLayers = v }
        c.dropout = dropout ?? (lm ? 0 : 0.2)
        if let v = norm { c.norm = v }
        if let v = activation { c.activation = v }
        if let v = positional { c.positional = v }
        if let v = maxPositions { c.maxPositions = v }
        if let v = tieOutput { c.tieOutput = v }
        return c
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
    @Option(help: "Vocabulary: a directory or tokenizer.json to use; or 'char' / 'bpe' to learn one (default: learn BPE, or char for --lm).")
    var vocab: String?
    @Option(help: "Size of a learned BPE vocabulary.") var vocabSize = 8000
    @Flag(help: "Learn separate source and target vocabularies.") var separateVocab = false
    @OptionGroup var normalization: NormalizationOptions
    @Option(help: "Skip pairs with a side longer than this many tokens.") var maxLength = 128
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false

    @OptionGroup var modelOptions: ModelOptions

    // Optimization
    @Option(help: "Peak learning rate.") var lr: Float?
    @Option(help: "Floor of the learning rate.") var minLR: Float?
    @Option(help: "Warm-up steps.") var warmupSteps: Int?
    @Option(help: "inverse-sqrt (default) or cosine (default for --lm).") var schedule: LRSchedule?
    @Option(help: "adam (default) or adamw (default for --lm).") var optimizer: TrainSettings.Optimizer?
    @Option(help: "AdamW weight decay (matrices only).") var weightDecay: Float?
    @Option(help: "Adam β2.") var beta2: Float?
    @Option(help: "Label smoothing.") var labelSmoothing: Float?
    @Option(help: "Tokens per batch and side (sentences × longest).") var batchTokens = 4096
    @Option(help: "Batches per update and rank (gradient accumulation; default 1). With --resume it may change, e.g. when the number of ranks does.") var updateFreq: Int?
    @Option(help: "Clip the gradient norm to this (0: off).") var clipNorm: Float = 1
    @Option(help: "Random seed (batches, dropout, initialization).") var seed: UInt64 = 1
    @Option(help: "Matrix products in float32 (default) or bf16 (bfloat16 operands, float32 sums and master weights; needs AVX-512). With --resume it may change.") var precision: Precision?
    // LM data
    @Option(help: "--lm: tokens per training block.") var blockSize = 64
    @Option(help: "--lm: blocks per batch.") var batchSize = 12
    @Option(help: "--lm: held-out tail of the text for validation.") var validFraction = 0.1
    @Option(help: "--lm: validation batches.") var evalBatches = 20

    // Limits and evaluation
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(help: "Stop after this many epochs.") var maxEpochs: Int?
    @Option(help: "Stop after this long, e.g. 90s, 60m, 1h30m.") var maxTime: String?
    @Option(help: "Validate every N updates as well as at epoch ends (default: epoch ends only, at most every --min-validate-interval; 250 for --lm).") var validateEvery: Int?
    @Option(help: "Stop after N validations without a better score (0: never).") var patience = 0
    @Option(help: "Also keep the last N step checkpoints (for `seq2seq average`).") var keepLast = 0
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
    @Option(help: "Start from the weights of this model directory or .safetensors file.") var initFrom: String?
    @Flag(inversion: .prefixedNo, help: "Under mpirun: reduce each layer's gradients while the backward pass goes on (MPI_Iallreduce), instead of all of them after it.")
    var overlapReduction = true
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if data != nil && (src != nil || tgt != nil || text != nil) {
            throw ValidationError("--data replaces --src/--tgt (and --text): give one or the other")
        }
        if lm {
            if text == nil && data == nil && !resume { throw ValidationError("--lm needs --text FILE (or --data DIR from `seq2seq prepare --lm`)") }
        } else if !resume && data == nil && (src == nil || tgt == nil) {
            throw ValidationError("give --src and --tgt (line-aligned training text), --data DIR (from `seq2seq prepare`), or --lm --text FILE")
        }
        if (validSrc == nil) != (validTgt == nil) { throw ValidationError("give both --valid-src and --valid-tgt") }
        // Model shape (config.json's own checks follow once the vocabulary is known).
        let m = modelOptions
        _ = try m.config(lm: lm)  // an unknown preset is a flag error before any file is read
        try Check.int(m.dModel, "--d-model", 1...65_536)
        try Check.int(m.heads, "--heads", 1...1024)
        try Check.int(m.dFF, "--d-ff", 1...1_048_576)
        try Check.int(m.encoderLayers, "--encoder-layers", 0...256)
        try Check.int(m.decoderLayers, "--decoder-layers", 1...256)
        try Check.int(m.layers, "--layers", 1...256)
        try Check.real(m.dropout, "--dropout", 0...0.95)
        try Check.int(m.maxPositions, "--max-positions", 1...1_048_576)
        // Optimization, data, limits.
        try Check.int(vocabSize, "--vocab-size", (Vocabulary.firstPieceId + 1)...1_000_000)
        try Check.int(maxLength, "--max-length", 1...65_535)
        try Check.real(lr, "--lr", 0...10, open: true)
        try Check.real(minLR, "--min-lr", 0...10)
        try Check.int(warmupSteps, "--warmup-steps", 0...100_000_000)
        try Check.real(weightDecay, "--weight-decay", 0...10)
        try Check.real(beta2, "--beta2", 0...1, open: true)
        if let b = beta2, b >= 1 { throw ValidationError("--beta2 must be below 1 (got \(b))") }
        try Check.real(labelSmoothing, "--label-smoothing", 0...0.99)
        try Check.int(batchTokens, "--batch-tokens", 8...10_000_000)
        try Check.int(updateFreq, "--update-freq", 1...100_000)
        try Check.real(clipNorm, "--clip-norm", 0...1e9)
        try Check.int(blockSize, "--block-size", 1...1_048_576)
        try Check.int(batchSize, "--batch-size", 1...1_000_000)
        try Check.real(validFraction, "--valid-fraction", 0...0.99)
        try Check.int(evalBatches, "--eval-batches", 0...1_000_000)
        try Check.int(maxSteps, "--max-steps", 0...Int(Int32.max))
        try Check.int(maxEpochs, "--max-epochs", 0...1_000_000)
        try Check.int(validateEvery, "--validate-every", 0...Int(Int32.max))
        try Check.int(patience, "--patience", 0...1_000_000)
        try Check.int(keepLast, "--keep-last", 0...10_000)
        try Check.int(validBeam, "--valid-beam", 1...256)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        try Check.int(logEvery, "--log-every", 1...Int(Int32.max))
        if let t = maxTime, parseDuration(t) == nil { throw ValidationError("--max-time '\(t)': use a duration like 90s, 60m or 1h30m") }
        if parseDuration(minValidateInterval) == nil { throw ValidationError("--min-validate-interval '\(minValidateInterval)': use a duration like 30s or 5m (0: every epoch end)") }
        if parseDuration(saveInterval) == nil { throw ValidationError("--save-interval '\(saveInterval)': use a duration like 90s, 10m or 1h (0: off)") }
        try Check.int(saveEvery, "--save-every", 0...Int(Int32.max))
        if resume && overwrite { throw ValidationError("--resume continues a run, --overwrite starts over: give one of them") }
    }

    func settings() -> TrainSettings {
        var s = TrainSettings()
        s.mode = lm ? .languageModel : .translation
        s.source = lm ? nil : src
        s.target = lm ? text : tgt
        s.data = data
        s.validSource = validSrc; s.validTarget = validTgt
        s.maxLength = maxLength; s.batchTokens = batchTokens; s.updateFreq = updateFreq ?? 1
        s.blockSize = blockSize; s.batchSize = batchSize; s.validFraction = validFraction; s.evalBatches = evalBatches
        if lm {  // nanoGPT's defaults
            s.optimizer = .adamw; s.schedule = .cosine; s.lr = 1e-3; s.minLR = 1e-4; s.warmupSteps = 100
            s.beta2 = 0.99; s.weightDecay = 0.1; s.adamEps = 1e-8; s.labelSmoothing = 0; s.maxSteps = 2000
            s.validateEvery = 250
        } else {
            // The Multi30k recipe (40.4 BLEU on test2016 in 60 minutes on 2 cores, see the README).
            s.optimizer = .adam; s.schedule = .inverseSqrt; s.lr = 1e-3; s.warmupSteps = 500; s.validateEvery = 0
            s.lengthPenalty = 1.4
        }
        if let v = lr { s.lr = v }
        if let v = minLR { s.minLR = v }
        if let v = warmupSteps { s.warmupSteps = v }
        if let v = schedule { s.schedule = v }
        if let v = optimizer { s.optimizer = v }
        if let v = weightDecay { s.weightDecay = v }
        if let v = beta2 { s.beta2 = v }
        if let v = labelSmoothing { s.labelSmoothing = v }
        s.clipNorm = clipNorm; s.seed = seed
        if let v = precision { s.precision = v }
        if let v = maxSteps { s.maxSteps = v }
        if let v = maxEpochs { s.maxEpochs = v }
        if let t = maxTime { s.maxSeconds = parseDuration(t)! }
        if let v = validateEvery { s.validateEvery = v }
        s.patience = patience; s.keepLast = keepLast; s.validBeam = validBeam; s.lengthPenalty = lengthPenalty
        s.logEvery = logEvery; s.threads = compute.threads ?? 0
        s.saveEvery = saveEvery; s.saveSeconds = parseDuration(saveInterval) ?? 600
        s.minValidateSeconds = parseDuration(minValidateInterval) ?? 60
        return s
    }

    func run() throws {
        // Before any thread starts (MPI's, OpenMP's): see StopSignals.
        StopSignals.install()
        // Under mpirun every process runs this command; MPI starts only then.
        let world: Communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcess()
        let mpi = world as? MPICommunicator
        do {
            try train(world)
        } catch {
            if let mpi, mpi.size > 1 {
                // The other ranks may be waiting in a collective: end them all.
                stderrLine("seq2seq train, rank \(mpi.rank) of \(mpi.size): error: \(error)")
                mpi.abort(code: 1)
            }
            mpi?.finalize()
            throw error
        }
        mpi?.finalize()
    }

    /// The settings of this run: the flags, or with --resume the saved ones (limits given now override them).
    func runSettings() throws -> TrainSettings {
        var settings = settings()
        if resume {
            let path = "\(model)/\(TrainingFiles.settings)"
            guard let data = fm.contents(atPath: path), let saved = try? JSONDecoder().decode(TrainSettings.self, from: data) else {
                throw InputError("\(path): missing or unreadable; --resume needs a directory that training wrote")
            }
            let given = settings
            settings = saved
            if maxSteps != nil { settings.maxSteps = given.maxSteps }
            if maxEpochs != nil { settings.maxEpochs = given.maxEpochs }
            if maxTime != nil { settings.maxSeconds = given.maxSeconds }
            if updateFreq != nil { settings.updateFreq = given.updateFreq }
            if precision != nil { settings.precision = given.precision }
        }
        try settings.validate()
        return settings
    }

    func train(_ world: Communicator) throws {
        let main = world.isMain
        let say: (String) -> Void = { if main { stderrLine($0) } }
        if compute.threads == nil, let mpi = world as? MPICommunicator {
            Threads.set(max(1, Threads.available / max(1, mpi.localSize)))  // ranks on one host share its cores
        } else {
            compute.apply()
        }
        if world.size > 1 {
            stderrLine("rank \(world.rank) of \(world.size) on \(ProcessInfo.processInfo.hostName) (pid \(getpid())), \(Threads.count) threads")
        }
        // Rank 0 makes the model directory (vocabulary, prepared corpus, config.json, train.json);
        // then every rank reads the same files, so all start from identical settings.
        if main {
            if resume { say("resuming with \(model)/\(TrainingFiles.settings)'s settings; applied from this command: --max-steps, --max-epochs, --max-time, --update-freq and --precision when given (other training flags are ignored)") }
            try prepareDirectory(runSettings(), say: say)
        }
        try world.barrier()
        let settingsPath = "\(model)/\(TrainingFiles.settings)"
        guard let saved = fm.contents(atPath: settingsPath), let settings = try? JSONDecoder().decode(TrainSettings.self, from: saved) else {
            throw InputError("\(settingsPath): unreadable; with several machines the model directory must be on a shared file system")
        }
        let run = settings  // with the limits given now (rank 0 wrote them into train.json)
        let vocabs = try Vocabularies.load(from: model)
        let config = try ModelDirectory.loadConfig(model)
        let net = try Transformer(config: config)
        net.initialize(seed: run.seed)
        if let from = initFrom, !resume {
            let path = from.hasSuffix(".safetensors") ? from : "\(from)/\(ModelDirectory.weightsFile)"
            try net.loadWeights(from: SafeTensors(contentsOf: path)) { $0.hasPrefix("optimizer.") }
            say("initialized from \(path)")
        }

        // Data: the prepared corpus, memory-mapped.
        let dataDir = run.data ?? "\(model)/\(TrainingCorpus.directoryName)"
        let corpus = try PreparedCorpus(directory: dataDir)
        try corpus.check(against: vocabs)
        let stream: BatchStream
        var validSources: [[Int32]] = [], validRefs: [String] = []
        if run.mode == .languageModel {
            guard corpus.header.kind == .text else {
                throw InputError("\(dataDir): a parallel corpus; --lm trains on text prepared with `seq2seq prepare --lm --text FILE`")
            }
            let n = corpus.tokenCount
            let cut = Int(Double(n) * (1 - run.validFraction))
            guard cut > run.blockSize + 1 else {
                throw InputError("\(dataDir): only \(n) tokens; an LM needs more than --block-size of training text")
            }
            say("text: \(n) tokens (\(cut) train, \(n - cut) validation), vocabulary \(vocabs.target.count)")
            stream = BlockStream(train: TokenSlice(corpus, 0..<cut), valid: TokenSlice(corpus, cut..<n), blockSize: run.blockSize,
                                 batchSize: run.batchSize, evalBatches: run.evalBatches, seed: run.seed)
        } else {
            guard corpus.header.kind == .parallel else {
                throw InputError("\(dataDir): a text corpus for --lm; translation trains on a parallel corpus (`seq2seq prepare --src F --tgt F`)")
            }
            let h = corpus.header
            say("training pairs: \(h.pairs) (skipped \(h.skippedEmpty) empty, \(h.skippedLong) longer than \(h.maxLength) tokens); \(h.sourceTokens + h.pairs) source and \(h.targetTokens + h.pairs) target tokens; memory-mapped from \(dataDir)")
            var valid: ParallelData? = nil
            // Only rank 0 validates.
            if main, let vs = run.validSource, let vt = run.validTarget {
                let s = try readText(vs, lenient: lenient), t = try readText(vt, lenient: lenient)
                guard s.count == t.count else { throw TextError.lineCountMismatch(vs, s.count, vt, t.count) }
                validSources = vocabs.source.encodeBatch(s)
                validRefs = t
                valid = ParallelData.make(sourceIds: validSources, targetIds: vocabs.target.encodeBatch(t), maxLength: run.maxLength)
            }
            stream = ParallelStream(data: corpus, valid: valid, batchTokens: run.batchTokens, seed: run.seed, config: config)
        }

        // Fingerprints a resume must match: the corpus (its files' fingerprints and counts), the vocabulary, config.json.
        var corpusPrint = Hasher64()
        corpusPrint.add("\(corpus.header.kind) \(corpus.header.pairs) \(corpus.header.tokens) " + corpus.header.files.map(\.fingerprint).joined(separator: " "))
        var configPrint = Hasher64()
        configPrint.add(String(decoding: try config.jsonData(), as: UTF8.self))
        let provenance = Provenance(corpus: corpusPrint.hex, vocabulary: vocabs.source.fingerprint + vocabs.target.fingerprint,
                                    config: configPrint.hex)
        let trainer = try Trainer(model: net, settings: run, directory: model, stream: stream, vocabularies: vocabs,
                                  validSources: validSources, validReferences: validRefs, resume: resume, communicator: world,
                                  provenance: provenance)
        let layers = config.isDecoderOnly ? "decoder-only" : "\(config.encoderLayers)+\(config.decoderLayers) layers"
        let ranks = world.size > 1 ? " × \(world.size) ranks" : ""
        let resuming = resume ? "; resuming at step \(trainer.currentStep)" : ""
        say("model: \(net.parameterCount) parameters, \(layers), d \(config.dModel); \(Threads.count) threads\(ranks)\(resuming)")
        trainer.overlapReduction = overlapReduction
        trainer.stopRequest = StopSignals.reason
        let live = main && isatty(STDERR_FILENO) != 0
        trainer.log = { line in
            guard main else { return }
            if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            say(line)
        }
        if live { trainer.status = { FileHandle.standardError.write(Data(("\r\u{1B}[K" + $0).utf8)) } }
        StopSignals.arm()
        defer { StopSignals.disarm() }
        let summary = try trainer.run()
        let best = summary.bestScore.map {
            run.mode == .translation && !validSources.isEmpty ? String(format: "best BLEU %.2f at step %d", $0, summary.bestStep)
                : String(format: "best validation loss %.4f at step %d", -$0, summary.bestStep)
        } ?? "no validation data"
        say(String(format: "done: %d steps, %d epochs, %.0f s; %@; model in %@", summary.steps, summary.epochs, summary.seconds, best, model))
    }

    /// Rank 0's part: the vocabulary, the prepared corpus, config.json and train.json, each checked
    /// before the next is written.
    func prepareDirectory(_ settings: TrainSettings, say: @escaping (String) -> Void) throws {
        try fm.createDirectory(atPath: model, withIntermediateDirectories: true)
        // Another run's work is never replaced by accident.
        let trained = [TrainingFiles.last, ModelDirectory.weightsFile, TrainingFiles.settings].filter { fm.fileExists(atPath: "\(model)/\($0)") }
        if !resume && !trained.isEmpty {
            guard overwrite else {
                throw InputError("\(model) holds another run (\(trained.joined(separator: ", "))); pass --resume to continue it, --overwrite to start over, or choose another --model")
            }
            let old = (try? fm.contentsOfDirectory(atPath: model)) ?? []
            let ours = Set([TrainingFiles.last, ModelDirectory.weightsFile, ModelDirectory.configFile, TrainingFiles.settings,
                            TrainingFiles.metrics, TrainingFiles.plot, Vocabulary.fileName, Vocabularies.sourceFile, Vocabularies.targetFile])
            for f in old where ours.contains(f) || (f.hasPrefix("checkpoint_step") && f.hasSuffix(".safetensors")) {
                try fm.removeItem(atPath: "\(model)/\(f)")
            }
            try? fm.removeItem(atPath: "\(model)/\(TrainingCorpus.directoryName)")
            say("--overwrite: removed the previous run's files from \(model)")
        }
        // Vocabulary: the model directory's, or --vocab PATH, or the prepared corpus's, or learned.
        let vocabs: Vocabularies
        if resume || Vocabularies.exists(in: model) { vocabs = try Vocabularies.load(from: model) }
        else if vocab == nil, let d = settings.data { vocabs = try Vocabularies.load(from: d) }
        else { vocabs = try prepareVocabulary(settings) }

        // Training data: --data as it is, or the text prepared into the model directory (once: a
        // resumed run maps it again).
        if settings.data == nil {
            let dir = "\(model)/\(TrainingCorpus.directoryName)"
            var p = CorpusPreparer()
            p.maxLength = settings.maxLength; p.lenient = lenient; p.log = say
            let files = settings.mode == .languageModel ? [settings.target!] : [settings.source!, settings.target!]
            switch try TrainingCorpus.ensure(files: files, vocabularies: vocabs, preparer: p, directory: dir, resuming: resume, log: say) {
            case .prepared(let h):
                if h.repairedLines > 0 { say("replaced invalid UTF-8 on \(h.repairedLines) lines") }
                say(String(format: "prepared the corpus in %.1f s into %@ (%.1f MB)", h.seconds, dir, Double(TrainingCorpus.diskBytes(dir)) / 1e6))
            case .reused: say("using the corpus prepared in \(dir)")
            }
        }

        // Model configuration.
        var config: ModelConfig
        if resume {
            config = try ModelDirectory.loadConfig(model)
        } else {
            config = try modelOptions.config(lm: lm)
            config.tgtVocabSize = vocabs.target.count
            config.srcVocabSize = lm ? 0 : vocabs.source.count
            config.shareEmbeddings = !lm && (modelOptions.shareEmbeddings ?? vocabs.joint)
            if lm { config.maxPositions = max(config.maxPositions, settings.blockSize) }
            else { config.maxPositions = max(config.maxPositions, settings.maxLength + 2) }
            try config.validate()
        }
        if !resume { try vocabs.save(to: model) }
        try writeAtomically(config.jsonData(), to: "\(model)/\(ModelDirectory.configFile)")
        try writeAtomically(settings.jsonData(), to: "\(model)/\(TrainingFiles.settings)")
    }

    func prepareVocabulary(_ s: TrainSettings) throws -> Vocabularies {
        let say = stderrLine
        if let v = vocab, v != "char", v != "bpe" {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: v, isDirectory: &isDir), !isDir.boolValue { return Vocabularies(joint: try Vocabulary.load(v)) }
            return try Vocabularies.load(from: v)
        }
        let t0 = Date()
        if lm {
            let raw = try TextFile.readLines(text!, lenient: lenient).lines
            if vocab == "bpe" {
                let v = Vocabulary.learn(lines: raw, size: vocabSize, normalizer: normalization.normalizer)
                say("learned a BPE vocabulary of \(v.count) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
                return Vocabularies(joint: v)
            }
            var n = normalization.normalizer
            n.cleanWhitespace = false
            let v = Vocabulary.characters(of: raw.joined(separator: "\n") + "\n", normalizer: n)
            say("character vocabulary: \(v.count - Vocabulary.firstPieceId) characters (+ specials and byte fallback)")
            return Vocabularies(joint: v)
        }
        let srcLines = try readText(src!, lenient: lenient), tgtLines = try readText(tgt!, lenient: lenient)
        let v = Vocabularies.learn(source: srcLines, target: tgtLines, size: vocabSize, normalizer: normalization.normalizer,
                                   separate: separateVocab)
        say("learned a \(v.joint ? "joint" : "separate") BPE vocabulary (\(v.target.count)) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        return v
    }

    private var fm: FileManager { .default }
}
