import XCTest
@_spi(Testing) import Seq2SeqKit

/// Every instruction-set kernel (CKernels) at every level this processor runs, against a
/// double-precision or plain-loop reference; and the AVX2 and AVX-512 levels against each other,
/// bit for bit (the same 16-lane operations in the same order, fused the same way).
final class KernelLevelTests: XCTestCase {
    private var initial = KernelLevel.active
    override func setUp() { initial = KernelLevel.active; Threads.set(1) }
    override func tearDown() { try? KernelLevel.select(initial); MatmulSelection.current = .automatic; Threads.set(1) }

    /// Runs `body` at each available level and returns its outputs, keyed by level.
    private func atEveryLevel(_ body: () -> [Float]) throws -> [KernelLevel: [Float]] {
        var out: [KernelLevel: [Float]] = [:]
        for level in KernelLevel.available {
            try KernelLevel.select(level)
            XCTAssertEqual(KernelLevel.active, level)
            out[level] = body()
        }
        return out
    }

    /// AVX2 and AVX-512 (where both run) agree to the bit.
    private func assertVectorLevelsAgree(_ outputs: [KernelLevel: [Float]], _ what: String, file: StaticString = #filePath,
                                         line: UInt = #line) {
        guard let a = outputs[.avx2], let b = outputs[.avx512] else { return }
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(what): AVX2 and AVX-512 differ", file: file, line: line)
    }

    private func assertClose(_ got: [Float], _ want: [Double], rel: Double, abs absTol: Double, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        var worst = 0.0, at = 0
        for (i, (g, w)) in zip(got, want).enumerated() {
            let e = Swift.abs(Double(g) - w) / (absTol + rel * Swift.abs(w))
            if !(e <= worst) { worst = e; at = i }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(what): element \(at) is \(got[at]), expected \(want[at])", file: file, line: line)
    }

    func testTheActiveLevelIsTheHighestSupportedUnlessForced() {
        XCTAssertTrue(KernelLevel.available.contains(.portable))
        if ProcessInfo.processInfo.environment["SEQ2SEQ_ISA"] == nil {
            XCTAssertEqual(initial, KernelLevel.supported)
        }
        if let above = KernelLevel(rawValue: KernelLevel.supported.rawValue + 1) {
            XCTAssertThrowsError(try KernelLevel.select(above))
        }
        XCTAssertTrue(KernelLevel.summary.hasPrefix("kernels \(KernelLevel.active)"))
    }

    func testSoftmaxExpAndLogSumExp() throws {
        var rng = RNG(seed: 11)
        let n = 7, c = 45  // a 16-lane body and a tail
        let x = randomBuffer(n * c, &rng, scale: 8)
        for j in 0..<5 { x[3 * c + j] = -.infinity }  // masked positions
        let masked = FloatBuffer(count: c)
        masked.pointer.update(repeating: -.infinity, count: c)
        let y = FloatBuffer(count: n * c), z = FloatBuffer(count: c)
        let outputs = try atEveryLevel {
            softmaxForward(y.pointer, x.pointer, rows: n, cols: c)
            softmaxForward(z.pointer, masked.pointer, rows: 1, cols: c)
            return y.array + z.array + (0..<n).map { logSumExp(x.pointer + $0 * c, c) }
        }
        var want: [Double] = []
        var lse: [Double] = []
        for r in 0..<n {
            let row = (0..<c).map { Double(x[r * c + $0]) }
            let m = row.max()!
            let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            want += row.map { Foundation.exp($0 - m) / s }
            lse.append(m + Foundation.log(s))
        }
        want += [Double](repeating: 0, count: c)
        for (level, out) in outputs {
            assertClose(Array(out.prefix(n * c + c)), want, rel: 2e-6, abs: 1e-12, "softmax at \(level)")
            assertClose(Array(out.suffix(n)), lse, rel: 1e-6, abs: 1e-6, "logSumExp at \(level)")
        }
        assertVectorLevelsAgree(outputs, "softmax")
    }

    func testActivationsForwardAndBackward() throws {
        var rng = RNG(seed: 12)
        let n = 1000 + 7
        let x = randomBuffer(n, &rng, scale: 4), dy = randomBuffer(n, &rng)
        let y = FloatBuffer(count: n), dx = FloatBuffer(count: n)
        for act in Activation.allCases {
            let outputs = try atEveryLevel {
                activationForward(y.pointer, x.pointer, count: n, act)
                activationBackward(dx: dx.pointer, dy.pointer, x.pointer, count: n, act)
                return y.array + dx.array
            }
            var want: [Double] = [], grad: [Double] = []
            for i in 0..<n {
                let v = Double(x[i]), g = Double(dy[i])
                switch act {
                case .relu: want.append(max(0, v)); grad.append(v > 0 ? g : 0)
                case .gelu:
                    let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                    want.append(v * cdf)
                    grad.append(g * (cdf + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()))
                case .silu:
                    let s = 1 / (1 + Foundation.exp(-v))
                    want.append(v * s); grad.append(g * s * (1 + v * (1 - s)))
                case .geluTanh:  // GPT-2's gelu_new as written: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
                    let c = (2 / Double.pi).squareRoot(), t = Foundation.tanh(c * (v + 0.044715 * v * v * v))
                    want.append(0.5 * v * (1 + t))
                    grad.append(g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)))
                }
            }
            for (level, out) in outputs {
                // GELU's erf is Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, scaled by |x|.
                assertClose(Array(out.prefix(n)), want, rel: 2e-6, abs: 1e-6, "\(act) at \(level)")
                assertClose(Array(out.suffix(n)), grad, rel: 2e-6, abs: 2e-6, "\(act)' at \(level)")
            }
            assertVectorLevelsAgree(outputs, "\(act)")
            // The bf16 outputs of a mixed-precision pass (written in the same pass) are the float32
            // results rounded as convertToBF16 rounds them, bit for bit, at every level; the float32
            // gradient beside them is unchanged. A NaN input stays NaN (quiet) in bf16.
            x[3] = .nan
            for level in KernelLevel.available {
                try KernelLevel.select(level)
                let y16 = BF16Buffer(count: n), dx16 = BF16Buffer(count: n), want16 = BF16Buffer(count: n)
                let dxAlone = FloatBuffer(count: n)
                activationForward(y.pointer, x.pointer, count: n, act)
                convertToBF16(want16.pointer, y.pointer, count: n)
                activationForwardBF16(y16.pointer, x.pointer, count: n, act)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: y16.pointer, count: n)),
                               Array(UnsafeBufferPointer(start: want16.pointer, count: n)), "bf16(\(act)) at \(level)")
                XCTAssertEqual(y16.pointer[3] & 0x7FC0, 0x7FC0, "a NaN stays a quiet NaN")
                activationBackward(dx: dxAlone.pointer, dy.pointer, x.pointer, count: n, act)
                activationBackward(dx: dx.pointer, bf16: dx16.pointer, dy.pointer, x.pointer, count: n, act)
                XCTAssertEqual(dx.array.map(\.bitPattern), dxAlone.array.map(\.bitPattern), "\(act)' at \(level)")
                convertToBF16(want16.pointer, dx.pointer, count: n)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: dx16.pointer, count: n)),
                               Array(UnsafeBufferPointer(start: want16.pointer, count: n)), "bf16(\(act)') at \(level)")
            }
            x[3] = 0.5
        }
    }

    func testLayerNormForwardAndBackward() throws {
        var rng = RNG(seed: 13)
        let n = 5, d = 83
        let x = randomBuffer(n * d, &rng, scale: 3), g = randomBuffer(d, &rng), b = randomBuffer(d, &rng)
        let dy = randomBuffer(n * d, &rng)
        let y = FloatBuffer(count: n * d), mean = FloatBuffer(count: n), rstd = FloatBuffer(count: n)
        let dx = FloatBuffer(count: n * d), dg = FloatBuffer(count: d), db = FloatBuffer(count: d)
        let outputs = try atEveryLevel {
            layerNormForward(y.pointer, mean: mean.pointer, rstd: rstd.pointer, x.pointer, gamma: g.pointer,
                             beta: b.pointer, rows: n, dim: d, eps: 1e-5)
            // With a bf16 output: exactly the rounding of the float32 output, which is not written.
            let unwritten = FloatBuffer(count: n * d), y16 = BF16Buffer(count: n * d)
            unwritten.pointer.update(repeating: .nan, count: n * d)
            layerNormForward(unwritten.pointer, bf16: y16.pointer, mean: mean.pointer, rstd: rstd.pointer, x.pointer,
                             gamma: g.pointer, beta: b.pointer, rows: n, dim: d, eps: 1e-5)
            XCTAssertEqual((0..<(n * d)).map { y16.pointer[$0] }, y.array.map(BFloat16.from), "LayerNorm's bf16 output")
            XCTAssertTrue(unwritten.array.allSatisfy(\.isNaN), "LayerNorm wrote float32 beside its bf16 output")
            for buf in [dx, dg, db] { buf.pointer.update(repeating: 0, count: buf.count) }
            layerNormBackward(dx: dx.pointer, dGamma: dg.pointer, dBeta: db.pointer, dy.pointer, x.pointer,
                              mean: mean.pointer, rstd: rstd.pointer, gamma: g.pointer, rows: n, dim: d)
            return y.array + dx.array
        }
        var want: [Double] = [], grad: [Double] = []
        for r in 0..<n {
            let row = (0..<d).map { Double(x[r * d + $0]) }
            let m = row.reduce(0, +) / Double(d)
            let v = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(d)
            let rs = 1 / (v + 1e-5).squareRoot()
            let xhat = row.map { ($0 - m) * rs }
            want += (0..<d).map { xhat[$0] * Double(g[$0]) + Double(b[$0]) }
            let dxhat = (0..<d).map { Double(dy[r * d + $0]) * Double(g[$0]) }
            let mg = dxhat.reduce(0, +) / Double(d), mgx = zip(dxhat, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(d)
            grad += (0..<d).map { rs * (dxhat[$0] - mg - xhat[$0] * mgx) }
        }
        for (level, out) in outputs {
            assertClose(Array(out.prefix(n * d)), want, rel: 1e-5, abs: 1e-5, "LayerNorm at \(level)")
            assertClose(Array(out.suffix(n * d)), grad, rel: 1e-4, abs: 1e-5, "LayerNorm dx at \(level)")
        }
        assertVectorLevelsAgree(outputs, "LayerNorm")
    }

    /// Encoder self-attention a sequence at a time (s2s_sequence_attention): against the training
    /// pass's attention (`attentionForward`, checked against Double in the test above) at every level, with padding at the end
    /// and a hole in the mask, head widths on and off 16 and row counts off 4; padding rows and the
    /// probabilities beyond each row's keys zero; each sequence's values the same bits alone as in
    /// its batch; and the AVX2 and AVX-512 levels the same bits.
    func testSequenceAttentionEqualsTheTrainingPassAndIgnoresTheBatch() throws {
        var rng = RNG(seed: 23)
        for (heads, dh, lengths) in [(4, 48, [7, 5, 2]), (4, 40, [19, 13, 1]), (3, 16, [4, 4, 3]), (2, 7, [6, 3, 5])] {
            let t = lengths.max()!, batch = lengths.count, d = heads * dh
            let q = randomBuffer(batch * t * d, &rng), k = randomBuffer(batch * t * d, &rng), v = randomBuffer(batch * t * d, &rng)
            var valid = [UInt8](repeating: 0, count: batch * t)
            for (b, n) in lengths.enumerated() { for i in 0..<n { valid[b * t + i] = 1 } }
            if lengths[0] > 3 { valid[2] = 0 }  // a hole: key 2 of sequence 0 masked, its row zero
            let shape = AttentionShape(batch: batch, heads: heads, queries: t, keys: t, dModel: d)
            let ctx = FloatBuffer(count: batch * t * d), probs = FloatBuffer(count: shape.probCount)
            let outputs = try atEveryLevel {
                ctx.pointer.update(repeating: .nan, count: ctx.count); probs.pointer.update(repeating: .nan, count: probs.count)
                valid.withUnsafeBufferPointer {
                    invariantAttentionForward(ctx: ctx.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer,
                                              keyValid: $0.baseAddress!, shape: shape)
                }
                return ctx.array + probs.array
            }
            let refCtx = FloatBuffer(count: batch * t * d), refProbs = FloatBuffer(count: shape.probCount)
            var r = RNG(seed: 0)
            valid.withUnsafeBufferPointer {
                attentionForward(ctx: refCtx.pointer, probs: refProbs.pointer, dropped: nil, dropMask: nil, q: q.pointer,
                                 k: k.pointer, v: v.pointer, keyValid: $0.baseAddress, causal: false, shape: shape, rng: &r)
            }
            var wantCtx = refCtx.array, wantProbs = refProbs.array
            for b in 0..<batch {
                for i in 0..<t where valid[b * t + i] == 0 {
                    for c in 0..<d { wantCtx[(b * t + i) * d + c] = 0 }
                    for h in 0..<heads { for j in 0..<t { wantProbs[((b * heads + h) * t + i) * t + j] = 0 } }
                }
            }
            for (level, o) in outputs {
                assertClose(Array(o.prefix(batch * t * d)), wantCtx.map(Double.init), rel: 1e-4, abs: 1e-5, "context \(heads)×\(dh) at \(level)")
                assertClose(Array(o.suffix(shape.probCount)), wantProbs.map(Double.init), rel: 1e-4, abs: 1e-6, "probabilities \(heads)×\(dh) at \(level)")
                XCTAssertEqual(o.suffix(shape.probCount).filter { $0 == 0 }.count, wantProbs.filter { $0 == 0 }.count,
                               "exact zeros beyond each row's keys, \(heads)×\(dh) at \(level)")
            }
            assertVectorLevelsAgree(outputs, "sequence attention \(heads)×\(dh)")
            // Sequence 1 alone, in a batch of its own length: the same bits as in the batch (both at
            // the level active now).
            valid.withUnsafeBufferPointer {
                invariantAttentionForward(ctx: ctx.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer,
                                          keyValid: $0.baseAddress!, shape: shape)
            }
            let n = lengths[1], alone = AttentionShape(batch: 1, heads: heads, queries: n, keys: n, dModel: d)
            let c1 = FloatBuffer(count: n * d), p1 = FloatBuffer(count: alone.probCount)
            let q1 = FloatBuffer(count: n * d), k1 = FloatBuffer(count: n * d), v1 = FloatBuffer(count: n * d)
            for i in 0..<(n * d) { q1[i] = q[t * d + i]; k1[i] = k[t * d + i]; v1[i] = v[t * d + i] }
            [UInt8](repeating: 1, count: n).withUnsafeBufferPointer {
                invariantAttentionForward(ctx: c1.pointer, probs: p1.pointer, q: q1.pointer, k: k1.pointer, v: v1.pointer,
                                          keyValid: $0.baseAddress!, shape: alone)
            }
            XCTAssertEqual(c1.array.map(\.bitPattern), ctx.array[(t * d)..<(t * d + n * d)].map(\.bitPattern), "\(heads)×\(dh): batch-invariant context")
            for h in 0..<heads {
                for i in 0..<n {
                    let inBatch = ((1 * heads + h) * t + i) * t
                    XCTAssertEqual((0..<n).map { p1[(h * n + i) * n + $0].bitPattern }, (0..<n).map { probs[inBatch + $0].bitPattern })
                }
            }
        }
    }

    /// The attention of a full pass (s2s_attention_forward / backward) at every level against a
    /// double-precision reference: causal self-attention and cross-attention, padded keys (a
    /// sequence's last and one whole row of keys), attention dropout, head widths on and off 16,
    /// query and key counts off 4 and 16; and the AVX2 and AVX-512 levels the same bits.
    func testFullPassAttentionForwardAndBackward() throws {
        var rng = RNG(seed: 29)
        for (heads, dh, tq, tk, causal, p) in [(4, 64, 13, 13, true, Float(0)), (2, 40, 19, 19, true, 0.3),
                                                 (3, 16, 5, 23, false, 0.2), (2, 7, 6, 3, false, 0)] {
            let batch = 3, d = heads * dh
            let shape = AttentionShape(batch: batch, heads: heads, queries: tq, keys: tk, dModel: d)
            let q = randomBuffer(batch * tq * d, &rng), k = randomBuffer(batch * tk * d, &rng, scale: 2)
            let v = randomBuffer(batch * tk * d, &rng), dctx = randomBuffer(batch * tq * d, &rng)
            var valid = [UInt8](repeating: 1, count: batch * tk)
            valid[tk - 1] = 0                                    // sequence 0: its last key is padding
            for j in 0..<tk { valid[2 * tk + j] = j < 2 ? 1 : 0 }  // sequence 2: two keys
            let ctx = FloatBuffer(count: batch * tq * d), probs = FloatBuffer(count: shape.probCount)
            let dropped = FloatBuffer(count: shape.probCount), mask = FloatBuffer(count: shape.probCount)
            let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
            let outputs = try atEveryLevel {
                for b in [ctx, probs, dq, dk, dv] { b.pointer.update(repeating: .nan, count: b.count) }
                var r = RNG(seed: 5)  // the same dropout mask at every level
                valid.withUnsafeBufferPointer {
                    attentionForward(ctx: ctx.pointer, probs: probs.pointer, dropped: dropped.pointer, dropMask: mask.pointer,
                                     q: q.pointer, k: k.pointer, v: v.pointer, keyValid: $0.baseAddress, causal: causal,
                                     shape: shape, dropout: p, rng: &r)
                }
                attentionBackward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dctx: dctx.pointer, q: q.pointer,
                                  k: k.pointer, v: v.pointer, probs: probs.pointer,
                                  dropped: p > 0 ? UnsafePointer(dropped.pointer) : nil,
                                  dropMask: p > 0 ? UnsafePointer(mask.pointer) : nil, causal: causal, shape: shape)
                return ctx.array + probs.array + dq.array + dk.array + dv.array
            }
            // The reference, in Double, with the mask the forward pass drew.
            let scale = 1 / Double(dh).squareRoot()
            var wantCtx = [Double](repeating: 0, count: ctx.count), wantProbs = [Double](repeating: 0, count: probs.count)
            var wantDq = [Double](repeating: 0, count: q.count), wantDk = [Double](repeating: 0, count: k.count)
            var wantDv = [Double](repeating: 0, count: v.count)
            for b in 0..<batch {
                for h in 0..<heads {
                    let o = h * dh
                    func qi(_ i: Int, _ c: Int) -> Double { Double(q[(b * tq + i) * d + o + c]) }
                    func kj(_ j: Int, _ c: Int) -> Double { Double(k[(b * tk + j) * d + o + c]) }
                    func vj(_ j: Int, _ c: Int) -> Double { Double(v[(b * tk + j) * d + o + c]) }
                    func gi(_ i: Int, _ c: Int) -> Double { Double(dctx[(b * tq + i) * d + o + c]) }
                    for i in 0..<tq {
                        let row = ((b * heads + h) * tq + i) * tk
                        let seen = (0..<tk).filter { valid[b * tk + $0] != 0 && !(causal && $0 > i) }
                        if seen.isEmpty { continue }
                        var s = [Double](repeating: 0, count: tk)
                        for j in seen { s[j] = (0..<dh).reduce(0) { $0 + qi(i, $1) * kj(j, $1) } * scale }
                        let top = seen.map { s[$0] }.max()!, z = seen.reduce(0) { $0 + exp(s[$1] - top) }
                        var pr = [Double](repeating: 0, count: tk), dp = [Double](repeating: 0, count: tk)
                        for j in seen { pr[j] = exp(s[j] - top) / z; wantProbs[row + j] = pr[j] }
                        let m = (0..<tk).map { p > 0 ? Double(mask[row + $0]) : 1 }
                        for j in seen {
                            for c in 0..<dh {
                                wantCtx[(b * tq + i) * d + o + c] += pr[j] * m[j] * vj(j, c)
                                wantDv[(b * tk + j) * d + o + c] += pr[j] * m[j] * gi(i, c)
                            }
                            dp[j] = (0..<dh).reduce(0) { $0 + gi(i, $1) * vj(j, $1) } * m[j]
                        }
                        let dot = seen.reduce(0) { $0 + dp[$1] * pr[$1] }
                        for j in seen {
                            let ds = pr[j] * (dp[j] - dot) * scale
                            for c in 0..<dh {
                                wantDq[(b * tq + i) * d + o + c] += ds * kj(j, c)
                                wantDk[(b * tk + j) * d + o + c] += ds * qi(i, c)
                            }
                        }
                    }
                }
            }
            let tag = "\(heads)×\(dh), \(tq)×\(tk), causal \(causal), dropout \(p)"
            for (level, o) in outputs {
                var at = 0
                func part(_ n: Int) -> [Float] { defer { at += n }; return Array(o[at..<(at + n)]) }
                assertClose(part(ctx.count), wantCtx, rel: 1e-4, abs: 1e-5, "context, \(tag) at \(level)")
                let got = part(probs.count)
                assertClose(got, wantProbs, rel: 1e-4, abs: 1e-6, "probabilities, \(tag) at \(level)")
                XCTAssertEqual(zip(got, wantProbs).filter { $0.1 == 0 && $0.0 != 0 }.count, 0, "masked probabilities exactly 0, \(tag)")
                assertClose(part(q.count), wantDq, rel: 1e-4, abs: 1e-5, "dq, \(tag) at \(level)")
                assertClose(part(k.count), wantDk, rel: 1e-4, abs: 1e-5, "dk, \(tag) at \(level)")
                assertClose(part(v.count), wantDv, rel: 1e-4, abs: 1e-5, "dv, \(tag) at \(level)")
            }
            assertVectorLevelsAgree(outputs, "full-pass attention \(tag)")
        }
    }

    func testCachedAttentionProducts() throws {
        var rng = RNG(seed: 14)
        for (heads, dh) in [(4, 64), (5, 24), (2, 7), (4, 40), (3, 15)] {  // four heads at a time, a fifth, widths off 16
            let count = 9, d = heads * dh
            let q = randomBuffer(d, &rng), keys = randomBuffer(count * d, &rng), values = randomBuffer(count * d, &rng)
            let p = FloatBuffer(count: heads * count), out = FloatBuffer(count: d)
            let outputs = try atEveryLevel {
                headScores(p.pointer, q.pointer, keys: keys.pointer, count: count, heads: heads, headDim: dh, scale: 0.125)
                headWeightedSum(out.pointer, p.pointer, values: values.pointer, count: count, heads: heads, headDim: dh)
                return p.array + out.array
            }
            var scores: [Double] = [], sums = [Double](repeating: 0, count: d)
            for h in 0..<heads {
                for j in 0..<count {
                    var s = 0.0
                    for t in 0..<dh { s += Double(q[h * dh + t]) * Double(keys[j * d + h * dh + t]) }
                    scores.append(s * 0.125)
                }
            }
            for h in 0..<heads {
                for j in 0..<count {
                    for t in 0..<dh { sums[h * dh + t] += Double(p[h * count + j]) * Double(values[j * d + h * dh + t]) }
                }
            }
            for (level, o) in outputs {
                assertClose(Array(o.prefix(heads * count)), scores, rel: 1e-5, abs: 1e-5, "head scores at \(level)")
                assertClose(Array(o.suffix(d)), sums, rel: 1e-5, abs: 1e-5, "weighted sum at \(level)")
            }
            assertVectorLevelsAgree(outputs, "cached attention \(heads)×\(dh)")
        }
    }

    /// Adam, bf16 rounding, dropout masks and bias gradients use no fused operation: the same bits at
    /// every level, and equal to their scalar definitions.
    func testExactKernelsGiveTheSameBitsAtEveryLevel() throws {
        var rng = RNG(seed: 15)
        let n = 16 * 40 + 9
        let src = randomBuffer(n, &rng, scale: 100)
        src[3] = .nan; src[4] = .infinity; src[5] = -.infinity; src[6] = Float(bitPattern: 1)  // subnormal
        let outputs = try atEveryLevel {
            let b = BF16Buffer(count: n)
            convertToBF16(b.pointer, src.pointer, count: n)
            return (0..<n).map { Float(b.pointer[$0]) }
        }
        let want = (0..<n).map { Float(BFloat16.from(src[$0])) }
        for (level, out) in outputs { XCTAssertEqual(out, want, "bf16 at \(level)") }

        // A tiny model's layout: matrices (with weight decay) and vectors (without).
        var config = ModelConfig.preset("small")!
        config.dModel = 16; config.nHeads = 2; config.dFF = 40; config.encoderLayers = 1; config.decoderLayers = 1
        config.srcVocabSize = 37; config.tgtVocabSize = 37; config.maxPositions = 16
        let layout = ParameterLayout(config), count = layout.totalCount
        let start = randomBuffer(count, &rng), grads = randomBuffer(count, &rng)
        let adam = try atEveryLevel {
            let p = FloatBuffer(count: count), g = FloatBuffer(count: count)
            p.pointer.update(from: start.pointer, count: count)
            g.pointer.update(from: grads.pointer, count: count)
            let opt = AdamOptimizer(layout: layout, settings: .init(weightDecay: 0.1))
            let copy = BF16Buffer(count: count)
            for _ in 0..<3 { opt.update(p, g, lr: 1e-3, bf16Copy: copy.pointer) }
            XCTAssertEqual((0..<count).map { copy.pointer[$0] }, p.array.map(BFloat16.from), "Adam's bf16 copy")
            return p.array + opt.m.array + opt.v.array
        }
        let first = adam[.portable]!
        for (level, out) in adam { XCTAssertEqual(out.map(\.bitPattern), first.map(\.bitPattern), "Adam at \(level)") }

        let masks = try atEveryLevel {
            var r = RNG(seed: 3)
            let y = FloatBuffer(count: n), mask = FloatBuffer(count: n)
            dropoutForward(y.pointer, mask: mask.pointer, src.pointer, count: n, p: 0.3, rng: &r)
            return mask.array + y.array
        }
        for (level, out) in masks {
            XCTAssertEqual(out.map(\.bitPattern), masks[.portable]!.map(\.bitPattern), "dropout at \(level)")
        }

        let rows = 13, cols = 64 * 3 + 5
        let dy = randomBuffer(rows * cols, &rng)
        let sums = try atEveryLevel {
            let db = FloatBuffer(count: cols)
            addColumnSums(db.pointer, dy.pointer, rows: rows, cols: cols)
            return db.array
        }
        let reference: [Float] = (0..<cols).map { j in (0..<rows).reduce(Float(0)) { $0 + dy[$1 * cols + j] } }
        for (level, out) in sums { XCTAssertEqual(out, reference, "column sums at \(level)") }
    }

    /// The int8 tiles (AVX2 and up) give exactly the integers of the plain loops, then the same
    /// dequantized floats; the plain loops' dequantization gives the same bits at every level.
    func testInt8TilesEqualThePortableProductAtEveryLevel() throws {
        var rng = RNG(seed: 16)
        for (rows, i, o) in [(1, 256, 77), (1, 96, 19), (2, 160, 33), (3, 100, 64), (4, 64, 9), (7, 512, 130)] {
            let w = randomBuffer(o * i, &rng), x = randomBuffer(rows * i, &rng), b = randomBuffer(o, &rng)
            x[2] = 0; x[5] = .nan  // a NaN in a row of finite values quantizes to the zero point
            let q = QuantizedMatrix(quantizing: w.pointer, rows: o, columns: i)
            for range in [Int8Activations.Range.sevenBit, .eightBit] {  // AVX2's tiles only in 7 (their int16 pair sums would saturate)
            MatmulSelection.current = MatmulSelection(int8: .portable, int8Range: range)
            let reference = FloatBuffer(count: rows * o)
            int8LinearForward(reference.pointer, x.pointer, q, b.pointer, rows: rows)
            for level in KernelLevel.available {
                try KernelLevel.select(level)
                // The plain integer loops, dequantized by this level's kernel: the same bits.
                MatmulSelection.current.int8 = .portable
                let plain = FloatBuffer(count: rows * o)
                int8LinearForward(plain.pointer, x.pointer, q, b.pointer, rows: rows)
                XCTAssertEqual(plain.array.map(\.bitPattern), reference.array.map(\.bitPattern), "dequantized \(rows)×\(i)×\(o) at \(level)")
                guard Int8Engine.avx2.isAvailable else { XCTAssertEqual(level, .portable); continue }
                // Our tiles, and the VNNI ones where this level and processor have them (AVX-VNNI at
                // the AVX2 level, AVX512-VNNI at the AVX-512 level).
                for engine in [Int8Engine.avx2, .vnni] where engine.isAvailable && (engine != .avx2 || range == .sevenBit) {
                    MatmulSelection.current.int8 = engine
                    let y = FloatBuffer(count: rows * o)
                    int8LinearForward(y.pointer, x.pointer, q, b.pointer, rows: rows)
                    XCTAssertEqual(y.array.map(\.bitPattern), reference.array.map(\.bitPattern), "int8 \(engine) \(rows)×\(i)×\(o) at \(level), \(range.rawValue) bits")
                }
            }
            }
        }
    }
}
