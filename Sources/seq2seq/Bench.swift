import ArgumentParser
import Foundation
import Seq2SeqKit
import Seq2SeqBench
import Seq2SeqDistributed

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of kernels, training, tokenization, translation and generation.",
        subcommands: [BenchKernels.self, BenchTrain.self, BenchBPE.self, BenchTranslate.self, BenchGenerate.self, BenchAllreduce.self]
    )
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GEMM GFLOP/s at Transformer shapes and ns per element of the elementwise kernels, on 1 and 2 threads."
    )

    @Option(help: "Tokens per batch (rows of every GEMM).")
    var tokens = 4096

    @Option(help: "Comma-separated thread counts to measure.")
    var threads = "1,2"

    @Option(help: "Minimum seconds spent per measurement.")
    var seconds = 0.3

    @Flag(help: "Only the linear layers at decoding shapes (1 to 160 rows).")
    var decodingOnly = false

    @Flag(help: "Only the int8 linear layers, on each engine, at 1 to 640 rows.")
    var int8 = false

    func validate() throws {
        try Check.int(tokens, "--tokens", 1...1_000_000)
        _ = try Check.list(threads, "--threads", 1...1024)
        try Check.real(seconds, "--seconds", 0...3600, open: true)
    }

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0) }
        print("\(KernelLevel.summary); OpenBLAS core: \(Threads.blasCoreName), processors: \(Threads.available)")
        for t in counts {
            Threads.set(t)
            print("\n== \(t) thread\(t == 1 ? "" : "s") ==")
            if int8 {
                for report in KernelBenchmark.int8Linears(rows: [1, 2, 5, 8, 16, 32, 64, 96, 160, 640], minSeconds: seconds) {
                    print(report)
                }
                continue
            }
            if !decodingOnly {
                for report in KernelBenchmark.run(tokens: tokens, minSeconds: seconds) { print(report) }
            }
            for report in KernelBenchmark.decodingLinears(rows: [1, 2, 5, 8, 16, 32, 64, 160], minSeconds: seconds) {
                print(report)
            }
        }
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training tokens/s (source + target, non-pad), steps/s and peak memory on synthetic batches."
    )

    @Option(help: "Model preset: \(ModelConfig.presetNames.joined(separator: ", ")).")
    var preset = "small"

    @Option(help: "Padded tokens per side per batch (sentences × longest), as fairseq's --max-tokens.")
    var batchTokens = 4096

    @Option(help: "Timed steps.")
    var steps = 20

    @Option(help: "Untimed warm-up steps.")
    var warmup = 3

    @Option(help: "Matrix products in float32 or bf16 (as train --precision).")
    var precision: Precision = .float32

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ModelConfig.preset(preset) != nil else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(ModelConfig.presetNames.joined(separator: ", "))")
        }
        try Check.int(batchTokens, "--batch-tokens", 8...10_000_000)
        try Check.int(steps, "--steps", 1...1_000_000)
        try Check.int(warmup, "--warmup", 0...1_000_000)
    }

    func run() throws {
        compute.apply()
        let config = ModelConfig.preset(preset)!
        let r = try TrainBenchmark.run(config: config, batchTokens: batchTokens, steps: steps, warmup: warmup,
                                       precision: precision)
        print(String(format: "preset %@ (%d parameters), %@, %d threads, products %@: %.0f tokens/s, %.3f steps/s, %.0f tokens/step, peak RSS %.0f MB",
                     preset, r.parameters, precision.rawValue, Threads.count, GemmDispatch.engine.rawValue,
                     r.tokensPerSecond, r.stepsPerSecond, r.tokensPerStep, r.peakRSSMegabytes))
    }
}

struct BenchBPE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpe",
        abstract: "Time learning a BPE vocabulary and encoding the corpus (compare ../shared/bench/bpe_bench.py)."
    )

    @Option(parsing: .upToNextOption, help: "Text files to learn from and encode (default: Multi30k train.de and train.en under $SEQ2SEQ_CORPORA).")
    var text: [String] = []

    @Option(help: "Vocabulary size.")
    var size = 8000

    @OptionGroup var compute: ComputeOptions

    func validate() throws { try Check.int(size, "--size", (Vocabulary.firstPieceId + 1)...1_000_000) }

    func run() throws {
        compute.apply()
        let files = text.isEmpty ? Corpora.multi30k().map { [$0.trainSource, $0.trainTarget] } ?? [] : text
        if files.isEmpty {
            throw ValidationError("no text: pass --text FILE... or set SEQ2SEQ_CORPORA to a folder with multi30k/")
        }
        let r = try TokenizerBenchmark.run(files: files, size: size)
        print(String(format: "%d lines, %d threads: learn %.3f s (reading %.3f s, counting words %.3f s), encode %.0f sentences/s, %.1f tokens/sentence, vocabulary %d",
                     r.lines, Threads.count, r.learnSeconds, r.readSeconds, r.countSeconds, r.encodeSentencesPerSecond,
                     r.tokensPerSentence, r.vocabularySize))
    }
}

struct BenchTranslate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Decoding speed (sentences/s, target tokens/s) for beam/batch settings (compare ../shared/bench/nmt_translate_bench.py)."
    )

    @Option(help: "Model directory.") var model: String
    @Option(help: "Source text (default: Multi30k test2016.de under $SEQ2SEQ_CORPORA).") var input: String?
    @Option(help: "Reference for BLEU (default: test2016.en with the default input).") var ref: String?
    @Option(help: "Comma-separated beam sizes.") var beams = "5,1"
    @Option(help: "Comma-separated batch sizes.") var batchSizes = "32,1"
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Option(help: "Cap on generated tokens (eos included), besides 2 × longest source + 10.") var maxLen = 128
    @Option(help: "Length penalty α.") var lengthPenalty: Float = 1
    @Option(help: "gnmt: ((5 + len) / 6)^α; power: len^α, as nmt_translate_bench.py's PyTorch and CTranslate2 runs.")
    var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    @Option(help: "fairseq or huggingface beam search (see translate --help).") var beamStyle: BeamSearch.Style = .fairseq
    @Option(help: "Timed repeats (best is reported).") var repeats = 3

    func validate() throws {
        _ = try Check.list(beams, "--beams", 1...256)
        _ = try Check.list(batchSizes, "--batch-sizes", 1...65_536)
        _ = try Check.list(threads, "--threads", 1...1024)
        try Check.int(maxLen, "--max-len", 1...1_000_000)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        try Check.int(repeats, "--repeats", 1...1000)
    }

    func run() throws {
        let m30k = Corpora.multi30k()
        guard let src = input ?? m30k?.testSource else {
            throw ValidationError("no input: pass --input FILE or set SEQ2SEQ_CORPORA to a folder with multi30k/")
        }
        let reference = ref ?? (input == nil ? m30k?.testTarget : nil)
        let net = try ModelDirectory.load(model)
        let vocabs = try ModelDirectory.loadVocabularies(model, for: net.config)
        let translator = Translator(model: net, vocabularies: vocabs, search: BeamSearch(beam: 1, lengthPenalty: lengthPenalty,
                                                                                      normalization: lengthNormalization))
        translator.maxOutput = maxLen
        translator.search.style = beamStyle
        let sources = try TextFile.lines(src).map { vocabs.source.encode($0) }
        let refs = try reference.map { try TextFile.lines($0) }
        func list(_ s: String) -> [Int] { s.split(separator: ",").compactMap { Int($0) } }
        print("\(sources.count) sentences from \(src); cap min(\(maxLen), 2 × longest source + 10) tokens")
        for t in list(threads) {
            Threads.set(t)
            for bs in list(batchSizes) {
                for beam in list(beams) {
                    let r = try TranslateBenchmark.run(translator: translator, sources: sources, references: refs,
                                                       beam: beam, batchSize: bs, repeats: repeats)
                    print(String(format: "threads %d  beam %d  batch %2d: %7.1f sent/s  %8.0f tok/s  (%d tokens, %d hit the cap%@)",
                                 t, beam, bs, r.sentencesPerSecond, r.tokensPerSecond, r.tokens, r.hitCap,
                                 r.bleu.map { String(format: ", BLEU %.2f", $0) } ?? ""))
                }
            }
        }
        print(String(format: "peak RSS %.0f MB", peakRSSMegabytes()))
    }
}

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "A language model's speed: prompt tokens/s and generated tokens/s for batch and thread settings (compare benchmarks/generate_vs_ctranslate2.sh).",
        discussion: """
        Prompts are random token ids (the same for every run); generation is greedy and never stops
        early. The prompt phase runs up to the first new token; the generation phase is the steps after it.
        Example: seq2seq bench generate --model runs/gpt2 --prompt-tokens 128 --new-tokens 128
        """
    )

    @Option(help: "A decoder-only model directory (float32 or int8).") var model: String
    @Option(help: "Tokens per prompt.") var promptTokens = 128
    @Option(help: "Tokens generated per prompt (the first one ends the prompt phase).") var newTokens = 128
    @Option(help: "Comma-separated batch sizes (prompts generated together).") var batchSizes = "1,16"
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Option(help: "Timed repeats (best is reported).") var repeats = 3
    @Flag(help: "Print one JSON object per row instead of text.") var json = false

    func validate() throws {
        _ = try Check.list(batchSizes, "--batch-sizes", 1...4096)
        _ = try Check.list(threads, "--threads", 1...1024)
        try Check.int(promptTokens, "--prompt-tokens", 1...1_048_576)
        try Check.int(newTokens, "--new-tokens", 1...1_048_576)
        try Check.int(repeats, "--repeats", 1...1000)
    }

    func run() throws {
        let net = try ModelDirectory.load(model)
        let c = net.config
        guard c.isDecoderOnly else { throw ValidationError("--model \(model) is a translation model; bench generate measures a decoder-only (language) model: use bench translate") }
        guard promptTokens + newTokens <= c.maxPositions else {
            throw ValidationError("--prompt-tokens \(promptTokens) + --new-tokens \(newTokens) exceed the model's \(c.maxPositions) positions")
        }
        func list(_ s: String) -> [Int] { s.split(separator: ",").compactMap { Int($0) } }
        if !json {
            print("\(model): \(c.decoderLayers) layers, d \(c.dModel), vocabulary \(c.tgtVocabSize)\(c.quantization.map { ", \($0.rawValue)" } ?? ""); prompts of \(promptTokens) random tokens, \(newTokens) greedy tokens")
        }
        for t in list(threads) {
            Threads.set(t)
            for b in list(batchSizes) {
                let prompts = GenerateBenchmark.prompts(batch: b, length: promptTokens, vocabulary: c.tgtVocabSize,
                                                        avoiding: [c.padId, c.bosId, c.eosId])
                let r = GenerateBenchmark.run(model: net, prompts: prompts, newTokens: newTokens, repeats: repeats)
                if json {
                    let o: [String: Any] = ["threads": t, "batch": b, "prompt_tokens": promptTokens, "new_tokens": newTokens,
                                            "prompt_tokens_per_s": r.promptTokensPerSecond, "generated_tokens_per_s": r.generatedTokensPerSecond,
                                            "first_row": r.firstRow.map(Int.init), "peak_rss_mb": peakRSSMegabytes()]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    print(String(format: "threads %d  batch %2d: prompt %8.0f tok/s   generation %7.1f tok/s", t, b,
                                 r.promptTokensPerSecond, r.generatedTokensPerSecond))
                }
            }
        }
        if !json { print(String(format: "peak RSS %.0f MB", peakRSSMegabytes())) }
    }
}

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time MPI_Allreduce of the presets' gradient buffers; run it under mpirun (e.g. mpirun -np 2 seq2seq bench allreduce).",
        discussion: "Reports the median over --repeats, the slowest rank's time each round, and the bus bandwidth 2(N-1)/N × bytes / time."
    )

    @Option(help: "Comma-separated presets whose parameter counts are reduced.")
    var presets = "small,base"

    @Option(help: "Timed repetitions per size.")
    var repeats = 10

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        for p in presets.split(separator: ",") where ModelConfig.preset(String(p)) == nil {
            throw ValidationError("unknown preset '\(p)'; choose from \(ModelConfig.presetNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        guard MPICommunicator.launchedByMPI else {
            throw ValidationError("run it under mpirun, e.g. mpirun -np 2 seq2seq bench allreduce")
        }
        let comm = try MPICommunicator()
        defer { comm.finalize() }
        for p in presets.split(separator: ",") {
            var c = ModelConfig.preset(String(p))!
            c.srcVocabSize = 8000; c.tgtVocabSize = 8000; c.shareEmbeddings = true
            let floats = ParameterLayout(c).totalCount
            let r = try AllreduceBenchmark.run(comm, name: "\(p) (vocabulary 8,000, shared embeddings)", floats: floats, repeats: repeats)
            if comm.isMain { print(r) }
        }
    }
}
