// The kernels' bodies, included once per instruction-set level by kernels_portable.c,
// kernels_avx2.c and kernels_avx512.c, each of which wraps the inclusion in a
// `#pragma clang attribute push(target(...))` and defines S2S_LEVEL (0, 1, 2) and S2S_TABLE (the
// name of the table of function pointers at the end). Everything else here is static.
//
// The loops are written over 16-lane vectors (clang's ext_vector_type), which the compiler lowers to
// one zmm, two ymm or four xmm registers depending on the level, so the same operations run in the
// same order at every level. Fused multiply-adds are explicit (FMA below): fused where the level
// has them, a multiply then an add at the portable level (a software fmaf per lane would be 50×
// slower). Contraction is off, so nothing else is fused behind our back: the AVX2 and AVX-512
// levels give the same bits, and the portable level differs from them only by those roundings.

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "include/CKernels.h"
#include "kernel_table.h"

#pragma STDC FP_CONTRACT OFF

typedef float f32x16 __attribute__((ext_vector_type(16)));
typedef float f32x8 __attribute__((ext_vector_type(8)));
typedef float f32x4 __attribute__((ext_vector_type(4)));
typedef float f32x2 __attribute__((ext_vector_type(2)));
typedef int32_t i32x16 __attribute__((ext_vector_type(16)));
typedef uint32_t u32x16 __attribute__((ext_vector_type(16)));
typedef uint16_t u16x16 __attribute__((ext_vector_type(16)));

#if S2S_LEVEL >= 1
#define FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#define FMAF(a, b, c) fmaf((a), (b), (c))
#else
#define FMA(a, b, c) ((a) * (b) + (c))
#define FMAF(a, b, c) ((a) * (b) + (c))
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE f32x16 splat(float x) { return (f32x16)x; }
INLINE f32x16 load16(const float *p) { f32x16 v; memcpy(&v, p, sizeof v); return v; }
INLINE void store16(float *p, f32x16 v) { memcpy(p, &v, sizeof v); }
/// m ? a : b lane by lane (m: all ones or all zeros per lane, as comparisons give).
INLINE f32x16 select16(i32x16 m, f32x16 a, f32x16 b) { return (f32x16)((m & (i32x16)a) | (~m & (i32x16)b)); }

/// Σ v by halves (16 → 8 → 4 → 2 → 1).
INLINE float hsum(f32x16 v) {
    f32x8 a = v.lo + v.hi;
    f32x4 b = a.lo + a.hi;
    f32x2 c = b.lo + b.hi;
    return c.x + c.y;
}

/// [Σ a, Σ b, Σ c, Σ d]: each folded by halves to four lanes, then two rounds of adjacent-pair sums.
INLINE f32x4 fold4(f32x16 v) { f32x8 h = v.lo + v.hi; return h.lo + h.hi; }
INLINE f32x4 pairsums(f32x4 p, f32x4 q) {
    return __builtin_shufflevector(p, q, 0, 2, 4, 6) + __builtin_shufflevector(p, q, 1, 3, 5, 7);
}
INLINE f32x4 sums4(f32x16 a, f32x16 b, f32x16 c, f32x16 d) {
    return pairsums(pairsums(fold4(a), fold4(b)), pairsums(fold4(c), fold4(d)));
}

/// max of v by halves (strict compares; NaN-free inputs assumed).
INLINE float hmax(f32x16 v) {
    f32x8 a = v.lo, b = v.hi;
    a = (f32x8)(((b > a) & (__attribute__((ext_vector_type(8))) int32_t)b) | (~(b > a) & (__attribute__((ext_vector_type(8))) int32_t)a));
    f32x4 c = a.lo, d = a.hi;
    c = (f32x4)(((d > c) & (__attribute__((ext_vector_type(4))) int32_t)d) | (~(d > c) & (__attribute__((ext_vector_type(4))) int32_t)c));
    float m0 = c.y >= c.x ? c.y : c.x, m1 = c.w >= c.z ? c.w : c.z;
    return m1 >= m0 ? m1 : m0;
}

/// exp, 16 lanes (Cephes polynomial, about 2 ulp); below -87.3 (and -inf) exactly 0.
INLINE f32x16 vexp(f32x16 x) {
    const float lo = -87.33654f, hi = 88.37626f;
    f32x16 v = select16(x > hi, splat(hi), x);
    i32x16 under = v < lo;
    v = select16(under, splat(lo), v);
    // n = round(v · log2 e) by the 1.5·2^23 trick, the integer left in the low mantissa bits.
    const float magic = 12582912.0f;
    f32x16 t = FMA(v, splat(1.4426950408889634f), splat(magic));
    f32x16 n = t - magic;
    f32x16 r = FMA(n, splat(-0.693359375f), v);
    r = FMA(n, splat(2.1219444e-4f), r);
    f32x16 p = FMA(r, splat(1.9875691500e-4f), splat(1.3981999507e-3f));
    p = FMA(p, r, splat(8.3334519073e-3f));
    p = FMA(p, r, splat(4.1665795894e-2f));
    p = FMA(p, r, splat(1.6666665459e-1f));
    p = FMA(p, r, splat(5.0000001201e-1f));
    p = FMA(p, r * r, r + 1);
    // 2^n: (bits(t) − bits(magic) + 127) << 23
    u32x16 bits = (((u32x16)t - (u32x16)0x4B400000u) + 127u) << 23;
    f32x16 result = p * (f32x16)bits;
    return select16(under, splat(0), result);
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
INLINE f32x16 verf(f32x16 x) {
    u32x16 bits = (u32x16)x;
    u32x16 sign = bits & 0x80000000u;
    f32x16 a = (f32x16)(bits & 0x7FFFFFFFu);
    f32x16 t = 1 / (1 + 0.3275911f * a);
    f32x16 p = 1.061405429f * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    f32x16 y = 1 - p * t * vexp(-a * a);
    return (f32x16)((u32x16)y | sign);
}

// MARK: - Row reductions

static float row_max(const float *x, long n) {
    f32x16 m = splat(-INFINITY);
    long i = 0;
    for (; i + 16 <= n; i += 16) { f32x16 v = load16(x + i); m = select16(v > m, v, m); }
    float best = hmax(m);
    for (; i < n; i++) if (x[i] > best) best = x[i];
    return best;
}

static float exp_shift_sum(float *y, const float *x, float shift, long n) {
    f32x16 acc = splat(0), s = splat(shift);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        f32x16 v = vexp(load16(x + i) - s);
        store16(y + i, v);
        acc += v;
    }
    float total = hsum(acc);
    if (i < n) {
        float tail[16];
        for (int j = 0; j < 16; j++) tail[j] = -INFINITY;
        for (long j = i; j < n; j++) tail[j - i] = x[j];
        f32x16 v = vexp(load16(tail) - s);
        for (long j = i; j < n; j++) { y[j] = v[j - i]; total += v[j - i]; }
    }
    return total;
}

static float log_sum_exp(const float *x, long n) {
    float m = row_max(x, n);
    f32x16 s = splat(m), acc = splat(0);
    long i = 0;
    for (; i + 16 <= n; i += 16) acc += vexp(load16(x + i) - s);
    float total = hsum(acc);
    for (; i < n; i++) total += expf(x[i] - m);
    return m + logf(total);
}

static void softmax_rows(float *y, const float *x, long n, long c) {
    for (long r = 0; r < n; r++) {
        float *yr = y + r * c;
        const float *xr = x + r * c;
        float m = row_max(xr, c);
        if (m == -INFINITY) { memset(yr, 0, sizeof(float) * (size_t)c); continue; }
        float inv = 1 / exp_shift_sum(yr, xr, m, c);
        for (long j = 0; j < c; j++) yr[j] *= inv;
    }
}

// MARK: - bf16 rounding (nearest, ties to even; NaN stays a quiet NaN): the same bits in every kernel

INLINE uint16_t bf16_scalar(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if (x != x) return (uint16_t)(u >> 16) | 0x40;  // quiet NaN
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

INLINE void store_bf16x16(uint16_t *dst, f32x16 f) {
    u32x16 v = (u32x16)f;
    u32x16 r = (v + 0x7FFFu + ((v >> 16) & 1u)) >> 16;
    i32x16 nan = f != f;
    r = (u32x16)(((i32x16)((v >> 16) | 0x40u) & nan) | ((i32x16)r & ~nan));
    u16x16 h = __builtin_convertvector(r, u16x16);
    memcpy(dst, &h, sizeof h);
}

// MARK: - Activations

static const float inv_sqrt2 = 0.7071067811865475f, inv_sqrt2pi = 0.3989422804014327f;
// GELU's tanh approximation (GPT-2's gelu_new): 0.5 x (1 + tanh(u)), u = √(2/π) (x + 0.044715 x³),
// computed as x σ(2u) (the same value: 0.5 (1 + tanh u) = σ(2u)), which stays finite for any x.
static const float gelu_tanh_c = 0.7978845608028654f, gelu_tanh_k = 0.044715f;

INLINE f32x16 act_forward(f32x16 v, int act) {
    switch (act) {
    case S2S_ACT_RELU: return select16(v < 0, splat(0), v);
    case S2S_ACT_GELU: return 0.5f * v * (1 + verf(v * inv_sqrt2));
    case S2S_ACT_GELU_TANH: return v / (1 + vexp(-2 * gelu_tanh_c * (v + gelu_tanh_k * v * v * v)));
    default: return v / (1 + vexp(-v));
    }
}

INLINE f32x16 act_backward(f32x16 v, f32x16 g, int act) {
    switch (act) {
    case S2S_ACT_RELU: return select16(v <= 0, splat(0), g);
    case S2S_ACT_GELU: {  // d/dx [x Φ(x)] = Φ(x) + x φ(x)
        f32x16 cdf = 0.5f * (1 + verf(v * inv_sqrt2));
        f32x16 pdf = inv_sqrt2pi * vexp(-0.5f * v * v);
        return g * (cdf + v * pdf);
    }
    case S2S_ACT_GELU_TANH: {  // y = x s, s = σ(2u): y' = s + x s (1 - s) 2 u'
        f32x16 s = 1 / (1 + vexp(-2 * gelu_tanh_c * (v + gelu_tanh_k * v * v * v)));
        f32x16 du = gelu_tanh_c * (1 + 3 * gelu_tanh_k * v * v);
        return g * (s + 2 * v * s * (1 - s) * du);
    }
    default: {
        f32x16 s = 1 / (1 + vexp(-v));
        return g * s * (1 + v * (1 - s));
    }
    }
}

// y and y16 (bf16(y), for a product that reads bf16) are each written when given.
static void activation_forward(float *y, uint16_t *y16, const float *x, long n, int act) {
    long i = 0;
    // One loop per activation, so that each inner loop has no switch in it.
#define S2S_ACT_LOOP(A) for (; i + 16 <= n; i += 16) { \
        f32x16 r = act_forward(load16(x + i), A); \
        if (y) store16(y + i, r); \
        if (y16) store_bf16x16(y16 + i, r); \
    }
    switch (act) {
    case S2S_ACT_RELU: S2S_ACT_LOOP(S2S_ACT_RELU) break;
    case S2S_ACT_GELU: S2S_ACT_LOOP(S2S_ACT_GELU) break;
    case S2S_ACT_GELU_TANH: S2S_ACT_LOOP(S2S_ACT_GELU_TANH) break;
    default: S2S_ACT_LOOP(S2S_ACT_SILU) break;
    }
#undef S2S_ACT_LOOP
    if (i < n) {
        float v[16] = {0};
        for (long j = i; j < n; j++) v[j - i] = x[j];
        f32x16 r = act_forward(load16(v), act);
        for (long j = i; j < n; j++) {
            if (y) y[j] = r[j - i];
            if (y16) y16[j] = bf16_scalar(r[j - i]);
        }
    }
}

// dx16 = bf16(dx) too when given (the gradient a bf16 product reads next).
static void activation_backward(float *dx, uint16_t *dx16, const float *dy, const float *x, long n, int act) {
    long i = 0;
#define S2S_ACT_LOOP(A) for (; i + 16 <= n; i += 16) { \
        f32x16 r = act_backward(load16(x + i), load16(dy + i), A); \
        store16(dx + i, r); \
        if (dx16) store_bf16x16(dx16 + i, r); \
    }
    switch (act) {
    case S2S_ACT_RELU: S2S_ACT_LOOP(S2S_ACT_RELU) break;
    case S2S_ACT_GELU: S2S_ACT_LOOP(S2S_ACT_GELU) break;
    case S2S_ACT_GELU_TANH: S2S_ACT_LOOP(S2S_ACT_GELU_TANH) break;
    default: S2S_ACT_LOOP(S2S_ACT_SILU) break;
    }
#undef S2S_ACT_LOOP
    if (i < n) {
        float v[16] = {0}, g[16] = {0};
        for (long j = i; j < n; j++) { v[j - i] = x[j]; g[j - i] = dy[j]; }
        f32x16 r = act_backward(load16(v), load16(g), act);
        for (long j = i; j < n; j++) {
            dx[j] = r[j - i];
            if (dx16) dx16[j] = bf16_scalar(r[j - i]);
        }
    }
}

// MARK: - Dropout, Adam, bf16, column sums

INLINE u32x16 mix(u32x16 x) {
    u32x16 h = x ^ (x >> 16);
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

/// Masks of elements first ..< first + 16: keep where 24 bits of the hash ≥ threshold, else 0.
INLINE f32x16 mask16(long first, uint32_t k0, uint32_t k1, uint32_t threshold, float keep) {
    const u32x16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    u32x16 i = (u32x16)(uint32_t)first + iota;
    u32x16 h = mix(mix(i ^ k0) ^ k1);
    i32x16 bits = (i32x16)(h >> 8);
    i32x16 kept = ((i32x16)((int32_t)threshold - 1) - bits) >> 31;  // all ones where bits ≥ threshold
    int32_t keepBits;
    memcpy(&keepBits, &keep, 4);
    return (f32x16)(kept & keepBits);
}

static void dropout(float *y, float *mask, const float *x, long first, long end, uint32_t k0, uint32_t k1,
                    uint32_t threshold, float keep) {
    long i = first;
    for (; i + 16 <= end; i += 16) {
        f32x16 m = mask16(i, k0, k1, threshold, keep);
        store16(mask + i, m);
        if (y) store16(y + i, load16(x + i) * m);
    }
    if (i < end) {
        f32x16 m = mask16(i, k0, k1, threshold, keep);
        for (long j = i; j < end; j++) {
            mask[j] = m[j - i];
            if (y) y[j] = x[j] * m[j - i];
        }
    }
}

static void adam(float *p, uint16_t *p16, float *m, float *v, const float *g, const float *decay, long n, float b1,
                 float b2, float stepSize, float c2r, float eps, float lrwd) {
    long i = 0;
    // The same operations in the same order as the scalar tail: every element gets the same bits.
    for (; i + 16 <= n; i += 16) {
        f32x16 gi = load16(g + i);
        f32x16 mi = b1 * load16(m + i) + (1 - b1) * gi;
        f32x16 vi = b2 * load16(v + i) + (1 - b2) * gi * gi;
        store16(m + i, mi);
        store16(v + i, vi);
        f32x16 update = stepSize * mi / (__builtin_elementwise_sqrt(vi) * c2r + eps);
        f32x16 pi = load16(p + i);
        f32x16 next = decay ? pi - (update + lrwd * load16(decay + i) * pi) : pi - update;
        store16(p + i, next);
        if (p16) store_bf16x16(p16 + i, next);
    }
    for (; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        float update = stepSize * m[i] / (sqrtf(v[i]) * c2r + eps);
        p[i] = decay ? p[i] - (update + lrwd * decay[i] * p[i]) : p[i] - update;
        if (p16) p16[i] = bf16_scalar(p[i]);
    }
}

static void to_bf16(uint16_t *dst, const float *src, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) store_bf16x16(dst + i, load16(src + i));
    for (; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

static void column_sums64(float *db, const float *dy, long n, long ld) {
    f32x16 a0 = load16(db), a1 = load16(db + 16), a2 = load16(db + 32), a3 = load16(db + 48);
    for (long r = 0; r < n; r++) {
        const float *row = dy + r * ld;
        a0 += load16(row); a1 += load16(row + 16); a2 += load16(row + 32); a3 += load16(row + 48);
    }
    store16(db, a0); store16(db + 16, a1); store16(db + 32, a2); store16(db + 48, a3);
}

// MARK: - LayerNorm

static void layernorm_forward(float *y, uint16_t *y16, float *mean, float *rstd, const float *x, const float *gamma,
                              const float *beta, long n, long d, float eps) {
    for (long r = 0; r < n; r++) {
        const float *xr = x + r * d;
        f32x16 acc = splat(0);
        long j = 0;
        for (; j + 16 <= d; j += 16) acc += load16(xr + j);
        float s = hsum(acc);
        for (; j < d; j++) s += xr[j];
        float m = s / (float)d;
        f32x16 vacc = splat(0), mv = splat(m);
        for (j = 0; j + 16 <= d; j += 16) { f32x16 c = load16(xr + j) - mv; vacc = FMA(c, c, vacc); }
        float v = hsum(vacc);
        for (; j < d; j++) { float c = xr[j] - m; v = FMAF(c, c, v); }
        float rs = 1 / sqrtf(v / (float)d + eps);
        if (y16) {  // only bf16 products read the output: its rounding alone is written
            uint16_t *yr = y16 + r * d;
            for (j = 0; j + 16 <= d; j += 16)
                store_bf16x16(yr + j, (load16(xr + j) - mv) * rs * load16(gamma + j) + load16(beta + j));
            for (; j < d; j++) yr[j] = bf16_scalar((xr[j] - m) * rs * gamma[j] + beta[j]);
        } else {
            float *yr = y + r * d;
            for (j = 0; j + 16 <= d; j += 16)
                store16(yr + j, (load16(xr + j) - mv) * rs * load16(gamma + j) + load16(beta + j));
            for (; j < d; j++) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
        }
        mean[r] = m;
        rstd[r] = rs;
    }
}

static void layernorm_backward_dx(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                                  const float *gamma, long n, long d) {
    for (long r = 0; r < n; r++) {
        const float *xr = x + r * d, *gr = dy + r * d;
        float *dxr = dx + r * d;
        float m = mean[r], rs = rstd[r];
        f32x16 ag = splat(0), agx = splat(0), mv = splat(m);
        long j = 0;
        for (; j + 16 <= d; j += 16) {
            f32x16 xhat = (load16(xr + j) - mv) * rs;
            f32x16 dxhat = load16(gr + j) * load16(gamma + j);
            ag += dxhat;
            agx = FMA(dxhat, xhat, agx);
        }
        float sumG = hsum(ag), sumGX = hsum(agx);
        for (; j < d; j++) {
            float xhat = (xr[j] - m) * rs, dxhat = gr[j] * gamma[j];
            sumG += dxhat;
            sumGX = FMAF(dxhat, xhat, sumGX);
        }
        float meanG = sumG / (float)d, meanGX = sumGX / (float)d;
        for (j = 0; j + 16 <= d; j += 16) {
            f32x16 xhat = (load16(xr + j) - mv) * rs;
            store16(dxr + j, load16(dxr + j) + rs * (load16(gr + j) * load16(gamma + j) - meanG - xhat * meanGX));
        }
        for (; j < d; j++) {
            float xhat = (xr[j] - m) * rs;
            dxr[j] += rs * (gr[j] * gamma[j] - meanG - xhat * meanGX);
        }
    }
}

/// Transposes 16 rows of 16 lanes: four rounds of deinterleaving pairs, each of which rotates the
/// 8-bit (row, lane) index right by one bit.
INLINE void transpose16(f32x16 m[16]) {
    for (int round = 0; round < 4; round++) {
        f32x16 old[16];
        for (int r = 0; r < 16; r++) old[r] = m[r];
        for (int p = 0; p < 8; p++) {
            m[p] = __builtin_shufflevector(old[2 * p], old[2 * p + 1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                           26, 28, 30);
            m[p + 8] = __builtin_shufflevector(old[2 * p], old[2 * p + 1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
                                               25, 27, 29, 31);
        }
    }
}

// MARK: - Batch-invariant linear layers
//
// y[r, j] = b[j] + s_0 + s_1 + … (added in that order; b = 0 without a bias), where s_p is the fused
// multiply-add chain over slice p's features, k ascending from a zero start:
//     s_p = fma(x[r, k_last], W[j, k_last], … fma(x[r, k_first], W[j, k_first], 0))
// with slices of 256 features. A value's bits depend on its own row and column only: not on how many
// rows there are, how columns are split between threads, or the level (AVX2 and AVX-512 run the same
// operations; the portable level rounds each product before adding it, as everywhere else). Decoding
// and encoding run every float32 linear layer through here, so that a sentence translates to the same
// bits whatever it is batched with.
//
// Vectorized across 16 output columns: W is read as panels, panel p holding columns 16p ..< 16p + 16
// feature-major (panel[k · 16 + c] = W[16p + c, k], zero past O). A model's panels are made once
// (s2s_pack_panels); without them each call transposes W a slice at a time into the same layout, 16 ×
// 16 in registers. Every group of input rows then passes over a slice of panels with one accumulator
// vector per row and panel, each input value broadcast.

#define INV_SLICE 256
// Tiles of C panels × R rows. Each accumulator is a chain of dependent FMAs (4 cycles each), so a tile
// needs about 8 of them (16 ymm at AVX2) to keep both FMA pipes busy: with fewer rows, more panels.
#if S2S_LEVEL >= 2
#define INV_BLOCKS 2   // 2 panels × 12 rows: 24 accumulators + 2 W vectors + 1 broadcast in 32 zmm
#define INV_ROWS 12
#elif S2S_LEVEL == 1
#define INV_BLOCKS 1   // 1 panel × 6 rows: 12 ymm accumulators + 2 W + 1 broadcast in 16 ymm
#define INV_ROWS 6
#else
#define INV_BLOCKS 1
#define INV_ROWS 3
#endif
#define INV_MAX_PANELS 8

/// Panels per tile for a call over n rows (the panels made by s2s_pack_panels); without panels, W is
/// transposed into a stack buffer of INV_BLOCKS panels.
static int inv_panels_for_rows(long n) {
#if S2S_LEVEL >= 2
    return n == 1 ? 8 : n <= 3 ? 4 : 2;
#elif S2S_LEVEL == 1
    return n == 1 ? 4 : n == 2 ? 2 : 1;
#else
    (void)n;
    return 1;
#endif
}
/// Rows per tile with C panels.
static int inv_rows_for_panels(int C) { return C == INV_BLOCKS ? INV_ROWS : INV_ROWS * INV_BLOCKS / C; }

/// panel[k · 16 + c] = W[j + c, k0 + k] for k < piece and c < 16 (zero for c ≥ cols).
INLINE void inv_pack16(float *panel, const float *w, long i, long j, long cols, long k0, long piece) {
    long k = 0;
    if (cols == 16) {
        for (; k + 16 <= piece; k += 16) {
            f32x16 m[16];
            for (int c = 0; c < 16; c++) m[c] = load16(w + (j + c) * i + k0 + k);
            transpose16(m);
            for (int t = 0; t < 16; t++) store16(panel + (k + t) * 16, m[t]);
        }
    }
    for (; k < piece; k++)
        for (int c = 0; c < 16; c++) panel[k * 16 + c] = c < cols ? w[(j + c) * i + k0 + k] : 0.0f;
}

/// Panels p0 ..< p1 of W[O, I] into panels + p · I · 16.
static void pack_panels(float *panels, const float *w, long o, long i, long p0, long p1) {
    for (long p = p0; p < p1; p++) {
        long cols = o - 16 * p;
        inv_pack16(panels + p * i * 16, w, i, 16 * p, cols < 0 ? 0 : cols > 16 ? 16 : cols, 0, i);
    }
}

/// Rows r < R of one tile over a slice of `piece` features: y[r, c] = (first ? start[c] : y[r, c]) + the
/// slice's chain, for c < cols; W from C panels `panelStride` apart, 16 floats per feature.
INLINE void inv_tile(float *y, long ldy, const float *x, long ldx, const int C, const int R, const float *panel,
                     long panelStride, long piece, int first, const float *start, long cols) {
    f32x16 a[INV_ROWS][INV_MAX_PANELS];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++)
        _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++) a[r][c] = splat(0);
    for (long k = 0; k < piece; k++) {
        f32x16 wv[INV_MAX_PANELS];
        _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++) wv[c] = load16(panel + c * panelStride + k * 16);
        // Unrolled, so that the accumulators stay in registers.
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
            f32x16 xv = splat(x[r * ldx + k]);
            _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++) a[r][c] = FMA(xv, wv[c], a[r][c]);
        }
    }
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        float *out = y + r * ldy;
        _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++) {
            long valid = cols - 16 * c;
            if (valid >= 16) {
                f32x16 before = first ? load16(start + 16 * c) : load16(out + 16 * c);
                store16(out + 16 * c, before + a[r][c]);
            } else {
                for (long t = 0; t < valid; t++) {
                    float before = first ? start[16 * c + t] : out[16 * c + t];
                    out[16 * c + t] = before + a[r][c][t];
                }
            }
        }
    }
}

#define INV_TILE(C, R) \
    __attribute__((noinline, unused)) static void inv_tile_##C##_##R(float *y, long ldy, const float *x, long ldx, \
        const float *panel, long panelStride, long piece, int first, const float *start, long cols) { \
        inv_tile(y, ldy, x, ldx, C, R, panel, panelStride, piece, first, start, cols); }
#define INV_CASE(C, R) case R: inv_tile_##C##_##R(y, ldy, x, ldx, panel, panelStride, piece, first, start, cols); return;

#if S2S_LEVEL >= 2
INV_TILE(2, 1) INV_TILE(2, 2) INV_TILE(2, 3) INV_TILE(2, 4) INV_TILE(2, 5) INV_TILE(2, 6)
INV_TILE(2, 7) INV_TILE(2, 8) INV_TILE(2, 9) INV_TILE(2, 10) INV_TILE(2, 11) INV_TILE(2, 12)
INV_TILE(4, 1) INV_TILE(4, 2) INV_TILE(4, 3) INV_TILE(4, 4) INV_TILE(4, 5) INV_TILE(4, 6)
INV_TILE(8, 1) INV_TILE(8, 2) INV_TILE(8, 3)
#elif S2S_LEVEL == 1
INV_TILE(1, 1) INV_TILE(1, 2) INV_TILE(1, 3) INV_TILE(1, 4) INV_TILE(1, 5) INV_TILE(1, 6)
INV_TILE(2, 1) INV_TILE(2, 2) INV_TILE(2, 3)
INV_TILE(4, 1)
#else
INV_TILE(1, 1) INV_TILE(1, 2) INV_TILE(1, 3)
#endif

static void inv_rows(int C, int R, float *y, long ldy, const float *x, long ldx, const float *panel, long panelStride,
                     long piece, int first, const float *start, long cols) {
#if S2S_LEVEL >= 2
    if (C == 2) switch (R) { INV_CASE(2, 1) INV_CASE(2, 2) INV_CASE(2, 3) INV_CASE(2, 4) INV_CASE(2, 5) INV_CASE(2, 6)
                             INV_CASE(2, 7) INV_CASE(2, 8) INV_CASE(2, 9) INV_CASE(2, 10) INV_CASE(2, 11) INV_CASE(2, 12) }
    if (C == 4) switch (R) { INV_CASE(4, 1) INV_CASE(4, 2) INV_CASE(4, 3) INV_CASE(4, 4) INV_CASE(4, 5) INV_CASE(4, 6) }
    if (C == 8) switch (R) { INV_CASE(8, 1) INV_CASE(8, 2) INV_CASE(8, 3) }
#elif S2S_LEVEL == 1
    if (C == 1) switch (R) { INV_CASE(1, 1) INV_CASE(1, 2) INV_CASE(1, 3) INV_CASE(1, 4) INV_CASE(1, 5) INV_CASE(1, 6) }
    if (C == 2) switch (R) { INV_CASE(2, 1) INV_CASE(2, 2) INV_CASE(2, 3) }
    if (C == 4) switch (R) { INV_CASE(4, 1) }
#else
    if (C == 1) switch (R) { INV_CASE(1, 1) INV_CASE(1, 2) INV_CASE(1, 3) }
#endif
}
#undef INV_CASE

/// y[N, O] (row stride O) = x[N, I] · W[O, I]ᵀ + bias for columns jBegin ..< jEnd (jBegin a multiple of
/// 128), from `panels` (s2s_pack_panels, a multiple of 8 of them) or, when NULL, from W itself.
static void invariant_linear(float *y, const float *x, const float *w, const float *panels, const float *bias, long n,
                             long i, long o, long jBegin, long jEnd) {
    static const float zeros[16 * INV_MAX_PANELS] = {0};
    float pack[INV_BLOCKS * INV_SLICE * 16] __attribute__((aligned(64)));
    const int C = panels ? inv_panels_for_rows(n) : INV_BLOCKS;
    const int rowsPerTile = inv_rows_for_panels(C);
    // Rows in blocks of 8 tiles, so that a block's inputs (96 rows × K floats: 288 KB at K = 768)
    // stay in L2 while every column passes over them; without blocks, each 16·C columns re-read all
    // of x from L3. Each value's operations are the same in any order of the loops.
    const long rowBlock = 8L * rowsPerTile;
    for (long rb = 0; rb < n; rb += rowBlock) {
        const long rEnd = n - rb < rowBlock ? n : rb + rowBlock;
        for (long j = jBegin; j < jEnd; j += 16 * C) {
            long cols = jEnd - j < 16 * C ? jEnd - j : 16 * C;
            const float *start = bias ? bias + j : zeros;
            long k0 = 0;
            do {
                long piece = i - k0 < INV_SLICE ? i - k0 : INV_SLICE;
                const float *panel;
                long panelStride;
                if (panels) {
                    panel = panels + (j / 16) * i * 16 + k0 * 16;
                    panelStride = i * 16;
                } else {
                    for (int c = 0; c < C; c++) {
                        long blockCols = cols - 16 * c;
                        inv_pack16(pack + c * INV_SLICE * 16, w, i, j + 16 * c,
                                   blockCols < 0 ? 0 : blockCols > 16 ? 16 : blockCols, k0, piece);
                    }
                    panel = pack;
                    panelStride = INV_SLICE * 16;
                }
                for (long r0 = rb; r0 < rEnd; r0 += rowsPerTile) {
                    int R = rEnd - r0 < rowsPerTile ? (int)(rEnd - r0) : rowsPerTile;
                    inv_rows(C, R, y + r0 * o + j, o, x + r0 * i + k0, i, panel, panelStride, piece, k0 == 0, start, cols);
                }
                k0 += piece;
            } while (k0 < i);
        }
    }
}

// MARK: - Linear layers over a few rows

/// One W row at a time against R ≤ 5 input rows whose accumulators stay in registers.
INLINE void row_group(float *y, const float *x, const float *w, const int R, long i, long columns, long ldy) {
    long vectorEnd = i & ~15L;
    for (long j = 0; j < columns; j++) {
        const float *wj = w + j * i;
        f32x16 a[5] = {splat(0), splat(0), splat(0), splat(0), splat(0)};
        for (long k = 0; k < vectorEnd; k += 16) {
            f32x16 v = load16(wj + k);
            for (int r = 0; r < R; r++) a[r] = FMA(load16(x + r * i + k), v, a[r]);
        }
        for (int r = 0; r < R; r++) {
            float s = hsum(a[r]);
            for (long t = vectorEnd; t < i; t++) s += x[r * i + t] * wj[t];
            y[r * ldy + j] += s;
        }
    }
}

__attribute__((noinline)) static void row_group1(float *y, const float *x, const float *w, long i, long c, long ldy) { row_group(y, x, w, 1, i, c, ldy); }
__attribute__((noinline)) static void row_group2(float *y, const float *x, const float *w, long i, long c, long ldy) { row_group(y, x, w, 2, i, c, ldy); }
__attribute__((noinline)) static void row_group3(float *y, const float *x, const float *w, long i, long c, long ldy) { row_group(y, x, w, 3, i, c, ldy); }
__attribute__((noinline)) static void row_group4(float *y, const float *x, const float *w, long i, long c, long ldy) { row_group(y, x, w, 4, i, c, ldy); }
__attribute__((noinline)) static void row_group5(float *y, const float *x, const float *w, long i, long c, long ldy) { row_group(y, x, w, 5, i, c, ldy); }

static void row_group_linear(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy) {
    switch (rows) {
    case 1: row_group1(y, x, w, i, columns, ldy); break;
    case 2: row_group2(y, x, w, i, columns, ldy); break;
    case 3: row_group3(y, x, w, i, columns, ldy); break;
    case 4: row_group4(y, x, w, i, columns, ldy); break;
    default: row_group5(y, x, w, i, columns, ldy); break;
    }
}

/// One input row against W rows j and j + half: two read streams half the matrix apart.
static void one_row_linear(float *y, const float *x, const float *w, long i, long half, long jBegin, long jEnd) {
    long vectorEnd = i & ~15L;
    for (long j = jBegin; j < jEnd; j++) {
        const float *w0 = w + j * i, *w1 = w0 + half * i;
        f32x16 a = splat(0), b = splat(0);
        for (long k = 0; k < vectorEnd; k += 16) {
            f32x16 xv = load16(x + k);
            a = FMA(xv, load16(w0 + k), a);
            b = FMA(xv, load16(w1 + k), b);
        }
        float sa = hsum(a), sb = hsum(b);
        for (long t = vectorEnd; t < i; t++) sa += x[t] * w0[t];
        for (long t = vectorEnd; t < i; t++) sb += x[t] * w1[t];
        y[j] += sa;
        y[j + half] += sb;
    }
}

// MARK: - Attention over cached keys and values

/// The first n (0 < n < 16) floats at p in the low lanes, zeros above; nothing past p + n is read
/// (masked loads do not fault on the lanes they leave out).
INLINE f32x16 load_first(const float *p, long n) {
#if S2S_LEVEL >= 2
    return (f32x16)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#elif S2S_LEVEL == 1
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 lo = _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane));
    __m256 hi = _mm256_maskload_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lane));
    return __builtin_shufflevector((f32x8)lo, (f32x8)hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    f32x16 v = splat(0);
    for (long t = 0; t < n; t++) v[t] = p[t];
    return v;
#endif
}

/// Stores the low n (0 < n < 16) lanes of v at p; nothing past p + n is written.
INLINE void store_first(float *p, f32x16 v, long n) {
#if S2S_LEVEL >= 2
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#elif S2S_LEVEL == 1
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane), (__m256)v.lo);
    _mm256_maskstore_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lane), (__m256)v.hi);
#else
    for (long t = 0; t < n; t++) p[t] = v[t];
#endif
}

/// Lane sums of a[t] · b[t] over t < dh: whole vectors, then the last dh mod 16 in one partial
/// vector (a head width such as 40 costs three vector steps, not two and eight scalar ones).
INLINE f32x16 dot_vec(const float *a, const float *b, long vectorEnd, long dh) {
    f32x16 acc = splat(0);
    for (long i = 0; i < vectorEnd; i += 16) acc = FMA(load16(a + i), load16(b + i), acc);
    if (vectorEnd < dh) acc = FMA(load_first(a + vectorEnd, dh - vectorEnd), load_first(b + vectorEnd, dh - vectorEnd), acc);
    return acc;
}

static void head_scores(float *p, const float *q, const float *keys, long count, long heads, long dh, float scale) {
    long d = heads * dh, vectorEnd = dh & ~15L;
    for (long j = 0; j < count; j++) {
        const float *k = keys + j * d;
        long h = 0;
        for (; h + 4 <= heads; h += 4) {
            long o = h * dh;
            f32x4 s = sums4(dot_vec(q + o, k + o, vectorEnd, dh), dot_vec(q + o + dh, k + o + dh, vectorEnd, dh),
                            dot_vec(q + o + 2 * dh, k + o + 2 * dh, vectorEnd, dh),
                            dot_vec(q + o + 3 * dh, k + o + 3 * dh, vectorEnd, dh));
            s *= scale;
            for (int t = 0; t < 4; t++) p[(h + t) * count + j] = s[t];
        }
        for (; h < heads; h++) {
            long o = h * dh;
            p[h * count + j] = hsum(dot_vec(q + o, k + o, vectorEnd, dh)) * scale;
        }
    }
}

static void head_weighted_sum(float *out, const float *p, const float *values, long count, long heads, long dh) {
    long d = heads * dh, vectorEnd = dh & ~15L;
    memset(out, 0, sizeof(float) * (size_t)d);
    for (long j = 0; j < count; j++) {
        const float *v = values + j * d;
        for (long h = 0; h < heads; h++) {
            float w = p[h * count + j];
            if (w == 0) continue;  // masked source positions
            float *o = out + h * dh;
            const float *vh = v + h * dh;
            f32x16 wv = splat(w);
            long i = 0;
            for (; i < vectorEnd; i += 16) store16(o + i, FMA(wv, load16(vh + i), load16(o + i)));
            if (i < dh) store_first(o + i, FMA(wv, load_first(vh + i, dh - i), load_first(o + i, dh - i)), dh - i);
        }
    }
}

/// xt[t, j] = x[j·d + t] for t < dh and j < count, zero for count ≤ j < cp: one head's rows
/// transposed, so that 16 keys (or values) of one column t sit in one vector.
INLINE void transpose_head(float *xt, const float *x, long count, long cp, long d, long dh) {
    for (long t = 0; t < dh; t++) {
        float *row = xt + t * cp;
        for (long j = 0; j < count; j++) row[j] = x[j * d + t];
        for (long j = count; j < cp; j++) row[j] = 0;
    }
}

/// s[r, jb ..< jb + 16] = a_{r} · b_j (r < R ≤ 4, one head's dh columns of rows a + r·d, b transposed in
/// bt [dh, cp]), accumulated over t < dh by FMAs in order: the lanes of one block of 16 keys.
INLINE void row_block_products(f32x16 acc[4], const float *a, long d, long R, const float *bt, long cp, long jb, long dh) {
    for (long r = 0; r < 4; r++) acc[r] = splat(0);
    for (long t = 0; t < dh; t++) {
        f32x16 bv = load16(bt + t * cp + jb);
        for (long r = 0; r < R; r++) acc[r] = FMA(splat(a[r * d + t]), bv, acc[r]);
    }
}

/// out_r[c ..< c + width] = scale · Σ_{j < count} w[r·ldr + j·ldj] · x_j[c ..< c + width] for rows r < R ≤ 4
/// (x_j = x + j·d), stored at out + r·d: weighted sums of one head's 16 (or the last `width`) columns,
/// accumulated over j by FMAs in order.
INLINE void weighted_rows(float *out, long d, long R, const float *w, long ldr, long ldj, const float *x, long count,
                          long c, long width, float scale) {
    f32x16 acc[4] = {splat(0), splat(0), splat(0), splat(0)};
    for (long j = 0; j < count; j++) {
        const float *xj = x + j * d + c;
        f32x16 xv = width == 16 ? load16(xj) : load_first(xj, width);
        for (long r = 0; r < R; r++) acc[r] = FMA(splat(w[r * ldr + j * ldj]), xv, acc[r]);
    }
    for (long r = 0; r < R; r++) {
        f32x16 y = scale == 1 ? acc[r] : acc[r] * scale;
        if (width == 16) store16(out + r * d + c, y); else store_first(out + r * d + c, y, width);
    }
}

/// One sequence's attention over its own keys, every query row at once, head by head (encoding):
///   probs[h, i, j] = softmax_j(scale · q_i[h] · k_j[h]) over keys j < count (−∞ where valid[j] is 0),
///   ctx[i, h·dh ..< (h+1)·dh] = Σ_j probs[h, i, j] · v_j[h]
/// for query rows i < n of q [n, heads·dh] against k, v [count, heads·dh]. probs[h, i, j] at
/// probs + h·hs + i·ldp (columns from count on are left alone); heads h0 ..< h1 only (threads split the heads).
/// Each head's keys are transposed into scratch [dh, count rounded up to 16], so that a query's
/// scores are 16 keys per vector, accumulated over t < dh by FMAs in order: no horizontal sums.
/// scratch holds dh · cp + 4 · cp floats, cp = count rounded up to 16. Every value depends on its
/// own row, the keys and the values alone, not on n or on the rows around it.
static void sequence_attention(float *ctx, float *probs, long hs, long ldp, const float *q, const float *k, const float *v,
                               const uint8_t *valid, long n, long count, long heads, long dh, float scale,
                               long h0, long h1, float *scratch) {
    long d = heads * dh, cp = (count + 15) & ~15L;
    float *kt = scratch, *sc = scratch + dh * cp;  // kt [dh, cp]; sc [4, cp]: scores, then probabilities
    for (long h = h0; h < h1; h++) {
        long o = h * dh;
        transpose_head(kt, k + o, count, cp, d, dh);
        for (long i0 = 0; i0 < n; i0 += 4) {
            long R = n - i0 < 4 ? n - i0 : 4;
            for (long jb = 0; jb < cp; jb += 16) {
                f32x16 acc[4];
                row_block_products(acc, q + i0 * d + o, d, R, kt, cp, jb, dh);
                for (long r = 0; r < R; r++) store16(sc + r * cp + jb, acc[r] * scale);
            }
            for (long r = 0; r < R; r++) {
                float *pr = sc + r * cp;
                for (long j = 0; j < count; j++) if (!valid[j]) pr[j] = -INFINITY;
                softmax_rows(pr, pr, 1, count);
                if (probs) memcpy(probs + h * hs + (i0 + r) * ldp, pr, sizeof(float) * (size_t)count);
            }
            for (long c = 0; c < dh; c += 16)
                weighted_rows(ctx + i0 * d + o, d, R, sc, cp, 1, v + o, count, c, dh - c < 16 ? dh - c : 16, 1);
        }
    }
}

// MARK: - Attention of a full pass (Kernels/Attention.swift)

/// One sequence's attention in a full (training or scoring) pass, heads h0 ..< h1:
///   probs[h, i, j] = softmax_j(scale · q_i[h] · k_j[h]), −∞ where valid[j] is 0 (valid NULL: none) and,
///                    when causal, where j > i;
///   dropped[h, i, j] = probs[h, i, j] · mask[h, i, j] (both NULL without attention dropout);
///   ctx[i, h·dh ..< (h+1)·dh] = Σ_j dropped (or probs)[h, i, j] · v_j[h]
/// for queries i < tq of q [tq, d] and keys j < tk of k, v [tk, d] (d = heads·dh, head h at columns h·dh);
/// probs, dropped and mask [heads, tq, tk]. Scores come four query rows by 16 keys at a time from the
/// keys transposed into scratch (dh · cp floats, cp = tk rounded up to 16); with the causal mask, the
/// keys past a group's last row are never computed (their probabilities are exactly 0).
static void attention_forward(float *ctx, float *probs, float *dropped, const float *mask, const float *q,
                              const float *k, const float *v, const uint8_t *valid, long tq, long tk, long heads,
                              long dh, int causal, float scale, long h0, long h1, float *scratch) {
    long d = heads * dh, cp = (tk + 15) & ~15L;
    float *kt = scratch;
    for (long h = h0; h < h1; h++) {
        long o = h * dh, hs = h * tq * tk;
        float *ph = probs + hs;
        transpose_head(kt, k + o, tk, cp, d, dh);
        for (long i0 = 0; i0 < tq; i0 += 4) {
            long R = tq - i0 < 4 ? tq - i0 : 4;
            long jEnd = causal && i0 + R < tk ? i0 + R : tk;  // keys any of the R rows sees
            for (long jb = 0; jb < jEnd; jb += 16) {
                f32x16 acc[4];
                row_block_products(acc, q + i0 * d + o, d, R, kt, cp, jb, dh);
                long width = tk - jb < 16 ? tk - jb : 16;
                for (long r = 0; r < R; r++) {
                    float *out = ph + (i0 + r) * tk + jb;
                    if (width == 16) store16(out, acc[r] * scale); else store_first(out, acc[r] * scale, width);
                }
            }
            for (long r = 0; r < R; r++) {
                long i = i0 + r;
                float *pr = ph + i * tk;
                if (valid) for (long j = 0; j < tk; j++) if (!valid[j]) pr[j] = -INFINITY;
                if (causal) for (long j = i + 1; j < tk; j++) pr[j] = -INFINITY;  // past jEnd: never computed
                softmax_rows(pr, pr, 1, tk);
                if (dropped) {
                    float *dr = dropped + hs + i * tk;
                    const float *mr = mask + hs + i * tk;
                    for (long j = 0; j < tk; j++) dr[j] = pr[j] * mr[j];
                }
            }
            const float *weights = (dropped ? dropped + hs : ph) + i0 * tk;
            for (long c = 0; c < dh; c += 16)
                weighted_rows(ctx + i0 * d + o, d, R, weights, tk, 1, v + o, jEnd, c, dh - c < 16 ? dh - c : 16, 1);
        }
    }
}

/// Backward of attention_forward for one sequence's heads h0 ..< h1, dq [tq, d], dk and dv [tk, d]
/// (those heads' columns overwritten), from dctx [tq, d] and the forward pass's probs, dropped and mask:
///   g = dctx_h · v_hᵀ ∘ mask;  dS = probs ∘ (g − rowsum(g ∘ probs));
///   dv_h = droppedᵀ · dctx_h;  dq_h = scale · dS · k_h;  dk_h = scale · dSᵀ · q_h.
/// scratch holds dh · cp + tq · cp floats (cp = tk rounded up to 16): the values transposed and dS.
/// With the causal mask, the entries past the diagonal (probabilities exactly 0) are skipped.
static void attention_backward(float *dq, float *dk, float *dv, const float *dctx, const float *q, const float *k,
                               const float *v, const float *probs, const float *dropped, const float *mask, long tq,
                               long tk, long heads, long dh, int causal, float scale, long h0, long h1, float *scratch) {
    long d = heads * dh, cp = (tk + 15) & ~15L, vectorEnd = tk & ~15L;
    float *vt = scratch, *g = scratch + dh * cp;  // vt [dh, cp]; g [tq, cp]
    for (long h = h0; h < h1; h++) {
        long o = h * dh, hs = h * tq * tk;
        const float *ph = probs + hs, *pd = dropped ? dropped + hs : ph;
        transpose_head(vt, v + o, tk, cp, d, dh);
        for (long i0 = 0; i0 < tq; i0 += 4) {
            long R = tq - i0 < 4 ? tq - i0 : 4;
            long jEnd = causal && i0 + R < tk ? i0 + R : tk;
            for (long jb = 0; jb < jEnd; jb += 16) {
                f32x16 acc[4];
                row_block_products(acc, dctx + i0 * d + o, d, R, vt, cp, jb, dh);
                for (long r = 0; r < R; r++) store16(g + (i0 + r) * cp + jb, acc[r]);
            }
            for (long r = 0; r < R; r++) {
                long i = i0 + r, jn = causal && i + 1 < tk ? i + 1 : tk;
                float *gr = g + i * cp;
                const float *pr = ph + i * tk;
                if (mask) { const float *mr = mask + hs + i * tk; for (long j = 0; j < jn; j++) gr[j] *= mr[j]; }
                for (long j = jn; j < tk; j++) gr[j] = 0;
                float dot = hsum(dot_vec(gr, pr, vectorEnd, tk));
                for (long j = 0; j < jn; j++) gr[j] = pr[j] * (gr[j] - dot);
            }
        }
        for (long c = 0; c < dh; c += 16) {
            long width = dh - c < 16 ? dh - c : 16;
            for (long i0 = 0; i0 < tq; i0 += 4) {  // dq rows: keys j < jEnd (the rest of dS is 0)
                long R = tq - i0 < 4 ? tq - i0 : 4, jEnd = causal && i0 + R < tk ? i0 + R : tk;
                weighted_rows(dq + i0 * d + o, d, R, g + i0 * cp, cp, 1, k + o, jEnd, c, width, scale);
            }
            for (long j0 = 0; j0 < tk; j0 += 4) {  // dv and dk rows: queries i ≥ iBegin (causal: i ≥ j0)
                long R = tk - j0 < 4 ? tk - j0 : 4, iBegin = causal ? (j0 < tq ? j0 : tq) : 0;
                weighted_rows(dv + j0 * d + o, d, R, pd + iBegin * tk + j0, 1, tk, dctx + iBegin * d + o, tq - iBegin, c,
                              width, 1);
                weighted_rows(dk + j0 * d + o, d, R, g + iBegin * cp + j0, 1, cp, q + iBegin * d + o, tq - iBegin, c,
                              width, scale);
            }
        }
    }
}

// MARK: - int8 activations

static float max_abs(const float *x, long n) {
    f32x16 m = splat(0);
    long t = 0;
    for (; t + 16 <= n; t += 16) {
        f32x16 a = (f32x16)((u32x16)load16(x + t) & 0x7FFFFFFFu);
        m = select16(a > m, a, m);  // NaN compares false: dropped
    }
    float best = 0;
    for (int j = 0; j < 16; j++) if (m[j] > best) best = m[j];
    for (; t < n; t++) { float a = fabsf(x[t]); if (a > best) best = a; }
    return best;
}

static void quantize_row(uint8_t *out, const float *x, long n, float inv, int32_t zeroPoint) {
    for (long t = 0; t < n; t++) {
        float q = __builtin_roundevenf(x[t] * inv);
        // NaN (a NaN in a row of finite values) goes to the zero point; the range is ±levels otherwise.
        int32_t v = q == q ? (int32_t)fmaxf(-128.0f, fminf(127.0f, q)) : 0;
        out[t] = (uint8_t)(v + zeroPoint);
    }
}

/// One row of an int8 product back to float: y[j] = (c[j] − correction[j]) · (sx · ws[j]) + bias[j]
/// (bias NULL: + 0) for j < o, in that order (no fused multiply-add), so every level gives the same
/// bits as the tiles' own stores. The subtraction wraps as the integer sums do.
static void dequantize_row(float *y, const int32_t *c, long o, float sx, const float *ws, const int32_t *correction,
                           const float *bias) {
    if (bias) {
        for (long j = 0; j < o; j++) y[j] = (float)(int32_t)((uint32_t)c[j] - (uint32_t)correction[j]) * (sx * ws[j]) + bias[j];
    } else {
        for (long j = 0; j < o; j++) y[j] = (float)(int32_t)((uint32_t)c[j] - (uint32_t)correction[j]) * (sx * ws[j]) + 0.0f;
    }
}

#if S2S_LEVEL >= 1
#include "kernels_int8_avx2.h"
#endif
#if S2S_LEVEL >= 2
#include "kernels_tiles_avx512.h"
#endif

const s2s_kernel_table S2S_TABLE = {
    .row_max = row_max,
    .exp_shift_sum = exp_shift_sum,
    .log_sum_exp = log_sum_exp,
    .softmax_rows = softmax_rows,
    .activation_forward = activation_forward,
    .activation_backward = activation_backward,
    .dropout = dropout,
    .adam = adam,
    .to_bf16 = to_bf16,
    .column_sums64 = column_sums64,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward_dx = layernorm_backward_dx,
    .row_group_linear = row_group_linear,
    .one_row_linear = one_row_linear,
    .invariant_linear = invariant_linear,
    .pack_panels = pack_panels,
    .head_scores = head_scores,
    .head_weighted_sum = head_weighted_sum,
    .sequence_attention = sequence_attention,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .max_abs = max_abs,
    .quantize_row = quantize_row,
    .dequantize_row = dequantize_row,
#if S2S_LEVEL >= 1
    .int8_tiles = int8_tiles,
#endif
#if S2S_LEVEL >= 2
    .tile_linear = tile_linear,
    .transpose_rows = transpose_rows,
    .broadcast_linear = broadcast_linear,
#endif
};
