// int8 tiles in AVX2 registers for the few rows of decoding, straight from W's row-major layout.
// Each step of 32 bytes multiplies u8 activations by s8 weights with vpmaddubsw (pairs summed into
// int16, exact for activations below 128: see Tensor/Int8Gemm.swift), widens the pairs to int32
// with vpmaddwd against ones, and adds: 32 multiply-adds in three instructions. A tile is 2 W rows ×
// 4 input rows (8 accumulators); below 4 rows, 8 W rows × 1 row. Included by kernels_body.h at the
// AVX2 and AVX-512 levels, and by kernels_int8_vnni_avx.c with AVX-VNNI's one-instruction step (with
// AVX512-VNNI, kernels_int8_packed_avx512vnni.c runs instead).
// Dims legend: N rows, O output features (W rows), K the padded row length (a multiple of 32).

INLINE __m256i i8_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/// Σ over 32 bytes of u8 · s8, as 8 int32 lanes, added to acc. With AVX-VNNI (kernels_int8_vnni_avx.c) one
/// vpdpbusd does it: the same integers, since activations below 128 never saturate vpmaddubsw's pairs.
#if defined(S2S_INT8_AVXVNNI)
INLINE __m256i i8_dot_step(__m256i acc, __m256i x, __m256i w, __m256i ones) {
    (void)ones;
    return _mm256_dpbusd_avx_epi32(acc, x, w);
}
#else
INLINE __m256i i8_dot_step(__m256i acc, __m256i x, __m256i w, __m256i ones) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones));
}
#endif

/// The 8 lane sums of a0 … a7, in order.
INLINE void i8_sums8(int32_t out[8], __m256i a0, __m256i a1, __m256i a2, __m256i a3, __m256i a4, __m256i a5,
                     __m256i a6, __m256i a7) {
    __m256i s0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    __m256i s4567 = _mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7));
    // s0123 lanes: [a0 lo, a1 lo, a2 lo, a3 lo, a0 hi, a1 hi, a2 hi, a3 hi] (lo/hi: the 128-bit halves).
    __m256i lo = _mm256_permute2x128_si256(s0123, s4567, 0x20);
    __m256i hi = _mm256_permute2x128_si256(s0123, s4567, 0x31);
    _mm256_storeu_si256((__m256i *)out, _mm256_add_epi32(lo, hi));
}

typedef struct {
    float *y;
    const float *xScales, *wScales, *bias;
    const int32_t *correction;
    long o;
} i8_output;

INLINE void i8_store(const i8_output *out, int32_t s, long r, long j) {
    float v = (float)(s - out->correction[j]) * (out->xScales[r] * out->wScales[j]);
    out->y[r * out->o + j] = v + (out->bias ? out->bias[j] : 0.0f);
}

/// Rows r0 ..< r1 (1 to 4; missing ones repeat the last and are not stored) × W rows jBegin ..< jEnd, two at a time.
static void i8_four_rows(const i8_output *out, const uint8_t *xu, const int8_t *w, long r0, long r1, long jBegin,
                         long jEnd, long k) {
    __m256i ones = _mm256_set1_epi16(1);
    long last = r1 - 1;
    const uint8_t *x0 = xu + r0 * k, *x1 = xu + (r0 + 1 < last ? r0 + 1 : last) * k;
    const uint8_t *x2 = xu + (r0 + 2 < last ? r0 + 2 : last) * k, *x3 = xu + (r0 + 3 < last ? r0 + 3 : last) * k;
    for (long j = jBegin; j < jEnd; j += 2) {
        long j1 = j + 1 < jEnd - 1 ? j + 1 : jEnd - 1;
        const int8_t *w0 = w + j * k, *w1 = w + j1 * k;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (long t = 0; t < k; t += 32) {
            __m256i v0 = i8_load(w0 + t), v1 = i8_load(w1 + t);
            __m256i y0 = i8_load(x0 + t), y1 = i8_load(x1 + t), y2 = i8_load(x2 + t), y3 = i8_load(x3 + t);
            a0 = i8_dot_step(a0, y0, v0, ones); a1 = i8_dot_step(a1, y1, v0, ones);
            a2 = i8_dot_step(a2, y2, v0, ones); a3 = i8_dot_step(a3, y3, v0, ones);
            a4 = i8_dot_step(a4, y0, v1, ones); a5 = i8_dot_step(a5, y1, v1, ones);
            a6 = i8_dot_step(a6, y2, v1, ones); a7 = i8_dot_step(a7, y3, v1, ones);
        }
        int32_t s[8];
        i8_sums8(s, a0, a1, a2, a3, a4, a5, a6, a7);
        for (long i = 0; i < r1 - r0; i++) {
            i8_store(out, s[i], r0 + i, j);
            if (j1 != j) i8_store(out, s[4 + i], r0 + i, j1);
        }
    }
}

/// One row × W rows jBegin ..< jEnd, eight at a time (tails repeat the last W row).
static void i8_one_row(const i8_output *out, const uint8_t *x, const int8_t *w, long r, long jBegin, long jEnd,
                       long k) {
    __m256i ones = _mm256_set1_epi16(1);
    for (long j = jBegin; j < jEnd; j += 8) {
        const int8_t *wr[8];
        for (long c = 0; c < 8; c++) wr[c] = w + (j + c < jEnd - 1 ? j + c : jEnd - 1) * k;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (long t = 0; t < k; t += 32) {
            __m256i y = i8_load(x + t);
            a0 = i8_dot_step(a0, y, i8_load(wr[0] + t), ones); a1 = i8_dot_step(a1, y, i8_load(wr[1] + t), ones);
            a2 = i8_dot_step(a2, y, i8_load(wr[2] + t), ones); a3 = i8_dot_step(a3, y, i8_load(wr[3] + t), ones);
            a4 = i8_dot_step(a4, y, i8_load(wr[4] + t), ones); a5 = i8_dot_step(a5, y, i8_load(wr[5] + t), ones);
            a6 = i8_dot_step(a6, y, i8_load(wr[6] + t), ones); a7 = i8_dot_step(a7, y, i8_load(wr[7] + t), ones);
        }
        int32_t s[8];
        i8_sums8(s, a0, a1, a2, a3, a4, a5, a6, a7);
        long count = jEnd - j < 8 ? jEnd - j : 8;
        for (long c = 0; c < count; c++) i8_store(out, s[c], r, j + c);
    }
}

static void int8_tiles(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                       const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd) {
    i8_output out = {y, xScales, wScales, bias, correction, o};
    if (n < 4) {
        for (long r = 0; r < n; r++) i8_one_row(&out, xu + r * k, wq, r, jBegin, jEnd, k);
        return;
    }
    for (long r = 0; r < n; r += 4) i8_four_rows(&out, xu, wq, r, r + 4 < n ? r + 4 : n, jBegin, jEnd, k);
}
