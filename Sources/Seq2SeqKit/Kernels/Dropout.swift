/// Inverted dropout driven by an explicit RNG: mask[i] = 0 with probability p, else 1/(1-p);
/// y = x ∘ mask. The mask is kept for the backward pass. With p == 0 the mask is all ones.
/// One draw from `rng` keys the call; the mask comes from a counter-based stream (`dropoutKeep`),
/// so it is split over the threads and is the same on any thread count.
public func dropoutForward(_ y: FloatPtr, mask: FloatPtr, _ x: ConstFloatPtr, count n: Int, p: Float, rng: inout RNG) {
    if p <= 0 {
        mask.update(repeating: 1, count: n)
        if UnsafePointer(y) != x { y.update(from: x, count: n) }
        return
    }
    let keep = 1 / (1 - p), key = rng.next()
    let Y = SendablePointer(y), M = SendablePointer(mask), X = SendablePointer(x)
    parallelRows(n, cost: 4) { r in
        dropoutKeep(key: key, range: r, p: p) { i, kept in
            let m: Float = kept ? keep : 0
            M.p[i] = m
            Y.p[i] = X.p[i] * m
        }
    }
}

/// Fills only the mask (for callers that apply it themselves, e.g. attention probabilities).
public func dropoutMask(_ mask: FloatPtr, count n: Int, p: Float, rng: inout RNG) {
    let keep = 1 / (1 - p), key = rng.next()
    let M = SendablePointer(mask)
    parallelRows(n, cost: 4) { r in
        dropoutKeep(key: key, range: r, p: p) { i, kept in M.p[i] = kept ? keep : 0 }
    }
}

/// Whether element i of a dropout call keyed by `key` is kept: its uniform u in [0, 1), 24 bits
/// of SplitMix64 output i / 2 (the high or low half), is at least p.
@inline(__always)
func dropoutKeep(key: UInt64, range: Range<Int>, p: Float, _ body: (Int, Bool) -> Void) {
    // u < p  ⇔  bits < p · 2²⁴ for the 24-bit integer behind u (u = bits / 2²⁴).
    let threshold = UInt64((p * 16_777_216).rounded(.up))
    var i = range.lowerBound
    if i < range.upperBound && i & 1 == 1 {
        body(i, (splitMix64(key: key, index: UInt64(i >> 1)) >> 8) & 0xFF_FFFF >= threshold)
        i += 1
    }
    while i + 1 < range.upperBound {
        let z = splitMix64(key: key, index: UInt64(i >> 1))
        body(i, z >> 40 >= threshold)
        body(i + 1, (z >> 8) & 0xFF_FFFF >= threshold)
        i += 2
    }
    if i < range.upperBound { body(i, splitMix64(key: key, index: UInt64(i >> 1)) >> 40 >= threshold) }
}

/// dx += dy ∘ mask
public func dropoutBackward(dx: FloatPtr, _ dy: ConstFloatPtr, mask: ConstFloatPtr, count n: Int) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), mp = SendablePointer(mask)
    parallelRows(n, cost: 1) { r in
        for i in r { dxp.p[i] += dyp.p[i] * mp.p[i] }
    }
}
