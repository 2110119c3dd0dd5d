import Foundation
import XCTest
import Seq2SeqKit

/// The CLI on inputs no one chose to make pass: every bad flag value and every damaged file must end
/// with a non-zero exit, an "Error:" line that names the flag or file, and no trap (no signal, no
/// "Fatal error", no backtrace).
final class BadInputTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        dir = NSTemporaryDirectory() + "seq2seq-bad-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    struct Outcome { var status: Int32; var reason: Process.TerminationReason; var output: String }

    func run(_ args: [String]) throws -> Outcome {
        let log = "\(dir)/out-\(UUID().uuidString.prefix(6)).log"
        let p = try CLI.start([CLI.binary!] + args, log: log)
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, reason: p.terminationReason,
                       output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Runs `args` and checks it fails cleanly with a message containing `expected`.
    func expectError(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        let shown = "seq2seq \(args.joined(separator: " ")) →\n\(r.output)"
        XCTAssertEqual(r.reason, .exit, "killed by a signal: \(shown)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, shown, file: file, line: line)
        for trap in ["Fatal error", "Stack dump", "Illegal instruction", "Segmentation", "Current stack trace"] {
            XCTAssertFalse(r.output.contains(trap), shown, file: file, line: line)
        }
        XCTAssertTrue(r.output.contains("Error:") || r.output.contains("error:"), "no error line: \(shown)", file: file, line: line)
        XCTAssertTrue(r.output.contains(expected), "expected '\(expected)' in: \(shown)", file: file, line: line)
    }

    var sample: String { CLI.repository + "/corpora/sample" }

    /// A tiny trained model directory to damage.
    func model() throws -> String {
        let m = "\(dir)/model"
        let r = try run(["train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--model", m, "--d-model", "16",
                         "--d-ff", "32", "--layers", "1", "--heads", "2", "--vocab-size", "400", "--max-steps", "2", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        return m
    }

    func copy(_ m: String, _ name: String, edit: (String) throws -> Void) throws -> String {
        let c = "\(dir)/\(name)"
        try FileManager.default.copyItem(atPath: m, toPath: c)
        try edit(c)
        return c
    }

    func testBadFlagValues() throws {
        let m = "\(dir)/none"
        let train = ["train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--model", m]
        let cases: [([String], String)] = [
            (["translate", "--model", m, "--batch-size", "0"], "--batch-size"),
            (["translate", "--model", m, "--batch-size=-3"], "--batch-size"),
            (["translate", "--model", m, "--max-len-a", "nan"], "--max-len-a"),
            (["translate", "--model", m, "--max-len-a", "1e300"], "--max-len-a"),
            (["translate", "--model", m, "--max-len-b=-1"], "--max-len-b"),
            (["translate", "--model", m, "--beam", "0"], "--beam"),
            (["translate", "--model", m, "--beam", "2", "--n-best", "3"], "--n-best"),
            (["translate", "--model", m, "--length-penalty", "inf"], "--length-penalty"),
            (["translate", "--model", m, "--threads", "0"], "--threads"),
            (["translate", "--model", m, "--repetition-penalty", "0"], "--repetition-penalty"),
            (["translate", "--model", m, "--no-repeat-ngram=-1"], "--no-repeat-ngram"),
            (["generate", "--model", m, "--repetition-penalty", "nan"], "--repetition-penalty"),
            (["generate", "--model", m, "--max-tokens=-1"], "--max-tokens"),
            (["generate", "--model", m, "--num-samples=-1"], "--num-samples"),
            (["generate", "--model", m, "--temperature", "nan"], "--temperature"),
            (["generate", "--model", m, "--top-p", "0"], "--top-p"),
            (["generate", "--model", m, "--top-k=-5"], "--top-k"),
            (["average", "--model", m, "--last=-1"], "--last"),
            (["average", "--model", m, "--output", "../x"], "--output"),
            (["attention", "--model", m, "--src", "x", "--output", m, "--beam", "0"], "--beam"),
            (["vocab", "--tgt", "\(sample)/train.en", "--output", m, "--size", "10"], "--size"),
            (["vocab", "--tgt", "\(sample)/train.en", "--output", m, "--size", "99999999999"], "--size"),
            (train + ["--log-every", "0"], "--log-every"),
            (train + ["--lr", "nan"], "--lr"),
            (train + ["--lr", "0"], "--lr"),
            (train + ["--dropout", "1.5"], "--dropout"),
            (train + ["--d-model", "0"], "--d-model"),
            (train + ["--d-model", "100000000"], "--d-model"),
            (train + ["--heads", "3"], "d_model (128) must be a positive multiple of n_heads (3)"),
            (train + ["--batch-tokens", "0"], "--batch-tokens"),
            (train + ["--update-freq", "0"], "--update-freq"),
            (train + ["--max-length", "0"], "--max-length"),
            (train + ["--max-length", "70000"], "--max-length"),
            (train + ["--label-smoothing", "1"], "--label-smoothing"),
            (train + ["--beta2", "1"], "--beta2"),
            (train + ["--clip-norm=-1"], "--clip-norm"),
            (train + ["--max-time", "inf"], "--max-time"),
            (train + ["--max-time", "soon"], "--max-time"),
            (train + ["--max-steps=-1"], "--max-steps"),
            (train + ["--valid-beam", "0"], "--valid-beam"),
            (train + ["--vocab-size", "3"], "--vocab-size"),
            (train + ["--data", m], "--data replaces --src/--tgt"),
            (train + ["--preset", "huge"], "unknown preset 'huge'"),
            (train + ["--save-interval", "soon"], "--save-interval"),
            (train + ["--min-validate-interval", "nan"], "--min-validate-interval"),
            (train + ["--resume", "--overwrite"], "--resume continues a run"),
            (["train", "--lm", "--text", "\(sample)/train.en", "--model", m, "--eval-batches=-1"], "--eval-batches"),
            (["train", "--lm", "--text", "\(sample)/train.en", "--model", m, "--block-size", "0"], "--block-size"),
            (["train", "--lm", "--text", "\(sample)/train.en", "--model", m, "--valid-fraction", "1"], "--valid-fraction"),
            (["train", "--lm", "--model", m], "--lm needs --text"),
            (["prepare", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--vocab", m, "--output", m, "--max-length", "0"], "--max-length"),
            (["bench", "translate", "--model", m, "--beams", "0,5"], "--beams"),
            (["bench", "translate", "--model", m, "--threads", "a"], "--threads"),
            (["bench", "kernels", "--seconds", "nan"], "--seconds"),
            (["bench", "train", "--steps", "0"], "--steps"),
            (["bench", "allreduce"], "mpirun"),
            (["eval", "--hyp", "\(sample)/test.en"], "--ref"),
            (["serve", "--model", "de-en-x=\(m)"], "SRC-TGT=DIR"),
            (["serve", "--model", "de-en=\(m)", "--source-lang", "de"], "--source-lang"),
            (["serve", "--model", m, "--model", "de-en=\(m)"], "name each one's pair"),
            (["serve", "--model", "de-en=\(m)", "--model", "de-en=\(m)2"], "two models translate de-en"),
            (["score", "--model", m, "--src", "x", "--tgt", "y", "--batch-size", "0"], "--batch-size"),
        ]
        for (args, expected) in cases { try expectError(args, expected) }
    }

    /// --vocab bpe/char learn from text files: with a prepared corpus (already encoded) or, for
    /// characters, with translation, the choice cannot work and is refused before anything is written.
    func testVocabularyChoicesThatCannotWork() throws {
        let vocab = "\(dir)/vocab", pairs = "\(dir)/pairs", text = "\(dir)/text"
        for args in [["vocab", "--src", "\(sample)/valid.de", "--tgt", "\(sample)/valid.en", "--size", "400", "--output", vocab],
                     ["prepare", "--src", "\(sample)/valid.de", "--tgt", "\(sample)/valid.en", "--vocab", vocab, "--output", pairs],
                     ["prepare", "--lm", "--text", "\(sample)/valid.en", "--vocab", vocab, "--output", text]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 0, r.output)
        }
        let cases: [([String], String)] = [
            (["train", "--data", pairs, "--vocab", "bpe"], "--vocab bpe learns a vocabulary from text, but --data \(pairs) is already encoded"),
            (["train", "--lm", "--data", text, "--vocab", "char"], "--vocab char learns a vocabulary from text, but --data \(text) is already encoded"),
            (["train", "--lm", "--data", text, "--vocab", "bpe"], "leave out --vocab"),
            (["train", "--src", "\(sample)/valid.de", "--tgt", "\(sample)/valid.en", "--vocab", "char"],
             "--vocab char learns a character vocabulary for a language model (--lm)"),
        ]
        for (i, (args, expected)) in cases.enumerated() {
            let m = "\(dir)/m\(i)"
            try expectError(args + ["--model", m, "--max-steps", "1"], expected)
            XCTAssertFalse(FileManager.default.fileExists(atPath: m), "\(args): refused after writing \(m)")
        }
    }

    func testDamagedFiles() throws {
        let m = try model()
        let fm = FileManager.default
        func setConfig(_ c: String, _ key: String, _ value: Any) throws {
            let path = "\(c)/config.json"
            var o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            o[key] = value
            try JSONSerialization.data(withJSONObject: o).write(to: URL(fileURLWithPath: path))
        }
        func write(_ path: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
        let translate = { (c: String) in ["translate", "--model", c, "--input", "\(self.sample)/test.de", "--threads", "1"] }
        // config.json out of range, of the wrong type, or out of step with the weights.
        let configCases: [(String, Any, String)] = [("pad_id", -1, "pad_id -1"), ("d_model", 0, "d_model (0)"),
                                            ("d_model", 1 << 40, "d_model"), ("tgt_vocab_size", 1 << 30, "tgt 1073741824"),
                                            ("n_heads", "four", "config.json"), ("d_ff", 64, "config.json and the weights are from different models"),
                                            ("decoder_layers", 200, "decoder.layers.1")]
        for (i, (key, value, expected)) in configCases.enumerated() {
            let c = try copy(m, "config\(i)") { try setConfig($0, key, value) }
            try expectError(translate(c), expected)
        }
        try expectError(translate(try copy(m, "notjson") { try write("\($0)/config.json", "{ not json") }), "config.json")
        // safetensors: garbage, truncated, a header that lies.
        try expectError(translate(try copy(m, "st1") { try write("\($0)/model.safetensors", "garbage") }), "model.safetensors")
        try expectError(translate(try copy(m, "st2") {
            let d = try Data(contentsOf: URL(fileURLWithPath: "\($0)/model.safetensors"))
            try d.prefix(d.count / 2).write(to: URL(fileURLWithPath: "\($0)/model.safetensors"))
        }), "model.safetensors")
        try expectError(translate(try copy(m, "st3") {
            var header = Data("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}".utf8)
            while header.count % 8 != 0 { header.append(0x20) }
            var d = Data(); var n = UInt64(header.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(header); d.append(Data(count: 16))
            try d.write(to: URL(fileURLWithPath: "\($0)/model.safetensors"))
        }), "model.safetensors")
        // tokenizer.json: not JSON, fields missing, more pieces than the model has tokens.
        try expectError(translate(try copy(m, "tok1") { try write("\($0)/tokenizer.json", "[]") }), "tokenizer.json")
        try expectError(translate(try copy(m, "tok2") { try write("\($0)/tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}") }), "tokenizer.json")
        let big = "\(dir)/bigvocab"
        XCTAssertEqual(try run(["vocab", "--tgt", "\(sample)/train.en", "--src", "\(sample)/train.de", "--size", "900", "--output", big]).status, 0)
        try expectError(translate(try copy(m, "tok3") {
            try fm.removeItem(atPath: "\($0)/tokenizer.json")
            try fm.copyItem(atPath: "\(big)/tokenizer.json", toPath: "\($0)/tokenizer.json")
        }), "not this model's")
        // --resume over damaged training state.
        let resume = { (c: String) in ["train", "--model", c, "--resume", "--max-steps", "4", "--threads", "1"] }
        try expectError(resume(try copy(m, "res1") { try write("\($0)/train.json", "{\"lr\": \"fast\"}") }), "train.json")
        try expectError(resume(try copy(m, "res2") { try write("\($0)/checkpoint_last.safetensors", "x") }), "checkpoint_last.safetensors")
        try expectError(resume(try copy(m, "res3") { try fm.removeItem(atPath: "\($0)/checkpoint_last.safetensors") }), "checkpoint_last.safetensors")
        try expectError(resume(try copy(m, "res4") { try write("\($0)/data/train/lengths.bin", "xyz") }), "lengths.bin")
        // A damaged metrics.jsonl loses nothing that matters: the resume goes on and says what it dropped.
        let res5 = try copy(m, "res5") { c in
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(c)/metrics.jsonl"))
            h.seekToEndOfFile(); h.write(Data("{\"step\": 1, \"loss\": \n\u{0}garbage\n".utf8))
        }
        let r5 = try run(resume(res5))
        XCTAssertEqual(r5.status, 0, r5.output)
        XCTAssertTrue(r5.output.contains("dropped 2 damaged lines"), r5.output)
        // Training text that is not UTF-8, of different lengths, or that filtering empties.
        let latin1 = "\(dir)/latin1.de"
        try Data([0x4B, 0xE4, 0x73, 0x65, 0x0A]).write(to: URL(fileURLWithPath: latin1))
        try expectError(["train", "--src", latin1, "--tgt", latin1, "--model", "\(dir)/t1"], "\(latin1):1: invalid UTF-8")
        try expectError(["train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/test.en", "--model", "\(dir)/t2",
                         "--vocab", m], "must be line-aligned")
        try expectError(["train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--model", "\(dir)/t3",
                         "--vocab", m, "--max-length", "1"], "no pair left")
        try expectError(["train", "--data", "\(dir)/nothing", "--model", "\(dir)/t4"], "nothing")
    }
}

/// The fuzz targets' seed corpora replayed through the same code libFuzzer drives (scripts/fuzz.sh).
final class FuzzReplayTests: XCTestCase {
    func testSeedCorporaReplayCleanly() throws {
        guard let bin = CLI.binary.map({ URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("seq2seq-fuzz").path }),
              FileManager.default.isExecutableFile(atPath: bin) else { throw CLI.Missing("seq2seq-fuzz is not built beside the tests (swift test builds it)") }
        for t in ["safetensors", "tokenizer", "config", "lines", "bpe"] {
            let r = try CLI.run([bin, t, CLI.repository + "/scripts/fuzz/corpus/\(t)"], log: NSTemporaryDirectory() + "fuzz-\(t)-\(getpid()).log")
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("replayed"), r.output)
        }
    }
}
