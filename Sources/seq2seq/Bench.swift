import ArgumentParser
import Foundation
import Seq2SeqKit

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of kernels and of training.",
        subcommands: [BenchKernels.self]
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

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0) }
        print("OpenBLAS core: \(Threads.blasCoreName), processors: \(Threads.available)")
        for t in counts {
            Threads.set(t)
            print("\n== \(t) thread\(t == 1 ? "" : "s") ==")
            for report in KernelBenchmark.run(tokens: tokens, minSeconds: seconds) { print(report) }
        }
    }
}
