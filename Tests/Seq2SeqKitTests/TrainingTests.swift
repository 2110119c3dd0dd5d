import Foundation
import XCTest
import Seq2SeqKit

final class TrainingTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    static let pairs: [(String, String)] = [
        ("Ein Mann liest ein Buch.", "A man reads a book."), ("Eine Frau trinkt Kaffee.", "A woman drinks coffee."),
        ("Zwei Hunde spielen im Park.", "Two dogs play in the park."), ("Das Kind schläft.", "The child sleeps."),
        ("Ein Mann trinkt Wasser.", "A man drinks water."), ("Eine Frau liest eine Zeitung.", "A woman reads a newspaper."),
        ("Drei Kinder spielen Fußball.", "Three children play football."), ("Der Hund schläft im Garten.", "The dog sleeps in the garden."),
        ("Ein Junge fährt Fahrrad.", "A boy rides a bike."), ("Ein Mädchen singt ein Lied.", "A girl sings a song."),
        ("Die Katze sitzt auf dem Tisch.", "The cat sits on the table."), ("Zwei Männer arbeiten.", "Two men are working."),
    ]

    /// A small translation run on `pairs`; `configure` changes its settings and model before it starts.
    static func makeTrainer(dir: String, steps: Int, resume: Bool,
                     configure: (inout TrainSettings, inout ModelConfig) -> Void = { _, _ in }) throws -> Trainer {
        let v = try Vocabulary.learn(lines: Self.pairs.map(\.0) + Self.pairs.map(\.1), size: 300)
        let vocabs = Vocabularies(joint: v)
        var config = ModelConfig(srcVocabSize: v.count, tgtVocabSize: v.count, dModel: 16, nHeads: 2, dFF: 32,
                                 encoderLayers: 1, decoderLayers: 1, maxPositions: 32, shareEmbeddings: true, dropout: 0.1)
        var s = TrainSettings()
        s.batchTokens = 40; s.maxSteps = steps; s.validateEvery = 3; s.warmupSteps = 2; s.lr = 3e-3; s.logEvery = 1
        configure(&s, &config)
        let model = try Transformer(config: config)
        model.initialize(seed: 5)
        let data = ParallelData.make(sourceIds: Self.pairs.map { v.encode($0.0) }, targetIds: Self.pairs.map { v.encode($0.1) }, maxLength: 64)
        let stream = ParallelStream(data: data, valid: data, batchTokens: s.batchTokens, seed: s.seed, config: config)
        return try Trainer(model: model, settings: s, directory: dir, stream: stream, vocabularies: vocabs,
                           validSources: Self.pairs.map { v.encode($0.0) }, validReferences: Self.pairs.map(\.1), resume: resume)
    }

    func losses(_ dir: String) throws -> [Int: Double] { try CLI.losses(dir) }

    /// Training 12 steps in one go and 6 + 6 with --resume gives the identical loss curve
    /// (weights, Adam moments, schedule, dropout RNG and data position are all restored).
    func testResumeReproducesTheLossCurve() throws {
        let base = NSTemporaryDirectory() + "seq2seq-resume-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let once = try Self.makeTrainer(dir: base + "/once", steps: 12, resume: false)
        let a = try once.run()
        XCTAssertEqual(a.steps, 12)
        _ = try Self.makeTrainer(dir: base + "/twice", steps: 6, resume: false).run()
        let second = try Self.makeTrainer(dir: base + "/twice", steps: 12, resume: true)
        XCTAssertEqual(second.currentStep, 6)
        _ = try second.run()
        let l1 = try losses(base + "/once"), l2 = try losses(base + "/twice")
        XCTAssertEqual(l1.count, 12)
        XCTAssertEqual(l1, l2, "loss curves differ after resuming")
        // The loss fell, and the files a user expects are there.
        XCTAssertLessThan(l1[12]!, l1[1]!)
        for f in ["model.safetensors", "config.json", "checkpoint_last.safetensors", "metrics.jsonl", "training.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/twice/" + f), f)
        }
    }

    func testSchedulesAndDurations() {
        let inv = LRSchedule.inverseSqrt
        XCTAssertEqual(inv.rate(step: 50, peak: 1e-3, warmup: 100, minLR: 0, maxSteps: 0), 5e-4, accuracy: 1e-9)
        XCTAssertEqual(inv.rate(step: 400, peak: 1e-3, warmup: 100, minLR: 0, maxSteps: 0), 5e-4, accuracy: 1e-9)
        let cos = LRSchedule.cosine
        XCTAssertEqual(cos.rate(step: 2000, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 2000), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(cos.rate(step: 1050, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 2000), 5.5e-4, accuracy: 1e-6)
        // With a time budget, cosine ends where the budget will end at the pace so far: 1,050 updates in
        // 52.5% of the time → 2,000 in all, the same point of the curve as maxSteps 2000 above.
        XCTAssertEqual(cos.rate(step: 1050, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 0, timeSpent: 0.525), 5.5e-4, accuracy: 1e-6)
        XCTAssertEqual(cos.rate(step: 1050, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 0, timeSpent: 1), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(cos.rate(step: 1050, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 0, timeSpent: 1.5), 1e-4, accuracy: 1e-9)
        // Whichever budget ends first: 1,050 updates in a quarter of the time would allow 4,200, max-steps 2,000.
        XCTAssertEqual(cos.rate(step: 1050, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 2000, timeSpent: 0.25), 5.5e-4, accuracy: 1e-6)
        XCTAssertEqual(cos.rate(step: 50, peak: 1e-3, warmup: 100, minLR: 1e-4, maxSteps: 0, timeSpent: 0.9), 5e-4, accuracy: 1e-9)
        // The rate never rises while steps and time go on, whatever the pace.
        var last = Float.infinity, t = 0.0
        for step in 101...3000 {
            t += step % 7 == 0 ? 0.0011 : 0.0004  // uneven updates
            let r = cos.rate(step: step, peak: 1e-3, warmup: 100, minLR: 0, maxSteps: 0, timeSpent: t)
            XCTAssertLessThanOrEqual(r, last, "step \(step)")
            last = r
        }
        XCTAssertEqual(last, 0, accuracy: 1e-12)  // t passed 1 before step 3000
        XCTAssertEqual(parseDuration("1h30m"), 5400)
        XCTAssertEqual(parseDuration("90s"), 90)
        XCTAssertEqual(parseDuration("60m"), 3600)
        XCTAssertNil(parseDuration("soon"))
    }

    func testAdamMatchesReferenceStep() {
        // One Adam step on f = Σ p²/2 (gradient p), checked by hand: with bias correction the first
        // update is lr · sign(g) (up to eps).
        let layout = ParameterLayout(ModelConfig(srcVocabSize: 0, tgtVocabSize: 4, dModel: 2, nHeads: 1, dFF: 2,
                                                 encoderLayers: 0, decoderLayers: 1, maxPositions: 2))
        let p = FloatBuffer(count: layout.totalCount), g = FloatBuffer(count: layout.totalCount)
        for i in 0..<p.count { p[i] = Float(i % 7) - 3; g[i] = p[i] }
        let opt = AdamOptimizer(layout: layout, settings: .init())
        opt.update(p, g, lr: 0.1)
        for i in 0..<p.count {
            let start = Float(i % 7) - 3
            let expected = start == 0 ? 0 : start - 0.1 * (start > 0 ? 1 : -1)
            XCTAssertEqual(p[i], expected, accuracy: 1e-5)
        }
    }
}

final class LanguageModelTests: XCTestCase {
    /// A character-level GPT learns a repetitive text (validation loss falls far below log V), and
    /// sampling streams text drawn from the same characters.
    func testCharacterLanguageModelLearnsAndSamples() throws {
        Threads.set(1)
        let text = String(repeating: "to be or not to be, that is the question.\n", count: 40)
        var norm = Normalizer()
        norm.cleanWhitespace = false
        let v = try Vocabulary.characters(of: text, normalizer: norm)
        XCTAssertTrue(v.characterLevel)
        XCTAssertEqual(v.decode(v.encode("to be\nor")), "to be\nor")
        let ids = v.encode(text)
        let config = ModelConfig(srcVocabSize: 0, tgtVocabSize: v.count, dModel: 32, nHeads: 2, dFF: 64, encoderLayers: 0,
                                 decoderLayers: 2, maxPositions: 32, positional: .learned, norm: .pre, activation: .gelu,
                                 scaleEmbedding: false, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 1)
        var s = TrainSettings()
        s.mode = .languageModel; s.optimizer = .adamw; s.schedule = .cosine; s.lr = 3e-3; s.minLR = 3e-4
        s.warmupSteps = 10; s.maxSteps = 300; s.validateEvery = 100; s.labelSmoothing = 0; s.weightDecay = 0.1
        s.blockSize = 32; s.batchSize = 8
        let cut = ids.count * 9 / 10
        let stream = BlockStream(train: Array(ids[..<cut]), valid: Array(ids[cut...]), blockSize: 32, batchSize: 8,
                                 evalBatches: 4, seed: 3)
        let dir = NSTemporaryDirectory() + "seq2seq-lm-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = try Trainer(model: model, settings: s, directory: dir, stream: stream, vocabularies: Vocabularies(joint: v),
                                  resume: false).run()
        XCTAssertLessThan(summary.lastValidLoss!, 0.5, "a repeated sentence is easy to predict")
        var sampler = Sampler(temperature: 0, seed: 7)
        var detok = StreamingDetokenizer(vocabulary: v)
        var out = ""
        // Longer than the block: the decoder restarts from the last half block.
        sampler.generate(model, prompt: v.encode("to be or "), maxTokens: 60) { out += detok.push($0) }
        out += detok.flush(final: true)
        XCTAssertEqual(out.count, 60)
        XCTAssertTrue(out.contains("that is the question"), out)
    }

    func testStreamingDetokenizerHoldsIncompleteCharacters() throws {
        let v = try Vocabulary(normalizer: Normalizer(), alphabet: ["a"], merges: [])
        var d = StreamingDetokenizer(vocabulary: v)
        // "é" is C3 A9: nothing is printed until both bytes are in.
        XCTAssertEqual(d.push(Int32(Vocabulary.firstByteId + 0xC3)), "")
        XCTAssertEqual(d.push(Int32(Vocabulary.firstByteId + 0xA9)), "é")
    }
}
