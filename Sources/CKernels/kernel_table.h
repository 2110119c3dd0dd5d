// The kernels of one instruction-set level, as function pointers (kernels_body.h fills one table
// per level; dispatch.c points at the active one).
#ifndef S2S_KERNEL_TABLE_H
#define S2S_KERNEL_TABLE_H
#include <stdint.h>

typedef struct {
    float (*row_max)(const float *, long);
    float (*exp_shift_sum)(float *, const float *, float, long);
    float (*log_sum_exp)(const float *, long);
    void (*softmax_rows)(float *, const float *, long, long);
    void (*activation_forward)(float *, uint16_t *, const float *, long, int);
    void (*activation_backward)(float *, uint16_t *, const float *, const float *, long, int);
    void (*dropout)(float *, float *, const float *, long, long, uint32_t, uint32_t, uint32_t, float);
    void (*adam)(float *, uint16_t *, float *, float *, const float *, const float *, long, float, float, float, float, float,
                 float);
    void (*to_bf16)(uint16_t *, const float *, long);
    void (*column_sums64)(float *, const float *, long, long);
    void (*layernorm_forward)(float *, uint16_t *, float *, float *, const float *, const float *, const float *, long, long,
                              float);
    void (*layernorm_backward_dx)(float *, const float *, const float *, const float *, const float *, const float *,
                                  long, long);
    void (*row_group_linear)(float *, const float *, const float *, long, long, long, long);
    void (*one_row_linear)(float *, const float *, const float *, long, long, long, long);
    void (*invariant_linear)(float *, const float *, const float *, const float *, const float *, long, long, long, long,
                             long);
    void (*pack_panels)(float *, const float *, long, long, long, long);
    void (*head_scores)(float *, const float *, const float *, long, long, long, float);
    void (*head_weighted_sum)(float *, const float *, const float *, long, long, long);
    void (*sequence_attention)(float *, float *, long, long, const float *, const float *, const float *, const uint8_t *,
                               long, long, long, long, float, long, long, float *);
    void (*attention_forward)(float *, float *, float *, const float *, const float *, const float *, const float *,
                              const uint8_t *, long, long, long, long, int, float, long, long, float *);
    void (*attention_backward)(float *, float *, float *, const float *, const float *, const float *, const float *,
                               const float *, const float *, const float *, long, long, long, long, int, float, long, long,
                               float *);
    float (*max_abs)(const float *, long);
    void (*quantize_row)(uint8_t *, const float *, long, float, int32_t);
    void (*dequantize_row)(float *, const int32_t *, long, float, const float *, const int32_t *, const float *);
    // AVX2 and up (NULL at the portable level).
    void (*int8_tiles)(float *, const uint8_t *, const int8_t *, const float *, const float *, const int32_t *,
                       const float *, long, long, long, long, long);
    // AVX-512 only.
    void (*tile_linear)(float *, const float *, const float *, long, long, long, long);
    void (*transpose_rows)(float *, long, const float *, long, long);
    void (*broadcast_linear)(float *, long, long, const float *, long, const float *, long, long, long, int,
                             const float *);
} s2s_kernel_table;

extern const s2s_kernel_table s2s_kernels_portable;
#if defined(__x86_64__)
extern const s2s_kernel_table s2s_kernels_avx2;
extern const s2s_kernel_table s2s_kernels_avx512;
#endif

/// The int8 tiles with AVX-VNNI (kernels_int8_vnni_avx.c): the signature of int8_tiles.
void s2s_int8_tiles_avxvnni(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                            const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd);
/// The int8 product from W in VNNI's packed layout with AVX512-VNNI (kernels_int8_packed_avx512vnni.c).
void s2s_int8_packed_avx512vnni(float *y, const uint8_t *xu, const int8_t *p, const float *xScales,
                                const float *wScales, const int32_t *correction, const float *bias, long n, long o,
                                long k, long bBegin, long bEnd);

#endif
