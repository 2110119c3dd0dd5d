import Foundation
import XCTest
import Seq2SeqKit

/// The training run as a library: options checked before any file is read, the recipes, a whole
/// run's files, --overwrite and --resume, and checkpoint averaging.
final class TrainingRunTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "seq2seq-run-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A tiny character language model on a repeated sentence.
    func languageModelOptions(_ name: String) throws -> TrainingRun.Options {
        let text = "\(dir)/text.txt"
        try Data(String(repeating: "to be or not to be, that is the question.\n", count: 40).utf8)
            .write(to: URL(fileURLWithPath: text))
        var o = TrainingRun.Options(modelDirectory: "\(dir)/\(name)", task: .languageModel)
        o.text = text
        o.architecture.dModel = 16; o.architecture.heads = 2; o.architecture.dFF = 32; o.architecture.layers = 1
        o.blockSize = 16; o.batchSize = 4; o.evalBatches = 2
        o.maxSteps = 4; o.validateEvery = 2; o.keepLast = 2; o.threads = 1
        return o
    }

    /// The records of a model directory's metrics.jsonl, one per update and per validation.
    func metricsRecords(_ directory: String) throws -> [[String: Any]] {
        try String(contentsOfFile: "\(directory)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func expectInvalid(_ o: TrainingRun.Options, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try o.validate(), file: file, line: line) { error in
            guard case TrainingRunError.invalidOption(let m) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(m.contains(expected), "expected '\(expected)' in: \(m)", file: file, line: line)
        }
    }

    func testOptionsAreCheckedBeforeAnyFileIsRead() throws {
        var o = TrainingRun.Options(modelDirectory: "\(dir)/none")
        expectInvalid(o, "give --src and --tgt")
        o.source = "a"; o.target = "b"
        XCTAssertNoThrow(try o.validate())
        // A prepared corpus is encoded already: no vocabulary can be learned for it.
        var prepared = TrainingRun.Options(modelDirectory: "\(dir)/none")
        prepared.data = "\(dir)/corpus"
        prepared.vocabulary = .learnBPE
        expectInvalid(prepared, "--vocab bpe learns a vocabulary from text, but --data")
        prepared.task = .languageModel
        prepared.vocabulary = .learnCharacters
        expectInvalid(prepared, "--vocab char learns a vocabulary from text, but --data")
        // Characters are for language models.
        o.vocabulary = .learnCharacters
        expectInvalid(o, "--vocab char learns a character vocabulary for a language model (--lm)")
        o.vocabulary = .automatic
        o.architecture.preset = "huge"
        expectInvalid(o, "unknown preset 'huge'")
        o.architecture.preset = "small"
        o.lr = .nan
        expectInvalid(o, "--lr")
        o.lr = nil
        o.resume = true; o.overwrite = true
        expectInvalid(o, "--resume continues a run")
        // BPE-dropout segments translation text: not a language model's, not a prepared corpus.
        prepared.task = .translation; prepared.vocabulary = .automatic; prepared.bpeDropout = 0.1
        expectInvalid(prepared, "--bpe-dropout segments the text anew each epoch: give --src and --tgt")
        var lm = try languageModelOptions("lm-bpe-dropout")
        lm.bpeDropout = 0.1
        expectInvalid(lm, "--bpe-dropout applies to translation, not --lm")
        var range = TrainingRun.Options(modelDirectory: "\(dir)/none")
        range.source = "a"; range.target = "b"; range.bpeDropout = 1
        expectInvalid(range, "--bpe-dropout")
        range.bpeDropout = 0.1
        XCTAssertNoThrow(try range.validate())
    }

    /// `--bpe-dropout`: the run trains on the resegmented text, records the setting and says so, and
    /// a resumed run keeps it.
    func testBPEDropoutRunRecordsItsSettingAndResumes() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/corpora/sample"
        var o = TrainingRun.Options(modelDirectory: "\(dir)/bpe-dropout")
        o.source = sample + "/train.de"; o.target = sample + "/train.en"
        o.vocabularySize = 500; o.bpeDropout = 0.1
        o.architecture.dModel = 32; o.architecture.dFF = 64; o.architecture.layers = 1; o.architecture.heads = 2
        o.maxSteps = 6; o.threads = 1
        var lines: [String] = []
        _ = try TrainingRun(o).run { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.hasPrefix("BPE-dropout 0.1: each epoch segments the") }, "\(lines)")
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        XCTAssertEqual(saved.bpeDropout, 0.1)
        var resumed = TrainingRun.Options(modelDirectory: o.modelDirectory)
        resumed.resume = true; resumed.maxSteps = 8; resumed.threads = 1
        var again: [String] = []
        let summary = try TrainingRun(resumed).run { again.append($0) }
        XCTAssertEqual(summary.steps, 8)
        XCTAssertTrue(again.contains { $0.hasPrefix("BPE-dropout 0.1: each epoch segments the") }, "\(again)")
    }

    func testRecipes() throws {
        var o = TrainingRun.Options(modelDirectory: "m")
        var s = TrainingRun.settings(for: o)
        XCTAssertEqual(s.mode, .translation)
        XCTAssertEqual(s.optimizer, .adam); XCTAssertEqual(s.schedule, .inverseSqrt)
        XCTAssertEqual(s.lr, 1e-3); XCTAssertEqual(s.warmupSteps, 500); XCTAssertEqual(s.validateEvery, 0)
        XCTAssertEqual(try o.architecture.config(for: .translation).dropout, 0.2)  // small's, when the corpus is not known
        XCTAssertEqual(s.precision, .auto)
        // Cosine may end with --max-time alone.
        o.schedule = .cosine
        XCTAssertThrowsError(try TrainingRun.settings(for: o).validate())
        o.maxSeconds = 3600
        XCTAssertNoThrow(try TrainingRun.settings(for: o).validate())
        o.schedule = nil; o.maxSeconds = nil
        // Without --preset the corpus chooses: under 100,000 pairs narrow and its recipe, from 100,000
        // pairs small; a named preset whatever the corpus.
        o.maxSeconds = 3600
        s = TrainingRun.settings(for: o, pairs: 29_000)
        XCTAssertEqual(s.lr, 5e-3); XCTAssertEqual(s.warmupSteps, 2000); XCTAssertEqual(s.schedule, .inverseSqrt)
        XCTAssertEqual(s.averageLast, 8); XCTAssertEqual(s.labelSmoothing, 0.2)
        o.averageLast = 0; o.labelSmoothing = 0.15
        XCTAssertEqual(TrainingRun.settings(for: o, pairs: 29_000).averageLast, 0)
        XCTAssertEqual(TrainingRun.settings(for: o, pairs: 29_000).labelSmoothing, 0.15)
        o.averageLast = nil; o.labelSmoothing = nil
        let narrow = try o.architecture.config(for: .translation, pairs: 29_000)
        XCTAssertEqual([narrow.dModel, narrow.nHeads, narrow.dFF, narrow.encoderLayers, narrow.decoderLayers], [128, 4, 256, 4, 4])
        XCTAssertEqual(narrow.dropout, 0.3)
        // The learned vocabulary follows the preset: 10,000 for narrow, 8,000 for small; --vocab-size wins.
        XCTAssertEqual(try o.learnedVocabularySize(pairs: 29_000), 10_000)
        XCTAssertEqual(try o.learnedVocabularySize(pairs: 100_000), 8000)
        XCTAssertEqual(try o.learnedVocabularySize(pairs: nil), 8000)
        o.vocabularySize = 6000
        XCTAssertEqual(try o.learnedVocabularySize(pairs: 29_000), 6000)
        o.vocabularySize = nil
        s = TrainingRun.settings(for: o, pairs: 100_000)
        XCTAssertEqual(s.lr, 1e-3); XCTAssertEqual(s.warmupSteps, 500); XCTAssertEqual(s.schedule, .inverseSqrt)
        XCTAssertEqual(s.averageLast, 0); XCTAssertEqual(s.labelSmoothing, 0.1)
        XCTAssertEqual(try o.architecture.config(for: .translation, pairs: 100_000), try o.architecture.config(for: .translation))
        XCTAssertEqual(TranslationPreset.defaultChoice(pairs: 99_999),
                       "preset narrow: the default for corpora under 100000 pairs (this one has 99999); --preset names another")
        XCTAssertEqual(TranslationPreset.defaultChoice(pairs: 100_000),
                       "preset small: the default for corpora from 100000 pairs (this one has 100000); --preset names another")
        o.architecture.preset = "small"
        XCTAssertEqual(TrainingRun.settings(for: o, pairs: 29_000).lr, 1e-3)
        XCTAssertEqual(TrainingRun.settings(for: o, pairs: 29_000).labelSmoothing, 0.1)
        XCTAssertEqual(try o.architecture.config(for: .translation, pairs: 29_000).dModel, 256)
        XCTAssertEqual(try o.learnedVocabularySize(pairs: 29_000), 8000)
        o.architecture.preset = nil
        o.initFrom = "pretrained"  // fine-tuning keeps its rate and warm-up
        s = TrainingRun.settings(for: o, pairs: 29_000)
        XCTAssertEqual(s.lr, TrainingRun.FineTuningDefaults.translation.lr)
        XCTAssertEqual(s.warmupSteps, TrainingRun.FineTuningDefaults.translation.warmupSteps)
        XCTAssertEqual(s.averageLast, 0); XCTAssertEqual(s.labelSmoothing, 0.1)
        XCTAssertEqual(s.labelSmoothing, TrainingRun.FineTuningDefaults.translation.labelSmoothing)
        o.initFrom = nil; o.maxSeconds = nil
        XCTAssertEqual(ModelConfig.presetNames, ["small", "base", "tiny", "narrow"])
        o.task = .languageModel
        o.lr = 5e-4
        s = TrainingRun.settings(for: o)
        XCTAssertEqual(s.mode, .languageModel)
        XCTAssertEqual(s.optimizer, .adamw); XCTAssertEqual(s.schedule, .cosine); XCTAssertEqual(s.lr, 5e-4)
        XCTAssertEqual(s.maxSteps, 2000); XCTAssertEqual(s.validateEvery, 250); XCTAssertEqual(s.weightDecay, 0.1)
        let gpt = try o.architecture.config(for: .languageModel)
        XCTAssertEqual(gpt, ModelConfig.gptSmall)
        XCTAssertEqual(try o.learnedVocabularySize(pairs: 29_000), TrainingRun.Options.languageModelVocabularySize)
        XCTAssertTrue(gpt.isDecoderOnly)
        XCTAssertEqual(s.blockSize, 64); XCTAssertEqual(s.batchSize, 12); XCTAssertEqual(s.precision, .auto)

        // The 30-minute character model: its shape, data, length, rate and precision; each flag still overrides.
        o.lr = nil
        o.architecture.preset = "medium"
        s = TrainingRun.settings(for: o)
        XCTAssertEqual(s.blockSize, 256); XCTAssertEqual(s.batchSize, 16); XCTAssertEqual(s.maxSteps, 3000)
        XCTAssertEqual(s.lr, 1.5e-3); XCTAssertEqual(s.minLR, 1e-4); XCTAssertEqual(s.warmupSteps, 100)
        XCTAssertEqual(s.validateEvery, 500)
        XCTAssertEqual(s.precision, .auto)
        let medium = try o.architecture.config(for: .languageModel)
        XCTAssertEqual(medium, ModelConfig.gptMedium)
        XCTAssertEqual([medium.decoderLayers, medium.dModel, medium.nHeads, medium.dFF, medium.maxPositions], [6, 256, 4, 1024, 256])
        XCTAssertEqual(medium.dropout, 0.05)
        o.blockSize = 128; o.batchSize = 8; o.maxSteps = 10; o.precision = .float32; o.architecture.dropout = 0
        s = TrainingRun.settings(for: o)
        XCTAssertEqual([s.blockSize, s.batchSize, s.maxSteps], [128, 8, 10]); XCTAssertEqual(s.precision, .float32)
        XCTAssertEqual(try o.architecture.config(for: .languageModel).dropout, 0)
        o.architecture.preset = "base"
        o.text = "input.txt"
        expectInvalid(o, "--lm knows the presets small and medium (got 'base')")

        // auto is bf16 exactly where it pays: oneDNN built in, and AMX or AVX512_BF16 on AMD.
        XCTAssertEqual(Precision.auto.resolved, Precision.bf16Pays ? .bf16 : .float32)
        XCTAssertEqual(Precision.bf16Pays, BF16Gemm.isAvailable
                       && (CPUFeatures.hasAMX || (CPUFeatures.hasAVX512BF16 && CPUFeatures.vendor == "AuthenticAMD")))
        #if arch(x86_64)
        XCTAssertEqual(CPUFeatures.vendor.utf8.count, 12, CPUFeatures.vendor)  // CPUID's twelve characters
        #endif
        XCTAssertEqual(Precision.float32.resolved, .float32); XCTAssertEqual(Precision.bf16.resolved, .bf16)
    }

    /// A language model validated every N updates skips epoch ends (its blocks are drawn at random: an
    /// epoch is a count of tokens), even with no minimum interval between validations.
    /// A run without --preset on a small corpus trains the narrow recipe and says so; --preset small
    /// trains small's.
    func testSmallCorpusTrainsTheNarrowRecipeByDefault() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/corpora/sample"
        var o = TrainingRun.Options(modelDirectory: "\(dir)/narrow")
        o.source = sample + "/train.de"; o.target = sample + "/train.en"
        o.vocabularySize = 300; o.maxSteps = 1; o.threads = 1
        var lines: [String] = []
        _ = try TrainingRun(o).run { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.hasPrefix("preset narrow: the default for corpora under 100000 pairs (this one has ") }, "\(lines)")
        let config = try ModelDirectory.loadConfig(o.modelDirectory)
        XCTAssertEqual([config.dModel, config.dFF, config.encoderLayers, config.decoderLayers], [128, 256, 4, 4])
        XCTAssertEqual(config.dropout, 0.3)
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        XCTAssertEqual(saved.lr, 5e-3); XCTAssertEqual(saved.warmupSteps, 2000); XCTAssertEqual(saved.schedule, .inverseSqrt)
        XCTAssertEqual(saved.averageLast, 8); XCTAssertEqual(saved.labelSmoothing, 0.2)

        o.modelDirectory = "\(dir)/small"; o.architecture.preset = "small"
        lines = []
        _ = try TrainingRun(o).run { lines.append($0) }
        XCTAssertFalse(lines.contains { $0.hasPrefix("preset ") }, "\(lines)")
        XCTAssertEqual(try ModelDirectory.loadConfig(o.modelDirectory).dModel, 256)
    }

    func testLanguageModelValidatesByStepsOnly() throws {
        var o = try languageModelOptions("steps")
        o.maxSteps = 60; o.validateEvery = 20; o.minValidateSeconds = 0; o.keepLast = 0
        var lines: [String] = []
        try TrainingRun(o).run { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.hasPrefix("end of epoch 1") }, "the text is shorter than 60 batches: \(lines)")
        let records = try metricsRecords(o.modelDirectory)
        let validated = records.filter { $0["valid_loss"] != nil }.compactMap { $0["step"] as? Int }
        XCTAssertEqual(validated, [20, 40, 60])
    }

    /// Cosine with only --max-time: the rate decays over the updates the time allows, never rising, and
    /// reaches the floor as the time runs out.
    func testCosineEndsWithTheTimeBudget() throws {
        var o = try languageModelOptions("timed")
        o.maxSteps = 0; o.maxSeconds = 2; o.schedule = .cosine; o.warmupSteps = 5; o.minLR = 0
        o.validateEvery = 1_000_000; o.keepLast = 0
        let summary = try TrainingRun(o).run()
        XCTAssertGreaterThan(summary.steps, 20, "a one-layer model of width 16 takes many updates in 2 s")
        let rates = try metricsRecords(o.modelDirectory)
            .filter { $0["valid_loss"] == nil }.compactMap { $0["lr"] as? Double }
        XCTAssertEqual(rates.count, summary.steps)
        XCTAssertEqual(rates[4], 1e-3, accuracy: 1e-9)  // the peak at the warm-up's end
        for i in 5..<rates.count { XCTAssertLessThanOrEqual(rates[i], rates[i - 1], "update \(i + 1)") }
        XCTAssertLessThan(rates.last!, 0.1e-3, "the last update starts near the budget's end: \(rates.suffix(3))")
        // Cosine needs an end: steps or time.
        var none = o
        none.maxSeconds = nil
        XCTAssertThrowsError(try TrainingRun.settings(for: none).validate())
    }

    /// --average-last: at the end the mean of the last step checkpoints is validated, and it is
    /// model.safetensors exactly when it scored higher than the best single model; with greedy
    /// validation, both are translated again with beam 5 and that BLEU decides.
    func testAveragingTheLastCheckpointsKeepsTheMeanOnlyWhenItValidatesBetter() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/corpora/sample"
        var o = TrainingRun.Options(modelDirectory: "\(dir)/averaged")
        o.source = sample + "/train.de"; o.target = sample + "/train.en"
        o.validSource = sample + "/valid.de"; o.validTarget = sample + "/valid.en"
        o.vocabularySize = 500
        o.architecture.dModel = 32; o.architecture.dFF = 64; o.architecture.layers = 1; o.architecture.heads = 2
        o.maxSteps = 60; o.validateEvery = 15; o.minValidateSeconds = 0; o.averageLast = 3; o.threads = 1
        var lines: [String] = []
        let summary = try TrainingRun(o).run { lines.append($0) }
        let m = o.modelDirectory
        // --average-last 3 keeps three step checkpoints without --keep-last.
        XCTAssertEqual(Trainer.stepCheckpoints(in: m).map(\.step), [30, 45, 60])
        let records = try metricsRecords(m)
        let singles = records.compactMap { $0["bleu"] as? Double }
        let averaged = try XCTUnwrap(records.last { $0["averaged_steps"] != nil })
        XCTAssertEqual(averaged["averaged_steps"] as? [Int], [30, 45, 60])
        let mean = try XCTUnwrap(averaged["averaged_bleu"] as? Double)
        let kept = try XCTUnwrap(averaged["averaged_kept"] as? Bool)
        let meanBeam = try XCTUnwrap(averaged["averaged_bleu_beam5"] as? Double)
        let bestBeam = try XCTUnwrap(averaged["best_bleu_beam5"] as? Double)
        XCTAssertEqual(kept, meanBeam > bestBeam, "mean \(meanBeam), best single model \(bestBeam) with beam 5")
        XCTAssertTrue(lines.contains { $0.hasPrefix("validation of the mean of the last 3 step checkpoints (steps 30-60):")
            && $0.contains(String(format: "; with beam 5, BLEU %.2f against the best single model's %.2f", meanBeam, bestBeam)) }, "\(lines)")
        // model.safetensors holds the mean exactly when it was kept, else the best single model.
        let reference = try CheckpointAverage.average(last: 3, in: m, output: "reference.safetensors")
        let saved = try SafeTensors(contentsOf: "\(m)/model.safetensors")
        let meanFile = try SafeTensors(contentsOf: reference.path)
        let name = "encoder.layers.0.fc1.weight"
        XCTAssertEqual(try saved.floats(name) == meanFile.floats(name), kept)
        // The best single model the mean replaced is copied to checkpoint_best first (the validation
        // with the highest BLEU; its step checkpoint, when still kept, holds the same weights).
        let bestSingle = "\(m)/\(TrainingFiles.bestSingle)"
        XCTAssertEqual(FileManager.default.fileExists(atPath: bestSingle), kept)
        if kept {
            let single = try SafeTensors(contentsOf: bestSingle)
            XCTAssertNotEqual(try single.floats(name), try meanFile.floats(name))
            let validations = records.compactMap { r in (r["bleu"] as? Double).flatMap { b in (r["step"] as? Int).map { (step: $0, bleu: b) } } }
            let bestStep = try XCTUnwrap(validations.max { $0.bleu < $1.bleu }?.step)
            if [30, 45, 60].contains(bestStep) {
                XCTAssertEqual(try single.floats(name), try SafeTensors(contentsOf: "\(m)/checkpoint_step\(bestStep).safetensors").floats(name))
            }
            XCTAssertTrue(lines.contains { $0.hasSuffix("(the mean is saved as model.safetensors, the best single model as checkpoint_best.safetensors)") }, "\(lines)")
        }
        XCTAssertEqual(summary.bestAveraged, kept ? [30, 45, 60] : nil)
        XCTAssertEqual(summary.bestScore!, kept ? mean : singles.max()!, accuracy: 1e-9)
        // checkpoint_last keeps the trained weights (what --resume continues from), not the mean.
        let last = try SafeTensors(contentsOf: "\(m)/checkpoint_last.safetensors")
        let step60 = try SafeTensors(contentsOf: "\(m)/checkpoint_step60.safetensors")
        XCTAssertEqual(try last.floats(name), try step60.floats(name))
        // Validating with beam 5 already, the run's own validation of the mean decides.
        var beam5 = o
        beam5.modelDirectory = "\(dir)/averaged-beam5"; beam5.validBeam = 5
        _ = try TrainingRun(beam5).run { _ in }
        let records5 = try metricsRecords(beam5.modelDirectory)
        let averaged5 = try XCTUnwrap(records5.last { $0["averaged_steps"] != nil })
        XCTAssertNil(averaged5["averaged_bleu_beam5"])
        let singles5 = records5.compactMap { $0["bleu"] as? Double }
        XCTAssertEqual(averaged5["averaged_kept"] as? Bool, try XCTUnwrap(averaged5["averaged_bleu"] as? Double) > singles5.max()!)
        // --average-last 1 is refused before anything runs.
        o.averageLast = 1
        expectInvalid(o, "--average-last must be 0 (off) or at least 2")
    }

    /// When the mean replaces the best single model as model.safetensors, the best single model is
    /// copied to checkpoint_best first. A constant, high learning rate makes the weights bounce around
    /// the minimum, where their mean validates clearly better (loss 1.44 against 1.54 here).
    func testAveragingKeepsTheReplacedBestSingleModel() throws {
        var o = try languageModelOptions("averaged-lm")
        o.maxSteps = 100; o.validateEvery = 5; o.keepLast = 4; o.averageLast = 4
        o.lr = 0.05; o.minLR = 0.05; o.warmupSteps = 0; o.precision = .float32
        var lines: [String] = []
        let summary = try TrainingRun(o).run { lines.append($0) }
        let m = o.modelDirectory
        XCTAssertEqual(summary.bestAveraged, [85, 90, 95, 100])
        XCTAssertTrue(lines.contains { $0.hasSuffix(": saved as model.safetensors, the best single model as checkpoint_best.safetensors)") }, "\(lines)")
        let records = try metricsRecords(m)
        let validations = records.compactMap { r in (r["valid_loss"] as? Double).flatMap { l in (r["step"] as? Int).map { (step: $0, loss: l) } } }
        let best = try XCTUnwrap(validations.min { $0.loss < $1.loss })
        // checkpoint_best holds the best validation's weights (as its step checkpoint, when still kept);
        // model.safetensors holds the mean.
        let name = "decoder.layers.0.fc1.weight"
        let single = try SafeTensors(contentsOf: "\(m)/\(TrainingFiles.bestSingle)").floats(name)
        let mean = try SafeTensors(contentsOf: CheckpointAverage.average(last: 4, in: m, output: "reference.safetensors").path).floats(name)
        XCTAssertEqual(try SafeTensors(contentsOf: "\(m)/model.safetensors").floats(name), mean)
        XCTAssertNotEqual(single, mean)
        if best.step >= 85 {
            XCTAssertEqual(single, try SafeTensors(contentsOf: "\(m)/checkpoint_step\(best.step).safetensors").floats(name))
        }
        // --overwrite removes it with the rest of the run.
        var again = o
        again.overwrite = true; again.maxSteps = 2; again.averageLast = 0
        try TrainingRun(again).run { _ in }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(m)/\(TrainingFiles.bestSingle)"))
    }

    /// `--rdrop-alpha`: the run trains doubled batches with dropout, records α in train.json and logs
    /// the per-token cross-entropy (comparable with a run without it); out of range, it is refused.
    func testRDropTrainsAndIsRecorded() throws {
        var o = try languageModelOptions("rdrop")
        o.rdropAlpha = 5; o.architecture.dropout = 0.1; o.maxSteps = 20; o.lr = 1e-2; o.warmupSteps = 0; o.logEvery = 10
        var lines: [String] = []
        let summary = try TrainingRun(o).run { lines.append($0) }
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        XCTAssertEqual(saved.rdropAlpha, 5)
        let records = try metricsRecords(o.modelDirectory)
        let losses = records.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 20)
        // The copies' dropout masks differ, so their outputs do: the divergence is positive, and logged.
        let divergences = records.compactMap { $0["rdrop_kl"] as? Double }
        XCTAssertEqual(divergences.count, 20)
        XCTAssertTrue(divergences.allSatisfy { $0 > 0 && $0 < 10 }, "\(divergences)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("epoch ") && $0.contains(" | kl ") }.count, 2, "\(lines)")
        XCTAssertLessThan(losses.last!, losses.first! - 0.5, "\(losses)")
        // The first update's logged loss is the per-token cross-entropy, as without R-Drop (not twice it).
        var plain = o
        plain.modelDirectory += "-plain"; plain.rdropAlpha = nil; plain.maxSteps = 1
        try TrainingRun(plain).run { _ in }
        let first = try XCTUnwrap(metricsRecords(plain.modelDirectory).first?["loss"] as? Double)
        XCTAssertEqual(losses.first!, first, accuracy: 0.05 * first)
        XCTAssertNil(try metricsRecords(plain.modelDirectory).first?["rdrop_kl"])
        XCTAssertNotNil(summary.lastValidLoss)
        var bad = o
        bad.rdropAlpha = -1
        expectInvalid(bad, "--rdrop-alpha")
    }

    /// `--target-word-dropout`: the run trains with it and records it in train.json, and resuming keeps
    /// it; `--source-word-dropout` on a language model (which has no source) and values out of range
    /// are refused.
    func testWordDropoutTrainsAndIsRecorded() throws {
        var o = try languageModelOptions("word-dropout")
        o.targetWordDropout = 0.2; o.maxSteps = 20; o.lr = 1e-2; o.warmupSteps = 0; o.logEvery = 10
        try TrainingRun(o).run { _ in }
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        XCTAssertEqual(saved.targetWordDropout, 0.2)
        XCTAssertEqual(saved.sourceWordDropout, 0)
        let losses = try metricsRecords(o.modelDirectory).compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 20)
        XCTAssertLessThan(losses.last!, losses.first! - 0.5, "\(losses)")
        var resumed = o
        resumed.resume = true; resumed.maxSteps = 21; resumed.targetWordDropout = nil
        try TrainingRun(resumed).run { _ in }
        let again = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        XCTAssertEqual(again.targetWordDropout, 0.2)
        var bad = o
        bad.targetWordDropout = 1
        expectInvalid(bad, "--target-word-dropout")
        bad = o
        bad.overwrite = true; bad.sourceWordDropout = 0.1
        expectInvalid(bad, "--source-word-dropout")
    }

    /// `--attention-dropout`: config.json records it apart from `--dropout`, a run trains with it and
    /// resumes with it; out of range it is refused.
    func testAttentionDropoutIsRecordedAndKept() throws {
        var o = try languageModelOptions("attention-dropout")
        o.architecture.dropout = 0.1; o.architecture.attentionDropout = 0
        o.maxSteps = 20; o.lr = 1e-2; o.warmupSteps = 0; o.logEvery = 10
        try TrainingRun(o).run { _ in }
        let config = try ModelDirectory.loadConfig(o.modelDirectory)
        XCTAssertEqual(config.dropout, 0.1)
        XCTAssertEqual(config.attentionDropout, 0)
        let losses = try metricsRecords(o.modelDirectory).compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 20)
        XCTAssertLessThan(losses.last!, losses.first! - 0.5, "\(losses)")
        var resumed = o
        resumed.resume = true; resumed.maxSteps = 21; resumed.architecture.attentionDropout = nil
        try TrainingRun(resumed).run { _ in }
        XCTAssertEqual(try ModelDirectory.loadConfig(o.modelDirectory).attentionDropout, 0)
        var bad = o
        bad.overwrite = true; bad.architecture.attentionDropout = 1
        expectInvalid(bad, "--attention-dropout")
    }

    /// `--precision auto`: train.json records what it resolved to, and the log says it.
    func testAutomaticPrecisionIsResolvedAndRecorded() throws {
        var o = try languageModelOptions("auto")
        o.precision = .auto; o.maxSteps = 2; o.keepLast = 0
        var lines: [String] = []
        try TrainingRun(o).run { lines.append($0) }
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        let expected = Precision.auto.resolved
        XCTAssertEqual(saved.precision, expected)
        XCTAssertNotEqual(saved.precision, .auto)
        XCTAssertTrue(lines.contains { $0.hasPrefix("model: ") && $0.contains("products in \(expected.rawValue);") }, "\(lines)")
        // Resuming keeps what the run used.
        var resumed = o
        resumed.resume = true; resumed.maxSteps = 3; resumed.precision = nil
        lines = []
        try TrainingRun(resumed).run { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.contains("products in \(expected.rawValue);") }, "\(lines)")
    }

    /// A whole run through the library: the files it writes, the log it reports, then --overwrite
    /// and --resume on its directory, and the average of its step checkpoints.
    func testLanguageModelRunWritesItsDirectory() throws {
        let o = try languageModelOptions("lm")
        var lines: [String] = []
        let summary = try TrainingRun(o).run { lines.append($0) }
        XCTAssertEqual(summary.steps, 4)
        let fm = FileManager.default
        for f in ["config.json", "train.json", "tokenizer.json", "model.safetensors", "checkpoint_last.safetensors",
                  "metrics.jsonl", "training.svg", "checkpoint_step2.safetensors", "checkpoint_step4.safetensors", "data/train"] {
            XCTAssertTrue(fm.fileExists(atPath: "\(o.modelDirectory)/\(f)"), f)
        }
        let log = lines.joined(separator: "\n")
        XCTAssertTrue(log.contains("character vocabulary:"), log)
        XCTAssertTrue(log.contains("text: "), log)
        XCTAssertTrue(log.contains("done: 4 steps"), log)
        XCTAssertTrue(log.contains("products in \(Precision.auto.resolved.rawValue);"), log)
        let plot = try String(contentsOfFile: "\(o.modelDirectory)/training.svg", encoding: .utf8)
        XCTAssertTrue(plot.contains("validation loss") && plot.contains("<polyline"), plot)
        XCTAssertFalse(plot.contains("BLEU"), "a language model's plot has no BLEU axis")
        let saved = try JSONDecoder().decode(TrainSettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(o.modelDirectory)/train.json")))
        var expected = TrainingRun.settings(for: o)
        XCTAssertEqual(expected.precision, .auto)
        expected.precision = Precision.auto.resolved  // train.json records what auto resolved to
        XCTAssertEqual(saved, expected)

        // Another run in the same directory is refused, unless it overwrites or resumes.
        XCTAssertThrowsError(try TrainingRun(o).run()) { error in
            XCTAssertTrue("\(error)".contains("holds another run"), "\(error)")
        }
        var resumed = o
        resumed.resume = true; resumed.maxSteps = 6
        XCTAssertEqual(try TrainingRun(resumed).run().steps, 6)

        let averaged = try CheckpointAverage.average(last: 2, in: o.modelDirectory)
        XCTAssertEqual(averaged.steps, [4, 6])
        XCTAssertTrue(fm.fileExists(atPath: averaged.path))
        XCTAssertThrowsError(try CheckpointAverage.average(last: 0, in: o.modelDirectory))
        XCTAssertThrowsError(try CheckpointAverage.average(last: 2, in: o.modelDirectory, output: "../x"))
        XCTAssertThrowsError(try CheckpointAverage.average(last: 2, in: dir)) { error in
            XCTAssertEqual(error as? CheckpointAverageError, .noCheckpoints(dir))
        }

        var over = o
        over.overwrite = true; over.maxSteps = 2; over.keepLast = 0
        lines = []
        XCTAssertEqual(try TrainingRun(over).run { lines.append($0) }.steps, 2)
        XCTAssertTrue(lines.contains { $0.contains("--overwrite: removed the previous run's files") }, "\(lines)")
        XCTAssertTrue(fm.fileExists(atPath: "\(o.modelDirectory)/\(averaged.path.split(separator: "/").last!)"),
                      "--overwrite removes the run's files only")
        XCTAssertTrue(Trainer.stepCheckpoints(in: o.modelDirectory).isEmpty)
    }

    /// A train.json that names no data (written by hand) is an error on resuming, not a trap.
    func testResumeWithoutDataInTrainJSON() throws {
        let o = try languageModelOptions("lm")
        try TrainingRun(o).run()
        try Data("{\"mode\": \"lm\"}".utf8).write(to: URL(fileURLWithPath: "\(o.modelDirectory)/train.json"))
        var resumed = o
        resumed.resume = true
        XCTAssertThrowsError(try TrainingRun(resumed).run()) { error in
            XCTAssertTrue("\(error)".contains("train.json names no training data"), "\(error)")
        }
    }
}
