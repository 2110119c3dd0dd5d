import Foundation
import XCTest
import Seq2SeqKit

/// BPE-dropout: the sampled segmentations against a plain reference, what they keep (the text, valid
/// ids), and the training stream's epochs (fresh each epoch, the same on every thread count and on resuming).
final class BPEDropoutTests: XCTestCase {
    override func tearDown() { Threads.set(1) }

    static let lines: [String] = {
        let de = ["Ein Mann fährt Fahrrad auf der Straße.", "Zwei Hunde spielen im Schnee.", "Eine Frau liest ein Buch im Café.",
                  "Kinder spielen Fußball auf der Wiese.", "Ein Mann mit Hut spielt Gitarre.", "Die Straße ist nass, weil es regnet."]
        let en = ["A man rides a bike on the street.", "Two dogs play in the snow.", "A woman reads a book in the café.",
                  "Children play football on the meadow.", "A man in a hat plays guitar.", "The street is wet because it rains."]
        return (0..<40).flatMap { i in [de[i % 6] + " \(i)", en[i % 6] + " \(i)"] }
    }()

    /// The reference: rescan every adjacent pair, take the lowest merge rank (leftmost on ties) among
    /// pairs not skipped since the last merge, draw, and either skip that pair until the next merge or
    /// merge it (Hugging Face tokenizers' BPE dropout), without the heap.
    static func reference(_ word: String, _ v: Vocabulary, p: Float, rng: inout RNG) -> [Int32] {
        var rank: [String: Int] = [:]
        for (r, m) in v.merges.enumerated() where rank["\(m.0)\u{0}\(m.1)"] == nil { rank["\(m.0)\u{0}\(m.1)"] = r }
        var sym = word.unicodeScalars.map { String($0) }, start = Array(0..<sym.count)
        var skipped = Set<String>()
        while true {
            var best: (rank: Int, at: Int)? = nil
            for i in 0..<max(0, sym.count - 1) {
                let key = "\(sym[i])\u{0}\(sym[i + 1])"
                guard let r = rank[key], !skipped.contains("\(start[i]) \(key)") else { continue }
                if best == nil || r < best!.rank { best = (r, i) }
            }
            guard let b = best else { break }
            let key = "\(sym[b.at])\u{0}\(sym[b.at + 1])"
            if rng.nextFloat() < p { skipped.insert("\(start[b.at]) \(key)"); continue }
            skipped.removeAll()
            sym[b.at] += sym[b.at + 1]
            sym.remove(at: b.at + 1); start.remove(at: b.at + 1)
        }
        return sym.map { s in Int32(v.pieces.firstIndex(of: s)!) }
    }

    func testSampledSegmentationsMatchTheReference() throws {
        let v = try Vocabulary.learn(lines: Self.lines, size: 420)
        XCTAssertTrue(v.samplesSegmentations)
        let words = Set(Self.lines.flatMap { $0.split(separator: " ").flatMap { v.markedWords($0) } }).sorted()
        XCTAssertGreaterThan(words.count, 40)
        for p: Float in [0.1, 0.5] {
            var a = RNG(seed: 7), b = RNG(seed: 7)
            var differs = 0
            for _ in 0..<5 {
                for w in words {
                    let got = v.encodeWord(w, dropout: p, rng: &a)
                    XCTAssertEqual(got, Self.reference(w, v, p: p, rng: &b), "\(w) at p \(p)")
                    XCTAssertEqual(v.decode(got), String(w.dropFirst()), "\(w) at p \(p)")
                    if got != v.encodeWord(w) { differs += 1 }
                }
            }
            XCTAssertEqual(a, b, "the same number of draws")
            XCTAssertGreaterThan(differs, 0, "p \(p) changes some segmentations")
        }
        // Without dropout the reference is plain BPE.
        var r = RNG(seed: 1)
        for w in words { XCTAssertEqual(Self.reference(w, v, p: 0, rng: &r), v.encodeWord(w), w) }
        var none = RNG(seed: 1)
        for w in words { XCTAssertEqual(v.encodeWord(w, dropout: 0, rng: &none), v.encodeWord(w), w) }
        XCTAssertEqual(none, RNG(seed: 1), "dropout 0 draws nothing")
        // A character vocabulary has no merges to skip.
        XCTAssertFalse(try Vocabulary.characters(of: "abc", normalizer: Normalizer()).samplesSegmentations)
    }

    func testEpochsResegmentTheTextTheSameOnAnyThreadCount() throws {
        let src = Self.lines.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let tgt = Self.lines.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let v = Vocabularies(joint: try Vocabulary.learn(lines: src + tgt, size: 420))
        let plain = ParallelData.make(sourceIds: v.source.encodeBatch(src), targetIds: v.target.encodeBatch(tgt), maxLength: 128)
        Threads.set(1)
        let c = BPEDropoutCorpus(source: src, target: tgt, vocabularies: v, p: 0.1, seed: 5, maxLength: 128)
        let e1 = c.pairs(epoch: 1), e2 = c.pairs(epoch: 2)
        Threads.set(2)
        let e1b = c.pairs(epoch: 1)
        XCTAssertEqual(e1.pairs.count, src.count)
        for i in 0..<src.count {
            XCTAssertEqual(e1.pairs[i].src, e1b.pairs[i].src, "line \(i): one segmentation whatever the threads")
            XCTAssertEqual(e1.pairs[i].tgt, e1b.pairs[i].tgt, "line \(i)")
            XCTAssertEqual(v.source.decode(e1.pairs[i].src), v.source.decode(plain.pairs[i].src), "line \(i) keeps its text")
            XCTAssertEqual(v.target.decode(e2.pairs[i].tgt), v.target.decode(plain.pairs[i].tgt), "line \(i) keeps its text")
        }
        let tokens = { (d: ParallelData) in d.sourceTokens + d.targetTokens }
        XCTAssertGreaterThan(tokens(e1), tokens(plain), "skipped merges leave more, shorter pieces")
        XCTAssertNotEqual(e1.pairs.map(\.src), e2.pairs.map(\.src), "each epoch draws anew")
        // Nearly every merge skipped: characters only. A tiny p: the deterministic segmentation.
        let chars = BPEDropoutCorpus(source: src, target: tgt, vocabularies: v, p: 0.999, seed: 5, maxLength: 128).pairs(epoch: 1)
        let characters = (src + tgt).reduce(2 * src.count) { n, line in  // one eos per line and side
            n + line.split(separator: " ").flatMap { v.source.markedWords($0) }.reduce(0) { $0 + $1.unicodeScalars.count }
        }
        XCTAssertLessThanOrEqual(tokens(chars), characters)
        XCTAssertGreaterThan(tokens(chars), characters * 99 / 100, "one token per character (bar a rare merge), plus eos")
        let same = BPEDropoutCorpus(source: src, target: tgt, vocabularies: v, p: 1e-9, seed: 5, maxLength: 128).pairs(epoch: 3)
        XCTAssertEqual(same.pairs.map(\.src), plain.pairs.map(\.src))
        XCTAssertEqual(same.pairs.map(\.tgt), plain.pairs.map(\.tgt))
        // The length limit applies to each epoch's segmentation.
        let short = BPEDropoutCorpus(source: src, target: tgt, vocabularies: v, p: 0.999, seed: 5, maxLength: 20).pairs(epoch: 1)
        XCTAssertEqual(short.pairs.count + short.skippedLong, src.count)
        XCTAssertGreaterThan(short.skippedLong, 0)
        XCTAssertTrue(short.pairs.allSatisfy { $0.src.count <= 20 && $0.tgt.count <= 20 })
    }

    func testTheStreamDrawsEachEpochsSegmentationAndResumesIntoIt() throws {
        let src = Self.lines.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let tgt = Self.lines.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let v = Vocabularies(joint: try Vocabulary.learn(lines: src + tgt, size: 420))
        let plain = ParallelData.make(sourceIds: v.source.encodeBatch(src), targetIds: v.target.encodeBatch(tgt), maxLength: 128)
        let c = BPEDropoutCorpus(source: src, target: tgt, vocabularies: v, p: 0.2, seed: 9, maxLength: 128)
        let config = ModelConfig(srcVocabSize: v.source.count, tgtVocabSize: v.target.count, dModel: 8, nHeads: 1, dFF: 8,
                                 encoderLayers: 1, decoderLayers: 1, maxPositions: 200)
        var stream = ParallelStream(data: plain, valid: nil, batchTokens: 200, seed: 3, config: config, resampled: c)
        var seen: [Int: Int] = [:]  // epoch → target labels drawn
        var drawn: [(StreamPosition, Batch)] = []
        while stream.position.epoch <= 3 {
            let at = stream.position
            let d = stream.next(materialize: true)
            seen[at.epoch, default: 0] += d.targetTokens
            drawn.append((at, d.batch!))
        }
        for e in 1...3 { XCTAssertEqual(seen[e], c.pairs(epoch: e).targetTokens, "epoch \(e) is its own segmentation") }
        XCTAssertNotEqual(seen[1], seen[2])
        // A stream set to a saved position draws what the first one drew there.
        for (at, batch) in [drawn[1], drawn[drawn.count / 2], drawn[drawn.count - 1]] {
            var resumed = ParallelStream(data: plain, valid: nil, batchTokens: 200, seed: 3, config: config, resampled: c)
            resumed.position = at
            let b = resumed.next(materialize: true).batch!
            XCTAssertEqual(b.src, batch.src, "\(at)")
            XCTAssertEqual(b.tgtOut, batch.tgtOut, "\(at)")
        }
    }

    func testSettingsRefuseWhatItCannotApplyTo() {
        var s = TrainSettings()
        s.bpeDropout = 1
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("--bpe-dropout must be in [0, 1)"), "\($0)") }
        s.bpeDropout = 0.1
        XCTAssertNoThrow(try s.validate())
        s.data = "/tmp/prepared"
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("give --src and --tgt"), "\($0)") }
        s.data = nil; s.mode = .languageModel
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("not --lm"), "\($0)") }
        // Saved and read back as bpe_dropout.
        var t = TrainSettings()
        t.bpeDropout = 0.1
        let json = String(decoding: try! t.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"bpe_dropout\" : 0.1"), json)
        XCTAssertEqual(try JSONDecoder().decode(TrainSettings.self, from: Data(json.utf8)).bpeDropout, 0.1)
    }
}
