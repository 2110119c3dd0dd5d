// int8 tiles in AVX2 registers for the few rows of decoding, straight from W's row-major layout
// (as FewRowsLinear does in float). Each step of 32 bytes multiplies u8 activations by s8 weights
// with vpmaddubsw (pairs summed into int16, exact: see Int8Gemm.swift), widens the pairs to int32
// with vpmaddwd against ones, and adds: 32 multiply-adds in three instructions, against 8 for one
// float FMA. A tile is 2 W rows × 4 input rows (8 accumulators); below 4 rows, 8 W rows × 1 row.
// W is walked in blocks that stay in L2 while every row group passes over them, and the blocks are
// split between threads.
// Dims legend: N rows, O output features (W rows), K the padded row length (a multiple of 32).

#if S2S_AVX2
import _Builtin_intrinsics.intel

@inline(__always) private func load(_ p: UnsafeRawPointer) -> __m256i {
    _mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self))
}

/// Σ over 32 bytes of u8 · s8, as 8 int32 lanes, added to acc.
@inline(__always) private func dotStep(_ acc: __m256i, _ x: __m256i, _ w: __m256i, _ ones: __m256i) -> __m256i {
    _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones))
}

/// The 8 lane sums of a0…a7, in order, as one vector (two rounds of horizontal adds, then the
/// two 128-bit halves added).
@inline(__always) private func sums8(_ a0: __m256i, _ a1: __m256i, _ a2: __m256i, _ a3: __m256i,
                                      _ a4: __m256i, _ a5: __m256i, _ a6: __m256i, _ a7: __m256i) -> SIMD8<Int32> {
    let s0123 = unsafeBitCast(_mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3)), to: SIMD8<Int32>.self)
    let s4567 = unsafeBitCast(_mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7)), to: SIMD8<Int32>.self)
    // s0123 lanes: [a0 lo, a1 lo, a2 lo, a3 lo, a0 hi, a1 hi, a2 hi, a3 hi] (lo/hi: the 128-bit halves).
    let lo = SIMD8(s0123[0], s0123[1], s0123[2], s0123[3], s4567[0], s4567[1], s4567[2], s4567[3])
    let hi = SIMD8(s0123[4], s0123[5], s0123[6], s0123[7], s4567[4], s4567[5], s4567[6], s4567[7])
    return lo &+ hi
}

/// max |x[t]| over t below n rounded down to 8 (NaNs dropped, as vmaxps keeps its second
/// operand), and how many were read.
@inline(__always)
func maxAbsAVX2(_ x: ConstFloatPtr, _ n: Int) -> (Float, Int) {
    let signless = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))
    var m = _mm256_setzero_ps()
    var t = 0
    while t + 8 <= n { m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + t), signless), m); t += 8 }
    let v: SIMD8<Float> = m
    return (max(max(max(v[0], v[1]), max(v[2], v[3])), max(max(v[4], v[5]), max(v[6], v[7]))), t)
}

/// out[t] = round(x[t] · inv) + z for t below n rounded down to 8 (vcvtps2dq rounds to nearest
/// even, as the scalar tail does); returns how many were done.
@inline(__always)
func quantizeRowAVX2(_ x: ConstFloatPtr, _ n: Int, _ inv: Float, _ out: UnsafeMutablePointer<UInt8>) -> Int {
    let vi = _mm256_set1_ps(inv), z = _mm256_set1_epi32(Int8Activations.zeroPoint)
    // After the two packs, bytes 0-3 of 32-bit lane 0 and of lane 4 hold the 8 results.
    let gather = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)
    var t = 0
    while t + 8 <= n {
        let f = _mm256_loadu_ps(x + t)
        let q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(f, vi)), z)
        let w16 = _mm256_packs_epi32(q, q)
        let b8 = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w16, w16), gather)
        _mm_storel_epi64(UnsafeMutableRawPointer(out + t).assumingMemoryBound(to: __m128i.self), _mm256_castsi256_si128(b8))
        t += 8
    }
    return t
}

/// y = dequantize(xu[N, K] · Wqᵀ) for all N rows (see Int8Linear.swift).
func int8TilesAVX2(_ out: Int8Output, _ xu: UnsafePointer<UInt8>, rows n: Int) {
    let w = out.matrix, o = w.rows, k = w.stride
    // Blocks of W rows of 256 KB (a quarter of L2), or a thread's share.
    let block = max(2, min(256 * 1024 / k, (o + Threads.count - 1) / Threads.count)) & ~1
    let blocks = (o + block - 1) / block
    let xp = SendablePointer(xu)
    parallelRows(blocks, cost: block * k * n, minimum: 1 << 20) { range in
        for b in range {
            let j0 = b * block, j1 = min(o, j0 + block)
            if n < 4 {
                for r in 0..<n { oneRowTiles(out, UnsafePointer(xp.p) + r * k, row: r, columns: j0..<j1, k: k) }
                continue
            }
            var r = 0
            while r < n {
                fourRowTiles(out, UnsafePointer(xp.p), rows: r..<min(n, r + 4), columns: j0..<j1, k: k)
                r += 4
            }
        }
    }
}

/// Rows `rows` (1 to 4; missing ones repeat the last and are not stored) × W rows `columns`, two at a time.
@inline(__always)
private func fourRowTiles(_ out: Int8Output, _ xu: UnsafePointer<UInt8>, rows: Range<Int>, columns: Range<Int>, k: Int) {
    let w = out.matrix, ones = _mm256_set1_epi16(1)
    let last = rows.upperBound - 1
    let x0 = UnsafeRawPointer(xu + rows.lowerBound * k), x1 = UnsafeRawPointer(xu + min(last, rows.lowerBound + 1) * k)
    let x2 = UnsafeRawPointer(xu + min(last, rows.lowerBound + 2) * k), x3 = UnsafeRawPointer(xu + min(last, rows.lowerBound + 3) * k)
    var j = columns.lowerBound
    while j < columns.upperBound {
        let j1 = min(j + 1, columns.upperBound - 1)
        let w0 = UnsafeRawPointer(w.values + j * k), w1 = UnsafeRawPointer(w.values + j1 * k)
        var a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        var t = 0
        while t < k {
            let v0 = load(w0 + t), v1 = load(w1 + t)
            let y0 = load(x0 + t), y1 = load(x1 + t), y2 = load(x2 + t), y3 = load(x3 + t)
            a0 = dotStep(a0, y0, v0, ones); a1 = dotStep(a1, y1, v0, ones)
            a2 = dotStep(a2, y2, v0, ones); a3 = dotStep(a3, y3, v0, ones)
            a4 = dotStep(a4, y0, v1, ones); a5 = dotStep(a5, y1, v1, ones)
            a6 = dotStep(a6, y2, v1, ones); a7 = dotStep(a7, y3, v1, ones)
            t += 32
        }
        let s = sums8(a0, a1, a2, a3, a4, a5, a6, a7)
        for (i, r) in rows.enumerated() {
            out.store(s[i], row: r, column: j)
            if j1 != j { out.store(s[4 + i], row: r, column: j1) }
        }
        j += 2
    }
}

/// One row × W rows `columns`, eight at a time (two sets of four accumulators, tails repeating the last W row).
@inline(__always)
private func oneRowTiles(_ out: Int8Output, _ xu: UnsafePointer<UInt8>, row r: Int, columns: Range<Int>, k: Int) {
    let w = out.matrix, ones = _mm256_set1_epi16(1), x = UnsafeRawPointer(xu)
    let end = columns.upperBound
    var j = columns.lowerBound
    while j < end {
        let w0 = UnsafeRawPointer(w.values + j * k)
        let w1 = UnsafeRawPointer(w.values + min(j + 1, end - 1) * k), w2 = UnsafeRawPointer(w.values + min(j + 2, end - 1) * k)
        let w3 = UnsafeRawPointer(w.values + min(j + 3, end - 1) * k), w4 = UnsafeRawPointer(w.values + min(j + 4, end - 1) * k)
        let w5 = UnsafeRawPointer(w.values + min(j + 5, end - 1) * k), w6 = UnsafeRawPointer(w.values + min(j + 6, end - 1) * k)
        let w7 = UnsafeRawPointer(w.values + min(j + 7, end - 1) * k)
        var a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        var t = 0
        while t < k {
            let y = load(x + t)
            a0 = dotStep(a0, y, load(w0 + t), ones); a1 = dotStep(a1, y, load(w1 + t), ones)
            a2 = dotStep(a2, y, load(w2 + t), ones); a3 = dotStep(a3, y, load(w3 + t), ones)
            a4 = dotStep(a4, y, load(w4 + t), ones); a5 = dotStep(a5, y, load(w5 + t), ones)
            a6 = dotStep(a6, y, load(w6 + t), ones); a7 = dotStep(a7, y, load(w7 + t), ones)
            t += 32
        }
        let s = sums8(a0, a1, a2, a3, a4, a5, a6, a7)
        for i in 0..<min(8, end - j) { out.store(s[i], row: r, column: j + i) }
        j += 8
    }
}
#endif
