import Foundation
import XCTest
import Seq2SeqKit

/// Repetition control (`--repetition-penalty`, `--no-repeat-ngram`) against its definition: a
/// reference decoder here runs the full forward pass (no KV cache) on each prefix, edits the last
/// row's logits by the definition (CTRL's penalty on every token produced so far, −∞ for tokens that
/// would repeat an n-gram, both found by brute force) and takes the argmax; the library's beam
/// search at beam 1, in both styles, and the sampler at temperature 0 must choose the same tokens
/// with the same log-probabilities.
final class RepetitionControlTests: XCTestCase {
    func testNgramCompletions() {
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [1, 2, 3, 1, 2], n: 3), [3])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [1, 2, 3, 1, 2], n: 2), [3])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [1, 2, 3, 1, 2], n: 1), [1, 2, 3])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [1, 2, 3, 1, 2], n: 4), [])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [7, 7, 7], n: 2), [7])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [4, 5, 4, 6, 4], n: 2), [5, 6])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [5], n: 2), [])
        XCTAssertEqual(RepetitionControl.ngramCompletions(of: [], n: 1), [])
    }

    func testPenaltyDividesPositiveAndMultipliesNegativeScores() {
        var row: [Float] = [2, -2, 3, 0, -1]
        row.withUnsafeMutableBufferPointer { RepetitionControl(penalty: 2).apply(toLogits: $0.baseAddress!, previous: [0, 1, 1, 3]) }
        XCTAssertEqual(row, [1, -4, 3, 0, -1])  // each produced token once, whatever its count
        row.withUnsafeMutableBufferPointer { RepetitionControl(noRepeatNgram: 2).apply(toLogits: $0.baseAddress!, previous: [2, 4, 2]) }
        XCTAssertEqual(row, [1, -4, 3, 0, -.infinity])
    }

    /// The token the definition chooses after `tokens`, and its log-probability under the edited row.
    func referenceStep(_ model: Transformer, src: [Int32], srcLength: Int, prefix: [Int32], produced: [Int32],
                       _ control: RepetitionControl) throws -> (token: Int32, logProb: Double) {
        let c = model.config, v = c.tgtVocabSize, t = prefix.count
        var rng = RNG(seed: 0)
        let batch = Batch(batchSize: 1, srcLength: srcLength, tgtLength: t, src: src, tgtIn: prefix,
                          tgtOut: [Int32](repeating: Int32(c.padId), count: t))
        let logits = try model.forward(batch, training: false, rng: &rng)
        var row = Array(logits[((t - 1) * v)..<(t * v)])
        for id in Set(produced) { row[Int(id)] = row[Int(id)] > 0 ? row[Int(id)] / control.penalty : row[Int(id)] * control.penalty }
        let n = control.noRepeatNgram
        if n > 0 && produced.count >= n {
            for i in 0...(produced.count - n) where Array(produced[i..<(i + n - 1)]) == Array(produced.suffix(n - 1)) {
                row[Int(produced[i + n - 1])] = -.infinity
            }
        }
        var best = -Float.infinity, arg = 0
        for j in 0..<v where j != c.padId && j != c.bosId && row[j] > best { best = row[j]; arg = j }
        let m = row.max()!
        let lse = Double(m) + log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
        return (Int32(arg), Double(row[arg]) - lse)
    }

    static let controls = [RepetitionControl(penalty: 1.5), RepetitionControl(noRepeatNgram: 2),
                           RepetitionControl(noRepeatNgram: 1), RepetitionControl(penalty: 3, noRepeatNgram: 3),
                           RepetitionControl(penalty: 0.5)]

    func testGreedyTranslationFollowsTheDefinition() throws {
        var differed = 0
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard !model.config.isDecoderOnly else { continue }
            let c = model.config
            let shape = try file.tensor("greedy.src_ids").shape
            let src = try file.int64s("greedy.src_ids").map(Int32.init)
            let cap = 14
            let plain = try BeamSearch(beam: 1).translate(model, src: src, batch: shape[0], srcLength: shape[1],
                                                          maxLength: [Int](repeating: cap, count: shape[0]))
            for control in Self.controls {
                for style in BeamSearch.Style.allCases {
                    var search = BeamSearch(beam: 1)
                    search.style = style
                    search.repetition = control
                    let hyps = try search.translate(model, src: src, batch: shape[0], srcLength: shape[1],
                                                    maxLength: [Int](repeating: cap, count: shape[0]))
                    for b in 0..<shape[0] {
                        let row = Array(src[(b * shape[1])..<((b + 1) * shape[1])])
                        var produced: [Int32] = [], logProb = 0.0
                        while produced.count < cap {
                            let step = try referenceStep(model, src: row, srcLength: shape[1], prefix: [Int32(c.bosId)] + produced,
                                                         produced: produced, control)
                            produced.append(step.token)
                            logProb += step.logProb
                            if step.token == Int32(c.eosId) { break }
                        }
                        let h = hyps[b][0]
                        XCTAssertEqual(h.tokens, produced, "\(path) \(control) \(style) sentence \(b)")
                        XCTAssertEqual(Double(h.logProb), logProb, accuracy: 1e-3 * max(1, abs(logProb)), "\(path) \(control) \(style)")
                        if h.tokens != plain[b][0].tokens { differed += 1 }
                    }
                }
            }
        }
        XCTAssertGreaterThan(differed, 0, "no setting changed any translation: the controls were not applied")
    }

    /// Beam search with the n-gram ban, both styles, every n-best hypothesis: no n-gram twice.
    func testBeamSearchNeverRepeatsABannedNgram() throws {
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard !model.config.isDecoderOnly else { continue }
            let shape = try file.tensor("greedy.src_ids").shape
            let src = try file.int64s("greedy.src_ids").map(Int32.init)
            for n in 1...3 {
                for style in BeamSearch.Style.allCases {
                    var search = BeamSearch(beam: 4, lengthPenalty: 1, nBest: 4)
                    search.style = style
                    search.repetition = RepetitionControl(noRepeatNgram: n)
                    let hyps = try search.translate(model, src: src, batch: shape[0], srcLength: shape[1],
                                                    maxLength: [Int](repeating: 16, count: shape[0]))
                    for h in hyps.flatMap({ $0 }) {
                        let grams = h.tokens.count < n ? [] : (0...(h.tokens.count - n)).map { Array(h.tokens[$0..<($0 + n)]) }
                        XCTAssertEqual(Set(grams).count, grams.count, "\(path) n=\(n) \(style): \(h.tokens)")
                        XCTAssertTrue(h.logProb.isFinite, "\(path) n=\(n) \(style)")
                    }
                }
            }
        }
    }

    /// The sampler at temperature 0 (argmax) counts the prompt as produced, as transformers does.
    func testSamplerFollowsTheDefinitionOverPromptAndOutput() throws {
        var checked = 0
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            guard model.config.isDecoderOnly else { continue }
            let shape = try file.tensor("greedy.prompt").shape
            let prompt = Array(try file.int64s("greedy.prompt").map(Int32.init).prefix(shape[1]))
            let steps = min(10, model.config.maxPositions - prompt.count)
            for control in Self.controls {
                var sampler = Sampler(temperature: 0)
                sampler.repetition = control
                var got: [Int32] = []
                sampler.generate(model, prompt: prompt, maxTokens: steps) { got.append($0) }
                var expected: [Int32] = []
                for _ in 0..<steps {
                    let context = prompt + expected
                    expected.append(try referenceStep(model, src: [], srcLength: 0, prefix: context, produced: context, control).token)
                }
                XCTAssertEqual(got, expected, "\(path) \(control)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0, "no decoder-only fixture")
    }
}
