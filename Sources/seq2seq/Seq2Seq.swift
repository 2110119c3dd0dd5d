import ArgumentParser
import Seq2SeqKit

@main
struct Seq2Seq: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seq2seq",
        abstract: "Train and run Transformer translation and language models on the CPU.",
        version: "seq2seq \(Seq2SeqVersion.string)\n\(KernelLevel.summary); engines: \(Engines.summary)",
        subcommands: [Quickstart.self, Prepare.self, Train.self, Translate.self, Distill.self, Score.self, Generate.self, Average.self, Quantize.self, Import.self, Export.self, Perplexity.self, AttentionCommand.self, Serve.self, VocabCommand.self, Tokenize.self, Detokenize.self, Eval.self, Bench.self]
    )
}

/// Flags every compute-heavy subcommand shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for matrix products and row-parallel kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        try Check.int(threads, "--threads", 1...1024)
        if let problem = KernelLevel.environmentProblem { throw ValidationError(problem) }
        if let problem = MatmulSelection.environmentProblem { throw ValidationError(problem) }
    }

    func apply() {
        Threads.set(threads ?? Threads.available)
    }
}
