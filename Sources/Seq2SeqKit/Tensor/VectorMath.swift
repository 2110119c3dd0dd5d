import CKernels

// Small helpers for the SIMD16 code that stays in Swift (memory-bound loops, which run at the
// same speed whatever the instruction set); every loop that needs AVX2/FMA or AVX-512 is in CKernels.

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

/// y[i] = exp(x[i] - shift) for i in 0..<n; returns Σ y (CKernels: about 2 ulp; -inf gives 0).
@inline(__always)
func expShiftSum(_ y: FloatPtr, _ x: ConstFloatPtr, shift: Float, n: Int) -> Float {
    s2s_exp_shift_sum(y, x, shift, n)
}

/// max over x[0..<n] (NaN-free inputs assumed).
@inline(__always)
func rowMax(_ x: ConstFloatPtr, _ n: Int) -> Float { s2s_row_max(x, n) }

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
