import ArgumentParser
import Foundation
import Seq2SeqKit

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate text with beam search (batched; streams line by line when input is interactive).",
        discussion: """
        Examples:
          seq2seq translate --model runs/de-en < test.de > test.en
          echo "Ein Mann fährt Fahrrad." | seq2seq translate --model runs/de-en --beam 5 --n-best 3
          seq2seq translate --model runs/de-en --input test.de --ref test.en
          seq2seq translate --model runs/de-en --prefix-file starts.en --alignments < test.de
          seq2seq translate --model runs/de-en --split-sentences --source-lang de < article.de
        Output columns (tab-separated): the translation, then its log-probability (--scores), then
        its word alignment as Pharaoh i-j pairs (--alignments).
        """
    )

    @Option(help: "Model directory.") var model: String
    @Option(help: "Read sources from this file instead of standard input.") var input: String?
    @Option(help: "Write translations to this file instead of standard output.") var output: String?
    @Option(help: "Beam size (1: greedy).") var beam = BeamSearch.defaultBeam
    @Option(help: "Print the K best hypotheses per line, tab-separated with their scores.") var nBest = 1
    @Flag(help: "Add each translation's log-probability (tab-separated).") var scores = false
    @Flag(help: "Add each translation's word alignment (tab-separated Pharaoh pairs i-j: source word i, target word j, from 0).")
    var alignments = false
    @Option(help: "Target prefixes, one per input line (empty line: none): each translation starts with its line's words.")
    var prefixFile: String?
    @Flag(help: "Input lines are \"source<TAB>target prefix\" (the prefix column may be absent).") var tsv = false
    @Option(help: "Target phrases each translation must contain: one line per input line, phrases separated by tabs (empty line: none).")
    var constraints: String?
    @Option(help: "Terminology: lines \"source term<TAB>target term\"; a line whose source has a term must contain its target term.")
    var glossary: String?
    @Flag(help: "Split each line into sentences (ICU) and translate them separately, keeping the whitespace between them. Lines longer than the model's positions are always split.")
    var splitSentences = false
    @Option(help: "Source language code (de, en, …): sentence rules with its abbreviations for sentence splitting.")
    var sourceLang: String?
    @Option(help: "Sentences per batch.") var batchSize = 32
    @Option(help: "Length penalty α (0: none; 1.4 was best on Multi30k val with gnmt).") var lengthPenalty: Float = 1.4
    @Option(help: "Score divided by ((5 + len) / 6)^α (gnmt) or len^α (power: fairseq, Marian, CTranslate2).")
    var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    @Option(help: "fairseq (the first k ended hypotheses) or huggingface (transformers' generate: ended hypotheses compete by len^α-normalized score).")
    var beamStyle: BeamSearch.Style = .fairseq
    @Option(help: "Output cap: a · source length + b tokens (a).") var maxLenA: Double = 2
    @Option(help: "Output cap: a · source length + b tokens (b).") var maxLenB = 10
    @Option(help: "Reference translation: print BLEU and chrF on standard error afterwards.") var ref: String?
    @Option(help: "Which checkpoint file of the model directory to use.") var checkpoint = ModelDirectory.weightsFile
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false
    @Flag(help: "The model is a language model: continue each input line as a prompt.") var lm = false
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var repetition: RepetitionOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        try Check.int(beam, "--beam", 1...256)
        if nBest < 1 || nBest > beam { throw ValidationError("--n-best must be between 1 and --beam (\(beam)) (got \(nBest))") }
        try Check.int(batchSize, "--batch-size", 1...65_536)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        try Check.real(maxLenA, "--max-len-a", 0...64)
        try Check.int(maxLenB, "--max-len-b", 0...1_000_000)
        if checkpoint.isEmpty { throw ValidationError("--checkpoint must name a file of the model directory") }
        if alignments && nBest > 1 { throw ValidationError("--alignments prints the best translation's alignment; use it with --n-best 1") }
        if tsv && prefixFile != nil { throw ValidationError("give target prefixes either with --prefix-file or in --tsv's second column, not both") }
        if lm && (alignments || tsv || prefixFile != nil || splitSentences || constraints != nil || glossary != nil) {
            throw ValidationError("--alignments, --prefix-file, --tsv, --split-sentences, --constraints and --glossary are for translation models, not --lm")
        }
        if (constraints != nil || glossary != nil) && beamStyle != .fairseq {
            throw ValidationError("--constraints and --glossary use --beam-style fairseq")
        }
    }

    func run() throws {
        compute.apply()
        if lm {
            let (net, vocab) = try loadLanguageModel(model)
            let input = StandardInput.shared
            while let prompt = try input.nextLine(lenient: lenient) {
                streamSample(net, vocab, prompt: prompt, options: sampling, repetition: repetition.control,
                             seed: sampling.seed &+ UInt64(input.lineNumber))
            }
            return
        }
        let net = try ModelDirectory.load(model, weightsFile: checkpoint)
        guard !net.config.isDecoderOnly else {
            throw InputError("\(model) is a language model; use `seq2seq generate --model \(model)`")
        }
        let translator = Translator(model: net, vocabularies: try ModelDirectory.loadVocabularies(model, for: net.config),
                                    search: BeamSearch(beam: beam, lengthPenalty: lengthPenalty,
                                                      normalization: lengthNormalization, nBest: nBest))
        translator.search.style = beamStyle
        translator.search.repetition = repetition.control
        translator.batchSize = batchSize
        translator.maxLenA = maxLenA
        translator.maxLenB = maxLenB
        translator.alignments = alignments
        translator.splitSentences = splitSentences
        translator.sentenceSplitter = SentenceSplitter(language: sourceLang)
        let sink = try LineSink(path: output)
        // Scoring keeps only n-gram statistics; references are read in step with the translations.
        let refReader = try ref.map { try LineReader($0) }
        let prefixReader = try prefixFile.map { try LineReader($0) }
        let constraintReader = try constraints.map { try LineReader($0) }
        let terms = try glossary.map { try Self.readGlossary($0, lenient: lenient) } ?? [:]
        var scorer = StreamingEvaluation()
        var done = 0
        let handle: ([String]) throws -> Void = { lines in
            var inputs: [TranslationInput] = []
            for line in lines {
                var phrases: [TranslationInput.Constraint] = []
                if let constraintReader {
                    guard let c = try constraintReader.nextLine(lenient: self.lenient) else {
                        throw InputError("\(constraintReader.path) has \(constraintReader.lineNumber) lines, fewer than the input; the files must be line-aligned")
                    }
                    phrases = c.text.split(separator: "\t").map { TranslationInput.Constraint(String($0)) }
                }
                if !terms.isEmpty { phrases += TranslationInput.glossaryConstraints(terms, in: tsv ? String(line.prefix { $0 != "\t" }) : line) }
                if tsv, let tab = line.firstIndex(of: "\t") {
                    inputs.append(TranslationInput(String(line[..<tab]), targetPrefix: String(line[line.index(after: tab)...])))
                } else if let prefixReader {
                    guard let p = try prefixReader.nextLine(lenient: self.lenient) else {
                        throw InputError("\(prefixReader.path) has \(prefixReader.lineNumber) lines, fewer than the input; the files must be line-aligned")
                    }
                    inputs.append(TranslationInput(line, targetPrefix: p.text))
                } else {
                    inputs.append(TranslationInput(line))
                }
                inputs[inputs.count - 1].constraints = phrases
            }
            let results: [Translator.Output]
            do {
                results = try translator.translate(inputs)
            } catch ModelError.invalidInput(let m) where m.hasPrefix("input ") {
                // "input K: …" → the line's number in the input.
                let rest = m.dropFirst("input ".count)
                let k = Int(rest.prefix { $0.isNumber }) ?? 0
                throw InputError("line \(done + k + 1)\(rest.drop { $0.isNumber })")
            }
            for (i, r) in results.enumerated() {
                if let n = r.splitFrom {
                    stderrLine("line \(done + i + 1): \(n) tokens, more than the model's \(translator.maxSourceTokens); translated in \(r.parts) parts")
                }
                if nBest > 1 {
                    if r.hypotheses.isEmpty { sink.write("\(done + i + 1)\t\t") }  // an empty source
                    for h in r.hypotheses { sink.write("\(done + i + 1)\t\(h.text)\t\(String(format: "%.4f", h.score))") }
                } else {
                    var columns = [r.text]
                    if scores { columns.append(String(format: "%.4f", r.hypotheses.first?.logProb ?? 0)) }
                    if alignments { columns.append(WordAlignment.pharaoh(r.alignments)) }
                    sink.write(columns.joined(separator: "\t"))
                }
                if let refReader {
                    guard let line = try refReader.nextLine(lenient: self.lenient) else {
                        throw InputError("\(refReader.path) has \(refReader.lineNumber) lines, fewer than the input; the files must be line-aligned")
                    }
                    scorer.add(hypothesis: r.text, references: [line.text])
                }
            }
            done += results.count
        }
        // Translations are written group by group as they are ready (a group is up to 16 batches,
        // so a piped file is still sorted by length across many lines); memory holds one group.
        let reader = try input.map { try LineReader($0) } ?? StandardInput.shared.reader
        try forEachInputLineBatched(reader, lenient: lenient, batch: batchSize * 16, handle)
        if let constraintReader, try constraintReader.next({ _ in }) {
            throw InputError("\(constraintReader.path) has more lines than the input (\(done)); the files must be line-aligned")
        }
        if let prefixReader, try prefixReader.next({ _ in }) {
            throw InputError("\(prefixReader.path) has more lines than the input (\(done)); the files must be line-aligned")
        }
        if let refReader {
            var extra = 0
            while try refReader.next({ _ in }) { extra += 1 }
            if extra > 0 {
                throw InputError("\(refReader.path) has \(refReader.lineNumber) lines but the input \(done); the files must be line-aligned")
            }
            stderrLine(scorer.report().text)
        }
    }
}

extension Translate {
    /// A glossary file: "source term<TAB>target term" per line; empty lines are skipped.
    static func readGlossary(_ path: String, lenient: Bool) throws -> [String: String] {
        let reader = try LineReader(path)
        var terms: [String: String] = [:]
        while let line = try reader.nextLine(lenient: lenient) {
            if line.text.isEmpty { continue }
            let fields = line.text.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw InputError("\(path) line \(reader.lineNumber): expected \"source term<TAB>target term\"")
            }
            terms[String(fields[0])] = String(fields[1])
        }
        return terms
    }
}
