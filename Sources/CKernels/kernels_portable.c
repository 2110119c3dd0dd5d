// The portable level: no target attribute, so what the base target has (SSE2 on x86-64, NEON on arm64).
#define S2S_LEVEL 0
#define S2S_TABLE s2s_kernels_portable
#include "kernels_body.h"
