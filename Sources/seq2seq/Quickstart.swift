import ArgumentParser
import Foundation
import Seq2SeqKit

/// The README's first command: train on the default corpus for a few minutes, translate a few
/// held-out sentences and score the held-out set. It composes `train`, `translate` and `eval`.
struct Quickstart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small translation model on the default corpus for a few minutes, then translate and score held-out lines.",
        discussion: "Uses Multi30k when $SEQ2SEQ_CORPORA (or ../shared/corpora, or corpora/downloaded) has it, else corpora/sample."
    )

    @Option(help: "Model directory to create.") var model = "runs/quickstart"
    @Option(help: "Training time, e.g. 3m.") var time: String?
    @OptionGroup var compute: ComputeOptions

    static let marker = ".seq2seq-quickstart"

    func validate() throws {
        if let t = time, parseDuration(t) == nil { throw ValidationError("--time '\(t)': use a duration like 90s, 3m or 1h") }
    }

    func run() throws {
        let say = stderrLine
        let corpus: Corpora.Parallel
        var onSample = false
        var options = TrainingRun.Options(modelDirectory: model)
        options.architecture.preset = "small"  // the five-minute recipes below override small's fields
        if let m = Corpora.multi30k() {
            corpus = m
            say("corpus: Multi30k from \((m.trainSource as NSString).deletingLastPathComponent)")
            // A recipe for five minutes, not the hour `train`'s defaults are made for: with those
            // (3+3 layers, 4,096-token batches, 500 warm-up steps) five minutes on 2 cores make
            // about 280 updates, still warming up, and 15 BLEU of looping output. Two layers a side
            // with a narrow feed-forward, 2,048-token batches, a short warm-up and a 4,000-piece
            // vocabulary make about 1,050 updates, 32 BLEU on test2016 (docs/training.md).
            options.architecture.layers = 2; options.architecture.dFF = 512; options.architecture.dropout = 0.1
            options.vocabularySize = 4000; options.batchTokens = 2048
            options.lr = 2e-3; options.warmupSteps = 200
            options.maxSeconds = parseDuration(time ?? "5m")
        } else {
            guard let root = Self.sampleRoot else {
                throw InputError("corpora/sample not found: run this from the seq2seq checkout")
            }
            corpus = Corpora.Parallel(sample: root)
            onSample = true
            say("corpus: the bundled sample (\(root)); set SEQ2SEQ_CORPORA or run corpora/fetch.sh to use Multi30k")
            options.architecture.dModel = 128; options.architecture.heads = 4; options.architecture.dFF = 512
            options.architecture.layers = 2; options.architecture.dropout = 0.1
            options.warmupSteps = 100; options.lr = 2e-3; options.batchTokens = 1024
            options.maxSeconds = parseDuration(time ?? "3m"); options.validateEvery = 250
            if FileManager.default.fileExists(atPath: "vocab/\(Vocabulary.fileName)") { options.vocabulary = .load("vocab") }
        }
        options.source = corpus.trainSource; options.target = corpus.trainTarget
        options.validSource = corpus.validSource; options.validTarget = corpus.validTarget
        options.threads = compute.threads
        // A directory is removed only if an earlier quickstart made it (it leaves a marker file).
        let fm = FileManager.default, marker = "\(model)/\(Self.marker)"
        if fm.fileExists(atPath: model) {
            guard fm.fileExists(atPath: marker) else {
                throw InputError("\(model) exists and was not made by quickstart; choose another --model (quickstart deletes only what it made)")
            }
            try fm.removeItem(atPath: model)
        }
        try fm.createDirectory(atPath: model, withIntermediateDirectories: true)
        _ = fm.createFile(atPath: marker, contents: Data("made by seq2seq quickstart; it may delete this directory\n".utf8))
        try Train.train(options)

        // A handful of held-out sentences, then the whole held-out set with beam search.
        let sources = try TextFile.lines(corpus.testSource), references = try TextFile.lines(corpus.testTarget)
        let net = try ModelDirectory.load(model)
        let translator = Translator(model: net, vocabularies: try ModelDirectory.loadVocabularies(model, for: net.config), search: BeamSearch(beam: 5, lengthPenalty: 1.4))
        let outputs = try translator.translate(sources).map(\.text)
        print("\nSome held-out sentences:")
        for i in 0..<min(5, sources.count) {
            print("  \(sources[i])\n  → \(outputs[i])\n    (reference: \(references[i]))")
        }
        let report = try EvaluationReport.evaluate(hypotheses: outputs, references: [references])
        print("\nHeld-out set (\(sources.count) lines, beam 5):\n\(report.text)")
        if onSample {
            print("\nThe sample corpus recombines a small set of words; for real text, `bash corpora/fetch.sh` downloads Multi30k "
                  + "and quickstart then trains on it.")
        }
        print("The full recipe, `seq2seq train` with its defaults, reaches 40.4 BLEU on Multi30k's test2016 after "
              + "60 minutes on 2 cores (docs/training.md).")
        print("\nTry it:  echo \"\(sources[0])\" | .build/release/seq2seq translate --model \(model)")
    }

    /// corpora/sample of this checkout (the working directory or the binary's checkout).
    static var sampleRoot: String? {
        let candidates = ["corpora/sample",
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                              .appendingPathComponent("../../../corpora/sample").standardized.path]
        return candidates.first { FileManager.default.fileExists(atPath: "\($0)/train.de") }
    }
}
