import Foundation
@_spi(Testing) import Seq2SeqKit

/// `seq2seq bench generate`: a decoder-only model's speed on prompts and on generation, as
/// benchmarks/generate_vs_ctranslate2.py measures CTranslate2's `Generator`: `batch` prompts of
/// `promptTokens` random ids each (the same ids for every run, from a fixed seed); the prompt phase
/// is the prefill up to the first new token's logits (CTranslate2: generate with max_length 1); the
/// generation phase the `newTokens` − 1 greedy steps after it (the argmax, never stopping early:
/// every row makes all its tokens).
public enum GenerateBenchmark {
    /// One measured setting.
    public struct Row: Sendable {
        /// The setting.
        public var batchSize: Int, threads: Int, promptTokens: Int, newTokens: Int
        /// Prompt tokens per second of the prompt phase (batch × prompt / seconds).
        public var promptTokensPerSecond: Double
        /// Generated tokens per second after the first (batch × (new − 1) / seconds).
        public var generatedTokensPerSecond: Double
        /// The first row's generated ids (equal across thread counts and batch sizes: a check of the work).
        public var firstRow: [Int32]
    }

    /// The prompts: `batch` rows of `length` ids drawn from the vocabulary without the special ids.
    public static func prompts(batch: Int, length: Int, vocabulary v: Int, avoiding special: [Int], seed: UInt64 = 1) -> [[Int32]] {
        var rng = RNG(seed: seed)
        return (0..<batch).map { _ in
            (0..<length).map { _ in
                var id: Int
                repeat { id = Int(rng.next() % UInt64(v)) } while special.contains(id)
                return Int32(id)
            }
        }
    }

    /// Measures `model` on `prompts` (equal lengths) with `newTokens` greedy tokens; the best of `repeats`.
    public static func run(model: Transformer, prompts: [[Int32]], newTokens: Int, repeats: Int) -> Row {
        let c = model.config, v = c.tgtVocabSize, b = prompts.count, p = prompts[0].count
        precondition(p + newTokens <= c.maxPositions, "prompt and new tokens must fit the model's positions")
        let banned = c.neverGenerated + [-1, -1]  // at most two ids: compared directly in the scan
        let b0 = banned[0], b1 = banned[1]
        let dec = IncrementalDecoder(model: model)
        func argmax(_ logits: FloatPtr) -> [Int32] {
            (0..<b).map { r in
                let row = logits + r * v
                var best = -Float.infinity, arg = 0
                for j in 0..<v where row[j] > best && j != b0 && j != b1 { best = row[j]; arg = j }
                return Int32(arg)
            }
        }
        var bestPrompt = Double.infinity, bestGenerate = Double.infinity
        var first: [Int32] = []
        for _ in 0..<(max(1, repeats) + 1) {  // the first pass warms up and is not counted
            let t0 = DispatchTime.now().uptimeNanoseconds
            dec.start(rows: b, capacity: p + newTokens)
            var next = argmax(dec.prefill(prompts))
            let t1 = DispatchTime.now().uptimeNanoseconds
            var made = [next[0]]
            for _ in 1..<max(newTokens, 1) {
                next = argmax(dec.step(next))
                made.append(next[0])
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            if !first.isEmpty {
                bestPrompt = min(bestPrompt, Double(t1 - t0) / 1e9)
                bestGenerate = min(bestGenerate, Double(t2 - t1) / 1e9)
            }
            first = made
        }
        return Row(batchSize: b, threads: Threads.count, promptTokens: p, newTokens: newTokens,
                   promptTokensPerSecond: Double(b * p) / bestPrompt,
                   generatedTokensPerSecond: newTokens > 1 ? Double(b * (newTokens - 1)) / bestGenerate : 0,
                   firstRow: first)
    }
}
