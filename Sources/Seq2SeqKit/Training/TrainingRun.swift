import Foundation

/// A training run's whole lifecycle, as `seq2seq train` runs it: the model directory set up (or
/// resumed, or overwritten), the vocabulary chosen or learned, the text prepared into a
/// memory-mapped corpus, config.json and train.json written, the model built, then `Trainer`'s loop
/// with its checkpoints, validations and metrics.
///
/// ```swift
/// var options = TrainingRun.Options(modelDirectory: "runs/shakespeare", task: .languageModel)
/// options.text = "input.txt"
/// options.maxSteps = 2000
/// let summary = try TrainingRun(options).run(log: { print($0) })
/// ```
///
/// `run(log:)` does it all; `prepare(log:)` stops before the first update and hands back the
/// `Trainer`, e.g. to set its `stopRequest` and `status` (`Prepared.train()` then goes on).
///
/// Under MPI (`communicator` an `MPICommunicator` from Seq2SeqDistributed), every rank runs the same `TrainingRun`: rank 0
/// writes the model directory, then every rank reads the same files, so all start from identical
/// settings; rank 0 alone validates, writes checkpoints and reports.
public struct TrainingRun {
    /// The options of the run; ``prepare(log:)`` validates them before anything is read or written.
    public var options: Options
    /// The ranks of the run: ``SingleProcess`` (the default) on one process, an `MPICommunicator` under `mpirun`.
    public let communicator: Communicator

    /// The files of a model directory that belong to a run; `overwrite` removes them (and every
    /// `checkpoint_step*.safetensors` and the prepared corpus) before starting over.
    public static let runFiles: Set<String> = [
        TrainingFiles.last, ModelDirectory.weightsFile, ModelDirectory.configFile, TrainingFiles.settings,
        TrainingFiles.bestSingle, TrainingFiles.metrics, TrainingFiles.plot, Vocabulary.fileName, Vocabularies.sourceFile, Vocabularies.targetFile,
    ]

    /// Creates a run; nothing is checked, read or written until ``prepare(log:)`` or ``run(log:)``.
    public init(_ options: Options, communicator: Communicator = SingleProcess()) {
        self.options = options
        self.communicator = communicator
    }

    var directory: String { options.modelDirectory }

    /// Trains: `prepare(log:)`, then `Prepared.train()`.
    ///
    /// - Parameter log: progress lines (rank 0's; each rank of a distributed run also reports
    ///   its host and threads once).
    /// - Returns: the steps, epochs, time and best score of the run.
    /// - Throws: The errors of ``prepare(log:)``, then those of ``Trainer/run()`` (``TrainError/diverged(_:)``
    ///   after five non-finite steps in a row, file and communication errors).
    @discardableResult
    public func run(log: @escaping (String) -> Void = { _ in }) throws -> Trainer.Summary {
        try prepare(log: log).train()
    }

    /// Everything before the first update: checks the options, sets the threads, writes the model
    /// directory (rank 0), then on every rank loads it, builds the model and maps the corpus.
    ///
    /// - Throws: `TrainingRunError` for options and inputs it cannot use; the errors of the files
    ///   it reads (`TextError`, `VocabularyError`, `PreparedError`, `ModelError`, `TrainError`).
    public func prepare(log: @escaping (String) -> Void = { _ in }) throws -> Prepared {
        try options.validate()
        let main = communicator.isMain
        let say: (String) -> Void = { if main { log($0) } }
        applyThreads()
        if communicator.size > 1 {
            log("rank \(communicator.rank) of \(communicator.size) on \(ProcessInfo.processInfo.hostName) (pid \(getpid())), \(Threads.count) threads")
        }
        // Rank 0 makes the model directory (vocabulary, prepared corpus, config.json, train.json);
        // then every rank reads the same files, so all start from identical settings.
        if main {
            if options.resume { say("resuming with \(directory)/\(TrainingFiles.settings)'s settings; applied from this command: --max-steps, --max-epochs, --max-time, --update-freq and --precision when given (other training flags are ignored)") }
            try prepareDirectory(say: say)
        }
        try communicator.barrier()
        let settings = try savedSettings()  // with the limits given now (rank 0 wrote them into train.json)
        let vocabs = try Vocabularies.load(from: directory)
        let config = try ModelDirectory.loadConfig(directory)
        let net = try Transformer(config: config)
        net.initialize(seed: settings.seed)
        if let from = options.initFrom, !options.resume {
            let path = from.hasSuffix(".safetensors") ? from : "\(from)/\(ModelDirectory.weightsFile)"
            try net.loadWeights(from: SafeTensors(contentsOf: path)) { $0.hasPrefix("optimizer.") }
            let kept = initDirectory != nil ? " (its configuration and vocabulary kept)" : ""
            say("initialized from \(path)\(kept); learning rate \(settings.lr), \(settings.warmupSteps) warm-up steps")
        }
        let data = try trainingData(settings: settings, config: config, vocabularies: vocabs, say: say)
        let trainer = try Trainer(model: net, settings: settings, directory: directory, stream: data.stream, vocabularies: vocabs,
                                  validSources: data.validSources, validReferences: data.validReferences, resume: options.resume,
                                  communicator: communicator, provenance: data.provenance)
        let layers = config.isDecoderOnly ? "decoder-only" : "\(config.encoderLayers)+\(config.decoderLayers) layers"
        let ranks = communicator.size > 1 ? " × \(communicator.size) ranks" : ""
        let resuming = options.resume ? "; resuming at step \(trainer.currentStep)" : ""
        say("model: \(net.parameterCount) parameters, \(layers), d \(config.dModel); products in \(settings.precision.rawValue); \(Threads.count) threads\(ranks)\(resuming)")
        trainer.overlapReduction = options.overlapReduction
        trainer.log = say
        return Prepared(trainer: trainer, settings: settings, vocabularies: vocabs,
                        scoresTranslations: settings.mode == .translation && !data.validSources.isEmpty, log: say)
    }

    /// The threads option, or all cores; under MPI the ranks on one host share its cores.
    func applyThreads() {
        if let t = options.threads {
            Threads.set(t)
        } else if communicator.localSize > 1 {
            Threads.set(max(1, Threads.available / communicator.localSize))
        } else {
            Threads.set(Threads.available)
        }
    }

    /// train.json as rank 0 wrote it.
    func savedSettings() throws -> TrainSettings {
        let path = "\(directory)/\(TrainingFiles.settings)"
        guard let saved = FileManager.default.contents(atPath: path), let settings = try? JSONDecoder().decode(TrainSettings.self, from: saved) else {
            throw TrainingRunError.input("\(path): unreadable; with several machines the model directory must be on a shared file system")
        }
        return settings
    }

    /// A run ready for its first update.
    public final class Prepared {
        /// The loop: set its `stopRequest` and `status` before `train()`.
        public let trainer: Trainer
        /// The settings it trains with (train.json).
        public let settings: TrainSettings
        /// The vocabularies the run trains with, as read back from the model directory.
        public let vocabularies: Vocabularies
        let scoresTranslations: Bool
        let log: (String) -> Void

        init(trainer: Trainer, settings: TrainSettings, vocabularies: Vocabularies, scoresTranslations: Bool,
             log: @escaping (String) -> Void) {
            self.trainer = trainer; self.settings = settings; self.vocabularies = vocabularies
            self.scoresTranslations = scoresTranslations; self.log = log
        }

        /// Runs the training loop and reports how it ended ("done: …").
        @discardableResult
        public func train() throws -> Trainer.Summary {
            let summary = try trainer.run()
            let at = summary.bestAveraged.map { "the mean of steps \($0.first!)-\($0.last!)" } ?? "step \(summary.bestStep)"
            let best = summary.bestScore.map {
                scoresTranslations ? String(format: "best BLEU %.2f at %@", $0, at)
                    : String(format: "best validation loss %.4f at %@", -$0, at)
            } ?? "no validation data"
            log(String(format: "done: %d steps, %d epochs, %.0f s; %@; model in %@", summary.steps, summary.epochs, summary.seconds,
                       best, trainer.directory))
            return summary
        }
    }
}

/// Why a training run cannot start.
public enum TrainingRunError: Error, CustomStringConvertible, Equatable {
    /// An option out of range or at odds with another; the message names the `seq2seq train`
    /// flag and what to do.
    case invalidOption(String)
    /// A file or directory the run was given, or found, that it cannot use; the message names it.
    case input(String)

    /// The message: the option or file and what to do.
    public var description: String {
        switch self {
        case .invalidOption(let m), .input(let m): return m
        }
    }
}
