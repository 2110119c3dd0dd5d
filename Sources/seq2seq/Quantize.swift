import ArgumentParser
import Foundation
import Seq2SeqKit

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an int8 copy of a model directory (per-row int8 matrices and embeddings, float32 scales).",
        discussion: """
        Every linear layer, the token embeddings and the output projection are stored in int8 with one
        float32 scale per row, as CTranslate2's int8; activations are quantized per row while
        translating. translate, generate, attention and bench translate take the new directory.
        Example: seq2seq quantize --model runs/de-en --output runs/de-en-int8
        """
    )

    @Option(help: "The float model directory.") var model: String
    @Option(help: "The directory to write (created; an existing model there is replaced only with --overwrite).") var output: String
    @Option(help: "Weights file inside --model (e.g. averaged.safetensors).") var checkpoint = ModelDirectory.weightsFile
    @Flag(help: "Replace a model already in --output.") var overwrite = false

    func validate() throws {
        if checkpoint.isEmpty || checkpoint.contains("/") { throw ValidationError("--checkpoint must be a file name inside the model directory (got '\(checkpoint)')") }
        let a = URL(fileURLWithPath: model).standardizedFileURL.path, b = URL(fileURLWithPath: output).standardizedFileURL.path
        if a == b { throw ValidationError("--output must be another directory than --model (got '\(output)' for both)") }
    }

    func run() throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(output)/\(ModelDirectory.configFile)") && !overwrite {
            throw InputError("\(output) already holds a model; pass --overwrite to replace it, or choose another --output")
        }
        let config = try ModelDirectory.loadConfig(model)
        if config.quantization != nil {
            throw InputError("\(model)/\(ModelDirectory.configFile): the model is already \(config.quantization!.rawValue); quantize its float model instead")
        }
        let start = Date()
        let net = try ModelDirectory.load(model, weightsFile: checkpoint)
        let vocabularies = try ModelDirectory.loadVocabularies(model, for: net.config)
        try net.quantize()
        try ModelDirectory.save(net, to: output)
        try vocabularies.save(to: output)
        func size(_ p: String) -> Int { ((try? fm.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
        let before = size("\(model)/\(checkpoint)"), after = size("\(output)/\(ModelDirectory.weightsFile)")
        stderrLine(String(format: "quantized %d matrices to int8 in %.2f s: %@ (%.1f MB) → %@/%@ (%.1f MB)",
                          net.layout.quantizedEntries.count, Date().timeIntervalSince(start), "\(model)/\(checkpoint)",
                          Double(before) / 1e6, output, ModelDirectory.weightsFile, Double(after) / 1e6))
    }
}
