import Foundation
import XCTest
import Seq2SeqKit

/// `seq2seq translate --prefix-file / --tsv / --alignments / --split-sentences` and `seq2seq score`,
/// run as a user runs them, against the library's answers for the same model.
final class SteeringCLITests: XCTestCase {
    nonisolated(unsafe) static var dir = ""
    nonisolated(unsafe) static var trained = ""

    override class func setUp() {
        dir = NSTemporaryDirectory() + "seq2seq-steer-cli-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: dir) }
    override func setUpWithError() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
    }

    var sample: String { CLI.repository + "/corpora/sample" }

    func model() throws -> String {
        if !Self.trained.isEmpty { return Self.trained }
        let m = "\(Self.dir)/model"
        try CLI.trainTinyModel(m)
        Self.trained = m
        return m
    }

    func write(_ lines: [String], _ name: String) throws -> String {
        let path = "\(Self.dir)/\(name)"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func sampleLines(_ n: Int) throws -> [String] {
        Array(try String(contentsOfFile: "\(sample)/test.de", encoding: .utf8).split(separator: "\n").prefix(n).map(String.init))
    }

    func translate(_ args: [String]) throws -> [String] {
        let out = "\(Self.dir)/out-\(UUID().uuidString.prefix(6)).txt"
        let r = try CLI.run(["translate", "--model", try model(), "--output", out, "--threads", "1"] + args)
        XCTAssertEqual(r.status, 0, r.output)
        return try lines(out)
    }

    func testPrefixesFromAFileOrATabColumnAndAlignments() throws {
        let m = try model()
        let src = try sampleLines(8)
        let prefixes = ["A dog", "", "Two men are", "", "The", "", "A little", ""]
        let input = try write(src, "src.de"), prefixFile = try write(prefixes, "prefix.en")
        let tsv = try write(zip(src, prefixes).map { $1.isEmpty ? $0 : "\($0)\t\($1)" }, "src.tsv")
        let fromFile = try translate(["--input", input, "--prefix-file", prefixFile, "--alignments", "--scores"])
        let fromColumn = try translate(["--input", tsv, "--tsv", "--alignments", "--scores"])
        XCTAssertEqual(fromFile, fromColumn)
        // The library's answers for the same inputs.
        let model = try ModelDirectory.load(m)
        let t = Translator(model: model, vocabularies: try ModelDirectory.loadVocabularies(m, for: model.config),
                           search: BeamSearch(beam: 5, lengthPenalty: 1.4))
        t.alignments = true
        let expected = try t.translate(zip(src, prefixes).map { TranslationInput($0, targetPrefix: $1) })
        XCTAssertEqual(fromFile.count, src.count)
        for (line, out) in zip(fromFile, expected) {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(columns.count, 3, line)
            XCTAssertEqual(columns[0], out.text)
            XCTAssertEqual(columns[1], String(format: "%.4f", out.hypotheses[0].logProb))
            XCTAssertEqual(columns[2], WordAlignment.pharaoh(out.alignments))
        }
        for (line, p) in zip(fromFile, prefixes) { XCTAssertTrue(line.hasPrefix(p), "\(line) should start with \(p)") }
    }

    func testScoreGivesBackTranslateScores() throws {
        let src = try sampleLines(30)
        let input = try write(src, "score-src.de")
        let translated = try translate(["--input", input, "--scores", "--beam", "4"])
        let hyp = try write(translated.map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[0]) }, "score-hyp.en")
        let out = "\(Self.dir)/scores.tsv"
        let r = try CLI.run(["score", "--model", try model(), "--src", input, "--tgt", hyp, "--output", out, "--token-scores"])
        XCTAssertEqual(r.status, 0, r.output)
        let scores = try lines(out)
        XCTAssertEqual(scores.count, src.count)
        // Re-encoding a translation's text can segment a word differently from how the model spelled
        // it; on the lines where it does not, the scores are the same.
        let m = try model()
        let model = try ModelDirectory.load(m)
        let v = try ModelDirectory.loadVocabularies(m, for: model.config)
        let t = Translator(model: model, vocabularies: v, search: BeamSearch(beam: 4, lengthPenalty: 1.4))
        let outs = try t.translate(src)
        // Every line is what the library's Scorer gives for the same text, in other batches and threads
        // (scoring is batch-invariant).
        Threads.set(1)
        let scorer = Scorer(model: model, vocabularies: v, search: BeamSearch(lengthPenalty: 1.4))
        scorer.batchSize = 7
        let library = try scorer.score(sources: src, targets: try lines(hyp))
        for (line, s) in zip(scores, library) {
            XCTAssertEqual(line, [s.score, s.logProb, s.perToken].map { String(format: "%.4f", $0) }.joined(separator: "\t")
                           + "\t\(s.tokens)\t" + s.tokenLogProbs.map { String(format: "%.4f", $0) }.joined(separator: " "))
        }
        var compared = 0
        for (i, (line, out)) in zip(scores, outs).enumerated() {
            let columns = line.split(separator: "\t").map(String.init)
            XCTAssertEqual(columns.count, 5, line)
            let tokens = Int(columns[3])!
            XCTAssertEqual(columns[4].split(separator: " ").count, tokens)
            XCTAssertEqual(Float(columns[2])!, Float(columns[1])! / Float(tokens), accuracy: 1e-3)
            guard v.target.encode(out.text) + [Int32(model.config.eosId)] == out.tokens else { continue }
            compared += 1
            let given = String(translated[i].split(separator: "\t", omittingEmptySubsequences: false)[1])
            XCTAssertEqual(columns[1], given, "line \(i + 1)")
            XCTAssertEqual(columns[0], String(format: "%.4f", out.hypotheses[0].score), "line \(i + 1)")
        }
        XCTAssertGreaterThan(compared, 0)
    }

    func testSplitSentencesJoinsSentenceTranslations() throws {
        let src = try sampleLines(4)
        let paragraph = try write([src[0] + " " + src[1], src[2] + "  " + src[3]], "para.de")
        let joined = try translate(["--input", paragraph, "--split-sentences", "--source-lang", "de"])
        let single = try translate(["--input", try write(src, "single.de")])
        XCTAssertEqual(joined, [single[0] + " " + single[1], single[2] + "  " + single[3]])
    }

    func testConstraintsAndGlossaryFromFiles() throws {
        let src = try sampleLines(6)
        let input = try write(src, "c-src.de")
        let phrases = ["red dog", "", "snow\tman", "", "", "bicycle"]
        let out = try translate(["--input", input, "--constraints", try write(phrases, "c.en")])
        XCTAssertEqual(out.count, 6)
        for (line, p) in zip(out, phrases) {
            for phrase in p.split(separator: "\t") { XCTAssertTrue(line.contains(phrase), "\"\(phrase)\" missing from \"\(line)\"") }
        }
        // A glossary term applies to the lines that hold it.
        let glossary = try write(["Mann\tgentleman", "Hund\thound"], "glossary.tsv")
        let lines = ["Ein Mann läuft.", "Eine Frau läuft.", "Ein Hund und ein Mann."]
        let g = try translate(["--input", try write(lines, "g-src.de"), "--glossary", glossary])
        XCTAssertTrue(g[0].contains("gentleman"), g[0])
        XCTAssertFalse(g[1].contains("gentleman") || g[1].contains("hound"), g[1])
        XCTAssertTrue(g[2].contains("gentleman") && g[2].contains("hound"), g[2])
    }

    func testBadSteeringInputsNameTheFileAndLine() throws {
        let m = try model()
        let src = try write(try sampleLines(3), "bad-src.de")
        let short = try write(["A"], "short.en"), long = try write(["A", "B", "C", "D"], "long.en")
        let huge = try write(["A", String(repeating: "dog ", count: 1100), "C"], "huge.en")
        let cases: [([String], String)] = [
            (["translate", "--model", m, "--input", src, "--prefix-file", short], "short.en has 1 lines, fewer than the input"),
            (["translate", "--model", m, "--input", src, "--prefix-file", long], "long.en has more lines than the input"),
            (["translate", "--model", m, "--input", src, "--prefix-file", huge], "line 2: the target prefix has"),
            (["translate", "--model", m, "--input", src, "--prefix-file", "\(Self.dir)/none.en"], "none.en"),
            (["translate", "--model", m, "--alignments", "--beam", "4", "--n-best", "2"], "--alignments"),
            (["translate", "--model", m, "--tsv", "--prefix-file", short], "--prefix-file"),
            (["translate", "--model", m, "--lm", "--alignments"], "--lm"),
            (["translate", "--model", m, "--input", src, "--constraints", short], "short.en has 1 lines, fewer than the input"),
            (["translate", "--model", m, "--input", src, "--constraints", huge], "line 2: the constraints (and prefix) have"),
            (["translate", "--model", m, "--input", src, "--glossary", long], "long.en line 1: expected \"source term<TAB>target term\""),
            (["translate", "--model", m, "--constraints", short, "--beam-style", "huggingface"], "--beam-style fairseq"),
            (["score", "--model", m, "--src", src, "--tgt", short], "short.en has 1 lines, fewer than"),
            (["score", "--model", m, "--src", src, "--tgt", long], "long.en has more lines than"),
            (["score", "--model", m, "--src", huge, "--tgt", src], "line 2: the source has"),
            (["score", "--model", m, "--src", src, "--tgt", src, "--batch-size", "0"], "--batch-size"),
            (["score", "--model", m, "--src", src, "--tgt", src, "--length-penalty", "nan"], "--length-penalty"),
        ]
        for (args, expected) in cases {
            let r = try CLI.run(args + ["--threads", "1"])
            XCTAssertNotEqual(r.status, 0, "\(args) → \(r.output)")
            XCTAssertTrue(r.output.contains(expected), "expected '\(expected)' in: \(args) → \(r.output)")
            XCTAssertFalse(r.output.contains("Fatal error"), r.output)
        }
    }
}
