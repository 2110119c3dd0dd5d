import XCTest
import Seq2SeqKit

/// Every backward kernel against finite differences, plus forward values checked by hand.
final class KernelTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    func testLinearGradients() throws {
        var rng = RNG(seed: 1)
        let n = 5, i = 4, o = 3
        let x = randomBuffer(n * i, &rng), w = randomBuffer(o * i, &rng), b = randomBuffer(o, &rng)
        let r = randomBuffer(n * o, &rng), y = FloatBuffer(count: n * o)
        func loss() -> Double {
            linearForward(y.pointer, x.pointer, w.pointer, b.pointer, rows: n, inFeatures: i, outFeatures: o)
            return dot(y, r)
        }
        _ = loss()
        // y[0, 0] = x[0, :] · w[0, :] + b[0]
        var expect = b[0]
        for k in 0..<i { expect += x[k] * w[k] }
        XCTAssertEqual(y[0], expect, accuracy: 1e-5)
        let dx = FloatBuffer(count: n * i), dw = FloatBuffer(count: o * i), db = FloatBuffer(count: o)
        try linearBackward(dx: dx.pointer, dw: dw.pointer, db: db.pointer, r.pointer, x.pointer, w.pointer,
                           rows: n, inFeatures: i, outFeatures: o)
        assertGradient("linear dx", input: x, analytic: dx, loss: loss)
        assertGradient("linear dW", input: w, analytic: dw, loss: loss)
        assertGradient("linear db", input: b, analytic: db, loss: loss)
        // Without accumulateDx the input gradient is overwritten: the same values over garbage.
        let dx2 = randomBuffer(n * i, &rng)
        try linearBackward(dx: dx2.pointer, dw: dw.pointer, db: db.pointer, r.pointer, x.pointer, w.pointer,
                           rows: n, inFeatures: i, outFeatures: o, accumulateDx: false)
        XCTAssertEqual(dx2.array, dx.array)
    }

    /// Up to 32 rows, `linearForward` multiplies straight from W (FewRowsLinear.swift); it must
    /// agree with sgemm for every row count, odd column counts and input widths off the SIMD width,
    /// on one thread and split across two.
    /// At every kernel level this processor runs: the one-W-row kernel (to 32 rows; sgemm beyond)
    /// at the portable and AVX2 levels, the AVX-512 tiles (dot-product tiles to 27 rows, broadcast
    /// tiles from 28 to 161, every row count) at the AVX-512 level.
    func testFewRowsLinearEqualsGemm() throws {
        for level in KernelLevel.available {
            try KernelLevel.select(level)
            try checkFewRowsLinear(wide: level == .avx512)
        }
    }

    func checkFewRowsLinear(wide: Bool) throws {
        var rng = RNG(seed: 7)
        let (initialLevel, initialSelection) = (KernelLevel.active, MatmulSelection.current)
        defer { Threads.set(1); try? KernelLevel.select(initialLevel); MatmulSelection.current = initialSelection }
        for threads in [1, 2] {
            Threads.set(threads)
            MatmulSelection.current.fewRowsForEveryRowCount = wide
            let rowCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 17, 23, 31, 32, 33, 64, 160, 161]
            // (512, 4101): one row large enough for the one-row kernel to split across threads.
            for (i, o, counts) in [(256, 1001, rowCounts), (13, 7, rowCounts), (1024, 256, rowCounts), (8, 1, rowCounts),
                                   (40, 3000, rowCounts), (512, 4101, [1])] {
                let x = randomBuffer(161 * i, &rng), w = randomBuffer(o * i, &rng), b = randomBuffer(o, &rng)
                for n in counts {
                    let y = FloatBuffer(count: n * o), expected = FloatBuffer(count: n * o)
                    linearForward(y.pointer, x.pointer, w.pointer, b.pointer, rows: n, inFeatures: i, outFeatures: o)
                    for r in 0..<n { (expected.pointer + r * o).update(from: b.pointer, count: o) }
                    try gemm(transA: false, transB: true, m: n, n: o, k: i, x.pointer, lda: i, w.pointer, ldb: i,
                             beta: 1, expected.pointer, ldc: o)
                    // Summation order differs from sgemm's: error relative to Σ|x||w| (+|b|), a few ulps.
                    var worst: Float = 0
                    for r in 0..<n {
                        for j in 0..<o {
                            var scale = abs(b[j])
                            for k in 0..<i { scale += abs(x[r * i + k] * w[j * i + k]) }
                            worst = max(worst, abs(y[r * o + j] - expected[r * o + j]) / scale)
                        }
                    }
                    XCTAssertLessThan(worst, 1e-6, "rows \(n), in \(i), out \(o), threads \(threads), AVX-512 \(wide)")
                    let noBias = FloatBuffer(count: n * o)
                    noBias.pointer.update(repeating: .nan, count: n * o)  // must be overwritten, not accumulated into
                    linearForward(noBias.pointer, x.pointer, w.pointer, nil, rows: n, inFeatures: i, outFeatures: o)
                    for t in 0..<(n * o) where !(abs(noBias[t] - (y[t] - b[t % o])) <= 1e-5 * max(1, abs(y[t]))) {
                        XCTFail("no bias: rows \(n), in \(i), out \(o), element \(t)"); break
                    }
                }
            }
        }
    }

    func testEmbeddingGradientsAndSinusoid() {
        var rng = RNG(seed: 2)
        let v = 7, d = 6, bsz = 2, t = 3, maxPos = 5
        let table = randomBuffer(v * d, &rng), pos = randomBuffer(maxPos * d, &rng)
        let ids: [Int32] = [1, 4, 4, 0, 6, 1]  // a repeated id exercises the scatter-add
        let out = FloatBuffer(count: bsz * t * d), r = randomBuffer(bsz * t * d, &rng)
        let scale = Float(d).squareRoot()
        func loss() -> Double {
            embeddingForward(out.pointer, ids: ids, table: table.pointer, positions: pos.pointer,
                             scale: scale, batch: bsz, length: t, dModel: d)
            return dot(out, r)
        }
        _ = loss()
        XCTAssertEqual(out[d + 2], table[4 * d + 2] * scale + pos[d + 2], accuracy: 1e-6)
        let dT = FloatBuffer(count: v * d), dP = FloatBuffer(count: maxPos * d)
        embeddingBackward(dTable: dT.pointer, dPositions: dP.pointer, r.pointer, ids: ids, scale: scale,
                          batch: bsz, length: t, dModel: d)
        assertGradient("embedding table", input: table, analytic: dT, loss: loss)
        assertGradient("learned positions", input: pos, analytic: dP, loss: loss)

        // Word dropout's row factors: a dropped row (k = 0) is its position alone, a kept one scaled by k.
        let k: [Float] = [1.25, 0, 1.25, 1.25, 0, 1.25]
        func droppedLoss() -> Double {
            k.withUnsafeBufferPointer {
                embeddingForward(out.pointer, ids: ids, table: table.pointer, positions: pos.pointer, scale: scale,
                                 batch: bsz, length: t, dModel: d, rowScale: $0.baseAddress!)
            }
            return dot(out, r)
        }
        _ = droppedLoss()
        XCTAssertEqual(out[d + 2], pos[d + 2])
        XCTAssertEqual(out[2 * d + 2], table[4 * d + 2] * scale * 1.25 + pos[2 * d + 2], accuracy: 1e-5)
        dT.pointer.update(repeating: 0, count: v * d); dP.pointer.update(repeating: 0, count: maxPos * d)
        k.withUnsafeBufferPointer {
            embeddingBackward(dTable: dT.pointer, dPositions: dP.pointer, r.pointer, ids: ids, scale: scale,
                              batch: bsz, length: t, dModel: d, rowScale: $0.baseAddress!)
        }
        assertGradient("embedding table under word dropout", input: table, analytic: dT, loss: droppedLoss)
        assertGradient("learned positions under word dropout", input: pos, analytic: dP, loss: droppedLoss)
        for j in 0..<d { XCTAssertEqual(dT[6 * d + j], 0, "token 6 is only in a dropped row") }

        // Half sine, half cosine: P[pos, i] = sin(pos / 10000^(2i/d)), P[pos, d/2 + i] = cos(...).
        let p = FloatBuffer(count: 4 * 8)
        sinusoidalPositions(p.pointer, positions: 4, dModel: 8)
        XCTAssertEqual(p[3 * 8 + 1], Float(sin(3.0 / pow(10000.0, 2.0 / 8.0))), accuracy: 1e-6)
        XCTAssertEqual(p[3 * 8 + 4 + 1], Float(cos(3.0 / pow(10000.0, 2.0 / 8.0))), accuracy: 1e-6)
        XCTAssertEqual(p[0 * 8 + 4], 1)
    }

    func testLayerNormGradients() {
        var rng = RNG(seed: 3)
        let n = 4, d = 37  // not a multiple of the SIMD width
        let x = randomBuffer(n * d, &rng, scale: 2), g = randomBuffer(d, &rng), b = randomBuffer(d, &rng)
        let y = FloatBuffer(count: n * d), mean = FloatBuffer(count: n), rstd = FloatBuffer(count: n)
        let r = randomBuffer(n * d, &rng)
        func loss() -> Double {
            layerNormForward(y.pointer, mean: mean.pointer, rstd: rstd.pointer, x.pointer, gamma: g.pointer,
                             beta: b.pointer, rows: n, dim: d, eps: 1e-5)
            return dot(y, r)
        }
        _ = loss()
        // Normalized rows have mean beta-weighted... check one value by hand.
        var m = 0.0, v = 0.0
        for j in 0..<d { m += Double(x[j]) }
        m /= Double(d)
        for j in 0..<d { v += (Double(x[j]) - m) * (Double(x[j]) - m) }
        v /= Double(d)
        XCTAssertEqual(Double(y[5]), (Double(x[5]) - m) / (v + 1e-5).squareRoot() * Double(g[5]) + Double(b[5]), accuracy: 1e-5)
        let dx = FloatBuffer(count: n * d), dg = FloatBuffer(count: d), db = FloatBuffer(count: d)
        layerNormBackward(dx: dx.pointer, dGamma: dg.pointer, dBeta: db.pointer, r.pointer, x.pointer,
                          mean: mean.pointer, rstd: rstd.pointer, gamma: g.pointer, rows: n, dim: d)
        assertGradient("layernorm dx", input: x, analytic: dx, h: 5e-3, tolerance: 5e-3, loss: loss)
        assertGradient("layernorm dgamma", input: g, analytic: dg, loss: loss)
        assertGradient("layernorm dbeta", input: b, analytic: db, loss: loss)
    }

    func testActivationGradients() {
        for act in Activation.allCases {
            var rng = RNG(seed: 4)
            let n = 41
            let x = randomBuffer(n, &rng, scale: 3), y = FloatBuffer(count: n), r = randomBuffer(n, &rng)
            // keep ReLU inputs away from the kink, where finite differences are meaningless
            if act == .relu { for i in 0..<n where abs(x[i]) < 0.05 { x[i] = 0.5 } }
            func loss() -> Double {
                activationForward(y.pointer, x.pointer, count: n, act)
                return dot(y, r)
            }
            _ = loss()
            let dx = randomBuffer(n, &rng)  // overwritten, not accumulated into
            activationBackward(dx: dx.pointer, r.pointer, x.pointer, count: n, act)
            assertGradient("\(act)", input: x, analytic: dx, h: 1e-3, tolerance: 3e-3, loss: loss)
        }
        // Reference values: PyTorch F.gelu (erf form) and F.silu.
        let x = FloatBuffer([-2, -0.5, 0, 1, 3]), y = FloatBuffer(count: 5)
        activationForward(y.pointer, x.pointer, count: 5, .gelu)
        let gelu: [Float] = [-0.04550026, -0.15426877, 0, 0.8413447, 2.9959502]
        for i in 0..<5 { XCTAssertEqual(y[i], gelu[i], accuracy: 2e-6) }
        activationForward(y.pointer, x.pointer, count: 5, .silu)
        let silu: [Float] = [-0.23840584, -0.18877033, 0, 0.7310586, 2.8577223]
        for i in 0..<5 { XCTAssertEqual(y[i], silu[i], accuracy: 2e-6) }
    }

    func testSoftmaxGradientsAndMaskedRows() {
        var rng = RNG(seed: 5)
        let n = 3, c = 21
        let x = randomBuffer(n * c, &rng, scale: 3), y = FloatBuffer(count: n * c), r = randomBuffer(n * c, &rng)
        func loss() -> Double {
            softmaxForward(y.pointer, x.pointer, rows: n, cols: c)
            return dot(y, r)
        }
        _ = loss()
        var s = 0.0
        for j in 0..<c { s += Double(y[c + j]) }
        XCTAssertEqual(s, 1, accuracy: 1e-5)
        let dx = FloatBuffer(count: n * c)
        softmaxBackward(dx: dx.pointer, r.pointer, y.pointer, rows: n, cols: c)
        assertGradient("softmax", input: x, analytic: dx, h: 1e-3, tolerance: 3e-3, loss: loss)
        // A row of -inf (fully masked) gives zeros; partly masked entries get exactly 0.
        let m = FloatBuffer([-.infinity, -.infinity, -.infinity, -.infinity, 2, 2])
        softmaxForward(m.pointer, m.pointer, rows: 2, cols: 3)
        XCTAssertEqual(m.array, [0, 0, 0, 0, 0.5, 0.5])
    }

    func testExpMatchesScalarExp() {
        let n = 1000
        let x = FloatBuffer(count: n), y = FloatBuffer(count: n)
        for i in 0..<n { x[i] = -100 + 190 * Float(i) / Float(n) }
        softmaxForward(y.pointer, x.pointer, rows: 1, cols: n)
        // softmax with the max subtracted: compare with Double
        var z = 0.0
        for i in 0..<n { z += exp(Double(x[i]) - Double(x[n - 1])) }
        for i in stride(from: 0, to: n, by: 37) {
            let expect = exp(Double(x[i]) - Double(x[n - 1])) / z
            XCTAssertEqual(Double(y[i]), expect, accuracy: max(expect * 1e-5, 1e-30))
        }
    }

    func testCrossEntropyMatchesFormulaAndGradient() {
        var rng = RNG(seed: 6)
        let n = 4, v = 11, e: Float = 0.1
        let x = randomBuffer(n * v, &rng, scale: 3)
        let targets: [Int32] = [3, 0, 10, 5]  // row 1 is padding
        let losses = FloatBuffer(count: n)
        func loss() -> Double {
            let (sum, count) = crossEntropyForwardBackward(
                dLogits: nil, rowLoss: losses.pointer, x.pointer, targets: targets, rows: n, vocab: v,
                smoothing: e, padId: 0, gradScale: 1)
            return sum / Double(count)
        }
        // Spec: loss_t = (1-e)(-log p[y]) - e mean_c log p[c], averaged over non-pad rows.
        var expect = 0.0
        for r in [0, 2, 3] {
            var z = 0.0
            for j in 0..<v { z += exp(Double(x[r * v + j])) }
            var meanLog = 0.0
            for j in 0..<v { meanLog += (Double(x[r * v + j]) - log(z)) / Double(v) }
            let nll = log(z) - Double(x[r * v + Int(targets[r])])
            expect += (1 - Double(e)) * nll - Double(e) * meanLog
        }
        XCTAssertEqual(loss(), expect / 3, accuracy: 1e-5)
        let g = FloatBuffer(count: n * v), copy = FloatBuffer(x.array)
        crossEntropyForwardBackward(dLogits: g.pointer, rowLoss: losses.pointer, x.pointer, targets: targets,
                                    rows: n, vocab: v, smoothing: e, padId: 0, gradScale: 1.0 / 3)
        assertGradient("cross-entropy", input: x, analytic: g, h: 1e-3, tolerance: 3e-3, loss: loss)
        for j in 0..<v { XCTAssertEqual(g[v + j], 0) }
        // In place (dLogits aliasing logits) gives the same gradient.
        crossEntropyForwardBackward(dLogits: copy.pointer, rowLoss: losses.pointer, copy.pointer, targets: targets,
                                    rows: n, vocab: v, smoothing: e, padId: 0, gradScale: 1.0 / 3)
        for i in 0..<(n * v) { XCTAssertEqual(copy[i], g[i], accuracy: 1e-7) }
    }

    func testDropoutIsSeededAndScaled() {
        let n = 10_000
        let x = FloatBuffer([Float](repeating: 1, count: n)), y = FloatBuffer(count: n), m = FloatBuffer(count: n)
        var a = RNG(seed: 7), b = RNG(seed: 7)
        dropoutForward(y.pointer, mask: m.pointer, x.pointer, count: n, p: 0.25, rng: &a)
        let first = y.array
        dropoutForward(y.pointer, mask: m.pointer, x.pointer, count: n, p: 0.25, rng: &b)
        XCTAssertEqual(first, y.array, "same seed, same mask")
        let zeros = first.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(n), 0.25, accuracy: 0.02)
        XCTAssertTrue(first.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3.0) < 1e-6 })
        let dy = FloatBuffer([Float](repeating: 2, count: n)), dx = FloatBuffer(count: n)
        dropoutBackward(dx: dx.pointer, dy.pointer, mask: m.pointer, count: n)
        for i in 0..<n { XCTAssertEqual(dx[i], 2 * m[i]) }
    }

    /// The dropout mask is drawn from a counter-based stream: split over two threads at an odd
    /// element (inside a 16-lane block) it equals the one-thread mask; neighbouring elements are
    /// independent (both dropped with probability p²), and the next call gets a fresh mask.
    func testDropoutMaskIsTheSameOnAnyThreadCountAndUncorrelated() {
        let n = 1_000_006  // two threads split it at element 500,003
        let p: Float = 0.3
        var masks: [[Float]] = []
        for threads in [1, 2] {
            Threads.set(threads)
            var rng = RNG(seed: 5)
            let m = FloatBuffer(count: n)
            dropoutMask(m.pointer, count: n, p: p, rng: &rng)
            masks.append(m.array)
            dropoutMask(m.pointer, count: n, p: p, rng: &rng)
            XCTAssertNotEqual(m.array, masks.last!, "a second call draws a new mask")
        }
        Threads.set(1)
        XCTAssertEqual(masks[0], masks[1])
        let dropped = masks[0].map { $0 == 0 }
        var even = 0, odd = 0, both = 0
        for k in 0..<(n / 2) {
            if dropped[2 * k] { even += 1 }
            if dropped[2 * k + 1] { odd += 1 }
            if dropped[2 * k] && dropped[2 * k + 1] { both += 1 }
        }
        let pairs = Double(n / 2)
        XCTAssertEqual(Double(even) / pairs, 0.3, accuracy: 0.003)
        XCTAssertEqual(Double(odd) / pairs, 0.3, accuracy: 0.003)
        XCTAssertEqual(Double(both) / pairs, 0.09, accuracy: 0.003)
    }
}
