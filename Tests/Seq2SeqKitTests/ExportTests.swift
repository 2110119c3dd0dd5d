import Foundation
import XCTest
@_spi(Testing) import Seq2SeqKit

/// `seq2seq export --format huggingface` within Swift: models imported from transformers' fixtures go
/// out and come back in unchanged (GPT-2 and Marian), the training default becomes a Pegasus folder
/// with the tensors, configuration, tokenizer and generation settings transformers and CTranslate2
/// read, and what no class represents is refused with the reason. scripts/check-export.sh runs the
/// exported folders in real transformers and CTranslate2 (scores, generate, conversion).
final class ExportTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "seq2seq-export-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }
    override class func tearDown() { MarianFixtures.removeFolders() }

    /// The parameters of `m` by name.
    func parameters(_ m: Transformer) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.layout.entries.map { e in
            (e.name, Array(UnsafeBufferPointer(start: m.parameters.pointer + e.offset, count: e.count)))
        })
    }

    /// Imports `hf`, exports the result, imports the export: both models, the export's folder and summary.
    func roundTrip(_ hf: String) throws -> (Transformer, Transformer, String, ExportSummary) {
        let first = "\(dir)/first", out = "\(dir)/hf", second = "\(dir)/second"
        _ = try HuggingFaceImport.run(from: hf, to: first)
        let summary = try HuggingFaceExport.run(model: first, to: out)
        _ = try HuggingFaceImport.run(from: out, to: second)
        return (try ModelDirectory.load(first), try ModelDirectory.load(second), out, summary)
    }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func testGPT2GoesOutAndComesBackUnchanged() throws {
        let fm = FileManager.default
        let hf = "\(dir)/gpt2-in", root = Fixtures.directory + "/gpt2/tied"
        try fm.createDirectory(atPath: hf, withIntermediateDirectories: true)
        for f in try fm.contentsOfDirectory(atPath: root) where f != "expected.safetensors" {
            try fm.copyItem(atPath: "\(root)/\(f)", toPath: "\(hf)/\(f)")
        }
        let (a, b, out, summary) = try roundTrip(hf)
        XCTAssertEqual(summary.architecture, "GPT2LMHeadModel")
        XCTAssertEqual(a.config, b.config)
        XCTAssertEqual(parameters(a), parameters(b), "every weight, transposed out of GPT-2's Conv1D layout and back")
        let va = try ModelDirectory.loadVocabularies("\(dir)/first", for: a.config).target
        let vb = try ModelDirectory.loadVocabularies("\(dir)/second", for: b.config).target
        let text = "Hello, world! Ünïcödé and  spaces\n<|endoftext|>"
        XCTAssertEqual(va.encode(text), vb.encode(text))
        let config = try json("\(out)/config.json")
        XCTAssertEqual(config["n_inner"] as? Int, a.config.dFF)
        XCTAssertEqual(config["activation_function"] as? String, "gelu_new")
        XCTAssertEqual(config["layer_norm_epsilon"] as? Double, 1e-5)
        XCTAssertEqual(a.config.attentionDropout, 0.1, "GPT-2's attn_pdrop")
        XCTAssertEqual(config["attn_pdrop"] as? Double, 0.1)
        XCTAssertEqual(try json("\(out)/tokenizer_config.json")["eos_token"] as? String, "<|endoftext|>")
    }

    func testMarianGoesOutAndComesBackUnchanged() throws {
        for name in ["separate", "shared-f16"] {
            let (a, b, out, summary) = try roundTrip(try MarianFixtures.huggingFaceFolder(name))
            XCTAssertEqual(summary.architecture, "MarianMTModel", name)
            XCTAssertEqual(a.config, b.config, name)
            XCTAssertEqual(parameters(a), parameters(b), "\(name): every weight, final_logits_bias included")
            let config = try json("\(out)/config.json")
            XCTAssertTrue(config["forced_eos_token_id"] is NSNull, "\(name): Marian's default (0) must not be forced")
            XCTAssertEqual(a.config.attentionDropout, 0, "\(name): the file's attention_dropout, not its dropout (0.1)")
            XCTAssertEqual(config["attention_dropout"] as? Double, 0, "\(name)")
            XCTAssertEqual(config["decoder_start_token_id"] as? Int, a.config.padId, "\(name): decoding starts from <pad>")
            XCTAssertEqual(config["share_encoder_decoder_embeddings"] as? Bool, name != "separate")
            for f in ["source.spm", "target.spm", "vocab.json"] { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(f)"), "\(name): \(f)") }
            let weights = try SafeTensors(contentsOf: "\(out)/model.safetensors")
            XCTAssertEqual(try weights.tensor("final_logits_bias").shape, [1, a.config.tgtVocabSize])
            XCTAssertNil(weights.tensors["model.encoder.embed_positions.weight"], "Marian builds its sinusoids and never loads them")
            try FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    /// A small pre-norm model with a joint BPE vocabulary (the training default's shape, smaller), saved in `dir`/name.
    func trainingDefault(_ name: String, _ change: (inout ModelConfig) -> Void = { _ in }) throws -> (String, Transformer) {
        let lines = ["Ein Mann fährt Fahrrad.", "A man rides a bike.", "Zwei Hunde spielen im Schnee.", "Two dogs play in the snow."]
        let vocabulary = try Vocabulary.learn(lines: lines, size: 300)
        var c = ModelConfig(srcVocabSize: vocabulary.count, tgtVocabSize: vocabulary.count, dModel: 16, nHeads: 2, dFF: 32,
                            encoderLayers: 1, decoderLayers: 1, maxPositions: 32, shareEmbeddings: true)
        change(&c)
        let model = try Transformer(config: c)
        model.initialize(seed: 7)
        let out = "\(dir)/\(name)"
        try ModelDirectory.save(model, to: out)
        try Vocabularies(joint: vocabulary).save(to: out)
        return (out, model)
    }

    func testTheTrainingDefaultBecomesPegasus() throws {
        let (model, net) = try trainingDefault("pre")
        let out = "\(dir)/pre-hf"
        let summary = try HuggingFaceExport.run(model: model, to: out)
        XCTAssertEqual(summary.architecture, "PegasusForConditionalGeneration")
        let c = net.config, v = c.tgtVocabSize, d = c.dModel
        let config = try json("\(out)/config.json")
        XCTAssertEqual(config["model_type"] as? String, "pegasus")
        XCTAssertEqual(config["normalize_before"] as? Bool, true, "CTranslate2 reads it to build pre-norm layers")
        XCTAssertEqual(config["normalize_embedding"] as? Bool, false)
        XCTAssertEqual(config["scale_embedding"] as? Bool, true)
        XCTAssertEqual(config["decoder_start_token_id"] as? Int, 1)
        XCTAssertEqual(config["activation_function"] as? String, "relu")
        let weights = try SafeTensors(contentsOf: "\(out)/model.safetensors")
        let table = parameters(net)["decoder.embed_tokens.weight"]!
        for alias in ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"] {
            XCTAssertEqual(try weights.floats(alias), table, alias)
        }
        XCTAssertEqual(try weights.floats("final_logits_bias"), [Float](repeating: 0, count: v))
        let sinusoid = Array(UnsafeBufferPointer(start: net.sinusoid.pointer, count: c.maxPositions * d))
        XCTAssertEqual(try weights.floats("model.decoder.embed_positions.weight"), sinusoid)
        XCTAssertEqual(try weights.floats("model.encoder.layer_norm.weight"), parameters(net)["encoder.layer_norm.weight"])
        XCTAssertEqual(try weights.floats("model.decoder.layers.0.encoder_attn.k_proj.weight"), parameters(net)["decoder.layers.0.encoder_attn.k_proj.weight"])
        // Every parameter is in the file (under model.), and the file holds nothing else.
        let expected = Set(net.layout.entries.map(\.name).filter { !$0.hasSuffix("embed_tokens.weight") }.map { "model." + $0 })
            .union(["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight",
                    "final_logits_bias", "model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"])
        XCTAssertEqual(Set(weights.names), expected)

        // The tokenizer appends </s> to sources, as the encoder was trained; generation never picks <pad> or <s>.
        let tokenizer = try json("\(out)/tokenizer.json")
        let post = tokenizer["post_processor"] as? [String: Any]
        XCTAssertEqual(post?["type"] as? String, "TemplateProcessing")
        XCTAssertEqual((post?["special_tokens"] as? [String: Any])?.keys.sorted(), ["</s>"])
        XCTAssertEqual(try json("\(out)/tokenizer_config.json")["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
        let generation = try json("\(out)/generation_config.json")
        XCTAssertEqual(generation["bad_words_ids"] as? [[Int]], [[0], [1]])
        XCTAssertEqual(generation["decoder_start_token_id"] as? Int, 1)
        // The vocabulary in tokenizer.json is the model directory's, id for id.
        let vocab = (tokenizer["model"] as? [String: Any])?["vocab"] as? [String: Int]
        XCTAssertEqual(vocab?.count, v)
        XCTAssertEqual(vocab?["</s>"], 2)
    }

    func testWhatNoClassRepresentsIsRefused() throws {
        func refused(_ name: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line,
                     _ change: (inout ModelConfig) -> Void) throws {
            let (model, _) = try trainingDefault(name, change)
            XCTAssertThrowsError(try HuggingFaceExport.run(model: model, to: "\(dir)/\(name)-hf"), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains("\(model)/config.json"), "names the file: \(error)", file: file, line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/\(name)-hf"), "nothing written", file: file, line: line)
        }
        try refused("learned", "sinusoidal positions") { $0.positional = .learned }
        try refused("separate", "share one token table") { $0.shareEmbeddings = false }
        try refused("eps", "ε 1e-5") { $0.layerNormEps = 1e-6 }
        try refused("lm-post", "post-norm") { $0.encoderLayers = 0; $0.srcVocabSize = 0; $0.shareEmbeddings = false; $0.norm = .post }
        try refused("lm-scaled", "√d_model") { $0.encoderLayers = 0; $0.srcVocabSize = 0; $0.shareEmbeddings = false; $0.scaleEmbedding = true }

        // An int8 model: export the float32 model it came from.
        let (model, net) = try trainingDefault("float")
        try net.quantize()
        let int8 = "\(dir)/int8"
        try ModelDirectory.save(net, to: int8)
        try ModelDirectory.loadVocabularies(model, for: net.config).save(to: int8)
        XCTAssertThrowsError(try HuggingFaceExport.run(model: int8, to: "\(dir)/int8-hf")) { error in
            XCTAssertTrue("\(error)".contains("export the float32 model"), "\(error)")
        }
    }
}
