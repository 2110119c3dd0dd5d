import Foundation
import XCTest
import Seq2SeqKit

/// The model against every PyTorch fixture: logits, loss, every gradient and greedy tokens.
/// Nothing here knows a fixture's name: the configuration comes from each file's metadata.
final class ParityTests: XCTestCase {
    override func setUp() { Threads.set(2) }

    func testAllFixtures() throws {
        let files = try Fixtures.all()
        XCTAssertFalse(files.isEmpty, "no fixtures in \(Fixtures.directory)")
        for path in files {
            let file = try SafeTensors(contentsOf: path)
            let name = (path as NSString).lastPathComponent
            let model = try Fixtures.model(file)
            let batch = try Fixtures.batch(file, decoderOnly: model.config.isDecoderOnly)
            var rng = RNG(seed: 0)
            let logits = Array(try model.forward(batch, training: true, rng: &rng))
            assertClose(logits, try file.floats("out.logits"), "\(name) logits")
            let smoothing = Float(file.metadata["label_smoothing"] ?? "0") ?? 0
            model.gradients.zero()
            let (sum, count) = model.loss(smoothing: smoothing)
            let expected = try file.floats("out.loss")[0]
            XCTAssertEqual(Float(sum / Double(count)), expected, accuracy: 1e-4 * abs(expected), "\(name) loss")
            model.backward()
            var checked = 0
            func ours(_ n: String) -> [Float] {
                let e = model.layout.entry(n)!
                return Array(UnsafeBufferPointer(start: model.gradients.pointer + e.offset, count: e.count))
            }
            for e in model.layout.entries {
                let expected = try file.floats("grad." + e.name)
                if e.name.hasSuffix("k_proj.bias") {
                    // Adding a constant to every key of a query adds one constant to all its scores, which
                    // softmax cancels: this gradient is 0 in exact arithmetic, and both PyTorch's value and
                    // ours are float32 rounding noise (~1e-8). Check both are 0 relative to the gradient of
                    // the key weights they are summed from.
                    let weight = try file.floats("grad." + e.name.replacingOccurrences(of: ".bias", with: ".weight"))
                    let scale = weight.map(abs).max()!
                    XCTAssertLessThanOrEqual(ours(e.name).map(abs).max()!, 1e-4 * scale, "\(name) grad.\(e.name) is not ~0")
                    XCTAssertLessThanOrEqual(expected.map(abs).max()!, 1e-4 * scale, "\(name) fixture grad.\(e.name) is not ~0")
                } else {
                    assertClose(ours(e.name), expected, "\(name) grad.\(e.name)")
                }
                checked += 1
            }
            XCTAssertEqual(checked, file.names.filter { $0.hasPrefix("grad.") }.count, "\(name): every grad.* compared")
            try checkGreedy(model, file, name)
        }
    }

    /// Greedy decoding through the KV cache reproduces the fixture's tokens exactly.
    func checkGreedy(_ model: Transformer, _ file: SafeTensors, _ name: String) throws {
        let maxLen = Int(try file.int64s("greedy.max_len")[0])
        let expected = try file.int64s("greedy.tokens").map(Int32.init)
        let tokens: [[Int32]]
        if model.config.isDecoderOnly {
            let shape = try file.tensor("greedy.prompt").shape
            let flat = try file.int64s("greedy.prompt").map(Int32.init)
            let prompts = (0..<shape[0]).map { Array(flat[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
            tokens = GreedyDecoder.complete(model, prompts: prompts, maxLength: maxLen)
        } else {
            let shape = try file.tensor("greedy.src_ids").shape
            tokens = try GreedyDecoder.translate(model, src: try file.int64s("greedy.src_ids").map(Int32.init),
                                                 batch: shape[0], srcLength: shape[1], maxLength: maxLen)
        }
        XCTAssertEqual(tokens.flatMap { $0 }, expected, "\(name) greedy tokens")
    }
}
