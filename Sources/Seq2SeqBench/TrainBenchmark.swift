import Foundation
@_spi(Testing) import Seq2SeqKit

/// `seq2seq bench train`: training throughput (forward, loss, backward, clipping, Adam) on synthetic
/// batches made as the PyTorch reference benchmark makes them (see `batches`).
public enum TrainBenchmark {
    public struct Result: Sendable {
        public var tokensPerSecond: Double, stepsPerSecond: Double, tokensPerStep: Double, peakRSSMegabytes: Double
        public var parameters: Int
    }

    /// Synthetic batches as ../shared/bench/nmt_data.py makes them when Multi30k is absent: pairs of
    /// random tokens, source length 10-30, target length within ±3 of it (at least 5), each ending
    /// with eos; sorted by length and cut fairseq-style so that sentences × longest ≤ `batchTokens`.
    public static func batches(config c: ModelConfig, batchTokens: Int, pairs: Int = 29_000, seed: UInt64) -> [Batch] {
        var rng = RNG(seed: seed)
        func uniform(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
        func tokens(_ n: Int, _ v: Int) -> [Int32] { (0..<n).map { _ in Int32(uniform(4, v - 1)) } }
        var data: [([Int32], [Int32])] = (0..<pairs).map { _ in
            let n = uniform(10, 30), m = max(5, n + uniform(-3, 3))
            return (c.isDecoderOnly ? [] : tokens(n, c.srcVocabSize), tokens(m, c.tgtVocabSize))
        }
        data.sort { ($0.0.count, $0.1.count) < ($1.0.count, $1.1.count) }
        var out: [Batch] = []
        var cur: [([Int32], [Int32])] = []
        var longest = 0
        func flush() {
            out.append(Batch(sources: c.isDecoderOnly ? [] : cur.map(\.0), targets: cur.map(\.1), pad: Int32(c.padId),
                             bos: Int32(c.bosId), eos: Int32(c.eosId)))
        }
        for p in data {
            let l = max(p.0.count, p.1.count) + 1
            if !cur.isEmpty && (cur.count + 1) * max(longest, l) > batchTokens {
                flush()
                cur = []; longest = 0
            }
            cur.append(p)
            longest = max(longest, l)
        }
        if !cur.isEmpty { flush() }
        // shuffle the batch order deterministically
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return out
    }

    public static func run(config: ModelConfig, batchTokens: Int, steps: Int, warmup: Int, precision: Precision = .float32,
                           log: (String) -> Void = { _ in }) throws -> Result {
        let model = try Transformer(config: config)
        model.initialize(seed: 1)
        try model.setPrecision(precision)
        let opt = AdamOptimizer(layout: model.layout, settings: .init())
        let data = batches(config: config, batchTokens: batchTokens, seed: 7)
        var rng = RNG(seed: 11)
        var tokens = 0
        var start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<(warmup + steps) {
            if i == warmup { start = DispatchTime.now().uptimeNanoseconds; tokens = 0 }
            let batch = data[i % data.count]
            model.gradients.zero()
            try model.forward(batch, training: true, logitRows: .labelled, rng: &rng)
            let (loss, count) = model.loss(smoothing: 0.1)
            try model.backward()
            clipGradientNorm(model.gradients, maxNorm: 1)
            opt.update(model.parameters, model.gradients, lr: 1e-4)
            tokens += batch.sourceTokens(pad: Int32(config.padId)) + count
            if i >= warmup { log(String(format: "step %d: loss %.3f, %d tokens", i - warmup + 1, loss / Double(count), tokens)) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(tokensPerSecond: Double(tokens) / seconds, stepsPerSecond: Double(steps) / seconds,
                      tokensPerStep: Double(tokens) / Double(steps), peakRSSMegabytes: peakRSSMegabytes(),
                      parameters: model.parameterCount)
    }
}

/// Peak resident set size of this process (ru_maxrss, kilobytes on Linux), in MB.
public func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
