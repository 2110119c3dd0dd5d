import Foundation
import XCTest
import Seq2SeqKit

/// The model against every PyTorch fixture: logits, loss, every gradient and greedy tokens.
/// Nothing here knows a fixture's name: the configuration comes from each file's metadata.
final class ParityTests: XCTestCase {
    override func setUp() { Threads.set(2) }

    func testAllFixtures() throws {
        let files = try Fixtures.all()
        XCTAssertFalse(files.isEmpty, "no fixtures in \(Fixtures.directory)")
        for path in files {
            let file = try SafeTensors(contentsOf: path)
            let name = (path as NSString).lastPathComponent
            let model = try Fixtures.model(file)
            let batch = try Fixtures.batch(file, decoderOnly: model.config.isDecoderOnly)
            var rng = RNG(seed: 0)
            let logits = Array(try model.forward(batch, training: true, rng: &rng))
            assertClose(logits, try file.floats("out.logits"), "\(name) logits")
            let smoothing = Float(file.metadata["label_smoothing"] ?? "0") ?? 0
            model.gradients.zero()
            let (sum, count) = model.loss(smoothing: smoothing)
            let expected = try file.floats("out.loss")[0]
            XCTAssertEqual(Float(sum / Double(count)), expected, accuracy: 1e-4 * abs(expected), "\(name) loss")
            try model.backward()
            var checked = 0
            func ours(_ n: String) -> [Float] {
                let e = model.layout.entry(n)!
                return Array(UnsafeBufferPointer(start: model.gradients.pointer + e.offset, count: e.count))
            }
            for e in model.layout.entries {
                let expected = try file.floats("grad." + e.name)
                if e.name.hasSuffix("k_proj.bias") {
                    // Adding a constant to every key of a query adds one constant to all its scores, which
                    // softmax cancels: this gradient is 0 in exact arithmetic, and both PyTorch's value and
                    // ours are float32 rounding noise (~1e-8). Check both are 0 relative to the gradient of
                    // the key weights they are summed from.
                    let weight = try file.floats("grad." + e.name.replacingOccurrences(of: ".bias", with: ".weight"))
                    let scale = weight.map(abs).max()!
                    XCTAssertLessThanOrEqual(ours(e.name).map(abs).max()!, 1e-4 * scale, "\(name) grad.\(e.name) is not ~0")
                    XCTAssertLessThanOrEqual(expected.map(abs).max()!, 1e-4 * scale, "\(name) fixture grad.\(e.name) is not ~0")
                } else {
                    assertClose(ours(e.name), expected, "\(name) grad.\(e.name)")
                }
                checked += 1
            }
            XCTAssertEqual(checked, file.names.filter { $0.hasPrefix("grad.") }.count, "\(name): every grad.* compared")
            try checkGreedy(model, file, name)
        }
    }

    /// Greedy decoding through the KV cache reproduces the fixture's tokens exactly.
    func checkGreedy(_ model: Transformer, _ file: SafeTensors, _ name: String) throws {
        let maxLen = Int(try file.int64s("greedy.max_len")[0])
        let expected = try file.int64s("greedy.tokens").map(Int32.init)
        let tokens: [[Int32]]
        if model.config.isDecoderOnly {
            let shape = try file.tensor("greedy.prompt").shape
            let flat = try file.int64s("greedy.prompt").map(Int32.init)
            let prompts = (0..<shape[0]).map { Array(flat[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
            tokens = try GreedyDecoder.complete(model, prompts: prompts, maxLength: maxLen)
        } else {
            let shape = try file.tensor("greedy.src_ids").shape
            tokens = try GreedyDecoder.translate(model, src: try file.int64s("greedy.src_ids").map(Int32.init),
                                                 batch: shape[0], srcLength: shape[1], maxLength: maxLen)
        }
        XCTAssertEqual(tokens.flatMap { $0 }, expected, "\(name) greedy tokens")
    }
}

final class BeamSearchTests: XCTestCase {
    /// Beam search with k = 1 is exactly the fixtures' greedy decoding.
    func testBeamOneIsGreedy() throws {
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard !model.config.isDecoderOnly else { continue }
            let maxLen = Int(try file.int64s("greedy.max_len")[0])
            let shape = try file.tensor("greedy.src_ids").shape
            let hyps = try BeamSearch(beam: 1).translate(
                model, src: try file.int64s("greedy.src_ids").map(Int32.init), batch: shape[0], srcLength: shape[1],
                maxLength: [Int](repeating: maxLen - 1, count: shape[0]))
            var rows: [Int32] = []
            for h in hyps {
                let row = [Int32(model.config.bosId)] + h[0].tokens
                rows += row + [Int32](repeating: 0, count: maxLen - row.count)
            }
            XCTAssertEqual(rows, try file.int64s("greedy.tokens").map(Int32.init), path)
        }
    }

    /// Every n-best hypothesis's log-probability equals the same tokens scored by the full forward
    /// pass (teacher forcing, no cache): beams fork, are reordered and dropped from the KV cache, and
    /// a cache row copied or kept wrongly would change these sums.
    func testBeamScoresEqualTeacherForcedScores() throws {
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard !model.config.isDecoderOnly else { continue }
            let c = model.config, v = c.tgtVocabSize
            let shape = try file.tensor("greedy.src_ids").shape
            let src = try file.int64s("greedy.src_ids").map(Int32.init)
            for normalization in BeamSearch.LengthNormalization.allCases {
                let nBest = try BeamSearch(beam: 5, lengthPenalty: 1, normalization: normalization, nBest: 5).translate(
                    model, src: src, batch: shape[0], srcLength: shape[1], maxLength: [Int](repeating: 12, count: shape[0]))
                var checked = 0
                for (b, hyps) in nBest.enumerated() {
                    for h in hyps {
                        let t = h.tokens.count
                        let penalty: Float = normalization == .gnmt ? (5 + Float(t)) / 6 : Float(t)
                        XCTAssertEqual(h.score, h.logProb / penalty, accuracy: 1e-6 * max(1, abs(h.score)), "\(normalization)")
                        let batch = Batch(batchSize: 1, srcLength: shape[1], tgtLength: t,
                                          src: Array(src[(b * shape[1])..<((b + 1) * shape[1])]),
                                          tgtIn: [Int32(c.bosId)] + h.tokens.dropLast(), tgtOut: h.tokens)
                        var rng = RNG(seed: 0)
                        let logits = try model.forward(batch, training: false, rng: &rng)
                        var sum: Double = 0
                        for (i, tok) in h.tokens.enumerated() {
                            let row = Array(logits[(i * v)..<((i + 1) * v)])
                            let m = row.max()!
                            let lse = Double(m) + log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
                            sum += Double(row[Int(tok)]) - lse
                        }
                        XCTAssertEqual(Double(h.logProb), sum, accuracy: 1e-4 * max(1, abs(sum)), "\(path) sentence \(b)")
                        checked += 1
                    }
                }
                XCTAssertGreaterThan(checked, shape[0] * 2, path)
            }
        }
    }

    /// A wider beam never finds a worse best hypothesis (by its own score) on these models, and
    /// returns n-best lists sorted by score.
    func testWiderBeamScoresAtLeastAsWell() throws {
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard !model.config.isDecoderOnly else { continue }
            let shape = try file.tensor("greedy.src_ids").shape
            let src = try file.int64s("greedy.src_ids").map(Int32.init)
            let caps = [Int](repeating: 11, count: shape[0])
            let greedy = try BeamSearch(beam: 1, lengthPenalty: 0).translate(model, src: src, batch: shape[0], srcLength: shape[1], maxLength: caps)
            let wide = try BeamSearch(beam: 4, lengthPenalty: 0, nBest: 4).translate(model, src: src, batch: shape[0], srcLength: shape[1], maxLength: caps)
            for (g, w) in zip(greedy, wide) {
                XCTAssertGreaterThanOrEqual(w[0].score, g[0].score - 1e-4, path)
                XCTAssertEqual(w.map(\.score), w.map(\.score).sorted(by: >))
            }
        }
    }
}
