import Foundation
import XCTest
import Seq2SeqKit

/// R-Drop's loss kernel against the formula computed in Double, its gradient against finite
/// differences, and the trainer's `--rdrop-alpha` end to end.
final class ConsistencyLossTests: XCTestCase {
    /// log-softmax of one row in Double.
    private func logSoftmax(_ x: FloatBuffer, row r: Int, _ v: Int) -> [Double] {
        var z = 0.0
        for j in 0..<v { z += exp(Double(x[r * v + j])) }
        return (0..<v).map { Double(x[r * v + $0]) - log(z) }
    }

    func testMatchesFormulaAndGradient() {
        var rng = RNG(seed: 11)
        let pairs = 3, v = 13, e: Float = 0.1, alpha: Float = 5
        let x = randomBuffer(2 * pairs * v, &rng, scale: 3)
        let labels: [Int32] = [4, 0, 12]  // pair 1 is padding
        let targets = labels + labels
        let rows = FloatBuffer(count: 2 * pairs)
        func objective() -> (ce: Double, count: Int, kl: Double) {
            let r = consistencyCrossEntropyForwardBackward(dLogits: nil, rowLoss: rows.pointer, x.pointer, targets: targets,
                                                           pairs: pairs, vocab: v, smoothing: e, alpha: alpha, padId: 0, gradScale: 1)
            return (r.sum, r.count, r.divergence)
        }
        // Expected, in Double: each row's label-smoothed cross-entropy and each pair's ½(KL_ab + KL_ba).
        var ce = 0.0, kl = 0.0
        for p in [0, 2] {
            let la = logSoftmax(x, row: p, v), lb = logSoftmax(x, row: p + pairs, v)
            for l in [la, lb] {
                ce += (1 - Double(e)) * -l[Int(labels[p])] - Double(e) * l.reduce(0, +) / Double(v)
            }
            var ab = 0.0, ba = 0.0
            for j in 0..<v { ab += exp(la[j]) * (la[j] - lb[j]); ba += exp(lb[j]) * (lb[j] - la[j]) }
            XCTAssertGreaterThan(ab, 0); XCTAssertGreaterThan(ba, 0)
            kl += 0.5 * (ab + ba)
        }
        let got = objective()
        XCTAssertEqual(got.count, 4)
        XCTAssertEqual(got.ce, ce, accuracy: 1e-4 * ce)
        XCTAssertEqual(got.kl, kl, accuracy: 1e-4 * kl)
        for r in [1, 1 + pairs] { XCTAssertEqual(rows[r], 0) }

        // The gradient of J = (Σ CE + α Σ ½(KL_ab + KL_ba)) / count, by finite differences.
        let g = FloatBuffer(count: 2 * pairs * v)
        consistencyCrossEntropyForwardBackward(dLogits: g.pointer, rowLoss: rows.pointer, x.pointer, targets: targets, pairs: pairs,
                                               vocab: v, smoothing: e, alpha: alpha, padId: 0, gradScale: 1.0 / 4)
        assertGradient("R-Drop", input: x, analytic: g, h: 1e-3, tolerance: 3e-3) {
            let o = objective()
            return (o.ce + Double(alpha) * o.kl) / Double(o.count)
        }
        for r in [1, 1 + pairs] { for j in 0..<v { XCTAssertEqual(g[r * v + j], 0) } }

        // In place (dLogits aliasing logits), with a bf16 copy, gives the same gradient.
        let copy = FloatBuffer(x.array)
        var g16 = [UInt16](repeating: 0x7fc0, count: 2 * pairs * v)
        consistencyCrossEntropyForwardBackward(dLogits: copy.pointer, dLogits16: &g16, rowLoss: rows.pointer, copy.pointer,
                                               targets: targets, pairs: pairs, vocab: v, smoothing: e, alpha: alpha, padId: 0,
                                               gradScale: 1.0 / 4)
        for i in 0..<(2 * pairs * v) {
            XCTAssertEqual(copy[i], g[i], accuracy: 1e-7)
            XCTAssertEqual(BFloat16.float(g16[i]), g[i], accuracy: abs(g[i]) / 128 + 1e-30)
        }
    }

    /// With identical rows the divergence and its gradient vanish, and each row's gradient is
    /// plain cross-entropy's; α = 0 gives cross-entropy's gradient whatever the rows.
    func testReducesToCrossEntropy() {
        var rng = RNG(seed: 12)
        let pairs = 2, v = 9, e: Float = 0.1
        let half = randomBuffer(pairs * v, &rng, scale: 2)
        let twin = FloatBuffer(half.array + half.array), other = randomBuffer(2 * pairs * v, &rng, scale: 2)
        let targets: [Int32] = [3, 7, 3, 7]
        let rows = FloatBuffer(count: 2 * pairs)
        for (x, alpha) in [(twin, Float(5)), (other, Float(0))] {
            let g = FloatBuffer(count: 2 * pairs * v), reference = FloatBuffer(count: 2 * pairs * v)
            let r = consistencyCrossEntropyForwardBackward(dLogits: g.pointer, rowLoss: rows.pointer, x.pointer, targets: targets,
                                                           pairs: pairs, vocab: v, smoothing: e, alpha: alpha, padId: 0, gradScale: 0.25)
            let plain = crossEntropyForwardBackward(dLogits: reference.pointer, rowLoss: rows.pointer, x.pointer, targets: targets,
                                                    rows: 2 * pairs, vocab: v, smoothing: e, padId: 0, gradScale: 0.25)
            XCTAssertEqual(r.sum, plain.sum, accuracy: 1e-5)
            if alpha > 0 { XCTAssertEqual(r.divergence, 0, accuracy: 1e-6) }
            for i in 0..<(2 * pairs * v) { XCTAssertEqual(g[i], reference[i], accuracy: 1e-6) }
        }
    }

    /// Through a whole model without dropout the two copies are the same function of the same input:
    /// the divergence vanishes and the doubled batch's R-Drop gradient equals the plain loss's, which
    /// checks that the decoder rows the kernel pairs (r and r + B·T) are one sentence's.
    func testDoubledBatchWithoutDropoutGivesThePlainGradient() throws {
        Threads.set(1)
        let config = ModelConfig(srcVocabSize: 20, tgtVocabSize: 20, dModel: 16, nHeads: 2, dFF: 32, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 16, shareEmbeddings: true, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 3)
        let batch = Batch(sources: [[5, 6, 7], [8]], targets: [[9, 10], [11, 12, 13, 14]], pad: 0, bos: 1, eos: 2)
        let tokens = batch.targetTokens(pad: 0)
        var rng = RNG(seed: 1)
        model.gradients.zero()
        _ = try model.forward(batch, training: true, rng: &rng)
        let plain = model.loss(smoothing: 0.1, gradScale: 1 / Float(tokens))
        try model.backward()
        let expected = model.gradients.array
        model.gradients.zero()
        _ = try model.forward(batch.doubled(), training: true, rng: &rng)
        let r = model.consistencyLoss(smoothing: 0.1, alpha: 5, gradScale: 1 / Float(2 * tokens))
        try model.backward()
        XCTAssertEqual(r.count, 2 * plain.count)
        XCTAssertEqual(r.sum / 2, plain.sum, accuracy: 1e-5 * plain.sum)
        XCTAssertEqual(r.divergence, 0, accuracy: 1e-7)
        let got = model.gradients.array
        var worst: Float = 0, largest: Float = 0
        for i in got.indices { worst = max(worst, abs(got[i] - expected[i])); largest = max(largest, abs(expected[i])) }
        XCTAssertGreaterThan(largest, 1e-3)
        XCTAssertLessThan(worst, 1e-5 * max(1, largest))
    }

    /// A doubled batch holds each sentence twice: row b and b + B.
    func testDoubledBatchStacksTheCopies() {
        let b = Batch(sources: [[5, 6], [7]], targets: [[8], [9, 10]], pad: 0, bos: 1, eos: 2)
        let d = b.doubled()
        XCTAssertEqual(d.batchSize, 4)
        XCTAssertEqual(d.src, b.src + b.src)
        XCTAssertEqual(d.tgtIn, b.tgtIn + b.tgtIn)
        XCTAssertEqual(d.tgtOut, b.tgtOut + b.tgtOut)
        XCTAssertEqual(d.targetTokens(pad: 0), 2 * b.targetTokens(pad: 0))
    }
}
