import XCTest
import Seq2SeqKit

final class AttentionTests: XCTestCase {
    override func setUp() { Threads.set(1) }

    /// Finite differences through q, k and v, with padded keys, for self- (causal) and cross-attention,
    /// with and without attention dropout.
    func check(causal: Bool, tq: Int, tk: Int, dropout: Float, seed: UInt64) {
        var rng = RNG(seed: seed)
        let b = 2, h = 2, d = 6
        let shape = AttentionShape(batch: b, heads: h, queries: tq, keys: tk, dModel: d)
        let q = randomBuffer(b * tq * d, &rng), k = randomBuffer(b * tk * d, &rng), v = randomBuffer(b * tk * d, &rng)
        var valid = [UInt8](repeating: 1, count: b * tk)
        valid[tk - 1] = 0  // the first sequence's last key is padding
        let ctx = FloatBuffer(count: b * tq * d), probs = FloatBuffer(count: shape.probCount)
        let dropped = FloatBuffer(count: shape.probCount), mask = FloatBuffer(count: shape.probCount)
        let r = randomBuffer(b * tq * d, &rng)
        func loss() -> Double {
            var local = RNG(seed: 99)  // the same dropout mask on every call
            attentionForward(ctx: ctx.pointer, probs: probs.pointer, dropped: dropped.pointer, dropMask: mask.pointer,
                             q: q.pointer, k: k.pointer, v: v.pointer, keyValid: valid, causal: causal, shape: shape,
                             dropout: dropout, rng: &local)
            return dot(ctx, r)
        }
        _ = loss()
        // Rows sum to 1; padded and future keys get exactly 0.
        for bh in 0..<(b * h) {
            for i in 0..<tq {
                var s: Float = 0
                for j in 0..<tk {
                    let p = probs[(bh * tq + i) * tk + j]
                    s += p
                    if bh / h == 0 && j == tk - 1 { XCTAssertEqual(p, 0) }
                    if causal && j > i { XCTAssertEqual(p, 0) }
                }
                XCTAssertEqual(s, 1, accuracy: 1e-5)
            }
        }
        let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
        attentionBackward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dctx: r.pointer,
                          q: q.pointer, k: k.pointer, v: v.pointer, probs: probs.pointer,
                          dropped: dropout > 0 ? UnsafePointer(dropped.pointer) : nil,
                          dropMask: dropout > 0 ? UnsafePointer(mask.pointer) : nil, causal: causal, shape: shape)
        let tag = "causal \(causal) dropout \(dropout)"
        assertGradient("dq \(tag)", input: q, analytic: dq, h: 1e-3, tolerance: 3e-3, loss: loss)
        assertGradient("dk \(tag)", input: k, analytic: dk, h: 1e-3, tolerance: 3e-3, loss: loss)
        assertGradient("dv \(tag)", input: v, analytic: dv, h: 1e-3, tolerance: 3e-3, loss: loss)
    }

    func testSelfAttentionCausal() { check(causal: true, tq: 4, tk: 4, dropout: 0, seed: 11) }
    func testCrossAttention() { check(causal: false, tq: 3, tk: 5, dropout: 0, seed: 12) }
    func testAttentionDropout() { check(causal: true, tq: 5, tk: 5, dropout: 0.3, seed: 13) }

    /// Matches softmax(QKᵀ/√Dh + mask)·V computed directly for one head.
    func testForwardValues() {
        var rng = RNG(seed: 14)
        let t = 3, d = 4, h = 2, dh = 2
        let shape = AttentionShape(batch: 1, heads: h, queries: t, keys: t, dModel: d)
        let q = randomBuffer(t * d, &rng), k = randomBuffer(t * d, &rng), v = randomBuffer(t * d, &rng)
        let ctx = FloatBuffer(count: t * d), probs = FloatBuffer(count: shape.probCount)
        attentionForward(ctx: ctx.pointer, probs: probs.pointer, dropped: nil, dropMask: nil, q: q.pointer,
                         k: k.pointer, v: v.pointer, keyValid: nil, causal: true, shape: shape, rng: &rng)
        // head 1, query 2 sees keys 0, 1, 2
        var s = [Double](repeating: 0, count: t)
        for j in 0..<t {
            for c in 0..<dh { s[j] += Double(q[2 * d + dh + c]) * Double(k[j * d + dh + c]) }
            s[j] /= Double(dh).squareRoot()
        }
        let z = s.map { exp($0) }.reduce(0, +)
        for c in 0..<dh {
            var expect = 0.0
            for j in 0..<t { expect += exp(s[j]) / z * Double(v[j * d + dh + c]) }
            XCTAssertEqual(Double(ctx[2 * d + dh + c]), expect, accuracy: 1e-5)
        }
    }
}
