import Foundation

extension TrainingRun {
    /// The run's vocabulary: the model directory's (a resumed run, or one an earlier attempt
    /// saved), else that of the model `--init-from` names, else the one `options.vocabulary` names, else the prepared corpus's, else a
    /// learned one (`learnVocabulary`).
    func chooseVocabulary(_ settings: TrainSettings, say: (String) -> Void) throws -> Vocabularies {
        if options.resume || Vocabularies.exists(in: directory) { return try Vocabularies.load(from: directory) }
        if let dir = initDirectory {
            let given: Vocabularies?
            switch options.vocabulary {
            case .load(let path): given = try Self.loadVocabulary(path)
            case .automatic: given = try settings.data.map { try Vocabularies.load(from: $0) }
            case .learnBPE, .learnCharacters:
                throw TrainingRunError.invalidOption("--vocab bpe or char learns a new vocabulary, but the model of --init-from \(dir) keeps its own (its token table is trained on it): leave --vocab out")
            }
            return try initVocabulary(from: dir, given: given)
        }
        switch options.vocabulary {
        case .load(let path): return try Self.loadVocabulary(path)
        case .automatic:
            if let d = settings.data { return try Vocabularies.load(from: d) }
            return try learnVocabulary(characters: options.isLanguageModel, say: say)
        case .learnBPE: return try learnVocabulary(characters: false, say: say)
        case .learnCharacters: return try learnVocabulary(characters: true, say: say)
        }
    }

    /// A vocabulary directory, or a tokenizer.json file (a joint vocabulary).
    public static func loadVocabulary(_ path: String) throws -> Vocabularies {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            return Vocabularies(joint: try Vocabulary.load(path))
        }
        return try Vocabularies.load(from: path)
    }

    /// Learns a vocabulary from the training text: BPE of `learnedVocabularySize(pairs:)` entries
    /// (joint, or one per side with `separateVocabularies`), or the characters of a language model's text.
    func learnVocabulary(characters: Bool, say: (String) -> Void) throws -> Vocabularies {
        let t0 = Date()
        let o = options
        if o.isLanguageModel {
            guard let text = o.text else {
                throw TrainingRunError.invalidOption("learning a vocabulary needs the text: give --text FILE, or --vocab DIR or FILE")
            }
            let raw = try TextFile.readLines(text, lenient: o.lenient).lines  // the corpus preparation reports repairs
            if !characters {
                let v = try Vocabulary.learn(lines: raw, size: o.learnedVocabularySize(pairs: nil), normalizer: o.normalizer)
                say("learned a BPE vocabulary of \(v.count) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
                return Vocabularies(joint: v)
            }
            var n = o.normalizer
            n.cleanWhitespace = false
            let v = try Vocabulary.characters(of: raw.joined(separator: "\n") + "\n", normalizer: n)
            say("character vocabulary: \(v.count - Vocabulary.firstPieceId) characters (+ specials and byte fallback)")
            return Vocabularies(joint: v)
        }
        guard !characters else {
            throw TrainingRunError.invalidOption("--vocab char learns a character vocabulary for a language model (--lm); translation learns BPE (--vocab bpe, the default) or uses a given vocabulary (--vocab DIR or FILE)")
        }
        guard let source = o.source, let target = o.target else {
            throw TrainingRunError.invalidOption("learning a vocabulary needs the text: give --src and --tgt, or --vocab DIR or FILE")
        }
        let srcLines = try readLines(source, say: say), tgtLines = try readLines(target, say: say)
        // The preset a run without --preset trains is chosen by the pairs prepared after this; the
        // lines stand for them here (they differ by the empty and overlong pairs left out).
        let size = try o.learnedVocabularySize(pairs: srcLines.count)
        let v = try Vocabularies.learn(source: srcLines, target: tgtLines, size: size, normalizer: o.normalizer,
                                       separate: o.separateVocabularies)
        say("learned a \(v.joint ? "joint" : "separate") BPE vocabulary (\(v.target.count)) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        return v
    }

    /// The lines of a text file; invalid UTF-8 names the file and line unless `lenient`.
    func readLines(_ path: String, say: (String) -> Void) throws -> [String] {
        let (lines, repaired) = try TextFile.readLines(path, lenient: options.lenient)
        if repaired > 0 { say("\(path): replaced invalid UTF-8 on \(repaired) lines") }
        return lines
    }
}

extension TrainingRun.Options {
    /// The size of the BPE vocabulary a run learns: ``vocabularySize`` (`--vocab-size`), else for
    /// translation the preset's (``TranslationPreset/vocabularySize``: the one `--preset` names, or
    /// the one a corpus of `pairs` training pairs chooses, ``TranslationPreset/default(pairs:)``),
    /// and for a language model ``languageModelVocabularySize``.
    /// - Throws: ``TrainingRunError/invalidOption(_:)`` for an unknown preset name.
    public func learnedVocabularySize(pairs: Int?) throws(TrainingRunError) -> Int {
        if let vocabularySize { return vocabularySize }
        if isLanguageModel { return Self.languageModelVocabularySize }
        return try architecture.translationPreset(pairs: pairs).vocabularySize
    }
}
