// int8 products from W in VNNI's packed layout (AVX512-VNNI): no horizontal folding.
//
// The row-major tiles (kernels_int8_avx2.h) take dot products along k, so every output ends with
// its 16 lanes folded into one int32 and dequantized one value at a time: with the short rows of
// small models (k = 192: three vpdpbusd per output) that epilogue costs as much as the products.
// Here W is stored as 16-row blocks of 4-byte groups,
//
//   p[(b·K/4 + t)·64 + 4c + e] = W[16b + c, 4t + e]    (c < 16, e < 4; rows from O on are zero),
//
// so one vpdpbusd of a zmm of p against 4 bytes of x broadcast adds 4 multiply-adds to each of 16
// outputs, and a block's 16 int32 sums are dequantized as one vector. A tile holds R ≤ 4 rows of x
// and B blocks (R·B ≤ 16 accumulators); the integers are those of every other engine.
// Dims legend: N rows, O output features (W rows), K the padded row length (a multiple of 32).
#include <stdint.h>
#include <string.h>
#include "kernel_table.h"

/// p (see above) from row-major w[O, K]: ceil(O / 16) blocks of 16·K bytes. Plain C: packing runs
/// once per matrix, at load.
void s2s_int8_pack_vnni(int8_t *p, const int8_t *w, long o, long k) {
    long blocks = (o + 15) / 16, quads = k / 4;
    for (long b = 0; b < blocks; b++) {
        int8_t *block = p + b * quads * 64;
        for (long c = 0; c < 16; c++) {
            long j = b * 16 + c;
            for (long t = 0; t < quads; t++) {
                int8_t *dst = block + t * 64 + c * 4;
                if (j < o) memcpy(dst, w + j * k + t * 4, 4); else memset(dst, 0, 4);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define INLINE static inline __attribute__((always_inline))
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx512vnni,avx2,fma"))), apply_to = function)

typedef struct {
    float *y;
    const float *xScales, *wScales, *bias;
    const int32_t *correction;
    long o;
} packed_output;

/// y[r, 16b ..< 16b + 16] from a block's int32 sums, the formula of every engine: (s − correction) ·
/// (sx · sw) + bias, multiplied and added as two roundings (never fused), lanes beyond O not stored.
INLINE void packed_store(const packed_output *out, __m512i s, long r, long b) {
    long j = b * 16, left = out->o - j;
    __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512i corr = _mm512_maskz_loadu_epi32(m, out->correction + j);
    __m512 ws = _mm512_maskz_loadu_ps(m, out->wScales + j);
    __m512 scale = _mm512_mul_ps(_mm512_set1_ps(out->xScales[r]), ws);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(s, corr)), scale);
    __m512 bias = out->bias ? _mm512_maskz_loadu_ps(m, out->bias + j) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(out->y + r * out->o + j, m, _mm512_add_ps(v, bias));
}

/// Rows r0 ..< r0 + R × blocks b0 ..< b0 + B (both constants once inlined).
INLINE void packed_tile(const packed_output *out, const uint8_t *xu, const int8_t *p, long r0, int R, long b0, int B,
                        long k) {
    long quads = k / 4;
    __m512i acc[4][8];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm512_setzero_si512();
    const int8_t *wb[8];
    for (int b = 0; b < B; b++) wb[b] = p + (b0 + b) * quads * 64;
    const uint8_t *x[4];
    for (int r = 0; r < R; r++) x[r] = xu + (r0 + r) * k;
    for (long t = 0; t < quads; t++) {
        __m512i w[8];
        for (int b = 0; b < B; b++) w[b] = _mm512_load_si512((const void *)(wb[b] + t * 64));
        for (int r = 0; r < R; r++) {
            int32_t four;
            memcpy(&four, x[r] + t * 4, 4);
            __m512i xv = _mm512_set1_epi32(four);
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], xv, w[b]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) packed_store(out, acc[r][b], r0 + r, b0 + b);
}

/// Rows r0 ..< r0 + R over blocks bBegin ..< bEnd, B at a time, then one at a time.
#define PACKED_ROWS(R, B)                                                                                             \
    static void packed_rows_##R(const packed_output *out, const uint8_t *xu, const int8_t *p, long r0, long bBegin, \
                                long bEnd, long k) {                                                                  \
        long b = bBegin;                                                                                              \
        for (; b + B <= bEnd; b += B) packed_tile(out, xu, p, r0, R, b, B, k);                                        \
        for (; b < bEnd; b++) packed_tile(out, xu, p, r0, R, b, 1, k);                                                \
    }
PACKED_ROWS(1, 8)
PACKED_ROWS(2, 6)
PACKED_ROWS(3, 4)
PACKED_ROWS(4, 4)

/// y[r·O + j] for rows r < n and W rows j in blocks bBegin ..< bEnd (j = 16b + c < O). W is walked in
/// chunks of about 128 KB that stay in L2 while every group of 4 rows passes over them.
void s2s_int8_packed_avx512vnni(float *y, const uint8_t *xu, const int8_t *p, const float *xScales,
                                const float *wScales, const int32_t *correction, const float *bias, long n, long o,
                                long k, long bBegin, long bEnd) {
    packed_output out = {y, xScales, wScales, bias, correction, o};
    long chunk = n <= 4 ? bEnd - bBegin : (128 * 1024) / (16 * k) + 1;
    for (long c0 = bBegin; c0 < bEnd; c0 += chunk) {
        long c1 = c0 + chunk < bEnd ? c0 + chunk : bEnd;
        long r = 0;
        for (; r + 4 <= n; r += 4) packed_rows_4(&out, xu, p, r, c0, c1, k);
        switch (n - r) {
        case 1: packed_rows_1(&out, xu, p, r, c0, c1, k); break;
        case 2: packed_rows_2(&out, xu, p, r, c0, c1, k); break;
        case 3: packed_rows_3(&out, xu, p, r, c0, c1, k); break;
        default: break;
        }
    }
}
#pragma clang attribute pop
#endif
