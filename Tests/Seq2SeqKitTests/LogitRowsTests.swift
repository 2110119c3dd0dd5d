import Foundation
import XCTest
import Seq2SeqKit

/// A pass that computes logits for the labelled positions only (`LogitRows.labelled`, what training
/// uses) gives the same logits on those rows, the same loss and the same gradients as a pass over
/// every position, with dropout drawn from the same seed, in float32 and bf16, for a pre-norm tied
/// model, a post-norm model with a logits bias (Marian's shape), a decoder-only model and R-Drop's
/// doubled batches.
final class LogitRowsTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    private struct Pass { var logits: [Float]; var loss: Double; var count: Int; var gradients: [Float] }

    private func pass(_ model: Transformer, _ batch: Batch, _ rows: LogitRows, rdrop: Bool = false) throws -> Pass {
        var rng = RNG(seed: 7)
        model.gradients.zero()
        let tokens = batch.targetTokens(pad: Int32(model.config.padId))
        let logits = Array(try model.forward(rdrop ? batch.doubled() : batch, training: true, logitRows: rows, rng: &rng))
        let loss: Double, count: Int
        if rdrop {
            let r = model.consistencyLoss(smoothing: 0.1, alpha: 5, gradScale: 1 / Float(2 * tokens))
            (loss, count) = (r.sum + 5 * r.divergence, r.count)
        } else {
            (loss, count) = model.loss(smoothing: 0.1, gradScale: 1 / Float(tokens))
        }
        try model.backward()
        return Pass(logits: logits, loss: loss, count: count, gradients: model.gradients.array)
    }

    private func check(_ name: String, _ model: Transformer, _ batch: Batch, rdrop: Bool = false, tolerance: Float = 1e-5) throws {
        let pad = Int32(model.config.padId), v = model.config.tgtVocabSize
        // The labelled pass first: the full pass would leave zeros at the pad rows of the gradient scratch.
        let labelled = try pass(model, batch, .labelled, rdrop: rdrop), all = try pass(model, batch, .all, rdrop: rdrop)
        // The labelled rows, in order, of the full logits.
        let labels = rdrop ? batch.tgtOut + batch.tgtOut : batch.tgtOut
        let kept = labels.indices.filter { labels[$0] != pad }
        XCTAssertLessThan(kept.count, labels.count, "\(name): the batch has padding")
        XCTAssertEqual(labelled.logits.count, kept.count * v, name)
        let expected = kept.flatMap { all.logits[($0 * v)..<($0 * v + v)] }
        let scale = expected.map(abs).max()!
        for (x, y) in zip(labelled.logits, expected) { XCTAssertEqual(x, y, accuracy: tolerance * scale, name) }
        XCTAssertEqual(labelled.count, all.count, name)
        XCTAssertEqual(labelled.count, kept.count, name)
        XCTAssertEqual(labelled.loss, all.loss, accuracy: Double(tolerance) * all.loss, name)
        let largest = all.gradients.map(abs).max()!
        XCTAssertGreaterThan(largest, 1e-3, name)
        var worst: Float = 0
        for (x, y) in zip(labelled.gradients, all.gradients) { worst = max(worst, abs(x - y)) }
        XCTAssertLessThan(worst, tolerance * largest, "\(name): gradients differ")
    }

    private func models() throws -> [(String, Transformer, Batch)] {
        var out: [(String, Transformer, Batch)] = []
        let pairs = Batch(sources: [[5, 6, 7], [8], [9, 10, 11, 12]], targets: [[13, 14], [15, 16, 17, 18, 19], [20]],
                          pad: 0, bos: 1, eos: 2)
        let tied = try Transformer(config: ModelConfig(srcVocabSize: 40, tgtVocabSize: 40, dModel: 16, nHeads: 2, dFF: 32,
                                                       encoderLayers: 1, decoderLayers: 2, maxPositions: 16,
                                                       shareEmbeddings: true, dropout: 0.1))
        tied.initialize(seed: 3)
        out.append(("pre-norm, tied", tied, pairs))
        var marian = ModelConfig(srcVocabSize: 30, tgtVocabSize: 30, dModel: 16, nHeads: 2, dFF: 32, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 16, norm: .post, activation: .silu, dropout: 0.1,
                                 padId: 25, bosId: 25, eosId: 0)
        marian.finalLogitsBias = true
        let post = try Transformer(config: marian)
        post.initialize(seed: 4)
        // A logits bias that is not zero, so that its gradient is summed over the right rows.
        if let bias = post.layout.entry("final_logits_bias") {
            for i in 0..<bias.count { post.parameters[bias.offset + i] = Float(i % 7) * 0.1 - 0.3 }
            post.parametersDidChange()
        }
        out.append(("post-norm, logits bias", post, Batch(sources: [[5, 6, 7], [8]], targets: [[13], [15, 16, 17, 18]],
                                                          pad: 25, bos: 25, eos: 0)))
        let gpt = try Transformer(config: ModelConfig(srcVocabSize: 0, tgtVocabSize: 24, dModel: 16, nHeads: 2, dFF: 32,
                                                      encoderLayers: 0, decoderLayers: 2, maxPositions: 8,
                                                      positional: .learned, dropout: 0.1))
        gpt.initialize(seed: 5)
        // Two blocks, the second shorter (padded), as a language model's last block is.
        let x: [Int32] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0], y: [Int32] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0]
        out.append(("decoder-only", gpt, Batch(batchSize: 2, srcLength: 0, tgtLength: 6, src: [], tgtIn: x, tgtOut: y)))
        return out
    }

    func testLabelledRowsMatchAllRowsInFloat32() throws {
        for (name, model, batch) in try models() {
            try check(name, model, batch)
            try check("\(name), R-Drop", model, batch, rdrop: true)
        }
    }

    func testLabelledRowsMatchAllRowsInBF16() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        for (name, model, batch) in try models() {
            try model.setPrecision(.bf16)
            // The same bf16 operands either way; only the float32 sums' order may differ.
            try check("\(name), bf16", model, batch, tolerance: 1e-4)
            try check("\(name), bf16, R-Drop", model, batch, rdrop: true, tolerance: 1e-4)
        }
    }

    /// The packing kernels against plain loops, on two threads and a size that splits them (a
    /// thread's chunk of the unpacked rows finds its first packed row by binary search): packed rows
    /// on both sides of the split, a run of rows with none packed, and no rows at all.
    func testGatherAndScatterRowsAcrossThreads() {
        Threads.set(2)
        defer { Threads.set(1) }
        let n = 5_000, d = 128
        var x = [Float](repeating: 0, count: n * d)
        for i in x.indices { x[i] = Float(i % 1_009) - 500 }
        let lists: [[Int32]] = [
            (0..<n).filter { $0 % 3 != 1 && !(1_000..<3_000).contains($0) || $0 == n / 2 - 1 || $0 == n / 2 }.map(Int32.init),
            [Int32(n - 1)], [0], [],
        ]
        for rows in lists {
            var packed = [Float](repeating: .nan, count: rows.count * d)
            rows.withUnsafeBufferPointer { gatherRows(&packed, x, rows: $0, width: d) }
            for (i, r) in rows.enumerated() { XCTAssertEqual(Array(packed[(i * d)..<(i * d + d)]), Array(x[(Int(r) * d)..<(Int(r) * d + d)])) }
            var back = [Float](repeating: .nan, count: n * d)
            rows.withUnsafeBufferPointer { scatterRows(&back, rows: n, packed, at: $0, width: d) }
            var expected = [Float](repeating: 0, count: n * d)
            for r in rows { for j in 0..<d { expected[Int(r) * d + j] = x[Int(r) * d + j] } }
            XCTAssertEqual(back, expected, "\(rows.count) rows packed")
        }
    }

    /// Without padding the labelled pass is the full pass; a batch with no label at all has no logits,
    /// no loss and no gradient.
    func testBatchesWithoutPaddingOrWithoutLabels() throws {
        let model = try Transformer(config: ModelConfig(srcVocabSize: 0, tgtVocabSize: 24, dModel: 16, nHeads: 2, dFF: 32,
                                                        encoderLayers: 0, decoderLayers: 1, maxPositions: 8,
                                                        positional: .learned, dropout: 0))
        model.initialize(seed: 6)
        let full = Batch(batchSize: 1, srcLength: 0, tgtLength: 4, src: [], tgtIn: [3, 4, 5, 6], tgtOut: [4, 5, 6, 7])
        let a = try pass(model, full, .all), b = try pass(model, full, .labelled)
        XCTAssertEqual(a.logits, b.logits)
        XCTAssertEqual(a.gradients, b.gradients)
        let empty = Batch(batchSize: 1, srcLength: 0, tgtLength: 2, src: [], tgtIn: [3, 4], tgtOut: [0, 0])
        var rng = RNG(seed: 1)
        model.gradients.zero()
        XCTAssertEqual(try model.forward(empty, training: true, logitRows: .labelled, rng: &rng).count, 0)
        let r = model.loss(smoothing: 0.1, gradScale: 1)
        XCTAssertEqual(r.count, 0); XCTAssertEqual(r.sum, 0)
        try model.backward()
        XCTAssertEqual(model.gradients.array.map(abs).max(), 0)
    }
}
