import XCTest
@_spi(Testing) import Seq2SeqKit

/// int8 models end to end: quantize, save, load, decode; what a damaged int8 file gives.
final class QuantizedModelTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    static let configs: [(String, ModelConfig)] = [
        ("enc-dec d64, tied, learned positions, post-norm", ModelConfig(
            srcVocabSize: 40, tgtVocabSize: 37, dModel: 64, nHeads: 4, dFF: 96, encoderLayers: 2, decoderLayers: 2,
            maxPositions: 16, positional: .learned, norm: .post, dropout: 0)),
        ("enc-dec d48, untied lm_head, shared embeddings", ModelConfig(
            srcVocabSize: 30, tgtVocabSize: 30, dModel: 48, nHeads: 2, dFF: 64, encoderLayers: 1, decoderLayers: 1,
            maxPositions: 16, shareEmbeddings: true, tieOutput: false, dropout: 0)),
        ("GPT d64", ModelConfig(srcVocabSize: 0, tgtVocabSize: 33, dModel: 64, nHeads: 4, dFF: 128, encoderLayers: 0,
                                decoderLayers: 2, maxPositions: 16, dropout: 0)),
    ]

    func dir(_ name: String) -> String { NSTemporaryDirectory() + "seq2seq-int8-\(name)-\(getpid())" }

    func testQuantizedModelSavesLoadsAndStaysCloseToFloat() throws {
        for (name, config) in Self.configs {
            let float = try Transformer(config: config)
            float.initialize(seed: 3)
            let path = dir("roundtrip")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ModelDirectory.save(float, to: path)
            let q = try ModelDirectory.load(path)
            try q.quantize()
            XCTAssertTrue(q.isQuantized)
            XCTAssertEqual(q.config.quantization, .int8)
            let qpath = path + "-q"
            defer { try? FileManager.default.removeItem(atPath: qpath) }
            try ModelDirectory.save(q, to: qpath)
            let loaded = try ModelDirectory.load(qpath)
            XCTAssertEqual(loaded.config, q.config, name)
            XCTAssertEqual(loaded.quantized.count, q.layout.quantizedEntries.count, name)

            // The file: I8 matrices with F32 scales, float32 for the rest, and 4× smaller matrices.
            let file = try SafeTensors(contentsOf: qpath + "/model.safetensors")
            for e in q.layout.entries {
                let quantized = q.layout.quantizedEntries.contains(e)
                XCTAssertEqual(file.tensors[e.name]?.dtype, quantized ? .i8 : .f32, e.name)
                XCTAssertEqual(file.tensors[ParameterLayout.scaleName(e.name)]?.shape, quantized ? [e.shape[0]] : nil, e.name)
            }

            // Loaded equals quantized in memory, bit for bit; both stay close to the float model.
            let batch = ModelTests.tinyBatch(decoderOnly: config.isDecoderOnly)
            var r = RNG(seed: 0)
            let f = Array(try float.forward(batch, training: false, rng: &r))
            let a = Array(try q.forward(batch, training: false, rng: &r))
            let b = Array(try loaded.forward(batch, training: false, rng: &r))
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), name)
            let scale = f.map(abs).max()!
            let worst = zip(a, f).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 0.05 * scale, "\(name): int8 logits too far from float")
            XCTAssertGreaterThan(worst, 0, "\(name): int8 logits equal float ones: the int8 path did not run")

            // The incremental decoder agrees with the int8 full forward pass.
            try ModelTests.assertIncrementalDecodingMatches(loaded, batch, full: b, relative: 1e-4, name)
        }
    }

    func testDamagedInt8FilesAreClearErrors() throws {
        let config = Self.configs[0].1
        let model = try Transformer(config: config)
        model.initialize(seed: 1)
        try model.quantize()
        let entries = model.weightEntries()
        let target = model.layout.quantizedEntries[3].name, scale = ParameterLayout.scaleName(target)
        func load(_ e: [SafeTensors.Entry], config c: ModelConfig = config) throws {
            var c = c
            if c.quantization == nil { c.quantization = .int8 }
            let fresh = try Transformer(config: c)
            try fresh.loadWeights(from: SafeTensors(data: try SafeTensors.serialize(e), path: "q.safetensors"))
        }
        XCTAssertNoThrow(try load(entries))
        XCTAssertThrowsError(try load(entries.filter { $0.name != scale })) { e in
            XCTAssertEqual(e as? ModelError, .missingTensor(file: "q.safetensors", name: scale))
        }
        for bad: Float in [-1, .nan, .infinity] {
            let damaged = entries.map { $0.name == scale ? .f32(scale, $0.shape, [Float](repeating: bad, count: $0.shape[0])) : $0 }
            XCTAssertThrowsError(try load(damaged)) { e in
                XCTAssertTrue("\(e)".contains("q.safetensors: tensor '\(scale)': scale 0 is"), "\(e)")
            }
        }
        // A float matrix where int8 belongs, and int8 where config.json says float.
        let asFloat = entries.map { $0.name == target ? .f32(target, $0.shape, [Float](repeating: 0, count: $0.shape.reduce(1, *))) : $0 }
        XCTAssertThrowsError(try load(asFloat)) { e in XCTAssertTrue("\(e)".contains("expected I8"), "\(e)") }
        var floatConfig = config
        floatConfig.quantization = nil
        let floatModel = try Transformer(config: floatConfig)
        XCTAssertThrowsError(try floatModel.loadWeights(from: SafeTensors(data: try SafeTensors.serialize(entries), path: "q.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("an int8 tensor"), "\(e)")
        }
        // Scales of the wrong length.
        let short = entries.map { $0.name == scale ? .f32(scale, [2], [Float](repeating: 1, count: 2)) : $0 }
        XCTAssertThrowsError(try load(short)) { e in
            XCTAssertEqual(e as? ModelError, .shapeMismatch(file: "q.safetensors", name: scale, expected: [model.layout.quantizedEntries[3].shape[0]], found: [2]))
        }
        // Quantizing twice is refused.
        XCTAssertThrowsError(try model.quantize())
    }
}
