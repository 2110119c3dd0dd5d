import Foundation

extension TrainingRun {
    /// What the trainer reads: the batch stream, rank 0's validation translations, and the
    /// fingerprints a resume must match.
    struct TrainingData {
        var stream: BatchStream
        var validSources: [[Int32]] = []
        var validReferences: [String] = []
        var provenance: Provenance
    }

    /// The prepared corpus, memory-mapped and checked against the vocabulary, as the task's
    /// batch stream: a language model's text split into training and validation tokens, or
    /// translation pairs with the validation text (read by rank 0 alone, which validates).
    func trainingData(settings run: TrainSettings, config: ModelConfig, vocabularies vocabs: Vocabularies,
                      say: (String) -> Void) throws -> TrainingData {
        let dataDir = run.data ?? "\(directory)/\(TrainingCorpus.directoryName)"
        let corpus = try PreparedCorpus(directory: dataDir)
        try corpus.check(against: vocabs)
        let provenance = try Self.provenance(corpus: corpus, vocabularies: vocabs, config: config)
        if run.mode == .languageModel {
            guard corpus.header.kind == .text else {
                throw TrainingRunError.input("\(dataDir): a parallel corpus; --lm trains on text prepared with `seq2seq prepare --lm --text FILE`")
            }
            let (train, valid) = try Self.languageModelSplit(tokens: corpus.tokenCount, settings: run, corpus: dataDir)
            say("text: \(corpus.tokenCount) tokens (\(train.count) train, \(valid.count) validation), vocabulary \(vocabs.target.count)")
            let stream = BlockStream(train: TokenSlice(corpus, train), valid: TokenSlice(corpus, valid), blockSize: run.blockSize,
                                     batchSize: run.batchSize, evalBatches: run.evalBatches, seed: run.seed)
            return TrainingData(stream: stream, provenance: provenance)
        }
        guard corpus.header.kind == .parallel else {
            throw TrainingRunError.input("\(dataDir): a text corpus for --lm; translation trains on a parallel corpus (`seq2seq prepare --src F --tgt F`)")
        }
        let h = corpus.header
        say("training pairs: \(h.pairs) (skipped \(h.skippedEmpty) empty, \(h.skippedLong) longer than \(h.maxLength) tokens); \(h.sourceTokens + h.pairs) source and \(h.targetTokens + h.pairs) target tokens; memory-mapped from \(dataDir)")
        var valid: ParallelData? = nil, validSources: [[Int32]] = [], validReferences: [String] = []
        // Only rank 0 validates.
        if communicator.isMain, let vs = run.validSource, let vt = run.validTarget {
            let s = try readLines(vs, say: say), t = try readLines(vt, say: say)
            guard s.count == t.count else { throw TextError.lineCountMismatch(vs, s.count, vt, t.count) }
            validSources = vocabs.source.encodeBatch(s)
            validReferences = t
            valid = ParallelData.make(sourceIds: validSources, targetIds: vocabs.target.encodeBatch(t), maxLength: run.maxLength)
        }
        let resampled = try bpeDropoutCorpus(settings: run, vocabularies: vocabs, say: say)
        let stream = ParallelStream(data: corpus, valid: valid, batchTokens: run.batchTokens, seed: run.seed, config: config,
                                    resampled: resampled)
        return TrainingData(stream: stream, validSources: validSources, validReferences: validReferences, provenance: provenance)
    }

    /// With `bpeDropout` set, the training text that each epoch segments anew (every rank reads it);
    /// nil without.
    /// - Throws: when a vocabulary has no merges to drop, or the text cannot be read or is not line-aligned.
    func bpeDropoutCorpus(settings run: TrainSettings, vocabularies v: Vocabularies, say: (String) -> Void) throws -> BPEDropoutCorpus? {
        guard run.bpeDropout > 0 else { return nil }
        guard v.source.samplesSegmentations && v.target.samplesSegmentations else {
            throw TrainingRunError.input("--bpe-dropout needs a vocabulary of BPE merges; this model's is SentencePiece, byte-level or character-level (train without --bpe-dropout)")
        }
        guard let src = run.source, let tgt = run.target else {
            throw TrainingRunError.input("--bpe-dropout segments the text anew each epoch: give --src and --tgt")
        }
        let s = try readLines(src, say: say), t = try readLines(tgt, say: say)
        guard s.count == t.count else { throw TextError.lineCountMismatch(src, s.count, tgt, t.count) }
        say("BPE-dropout \(run.bpeDropout): each epoch segments the \(s.count) training pairs anew")
        return BPEDropoutCorpus(source: s, target: t, vocabularies: v, p: run.bpeDropout, seed: run.seed, maxLength: run.maxLength)
    }

    /// A language model's tokens: the first `1 - validFraction` train, the tail validates.
    /// - Throws: when the training part is no longer than a block.
    static func languageModelSplit(tokens n: Int, settings: TrainSettings, corpus: String) throws -> (train: Range<Int>, valid: Range<Int>) {
        let cut = Int(Double(n) * (1 - settings.validFraction))
        guard cut > settings.blockSize + 1 else {
            throw TrainingRunError.input("\(corpus): only \(n) tokens; an LM needs more than --block-size of training text")
        }
        return (0..<cut, cut..<n)
    }

    /// The fingerprints a resume must match: the corpus (its files' fingerprints and counts), the
    /// vocabulary, config.json.
    static func provenance(corpus: PreparedCorpus, vocabularies vocabs: Vocabularies, config: ModelConfig) throws -> Provenance {
        var corpusPrint = Hasher64()
        corpusPrint.add("\(corpus.header.kind) \(corpus.header.pairs) \(corpus.header.tokens) " + corpus.header.files.map(\.fingerprint).joined(separator: " "))
        var configPrint = Hasher64()
        configPrint.add(String(decoding: try config.jsonData(), as: UTF8.self))
        return Provenance(corpus: corpusPrint.hex, vocabulary: vocabs.source.fingerprint + vocabs.target.fingerprint,
                          config: configPrint.hex)
    }
}
