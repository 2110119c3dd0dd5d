import Foundation
import XCTest
import Seq2SeqKit

final class TextTests: XCTestCase {
    static let sample = [
        "Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.", "A man rides a bike.",
        "Die Straße ist nass, weil es regnet.", "Two dogs play in the snow.", "Eine Frau liest ein Buch im Café.",
        "Kinder spielen Fußball auf der Wiese.", "Children play football on the meadow.",
    ]

    func testNormalizer() {
        let n = Normalizer()
        XCTAssertEqual(n("ﬁ Straße Ⅻ"), "fi Straße XII")
        XCTAssertEqual(n("  a\u{00A0}\u{00A0}b\tc\u{0007}d \u{3000} e  "), "a b cd e")
        XCTAssertEqual(Normalizer(form: .nfc)("ﬁ e\u{0301}"), "ﬁ é")
        XCTAssertEqual(Normalizer(form: .none)("e\u{0301}"), "e\u{0301}")
        XCTAssertEqual(Normalizer(lowercase: true)("STRASSE Straße ÄÖÜ ΣΑΣ"), "strasse straße äöü σας")
        XCTAssertEqual(n(""), "")
    }

    func testLearnEncodeDecode() throws {
        let v = Vocabulary.learn(lines: Self.sample, size: 600)
        XCTAssertEqual(Array(v.pieces.prefix(4)), ["<pad>", "<s>", "</s>", "<0x00>"])
        XCTAssertLessThan(v.count, 600, "learning stops when no pair occurs twice")
        XCTAssertGreaterThan(v.merges.count, 10)
        for line in Self.sample + ["Ganz neue Wörter: 東京 😀 ǅ", "", "   ", "x\u{0001}y"] {
            let ids = v.encode(line)
            XCTAssertTrue(ids.allSatisfy { $0 >= 3 && Int($0) < v.count }, "no specials or unknown ids in \(line)")
            XCTAssertEqual(v.decode(ids), v.normalizer(line), "round trip of '\(line)'")
        }
        // Frequent words become single pieces; unseen characters fall back to bytes.
        XCTAssertEqual(v.pieces(of: v.encode("spielen")), ["▁spielen"])
        XCTAssertEqual(v.pieces(of: v.encode("😀")).suffix(4), ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"])
    }

    func testWordwiseNormalizationEqualsLinewise() {
        let v = Vocabulary.learn(lines: Self.sample, size: 300, normalizer: Normalizer(lowercase: true))
        for line in ["ΟΔΟΣ ΣΑΣ", "a\u{2002}b ﷺ c", "x \u{0301}y", "Ⅻ\tⅫ", "tab\there", "\u{00A0}lead"] {
            var expected: [Int32] = []
            for w in PreTokenizer.words(v.normalizer(line)) { expected += v.encodeWord(PreTokenizer.marked(w)) }
            XCTAssertEqual(v.encode(line), expected, line)
        }
    }

    func testSaveLoadAndCorruptFiles() throws {
        let dir = NSTemporaryDirectory() + "seq2seq-vocab-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v = Vocabulary.learn(lines: Self.sample, size: 320, normalizer: Normalizer(form: .nfc, lowercase: true))
        try Vocabularies(joint: v).save(to: dir)
        let back = try Vocabularies.load(from: dir).source
        XCTAssertEqual(back.pieces, v.pieces)
        XCTAssertEqual(back.normalizer, v.normalizer)
        for line in Self.sample { XCTAssertEqual(back.encode(line), v.encode(line)) }

        let path = dir + "/tokenizer.json"
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Vocabulary.load(path)) { e in
            XCTAssertTrue("\(e)".contains("tokenizer.json: not valid JSON"), "\(e)")
        }
        try Data(#"{"model": {"type": "WordPiece"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Vocabulary.load(path)) { e in XCTAssertTrue("\(e)".contains("not a seq2seq vocabulary"), "\(e)") }
    }

    /// decode(encode(x)) == normalize(x) for every line of both Multi30k sides (read in place).
    func testMulti30kRoundTrip() throws {
        guard let m = Corpora.multi30kForTests else { throw XCTSkip("Multi30k not found (set SEQ2SEQ_CORPORA)") }
        Threads.set(2)
        let lines = try TextFile.lines(m.trainSource) + TextFile.lines(m.trainTarget)
        let v = Vocabulary.learn(lines: lines, size: 8000)
        XCTAssertEqual(v.count, 8000)
        let encoded = v.encodeBatch(lines)
        var failures = 0
        for (line, ids) in zip(lines, encoded) where v.decode(ids) != v.normalizer(line) {
            failures += 1
            if failures < 5 { XCTFail("round trip differs: \(line)") }
        }
        XCTAssertEqual(failures, 0)
        let perSentence = Double(encoded.reduce(0) { $0 + $1.count }) / Double(lines.count)
        XCTAssertLessThan(perSentence, 16, "an 8k BPE should need ~14 tokens per Multi30k sentence")
    }
}

extension Corpora {
    /// Multi30k for tests: $SEQ2SEQ_CORPORA or ../shared/corpora beside the repository.
    static var multi30kForTests: Parallel? {
        if let m = multi30k() { return m }
        let d = MetricTests.shared + "/corpora/multi30k"
        guard FileManager.default.fileExists(atPath: d + "/train.de") else { return nil }
        return Parallel(multi30k: d)
    }
}
