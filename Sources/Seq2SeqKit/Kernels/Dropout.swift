import CKernels
/// Inverted dropout driven by an explicit RNG: mask[i] = 0 with probability p, else 1/(1-p);
/// y = x ∘ mask. The mask is kept for the backward pass. With p == 0 the mask is all ones.
/// One draw from `rng` keys the call; the mask comes from a counter-based stream
/// (`DropoutStream`), so it is split over the threads and is the same on any thread count.
public func dropoutForward(_ y: FloatPtr, mask: FloatPtr, _ x: ConstFloatPtr, count n: Int, p: Float, rng: inout RNG) {
    if p <= 0 {
        mask.update(repeating: 1, count: n)
        if UnsafePointer(y) != x { y.update(from: x, count: n) }
        return
    }
    let stream = DropoutStream(key: rng.next(), p: p, count: n)
    let Y = SendablePointer(y), M = SendablePointer(mask), X = SendablePointer(x)
    parallelRows(n, cost: 4) { r in stream.fill(M.p, y: Y.p, x: X.p, r) }
}

/// Fills only the mask (for callers that apply it themselves, e.g. attention probabilities).
public func dropoutMask(_ mask: FloatPtr, count n: Int, p: Float, rng: inout RNG) {
    let stream = DropoutStream(key: rng.next(), p: p, count: n)
    let M = SendablePointer(mask)
    parallelRows(n, cost: 4) { r in stream.fill(M.p, y: nil, x: nil, r) }
}

/// The mask values of one dropout call: element i is kept when 24 bits of a hash of (key, i) are
/// at least p · 2²⁴. The hash is two rounds of MurmurHash3's 32-bit finalizer, each after mixing
/// in half of the 64-bit key: a bijection of the counter per key, computed 16 lanes at a time, in
/// any order (so any split of the elements over threads draws the same mask).
struct DropoutStream {
    let k0: UInt32, k1: UInt32
    let threshold: UInt32
    let keep: Float

    init(key: UInt64, p: Float, count: Int) {
        precondition(count <= Int(UInt32.max), "dropout over \(count) elements: the counter is 32 bits")
        k0 = UInt32(truncatingIfNeeded: key)
        k1 = UInt32(truncatingIfNeeded: key >> 32)
        threshold = UInt32(min(16_777_216, (p * 16_777_216).rounded(.up)))
        keep = 1 / (1 - p)
    }

    /// mask[i] (and y[i] = x[i] · mask[i] when y is given) for i in `range` (CKernels/kernels_body.h,
    /// 16 lanes at a time).
    @inline(__always)
    func fill(_ mask: FloatPtr, y: FloatPtr?, x: ConstFloatPtr?, _ range: Range<Int>) {
        s2s_dropout(y, mask, x, range.lowerBound, range.upperBound, k0, k1, threshold, keep)
    }
}

/// dx += dy ∘ mask
public func dropoutBackward(dx: FloatPtr, _ dy: ConstFloatPtr, mask: ConstFloatPtr, count n: Int) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), mp = SendablePointer(mask)
    parallelRows(n, cost: 1) { r in
        for i in r { dxp.p[i] += dyp.p[i] * mp.p[i] }
    }
}
