import ArgumentParser
import Foundation
import Seq2SeqKit

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a Hugging Face Marian (OPUS-MT) or GPT-2 model folder into a seq2seq model directory.",
        discussion: """
        A Marian folder holds config.json (model_type "marian"), model.safetensors (F32, F16 or BF16),
        source.spm, target.spm, vocab.json (and target_vocab.json for separate vocabularies).
        translate, attention and bench translate then take the new directory; Hugging Face's beam
        search is `--beam 4 --length-penalty 1 --beam-style huggingface`.
        A GPT-2 folder (model_type "gpt2", GPT2LMHeadModel) holds config.json, model.safetensors and
        tokenizer.json (or vocab.json and merges.txt); generate, perplexity, quantize and
        train --lm --init-from then take the new directory.
        Examples: seq2seq import opus-mt-de-en --output runs/opus-mt-de-en
                  seq2seq import gpt2 --output runs/gpt2
        """
    )

    @Argument(help: "The Hugging Face model folder.") var folder: String
    @Option(help: "The model directory to write.") var output: String
    @Flag(help: "Replace a model already in --output.") var overwrite = false

    func run() throws {
        if FileManager.default.fileExists(atPath: "\(output)/\(ModelDirectory.configFile)") && !overwrite {
            throw InputError("\(output) already holds a model; pass --overwrite to replace it, or choose another --output")
        }
        let start = Date()
        let s = try HuggingFaceImport.run(from: folder, to: output)
        let c = s.config
        let dtypes = s.dtypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        if c.isDecoderOnly {
            stderrLine(String(format: "imported %@ in %.2f s: decoder-only, d %d, %d heads, ff %d, %d layers, %d positions, vocabulary %d, %@ tensors → %@",
                              folder, Date().timeIntervalSince(start), c.dModel, c.nHeads, c.dFF, c.decoderLayers, c.maxPositions,
                              c.tgtVocabSize, dtypes, output))
        } else {
            stderrLine(String(format: "imported %@ in %.2f s: d %d, %d heads, ff %d, %d+%d layers, vocabularies %d/%d (%@), %@ tensors → %@",
                              folder, Date().timeIntervalSince(start), c.dModel, c.nHeads, c.dFF, c.encoderLayers, c.decoderLayers,
                              c.srcVocabSize, c.tgtVocabSize, c.shareEmbeddings ? "shared" : "separate", dtypes, output))
        }
    }
}
