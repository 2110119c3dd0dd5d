import Foundation
import XCTest
import Seq2SeqKit

/// The batch-invariant linear kernel (Matmul/InvariantLinear.swift) against the order it documents:
/// per value, the bias plus one fused multiply-add chain per slice of 256 features, the slices added in
/// order (a multiply then an add at the portable level). Every row count, thread count, column split
/// and kernel level must give exactly those bits, with W read in place or from its panels.
final class InvariantLinearTests: XCTestCase {
    private var initial = KernelLevel.active
    override func setUp() { initial = KernelLevel.active; Threads.set(1) }
    override func tearDown() { try? KernelLevel.select(initial); Threads.set(1) }

    /// y[r, j] in the documented order, computed one scalar at a time.
    func reference(_ x: [Float], _ w: [Float], _ b: [Float]?, rows n: Int, i: Int, o: Int, fused: Bool) -> [Float] {
        var y = [Float](repeating: 0, count: n * o)
        for r in 0..<n {
            for j in 0..<o {
                var v: Float = b?[j] ?? 0
                var k0 = 0
                repeat {
                    var s: Float = 0
                    for k in k0..<min(i, k0 + 256) {
                        s = fused ? s.addingProduct(x[r * i + k], w[j * i + k]) : s + x[r * i + k] * w[j * i + k]
                    }
                    v = v + s
                    k0 += 256
                } while k0 < i
                y[r * o + j] = v
            }
        }
        return y
    }

    func testEveryRowCountThreadCountAndLevelGivesTheDocumentedBits() throws {
        var rng = RNG(seed: 11)
        // 600 features: two full slices and a part (not a multiple of 16); 300 columns: two blocks of
        // 128 and a part of one panel's width.
        for (i, o) in [(600, 300), (32, 40), (256, 8)] {
            let maxRows = 230  // past several blocks of 8 tiles (the kernel's row blocks)
            let x = (0..<(maxRows * i)).map { _ in rng.nextGaussian() }
            let w = (0..<(o * i)).map { _ in rng.nextGaussian() * 0.1 }
            let b = (0..<o).map { _ in rng.nextGaussian() }
            let panels = PanelMatrix(w, rows: o, columns: i)
            for level in KernelLevel.available {
                try KernelLevel.select(level)
                let expected = reference(x, w, b, rows: maxRows, i: i, o: o, fused: level != .portable)
                let unbiased = reference(x, w, nil, rows: 3, i: i, o: o, fused: level != .portable)
                for threads in [1, 2] {
                    Threads.set(threads)
                    for n in [1, 2, 3, 4, 5, 7, 12, 13, 29, 96, 97, 230] {
                        for usePanels in [false, true] {
                            var y = [Float](repeating: .nan, count: n * o)
                            invariantLinearForward(&y, x, w, b, panels: usePanels ? panels : nil, rows: n, inFeatures: i,
                                                   outFeatures: o)
                            XCTAssertEqual(y.map(\.bitPattern), expected.prefix(n * o).map(\.bitPattern),
                                           "\(level), \(threads) threads, \(n) rows, I \(i), O \(o), panels \(usePanels)")
                        }
                    }
                    var y = [Float](repeating: .nan, count: 3 * o)
                    invariantLinearForward(&y, x, w, nil, rows: 3, inFeatures: i, outFeatures: o)
                    XCTAssertEqual(y.map(\.bitPattern), unbiased.map(\.bitPattern), "\(level), no bias")
                }
                // And the order is a sum: within float32 rounding of the exact product.
                for r in 0..<maxRows {
                    for j in 0..<o {
                        var exact = Double(b[j]), magnitude = abs(Double(b[j]))
                        for k in 0..<i {
                            exact += Double(x[r * i + k]) * Double(w[j * i + k])
                            magnitude += abs(Double(x[r * i + k]) * Double(w[j * i + k]))
                        }
                        XCTAssertEqual(Double(expected[r * o + j]), exact, accuracy: 1e-6 * magnitude + 1e-7)
                    }
                }
            }
        }
    }
}
