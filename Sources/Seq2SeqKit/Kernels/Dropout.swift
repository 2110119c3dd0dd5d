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
    parallelRows(n, cost: 4) { r in
        stream.masks(r) { i, m in
            store16(M.p + i, m)
            store16(Y.p + i, load16(X.p + i) * m)
        } tail: { i, m in
            M.p[i] = m
            Y.p[i] = X.p[i] * m
        }
    }
}

/// Fills only the mask (for callers that apply it themselves, e.g. attention probabilities).
public func dropoutMask(_ mask: FloatPtr, count n: Int, p: Float, rng: inout RNG) {
    let stream = DropoutStream(key: rng.next(), p: p, count: n)
    let M = SendablePointer(mask)
    parallelRows(n, cost: 4) { r in
        stream.masks(r) { i, m in store16(M.p + i, m) } tail: { i, m in M.p[i] = m }
    }
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

    @inline(__always)
    static func mix(_ x: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var h = x ^ (x &>> 16)
        h &*= 0x85EB_CA6B
        h ^= h &>> 13
        h &*= 0xC2B2_AE35
        return h ^ (h &>> 16)
    }

    /// Masks of the elements first ..< first + 16 (1/(1-p) where kept, else 0).
    @inline(__always)
    func mask16(_ first: Int) -> SIMD16<Float> {
        let i = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: first)) &+ SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let h = Self.mix(Self.mix(i ^ k0) ^ k1)
        // Kept ⇔ bits ≥ threshold ⇔ (threshold − 1 − bits) < 0: its sign, spread over the lane by
        // an arithmetic shift, selects 1/(1-p) (a lane-wise select of SIMDMask compiles to a loop).
        let bits = SIMD16<Int32>(truncatingIfNeeded: h &>> 8)
        let kept = (SIMD16<Int32>(repeating: Int32(threshold) - 1) &- bits) &>> 31
        return unsafeBitCast(kept & SIMD16<Int32>(repeating: Int32(bitPattern: keep.bitPattern)), to: SIMD16<Float>.self)
    }

    /// Calls `body(i, masks of i ..< i + 16)` over `range` in steps of 16, then `tail(i, mask)` for the rest.
    @inline(__always)
    func masks(_ range: Range<Int>, _ body: (Int, SIMD16<Float>) -> Void, tail: (Int, Float) -> Void) {
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            body(i, mask16(i))
            i += 16
        }
        if i < range.upperBound {
            let m = mask16(i)
            for j in i..<range.upperBound { tail(j, m[j - i]) }
        }
    }
}

/// dx += dy ∘ mask
public func dropoutBackward(dx: FloatPtr, _ dy: ConstFloatPtr, mask: ConstFloatPtr, count n: Int) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), mp = SendablePointer(mask)
    parallelRows(n, cost: 1) { r in
        for i in r { dxp.p[i] += dyp.p[i] * mp.p[i] }
    }
}
