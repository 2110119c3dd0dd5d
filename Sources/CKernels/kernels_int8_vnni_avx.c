// The int8 tiles of kernels_int8_avx2.h with AVX-VNNI (the VEX encoding of vpdpbusd, on processors
// without AVX-512 or beside it): one instruction per 32 multiply-adds instead of three, the same int32 sums. dispatch.c calls it when the processor has the extension and the
// active level allows it (Int8Engine.vnni).
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include "kernel_table.h"
#define INLINE static inline __attribute__((always_inline))
#define S2S_INT8_AVXVNNI 1
#pragma clang attribute push(__attribute__((target("avxvnni,avx2,fma"))), apply_to = function)
#include "kernels_int8_avx2.h"
void s2s_int8_tiles_avxvnni(float *y, const uint8_t *xu, const int8_t *wq, const float *xScales, const float *wScales,
                            const int32_t *correction, const float *bias, long n, long o, long k, long jBegin, long jEnd) {
    int8_tiles(y, xu, wq, xScales, wScales, correction, bias, n, o, k, jBegin, jEnd);
}
#pragma clang attribute pop
#endif
