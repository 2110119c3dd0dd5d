#include "cpu_check.h"
#include <stdio.h>
#include <stdlib.h>

// Compiled without -mavx2: this file runs on any x86-64 (and on other architectures it checks nothing).
#if defined(__x86_64__) && defined(S2S_NEEDS_AVX2)
int s2s_cpu_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((constructor)) static void s2s_check_cpu(void) {
    if (!s2s_cpu_supported()) {
        fputs("seq2seq: this build needs an x86-64 processor with AVX2 and FMA (Intel Haswell, AMD Excavator or newer), "
              "which this one lacks; rebuild for any x86-64 with: SEQ2SEQ_PORTABLE=1 swift build -c release\n", stderr);
        exit(1);
    }
}
#else
int s2s_cpu_supported(void) { return 1; }
#endif
