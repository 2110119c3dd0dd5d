import Foundation
import XCTest
import Seq2SeqKit

/// BLEU, chrF and chrF++ against sacreBLEU 2.6.0's own figures.
final class MetricTests: XCTestCase {
    /// ../shared beside the repository (or SEQ2SEQ_SHARED): data we may read but not ship.
    static var shared: String {
        if let d = ProcessInfo.processInfo.environment["SEQ2SEQ_SHARED"], !d.isEmpty { return d }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared").path
    }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    /// Our own texts (shipped with the project): entities, hyphens, numbers, quotes, non-ASCII,
    /// empty lines, every tokenizer, both cases.
    func testOwnTextsMatchSacreBLEU() throws {
        let dir = Bundle.module.resourcePath! + "/Fixtures/metric"
        let hyp = try TextFile.lines(dir + "/hyp.txt"), ref = try TextFile.lines(dir + "/ref.txt")
        let expected = try json(dir + "/expected.json")
        for tok in SacreTokenizer.allCases {
            for lc in [false, true] {
                let e = expected["\(tok.rawValue)-\(lc ? "lc" : "mixed")"] as! [String: Any]
                let s = BLEU(tokenizer: tok, lowercase: lc).corpusScore(hyp, [ref])
                XCTAssertEqual(s.score, e["bleu"] as! Double, accuracy: 1e-9, "BLEU tok \(tok) lc \(lc)")
                for (a, b) in zip(s.precisions, e["precisions"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-9) }
                XCTAssertEqual(s.brevityPenalty, e["bp"] as! Double, accuracy: 1e-12)
                XCTAssertEqual(s.sysLen, e["sys_len"] as! Int, "sys_len tok \(tok)")
                XCTAssertEqual(s.refLen, e["ref_len"] as! Int)
            }
        }
        XCTAssertEqual(CHRF().corpusScore(hyp, [ref]), expected["chrf"] as! Double, accuracy: 1e-9)
        XCTAssertEqual(CHRF(wordOrder: 2).corpusScore(hyp, [ref]), expected["chrf_plus_plus"] as! Double, accuracy: 1e-9)
        XCTAssertEqual(CHRF(lowercase: true).corpusScore(hyp, [ref]), expected["chrf_lc"] as! Double, accuracy: 1e-9)
        let sentence = BLEU(effectiveOrder: true)
        for (i, e) in (expected["sentence_bleu"] as! [Double]).enumerated() {
            XCTAssertEqual(sentence.sentenceScore(hyp[i], [ref[i]]).score, e, accuracy: 1e-9, "sentence \(i)")
        }
        let report = try EvaluationReport.evaluate(hypotheses: hyp, references: [ref])
        XCTAssertEqual(report.signature, expected["signature"] as! String)
        XCTAssertEqual(report.chrfSignature, expected["chrf_signature"] as! String)
    }

    /// Multi30k test2016 system outputs with sacreBLEU's scores, from ../shared (not redistributable).
    func testSharedMulti30kOutputs() throws {
        let dir = Self.shared + "/fixtures/bleu"
        let refPath = Self.shared + "/corpora/multi30k/test2016.en"
        guard FileManager.default.fileExists(atPath: dir + "/expected.json"),
              FileManager.default.fileExists(atPath: refPath) else {
            throw XCTSkip("no shared BLEU fixtures at \(dir)")
        }
        let expected = try json(dir + "/expected.json")
        let ref = try TextFile.lines(refPath)
        for (name, value) in expected["systems"] as! [String: Any] {
            let e = value as! [String: Any]
            let hyp = try TextFile.lines(dir + "/" + name)
            let r = try EvaluationReport.evaluate(hypotheses: hyp, references: [ref], sentenceLevel: true)
            XCTAssertEqual(r.bleu, e["bleu"] as! Double, accuracy: 1e-6, "\(name) BLEU")
            for (a, b) in zip(r.precisions, e["precisions"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-6, name) }
            XCTAssertEqual(r.bp, e["bp"] as! Double, accuracy: 1e-6)
            XCTAssertEqual(r.sysLen, e["sys_len"] as! Int, name)
            XCTAssertEqual(r.refLen, e["ref_len"] as! Int, name)
            XCTAssertEqual(r.signature, e["signature"] as! String)
            XCTAssertEqual(r.chrf, e["chrf"] as! Double, accuracy: 1e-6, "\(name) chrF")
            XCTAssertEqual(r.chrfPlusPlus, e["chrf_plus_plus"] as! Double, accuracy: 1e-6, "\(name) chrF++")
            for (i, s) in (e["sentence_bleu_first_20"] as! [Double]).enumerated() {
                // the fixture rounds sentence scores to 4 decimals
                XCTAssertEqual(r.sentenceBLEU![i], s, accuracy: 5.1e-5, "\(name) sentence \(i)")
            }
        }
    }

    func testLineCountMismatchIsAnError() {
        XCTAssertThrowsError(try EvaluationReport.evaluate(hypotheses: ["a", "b"], references: [["a"]],
                                                           names: ("hyp.txt", ["ref.txt"]))) { e in
            XCTAssertEqual("\(e)", "hyp.txt has 2 lines but ref.txt has 1; the files must be line-aligned")
        }
    }

    func testInvalidUTF8NamesFileAndLine() throws {
        let dir = NSTemporaryDirectory() + "seq2seq-utf8-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let x = "\(dir)/x.txt", y = "\(dir)/y"
        try (Data("ok\nalso ok\nbad \u{FF}".utf8) + Data([0xFF, 0xFE]) + Data("\n".utf8)).write(to: URL(fileURLWithPath: x))
        try Data("a\r\n\nb".utf8).write(to: URL(fileURLWithPath: y))
        XCTAssertThrowsError(try TextFile.readLines(x, lenient: false)) { e in
            XCTAssertEqual(e as? TextError, .invalidUTF8(file: x, line: 3))
        }
        let (lines, repaired) = try TextFile.readLines(x, lenient: true)
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(repaired, 1)
        XCTAssertEqual(try TextFile.readLines(y, lenient: false).lines, ["a", "", "b"])
    }
}

final class StreamingEvaluationTests: XCTestCase {
    /// Scoring segment by segment (what translate --ref does, in constant memory) equals scoring the corpus at once.
    func testStreamingScoresEqualCorpusScores() throws {
        var rng = RNG(seed: 21)
        let words = ["a", "man", "dog", "runs", "in", "the", "park", ".", "Ein", "Hund", "läuft", ",", "über", "grünes", "Gras"]
        func sentence() -> String { (0..<(1 + Int(rng.next() % 12))).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ") }
        let hyps = (0..<300).map { _ in sentence() } + ["", "x"]
        let refs = (0..<300).map { _ in sentence() } + ["a b", ""]
        let all = try EvaluationReport.evaluate(hypotheses: hyps, references: [refs])
        var s = StreamingEvaluation()
        for (h, r) in zip(hyps, refs) { s.add(hypothesis: h, references: [r]) }
        let streamed = s.report()
        XCTAssertEqual(streamed.bleu, all.bleu, accuracy: 1e-12)
        XCTAssertEqual(streamed.precisions, all.precisions)
        XCTAssertEqual(streamed.sysLen, all.sysLen)
        XCTAssertEqual(streamed.refLen, all.refLen)
        XCTAssertEqual(streamed.chrf, all.chrf, accuracy: 1e-12)
        XCTAssertEqual(streamed.chrfPlusPlus, all.chrfPlusPlus, accuracy: 1e-12)
        XCTAssertEqual(streamed.signature, all.signature)
        XCTAssertGreaterThan(all.bleu, 0)
    }
}
