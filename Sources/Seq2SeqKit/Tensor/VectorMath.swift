import CKernels

// Small helpers for the SIMD16 code that stays in Swift (memory-bound loops, which run at the
// same speed whatever the instruction set); every loop that needs AVX2/FMA or AVX-512 is in CKernels.

/// max of v by halves (strict compares, NaN-free inputs assumed): SIMD16's own reductions go
/// lane by lane through memory.
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

