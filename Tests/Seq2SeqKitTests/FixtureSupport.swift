import Foundation
import XCTest
import Seq2SeqKit

/// The parity fixtures: the project's copy by default, or the directory named by SEQ2SEQ_FIXTURES.
enum Fixtures {
    static var directory: String {
        if let d = ProcessInfo.processInfo.environment["SEQ2SEQ_FIXTURES"], !d.isEmpty { return d }
        return Bundle.module.resourcePath! + "/Fixtures"
    }

    /// Every fixture file. None is an error, not an empty list: a test that loops over the
    /// fixtures would otherwise pass without checking anything. (The fixtures ship in the test
    /// bundle, so a missing folder is a broken build or a wrong SEQ2SEQ_FIXTURES, never a skip.)
    static func all() throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw Missing("the parity fixtures folder \(directory) cannot be read (\(error)); check SEQ2SEQ_FIXTURES or the test bundle")
        }
        let files = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !files.isEmpty else {
            throw Missing("no *.safetensors parity fixtures in \(directory); check SEQ2SEQ_FIXTURES or the test bundle")
        }
        return files.map { "\(directory)/\($0)" }
    }

    struct Missing: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The model a fixture describes, with its weights loaded by name.
    static func model(_ file: SafeTensors) throws -> Transformer {
        guard let json = file.metadata["config"] else { throw ModelError.badFile(file.path, "no config in __metadata__") }
        let config = try ModelConfig.decode(Data(json.utf8), source: file.path)
        let model = try Transformer(config: config)
        let extra = ["src_ids", "tgt_in", "tgt_out"]
        try model.loadWeights(from: file) { $0.hasPrefix("grad.") || $0.hasPrefix("out.") || $0.hasPrefix("greedy.") || extra.contains($0) }
        return model
    }

    static func batch(_ file: SafeTensors, decoderOnly: Bool) throws -> Batch {
        let tin = try file.int64s("tgt_in").map(Int32.init), tout = try file.int64s("tgt_out").map(Int32.init)
        let shape = try file.tensor("tgt_in").shape
        let src = decoderOnly ? [] : try file.int64s("src_ids").map(Int32.init)
        let s = decoderOnly ? 0 : try file.tensor("src_ids").shape[1]
        return Batch(batchSize: shape[0], srcLength: s, tgtLength: shape[1], src: src, tgtIn: tin, tgtOut: tout)
    }
}

/// max |a - b| <= tolerance · max |b|, the spec's comparison.
func assertClose(_ a: [Float], _ b: [Float], relative tolerance: Float = 1e-4, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): sizes differ", file: file, line: line)
    guard a.count == b.count else { return }
    var scale: Float = 0, worst: Float = 0
    for i in 0..<b.count { scale = max(scale, abs(b[i])); worst = max(worst, abs(a[i] - b[i])) }
    XCTAssertLessThanOrEqual(worst, tolerance * max(scale, 1e-12),
                             "\(what): max difference \(worst) vs largest magnitude \(scale)", file: file, line: line)
}
