import Foundation

/// `seq2seq bench train`: training throughput (forward, loss, backward, clipping, Adam) on synthetic
/// batches shaped like Multi30k's: length buckets of 9-25 tokens, sentences of one bucket per batch,
/// ~`tokensPerStep` non-pad source + target tokens per step.
public enum TrainBenchmark {
    public struct Result: Sendable {
        public var tokensPerSecond: Double, stepsPerSecond: Double, tokensPerStep: Double, peakRSSMegabytes: Double
        public var parameters: Int
    }

    /// Synthetic batches: for each bucket length L, sentences of L-2...L source tokens and targets of
    /// similar length, as many as fit `tokensPerStep` (both sides counted).
    public static func batches(config c: ModelConfig, tokensPerStep: Int, count: Int, seed: UInt64) -> [Batch] {
        var rng = RNG(seed: seed)
        func token(_ v: Int) -> Int32 { Int32(3 + Int(rng.next() % UInt64(v - 3))) }
        return (0..<count).map { i in
            let l = 9 + (i * 7) % 17
            var sources: [[Int32]] = [], targets: [[Int32]] = []
            var tokens = 0
            while tokens < tokensPerStep {
                let s = l - Int(rng.next() % 3), t = l - Int(rng.next() % 4) + 1
                sources.append(c.isDecoderOnly ? [] : (0..<s).map { _ in token(c.srcVocabSize) })
                targets.append((0..<t).map { _ in token(c.tgtVocabSize) })
                tokens += (c.isDecoderOnly ? 0 : s + 1) + t + 1
            }
            return Batch(sources: c.isDecoderOnly ? [] : sources, targets: targets, pad: Int32(c.padId),
                         bos: Int32(c.bosId), eos: Int32(c.eosId))
        }
    }

    public static func run(config: ModelConfig, tokensPerStep: Int, steps: Int, warmup: Int,
                           log: (String) -> Void = { _ in }) throws -> Result {
        let model = try Transformer(config: config)
        model.initialize(seed: 1)
        let opt = AdamOptimizer(layout: model.layout, settings: .init())
        let data = batches(config: config, tokensPerStep: tokensPerStep, count: 16, seed: 7)
        var rng = RNG(seed: 11)
        var tokens = 0
        var start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<(warmup + steps) {
            if i == warmup { start = DispatchTime.now().uptimeNanoseconds; tokens = 0 }
            let batch = data[i % data.count]
            model.gradients.zero()
            try model.forward(batch, training: true, rng: &rng)
            let (loss, count) = model.loss(smoothing: 0.1)
            model.backward()
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
