import ArgumentParser
import Foundation
import Seq2SeqKit

extension SacreTokenizer: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a system output with BLEU, chrF and chrF++ (identical to sacreBLEU).",
        discussion: "Example: seq2seq eval --hyp out.en --ref test2016.en"
    )

    @Option(help: "System output, one segment per line ('-' for standard input).")
    var hyp: String

    @Option(help: "Reference file; repeat for several references.")
    var ref: [String]

    @Option(help: "BLEU tokenizer: 13a (default), intl, char, none.")
    var tokenize: SacreTokenizer = .tok13a

    @Flag(help: "Case-insensitive scores.")
    var lowercase = false

    @Flag(help: "Also print per-sentence BLEU (effective order, as sacreBLEU's sentence_bleu).")
    var sentence = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if ref.isEmpty { throw ValidationError("give at least one --ref file") }
    }

    func run() throws {
        let h = try TextFile.lines(hyp)
        let refs = try ref.map { try TextFile.lines($0) }
        let report = try EvaluationReport.evaluate(hypotheses: h, references: refs, names: (hyp, ref),
                                                   tokenizer: tokenize, lowercase: lowercase, sentenceLevel: sentence)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
        } else {
            if let s = report.sentenceBLEU {
                for (i, v) in s.enumerated() { print(String(format: "%d\t%.4f", i + 1, v)) }
            }
            print(report.text)
        }
    }
}
