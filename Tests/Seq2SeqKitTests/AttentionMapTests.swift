import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Seq2SeqKit

final class AttentionMapTests: XCTestCase {
    /// A vocabulary big enough to name every id of the fixture models (labels only).
    func vocabularies(size: Int) throws -> Vocabularies {
        let letters = (0..<max(0, size - Vocabulary.firstPieceId)).map { String(UnicodeScalar(0x61 + $0)!) }
        return Vocabularies(joint: try Vocabulary(normalizer: Normalizer(), alphabet: letters, merges: []))
    }

    /// Captured weights equal softmax(QKᵀ/√Dh + mask) recomputed here from the weights for layer 0
    /// (decoder self-attention, and encoder self-attention when there is one); every row sums to 1
    /// and masked (future) entries are 0.
    func testCapturedWeightsAreTheModelsAttention() throws {
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            let c = model.config
            let source: [Int32] = c.isDecoderOnly ? [] : [5, 6, 7, 8]
            let target: [Int32] = [9, 10, 11, 2]
            let maps = try AttentionMaps.capture(model: model, vocabularies: vocabularies(size: max(c.tgtVocabSize, 300)),
                                                 source: source, target: target)
            let input: [Int32] = c.isDecoderOnly ? target : [Int32(c.bosId)] + target.dropLast()
            XCTAssertEqual(maps.targetPieces.count, input.count)
            XCTAssertEqual(maps.decoderInputPieces.count, input.count)
            let expected = try layerZeroSelfAttention(file, model.config, stack: "decoder", ids: input, causal: true)
            for h in 0..<c.nHeads {
                for i in 0..<input.count {
                    let row = maps.decoderSelf[0][h][i]
                    XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                    for j in 0..<input.count {
                        if j > i { XCTAssertEqual(row[j], 0, "future key must be 0") }
                        XCTAssertEqual(row[j], expected[h][i][j], accuracy: 1e-5, "\(path) head \(h) [\(i), \(j)]")
                    }
                }
            }
            if !c.isDecoderOnly {
                let src = source + [Int32(c.eosId)]
                let enc = try layerZeroSelfAttention(file, c, stack: "encoder", ids: src, causal: false)
                for h in 0..<c.nHeads { for i in 0..<src.count { for j in 0..<src.count {
                    XCTAssertEqual(maps.encoderSelf[0][h][i][j], enc[h][i][j], accuracy: 1e-5)
                } } }
                for row in maps.cross.flatMap({ $0.flatMap { $0 } }) { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5) }
            }
        }
    }

    /// softmax(QKᵀ/√Dh + causal mask) of layer 0, from the tensors in the fixture file: [head][query][key].
    func layerZeroSelfAttention(_ f: SafeTensors, _ c: ModelConfig, stack: String, ids: [Int32], causal: Bool) throws -> [[[Float]]] {
        let d = c.dModel, t = ids.count, dh = c.headDim
        let table = try f.floats(stack == "encoder" && c.shareEmbeddings ? "decoder.embed_tokens.weight" : "\(stack).embed_tokens.weight")
        var pos = [Float](repeating: 0, count: c.maxPositions * d)
        if c.positional == .learned { pos = try f.floats("\(stack).embed_positions.weight") }
        else { pos.withUnsafeMutableBufferPointer { sinusoidalPositions($0.baseAddress!, positions: c.maxPositions, dModel: d) } }
        let scale: Float = c.scaleEmbedding ? Float(d).squareRoot() : 1
        var x = [[Float]](repeating: [Float](repeating: 0, count: d), count: t)
        for i in 0..<t { for j in 0..<d { x[i][j] = table[Int(ids[i]) * d + j] * scale + pos[i * d + j] } }
        if c.norm == .pre {
            let g = try f.floats("\(stack).layers.0.self_attn_layer_norm.weight"), b = try f.floats("\(stack).layers.0.self_attn_layer_norm.bias")
            for i in 0..<t {
                let m = x[i].reduce(0, +) / Float(d)
                let v = x[i].map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(d)
                x[i] = (0..<d).map { (x[i][$0] - m) / (v + c.layerNormEps).squareRoot() * g[$0] + b[$0] }
            }
        }
        func project(_ name: String) throws -> [[Float]] {
            let w = try f.floats("\(stack).layers.0.self_attn.\(name).weight"), b = try f.floats("\(stack).layers.0.self_attn.\(name).bias")
            return x.map { row in (0..<d).map { o in (0..<d).reduce(b[o]) { $0 + row[$1] * w[o * d + $1] } } }
        }
        let q = try project("q_proj"), k = try project("k_proj")
        return (0..<c.nHeads).map { h in
            (0..<t).map { i in
                var s = (0..<t).map { j -> Float in
                    if causal && j > i { return -.infinity }
                    return (0..<dh).reduce(0) { $0 + q[i][h * dh + $1] * k[j][h * dh + $1] } / Float(dh).squareRoot()
                }
                let m = s.max()!
                s = s.map { $0 == -.infinity ? 0 : exp($0 - m) }
                let z = s.reduce(0, +)
                return s.map { $0 / z }
            }
        }
    }

    func testSVGAndIndexAreWritten() throws {
        let m = HeatmapSVG.render([[0.25, 0.75], [1, 0]], rows: ["▁Ein", "<Mann&>"], columns: ["▁A", "straße"], title: "t")
        XCTAssertTrue(m.contains("&lt;Mann&amp;&gt;"))
        XCTAssertTrue(m.contains("straße"))
        XCTAssertTrue(m.hasPrefix("<svg"))
        // The files themselves: one SVG per head and a mean per layer for each kind of attention,
        // each a well-formed XML document, and an index.html that shows every one of them.
        for path in try Fixtures.all() {
            let model = try Fixtures.model(SafeTensors(contentsOf: path))
            let c = model.config
            let maps = try AttentionMaps.capture(model: model, vocabularies: vocabularies(size: max(c.tgtVocabSize, 300)),
                                                 source: c.isDecoderOnly ? [] : [5, 6, 7], target: [9, 10, 2])
            let dir = NSTemporaryDirectory() + "seq2seq-svg-\(getpid())-\(UUID().uuidString.prefix(6))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let written = try HeatmapSVG.writeAll(maps, to: dir, title: "t <&>")
            let layers = c.isDecoderOnly ? c.decoderLayers : 2 * c.decoderLayers + c.encoderLayers  // cross, decoder, encoder
            XCTAssertEqual(written.count, layers * (c.nHeads + 1), path)
            let index = try String(contentsOfFile: "\(dir)/index.html", encoding: .utf8)
            XCTAssertTrue(index.contains("<title>t &lt;&amp;&gt;</title>"))
            for name in written {
                XCTAssertTrue(index.contains("<img src=\"\(name)\""), name)
                let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
                XCTAssertTrue(XMLParser(data: data).parse(), "\(name) is not well-formed XML")
            }
        }
    }
}
