import XCTest
import Seq2SeqKit

/// Batched products (Tensor/BatchedGemm.swift), through each engine, against a double-precision
/// reference: heads addressed in place inside [B·T, D] activations, transposed reads, alpha,
/// accumulation, and the elements between heads left alone.
final class BatchedGemmTests: XCTestCase {
    override func setUp() { Threads.set(1) }
    override func tearDown() { MatmulSelection.current = .automatic; Threads.set(1) }

    func testEveryEngineMatchesTheReference() throws {
        // (batch, heads, m, n, k): tiny ones, attention-like ones, and one above the oneDNN threshold.
        let shapes = [(1, 1, 1, 1, 1), (2, 3, 5, 7, 4), (3, 4, 30, 27, 64), (16, 4, 31, 33, 64)]
        for engine in GemmEngine.allCases where engine.isAvailable {
            MatmulSelection.current.float32 = engine
            for threads in [1, 2] {
                Threads.set(threads)
                var rng = RNG(seed: 21)
                for (bs, hs, m, n, k) in shapes {
                    for variant in 0..<4 {
                        let transA = variant & 1 != 0, transB = variant & 2 != 0
                        let accumulate = variant == 3
                        let alpha: Float = variant == 1 ? 0.125 : 1
                        // A heads in place: [B·rows, H·cols + 2] (two padding columns per row).
                        func heads(_ rows: Int, _ cols: Int, transposed: Bool) -> (BatchedLayout, Int) {
                            let (r, c) = transposed ? (cols, rows) : (rows, cols)
                            let width = hs * c + 2
                            let l = BatchedLayout(batchStride: r * width, headStride: c, rowStride: width, columnStride: 1)
                            return (transposed ? l.transposed : l, bs * r * width)
                        }
                        let (la, na) = heads(m, k, transposed: transA)
                        let (lb, nb) = heads(k, n, transposed: transB)
                        let (lc, nc) = heads(m, n, transposed: false)
                        let a = (0..<na).map { _ in rng.nextFloat() * 2 - 1 }
                        let b = (0..<nb).map { _ in rng.nextFloat() * 2 - 1 }
                        var c = (0..<nc).map { _ in rng.nextFloat() * 2 - 1 }
                        let before = c
                        try batchedGemm(batch: bs, heads: hs, m: m, n: n, k: k, alpha: alpha, a, la, b, lb,
                                        accumulate: accumulate, &c, lc)
                        var touched = Set<Int>()
                        var worst = 0.0
                        for bi in 0..<bs {
                            for h in 0..<hs {
                                func at(_ l: BatchedLayout, _ r: Int, _ col: Int) -> Int {
                                    bi * l.batchStride + h * l.headStride + r * l.rowStride + col * l.columnStride
                                }
                                for i in 0..<m {
                                    for j in 0..<n {
                                        var s = 0.0, mag = 0.0
                                        for p in 0..<k {
                                            let x = Double(a[at(la, i, p)]) * Double(b[at(lb, p, j)])
                                            s += x; mag += abs(x)
                                        }
                                        let o = at(lc, i, j)
                                        touched.insert(o)
                                        let base = accumulate ? Double(before[o]) : 0
                                        let expect = Double(alpha) * s + base
                                        let bound = Double(k + 2) * 0x1p-24 * (Double(alpha) * mag + abs(base)) + 1e-30
                                        worst = max(worst, abs(Double(c[o]) - expect) / bound)
                                    }
                                }
                            }
                        }
                        let tag = "\(engine), \(threads) threads, \(bs)×\(hs)×\(m)×\(n)×\(k), variant \(variant)"
                        XCTAssertLessThanOrEqual(worst, 1, tag)
                        for o in 0..<nc where !touched.contains(o) {
                            XCTAssertEqual(c[o], before[o], "\(tag): wrote outside the heads at \(o)")
                        }
                    }
                }
            }
        }
    }

    /// The oneDNN path gives the same bits on one and two threads (each element's sum is one
    /// thread's), so training results do not depend on --threads.
    func testSameBitsOnOneAndTwoThreads() {
        let (bs, hs, t, dh) = (24, 4, 29, 64)
        let d = hs * dh
        var rng = RNG(seed: 4)
        let q = (0..<(bs * t * d)).map { _ in rng.nextFloat() - 0.5 }
        let k = (0..<(bs * t * d)).map { _ in rng.nextFloat() - 0.5 }
        let l = BatchedLayout.headsOf(length: t, dModel: d, headDim: dh)
        let s = BatchedLayout.dense(heads: hs, rows: t, cols: t)
        var results: [[UInt32]] = []
        for threads in [1, 2] {
            Threads.set(threads)
            var scores = [Float](repeating: 0, count: bs * hs * t * t)
            batchedGemm(batch: bs, heads: hs, m: t, n: t, k: dh, alpha: 0.125, q, l, k, l.transposed, &scores, s)
            var back = [Float](repeating: 0, count: bs * t * d)
            batchedGemm(batch: bs, heads: hs, m: t, n: dh, k: t, scores, s.transposed, q, l, &back, l)
            results.append(scores.map(\.bitPattern) + back.map(\.bitPattern))
        }
        XCTAssertEqual(results[0], results[1])
    }
}
