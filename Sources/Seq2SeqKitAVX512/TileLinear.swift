// Few-row linear layers in AVX-512 registers (this module is compiled for x86-64-v4; Seq2SeqKit calls
// it only when the processor reports avx512f/bw/cd/dq/vl, see Kernels/FewRowsLinear.swift).
// Dims legend: R input rows (≤ 6), I input features, C output columns (rows of W[O, I]).
//
// A tile is 4 W rows × R input rows: per 16 features it loads 4 + R vectors and does 4R FMAs, so
// with R = 6 the two FMA pipes, not the loads, set the pace (the one-W-row kernel of the AVX2 path
// loads R + 1 vectors for R FMAs). 24 accumulators + 4 W vectors + 1 input vector fit the 32 zmm
// registers. The four accumulators of an input row are folded together (see `reduce`), which leaves
// its four dot products in one SIMD4 that is added to y in one go.

public typealias FloatPointer = UnsafeMutablePointer<Float>
public typealias ConstFloatPointer = UnsafePointer<Float>

typealias Lane = SIMD16<Float>
typealias Quad = (Lane, Lane, Lane, Lane)

@inline(__always)
func load(_ p: ConstFloatPointer) -> Lane { UnsafeRawPointer(p).loadUnaligned(as: Lane.self) }

@inline(__always)
func accumulate(_ a: inout Quad, _ x: Lane, _ w0: Lane, _ w1: Lane, _ w2: Lane, _ w3: Lane) {
    a.0 = a.0.addingProduct(x, w0)
    a.1 = a.1.addingProduct(x, w1)
    a.2 = a.2.addingProduct(x, w2)
    a.3 = a.3.addingProduct(x, w3)
}

/// [Σ a.0, Σ a.1, Σ a.2, Σ a.3]: halves added down to four SIMD4s, then two rounds of adjacent-pair
/// sums (vhaddps). Lane extracts and hadds take no shuffle-index vectors, which would otherwise stay
/// in registers across the main loop and push accumulators out to the stack.
@inline(__always)
func reduce(_ a: Quad) -> SIMD4<Float> {
    @inline(__always) func fold(_ v: Lane) -> SIMD4<Float> {
        let h = v.lowHalf + v.highHalf
        return h.lowHalf + h.highHalf
    }
    @inline(__always) func pairSums(_ p: SIMD4<Float>, _ q: SIMD4<Float>) -> SIMD4<Float> {
        let c = SIMD8(lowHalf: p, highHalf: q)
        return c.evenHalf + c.oddHalf
    }
    return pairSums(pairSums(fold(a.0), fold(a.1)), pairSums(fold(a.2), fold(a.3)))
}

/// y[r, j] += W[j, :] · x[r, :] for r < rows (≤ 6, row stride I in x, ldy in y) and j < columns.
public func tileLinearAVX512(_ y: FloatPointer, _ x: ConstFloatPointer, _ w: ConstFloatPointer,
                             rows: Int, inFeatures i: Int, columns: Int, ldy: Int) {
    switch rows {
    case 1: Tile<1>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    case 2: Tile<2>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    case 3: Tile<3>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    case 4: Tile<4>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    case 5: Tile<5>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    case 6: Tile<6>.run(y, x, w, inFeatures: i, columns: columns, ldy: ldy)
    default: preconditionFailure("tileLinearAVX512 takes 1 to 6 rows, not \(rows)")
    }
}

enum Tile<let R: Int> {
    @inline(never)
    static func run(_ y: FloatPointer, _ x: ConstFloatPointer, _ w: ConstFloatPointer,
                    inFeatures i: Int, columns: Int, ldy: Int) {
        let vectorEnd = i & ~15
        let zero = Quad(Lane(), Lane(), Lane(), Lane())
        // The tile's four W rows are a quarter of the block apart: with two input rows, where W's
        // stream from memory sets the pace, four adjacent rows ran at 24 GFLOP/s here and four
        // rows a quarter of a 256 KB block apart at 34-43.
        let q = columns / 4
        for j in 0..<q {
            let w0 = w + j * i, w1 = w0 + q * i, w2 = w1 + q * i, w3 = w2 + q * i
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero
            var k = 0
            while k < vectorEnd {
                let v0 = load(w0 + k), v1 = load(w1 + k), v2 = load(w2 + k), v3 = load(w3 + k), xk = x + k
                accumulate(&a0, load(xk), v0, v1, v2, v3)
                if R > 1 { accumulate(&a1, load(xk + i), v0, v1, v2, v3) }
                if R > 2 { accumulate(&a2, load(xk + 2 * i), v0, v1, v2, v3) }
                if R > 3 { accumulate(&a3, load(xk + 3 * i), v0, v1, v2, v3) }
                if R > 4 { accumulate(&a4, load(xk + 4 * i), v0, v1, v2, v3) }
                if R > 5 { accumulate(&a5, load(xk + 5 * i), v0, v1, v2, v3) }
                k += 16
            }
            @inline(__always) func put(_ a: Quad, _ r: Int) {
                var s = reduce(a)
                for t in vectorEnd..<i { s += SIMD4(w0[t], w1[t], w2[t], w3[t]) * x[r * i + t] }
                let out = y + r * ldy + j
                out[0] += s[0]; out[q] += s[1]; out[2 * q] += s[2]; out[3 * q] += s[3]
            }
            put(a0, 0)
            if R > 1 { put(a1, 1) }
            if R > 2 { put(a2, 2) }
            if R > 3 { put(a3, 3) }
            if R > 4 { put(a4, 4) }
            if R > 5 { put(a5, 5) }
        }
        // The last columns (fewer than 4) one W row at a time.
        for j in 4 * q..<columns {
            let wj = w + j * i
            for r in 0..<R {
                var a = Lane()
                var k = 0
                while k < vectorEnd { a = a.addingProduct(load(x + r * i + k), load(wj + k)); k += 16 }
                var s = a.sum()
                for t in vectorEnd..<i { s += x[r * i + t] * wj[t] }
                y[r * ldy + j] += s
            }
        }
    }
}
