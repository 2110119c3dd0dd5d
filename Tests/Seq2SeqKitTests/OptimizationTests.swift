import Foundation
import XCTest
import Seq2SeqKit

/// Optimizer, clipping, gradient accumulation and sampling checked against references written
/// out here, so that each formula's parts (β2, bias correction, weight decay, the top-k/top-p cut)
/// can fail a test.
final class OptimizationTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    let layout = ParameterLayout(ModelConfig(srcVocabSize: 0, tgtVocabSize: 6, dModel: 4, nHeads: 1, dFF: 4,
                                             encoderLayers: 0, decoderLayers: 1, maxPositions: 3, positional: .learned))

    /// Several Adam and AdamW steps against PyTorch's formulas in double precision:
    /// m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; p -= lr (m/(1-β1ᵗ)) / (√(v/(1-β2ᵗ)) + ε) + lr·wd·p (matrices only).
    func testAdamMatchesReferenceOverSeveralSteps() {
        for wd: Float in [0, 0.1] {
            let s = AdamOptimizer.Settings(beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: wd)
            let n = layout.totalCount
            let p = FloatBuffer(count: n), g = FloatBuffer(count: n)
            var ref = [Double](repeating: 0, count: n), m = ref, v = ref
            for i in 0..<n { p[i] = Float(i % 11) * 0.1 - 0.5; ref[i] = Double(p[i]) }
            var decays = [Bool](repeating: false, count: n)
            for e in layout.entries where e.shape.count == 2 && !e.name.contains("embed_positions") {
                for i in e.offset..<(e.offset + e.count) { decays[i] = true }
            }
            let opt = AdamOptimizer(layout: layout, settings: s)
            let lrs: [Float] = [0.01, 0.02, 0.015, 0.005, 0.03, 0.01]
            for (t, lr) in lrs.enumerated() {
                for i in 0..<n { g[i] = Float.sin(Float(i) * 0.37 + Float(t)) * (i % 3 == 0 ? 0.01 : 1) }
                opt.update(p, g, lr: lr)
                let step = Double(t + 1)
                for i in 0..<n {
                    let gi = Double(g[i])
                    m[i] = Double(s.beta1) * m[i] + (1 - Double(s.beta1)) * gi
                    v[i] = Double(s.beta2) * v[i] + (1 - Double(s.beta2)) * gi * gi
                    let mhat = m[i] / (1 - pow(Double(s.beta1), step)), vhat = v[i] / (1 - pow(Double(s.beta2), step))
                    let decay = decays[i] ? Double(lr) * Double(wd) * ref[i] : 0
                    ref[i] -= Double(lr) * mhat / (vhat.squareRoot() + Double(s.eps)) + decay
                }
            }
            for i in 0..<n { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 2e-6, "wd \(wd), parameter \(i)") }
            XCTAssertEqual(opt.step, lrs.count)
        }
    }

    func testGradientClipping() {
        let g = FloatBuffer([3, 0, -4, 0])
        XCTAssertEqual(clipGradientNorm(g, maxNorm: 10), 5, accuracy: 1e-6)
        XCTAssertEqual(g.array, [3, 0, -4, 0], "below the limit: untouched")
        XCTAssertEqual(clipGradientNorm(g, maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(g[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(g[2], -0.8, accuracy: 1e-6)
        XCTAssertEqual(clipGradientNorm(g, maxNorm: 0), 1, accuracy: 1e-5, "0 turns clipping off")
        let bad = FloatBuffer([1, .nan])
        XCTAssertTrue(clipGradientNorm(bad, maxNorm: 1).isNaN)
        XCTAssertEqual(bad[0], 1, "a NaN norm leaves the gradients for the trainer to skip")
        // Across the 4,096-element chunks of the accumulator.
        let big = FloatBuffer(count: 10_000)
        for i in 0..<big.count { big[i] = 0.5 }
        XCTAssertEqual(clipGradientNorm(big, maxNorm: 0), 50, accuracy: 1e-3)
    }

    /// --update-freq 2: gradients accumulated over two batches, each scaled by the pair's total
    /// target tokens, equal the gradient of the one batch holding both (dropout 0).
    func testAccumulatedBatchesEqualOneLargerBatch() throws {
        let config = ModelConfig(srcVocabSize: 40, tgtVocabSize: 40, dModel: 16, nHeads: 2, dFF: 32, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 16, shareEmbeddings: true, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 3)
        let srcs: [[Int32]] = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [14]]
        let tgts: [[Int32]] = [[15, 16], [17, 18, 19, 20], [21], [22, 23, 24]]
        let a = Batch(sources: Array(srcs[0..<2]), targets: Array(tgts[0..<2]), pad: 0, bos: 1, eos: 2)
        let b = Batch(sources: Array(srcs[2...]), targets: Array(tgts[2...]), pad: 0, bos: 1, eos: 2)
        let both = Batch(sources: srcs, targets: tgts, pad: 0, bos: 1, eos: 2)
        let tokens = a.targetTokens(pad: 0) + b.targetTokens(pad: 0)
        XCTAssertEqual(tokens, both.targetTokens(pad: 0))
        var rng = RNG(seed: 1)
        model.gradients.zero()
        var lossSum = 0.0
        for x in [a, b] {
            try model.forward(x, training: true, rng: &rng)
            lossSum += model.loss(smoothing: 0.1, gradScale: 1 / Float(tokens)).sum
            try model.backward()
        }
        let accumulated = model.gradients.array
        model.gradients.zero()
        try model.forward(both, training: true, rng: &rng)
        let one = model.loss(smoothing: 0.1, gradScale: 1 / Float(tokens)).sum
        try model.backward()
        XCTAssertEqual(lossSum, one, accuracy: 1e-4 * abs(one))
        let largest = accumulated.map(abs).max()!
        XCTAssertGreaterThan(largest, 0)
        for (x, y) in zip(accumulated, model.gradients.array) { XCTAssertEqual(x, y, accuracy: 1e-5 * largest) }
    }

    /// Sampling: temperature 0 is the argmax; top-k draws only among the k best; top-p only from the
    /// smallest set holding p of the mass; banned ids never; frequencies follow softmax(logits / T).
    func testSamplerFilters() {
        let logits: [Float] = [2.0, 1.0, 0.5, 3.0, -1.0, 0.0, 2.5, 1.5]
        func draws(_ s: inout Sampler, _ n: Int, banned: [Int] = []) -> [Int: Int] {
            var counts: [Int: Int] = [:]
            var l = logits
            let v = l.count
            for _ in 0..<n { counts[Int(l.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, vocab: v, banned: banned) }), default: 0] += 1 }
            return counts
        }
        var greedy = Sampler(temperature: 0, seed: 1)
        XCTAssertEqual(draws(&greedy, 50), [3: 50])
        var topk = Sampler(temperature: 1, topK: 2, seed: 2)
        XCTAssertEqual(Set(draws(&topk, 2000).keys), [3, 6])
        // Probabilities (T = 1) in order 3, 6, 0, 7, ...: 0.403, 0.244, 0.148, 0.090, ...: the nucleus of
        // 0.6 is {3, 6} (0.647), of 0.7 {3, 6, 0} (0.795).
        var topp = Sampler(temperature: 1, topP: 0.6, seed: 3)
        XCTAssertEqual(Set(draws(&topp, 3000).keys), [3, 6])
        var topp2 = Sampler(temperature: 1, topP: 0.7, seed: 3)
        XCTAssertEqual(Set(draws(&topp2, 3000).keys), [3, 6, 0])
        var banned = Sampler(temperature: 1, seed: 4)
        XCTAssertFalse(draws(&banned, 2000, banned: [3, 6]).keys.contains { $0 == 3 || $0 == 6 })
        for t: Float in [1, 2] {
            var s = Sampler(temperature: t, seed: 5)
            let n = 40_000
            let counts = draws(&s, n)
            let e = logits.map { Double(exp($0 / t)) }, z = e.reduce(0, +)
            for i in logits.indices {
                XCTAssertEqual(Double(counts[i] ?? 0) / Double(n), e[i] / z, accuracy: 0.01, "T \(t), token \(i)")
            }
        }
    }
}
