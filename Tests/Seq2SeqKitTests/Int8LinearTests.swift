import CKernels
import XCTest
@_spi(Testing) import Seq2SeqKit

/// The int8 linear layer on every engine this machine runs, against the float product within the
/// bound that quantization implies, and the engines against each other (their integer sums are exact).
final class Int8LinearTests: XCTestCase {
    override func setUp() { Threads.set(1) }
    override func tearDown() { MatmulSelection.current = .automatic; Threads.set(1) }

    /// Shapes with odd sizes and tails: I not a multiple of 32 (or of 16), O odd, 1-3 rows (the
    /// one-row tiles), rows not a multiple of 4, and rows above oneDNN's threshold.
    let shapes: [(n: Int, i: Int, o: Int)] = [
        (1, 256, 1024), (1, 37, 5), (2, 64, 9), (3, 100, 17), (4, 256, 256), (5, 33, 31), (7, 1, 3),
        (13, 250, 63), (32, 256, 8001), (97, 129, 70), (160, 256, 1024), (200, 1024, 40),
    ]

    func engines() -> [Int8Engine] { Int8Engine.allCases.filter(\.isAvailable) }

    func testEveryEngineMatchesTheFloatProductWithinTheQuantizationBound() {
        var rng = RNG(seed: 7)
        // Each engine in its own activation range (8 bits where its sums are 32-bit), and the
        // portable loops in both: the reference for the engines of each range.
        var runs: [(engine: Int8Engine, range: Int8Activations.Range)] = engines().map {
            ($0, Int8Activations.range(for: $0, selection: MatmulSelection(int8: $0)))
        }
        XCTAssertEqual(Int8Activations.range(for: .portable, selection: MatmulSelection(int8: .portable)), .eightBit)
        XCTAssertEqual(Int8Activations.range(for: .avx2, selection: MatmulSelection(int8: .avx2)), .sevenBit)
        if Int8Engine.vnni.isAvailable { XCTAssertEqual(runs.first { $0.engine == .vnni }?.range, .eightBit) }
        runs.append((.portable, .sevenBit))
        for (n, i, o) in shapes {
            let x = (0..<(n * i)).map { _ in rng.nextGaussian() * 2 }
            var w = (0..<(o * i)).map { _ in rng.nextGaussian() * 0.1 }
            if o > 3 { for k in 0..<i { w[2 * i + k] = 0 } }  // an all-zero weight row
            let b = (0..<o).map { _ in rng.nextGaussian() }
            let q = w.withUnsafeBufferPointer { QuantizedMatrix(quantizing: $0.baseAddress!, rows: o, columns: i) }
            // Float reference and the bound: |Δ| ≤ Σ_k (|w_k| · sx/2 + |x_k| · sw/2 + sx · sw / 4).
            var reference = [Float](repeating: 0, count: n * o)
            var bounds: [Int8Activations.Range: [Float]] = [.sevenBit: reference, .eightBit: reference]
            for range in [Int8Activations.Range.sevenBit, .eightBit] {
            for r in 0..<n {
                let sx = (0..<i).map { abs(x[r * i + $0]) }.max()! / range.levels
                for j in 0..<o {
                    var s: Double = Double(b[j]), e: Double = 0
                    for k in 0..<i {
                        s += Double(x[r * i + k]) * Double(w[j * i + k])
                        e += Double(abs(w[j * i + k]) * sx / 2 + abs(x[r * i + k]) * q.scales[j] / 2 + sx * q.scales[j] / 4)
                    }
                    reference[r * o + j] = Float(s)
                    bounds[range]![r * o + j] = Float(e) * 1.001 + 1e-5
                }
            }
            }
            // 8 bits halve the rounding of x: its bound is the smaller.
            XCTAssertLessThan(bounds[.eightBit]!.reduce(0, +), bounds[.sevenBit]!.reduce(0, +))
            var outputs: [String: [Float]] = [:]
            for (engine, range) in runs {
                let bound = bounds[range]!, name = "\(engine) \(range.rawValue)-bit"
                for threads in [1, 2] {
                    Threads.set(threads)
                    MatmulSelection.current = MatmulSelection(int8: engine, int8Range: range)
                    var y = [Float](repeating: .nan, count: n * o)
                    x.withUnsafeBufferPointer { xp in b.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
                        int8LinearForward(yp.baseAddress!, xp.baseAddress!, q, bp.baseAddress!, rows: n)
                    } } }
                    var worst: Float = 0
                    for t in 0..<(n * o) {
                        let err = abs(y[t] - reference[t])
                        XCTAssert(err <= bound[t], "\(name) \(n)×\(i)×\(o) [\(t / o), \(t % o)]: |\(y[t]) − \(reference[t])| > \(bound[t])")
                        worst = max(worst, err / bound[t])
                        if err > bound[t] { break }
                    }
                    // The bound is not vacuous: errors reach a real part of it.
                    if n * o >= 64 { XCTAssertGreaterThan(worst, 0.01, "\(name) \(n)×\(i)×\(o)") }
                    if let first = outputs[name] { XCTAssertEqual(first, y, "\(name): 1 and 2 threads differ") }
                    outputs[name] = y
                }
            }
            // Integer sums are exact on every engine, so in one range their outputs agree to the last
            // bit but for the order of the final float multiply-add, which is the same code everywhere.
            for (engine, range) in runs {
                let portable = outputs["portable \(range.rawValue)-bit"]!
                XCTAssertEqual(outputs["\(engine) \(range.rawValue)-bit"], portable,
                               "\(engine) differs from the portable path at \(n)×\(i)×\(o), \(range.rawValue) bits")
            }
        }
    }

    func testAutomaticChoiceUsesOurTilesForFewRowsAndOneDNNForMany() {
        MatmulSelection.current.int8 = nil
        let own: Int8Engine = Int8Engine.vnni.isAvailable ? .vnni : Int8Engine.avx2.isAvailable ? .avx2 : .portable
        XCTAssertEqual(Int8Gemm.engine(rows: 1), own)
        XCTAssertEqual(Int8Gemm.engine(rows: MatmulSelection.current.int8OneDNNFromRows - 1), own)
        // With AVX512-VNNI the packed kernel takes every row count; elsewhere oneDNN takes many rows.
        let many: Int8Engine = s2s_int8_packed_available() != 0 ? .vnni : Int8Engine.onednn.isAvailable ? .onednn : own
        XCTAssertEqual(Int8Gemm.engine(rows: MatmulSelection.current.int8OneDNNFromRows), many)
        XCTAssertEqual(Int8Gemm.engine(rows: 640), many)
        // 8-bit activations by default only where one engine with 32-bit sums takes every row count.
        XCTAssertEqual(Int8Activations.range(for: Int8Gemm.engine(rows: 1)), s2s_int8_packed_available() != 0 ? .eightBit : .sevenBit)
        XCTAssertEqual(Int8Activations.range(for: Int8Gemm.engine(rows: 1)), Int8Activations.range(for: Int8Gemm.engine(rows: 640)))
    }

    /// VNNI's packed layout holds W's bytes at p[(b·K/4 + t)·64 + 4c + e] = W[16b + c, 4t + e], zeros
    /// past the last row. (The packed kernel's outputs are checked, as the `vnni` engine's, in the
    /// engine test above.)
    func testPackedLayoutHoldsEveryWeightWhereTheKernelReadsIt() throws {
        var rng = RNG(seed: 11)
        let o = 37, i = 70
        let dense = (0..<(o * i)).map { _ in Int8(max(-127, min(127, Int(rng.nextGaussian() * 40)))) }
        let q = dense.withUnsafeBufferPointer {
            QuantizedMatrix(values: $0.baseAddress!, scales: [Float](repeating: 0.01, count: o), rows: o, columns: i)
        }
        XCTAssertEqual(q.denseValues(), dense)
        guard let p = q.packed else {
            XCTAssertEqual(s2s_int8_packed_supported(), 0, "a processor with AVX512-VNNI packs every matrix")
            throw XCTSkip("no AVX512-VNNI on this processor: the packed layout is not built")
        }
        let k = q.stride, quads = k / 4, blocks = (o + 15) / 16
        for b in 0..<blocks {
            for t in 0..<quads {
                for c in 0..<16 {
                    for e in 0..<4 {
                        let j = 16 * b + c, col = 4 * t + e, got = p[(b * quads + t) * 64 + 4 * c + e]
                        XCTAssertEqual(got, j < o && col < i ? dense[j * i + col] : 0, "block \(b) quad \(t) row \(c) byte \(e)")
                    }
                }
            }
        }
        // The row-major copy that other engines read is made from the packed one, byte for byte.
        for j in 0..<o { for col in 0..<k { XCTAssertEqual(q.values[j * k + col], col < i ? dense[j * i + col] : 0) } }
    }

    func testQuantizationIsPerRowSymmetricAndRoundTrips() {
        let w: [Float] = [0.5, -1, 0.25, 0, 0, 0, 3, 1.5, -3]
        let q = w.withUnsafeBufferPointer { QuantizedMatrix(quantizing: $0.baseAddress!, rows: 3, columns: 3) }
        XCTAssertEqual(q.scales, [1 / 127, 0, 3 / 127])
        XCTAssertEqual(q.denseValues(), [64, -127, 32, 0, 0, 0, 127, 64, -127])  // 63.5 rounds away from zero
        XCTAssertEqual(q.rowSums, [-31, 0, 64])
        XCTAssertEqual(q.stride, 32)
        let again = q.denseValues().withUnsafeBufferPointer { QuantizedMatrix(values: $0.baseAddress!, scales: q.scales, rows: 3, columns: 3) }
        XCTAssertEqual(again.denseValues(), q.denseValues())
        var row = [Float](repeating: 0, count: 3)
        row.withUnsafeMutableBufferPointer { q.dequantizeRow(2, into: $0.baseAddress!) }
        XCTAssertEqual(row, [Float(127) * q.scales[2], Float(64) * q.scales[2], Float(-127) * q.scales[2]])
    }

    func testActivationsUseSevenOrEightBitsAroundTheZeroPoint() {
        let x: [Float] = [1, -0.5, 0.25, 0, -1, 0.999]
        func quantized(_ range: Int8Activations.Range) -> (bytes: [UInt8], scale: Float) {
            var xu = [UInt8](repeating: 99, count: 32), s: Float = 0
            x.withUnsafeBufferPointer { xp in xu.withUnsafeMutableBufferPointer { up in
                Int8Activations.quantize(xp.baseAddress!, rows: 1, features: 6, stride: 32, range: range, into: up.baseAddress!, scales: &s)
            } }
            return (xu, s)
        }
        let seven = quantized(.sevenBit)
        XCTAssertEqual(seven.scale, 1 / 63)
        XCTAssertEqual(Array(seven.bytes[0..<6]), [127, 32, 80, 64, 1, 127])  // −0.5 · 63 = −31.5 → −32 (to even)
        XCTAssertEqual(Array(seven.bytes[6...]), [UInt8](repeating: 0, count: 26))
        let eight = quantized(.eightBit)
        XCTAssertEqual(eight.scale, 1 / 127)
        XCTAssertEqual(Array(eight.bytes[0..<6]), [255, 64, 160, 128, 1, 255])  // −63.5 → −64, 31.75 → 32, 126.873 → 127
        XCTAssertEqual(Array(eight.bytes[6...]), [UInt8](repeating: 0, count: 26))
    }
}
