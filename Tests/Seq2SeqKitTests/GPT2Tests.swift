import Foundation
import XCTest
@_spi(Testing) import Seq2SeqKit

/// Hugging Face GPT-2 support against references made by scripts/make-gpt2-fixtures.py with
/// transformers 5.25 and tokenizers 0.23: `seq2seq import` of two tiny random GPT2LMHeadModels (F32
/// with tokenizer.json and transformers' tensor names; BF16 with vocab.json + merges.txt, the Hub's
/// names and a saved lm_head), their logits and greedy continuations, the byte-level tokenizer, what
/// import refuses, and fine-tuning an imported model.
final class GPT2Tests: XCTestCase {
    static let configs = ["tied", "legacy"]
    static var root: String { Fixtures.directory + "/gpt2" }

    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "seq2seq-gpt2-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A copy of a fixture's Hugging Face folder (without the references), to import or to edit.
    func huggingFaceFolder(_ name: String) throws -> String {
        let fm = FileManager.default
        let out = "\(dir)/hf-\(name)-\(UUID().uuidString.prefix(6))"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        for f in try fm.contentsOfDirectory(atPath: "\(Self.root)/\(name)") where f != "expected.safetensors" {
            try fm.copyItem(atPath: "\(Self.root)/\(name)/\(f)", toPath: "\(out)/\(f)")
        }
        return out
    }

    func imported(_ name: String) throws -> (Transformer, Vocabulary, String) {
        let out = "\(dir)/\(name)"
        _ = try HuggingFaceImport.run(from: try huggingFaceFolder(name), to: out)
        let model = try ModelDirectory.load(out)
        return (model, try ModelDirectory.loadVocabularies(out, for: model.config).target, out)
    }

    /// The rows of an int64 [B, T] tensor padded with -1, without the padding.
    func rows(_ file: SafeTensors, _ key: String) throws -> [[Int32]] {
        let shape = try file.tensor(key).shape, values = try file.int64s(key)
        return (0..<shape[0]).map { r in values[(r * shape[1])..<((r + 1) * shape[1])].filter { $0 >= 0 }.map(Int32.init) }
    }

    // MARK: - Import and parity

    func testImportedModelsMatchTransformers() throws {
        for name in Self.configs {
            let (model, vocab, _) = try imported(name)
            let c = model.config
            let expected = try SafeTensors(contentsOf: "\(Self.root)/\(name)/expected.safetensors")
            XCTAssertTrue(c.isDecoderOnly); XCTAssertEqual(c.norm, .pre); XCTAssertEqual(c.positional, .learned)
            XCTAssertEqual(c.activation, name == "tied" ? .geluTanh : .gelu); XCTAssertFalse(c.scaleEmbedding)
            XCTAssertTrue(c.tieOutput); XCTAssertEqual([c.bosId, c.eosId, c.padId], [700, 700, 700])
            XCTAssertEqual(c.neverGenerated, [], "<|endoftext|> is GPT-2's eos: decoding may produce it")
            XCTAssertEqual(vocab.count, 701); XCTAssertNotNil(vocab.byteLevel)

            // Logits of every position of three prompts (one holds <|endoftext|> in its middle).
            let shape = try expected.tensor("logit_ids").shape, b = shape[0], t = shape[1], v = c.tgtVocabSize
            let ids = try expected.int64s("logit_ids").map(Int32.init)
            let batch = Batch(batchSize: b, srcLength: 0, tgtLength: t, src: [], tgtIn: ids, tgtOut: ids)
            var rng = RNG(seed: 1)
            let logits = Array(try model.forward(batch, training: false, rng: &rng))
            XCTAssertTrue(ids.contains(700), "a prompt with <|endoftext|> inside is compared")
            assertClose(logits, try expected.floats("logits"), relative: 1e-5, "\(name): logits")

            // generate(do_sample=False, max_new_tokens=24) from each whole prompt, through the KV cache.
            let prompts = try rows(expected, "prompts"), greedy = try rows(expected, "greedy")
            for (p, want) in zip(prompts, greedy) {
                var sampler = Sampler(temperature: 0, seed: 1)
                var got: [Int32] = []
                sampler.generate(model, prompt: p, maxTokens: want.count) { got.append($0) }
                XCTAssertEqual(got, want, "\(name): greedy continuation of \(vocab.decode(p).debugDescription)")
                let full = try GreedyDecoder.complete(model, prompts: [p], maxLength: p.count + want.count)[0]
                XCTAssertEqual(Array(full.dropFirst(p.count)), want, "\(name): GreedyDecoder.complete")
            }
            // The prompts as the tokenizer encodes them, and the continuation's text as transformers decodes it.
            let texts = try JSONDecoder().decode([String].self, from: Data(expected.metadata["prompts"]!.utf8))
            let decoded = try JSONDecoder().decode([String].self, from: Data(expected.metadata["greedy_text"]!.utf8))
            XCTAssertEqual(texts.map { vocab.encode($0) }, prompts)
            XCTAssertEqual(greedy.map { vocab.byteLevel!.decode($0, skippingSpecials: false) }, decoded)
        }
    }

    /// `IncrementalDecoder.prefill` gives the bits of one `step` per token, for a decoder-only model
    /// (float32 and int8, 1 and 2 threads, in one pass and in chunks) and for an encoder-decoder one.
    func testPrefillEqualsStepByStep() throws {
        let (model, _, dir) = try imported("tied")
        let q = try ModelDirectory.load(dir)
        try q.quantize()
        var rng = RNG(seed: 3)
        func compare(_ m: Transformer, rows b: Int, tokens t: Int, memory: (ConstFloatPtr, Int, [UInt8])? = nil, _ what: String) {
            let v = m.config.tgtVocabSize
            let ids = (0..<b).map { _ in (0..<t).map { _ in Int32(rng.next() % UInt64(v)) } }
            for threads in [1, 2] {
                Threads.set(threads)
                let one = IncrementalDecoder(model: m), all = IncrementalDecoder(model: m)
                for d in [one, all] { d.start(rows: b, capacity: t + 1, memory: memory?.0, sourceLength: memory?.1 ?? 0, sourceValid: memory?.2 ?? []) }
                var stepped: [Float] = []
                for j in 0..<t { stepped = Array(UnsafeBufferPointer(start: one.step(ids.map { $0[j] }), count: b * v)) }
                let filled = Array(UnsafeBufferPointer(start: all.prefill(ids), count: b * v))
                XCTAssertEqual(filled.map(\.bitPattern), stepped.map(\.bitPattern), "\(what), \(b) rows × \(t) tokens, \(threads) threads")
                XCTAssertEqual(all.length, t)
                // The next step continues from the same caches.
                let next = ids.map { $0[0] }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: all.step(next), count: b * v)).map(\.bitPattern),
                               Array(UnsafeBufferPointer(start: one.step(next), count: b * v)).map(\.bitPattern), "\(what): the step after")
            }
            Threads.set(Threads.available)
        }
        for (m, what) in [(model, "float32"), (q, "int8")] {
            compare(m, rows: 3, tokens: 11, what)
            compare(m, rows: 30, tokens: 40, "\(what) in chunks")  // 1,200 > prefillRows
        }
        // Encoder-decoder: a Marian model's decoder over two sources of different lengths.
        let hf = try MarianFixtures.huggingFaceFolder("separate")
        _ = try MarianImport.run(from: hf, to: hf + "-imported")
        let marian = try ModelDirectory.load(hf + "-imported")
        let pad = Int32(marian.config.padId), eos = Int32(marian.config.eosId)
        let src: [Int32] = [5, 6, 7, 8, eos, 9, 10, eos, pad, pad]
        let (memory, valid) = try marian.encode(src: src, batch: 2, length: 5)
        compare(marian, rows: 2, tokens: 6, memory: (memory, 5, valid), "encoder-decoder")
        MarianFixtures.removeFolders()
    }

    // MARK: - The byte-level tokenizer

    func testTokenizerMatchesTransformers() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/tokenize.json"))
        let cases = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 40)
        for name in Self.configs {
            let (_, vocab, out) = try imported(name)
            for e in cases {
                let line = e["line"] as! String
                let ids = vocab.encode(line)
                XCTAssertEqual(ids, (e["ids"] as! [Int]).map(Int32.init), "\(name): ids of \(line.debugDescription)")
                XCTAssertEqual(vocab.byteLevel!.decode(ids, skippingSpecials: false), e["decoded"] as! String)
                XCTAssertEqual(vocab.decode(ids), e["decoded_skipping_specials"] as! String)
                // Streaming, token by token, gives the same text.
                var stream = StreamingDetokenizer(vocabulary: vocab)
                let streamed = ids.map { stream.push($0) }.joined() + stream.flush(final: true)
                XCTAssertEqual(streamed, e["decoded"] as! String, "\(name): streamed \(line.debugDescription)")
            }
            // The model directory's tokenizer.json is Hugging Face's: the vocab.json + merges.txt pair
            // was written as one, and reading it back gives the same vocabulary.
            let saved = try Vocabulary.load("\(out)/tokenizer.json")
            XCTAssertEqual(saved.pieces, vocab.pieces); XCTAssertEqual(saved.fingerprint, vocab.fingerprint)
        }
        // Every line of tinyshakespeare, when the corpus is here.
        guard let text = Corpora.roots.map({ "\($0)/tinyshakespeare/input.txt" }).first(where: { FileManager.default.fileExists(atPath: $0) })
                ?? [MetricTests.shared + "/corpora/tinyshakespeare/input.txt"].first(where: { FileManager.default.fileExists(atPath: $0) })
        else { throw XCTSkip("tinyshakespeare not found (SEQ2SEQ_CORPORA)") }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.root + "/tinyshakespeare.json"))) as! [String: Any]
        let vocab = try imported("tied").1
        var lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: text)), as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        XCTAssertEqual(lines.count, summary["lines"] as! Int)
        let encoded = vocab.encodeBatch(lines)
        for (b, start) in stride(from: 0, to: lines.count, by: 1000).enumerated() {
            var h: UInt64 = 0xcbf29ce484222325
            for ids in encoded[start..<min(start + 1000, lines.count)] {
                for byte in (ids.map(String.init).joined(separator: " ") + "\n").utf8 { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
            }
            XCTAssertEqual(String(format: "%016llx", h), (summary["blocks"] as! [String])[b], "tinyshakespeare lines \(start + 1)-: ids differ from GPT2TokenizerFast's")
        }
    }

    func testPreTokenizerFollowsGPT2sExpression() {
        func words(_ s: String) -> [String] {
            let u = Array(s.unicodeScalars)
            return ByteLevelPreTokenizer.split(u).map { r in var v = String.UnicodeScalarView(); v.append(contentsOf: u[r]); return String(v) }
        }
        XCTAssertEqual(words("Hello world"), ["Hello", " world"])
        XCTAssertEqual(words("I'm they'll it's 'S"), ["I", "'m", " they", "'ll", " it", "'s", " '", "S"])
        XCTAssertEqual(words("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(words("end   "), ["end", "   "])
        XCTAssertEqual(words("x\n\ny"), ["x", "\n", "\n", "y"])
        XCTAssertEqual(words("12ab, 3"), ["12", "ab", ",", " 3"])
        XCTAssertEqual(words("\u{00A0}x \u{3000}"), ["\u{00A0}", "x", " \u{3000}"])
        XCTAssertEqual(ByteLevelBPE.byteToScalar[32], "Ġ"); XCTAssertEqual(ByteLevelBPE.byteToScalar[10], "Ċ")
        XCTAssertEqual(Set(ByteLevelBPE.byteToScalar).count, 256)
    }

    // MARK: - What import refuses

    func testImportRefusesWhatItCannotRun() throws {
        func config(_ folder: String, _ change: (inout [String: Any]) -> Void) throws {
            let path = "\(folder)/config.json"
            var c = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            change(&c)
            try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: path))
        }
        func refused(_ folder: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try HuggingFaceImport.run(from: folder, to: "\(dir)/out-\(UUID().uuidString.prefix(6))"), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(expected), "expected '\(expected)' in: \(error)", file: file, line: line)
            }
        }
        for (type, what) in [("gpt_neo", "GPT-Neo's local-attention layers"), ("llama", "RMSNorm, rotary positions"), ("gptj", "rotary positions")] {
            let f = try huggingFaceFolder("tied")
            try config(f) { $0["model_type"] = type }
            refused(f, "model_type is '\(type)': it needs \(what)")
        }
        var f = try huggingFaceFolder("tied")
        try config(f) { $0["activation_function"] = "quick_gelu" }
        refused(f, "activation_function 'quick_gelu' is not supported")
        f = try huggingFaceFolder("tied")
        try config(f) { $0["scale_attn_by_inverse_layer_idx"] = true }
        refused(f, "scale_attn_by_inverse_layer_idx is true")
        f = try huggingFaceFolder("tied")
        try config(f) { $0["n_embd"] = 48 }
        refused(f, "config.json implies [701, 48]")
        f = try huggingFaceFolder("tied")
        try FileManager.default.removeItem(atPath: "\(f)/tokenizer.json")
        refused(f, "no tokenizer: a GPT-2 folder holds tokenizer.json, or vocab.json and merges.txt")
        f = try huggingFaceFolder("tied")
        try FileManager.default.removeItem(atPath: "\(f)/model.safetensors")
        refused(f, "model.safetensors: not found")
        // A tokenizer that is not GPT-2's byte-level BPE.
        f = try huggingFaceFolder("tied")
        var tok = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(f)/tokenizer.json"))) as! [String: Any]
        tok["normalizer"] = ["type": "NFC"]
        try JSONSerialization.data(withJSONObject: tok).write(to: URL(fileURLWithPath: "\(f)/tokenizer.json"))
        refused(f, "has a normalizer")
        // lm_head saved beside wte must be wte when the configuration ties them.
        f = try huggingFaceFolder("tied")
        let weights = try SafeTensors(contentsOf: "\(f)/model.safetensors")
        var tensors: [(String, [Int], [Float])] = []
        for name in weights.names { tensors.append((name, weights.tensors[name]!.shape, try weights.floats(name))) }
        var head = try weights.floats("transformer.wte.weight")
        head[5] += 1
        tensors.append(("lm_head.weight", [701, 32], head))
        try SafeTensors.write(tensors.map { .f32($0.0, $0.1, $0.2) }, to: "\(f)/model.safetensors")
        refused(f, "'lm_head.weight' differs from the token table at element 5")
        // An extra tensor is named.
        tensors.append(("transformer.h.0.attn.extra", [2], [1, 2]))
        try SafeTensors.write(tensors.map { .f32($0.0, $0.1, $0.2) }, to: "\(f)/model.safetensors")
        try config(f) { $0["tie_word_embeddings"] = false }
        refused(f, "transformer.h.0.attn.extra")
    }

    // MARK: - Fine-tuning, quantizing

    /// `train --lm --init-from` on an imported GPT-2 keeps its configuration, tokenizer and special
    /// ids, uses the fine-tuning learning rate, and lowers the loss on a small text; float32 and (where
    /// the processor has it) bf16. The result quantizes and generates.
    func testFineTuningAnImportedModel() throws {
        let (base, vocab, imported) = try imported("tied")
        let text = "\(dir)/text.txt"
        let line = "ROMEO: I'll be sworn, my lord, the night is young and the stars are out.\n"
        try Data(String(repeating: line, count: 60).utf8).write(to: URL(fileURLWithPath: text))
        // The loss of the imported model on the text, before fine-tuning.
        let ids = vocab.encodeTextLines(Array(repeating: String(line.dropLast()), count: 8)).flatMap { $0 }
        func loss(_ model: Transformer) throws -> Float {
            let t = 32
            let x = Array(ids[0..<t]), y = Array(ids[1...t])
            var rng = RNG(seed: 1)
            let logits = Array(try model.forward(Batch(batchSize: 1, srcLength: 0, tgtLength: t, src: [], tgtIn: x, tgtOut: y), training: false, rng: &rng))
            let v = model.config.tgtVocabSize
            var total: Float = 0
            for p in 0..<t {
                let row = logits[(p * v)..<((p + 1) * v)], m = row.max()!
                total += m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) - row[row.startIndex + Int(y[p])]
            }
            return total / Float(t)
        }
        let before = try loss(base)
        var precisions: [Precision] = [.float32]
        if BF16Gemm.isAvailable { precisions.append(.bf16) }
        for precision in precisions {
            var o = TrainingRun.Options(modelDirectory: "\(dir)/tuned-\(precision.rawValue)", task: .languageModel)
            o.text = text; o.initFrom = imported
            o.blockSize = 32; o.batchSize = 4; o.evalBatches = 1; o.maxSteps = 30; o.validateEvery = 0; o.threads = 1
            o.lr = 3e-3; o.precision = precision
            var log: [String] = []
            let run = try TrainingRun(o).prepare { log.append($0) }
            XCTAssertTrue(log.contains { $0.contains("initialized from") && $0.contains("configuration and vocabulary kept") }, log.joined(separator: "\n"))
            try run.train()
            let tuned = try ModelDirectory.load(o.modelDirectory)
            var c = tuned.config
            c.dropout = base.config.dropout
            XCTAssertEqual(c, base.config, "\(precision): the configuration is the imported one")
            let tunedVocab = try ModelDirectory.loadVocabularies(o.modelDirectory, for: tuned.config).target
            XCTAssertEqual(tunedVocab.fingerprint, vocab.fingerprint, "\(precision): the tokenizer is kept")
            let after = try loss(tuned)
            XCTAssertLessThan(after, 0.6 * before, "\(precision): loss on the text \(before) → \(after)")
        }
        // Defaults without --lr: nanoGPT's fine-tuning rate.
        var o = TrainingRun.Options(modelDirectory: "\(dir)/defaults", task: .languageModel)
        o.text = text; o.initFrom = imported
        XCTAssertEqual(TrainingRun.settings(for: o).lr, TrainingRun.FineTuningDefaults.languageModel.lr)
        // Shape flags and translation are refused with the reason.
        o.architecture.dModel = 64; o.blockSize = 32; o.maxSteps = 1
        XCTAssertThrowsError(try TrainingRun(o).run()) { XCTAssertTrue("\($0)".contains("--d-model changes the model's shape"), "\($0)") }
        o.architecture.dModel = nil; o.blockSize = 65
        XCTAssertThrowsError(try TrainingRun(o).run()) { XCTAssertTrue("\($0)".contains("--block-size 65 is longer than the 64 positions"), "\($0)") }
        var t = TrainingRun.Options(modelDirectory: "\(dir)/translation")
        t.source = text; t.target = text; t.initFrom = imported
        XCTAssertThrowsError(try TrainingRun(t).run()) { XCTAssertTrue("\($0)".contains("is a decoder-only language model"), "\($0)") }

        // quantize: int8 logits near the float32 ones, and generation runs on the int8 model.
        let q = try ModelDirectory.load(imported)
        try q.quantize()
        let fp = try ModelDirectory.load(imported)
        let x = Array(ids[0..<16])
        var rng = RNG(seed: 1)
        let batch = Batch(batchSize: 1, srcLength: 0, tgtLength: 16, src: [], tgtIn: x, tgtOut: x)
        let a = Array(try q.forward(batch, training: false, rng: &rng)), b = Array(try fp.forward(batch, training: false, rng: &rng))
        assertClose(a, b, relative: 0.05, "int8 against float32 logits")
        var sampler = Sampler(temperature: 0.8, topK: 20, seed: 7)
        var out: [Int32] = []
        sampler.generate(q, prompt: vocab.encode("ROMEO:"), maxTokens: 100) { out.append($0) }
        XCTAssertEqual(out.count, 100, "generation runs past the 64 positions by sliding its window")
    }
}
