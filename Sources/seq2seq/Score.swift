import ArgumentParser
import Foundation
import Seq2SeqKit

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score given translations: each pair's log-probability under the model (teacher forcing; batched, streaming).",
        discussion: """
        One output line per pair, tab-separated: the normalized score (what translate ranks by: the
        log-probability divided by the length penalty), the log-probability (natural log, </s>
        included, as translate --scores prints it), the log-probability per token, and the number of
        target tokens (</s> included); --token-scores adds each token's log-probability.
          seq2seq score --model runs/de-en --src train.de --tgt train.en > scores.tsv
        docs/translation.md shows how to filter a noisy corpus with a forward and a reverse model.
        """
    )

    @Option(help: "Model directory (an encoder-decoder model).") var model: String
    @Option(help: "Source sentences, one per line.") var src: String
    @Option(help: "Target sentences, line-aligned with --src.") var tgt: String
    @Option(help: "Write scores to this file instead of standard output.") var output: String?
    @Option(help: "Pairs per batch.") var batchSize = 64
    @Option(help: "Length penalty α of the normalized score (as translate).") var lengthPenalty: Float = 1.4
    @Option(help: "gnmt or power (as translate).") var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    @Option(help: "fairseq or huggingface (as translate; huggingface always divides by len^α).")
    var beamStyle: BeamSearch.Style = .fairseq
    @Flag(help: "Add each target token's log-probability (space-separated, </s> last).") var tokenScores = false
    @Option(help: "Which checkpoint file of the model directory to use.") var checkpoint = ModelDirectory.weightsFile
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        try Check.int(batchSize, "--batch-size", 1...65_536)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        if checkpoint.isEmpty { throw ValidationError("--checkpoint must name a file of the model directory") }
    }

    func run() throws {
        compute.apply()
        let net = try ModelDirectory.load(model, weightsFile: checkpoint)
        guard !net.config.isDecoderOnly else {
            throw InputError("\(model) is a language model; use `seq2seq perplexity --model \(model)`")
        }
        var search = BeamSearch(lengthPenalty: lengthPenalty, normalization: lengthNormalization)
        search.style = beamStyle
        let scorer = Scorer(model: net, vocabularies: try ModelDirectory.loadVocabularies(model, for: net.config), search: search)
        scorer.batchSize = batchSize
        let sink = try LineSink(path: output)
        let sources = try LineReader(src), targets = try LineReader(tgt)
        var done = 0
        // Groups of 16 batches: sorted by length within a group, written in input order.
        let group = batchSize * 16
        var s: [String] = [], t: [String] = []
        func flush() throws {
            guard !s.isEmpty else { return }
            let scores: [Scorer.Score]
            do {
                scores = try scorer.score(sources: s, targets: t)
            } catch ModelError.invalidInput(let m) where m.hasPrefix("pair ") {
                let rest = m.dropFirst("pair ".count)
                let k = Int(rest.prefix { $0.isNumber }) ?? 0
                throw InputError("\(src), \(tgt) line \(done + k + 1)\(rest.drop { $0.isNumber })")
            }
            for x in scores {
                var columns = [String(format: "%.4f", x.score), String(format: "%.4f", x.logProb),
                               String(format: "%.4f", x.perToken), "\(x.tokens)"]
                if tokenScores { columns.append(x.tokenLogProbs.map { String(format: "%.4f", $0) }.joined(separator: " ")) }
                sink.write(columns.joined(separator: "\t"))
            }
            done += s.count
            s.removeAll(keepingCapacity: true); t.removeAll(keepingCapacity: true)
        }
        while let a = try sources.nextLine(lenient: lenient) {
            guard let b = try targets.nextLine(lenient: lenient) else {
                throw InputError("\(tgt) has \(targets.lineNumber) lines, fewer than \(src); the files must be line-aligned")
            }
            s.append(a.text); t.append(b.text)
            if s.count >= group { try flush() }
        }
        try flush()
        if try targets.next({ _ in }) {
            throw InputError("\(tgt) has more lines than \(src) (\(done)); the files must be line-aligned")
        }
    }
}
