// The kernel layer's instruction-set code: every loop that needs AVX2/FMA or AVX-512 to run at
// speed, compiled three times (portable, AVX2+FMA, AVX-512) with per-function target attributes,
// and one of the three chosen once at start-up from what the processor reports (CPUID), or from
// SEQ2SEQ_ISA=portable|avx2|avx512. No build flag is needed: the same binary runs on any x86-64,
// and on other processors (arm64) only the portable level is compiled.
//
// Conventions (llm.c's): outputs first, then inputs, then dimensions; sizes are `long`.
// Dims legend: N rows, C columns, I input features, O output features, K padded row length.
#ifndef S2S_CKERNELS_H
#define S2S_CKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Instruction-set levels

enum {
    S2S_ISA_PORTABLE = 0,  // any processor: 16-lane vectors lowered to what the base target has, no FMA
    S2S_ISA_AVX2 = 1,      // AVX2 + FMA (x86-64-v3)
    S2S_ISA_AVX512 = 2,    // AVX-512 F, BW, CD, DQ, VL (x86-64-v4)
};

// Processor features, as bits of s2s_cpu_features().
enum {
    S2S_CPU_AVX2 = 1 << 0,
    S2S_CPU_FMA = 1 << 1,
    S2S_CPU_AVX512 = 1 << 2,       // F, BW, CD, DQ, VL with the OS saving the zmm state
    S2S_CPU_AVX512_VNNI = 1 << 3,
    S2S_CPU_AVX512_BF16 = 1 << 4,
    S2S_CPU_AVX_VNNI = 1 << 5,
    S2S_CPU_AMX = 1 << 6,
};

/// The highest level this processor runs.
int s2s_isa_supported(void);
/// The level the kernels run at: the highest supported, or SEQ2SEQ_ISA's when it names one at or
/// below it.
int s2s_isa_active(void);
/// Switches the kernels to `level`; returns 0, or -1 (nothing changed) above the supported level.
int s2s_isa_select(int level);
/// "portable", "avx2", "avx512" (NULL for other values).
const char *s2s_isa_name(int level);
/// What was wrong with SEQ2SEQ_ISA (an unknown name, or a level this processor lacks), or NULL.
const char *s2s_isa_environment_problem(void);
/// S2S_CPU_* bits of this processor.
unsigned s2s_cpu_features(void);
/// The processor's CPUID vendor string ("AuthenticAMD", "GenuineIntel", …; "" where there is none).
const char *s2s_cpu_vendor(void);

// MARK: - Row reductions and exponentials

/// max over x[0 ..< n] (NaN-free inputs assumed); -inf when n == 0.
float s2s_row_max(const float *x, long n);
/// y[i] = exp(x[i] - shift) for i < n; returns Σ y.
float s2s_exp_shift_sum(float *y, const float *x, float shift, long n);
/// log Σ exp(x[i]) over i < n.
float s2s_log_sum_exp(const float *x, long n);
/// y[r, :] = softmax(x[r, :]) for rows r < n of c columns; all -inf rows give zeros. Safe in place.
void s2s_softmax_rows(float *y, const float *x, long n, long c);

// MARK: - Element-wise

enum { S2S_ACT_RELU = 0, S2S_ACT_GELU = 1, S2S_ACT_SILU = 2, S2S_ACT_GELU_TANH = 3 };
/// y[i] = act(x[i]) for i < n (GELU in its exact erf form), and y16[i] = bf16(y[i]) (as s2s_to_bf16
/// rounds); either output may be NULL. Safe in place.
void s2s_activation_forward(float *y, uint16_t *y16, const float *x, long n, int act);
/// dx[i] = dy[i] · act'(x[i]) for i < n, and dx16[i] = bf16(dx[i]) when dx16 is not NULL.
void s2s_activation_backward(float *dx, uint16_t *dx16, const float *dy, const float *x, long n, int act);

/// Dropout over elements first ..< end of one call's stream (see Kernels/Dropout.swift): mask[i] =
/// keep where 24 bits of the hash of (k0, k1, i) are at least the threshold, else 0, and, when y is
/// given, y[i] = x[i] · mask[i].
void s2s_dropout(float *y, float *mask, const float *x, long first, long end, uint32_t k0, uint32_t k1,
                 uint32_t threshold, float keep);

/// Adam over i < n: m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²; p −= stepSize·m / (√v·c2r + eps)
/// (+ lrwd·decay[i]·p when decay is given); and p16[i] = bf16(p[i]) when p16 is given.
void s2s_adam(float *p, uint16_t *p16, float *m, float *v, const float *g, const float *decay, long n, float b1,
              float b2, float stepSize, float c2r, float eps, float lrwd);

/// dst[i] = bf16(src[i]) (nearest, ties to even; NaN stays a quiet NaN) for i < n.
void s2s_to_bf16(uint16_t *dst, const float *src, long n);

/// db[0 ..< 64] += Σ_r dy[r · ld + 0 ..< 64] over rows r < n, in row order.
void s2s_column_sums64(float *db, const float *dy, long n, long ld);

// MARK: - LayerNorm rows (see Kernels/LayerNorm.swift)

/// For each row r < n of d features: y = (x − mean)·rstd·gamma + beta; mean[r], rstd[r] saved. With y16
/// (not NULL), y16 = bf16(y) and y is not written.
void s2s_layernorm_forward(float *y, uint16_t *y16, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, long n, long d, float eps);
/// dx[r, :] += rstd·(dy·gamma − mean(dy·gamma) − xhat·mean(dy·gamma·xhat)) for rows r < n.
void s2s_layernorm_backward_dx(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                               const float *gamma, long n, long d);

// MARK: - Linear layers over a few rows (see Kernels/FewRowsLinear.swift)

/// y[N, O] = x[N, I] · W[O, I]ᵀ + bias (NULL: none) for output columns jBegin ..< jEnd (jBegin a multiple
/// of 128), in the batch-invariant order: per value, bias + one fused multiply-add chain per slice of 256
/// features, slices added in order. Its bits do not depend on N, on the column range, or (between the
/// AVX2 and AVX-512 levels) on the level. W is read from `panels` (s2s_pack_panels) when not NULL.
void s2s_invariant_linear(float *y, const float *x, const float *w, const float *panels, const float *bias, long n,
                          long i, long o, long jBegin, long jEnd);
/// Panels p0 ..< p1 of W[O, I]: panels[p · I · 16 + k · 16 + c] = W[16p + c, k] (zero for 16p + c ≥ O).
/// s2s_invariant_linear reads a multiple of 8 panels, ⌈O / 128⌉ · 8.
void s2s_pack_panels(float *panels, const float *w, long o, long i, long p0, long p1);
/// y[r·ldy + j] += W[j, :] · x[r, :] for rows r < R (1 to 5, row stride I) and W rows j < columns.
void s2s_row_group_linear(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy);
/// y[j] += W[j, :] · x and y[j + half] += W[j + half, :] · x for j in jBegin ..< jEnd.
void s2s_one_row_linear(float *y, const float *x, const float *w, long i, long half, long jBegin, long jEnd);

/// AVX-512 only (s2s_isa_active() == S2S_ISA_AVX512): tiles of 4 W rows × up to 6 input rows.
void s2s_tile_linear_avx512(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy);
/// AVX-512 only: xT[k·ldxT + r] = x[r·I + k] (rows padded with zeros to 16; I a multiple of 16).
void s2s_transpose_rows_avx512(float *xT, long ldxT, const float *x, long n, long i);
/// AVX-512 only: 16 W rows × 16 input rows broadcast tiles over xT (I ≤ 256, columns a multiple of
/// 16). With `overwrite`, y = product + bias (none: 0) instead of y += product.
void s2s_broadcast_linear_avx512(float *y, long ldy, long n, const float *xT, long ldxT, const float *w, long ldw,
                                 long i, long columns, int overwrite, const float *bias);

// MARK: - Attention over a cached row of keys and values (see Decoding/IncrementalDecoder.swift)

/// p[h·count + j] = scale · q[h] · k_j[h] for heads h and keys j < count, k_j = keys + j·heads·dh.
void s2s_head_scores(float *p, const float *q, const float *keys, long count, long heads, long dh, float scale);
/// out[h·dh ..< (h+1)·dh] = Σ_j p[h·count + j] · v_j[h], v_j = values + j·heads·dh.
void s2s_head_weighted_sum(float *out, const float *p, const float *values, long count, long heads, long dh);
/// One sequence's attention over its own `count` keys, all `n` query rows, heads h0 ..< h1 (encoding;
/// Kernels/CachedAttention.swift): ctx [n, heads·dh], probs[h, i, j] at probs + h·hs + i·ldp (NULL: not kept), keys
/// with valid[j] == 0 masked; scratch of (dh + 4) · (count rounded up to 16) floats.
void s2s_sequence_attention(float *ctx, float *probs, long hs, long ldp, const float *q, const float *k, const float *v,
                            const uint8_t *valid, long n, long count, long heads, long dh, float scale, long h0, long h1,
                            float *scratch);

// MARK: - Attention of a full pass (see Kernels/Attention.swift)

/// One sequence's scaled dot-product attention, heads h0 ..< h1 (q [tq, heads·dh], k and v [tk, heads·dh];
/// probs, dropped and mask [heads, tq, tk]; ctx [tq, heads·dh]): probs = softmax(scale · q·kᵀ) with keys
/// valid[j] == 0 (valid NULL: none) and, when causal, keys j > i masked; dropped = probs · mask (both NULL
/// without attention dropout); ctx = dropped (or probs) · v. scratch: dh · cp floats, cp = tk rounded up to 16.
void s2s_attention_forward(float *ctx, float *probs, float *dropped, const float *mask, const float *q, const float *k,
                           const float *v, const uint8_t *valid, long tq, long tk, long heads, long dh, int causal,
                           float scale, long h0, long h1, float *scratch);
/// Backward of s2s_attention_forward: dq [tq, heads·dh], dk and dv [tk, heads·dh] (heads h0 ..< h1's columns
/// overwritten) from dctx and the forward pass's probs, dropped and mask. scratch: (dh + tq) · cp floats.
void s2s_attention_backward(float *dq, float *dk, float *dv, const float *dctx, const float *q, const float *k,
                            const float *v, const float *probs, const float *dropped, const float *mask, long tq, long tk,
                            long heads, long dh, int causal, float scale, long h0, long h1, float *scratch);

// MARK: - int8 (see Kernels/Int8Linear.swift)

/// max |x[t]| over t < n (NaNs dropped).
float s2s_max_abs(const float *x, long n);
/// out[t] = round_even(x[t] · inv) + zeroPoint for t < n.
void s2s_quantize_row(uint8_t *out, const float *x, long n, float inv, int32_t zeroPoint);
/// y[j] = (c[j] − correction[j]) · (sx · ws[j]) + bias[j] (bias NULL: 0) for j < o: one row of an
/// int8 product's int32 sums dequantized.
void s2s_dequantize_row(float *y, const int32_t *c, long o, float sx, const float *ws, const int32_t *correction,
                        const float *bias);
/// Whether s2s_int8_tiles runs here (AVX2 or AVX-512 active).
int s2s_int8_tiles_available(void);
/// Whether s2s_int8_vnni_tiles runs here: AVX512-VNNI at the AVX-512 level, or AVX-VNNI at the AVX2
/// level or above; and which ("avx512-vnni", "avx-vnni"; NULL when neither).
int s2s_int8_vnni_tiles_available(void);
const char *s2s_int8_vnni_name(void);
/// s2s_int8_tiles with vpdpbusd: the same sums (activations are below 128).
void s2s_int8_vnni_tiles(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                         const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd);
/// y[r·O + j] = (Σ_k xu[r, k]·wq[j, k] − correction[j]) · (xScales[r]·wScales[j]) + bias[j] (none: 0)
/// for rows r < n and W rows j in jBegin ..< jEnd; rows of xu and wq are k bytes (a multiple of 32).
void s2s_int8_tiles(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                    const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd);

/// Whether the processor has AVX512-VNNI, the kernels of W's packed layout (s2s_int8_pack_vnni);
/// whether they run at the active level (AVX-512).
int s2s_int8_packed_supported(void);
int s2s_int8_packed_available(void);
/// p[(b·K/4 + t)·64 + 4c + e] = w[16b + c, 4t + e] for c < 16, e < 4 (zero for rows from O on): VNNI's
/// layout of row-major w[O, K] (K a multiple of 32), ceil(O / 16)·16·K bytes.
void s2s_int8_pack_vnni(int8_t *p, const int8_t *w, long o, long k);
/// s2s_int8_tiles from the packed layout, for W rows in 16-row blocks bBegin ..< bEnd: the same sums
/// and the same floats. p must be 64-byte aligned. Only where s2s_int8_packed_available().
void s2s_int8_packed(float *y, const uint8_t *xu, const int8_t *p, const float *xScales, const float *wScales,
                     const int32_t *correction, const float *bias, long n, long o, long k, long bBegin, long bEnd);

#ifdef __cplusplus
}
#endif

#endif
