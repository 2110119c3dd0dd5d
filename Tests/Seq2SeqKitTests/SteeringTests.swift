import Foundation
import XCTest
import Seq2SeqKit

/// Steering a translation: target prefixes, scoring given translations, word alignments, sentence
/// splitting and over-long sources. Checked against independent references: the full (uncached)
/// forward pass for scores, the attention maps `seq2seq attention` captures for alignments.
final class SteeringTests: XCTestCase {
    nonisolated(unsafe) static var directory = ""
    nonisolated(unsafe) static var trained = ""

    override class func setUp() {
        directory = NSTemporaryDirectory() + "seq2seq-steering-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    static var sample: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            + "/corpora/sample"
    }

    /// A tiny model trained for a few seconds on the bundled sample (its translations are poor,
    /// which is fine: every check here compares two computations of the same thing).
    func translator() throws -> Translator {
        if Self.trained.isEmpty {
            Threads.set(1)
            var options = TrainingRun.Options(modelDirectory: Self.directory + "/model")
            options.source = Self.sample + "/train.de"
            options.target = Self.sample + "/train.en"
            options.vocabularySize = 500
            options.architecture.dModel = 32
            options.architecture.dFF = 64
            options.architecture.layers = 2
            options.architecture.heads = 2
            options.maxSteps = 80
            options.threads = 1
            _ = try TrainingRun(options).run(log: { _ in })
            Self.trained = options.modelDirectory
        }
        let model = try ModelDirectory.load(Self.trained)
        return Translator(model: model, vocabularies: try ModelDirectory.loadVocabularies(Self.trained, for: model.config))
    }

    func sampleLines(_ n: Int) throws -> [String] {
        Array(try String(contentsOfFile: Self.sample + "/test.de", encoding: .utf8).split(separator: "\n").prefix(n).map(String.init))
    }

    /// log p(target | source) by the full forward pass (no KV cache), in Double.
    func referenceLogProb(_ model: Transformer, source: [Int32], target: [Int32]) throws -> Double {
        let c = model.config, v = c.tgtVocabSize
        let src = source + [Int32(c.eosId)], out = target + [Int32(c.eosId)]
        let tin = [Int32(c.bosId)] + out.dropLast()
        var rng = RNG(seed: 0)
        let batch = Batch(batchSize: 1, srcLength: src.count, tgtLength: tin.count, src: src, tgtIn: tin, tgtOut: out)
        let logits = try model.forward(batch, training: false, rng: &rng)
        var total = 0.0
        for t in 0..<out.count {
            let row = (0..<v).map { Double(logits[t * v + $0]) }
            let m = row.max()!
            total += row[Int(out[t])] - (m + log(row.reduce(0) { $0 + exp($1 - m) }))
        }
        return total
    }

    func testTargetPrefixStartsTheTranslationInEverySearch() throws {
        let t = try translator()
        let lines = try sampleLines(12)
        let prefixes = ["A man", "Two dogs are", "", "The", "A woman in a red", "Some", "A", "People", "Three", "A child", "", "Men"]
        let scorer = Scorer(model: t.model, vocabularies: t.vocabularies)
        for (beam, style) in [(1, BeamSearch.Style.fairseq), (5, .fairseq), (4, .huggingface), (1, .huggingface)] {
            t.search = BeamSearch(beam: beam, lengthPenalty: 1.0, nBest: beam > 1 ? 2 : 1)
            t.search.style = style
            t.batchSize = 5
            let outputs = try t.translate(zip(lines, prefixes).map { TranslationInput($0, targetPrefix: $1) })
            for ((line, prefix), out) in zip(zip(lines, prefixes), outputs) {
                let ids = t.vocabularies.target.encode(prefix)
                XCTAssertEqual(Array(out.tokens.prefix(ids.count)), ids, "beam \(beam) \(style): \(line)")
                XCTAssertTrue(out.text.hasPrefix(prefix), "beam \(beam) \(style): \"\(out.text)\" does not start with \"\(prefix)\"")
                for h in out.hypotheses { XCTAssertTrue(h.text.hasPrefix(prefix), h.text) }
                // The prefix's tokens count in the score: teacher forcing gives the same log-probability.
                let body = out.tokens.last == Int32(t.model.config.eosId) ? Array(out.tokens.dropLast()) : out.tokens
                if out.tokens.last == Int32(t.model.config.eosId) {
                    let forced = try scorer.score(sourceIDs: [t.vocabularies.source.encode(line)], targetIDs: [body])[0]
                    XCTAssertEqual(forced.logProb, out.hypotheses[0].logProb, accuracy: 1e-3, "beam \(beam) \(style): \(line)")
                }
            }
            // A prefix is a constraint on one sentence only: the others translate as without prefixes.
            let plain = try t.translate(lines)
            for i in prefixes.indices where prefixes[i].isEmpty { XCTAssertEqual(outputs[i].text, plain[i].text) }
        }
    }

    func testGreedyPrefixContinuesWithTheArgmax() throws {
        // At beam 1 the token after the prefix is the argmax of the full forward pass given the prefix.
        let t = try translator()
        t.search = BeamSearch(beam: 1)
        let model = t.model, c = model.config
        for line in try sampleLines(5) {
            let prefix = t.vocabularies.target.encode("A man in a")
            let out = try t.translate([TranslationInput(line, targetPrefix: "A man in a")])[0]
            let src = t.vocabularies.source.encode(line) + [Int32(c.eosId)]
            let tin = [Int32(c.bosId)] + prefix
            var rng = RNG(seed: 0)
            let logits = try model.forward(Batch(batchSize: 1, srcLength: src.count, tgtLength: tin.count, src: src, tgtIn: tin,
                                                 tgtOut: [Int32](repeating: 0, count: tin.count)), training: false, rng: &rng)
            let v = c.tgtVocabSize, last = (tin.count - 1) * v
            var best = -Float.infinity, arg = 0
            for j in 0..<v where j != c.padId && j != c.bosId && logits[last + j] > best { best = logits[last + j]; arg = j }
            XCTAssertEqual(out.tokens[prefix.count], Int32(arg), line)
        }
    }

    func testTooLongAPrefixIsAnErrorNamingTheInput() throws {
        let t = try translator()
        let long = String(repeating: "dog ", count: t.model.config.maxPositions)
        XCTAssertThrowsError(try t.translate([TranslationInput("Ein Hund."), TranslationInput("Ein Hund.", targetPrefix: long)])) { e in
            XCTAssertTrue("\(e)".hasPrefix("input 1: the target prefix has"), "\(e)")
        }
        XCTAssertThrowsError(try t.translate(ids: [t.vocabularies.source.encode("Ein Hund.")], prefixes: [[Int32(t.model.config.eosId)]])) { e in
            XCTAssertTrue("\(e)".contains("is a special token"), "\(e)")
        }
    }

    func testScoresEqualTheFullForwardPassAndTranslateScores() throws {
        let t = try translator()
        let lines = try sampleLines(24)
        let refs = Array(try String(contentsOfFile: Self.sample + "/test.en", encoding: .utf8).split(separator: "\n").prefix(24).map(String.init))
        let scorer = Scorer(model: t.model, vocabularies: t.vocabularies, search: BeamSearch(lengthPenalty: 1.4))
        scorer.batchSize = 7
        let scores = try scorer.score(sources: lines, targets: refs)
        for (i, s) in scores.enumerated() {
            let ref = try referenceLogProb(t.model, source: t.vocabularies.source.encode(lines[i]), target: t.vocabularies.target.encode(refs[i]))
            XCTAssertEqual(Double(s.logProb), ref, accuracy: 2e-3 * max(1, abs(ref)), "pair \(i)")
            XCTAssertEqual(s.tokens, t.vocabularies.target.encode(refs[i]).count + 1)
            XCTAssertEqual(Double(s.tokenLogProbs.reduce(0, +)), Double(s.logProb), accuracy: 1e-3 * max(1, abs(ref)))
            XCTAssertEqual(s.score, s.logProb / pow((5 + Float(s.tokens)) / 6, 1.4), accuracy: 1e-4 * max(1, abs(s.logProb)))
            XCTAssertEqual(s.perToken, s.logProb / Float(s.tokens))
        }
        // Scoring translate's own outputs gives back translate's log-probabilities and ranking scores.
        t.search = BeamSearch(beam: 4, lengthPenalty: 1.4)
        let outputs = try t.translate(lines)
        let eos = Int32(t.model.config.eosId)
        let finished = outputs.indices.filter { outputs[$0].tokens.last == eos }
        XCTAssertGreaterThan(finished.count, 12)
        let again = try scorer.score(sourceIDs: finished.map { t.vocabularies.source.encode(lines[$0]) },
                                     targetIDs: finished.map { Array(outputs[$0].tokens.dropLast()) })
        for (i, s) in zip(finished, again) {
            XCTAssertEqual(s.logProb, outputs[i].hypotheses[0].logProb, lines[i])
            XCTAssertEqual(s.score, outputs[i].hypotheses[0].score, lines[i])
        }
        XCTAssertThrowsError(try scorer.score(sources: ["a"], targets: [])) { XCTAssertTrue("\($0)".contains("line-aligned"), "\($0)") }
        let long = String(repeating: "Hund ", count: t.model.config.maxPositions)
        XCTAssertThrowsError(try scorer.score(sources: ["Ein Hund.", long], targets: ["A dog.", "A dog."])) {
            XCTAssertTrue("\($0)".hasPrefix("pair 1: the source has"), "\($0)")
        }
    }

    func testAlignmentsFollowTheDocumentedRuleOnCapturedAttention() throws {
        let t = try translator()
        t.alignments = true
        t.search = BeamSearch(beam: 3)
        let lines = try sampleLines(10)
        let outputs = try t.translate(lines)
        let v = t.vocabularies, eos = Int32(t.model.config.eosId)
        for (line, out) in zip(lines, outputs) {
            // The reference: `seq2seq attention`'s maps of the same output, last layer, mean of heads.
            let source = v.source.encode(line)
            let maps = try AttentionMaps.capture(model: t.model, vocabularies: v, source: source, target: out.tokens)
            let heads = maps.cross.last!
            let src = source + [eos]
            let srcWord = Self.words(v.source.pieces(of: src)), tgtWord = Self.words(v.target.pieces(of: out.tokens))
            var expected = Set<WordAlignment>()
            for j in out.tokens.indices where out.tokens[j] != eos {
                var best = -Float.infinity, arg = -1
                for i in 0..<(src.count - 1) {
                    let a = heads.reduce(Float(0)) { $0 + $1[j][i] } / Float(heads.count)
                    if a > best { best = a; arg = i }
                }
                if let sw = srcWord[arg], let tw = tgtWord[j] { expected.insert(WordAlignment(source: sw, target: tw)) }
            }
            XCTAssertEqual(out.alignments, expected.sorted(), line)
            let sourceWords = line.split(separator: " ").count, targetWords = out.text.split(separator: " ").count
            for link in out.alignments {
                XCTAssertTrue((0..<sourceWords).contains(link.source) && (0..<targetWords).contains(link.target), "\(link) in \(line) → \(out.text)")
            }
        }
        XCTAssertEqual(WordAlignment.pharaoh([WordAlignment(source: 0, target: 1), WordAlignment(source: 2, target: 0)]), "0-1 2-0")
    }

    /// Word index of each piece: "▁" opens a word; specials belong to none.
    static func words(_ pieces: [String]) -> [Int?] {
        var w = -1
        return pieces.map { p in
            if ["<pad>", "<s>", "</s>"].contains(p) { return nil }
            if p.hasPrefix("\u{2581}") || w < 0 { w += 1 }
            return w
        }
    }

    /// Whether `phrase` occurs in `tokens` as a contiguous run.
    static func contains(_ tokens: [Int32], _ phrase: [Int32]) -> Bool {
        guard phrase.count <= tokens.count else { return false }
        return (0...(tokens.count - phrase.count)).contains { Array(tokens[$0..<($0 + phrase.count)]) == phrase }
    }

    func testConstraintsAppearInEveryTranslation() throws {
        let t = try translator()
        let lines = try sampleLines(16)
        let refs = Array(try String(contentsOfFile: Self.sample + "/test.en", encoding: .utf8).split(separator: "\n").prefix(16).map(String.init))
        // One or two phrases per line, taken from its reference; every other line has none.
        var inputs: [TranslationInput] = []
        for (i, (line, ref)) in zip(lines, refs).enumerated() {
            let words = ref.split(separator: " ").map { String($0.filter { $0.isLetter }) }.filter { $0.count >= 3 }
            var phrases: [TranslationInput.Constraint] = []
            if i % 2 == 0, let w = words.last { phrases.append(.init(w)) }
            if i % 4 == 0, words.count >= 3 { phrases.append(.init(words[0] + " " + words[1])) }
            inputs.append(TranslationInput(line, constraints: phrases))
        }
        for beam in [1, 2, 5] {
            t.search = BeamSearch(beam: beam, lengthPenalty: 1.0, nBest: min(2, beam))
            t.batchSize = 5
            let outputs = try t.translate(inputs)
            for (input, out) in zip(inputs, outputs) {
                for phrase in input.constraints {
                    let ids = t.vocabularies.target.encode(phrase.target)
                    XCTAssertTrue(Self.contains(out.tokens, ids), "beam \(beam): \"\(phrase.target)\" missing from \"\(out.text)\"")
                    for h in out.hypotheses { XCTAssertTrue(h.text.contains(phrase.target), "beam \(beam): \(h.text)") }
                }
            }
            // Lines without constraints translate exactly as without any constrained line beside them.
            let plain = try t.translate(lines)
            for i in inputs.indices where inputs[i].constraints.isEmpty {
                XCTAssertEqual(outputs[i].text, plain[i].text, "beam \(beam), line \(i)")
                // To the bit: the batches differ, and decoding is batch-invariant.
                XCTAssertEqual(Self.fingerprint(outputs[i]), Self.fingerprint(plain[i]), "beam \(beam), line \(i)")
            }
        }
        // The huggingface style has no constrained search.
        t.search.style = .huggingface
        XCTAssertThrowsError(try t.translate(inputs)) { XCTAssertTrue("\($0)".contains("fairseq beam style"), "\($0)") }
    }

    /// Everything a translation reports, with the scores' exact bits.
    static func fingerprint(_ o: Translator.Output) -> String {
        "\(o.text) | \(o.tokens) | " + o.hypotheses.map { "\($0.text) \($0.score.bitPattern) \($0.logProb.bitPattern)" }.joined(separator: "; ")
            + " | \(o.alignments)"
    }

    /// Batch invariance: each sentence's translation (text, tokens, n-best with scores, alignments) and
    /// its score for a given translation have the same bits alone (batch 1, one thread) and in random
    /// batches of the others at every batch size, with 1 and 2 threads, at every kernel level, with
    /// every float32 engine named (decoding uses none of them), and for the int8 copy of the model
    /// with every int8 engine named.
    func testTranslationsDoNotDependOnTheBatch() throws {
        let t = try translator()
        let lines = try sampleLines(24)
        t.search = BeamSearch(beam: 4, lengthPenalty: 1.2, nBest: 3)
        t.alignments = true
        let initialLevel = KernelLevel.active
        defer { try? KernelLevel.select(initialLevel); MatmulSelection.current = .automatic; Threads.set(1) }
        let int8 = try ModelDirectory.load(Self.trained)
        try int8.quantize()
        let t8 = Translator(model: int8, vocabularies: t.vocabularies, search: t.search)
        t8.alignments = true

        func alone(_ t: Translator) throws -> [String] {
            Threads.set(1)
            t.batchSize = 1
            return try lines.map { Self.fingerprint(try t.translate([$0])[0]) }
        }
        var rng = RNG(seed: 29)
        func check(_ t: Translator, _ expected: [String], _ what: String) throws {
            for threads in [1, 2] {
                Threads.set(threads)
                for batchSize in [2, 5, 64] {
                    // A random half of the lines, in random order: other neighbours and other lengths.
                    let chosen = lines.indices.filter { _ in rng.next() % 2 == 0 }.shuffled(using: &rng)
                    t.batchSize = batchSize
                    let outputs = try t.translate(chosen.map { lines[$0] })
                    for (i, out) in zip(chosen, outputs) {
                        XCTAssertEqual(Self.fingerprint(out), expected[i], "\(what), \(threads) threads, batch \(batchSize), line \(i)")
                    }
                }
            }
        }
        let expected = try alone(t), expected8 = try alone(t8)
        let expectedRange8 = Int8Activations.range(for: Int8Gemm.engine(rows: 1), selection: .automatic)
        var engines: [GemmEngine?] = [nil]
        engines += GemmEngine.allCases.filter(\.isAvailable)
        for level in KernelLevel.available {
            try KernelLevel.select(level)
            // AVX2 and AVX-512 give the same bits; the portable level rounds each product apart.
            let reference = level == .portable ? try alone(t) : expected
            for engine in engines {
                MatmulSelection.current = MatmulSelection(float32: engine)
                try check(t, reference, "\(level), engine \(engine?.rawValue ?? "automatic")")
            }
            MatmulSelection.current = .automatic
            // int8: 8-bit activations at the AVX-512 level of a processor with AVX512-VNNI, 7 below.
            let automaticRange = Int8Activations.range(for: Int8Gemm.engine(rows: 1), selection: .automatic)
            let reference8 = level == .portable || automaticRange != expectedRange8 ? try alone(t8) : expected8
            for engine in [nil] + Int8Engine.allCases.filter(\.isAvailable) {
                MatmulSelection.current = MatmulSelection(int8: engine)
                // An engine forced in another activation range (8 bits where its sums are 32-bit)
                // translates otherwise, but alike alone and in every batch.
                let same = engine.map { Int8Activations.range(for: $0) } ?? automaticRange
                let reference = same == automaticRange ? reference8 : try alone(t8)
                try check(t8, reference, "int8, \(level), engine \(engine?.rawValue ?? "automatic")")
            }
            MatmulSelection.current = .automatic
        }

        // Scores of given translations: the same bits alone and in batches.
        try KernelLevel.select(initialLevel)
        let scorer = Scorer(model: try ModelDirectory.load(Self.trained), vocabularies: t.vocabularies, search: t.search)
        let targets = try t.translate(lines).map(\.text)
        Threads.set(1)
        scorer.batchSize = 1
        let single = try zip(lines, targets).map { try scorer.score(sources: [$0], targets: [$1])[0] }
        for (threads, batchSize) in [(1, 7), (2, 64)] {
            Threads.set(threads)
            scorer.batchSize = batchSize
            let batched = try scorer.score(sources: lines, targets: targets)
            for (i, (a, b)) in zip(single, batched).enumerated() {
                XCTAssertEqual(a.logProb.bitPattern, b.logProb.bitPattern, "line \(i)")
                XCTAssertEqual(a.tokenLogProbs.map(\.bitPattern), b.tokenLogProbs.map(\.bitPattern), "line \(i)")
            }
        }
    }

    func testGlossaryTermsGoToTheSentencesThatHoldThem() throws {
        let glossary = ["Hund": "hound", "Mann": "gentleman", "roter Hut": "crimson hat", "Hut": "cap"]
        let found = TranslationInput.glossaryConstraints(glossary, in: "Ein Mann mit einem roter Hut. Hunde!")
        XCTAssertEqual(Set(found.map(\.target)), ["gentleman", "crimson hat"])  // "Hut" lies inside "roter Hut"; "Hunde" is not "Hund"
        XCTAssertEqual(Set(TranslationInput.glossaryConstraints(glossary, in: "Ein Hut, ein roter Hut.").map(\.target)), ["cap", "crimson hat"])
        let t = try translator()
        t.search = BeamSearch(beam: 3)
        t.splitSentences = true
        t.sentenceSplitter = SentenceSplitter(language: "de")
        let text = "Ein Hund läuft. Ein Mann sitzt."
        let out = try t.translate([TranslationInput(text, constraints: TranslationInput.glossaryConstraints(glossary, in: text))])[0]
        let sentences = try t.translate([TranslationInput("Ein Hund läuft.", constraints: [.init("hound")]),
                                         TranslationInput("Ein Mann sitzt.", constraints: [.init("gentleman")])])
        XCTAssertEqual(out.text, sentences[0].text + " " + sentences[1].text)
        XCTAssertTrue(out.text.contains("hound") && out.text.contains("gentleman"), out.text)
    }

    func testSentenceSplitterKeepsEveryCharacter() {
        let text = "  Ein Mann fährt Fahrrad. Zwei Hunde spielen im Schnee!\n\nDr. Müller kommt z.B. morgen.  Warum? "
        let de = SentenceSplitter(language: "de")
        let (leading, sentences) = de.split(text)
        XCTAssertEqual(String(leading), "  ")
        XCTAssertEqual(sentences.map(\.text), ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee!",
                                               "Dr. Müller kommt z.B. morgen.", "Warum?"])
        XCTAssertEqual(sentences.map(\.trailing), [" ", "\n\n", "  ", " "])
        XCTAssertEqual(leading + sentences.map { $0.text + $0.trailing }.joined(), Substring(text))
        // The root rules do not know German abbreviations.
        XCTAssertGreaterThan(SentenceSplitter().split("Dr. Müller kommt z.B. morgen.").sentences.count, 1)
        XCTAssertEqual(SentenceSplitter().split("   ").sentences, [])
        XCTAssertEqual(SentenceSplitter().split("Kein Punkt").sentences.map(\.text), ["Kein Punkt"])
    }

    func testSplitSentencesTranslatesEachSentenceAndKeepsTheWhitespace() throws {
        let t = try translator()
        t.search = BeamSearch(beam: 2)
        let lines = try sampleLines(3)
        let text = " " + lines.joined(separator: "  ") + "\n"
        t.splitSentences = true
        t.sentenceSplitter = SentenceSplitter(language: "de")
        t.alignments = true
        let joined = try t.translate([TranslationInput(text)])[0]
        t.splitSentences = false
        let separate = try t.translate(lines)
        XCTAssertEqual(joined.text, " " + separate.map(\.text).joined(separator: "  ") + "\n")
        XCTAssertEqual(joined.parts, 3)
        XCTAssertEqual(joined.hypotheses[0].logProb, separate.reduce(0) { $0 + $1.hypotheses[0].logProb }, accuracy: 1e-3)
        // Alignments of the second sentence are shifted past the first one's words.
        var expected: [WordAlignment] = []
        var s = 0, w = 0
        for (line, out) in zip(lines, separate) {
            expected += out.alignments.map { WordAlignment(source: $0.source + s, target: $0.target + w) }
            s += line.split(separator: " ").count; w += out.text.split(separator: " ").count
        }
        XCTAssertEqual(joined.alignments, expected)
    }

    func testOverLongSourcesAreTranslatedInPartsNotTruncated() throws {
        let t = try translator()
        var config = t.model.config
        config.maxPositions = 24
        let small = try Transformer(config: config)
        let s = Translator(model: small, vocabularies: t.vocabularies, search: BeamSearch(beam: 2))
        let words = try sampleLines(40).joined(separator: " ").split(separator: " ").prefix(60)
        let noStops = words.map { $0.filter { $0 != "." } }.joined(separator: " ")  // one "sentence" of 60 words
        let ids = t.vocabularies.source.encode(noStops)
        XCTAssertGreaterThan(ids.count, 2 * 23)
        let out = try s.translate([noStops])[0]
        XCTAssertEqual(out.splitFrom, ids.count + 1)
        XCTAssertGreaterThanOrEqual(out.parts, 3)
        // Each part is a run of whole words within the model's positions, translated on its own.
        let runs = Translator.wordRuns(ids, limit: 23, vocabulary: t.vocabularies.source)
        XCTAssertEqual(runs.flatMap { $0 }, ids)
        XCTAssertTrue(runs.allSatisfy { $0.count <= 23 })
        for run in runs.dropFirst() { XCTAssertTrue(t.vocabularies.source.pieces[Int(run[0])].hasPrefix("\u{2581}")) }
        let alone = try s.translate(ids: runs)
        XCTAssertEqual(out.text, alone.map(\.text).joined(separator: " "))
        // The output cap never passes max_positions - 1 for any part.
        XCTAssertLessThanOrEqual(alone.map(\.tokens.count).max()!, 23)
    }
}
