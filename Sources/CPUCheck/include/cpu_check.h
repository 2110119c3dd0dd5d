#pragma once
/// Whether this processor runs the instructions the build was compiled for (x86-64: AVX2 and FMA,
/// unless built with SEQ2SEQ_PORTABLE=1). The check itself runs before main (a constructor), in code
/// compiled for the baseline, so an older processor gets a message instead of SIGILL.
int s2s_cpu_supported(void);
