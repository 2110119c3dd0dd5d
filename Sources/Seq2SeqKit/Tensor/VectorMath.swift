/// Vectorized exp for the hot loops of softmax and cross-entropy (SIMD16, Cephes polynomial,
/// about 2 ulp). Scalar `expf` costs ~5 ns per element here, this ~0.3-0.5 (../shared/PLATFORM.md).
/// Inputs below -87.3 (and -inf, from masks) give exactly 0.
@inline(__always)
func simdExp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let lo: Float = -87.33654, hi: Float = 88.37626
    var v = x.replacing(with: hi, where: x .> hi)
    let under = v .< lo
    v.replace(with: lo, where: under)
    // n = round(v · log2 e) via the 1.5·2^23 trick, with the integer left in the low mantissa bits.
    // Every step below is one fused multiply-add.
    let magic: Float = 12_582_912
    let t = SIMD16(repeating: magic).addingProduct(v, 1.442_695_040_888_963_4)
    let n = t - magic
    let r = v.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_4e-4)
    var p = SIMD16<Float>(repeating: 1.398_199_950_7e-3).addingProduct(r, 1.987_569_15e-4)
    p = SIMD16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = SIMD16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = SIMD16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = SIMD16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    p = (r + 1).addingProduct(p, r * r)
    // 2^n: (bits(t) - bits(magic) + 127) << 23
    let tb = unsafeBitCast(t, to: SIMD16<UInt32>.self)
    let bits = (tb &- SIMD16<UInt32>(repeating: magic.bitPattern) &+ 127) &<< 23
    let scale = unsafeBitCast(bits, to: SIMD16<Float>.self)
    var result = p * scale
    result.replace(with: 0, where: under)
    return result
}

/// Σ v by halves: SIMD16's own `sum()` compiles to sixteen scalar adds through memory here.
@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// [Σ a, Σ b, Σ c, Σ d]: each folded by halves to four lanes, then two rounds of adjacent-pair
/// sums (vhaddps), about a third of the work of four horizontal sums.
@inline(__always)
func sums4(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) -> SIMD4<Float> {
    @inline(__always) func fold(_ v: SIMD16<Float>) -> SIMD4<Float> {
        let h = v.lowHalf + v.highHalf
        return h.lowHalf + h.highHalf
    }
    @inline(__always) func pairSums(_ p: SIMD4<Float>, _ q: SIMD4<Float>) -> SIMD4<Float> {
        let c = SIMD8(lowHalf: p, highHalf: q)
        return c.evenHalf + c.oddHalf
    }
    return pairSums(pairSums(fold(a), fold(b)), pairSums(fold(c), fold(d)))
}

/// max of v by halves (strict compares, NaN-free inputs assumed), for the same reason.
@inline(__always)
func horizontalMax(_ v: SIMD16<Float>) -> Float {
    var a = v.lowHalf, b = v.highHalf
    a.replace(with: b, where: b .> a)
    var c = a.lowHalf, d = a.highHalf
    c.replace(with: d, where: d .> c)
    return max(max(c[0], c[1]), max(c[2], c[3]))
}

/// y[i] = exp(x[i] - shift) for i in 0..<n; returns Σ y (in Float, relaxed order).
@inline(__always)
func expShiftSum(_ y: FloatPtr, _ x: ConstFloatPtr, shift: Float, n: Int) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    let s = SIMD16<Float>(repeating: shift)
    while i + 16 <= n {
        let v = simdExp(load16(x + i) - s)
        store16(y + i, v)
        acc += v
        i += 16
    }
    var total = horizontalSum(acc)
    if i < n {
        var tail = SIMD16<Float>(repeating: -.infinity)
        for j in i..<n { tail[j - i] = x[j] }
        let v = simdExp(tail - s)
        for j in i..<n { y[j] = v[j - i]; total += v[j - i] }
    }
    return total
}

/// max over x[0..<n] (strict compares, vectorized; NaN-free inputs assumed).
@inline(__always)
func rowMax(_ x: ConstFloatPtr, _ n: Int) -> Float {
    var m = SIMD16<Float>(repeating: -.infinity)
    var i = 0
    while i + 16 <= n {
        let v = load16(x + i)
        m.replace(with: v, where: v .> m)
        i += 16
    }
    var best = horizontalMax(m)
    while i < n { if x[i] > best { best = x[i] }; i += 1 }
    return best
}

@inline(__always)
func load16(_ p: ConstFloatPtr) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func load16(_ p: FloatPtr) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ p: FloatPtr, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorized.
@inline(__always)
func simdErf(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
    let sign = bits & 0x8000_0000
    let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p = 1.061_405_429 * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * simdExp(-a * a)
    return unsafeBitCast(unsafeBitCast(y, to: SIMD16<UInt32>.self) | sign, to: SIMD16<Float>.self)
}

/// Applies `body` to x[0..<n] in SIMD16 chunks (the tail padded with zeros), writing y.
@inline(__always)
func mapSIMD(_ y: FloatPtr, _ x: ConstFloatPtr, _ range: Range<Int>, _ body: (SIMD16<Float>) -> SIMD16<Float>) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
        store16(y + i, body(load16(x + i)))
        i += 16
    }
    if i < range.upperBound {
        var v = SIMD16<Float>(repeating: 0)
        for j in i..<range.upperBound { v[j - i] = x[j] }
        let r = body(v)
        for j in i..<range.upperBound { y[j] = r[j - i] }
    }
}
