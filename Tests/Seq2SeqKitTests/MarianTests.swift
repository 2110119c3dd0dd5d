import Foundation
import XCTest
@_spi(Testing) import Seq2SeqKit

/// Hugging Face Marian (OPUS-MT) support against references made by scripts/make-marian-fixtures.py
/// with transformers 5.24: `seq2seq import` of tiny random models in F32, BF16 and F16 with shared and
/// separate vocabularies, their logits, greedy and beam outputs, and what import refuses.
final class MarianTests: XCTestCase {
    override class func tearDown() { MarianFixtures.removeFolders() }
    static let configs = ["separate", "shared-bf16", "shared-f16", "learnable"]

    static func imported(_ name: String) throws -> (Transformer, Vocabularies, String) {
        let hf = try MarianFixtures.huggingFaceFolder(name)
        let out = hf + "-imported"
        _ = try MarianImport.run(from: hf, to: out)
        let model = try ModelDirectory.load(out)
        return (model, try ModelDirectory.loadVocabularies(out, for: model.config), out)
    }

    // MARK: - Import and parity

    func testImportedModelsMatchHuggingFace() throws {
        for name in Self.configs {
            let (model, vocabs, _) = try Self.imported(name)
            let c = model.config
            let expected = try SafeTensors(contentsOf: "\(MarianFixtures.root)/\(name)/expected.safetensors")
            XCTAssertEqual(c.norm, .post); XCTAssertEqual(c.activation, .silu); XCTAssertEqual(c.finalLogitsBias, true)
            XCTAssertEqual(c.eosId, 0); XCTAssertEqual(c.padId, c.tgtVocabSize - 1); XCTAssertEqual(c.bosId, c.padId)
            XCTAssertEqual(c.shareEmbeddings, name != "separate")

            // The sinusoid table, exactly as transformers builds it.
            let table = try expected.floats("sinusoid")
            let ours = Array(UnsafeBufferPointer(start: model.sinusoid.pointer, count: table.count))
            let tableError = zip(ours, table).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(tableError, 1e-7, "\(name): sinusoid table")

            // Logits of the decoder inputs <pad> y (teacher forcing), at every position up to </s>.
            let logitShape = try expected.tensor("logits_src_ids").shape, tgtShape = try expected.tensor("tgt_in").shape
            let t = tgtShape[1], v = c.tgtVocabSize
            let tgtIn = try expected.int64s("tgt_in").map(Int32.init)
            var rng = RNG(seed: 1)
            let batch = Batch(batchSize: logitShape[0], srcLength: logitShape[1], tgtLength: t,
                              src: try expected.int64s("logits_src_ids").map(Int32.init), tgtIn: tgtIn, tgtOut: tgtIn)
            let logits = Array(try model.forward(batch, training: false, rng: &rng))
            let reference = try expected.floats("logits")
            var got: [Float] = [], want: [Float] = []
            for r in 0..<logitShape[0] {
                for p in 0..<t where p == 0 || tgtIn[r * t + p] != Int32(c.padId) {
                    got += logits[((r * t + p) * v)..<((r * t + p + 1) * v)]
                    want += reference[((r * t + p) * v)..<((r * t + p + 1) * v)]
                }
            }
            let scale = want.map(abs).max()!
            let logitError = zip(got, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(logitError, 1e-4 * scale, "\(name): logits")
            print("\(name): \(got.count / v) logit rows, max error \(logitError) (largest logit \(scale)), sinusoid error \(tableError)")

            // generate(num_beams=1) and generate(num_beams=4, length_penalty=1, early_stopping=False), 40 new tokens.
            let maxNew = Int(expected.metadata["max_new_tokens"] ?? "40")!
            let srcShape = try expected.tensor("src_ids").shape, b = srcShape[0], s = srcShape[1]
            let src = try expected.int64s("src_ids").map(Int32.init)
            func rows(_ key: String) throws -> [[Int32]] {
                let shape = try expected.tensor(key).shape, flat = try expected.int64s(key)
                return (0..<shape[0]).map { r in flat[(r * shape[1])..<((r + 1) * shape[1])].filter { $0 >= 0 }.map(Int32.init) }
            }
            let greedy = try GreedyDecoder.translate(model, src: src, batch: b, srcLength: s, maxLength: maxNew + 1)
            let ourGreedy = greedy.map { row -> [Int32] in
                let body = Array(row.dropFirst())
                return body.firstIndex(of: Int32(c.eosId)).map { Array(body[...$0]) } ?? body
            }
            XCTAssertEqual(ourGreedy, try rows("greedy"), "\(name): greedy")
            var search = BeamSearch(beam: 4, lengthPenalty: 1, normalization: .power)
            search.style = .huggingface
            let beams = try search.translate(model, src: src, batch: b, srcLength: s, maxLength: [Int](repeating: maxNew, count: b))
            XCTAssertEqual(beams.map { $0[0].tokens }, try rows("beam"), "\(name): beam 4")

            // The translator end to end: text in, Hugging Face's decoded greedy output out.
            if let texts = expected.metadata["greedy_text"], let sources = expected.metadata["sources"] {
                let want = try JSONSerialization.jsonObject(with: Data(texts.utf8)) as! [String]
                let lines = try JSONSerialization.jsonObject(with: Data(sources.utf8)) as! [String]
                let translator = Translator(model: model, vocabularies: vocabs, search: BeamSearch(beam: 1))
                // Hugging Face's generate caps every sentence at max_new_tokens, whatever its source length.
                translator.maxLenA = 0; translator.maxLenB = maxNew
                translator.maxOutput = maxNew
                XCTAssertEqual(try translator.translate(lines).map(\.text), want, "\(name): translated text")
            }
        }
    }

    func testImportRefusesWhatItCannotRun() throws {
        let fm = FileManager.default
        func folder(_ edit: (String) throws -> Void) throws -> String {
            let dir = try MarianFixtures.huggingFaceFolder("shared-f16")
            try edit(dir)
            return dir
        }
        func config(_ dir: String, _ change: (inout [String: Any]) -> Void) throws {
            var c = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/config.json"))) as! [String: Any]
            change(&c)
            try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: "\(dir)/config.json"))
        }
        let cases: [(String, (String) throws -> Void, String)] = [
            ("no safetensors", { try fm.removeItem(atPath: "\($0)/model.safetensors") }, "save_pretrained"),
            ("not marian", { try config($0) { $0["model_type"] = "bart" } }, "only Marian"),
            ("pre-norm", { try config($0) { $0["normalize_before"] = true } }, "normalize_before"),
            ("learned positions", { try config($0) { $0["static_position_embeddings"] = false } }, "static_position_embeddings"),
            ("activation", { try config($0) { $0["activation_function"] = "tanh" } }, "activation_function"),
            ("no vocab.json", { try fm.removeItem(atPath: "\($0)/vocab.json") }, "vocab.json"),
            ("damaged spm", { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\($0)/target.spm")) }, "target.spm"),
            ("wrong sizes", { try config($0) { $0["d_model"] = 32 } }, "shape"),
            ("no config", { try fm.removeItem(atPath: "\($0)/config.json") }, "config.json"),
        ]
        for (what, edit, mention) in cases {
            let dir = try folder(edit)
            XCTAssertThrowsError(try MarianImport.run(from: dir, to: dir + "-out"), what) { e in
                XCTAssertTrue("\(e)".contains(mention), "\(what): \(e)")
            }
        }
        XCTAssertThrowsError(try MarianImport.run(from: "/nonexistent-folder", to: "/tmp/x")) { e in
            XCTAssertTrue("\(e)".contains("not a folder"), "\(e)")
        }
    }

    /// final_logits_bias is a parameter like any other: its gradient is the column sum of dLogits.
    func testFinalLogitsBiasGradient() throws {
        var config = ModelConfig(srcVocabSize: 11, tgtVocabSize: 11, dModel: 8, nHeads: 2, dFF: 16, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 16, norm: .post, activation: .silu, dropout: 0, padId: 10, bosId: 10, eosId: 0)
        config.finalLogitsBias = true
        let model = try Transformer(config: config)
        model.initialize(seed: 3)
        let bias = model.layout.entry("final_logits_bias")!
        for i in 0..<11 { model.parameters.pointer[bias.offset + i] = Float(i) * 0.1 - 0.5 }
        let batch = Batch(batchSize: 2, srcLength: 3, tgtLength: 3, src: [4, 5, 0, 6, 0, 10], tgtIn: [10, 3, 7, 10, 2, 10],
                          tgtOut: [3, 7, 0, 2, 0, 10])
        var rng = RNG(seed: 1)
        func loss() throws -> Float {
            try model.forward(batch, training: true, rng: &rng)
            let l = model.loss(smoothing: 0.1, computeGradient: false)
            return Float(l.sum / Double(l.count))
        }
        model.gradients.zero()
        try model.forward(batch, training: true, rng: &rng)
        model.loss(smoothing: 0.1)
        try model.backward()
        for i in [0, 3, 10] {
            let p = model.parameters.pointer + bias.offset + i, x = p.pointee, h: Float = 1e-2
            p.pointee = x + h; let up = try loss()
            p.pointee = x - h; let down = try loss()
            p.pointee = x
            XCTAssertEqual(model.gradients.pointer[bias.offset + i], (up - down) / (2 * h), accuracy: 2e-3, "d bias[\(i)]")
        }
    }

    // MARK: - Fine-tuning

    /// `train --init-from` an imported Marian model (the `learnable` fixture: transformers' own
    /// initialization, d_model 64, shared vocabulary from SentencePiece models trained on Multi30k) on
    /// Multi30k (or the bundled sample without it): the held-out loss falls and greedy BLEU rises, in
    /// float32 and (where the processor has it) bf16, and what
    /// makes it Marian survives training: `final_logits_bias` is trained and saved, decoding still
    /// starts from `<pad>`, the SentencePiece files stay the vocabulary, and the result exports to
    /// Hugging Face as MarianMTModel again.
    func testFineTuningAnImportedModel() throws {
        let (base, vocabs, imported) = try Self.imported("learnable")
        let corpus = Corpora.multi30k() ?? Corpora.Parallel(sample: CLI.repository + "/corpora/sample")
        func head(_ path: String, _ n: Int) throws -> [String] {
            Array(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).prefix(n).map(String.init))
        }
        let sources = try head(corpus.validSource, 200), references = try head(corpus.validTarget, 200)
        let work = imported + "-tuning"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let validSource = "\(work)/valid.de", validTarget = "\(work)/valid.en"
        try (sources.joined(separator: "\n") + "\n").write(toFile: validSource, atomically: true, encoding: .utf8)
        try (references.joined(separator: "\n") + "\n").write(toFile: validTarget, atomically: true, encoding: .utf8)
        func heldOut(_ model: Transformer, _ v: Vocabularies) throws -> (loss: Float, bleu: Double) {
            let scores = try Scorer(model: model, vocabularies: v).score(sources: sources, targets: references)
            let loss = -scores.reduce(0) { $0 + $1.logProb } / Float(scores.reduce(0) { $0 + $1.tokens })
            let hypotheses = try Translator(model: model, vocabularies: v, search: BeamSearch(beam: 1)).translate(sources).map(\.text)
            return (loss, BLEU().corpusScore(hypotheses, [references]).score)
        }
        let before = try heldOut(base, vocabs)
        let biasEntry = base.layout.entry("final_logits_bias")!
        let baseBias = Array(UnsafeBufferPointer(start: base.parameters.pointer + biasEntry.offset, count: biasEntry.count))

        var precisions: [Precision] = [.float32]
        if BF16Gemm.isAvailable { precisions.append(.bf16) }
        for precision in precisions {
            var o = TrainingRun.Options(modelDirectory: "\(work)/tuned-\(precision.rawValue)")
            o.source = corpus.trainSource; o.target = corpus.trainTarget
            o.validSource = validSource; o.validTarget = validTarget
            o.initFrom = imported
            // A random tiny model learns from scratch here, so the rate is training's, not fine-tuning's.
            o.lr = 3e-3; o.warmupSteps = 50; o.maxSteps = 300; o.batchTokens = 2048; o.validateEvery = 0
            o.threads = 2; o.precision = precision; o.minValidateSeconds = 0
            var log: [String] = []
            let run = try TrainingRun(o).prepare { log.append($0) }
            XCTAssertTrue(log.contains { $0.contains("initialized from") }, log.joined(separator: "\n"))
            try run.train()
            let tuned = try ModelDirectory.load(o.modelDirectory)
            var c = tuned.config
            // The sinusoid table grows to cover --max-length (+ 2); everything else is the imported configuration.
            XCTAssertEqual(c.maxPositions, o.maxLength + 2)
            c.dropout = base.config.dropout; c.maxPositions = base.config.maxPositions
            XCTAssertEqual(c, base.config, "\(precision): the imported configuration (final_logits_bias, <pad> start, </s> = 0)")
            XCTAssertEqual(tuned.config.bosId, tuned.config.padId, "\(precision): decoding starts from <pad>")
            let bias = Array(UnsafeBufferPointer(start: tuned.parameters.pointer + biasEntry.offset, count: biasEntry.count))
            let moved = zip(bias, baseBias).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(moved, 1e-3, "\(precision): final_logits_bias is trained and saved")
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(o.modelDirectory)/source.spm"), "\(precision): the SentencePiece files are kept")
            let tunedVocabs = try ModelDirectory.loadVocabularies(o.modelDirectory, for: tuned.config)
            XCTAssertNotNil(tunedVocabs.target.sentencePiece)
            let after = try heldOut(tuned, tunedVocabs)
            print("\(precision): held-out loss \(before.loss) → \(after.loss), BLEU \(before.bleu) → \(after.bleu)")
            XCTAssertLessThan(after.loss, 0.8 * before.loss, "\(precision): held-out loss")
            // From transformers' initialization, 300 updates on Multi30k take greedy BLEU on 200
            // validation lines from 0.00 to 3.3 (float32) and 2.8 (bf16).
            XCTAssertGreaterThan(after.bleu, before.bleu + 1.5, "\(precision): held-out BLEU rises")
            let exported = try HuggingFaceExport.run(model: o.modelDirectory, to: "\(work)/hf-\(precision.rawValue)")
            XCTAssertEqual(exported.architecture, "MarianMTModel")
        }
        // Without --lr and --warmup-steps, fine-tuning's defaults.
        var o = TrainingRun.Options(modelDirectory: "\(work)/defaults")
        o.source = corpus.trainSource; o.target = corpus.trainTarget; o.initFrom = imported
        let settings = TrainingRun.settings(for: o)
        XCTAssertEqual(settings.lr, TrainingRun.FineTuningDefaults.translation.lr)
        XCTAssertEqual(settings.warmupSteps, TrainingRun.FineTuningDefaults.translation.warmupSteps)
    }

    /// Fine-tuning an imported model as users run it at scale: `train --init-from` on 2 ranks under a
    /// real mpirun, stopped after 10 updates and continued with --resume to 20, gives exactly the loss
    /// curve of the uninterrupted 20-update run, and the result keeps the Marian specifics.
    func testFineTuningUnderMPIStopsAndResumes() throws {
        try XCTSkipUnless(Engines.mpi, "this build has no MPI (the package trait MPI is off)")
        guard CLI.which("mpirun") != nil else { throw CLI.Missing("mpirun not found: bash .ci/setup installs Open MPI (openmpi-bin)") }
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        let (base, _, imported) = try Self.imported("shared-f16")
        let work = imported + "-mpi"
        let sample = CLI.repository + "/corpora/sample"
        func args(_ model: String, _ steps: Int) -> [String] {
            [CLI.binary!, "train", "--init-from", imported, "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en",
             "--model", model, "--max-steps", "\(steps)", "--batch-tokens", "600", "--dropout", "0", "--log-every", "1",
             "--threads", "1"]
        }
        let full = try CLI.run(CLI.mpirun(2) + args("\(work)/full", 20), log: "\(work)-full.log")
        XCTAssertEqual(full.status, 0, full.output)
        XCTAssertTrue(full.output.contains("initialized from"), full.output)
        let first = try CLI.run(CLI.mpirun(2) + args("\(work)/stopped", 10), log: "\(work)-first.log")
        XCTAssertEqual(first.status, 0, first.output)
        let resumed = try CLI.run(CLI.mpirun(2) + args("\(work)/stopped", 20) + ["--resume"], log: "\(work)-resumed.log")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming at step 10"), resumed.output)
        let curve = try CLI.losses("\(work)/full")
        XCTAssertEqual(curve.count, 20)
        XCTAssertEqual(try CLI.losses("\(work)/stopped"), curve, "the resumed fine-tuning's curve differs from the uninterrupted one")

        let tuned = try ModelDirectory.load("\(work)/stopped")
        XCTAssertEqual(tuned.config.bosId, tuned.config.padId, "decoding starts from <pad>")
        XCTAssertEqual(tuned.config.finalLogitsBias, true)
        let e = base.layout.entry("final_logits_bias")!
        let moved = (0..<e.count).map { abs(tuned.parameters.pointer[e.offset + $0] - base.parameters.pointer[e.offset + $0]) }.max()!
        XCTAssertGreaterThan(moved, 1e-4, "final_logits_bias is trained")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(work)/stopped/source.spm"), "the SentencePiece files are kept")
    }
}
