import Foundation
import XCTest
import Seq2SeqKit

final class PreparedCorpusTests: XCTestCase {
    var dir = ""
    override func setUp() {
        Threads.set(1)
        dir = NSTemporaryDirectory() + "seq2seq-prep-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ lines: [String]) -> String {
        let p = "\(dir)/\(name)"
        FileManager.default.createFile(atPath: p, contents: Data(lines.joined(separator: "\n").utf8))
        return p
    }

    /// A corpus with empty, over-long and non-ASCII lines, a "\r\n" and no final newline.
    func corpus() -> (src: [String], tgt: [String]) {
        var s: [String] = [], t: [String] = []
        for i in 0..<500 {
            s.append("Ein Mann Nummer \(i) fährt über die Straße.\(i % 7 == 0 ? "\r" : "")")
            t.append("A man number \(i) crosses the street.")
        }
        s[10] = ""; t[20] = "   "
        s[30] = String(repeating: "lang ", count: 100)
        return (s, t)
    }

    func testPreparedPairsEqualInMemoryEncoding() throws {
        let (s, t) = corpus()
        let v = Vocabularies(joint: try Vocabulary.learn(lines: s + t, size: 400))
        let sp = write("train.de", s), tp = write("train.en", t)
        var p = CorpusPreparer()
        p.maxLength = 64
        p.chunkLines = 64  // several chunks
        let h = try p.prepare(source: sp, target: tp, vocabularies: v, output: "\(dir)/data")
        let reference = try ParallelData.load(source: sp, target: tp, vocabularies: v, maxLength: 64)
        XCTAssertEqual(h.pairs, reference.pairs.count)
        XCTAssertEqual(h.skippedEmpty, 2)
        XCTAssertEqual(h.skippedLong, 1)
        XCTAssertEqual(h.tokenType, "uint16")
        XCTAssertEqual(h.files.map(\.lines), [500, 500])
        let c = try PreparedCorpus(directory: "\(dir)/data")
        try c.check(against: v)
        XCTAssertEqual(c.pairCount, reference.pairs.count)
        for i in 0..<c.pairCount {
            let (ls, lt) = c.lengths(i)
            var a = [Int32](repeating: -1, count: ls), b = [Int32](repeating: -1, count: lt)
            c.copyPair(i, source: &a, target: &b)
            XCTAssertEqual(a, reference.pairs[i].src, "pair \(i)")
            XCTAssertEqual(b, reference.pairs[i].tgt, "pair \(i)")
        }
        // Batches gathered from the map equal batches gathered from memory.
        let config = ModelConfig(srcVocabSize: v.source.count, tgtVocabSize: v.target.count, dModel: 8, nHeads: 1, dFF: 8,
                                 encoderLayers: 1, decoderLayers: 1, maxPositions: 80)
        var mapped = ParallelStream(data: c, valid: nil, batchTokens: 300, seed: 3, config: config)
        var memory = ParallelStream(data: reference, valid: nil, batchTokens: 300, seed: 3, config: config)
        for _ in 0..<(2 * mapped.batchesPerEpoch) {
            let x = mapped.next(), y = memory.next()
            XCTAssertEqual(x.batch.src, y.batch.src)
            XCTAssertEqual(x.batch.tgtIn, y.batch.tgtIn)
            XCTAssertEqual(x.batch.tgtOut, y.batch.tgtOut)
            XCTAssertEqual(x.epochEnd, y.epochEnd)
        }
        // The same bytes give the same fingerprint as the file's.
        XCTAssertEqual(try CorpusPreparer.fingerprint(of: sp).fingerprint, h.files[0].fingerprint)
    }

    func testBatcherCoversEveryPairOnceWithinTheBudget() throws {
        var rng = RNG(seed: 9)
        let pairs = (0..<3000).map { _ in ([Int32](repeating: 5, count: 1 + Int(rng.next() % 60)), [Int32](repeating: 6, count: 1 + Int(rng.next() % 60))) }
        let data = ParallelData(pairs: pairs.map { (src: $0.0, tgt: $0.1) })
        let b = Batcher(maxTokens: 1000, seed: 4)
        let e1 = b.epoch(1, source: data), e2 = b.epoch(2, source: data)
        XCTAssertEqual(e1.flatMap { $0 }.sorted(), Array(0..<3000))
        XCTAssertNotEqual(e1, e2, "epochs are shuffled differently")
        XCTAssertEqual(e1, b.epoch(1, source: data), "an epoch is a function of the seed")
        for batch in e1 {
            let longest = batch.map { max(pairs[$0].0.count, pairs[$0].1.count) + 2 }.max()!
            XCTAssertTrue(batch.count == 1 || batch.count * longest <= 1000)
            // Length buckets: sources in a batch differ little.
            let ls = batch.map { pairs[$0].0.count }
            XCTAssertLessThanOrEqual(ls.max()! - ls.min()!, 1)
        }
    }

    func testDamagedCorpusIsAnErrorNotATrap() throws {
        let (s, t) = corpus()
        let v = Vocabularies(joint: try Vocabulary.learn(lines: s + t, size: 400))
        let sp = write("a.de", s), tp = write("a.en", t)
        let out = "\(dir)/data"
        let fm = FileManager.default
        func expectDamage(_ mutate: () throws -> Void, _ fragment: String, line: UInt = #line) throws {
            try? fm.removeItem(atPath: out)
            try CorpusPreparer().prepare(source: sp, target: tp, vocabularies: v, output: out)
            try mutate()
            XCTAssertThrowsError(try PreparedCorpus(directory: out), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)", line: line)
            }
        }
        let tokens = "\(out)/\(PreparedCorpus.tokensFile)", offsets = "\(out)/\(PreparedCorpus.offsetsFile)"
        try expectDamage({ try FileHandle(forWritingTo: URL(fileURLWithPath: tokens)).truncate(atOffset: 100) }, "bytes, but the header says")
        try expectDamage({
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: offsets))
            try h.seek(toOffset: 8); h.write(Data(repeating: 0xFF, count: 8))
        }, "pair 2 starts at")
        try expectDamage({
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: tokens))
            try h.seek(toOffset: 4); h.write(Data([0xFF, 0xFF]))
        }, "beyond the vocabulary")
        try expectDamage({ try Data("{\"format\": 3}".utf8).write(to: URL(fileURLWithPath: "\(out)/header.json")) }, "not a prepared-corpus header")
        try expectDamage({ try fm.removeItem(atPath: "\(out)/header.json") }, "not a prepared corpus")
        // Another vocabulary is refused by name.
        try? fm.removeItem(atPath: out)
        try CorpusPreparer().prepare(source: sp, target: tp, vocabularies: v, output: out)
        let other = Vocabularies(joint: try Vocabulary.learn(lines: s + t, size: 350))
        XCTAssertThrowsError(try PreparedCorpus(directory: out).check(against: other)) { e in
            XCTAssertTrue("\(e)".contains("another vocabulary"), "\(e)")
        }
        // Files of different lengths name both.
        let short = write("short.en", Array(t.prefix(100)))
        XCTAssertThrowsError(try CorpusPreparer().prepare(source: sp, target: short, vocabularies: v, output: "\(dir)/d2")) { e in
            XCTAssertEqual("\(e)", "\(sp) has 500 lines but \(short) has 100; the files must be line-aligned")
        }
    }

    /// A prepared text is the token stream training used to build in memory (characters with
    /// their newlines; subwords with </s> after each line).
    func testPreparedTextEqualsTheInMemoryStream() throws {
        let lines = ["First Citizen:", "Before we proceed any further, hear me speak.", "", "All: Speak, speak. Ünïcödé"]
        let path = write("input.txt", lines)
        var norm = Normalizer()
        norm.cleanWhitespace = false
        let chars = try Vocabulary.characters(of: lines.joined(separator: "\n") + "\n", normalizer: norm)
        let bpe = try Vocabulary.learn(lines: lines, size: 320)
        for (v, expected) in [(chars, chars.encode(lines.joined(separator: "\n") + "\n")),
                              (bpe, lines.flatMap { bpe.encode($0) + [Vocabulary.eosId] })] {
            try? FileManager.default.removeItem(atPath: "\(dir)/lm")
            var p = CorpusPreparer()
            p.chunkLines = 2
            let h = try p.prepare(text: path, vocabulary: v, output: "\(dir)/lm")
            XCTAssertEqual(h.tokens, expected.count)
            let c = try PreparedCorpus(directory: "\(dir)/lm")
            var got = [Int32](repeating: 0, count: c.tokenCount)
            c.copyTokens(from: 0, count: c.tokenCount, into: &got)
            XCTAssertEqual(got, expected)
        }
    }

    func testLineReaderHandlesLongLinesAndChunkBoundaries() throws {
        let long = String(repeating: "x", count: 3000)
        let p = write("lines.txt", ["a", long, "b\r", "", "c"])
        let r = try LineReader(p, bufferSize: 16)
        var got: [String] = []
        while let l = try r.nextLine(lenient: false) { got.append(l.text) }
        XCTAssertEqual(got, ["a", long, "b", "", "c"])
        XCTAssertEqual(r.lineNumber, 5)
        var h = Hasher64()
        h.add(UnsafeRawBufferPointer(start: nil, count: 0))
        let data = try Data(contentsOf: URL(fileURLWithPath: p))
        data.withUnsafeBytes { h.add($0) }
        XCTAssertEqual(r.hasher.hex, h.hex, "the fingerprint does not depend on how the bytes were chunked")
        let bad = "\(dir)/bad.txt"
        FileManager.default.createFile(atPath: bad, contents: Data([0x61, 0x0A, 0xC3, 0x28, 0x0A]))
        let rb = try LineReader(bad)
        _ = try rb.nextLine(lenient: false)
        XCTAssertThrowsError(try rb.nextLine(lenient: false)) { e in
            XCTAssertEqual(e as? TextError, .invalidUTF8(file: bad, line: 2))
        }
    }
}
