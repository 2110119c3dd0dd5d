import ArgumentParser
import Foundation
import Seq2SeqKit

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Normalize and encode a corpus once into a memory-mapped layout for `train --data`.",
        discussion: """
        Streams the files (memory stays bounded whatever their size) and writes DATA/ with every id in
        one flat file (UInt16 where the vocabulary fits), per-pair offsets and lengths, the vocabulary
        and header.json (counts, the vocabulary's fingerprint, the source files' sizes and fingerprints).

        Examples:
          seq2seq prepare --src train.de --tgt train.en --vocab runs/vocab --output data/de-en
          seq2seq prepare --lm --text input.txt --vocab runs/shakespeare --output data/shakespeare
        """
    )

    @Option(help: "Source-side text (one sentence per line).") var src: String?
    @Option(help: "Target-side text, line-aligned with --src.") var tgt: String?
    @Flag(help: "Prepare plain text for a language model (--text).") var lm = false
    @Option(help: "Plain text for --lm.") var text: String?
    @Option(help: "The vocabulary: a directory (tokenizer.json, or source/target.tokenizer.json) or a tokenizer.json.")
    var vocab: String
    @Option(help: "Output directory.") var output: String
    @Option(help: "Skip pairs with a side longer than this many tokens (1-65535).") var maxLength = 128
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false
    @Flag(help: "Replace an existing prepared corpus in --output.") var overwrite = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if lm {
            if text == nil { throw ValidationError("--lm needs --text FILE") }
            if src != nil || tgt != nil { throw ValidationError("--lm prepares --text; --src/--tgt are for a parallel corpus") }
        } else if src == nil || tgt == nil {
            throw ValidationError("give --src and --tgt (line-aligned text), or --lm --text FILE")
        }
        if !(1...Int(UInt16.max)).contains(maxLength) { throw ValidationError("--max-length must be between 1 and 65535") }
    }

    func run() throws {
        compute.apply()
        let fm = FileManager.default
        if let entries = try? fm.contentsOfDirectory(atPath: output), !entries.isEmpty, !overwrite {
            throw PreparedError.exists(output)
        }
        let vocabs = try loadVocabularies(vocab)
        var p = CorpusPreparer()
        p.maxLength = maxLength; p.lenient = lenient; p.log = stderrLine
        let h = lm ? try p.prepare(text: text!, vocabulary: vocabs.target, output: output)
                   : try p.prepare(source: src!, target: tgt!, vocabularies: vocabs, output: output)
        if h.repairedLines > 0 { stderrLine("replaced invalid UTF-8 on \(h.repairedLines) lines") }
        let mb = Double(TrainingCorpus.diskBytes(output)) / 1e6
        if lm {
            stderrLine(String(format: "%@: %d tokens (%@) from %d lines in %.2f s, %.1f MB", output, h.tokens, h.tokenType,
                              h.files[0].lines, h.seconds, mb))
        } else {
            stderrLine(String(format: "%@: %d pairs (skipped %d empty, %d longer than %d tokens), %d + %d tokens (%@), in %.2f s, %.1f MB",
                              output, h.pairs, h.skippedEmpty, h.skippedLong, h.maxLength, h.sourceTokens, h.targetTokens,
                              h.tokenType, h.seconds, mb))
        }
    }
}
