/// Inverted dropout driven by an explicit RNG: mask[i] = 0 with probability p, else 1/(1-p);
/// y = x ∘ mask. The mask is kept for the backward pass. With p == 0 the mask is all ones.
public func dropoutForward(_ y: FloatPtr, mask: FloatPtr, _ x: ConstFloatPtr, count n: Int, p: Float, rng: inout RNG) {
    if p <= 0 {
        mask.update(repeating: 1, count: n)
        if UnsafePointer(y) != x { y.update(from: x, count: n) }
        return
    }
    let keep = 1 / (1 - p)
    rng.withRegisters { g in
        for i in 0..<n {
            let m: Float = g.nextFloat() < p ? 0 : keep
            mask[i] = m
            y[i] = x[i] * m
        }
    }
}

/// Fills only the mask (for callers that apply it themselves, e.g. attention probabilities).
public func dropoutMask(_ mask: FloatPtr, count n: Int, p: Float, rng: inout RNG) {
    let keep = 1 / (1 - p)
    rng.withRegisters { g in
        for i in 0..<n { mask[i] = g.nextFloat() < p ? 0 : keep }
    }
}

/// dx += dy ∘ mask
public func dropoutBackward(dx: FloatPtr, _ dy: ConstFloatPtr, mask: ConstFloatPtr, count n: Int) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), mp = SendablePointer(mask)
    parallelRows(n, cost: 1) { r in
        for i in r { dxp.p[i] += dyp.p[i] * mp.p[i] }
    }
}
