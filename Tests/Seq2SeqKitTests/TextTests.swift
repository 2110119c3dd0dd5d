import Foundation
import XCTest
import Seq2SeqKit

final class TextTests: XCTestCase {
    /// A literal "</s>", "<pad>" or "<0x41>" in the text stays text: no learned piece is spelled
    /// like a special or byte token, so encoding never yields their ids.
    func testLiteralSpecialTokensStayText() throws {
        var rng = RNG(seed: 3)
        let stems = ["ab", "cd", "ef", "gh", "ij", "kl"], marks = ["</s>", "<s>", "<pad>", "<0x41>"]
        let lines = (0..<1500).map { _ in (0..<5).map { _ in stems[Int(rng.next() % 6)] + marks[Int(rng.next() % 4)] + stems[Int(rng.next() % 6)] }.joined(separator: " ") }
        let v = try Vocabulary.learn(lines: lines, size: 400)
        for m in marks { XCTAssertEqual(v.pieces.filter { $0 == m }.count, 1, "\(m) only as its token") }
        for line in lines.prefix(50) + ["</s>", "x</s>y <pad> <0x41>"] {
            let ids = v.encode(line)
            XCTAssertFalse(ids.contains { $0 < Int32(Vocabulary.firstByteId) }, line)
            XCTAssertEqual(v.decode(ids), line)
        }
        // A tokenizer.json whose merges spell a special token is refused.
        XCTAssertThrowsError(try Vocabulary(normalizer: Normalizer(), alphabet: ["<", "/", "s", ">"],
                                            merges: [("<", "/"), ("</", "s"), ("</s", ">")]))
    }

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
        let v = try Vocabulary.learn(lines: Self.sample, size: 600)
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

    /// Decoding joins the pieces' bytes, turns every "▁" into a space and drops one leading space:
    /// checked against doing that on the decoded string, with byte tokens that spell "▁" (E2 96 81)
    /// alone, after invalid or truncated sequences, at the start and twice in a row.
    func testDecodeTurnsEveryMarkIntoASpace() throws {
        let v = try Vocabulary.learn(lines: Self.sample, size: 600)
        func byte(_ b: UInt8) -> Int32 { Int32(Vocabulary.firstByteId) + Int32(b) }
        let mark: [Int32] = [byte(0xE2), byte(0x96), byte(0x81)]
        let word = v.encode("Mann"), other = v.encode("Hunde")
        let cases: [[Int32]] = [
            word + other, mark + word, mark + mark + word, word + mark + other,
            [byte(0xE2)] + mark + word, [byte(0xE2), byte(0x96)] + mark + other, [byte(0xF0)] + mark,
            [byte(0x20)] + word, word + [byte(0xE2), byte(0x96)], mark, [], [byte(0xFF)] + mark + mark,
        ]
        for ids in cases {
            var bytes: [UInt8] = []
            for id in ids where Int(id) >= Vocabulary.firstByteId {
                if Int(id) < Vocabulary.firstPieceId { bytes.append(UInt8(Int(id) - Vocabulary.firstByteId)) } else { bytes += Array(v.pieces[Int(id)].utf8) }
            }
            var want = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\u{2581}", with: " ")
            if want.hasPrefix(" ") { want.removeFirst() }
            XCTAssertEqual(v.decode(ids), want, "\(v.pieces(of: ids))")
        }
        XCTAssertEqual(v.decode(mark + mark + word), "  Mann")  // "▁▁▁Mann": one leading space dropped
        XCTAssertEqual(v.decode([byte(0xFF)] + mark + word), "\u{FFFD}  Mann")
    }

    func testWordwiseNormalizationEqualsLinewise() throws {
        let v = try Vocabulary.learn(lines: Self.sample, size: 300, normalizer: Normalizer(lowercase: true))
        for line in ["ΟΔΟΣ ΣΑΣ", "a\u{2002}b ﷺ c", "x \u{0301}y", "Ⅻ\tⅫ", "tab\there", "\u{00A0}lead"] {
            var expected: [Int32] = []
            for w in PreTokenizer.words(v.normalizer(line)) { expected += v.encodeWord(PreTokenizer.marked(w)) }
            XCTAssertEqual(v.encode(line), expected, line)
        }
    }

    /// Counting raw words by their bytes and normalizing each distinct one equals normalizing and
    /// splitting whole lines (tabs, no-break spaces, controls, case, compatibility characters).
    func testWordCountsEqualLinewiseCounts() {
        let lines = Self.sample + ["a\u{00A0}b  c\td", "STRASSE Straße ﬁx", "x\u{0007}y  x\u{0007}y", "Ⅻ\u{2002}Ⅻ",
                                   "", "   ", "e\u{0301} é", "plain ascii words ascii", "Tab\tTab\tTAB"]
        for normalizer in [Normalizer(), Normalizer(form: .nfc, lowercase: true), Normalizer(form: .none)] {
            var expected: [String: Int] = [:]
            for line in lines {
                for w in PreTokenizer.words(normalizer(line)) { expected[PreTokenizer.marked(w), default: 0] += 1 }
            }
            XCTAssertEqual(Vocabulary.wordCounts(lines: lines, normalizer: normalizer), expected, "\(normalizer)")
        }
    }

    /// The incremental learner gives exactly the merges of the textbook algorithm (recount every
    /// pair after each merge; most frequent first, ties to the smaller (left id, right id)), on
    /// random corpora full of repeats and overlaps ("aaaa", "abab").
    func testLearnerMatchesRecountingReference() {
        // Seeded, so a failure reproduces; SEQ2SEQ_TEST_SEED tries other corpora.
        let seed = ProcessInfo.processInfo.environment["SEQ2SEQ_TEST_SEED"].flatMap(UInt64.init) ?? 20261201
        var rng = RNG(seed: seed)
        for trial in 0..<20 {
            var counts: [String: Int] = [:]
            let letters = Array("abcäß")
            for _ in 0..<(20 + trial * 5) {
                let n = Int.random(in: 1...9, using: &rng)
                let w = "▁" + String((0..<n).map { _ in letters[Int.random(in: 0..<(trial % 2 == 0 ? 2 : letters.count), using: &rng)] })
                counts[w, default: 0] += Int.random(in: 1...5, using: &rng)
            }
            let size = Vocabulary.firstPieceId + 60
            let learned = BPELearner().learn(wordCounts: counts, vocabularySize: size)
            let reference = Self.referenceBPE(counts, vocabularySize: size)
            XCTAssertEqual(learned.alphabet, reference.alphabet, "trial \(trial)")
            XCTAssertEqual(learned.merges.map { [$0.0, $0.1] }, reference.merges.map { [$0.0, $0.1] }, "trial \(trial)")
        }
    }

    static func referenceBPE(_ counts: [String: Int], vocabularySize: Int) -> (alphabet: [String], merges: [(String, String)]) {
        var chars: [Unicode.Scalar: Int] = [:]
        for (w, c) in counts { for u in w.unicodeScalars { chars[u, default: 0] += c } }
        let alphabet = chars.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.value < $1.key.value }.map(\.key)
        var symbols = alphabet.map { String($0) }
        var words = counts.map { (w, c) in (w.unicodeScalars.map { alphabet.firstIndex(of: $0)! }, c) }
        var merges: [(String, String)] = []
        while merges.count < vocabularySize - Vocabulary.firstPieceId - alphabet.count {
            var pairs: [[Int]: Int] = [:]
            for (w, c) in words where w.count > 1 { for i in 0..<(w.count - 1) { pairs[[w[i], w[i + 1]], default: 0] += c } }
            guard let best = pairs.max(by: { $0.value != $1.value ? $0.value < $1.value : ($0.key[0], $0.key[1]) > ($1.key[0], $1.key[1]) }),
                  best.value >= 2 else { break }
            let (a, b) = (best.key[0], best.key[1])
            merges.append((symbols[a], symbols[b]))
            symbols.append(symbols[a] + symbols[b])
            words = words.map { (w, c) in
                var out: [Int] = [], i = 0
                while i < w.count {
                    if i + 1 < w.count && w[i] == a && w[i + 1] == b { out.append(symbols.count - 1); i += 2 } else { out.append(w[i]); i += 1 }
                }
                return (out, c)
            }
        }
        return (symbols.prefix(alphabet.count).map { $0 }, merges)
    }

    func testSaveLoadAndCorruptFiles() throws {
        let dir = NSTemporaryDirectory() + "seq2seq-vocab-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v = try Vocabulary.learn(lines: Self.sample, size: 320, normalizer: Normalizer(form: .nfc, lowercase: true))
        try Vocabularies(joint: v).save(to: dir)
        let back = try Vocabularies.load(from: dir).source
        XCTAssertEqual(back.pieces, v.pieces)
        XCTAssertEqual(back.normalizer, v.normalizer)
        for line in Self.sample { XCTAssertEqual(back.encode(line), v.encode(line)) }

        // The same vocabulary always gives the same bytes; odd characters survive (character level).
        let path = dir + "/tokenizer.json"
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        try Vocabularies(joint: v).save(to: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), first)
        let chars = try Vocabulary.characters(of: "a\n\"b\\\t/\u{1}ü\r", normalizer: Normalizer(form: .none, cleanWhitespace: false))
        try Vocabularies(joint: chars).save(to: dir)
        XCTAssertEqual(try Vocabularies.load(from: dir).source.pieces, chars.pieces)

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
        let v = try Vocabulary.learn(lines: lines, size: 8000)
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
