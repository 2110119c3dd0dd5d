import Foundation

extension TrainingRun {
    /// Rank 0's part: the vocabulary, the prepared corpus, config.json and train.json, each checked
    /// before the next is written.
    func prepareDirectory(say: @escaping (String) -> Void) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try clearPreviousRun(say: say)
        var settings = try runSettings()
        let vocabs = try chooseVocabulary(settings, say: say)
        let pairs = try prepareCorpus(settings, vocabularies: vocabs, say: say)
        let config: ModelConfig
        if options.resume {
            config = try ModelDirectory.loadConfig(directory)
        } else {
            // Without --preset the corpus chooses a translation model's preset and with it the recipe.
            if let pairs, options.task == .translation, options.architecture.preset == nil, initDirectory == nil {
                settings = try runSettings(pairs: pairs)
                say(TranslationPreset.defaultChoice(pairs: pairs))
            }
            config = try modelConfig(settings: settings, vocabularies: vocabs, pairs: pairs)
        }
        if !options.resume { try vocabs.save(to: directory) }
        try writeAtomically(config.jsonData(), to: "\(directory)/\(ModelDirectory.configFile)")
        try writeAtomically(settings.jsonData(), to: "\(directory)/\(TrainingFiles.settings)")
    }

    /// Another run's work is never replaced by accident: a directory that holds a run is an error
    /// unless resuming, or overwriting, which removes the run's files (`runFiles`, step checkpoints,
    /// the prepared corpus) and nothing else.
    func clearPreviousRun(say: (String) -> Void) throws {
        let fm = FileManager.default
        let trained = [TrainingFiles.last, ModelDirectory.weightsFile, TrainingFiles.settings].filter { fm.fileExists(atPath: "\(directory)/\($0)") }
        guard !options.resume && !trained.isEmpty else { return }
        guard options.overwrite else {
            throw TrainingRunError.input("\(directory) holds another run (\(trained.joined(separator: ", "))); pass --resume to continue it, --overwrite to start over, or choose another --model")
        }
        let old = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        for f in old where Self.runFiles.contains(f) || (f.hasPrefix("checkpoint_step") && f.hasSuffix(".safetensors")) {
            try fm.removeItem(atPath: "\(directory)/\(f)")
        }
        try? fm.removeItem(atPath: "\(directory)/\(TrainingCorpus.directoryName)")
        say("--overwrite: removed the previous run's files from \(directory)")
    }

    /// Training data: `data` as it is, or the text prepared into the model directory (once: a
    /// resumed run maps it again).
    /// - Returns: The corpus's pairs or blocks (nil for a `data` corpus whose header is unreadable: the
    ///   training data's loading reports why).
    func prepareCorpus(_ settings: TrainSettings, vocabularies: Vocabularies, say: @escaping (String) -> Void) throws -> Int? {
        if let data = settings.data { return try? PreparedCorpus.readHeader(data).pairs }
        let dir = "\(directory)/\(TrainingCorpus.directoryName)"
        var p = CorpusPreparer()
        p.maxLength = settings.maxLength; p.lenient = options.lenient; p.log = say
        let files: [String]
        switch (settings.mode, settings.source, settings.target) {
        case (.languageModel, _, let text?): files = [text]
        case (.translation, let source?, let target?): files = [source, target]
        default:
            // Only a train.json written by hand gets here: the options always name the data.
            throw TrainingRunError.input("\(directory)/\(TrainingFiles.settings) names no training data (\(settings.mode == .languageModel ? "target" : "source and target") or data); --resume needs the train.json that training wrote")
        }
        switch try TrainingCorpus.ensure(files: files, vocabularies: vocabularies, preparer: p, directory: dir,
                                         resuming: options.resume, log: say) {
        case .prepared(let h):
            if h.repairedLines > 0 { say("replaced invalid UTF-8 on \(h.repairedLines) lines") }
            say(String(format: "prepared the corpus in %.1f s into %@ (%.1f MB)", h.seconds, dir, Double(TrainingCorpus.diskBytes(dir)) / 1e6))
            return h.pairs
        case .reused(let h):
            say("using the corpus prepared in \(dir)")
            return h.pairs
        }
    }
}
