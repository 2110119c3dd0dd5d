import Foundation
import XCTest
import Seq2SeqKit

final class ModelTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    static func tinyBatch(decoderOnly: Bool) -> Batch {
        Batch(sources: decoderOnly ? [] : [[5, 6, 7], [8]], targets: [[9, 10], [11, 12, 13]], pad: 0, bos: 1, eos: 2)
    }

    /// Finite differences of the whole model's loss with respect to a sample of every tensor, for an
    /// encoder-decoder (post-norm, learned positions, dropout and word dropout on with fixed masks), a
    /// GPT (pre-norm), and the two dropouts apart: residual dropout without attention dropout
    /// (encoder-decoder), attention dropout without residual dropout (GPT).
    func testWholeModelGradient() throws {
        var residualOnly = ModelConfig(srcVocabSize: 16, tgtVocabSize: 14, dModel: 8, nHeads: 2, dFF: 12, encoderLayers: 1,
                                       decoderLayers: 1, maxPositions: 8, activation: .gelu, dropout: 0.3)
        residualOnly.attentionDropout = 0
        var attentionOnly = ModelConfig(srcVocabSize: 0, tgtVocabSize: 14, dModel: 8, nHeads: 2, dFF: 12, encoderLayers: 0,
                                        decoderLayers: 2, maxPositions: 8, norm: .pre, activation: .gelu, dropout: 0)
        attentionOnly.attentionDropout = 0.3
        let configs = [residualOnly, attentionOnly,
            ModelConfig(srcVocabSize: 16, tgtVocabSize: 14, dModel: 8, nHeads: 2, dFF: 12, encoderLayers: 1,
                        decoderLayers: 1, maxPositions: 8, positional: .learned, norm: .post, activation: .silu,
                        tieOutput: false, dropout: 0.1),
            ModelConfig(srcVocabSize: 0, tgtVocabSize: 14, dModel: 8, nHeads: 2, dFF: 12, encoderLayers: 0,
                        decoderLayers: 2, maxPositions: 8, norm: .pre, activation: .gelu, dropout: 0),
        ]
        for config in configs {
            let model = try Transformer(config: config)
            model.initialize(seed: 3)
            if !config.isDecoderOnly { model.sourceWordDropout = 0.3; model.targetWordDropout = 0.3 }
            // Non-trivial LayerNorm and bias values so that every path carries gradient.
            var rng = RNG(seed: 4)
            for i in 0..<model.layout.totalCount { model.parameters[i] += (rng.nextFloat() - 0.5) * 0.2 }
            let batch = Self.tinyBatch(decoderOnly: config.isDecoderOnly)
            func loss() throws -> Double {
                var r = RNG(seed: 9)  // the same dropout masks on every call
                try model.forward(batch, training: true, rng: &r)
                let (s, n) = model.loss(smoothing: 0.1, computeGradient: false)
                return s / Double(n)
            }
            var r = RNG(seed: 9)
            try model.forward(batch, training: true, rng: &r)
            model.gradients.zero()
            model.loss(smoothing: 0.1)
            try model.backward()
            let analytic = model.gradients.array
            var worst = 0.0
            for e in model.layout.entries {
                for k in stride(from: 0, to: e.count, by: max(1, e.count / 5)) {
                    let i = e.offset + k
                    let saved = model.parameters[i]
                    let h: Float = 1e-2
                    model.parameters[i] = saved + h
                    let plus = try loss()
                    model.parameters[i] = saved - h
                    let minus = try loss()
                    model.parameters[i] = saved
                    let numeric = (plus - minus) / Double(2 * h)
                    let err = abs(numeric - Double(analytic[i])) / max(1e-2, abs(numeric))
                    if err > 2e-2 { XCTFail("\(e.name)[\(k)]: numeric \(numeric), analytic \(analytic[i])") }
                    worst = max(worst, err)
                }
            }
            XCTAssertLessThan(worst, 2e-2)
        }
    }

    /// attention_dropout acts on the attention probabilities alone, and only in training: with it at 0.5
    /// and dropout 0 a training pass differs from an inference pass; with both 0 they are equal to the bit;
    /// config.json keeps the field, and one outside [0, 1) is refused.
    func testAttentionDropoutIsItsOwnRate() throws {
        var config = ModelConfig(srcVocabSize: 16, tgtVocabSize: 14, dModel: 8, nHeads: 2, dFF: 12, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 8, dropout: 0)
        XCTAssertEqual(config.attentionDropoutRate, 0, "absent: the same as dropout")
        func logits(_ c: ModelConfig, training: Bool) throws -> [Float] {
            let model = try Transformer(config: c)
            model.initialize(seed: 3)
            var rng = RNG(seed: 5)
            return Array(try model.forward(Self.tinyBatch(decoderOnly: false), training: training, rng: &rng))
        }
        config.attentionDropout = 0
        XCTAssertEqual(try logits(config, training: true), try logits(config, training: false))
        config.attentionDropout = 0.5
        XCTAssertEqual(config.attentionDropoutRate, 0.5)
        let trained = try logits(config, training: true), inferred = try logits(config, training: false)
        XCTAssertNotEqual(trained, inferred, "attention dropout 0.5 changes a training pass")
        XCTAssertEqual(inferred, try logits(config, training: false))
        let saved = try ModelConfig.decode(config.jsonData(), source: "config.json")
        XCTAssertEqual(saved.attentionDropout, 0.5)
        let json = String(decoding: try config.jsonData(), as: UTF8.self).replacingOccurrences(of: "\"attention_dropout\" : 0.5", with: "\"attention_dropout\" : 1.5")
        XCTAssertThrowsError(try ModelConfig.decode(Data(json.utf8), source: "m/config.json")) { error in
            XCTAssertEqual("\(error)", "m/config.json: invalid model configuration: attention_dropout must be in [0, 1) (got 1.5)")
        }
    }

    func testCheckpointRoundTripIsBitExact() throws {
        let path = try XCTUnwrap(try Fixtures.all().first { $0.contains("encdec") }, "no encoder-decoder fixture in \(Fixtures.directory)")
        let model = try Fixtures.model(SafeTensors(contentsOf: path))
        let dir = NSTemporaryDirectory() + "seq2seq-roundtrip-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelDirectory.save(model, to: dir)
        let loaded = try ModelDirectory.load(dir)
        XCTAssertEqual(loaded.config, model.config)
        let batch = Self.tinyBatch(decoderOnly: false)
        var r1 = RNG(seed: 0), r2 = RNG(seed: 0)
        let a = Array(try model.forward(batch, training: false, rng: &r1))
        let b = Array(try loaded.forward(batch, training: false, rng: &r2))
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        // The file holds exactly the spec's names.
        let file = try SafeTensors(contentsOf: dir + "/model.safetensors")
        XCTAssertEqual(Set(file.names), Set(model.layout.entries.map(\.name)))
        XCTAssertEqual(file.metadata["format"], "pt")
    }

    func testStrictLoadingErrors() throws {
        let config = ModelConfig(srcVocabSize: 10, tgtVocabSize: 10, dModel: 4, nHeads: 2, dFF: 8, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 8)
        let model = try Transformer(config: config)
        model.initialize(seed: 1)
        let entries = model.weightEntries()
        func load(_ e: [SafeTensors.Entry]) throws {
            let data = try SafeTensors.serialize(e)
            try model.loadWeights(from: SafeTensors(data: data, path: "m.safetensors"))
        }
        XCTAssertNoThrow(try load(entries))
        XCTAssertThrowsError(try load(Array(entries.dropLast()))) { e in
            XCTAssertEqual(e as? ModelError, .missingTensor(file: "m.safetensors", name: entries.last!.name))
        }
        XCTAssertThrowsError(try load(entries + [.i64("extra.thing", [1], [3])])) { e in
            XCTAssertEqual(e as? ModelError, .unexpectedTensor(file: "m.safetensors", name: "extra.thing"))
        }
        var bad = entries
        let first = bad[0]
        bad[0] = SafeTensors.Entry(name: first.name, dtype: .f32, shape: [first.shape[1], first.shape[0]], bytes: first.bytes)
        XCTAssertThrowsError(try load(bad)) { e in
            XCTAssertEqual(e as? ModelError, .shapeMismatch(file: "m.safetensors", name: first.name,
                                                            expected: first.shape, found: [first.shape[1], first.shape[0]]))
        }
        // Truncated data, oversized and malformed headers.
        let good = try SafeTensors.serialize(entries)
        XCTAssertThrowsError(try SafeTensors(data: good.prefix(good.count - 5), path: "t.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
        var huge = Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0])
        huge.append(Data(repeating: 0x20, count: 16))
        XCTAssertThrowsError(try SafeTensors(data: huge, path: "h.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("exceeds"), "\(e)")
        }
        var garbage = Data([8, 0, 0, 0, 0, 0, 0, 0])
        garbage.append(Data("{nope!!}".utf8))
        XCTAssertThrowsError(try SafeTensors(data: garbage, path: "g.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("g.safetensors: bad safetensors header"), "\(e)")
        }
        // The header is 8-byte aligned.
        let n = good.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
    }

    func testIncrementalDecodingMatchesFullForward() throws {
        // The KV-cached step must give the same logits as the full causal forward pass: the spec's
        // fixtures (heads of 4 and 8 features), and random models whose heads are wide enough for the
        // SIMD paths of the decoder's attention (5 heads of 32: a group of four and one more; 4 of 18).
        var models: [(String, Transformer)] = try Fixtures.all().map { ($0, try Fixtures.model(SafeTensors(contentsOf: $0))) }
        for (name, config) in [
            ("random d160 h5", ModelConfig(srcVocabSize: 20, tgtVocabSize: 20, dModel: 160, nHeads: 5, dFF: 64,
                                           encoderLayers: 1, decoderLayers: 2, maxPositions: 16, dropout: 0)),
            ("random GPT d72 h4", ModelConfig(srcVocabSize: 0, tgtVocabSize: 20, dModel: 72, nHeads: 4, dFF: 32,
                                              encoderLayers: 0, decoderLayers: 2, maxPositions: 16, norm: .post, dropout: 0)),
        ] {
            let model = try Transformer(config: config)
            model.initialize(seed: 5)
            models.append((name, model))
        }
        for (path, model) in models {
            let dec = model.config.isDecoderOnly
            let batch = Self.tinyBatch(decoderOnly: dec)
            var rng = RNG(seed: 0)
            let full = Array(try model.forward(batch, training: false, rng: &rng))
            try Self.assertIncrementalDecodingMatches(model, batch, full: full, relative: 1e-5, path)
        }
    }

    /// Feeds the two rows of `batch` to an IncrementalDecoder one token at a time and compares each
    /// step's logits with the full forward pass's `full` [2·T, V] (padded positions skipped).
    static func assertIncrementalDecodingMatches(_ model: Transformer, _ batch: Batch, full: [Float], relative: Float,
                                                 _ name: String) throws {
        let v = model.config.tgtVocabSize, t = batch.tgtLength
        let inc = IncrementalDecoder(model: model)
        if model.config.isDecoderOnly {
            inc.start(rows: 2, capacity: t)
        } else {
            let (mem, valid) = try model.encode(src: batch.src, batch: 2, length: batch.srcLength)
            inc.start(rows: 2, capacity: t, memory: mem, sourceLength: batch.srcLength, sourceValid: valid)
        }
        for s in 0..<t {
            let logits = inc.step([batch.tgtIn[s], batch.tgtIn[t + s]])
            for r in 0..<2 where batch.tgtIn[r * t + s] != 0 {
                let got = Array(UnsafeBufferPointer(start: logits + r * v, count: v))
                let want = Array(full[((r * t + s) * v)..<((r * t + s + 1) * v)])
                assertClose(got, want, relative: relative, "\(name) step \(s) row \(r)")
            }
        }
    }
}
