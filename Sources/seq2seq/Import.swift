import ArgumentParser
import Foundation
import Seq2SeqKit

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a Hugging Face Marian model folder (OPUS-MT, MarianMTModel) into a seq2seq model directory.",
        discussion: """
        The folder holds config.json (model_type "marian"), model.safetensors (F32, F16 or BF16),
        source.spm, target.spm, vocab.json (and target_vocab.json for separate vocabularies).
        translate, attention and bench translate then take the new directory; Hugging Face's beam
        search is `--beam 4 --length-penalty 1 --beam-style huggingface`.
        Example: seq2seq import opus-mt-de-en --output runs/opus-mt-de-en
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
        let s = try MarianImport.run(from: folder, to: output)
        let c = s.config
        let dtypes = s.dtypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        stderrLine(String(format: "imported %@ in %.2f s: d %d, %d heads, ff %d, %d+%d layers, vocabularies %d/%d (%@), %@ tensors → %@",
                          folder, Date().timeIntervalSince(start), c.dModel, c.nHeads, c.dFF, c.encoderLayers, c.decoderLayers,
                          c.srcVocabSize, c.tgtVocabSize, c.shareEmbeddings ? "shared" : "separate", dtypes, output))
    }
}
