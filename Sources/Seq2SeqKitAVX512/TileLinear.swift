// Linear layers in AVX-512 registers (this module is compiled for skylake-avx512; Seq2SeqKit calls it
// only when the processor reports avx512f/bw/cd/dq/vl, see Kernels/FewRowsLinear.swift).
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
/// sums (vhaddps); Seq2SeqKit's `sums4` is the same, compiled for AVX2. Lane extracts and hadds take
/// no shuffle-index vectors, which would otherwise stay in registers across the main loop and push
/// accumulators out to the stack.
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

// MARK: - Broadcast tiles, from 28 rows
//
// With many rows the dot-product tiles above spend a third of their time folding accumulators. Here
// x is transposed once (xT [I, rows padded to 16]) and a tile holds 16 W rows × 16 input rows with no
// folding at all: each W element is broadcast (an FMA with an embedded broadcast operand) against 16
// input rows of xT. The tile is transposed in registers at the end to add 16 contiguous outputs to
// each of its 16 rows of y. W stays in its row-major layout; the 16 W rows of a tile (16 KB at
// I = 256) stay in L1 while every group of 16 input rows passes over them.

/// Transposes 16 rows of 16 lanes: four rounds of deinterleaving pairs, each of which rotates the
/// 8-bit (row, lane) index right by one bit.
@inline(__always)
func transpose16(_ m: inout [16 of Lane]) {
    for _ in 0..<4 {
        let old = m
        for p in 0..<8 {
            let pair = SIMD32(lowHalf: old[2 * p], highHalf: old[2 * p + 1])
            m[p] = pair.evenHalf
            m[p + 8] = pair.oddHalf
        }
    }
}

/// xT[k, r] = x[r, k] for r < rows (zero up to the next multiple of 16) and k < I (a multiple of 16);
/// xT's row stride is ldxT ≥ rows rounded up to 16.
public func transposeRowsAVX512(_ xT: FloatPointer, ldxT: Int, _ x: ConstFloatPointer, rows n: Int, inFeatures i: Int) {
    precondition(i % 16 == 0, "inFeatures must be a multiple of 16")
    var r0 = 0
    while r0 < n {
        var k0 = 0
        while k0 < i {
            var m: [16 of Lane] = .init(repeating: Lane())
            for r in 0..<min(16, n - r0) { m[r] = load(x + (r0 + r) * i + k0) }
            transpose16(&m)
            for c in 0..<16 { UnsafeMutableRawPointer(xT + (k0 + c) * ldxT + r0).storeBytes(of: m[c], as: Lane.self) }
            k0 += 16
        }
        r0 += 16
    }
}

/// y[r, j] += W[j, :I] · x[r, :I] for r < rows and j < columns (a multiple of 16), x given as xT from
/// `transposeRowsAVX512`, W's rows ldw apart. Callers split long rows into pieces of I ≤ 256. A
/// tile's 16 W rows are read in place when they are at most 1 KB apart (188-198 GFLOP/s at 160 rows
/// here); further apart (fc2's 4 KB rows all fall into one L1 set: 121-128) they are first copied
/// feature-major into 16 KB of stack (169-194; the copy costs more than it saves at 1 KB).
/// With `overwrite`, y is set to the product plus `bias` (bias[j] for column j; none: zero) instead.
public func broadcastLinearAVX512(_ y: FloatPointer, ldy: Int, rows n: Int, _ xT: ConstFloatPointer, ldxT: Int,
                                  _ w: ConstFloatPointer, ldw: Int, inFeatures i: Int, columns: Int,
                                  overwrite: Bool = false, bias: ConstFloatPointer? = nil) {
    precondition(columns % 16 == 0 && i <= 256, "columns must be a multiple of 16, inFeatures at most 256")
    withUnsafeTemporaryAllocation(of: Lane.self, capacity: 256) { packed in
        let wt = UnsafeMutableRawPointer(packed.baseAddress!).assumingMemoryBound(to: Float.self)
        var j = 0
        while j < columns {
            let out = y + j, b = bias.map { $0 + j }
            // Constant W offsets where they can be (256 features, or the packed copy): with a run-time
            // row step each broadcast's address came from a chain of adds.
            if ldw > 256 {
                packTile(wt, w + j * ldw, ldw: ldw, inFeatures: i)
                BroadcastTile<1, 16>.run(out, ldy: ldy, rows: n, xT, ldxT: ldxT, UnsafePointer(wt), step: 1, stride: 16,
                                         inFeatures: i, overwrite: overwrite, bias: b)
            } else if ldw == 256 {
                BroadcastTile<256, 1>.run(out, ldy: ldy, rows: n, xT, ldxT: ldxT, w + j * ldw, step: 256, stride: 1,
                                          inFeatures: i, overwrite: overwrite, bias: b)
            } else {
                BroadcastTile<0, 1>.run(out, ldy: ldy, rows: n, xT, ldxT: ldxT, w + j * ldw, step: ldw, stride: 1,
                                        inFeatures: i, overwrite: overwrite, bias: b)
            }
            j += 16
        }
    }
}

/// One column tile: y[r, c] (+)= Σ_k W[c, k] · xT[k, r] for 16 columns c and every row r < rows, with
/// W[c, k] at base[k · stride + c · step]; STEP and STRIDE fix step and stride at compile time when
/// positive.
enum BroadcastTile<let STEP: Int, let STRIDE: Int> {
    @inline(never)
    static func run(_ y: FloatPointer, ldy: Int, rows n: Int, _ xT: ConstFloatPointer, ldxT: Int, _ base: ConstFloatPointer,
                    step runtimeStep: Int, stride runtimeStride: Int, inFeatures i: Int, overwrite: Bool,
                    bias: ConstFloatPointer?) {
        let step = STEP > 0 ? STEP : runtimeStep, stride = STRIDE > 0 ? STRIDE : runtimeStride
        var r0 = 0
        while r0 < n {
            var a0 = Lane(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
            var a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0
            var xp = xT + r0
            for k in 0..<i {
                let xv = load(xp), wk = base + stride * k
                xp += ldxT
                @inline(__always) func b(_ c: Int) -> Lane { Lane(repeating: wk[c * step]) }
                a0 = a0.addingProduct(b(0), xv); a1 = a1.addingProduct(b(1), xv)
                a2 = a2.addingProduct(b(2), xv); a3 = a3.addingProduct(b(3), xv)
                a4 = a4.addingProduct(b(4), xv); a5 = a5.addingProduct(b(5), xv)
                a6 = a6.addingProduct(b(6), xv); a7 = a7.addingProduct(b(7), xv)
                a8 = a8.addingProduct(b(8), xv); a9 = a9.addingProduct(b(9), xv)
                a10 = a10.addingProduct(b(10), xv); a11 = a11.addingProduct(b(11), xv)
                a12 = a12.addingProduct(b(12), xv); a13 = a13.addingProduct(b(13), xv)
                a14 = a14.addingProduct(b(14), xv); a15 = a15.addingProduct(b(15), xv)
            }
            // a_c[lane r] is y[r0 + r, c]; transposed, m[r] holds row r0 + r's 16 outputs.
            var m: [16 of Lane] = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15]
            transpose16(&m)
            let start = overwrite ? (bias.map { load($0) } ?? Lane()) : Lane()
            for r in 0..<min(16, n - r0) {
                let out = UnsafeMutableRawPointer(y + (r0 + r) * ldy)
                let before = overwrite ? start : out.loadUnaligned(as: Lane.self)
                out.storeBytes(of: before + m[r], as: Lane.self)
            }
            r0 += 16
        }
    }
}

/// wt[k, c] = w[c, k] for 16 rows c (ldw apart) and k < I, by 16 × 16 blocks transposed in registers.
@inline(__always)
func packTile(_ wt: FloatPointer, _ w: ConstFloatPointer, ldw: Int, inFeatures i: Int) {
    var k0 = 0
    while k0 + 16 <= i {
        var m: [16 of Lane] = .init(repeating: Lane())
        for c in 0..<16 { m[c] = load(w + c * ldw + k0) }
        transpose16(&m)
        for k in 0..<16 { UnsafeMutableRawPointer(wt + (k0 + k) * 16).storeBytes(of: m[k], as: Lane.self) }
        k0 += 16
    }
    for k in k0..<i { for c in 0..<16 { wt[k * 16 + c] = w[c * ldw + k] } }
}
