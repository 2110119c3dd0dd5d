// The AVX2 + FMA level (x86-64-v3): every function below is compiled for it, whatever the build's target.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#define S2S_LEVEL 1
#define S2S_TABLE s2s_kernels_avx2
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"))), apply_to = function)
#include "kernels_body.h"
#pragma clang attribute pop
#endif
