// The AVX-512 level (F, BW, CD, DQ, VL: x86-64-v4, as skylake-avx512): every function below is
// compiled for it, whatever the build's target.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#define S2S_LEVEL 2
#define S2S_TABLE s2s_kernels_avx512
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"))), apply_to = function)
#include "kernels_body.h"
#pragma clang attribute pop
#endif
