// Which instruction-set level the kernels run at: read once from CPUID (and XGETBV, for what the
// operating system saves), or forced lower by SEQ2SEQ_ISA; and the public entry points, each a call
// through the active level's table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "include/CKernels.h"
#include "kernel_table.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect_features(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;  // the OS does not save ymm registers
    int zmmState = (xcr0 & 0xE0) == 0xE0, tileState = (xcr0 & 0x60000) == 0x60000;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned ebx7 = b, ecx7 = c, edx7 = d;
    if (((ebx7 >> 5) & 1) && fma) f |= S2S_CPU_AVX2 | S2S_CPU_FMA;
    const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);  // F DQ CD BW VL
    if ((ebx7 & avx512) == avx512 && zmmState && (f & S2S_CPU_AVX2)) {
        f |= S2S_CPU_AVX512;
        if ((ecx7 >> 11) & 1) f |= S2S_CPU_AVX512_VNNI;
    }
    if (((edx7 >> 24) & 1) && tileState) f |= S2S_CPU_AMX;
    __cpuid_count(7, 1, a, b, c, d);
    if (((a >> 4) & 1) && (f & S2S_CPU_AVX2)) f |= S2S_CPU_AVX_VNNI;
    if (((a >> 5) & 1) && (f & S2S_CPU_AVX512)) f |= S2S_CPU_AVX512_BF16;
    return f;
}
#else
static unsigned detect_features(void) { return 0; }
#endif

/// CPUID leaf 0's twelve characters (EBX, EDX, ECX) into `out`, NUL-terminated; "" off x86-64.
static void detect_vendor(char out[13]) {
    memset(out, 0, 13);
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(out, &b, 4);
        memcpy(out + 4, &d, 4);
        memcpy(out + 8, &c, 4);
    }
#endif
}

static unsigned features;
static char vendor[13];
static int supported = S2S_ISA_PORTABLE;
static int active = -1;
static const s2s_kernel_table *table = &s2s_kernels_portable;
static char problem[256];

static const s2s_kernel_table *table_for(int level) {
#if defined(__x86_64__)
    if (level == S2S_ISA_AVX512) return &s2s_kernels_avx512;
    if (level == S2S_ISA_AVX2) return &s2s_kernels_avx2;
#endif
    (void)level;
    return &s2s_kernels_portable;
}

const char *s2s_isa_name(int level) {
    switch (level) {
    case S2S_ISA_PORTABLE: return "portable";
    case S2S_ISA_AVX2: return "avx2";
    case S2S_ISA_AVX512: return "avx512";
    default: return NULL;
    }
}

/// Runs once, before main (and again harmlessly if a caller gets here first).
__attribute__((constructor)) static void s2s_isa_init(void) {
    if (active >= 0) return;
    features = detect_features();
    detect_vendor(vendor);
    supported = (features & S2S_CPU_AVX512) ? S2S_ISA_AVX512 : (features & S2S_CPU_AVX2) ? S2S_ISA_AVX2 : S2S_ISA_PORTABLE;
    int level = supported;
    const char *wanted = getenv("SEQ2SEQ_ISA");
    if (wanted && *wanted && strcmp(wanted, "auto") != 0) {
        int named = -1;
        for (int l = S2S_ISA_PORTABLE; l <= S2S_ISA_AVX512; l++)
            if (strcmp(wanted, s2s_isa_name(l)) == 0) named = l;
        if (named < 0) {
            snprintf(problem, sizeof problem, "SEQ2SEQ_ISA=%.40s is not a level: use portable, avx2, avx512 or auto", wanted);
        } else if (named > supported) {
            snprintf(problem, sizeof problem, "SEQ2SEQ_ISA=%s: this processor runs at most %s", wanted,
                     s2s_isa_name(supported));
        } else {
            level = named;
        }
    }
    table = table_for(level);
    active = level;
}

int s2s_isa_supported(void) { s2s_isa_init(); return supported; }
int s2s_isa_active(void) { s2s_isa_init(); return active; }
unsigned s2s_cpu_features(void) { s2s_isa_init(); return features; }

const char *s2s_cpu_vendor(void) { s2s_isa_init(); return vendor; }
const char *s2s_isa_environment_problem(void) { s2s_isa_init(); return problem[0] ? problem : NULL; }

int s2s_isa_select(int level) {
    s2s_isa_init();
    if (level < S2S_ISA_PORTABLE || level > supported) return -1;
    table = table_for(level);
    active = level;
    return 0;
}

// MARK: - Entry points

float s2s_row_max(const float *x, long n) { return table->row_max(x, n); }
float s2s_exp_shift_sum(float *y, const float *x, float shift, long n) { return table->exp_shift_sum(y, x, shift, n); }
float s2s_log_sum_exp(const float *x, long n) { return table->log_sum_exp(x, n); }
void s2s_softmax_rows(float *y, const float *x, long n, long c) { table->softmax_rows(y, x, n, c); }
void s2s_activation_forward(float *y, uint16_t *y16, const float *x, long n, int act) {
    table->activation_forward(y, y16, x, n, act);
}
void s2s_activation_backward(float *dx, uint16_t *dx16, const float *dy, const float *x, long n, int act) {
    table->activation_backward(dx, dx16, dy, x, n, act);
}
void s2s_dropout(float *y, float *mask, const float *x, long first, long end, uint32_t k0, uint32_t k1,
                 uint32_t threshold, float keep) {
    table->dropout(y, mask, x, first, end, k0, k1, threshold, keep);
}
void s2s_adam(float *p, uint16_t *p16, float *m, float *v, const float *g, const float *decay, long n, float b1,
              float b2, float stepSize, float c2r, float eps, float lrwd) {
    table->adam(p, p16, m, v, g, decay, n, b1, b2, stepSize, c2r, eps, lrwd);
}
void s2s_to_bf16(uint16_t *dst, const float *src, long n) { table->to_bf16(dst, src, n); }
void s2s_column_sums64(float *db, const float *dy, long n, long ld) { table->column_sums64(db, dy, n, ld); }
void s2s_layernorm_forward(float *y, uint16_t *y16, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, long n, long d, float eps) {
    table->layernorm_forward(y, y16, mean, rstd, x, gamma, beta, n, d, eps);
}
void s2s_layernorm_backward_dx(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                               const float *gamma, long n, long d) {
    table->layernorm_backward_dx(dx, dy, x, mean, rstd, gamma, n, d);
}
void s2s_invariant_linear(float *y, const float *x, const float *w, const float *panels, const float *bias, long n,
                          long i, long o, long jBegin, long jEnd) {
    table->invariant_linear(y, x, w, panels, bias, n, i, o, jBegin, jEnd);
}

void s2s_pack_panels(float *panels, const float *w, long o, long i, long p0, long p1) {
    table->pack_panels(panels, w, o, i, p0, p1);
}

void s2s_row_group_linear(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy) {
    table->row_group_linear(y, x, w, rows, i, columns, ldy);
}
void s2s_one_row_linear(float *y, const float *x, const float *w, long i, long half, long jBegin, long jEnd) {
    table->one_row_linear(y, x, w, i, half, jBegin, jEnd);
}
void s2s_head_scores(float *p, const float *q, const float *keys, long count, long heads, long dh, float scale) {
    table->head_scores(p, q, keys, count, heads, dh, scale);
}
void s2s_head_weighted_sum(float *out, const float *p, const float *values, long count, long heads, long dh) {
    table->head_weighted_sum(out, p, values, count, heads, dh);
}
void s2s_sequence_attention(float *ctx, float *probs, long hs, long ldp, const float *q, const float *k, const float *v,
                            const uint8_t *valid, long n, long count, long heads, long dh, float scale, long h0, long h1,
                            float *scratch) {
    table->sequence_attention(ctx, probs, hs, ldp, q, k, v, valid, n, count, heads, dh, scale, h0, h1, scratch);
}
void s2s_attention_forward(float *ctx, float *probs, float *dropped, const float *mask, const float *q, const float *k,
                           const float *v, const uint8_t *valid, long tq, long tk, long heads, long dh, int causal,
                           float scale, long h0, long h1, float *scratch) {
    table->attention_forward(ctx, probs, dropped, mask, q, k, v, valid, tq, tk, heads, dh, causal, scale, h0, h1, scratch);
}
void s2s_attention_backward(float *dq, float *dk, float *dv, const float *dctx, const float *q, const float *k,
                            const float *v, const float *probs, const float *dropped, const float *mask, long tq, long tk,
                            long heads, long dh, int causal, float scale, long h0, long h1, float *scratch) {
    table->attention_backward(dq, dk, dv, dctx, q, k, v, probs, dropped, mask, tq, tk, heads, dh, causal, scale, h0, h1,
                              scratch);
}
float s2s_max_abs(const float *x, long n) { return table->max_abs(x, n); }
void s2s_quantize_row(uint8_t *out, const float *x, long n, float inv, int32_t zeroPoint) {
    table->quantize_row(out, x, n, inv, zeroPoint);
}
void s2s_dequantize_row(float *y, const int32_t *c, long o, float sx, const float *ws, const int32_t *correction,
                        const float *bias) {
    table->dequantize_row(y, c, o, sx, ws, correction, bias);
}
int s2s_int8_tiles_available(void) { return table->int8_tiles != NULL; }
typedef void (*s2s_int8_tiles_fn)(float *, const uint8_t *, const int8_t *, const float *, const float *, const int32_t *,
                                  const float *, long, long, long, long, long);
/// The row-major VNNI tiles the processor and the active level allow: AVX-VNNI at the AVX2 level or
/// above; NULL without it. (With AVX512-VNNI at the AVX-512 level the packed kernel runs instead.)
static s2s_int8_tiles_fn vnni_tiles(void) {
#if defined(__x86_64__)
    if (active >= S2S_ISA_AVX2 && (features & S2S_CPU_AVX_VNNI)) return s2s_int8_tiles_avxvnni;
#endif
    return NULL;
}
int s2s_int8_packed_supported(void) {
    s2s_isa_init();
    return (features & S2S_CPU_AVX512_VNNI) != 0;
}
int s2s_int8_packed_available(void) { return s2s_int8_packed_supported() && active >= S2S_ISA_AVX512; }
int s2s_int8_vnni_tiles_available(void) { return s2s_int8_packed_available() || vnni_tiles() != NULL; }
const char *s2s_int8_vnni_name(void) {
    if (s2s_int8_packed_available()) return "avx512-vnni";
    if (vnni_tiles() != NULL) return "avx-vnni";
    return NULL;
}
void s2s_int8_vnni_tiles(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                         const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd) {
    vnni_tiles()(y, xu, wq, xScales, wScales, correction, bias, n, o, k, jBegin, jEnd);
}
void s2s_int8_packed(float *y, const uint8_t *xu, const int8_t *p, const float *xScales, const float *wScales,
                     const int32_t *correction, const float *bias, long n, long o, long k, long bBegin, long bEnd) {
#if defined(__x86_64__)
    s2s_int8_packed_avx512vnni(y, xu, p, xScales, wScales, correction, bias, n, o, k, bBegin, bEnd);
#else
    (void)y; (void)xu; (void)p; (void)xScales; (void)wScales; (void)correction; (void)bias; (void)n; (void)o; (void)k;
    (void)bBegin; (void)bEnd;
#endif
}
void s2s_int8_tiles(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                    const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd) {
    table->int8_tiles(y, xu, wq, xScales, wScales, correction, bias, n, o, k, jBegin, jEnd);
}
void s2s_tile_linear_avx512(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy) {
    table->tile_linear(y, x, w, rows, i, columns, ldy);
}
void s2s_transpose_rows_avx512(float *xT, long ldxT, const float *x, long n, long i) {
    table->transpose_rows(xT, ldxT, x, n, i);
}
void s2s_broadcast_linear_avx512(float *y, long ldy, long n, const float *xT, long ldxT, const float *w, long ldw,
                                 long i, long columns, int overwrite, const float *bias) {
    table->broadcast_linear(y, ldy, n, xT, ldxT, w, ldw, i, columns, overwrite, bias);
}
