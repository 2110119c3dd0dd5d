import ArgumentParser
import Foundation
import Seq2SeqKit

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model directory as a Hugging Face folder (transformers, and from there CTranslate2).",
        discussion: """
        Post-norm translation models (imported OPUS-MT models, --norm post) become MarianMTModel,
        pre-norm ones (the training default) PegasusForConditionalGeneration, language models
        GPT2LMHeadModel: the classes that compute what the model computes. The tokenizer goes along
        (AutoTokenizer loads it), and generation_config.json makes generate start and stop as
        seq2seq does. A model that no class represents is refused, saying what does not fit.
        Details and the CTranslate2 step: docs/export.md.
        Example: seq2seq export --model runs/de-en --output hf/de-en
        """
    )

    @Option(help: "The model directory (float32).") var model: String
    @Option(help: "The folder to write (created; an existing model there is replaced only with --overwrite).") var output: String
    @Option(help: "The format to write: huggingface.") var format = "huggingface"
    @Option(help: "Weights file inside --model (e.g. averaged.safetensors).") var checkpoint = ModelDirectory.weightsFile
    @Flag(help: "Replace a model already in --output.") var overwrite = false

    func validate() throws {
        if format != "huggingface" { throw ValidationError("--format must be huggingface (got '\(format)'); CTranslate2 converts the Hugging Face folder, see docs/export.md") }
        if checkpoint.isEmpty || checkpoint.contains("/") { throw ValidationError("--checkpoint must be a file name inside the model directory (got '\(checkpoint)')") }
        let a = URL(fileURLWithPath: model).standardizedFileURL.path, b = URL(fileURLWithPath: output).standardizedFileURL.path
        if a == b { throw ValidationError("--output must be another directory than --model (got '\(output)' for both)") }
    }

    func run() throws {
        if FileManager.default.fileExists(atPath: "\(output)/\(ModelDirectory.configFile)") && !overwrite {
            throw InputError("\(output) already holds a model; pass --overwrite to replace it, or choose another --output")
        }
        let start = Date()
        let s = try HuggingFaceExport.run(model: model, weightsFile: checkpoint, to: output)
        stderrLine(String(format: "exported %@/%@ in %.2f s as %@: %@ → %@", model, checkpoint, Date().timeIntervalSince(start),
                          s.architecture, s.files.joined(separator: ", "), output))
    }
}
