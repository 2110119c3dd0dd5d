import ArgumentParser
import Foundation
import Seq2SeqKit

struct SamplingOptions: ParsableArguments {
    @Option(help: "Tokens to generate per sample.") var maxTokens = 500
    @Option(help: "Softmax temperature (0: always the most likely token).") var temperature: Float = 0.8
    @Option(help: "Sample only among the K most likely tokens (0: all).") var topK = 200
    @Option(help: "Nucleus sampling: the smallest set of tokens with this much probability (1: off).") var topP: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 1337

    func validate() throws {
        try Check.int(maxTokens, "--max-tokens", 0...10_000_000)
        try Check.real(temperature, "--temperature", 0...100)
        try Check.int(topK, "--top-k", 0...Int.max)
        try Check.real(topP, "--top-p", 0...1, open: true)
    }
}

/// `--repetition-penalty` and `--no-repeat-ngram`, shared by `translate` (beam search, and sampling with
/// `--lm`) and `generate`; CTranslate2's `repetition_penalty` and `no_repeat_ngram_size`.
struct RepetitionOptions: ParsableArguments {
    @Option(help: "Divide the score of every token already produced by P (multiply a negative one); 1: off.")
    var repetitionPenalty: Float = 1
    @Option(help: "Never produce an n-gram of N tokens twice in one output (0: off).") var noRepeatNgram = 0

    var control: RepetitionControl { RepetitionControl(penalty: repetitionPenalty, noRepeatNgram: noRepeatNgram) }

    func validate() throws {
        try Check.real(repetitionPenalty, "--repetition-penalty", 0.01...100)
        try Check.int(noRepeatNgram, "--no-repeat-ngram", 0...1_000_000)
    }
}

/// Loads a decoder-only model and its vocabulary.
func loadLanguageModel(_ dir: String) throws -> (Transformer, Vocabulary) {
    let net = try ModelDirectory.load(dir)
    guard net.config.isDecoderOnly else {
        throw InputError("\(dir) is a translation model; use `seq2seq translate --model \(dir)`")
    }
    return (net, try ModelDirectory.loadVocabularies(dir, for: net.config).target)
}

/// Samples a continuation of `prompt`, writing text to standard output as it is produced.
func streamSample(_ net: Transformer, _ vocab: Vocabulary, prompt: String, options o: SamplingOptions,
                  repetition: RepetitionControl, seed: UInt64) {
    var sampler = Sampler(temperature: o.temperature, topK: o.topK, topP: o.topP, seed: seed)
    sampler.repetition = repetition
    var detok = StreamingDetokenizer(vocabulary: vocab)
    let out = FileHandle.standardOutput
    sampler.generate(net, prompt: prompt.isEmpty ? [] : vocab.encode(prompt), maxTokens: o.maxTokens) { id in
        let s = detok.push(id)
        if !s.isEmpty { out.write(Data(s.utf8)) }
    }
    out.write(Data((detok.flush(final: true) + "\n").utf8))
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample text from a language model (trained with train --lm), streaming it as it is produced.",
        discussion: "Example: seq2seq generate --model runs/shakespeare --prompt \"ROMEO:\" --max-tokens 300"
    )

    @Option(help: "Model directory.") var model: String
    @Option(help: "Text to continue (printed first); empty starts from <s>.") var prompt = ""
    @Option(help: "Number of samples.") var numSamples = 1
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var repetition: RepetitionOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws { try Check.int(numSamples, "--num-samples", 1...100_000) }

    func run() throws {
        compute.apply()
        let (net, vocab) = try loadLanguageModel(model)
        for i in 0..<numSamples {
            if i > 0 { print("---") }
            FileHandle.standardOutput.write(Data(prompt.utf8))
            streamSample(net, vocab, prompt: prompt, options: sampling, repetition: repetition.control, seed: sampling.seed &+ UInt64(i))
        }
    }
}

struct Average: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Average the last N step checkpoints of a model directory (train with --keep-last N).",
        discussion: "Example: seq2seq average --model runs/de-en --last 5   # writes averaged.safetensors"
    )

    @Option(help: "Model directory.") var model: String
    @Option(help: "How many of the newest checkpoint_step*.safetensors to average.") var last = 5
    @Option(help: "Output file name inside the model directory.") var output = CheckpointAverage.defaultOutput

    func validate() throws {
        try Check.int(last, "--last", 1...100_000)
        if output.isEmpty || output.contains("/") { throw ValidationError("--output must be a file name inside the model directory (got '\(output)')") }
    }

    func run() throws {
        let r = try CheckpointAverage.average(last: last, in: model, output: output)
        stderrLine("averaged steps \(r.steps.map(String.init).joined(separator: ", ")) → \(r.path) (translate with --checkpoint \(output))")
    }
}

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A language model's mean token loss and perplexity on a text file (float or int8 model).",
        discussion: "Example: seq2seq perplexity --model runs/shakespeare --text valid.txt"
    )

    @Option(help: "Language model directory (train --lm).") var model: String
    @Option(help: "Text file, encoded as train --lm encodes its text.") var text: String
    @Option(help: "Tokens of context per block (default: the model's max positions, at most 256).") var block: Int?
    @OptionGroup var compute: ComputeOptions

    func validate() throws { try Check.int(block, "--block", 1...1_000_000) }

    func run() throws {
        compute.apply()
        let net = try ModelDirectory.load(model)
        guard net.config.isDecoderOnly else { throw InputError("\(model) is a translation model; perplexity scores language models (train --lm)") }
        let vocab = try ModelDirectory.loadVocabularies(model, for: net.config).target
        let b = block ?? min(256, net.config.maxPositions)
        if b > net.config.maxPositions { throw ValidationError("--block \(b) exceeds the model's \(net.config.maxPositions) positions") }
        let ids = LanguageModelLoss.encode(lines: try TextFile.lines(text), vocabulary: vocab)
        if ids.count < 2 { throw InputError("\(text): fewer than 2 tokens to score") }
        let r = try LanguageModelLoss.evaluate(net, tokens: ids, block: b)
        print(String(format: "%@: loss %.4f, perplexity %.3f over %d tokens (blocks of %d, %.2f s)", text, r.loss, r.perplexity, r.tokens, b, r.seconds))
    }
}
