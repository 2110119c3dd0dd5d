import Foundation
import Synchronization
import XCTest
import Seq2SeqKit

/// The SentencePiece unigram tokenizer of Marian models against MarianTokenizer (transformers 5.24)
/// and sentencepiece 0.2.3, through references made by scripts/make-marian-fixtures.py: tricky lines
/// here, every line of Multi30k when ../shared is present.
final class SentencePieceTests: XCTestCase {
    override class func tearDown() { MarianFixtures.removeFolders() }
    // MARK: - Tokenizer

    func testTokenizerMatchesMarianTokenizerOnTrickyLines() throws {
        let hf = try MarianFixtures.huggingFaceFolder("separate")
        let v = try Vocabularies.loadMarian(from: hf)
        let data = try Data(contentsOf: URL(fileURLWithPath: MarianFixtures.root + "/tokenize.json"))
        let cases = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 50)
        for c in cases {
            let line = c["line"] as! String, target = c["side"] as! String == "target"
            let vocab = (target ? v.target : v.source).sentencePiece!
            XCTAssertEqual(vocab.encode(line), (c["ids"] as! [Int]).map(Int32.init), "ids of '\(line)' (\(c["side"]!))")
            XCTAssertEqual(vocab.tokenizer.encodePieces(line), c["pieces"] as! [String], "pieces of '\(line)'")
            XCTAssertEqual(vocab.tokenizer.encode(line).map(\.id), (c["spm_ids"] as! [Int]).map(Int32.init), "sentencepiece ids of '\(line)'")
            if target { XCTAssertEqual(vocab.decode(vocab.encode(line)), c["decoded"] as! String, "decoding '\(line)'") }
        }
    }

    /// Every line of Multi30k (train, val, test2016; German with the source model, English with the
    /// target model, which has byte fallback): ids, pieces, sentencepiece ids and decoded text equal
    /// MarianTokenizer's and sentencepiece's, compared through FNV-1a hashes per block of 1,000 lines
    /// (the script's --dump writes the full references for a diff).
    func testTokenizerMatchesOnAllOfMulti30k() throws {
        guard let m30k = Corpora.multi30k() else { throw XCTSkip("Multi30k not found (SEQ2SEQ_CORPORA)") }
        let dir = (m30k.testSource as NSString).deletingLastPathComponent
        let v = try Vocabularies.loadMarian(from: try MarianFixtures.huggingFaceFolder("separate"))
        let data = try Data(contentsOf: URL(fileURLWithPath: MarianFixtures.root + "/multi30k.json"))
        let summary = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        func fnv(_ s: String, _ h: inout UInt64) { for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 } }
        var lines = 0, blocks = 0
        for (file, entry) in summary.sorted(by: { $0.key < $1.key }) {
            let target = entry["side"] as! String == "target"
            let vocab = (target ? v.target : v.source).sentencePiece!
            let text = try TextFile.lines("\(dir)/\(file)")
            XCTAssertEqual(text.count, entry["lines"] as! Int, file)
            let expected = entry["blocks"] as! [[String]]
            for (b, block) in stride(from: 0, to: text.count, by: 1000).enumerated() {
                var hi: UInt64 = 0xcbf29ce484222325, hp = hi, ht = hi
                for line in text[block..<min(block + 1000, text.count)] {
                    let ids = vocab.encode(line), tokens = vocab.tokenizer.encode(line)
                    fnv(ids.map(String.init).joined(separator: " ") + "\n", &hi)
                    fnv(tokens.map { $0.text ?? vocab.tokenizer.piece($0.id) }.joined(separator: " ") + "\t"
                        + tokens.map { String($0.id) }.joined(separator: " ") + "\n", &hp)
                    fnv((target ? vocab.decode(ids) : "") + "\n", &ht)
                }
                let got = [hi, hp, ht].map { String(format: "%016llx", $0) }
                XCTAssertEqual(got, expected[b], "\(file) lines \(block + 1)-\(min(block + 1000, text.count)): ids / pieces / decoded text differ from MarianTokenizer's (run scripts/make-marian-fixtures.py --dump DIR to compare line by line)")
                blocks += 1
            }
            lines += text.count
        }
        XCTAssertEqual(lines, 2 * (29_000 + 1_014 + 1_000))
        print("Multi30k: \(lines) lines in \(blocks) blocks tokenized as MarianTokenizer does")
    }

    func testDamagedSentencePieceModelsAreErrors() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: MarianFixtures.root + "/spm/de.spm")))
        for (what, data) in [("truncated", Array(bytes.prefix(bytes.count / 2))), ("empty", []),
                             ("garbage", [UInt8](repeating: 0xFF, count: 64)), ("text", Array("hello world".utf8))] {
            XCTAssertThrowsError(try SentencePieceModel(data: data, path: "x.spm"), what) { e in
                XCTAssertTrue("\(e)".hasPrefix("x.spm: "), "\(what): \(e)")
            }
        }
        // A charsmap whose trie size runs past the blob.
        var model = try SentencePieceModel(data: bytes, path: "de.spm")
        model.precompiledCharsMap = [0xFF, 0xFF, 0, 0, 1, 2, 3]
        XCTAssertThrowsError(try UnigramTokenizer(model: model, path: "de.spm"))
        XCTAssertThrowsError(try UnigramTokenizer(contentsOf: "/nonexistent.spm"))
    }

}

/// The Marian fixtures (scripts/make-marian-fixtures.py) under Fixtures/marian.
enum MarianFixtures {
    /// Folders made by `huggingFaceFolder`, removed (with their "-…" siblings) by `removeFolders`.
    static let made = Mutex<[String]>([])

    static func removeFolders() {
        let fm = FileManager.default
        for dir in made.withLock({ d in defer { d.removeAll() }; return d }) {
            let parent = (dir as NSString).deletingLastPathComponent, base = (dir as NSString).lastPathComponent
            for f in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where f.hasPrefix(base) {
                try? fm.removeItem(atPath: "\(parent)/\(f)")
            }
        }
    }
    static var root: String { Fixtures.directory + "/marian" }

    /// A Hugging Face folder for a fixture configuration: its files plus the two .spm models
    /// (kept once under marian/spm).
    static func huggingFaceFolder(_ name: String) throws -> String {
        let fm = FileManager.default
        let dir = NSTemporaryDirectory() + "marian-hf-\(name)-\(UUID().uuidString)"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        made.withLock { $0.append(dir) }
        for f in try fm.contentsOfDirectory(atPath: "\(root)/\(name)") where f != "expected.safetensors" && !f.hasSuffix(".spm") {
            try fm.copyItem(atPath: "\(root)/\(name)/\(f)", toPath: "\(dir)/\(f)")
        }
        try fm.copyItem(atPath: "\(root)/spm/de.spm", toPath: "\(dir)/source.spm")
        try fm.copyItem(atPath: "\(root)/spm/en.spm", toPath: "\(dir)/target.spm")
        return dir
    }
}
