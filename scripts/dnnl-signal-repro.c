// Shows why stop signals are blocked on the threads that run oneDNN (Sources/seq2seq/StopSignals.swift):
// oneDNN 2.6's JIT sgemm (Debian's libdnnl) keeps data below its stack pointer, so a signal handler
// that runs during a product has its frame written over that data and the heap gets corrupted.
//
//   gcc -O2 scripts/dnnl-signal-repro.c -o /tmp/dnnl-signal-repro -ldnnl -lm
//   OMP_NUM_THREADS=1 /tmp/dnnl-signal-repro 0   # handler on the thread's stack: glibc aborts on a
//                                                # corrupt heap ("corrupted size vs. prev_size while
//                                                # consolidating", "free(): invalid next size")
//   OMP_NUM_THREADS=1 /tmp/dnnl-signal-repro 1   # handler on an alternate signal stack: finishes
//
// Seen on 2026-12-02 (AMD EPYC with AVX-512, libdnnl2 2.6.3): 5 of 5 runs aborted, 0 of 5 with the
// alternate stack. The product is the output projection's weight gradient at a training shape.
#include <dnnl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile long delivered = 0;
static void on_alarm(int sig) { (void)sig; delivered++; }

int main(int argc, char **argv) {
    int alternate = argc > 1 && atoi(argv[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART | (alternate ? SA_ONSTACK : 0);
    if (alternate) {
        stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
        sigaltstack(&ss, NULL);
    }
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every50us = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &every50us, NULL);

    long wrong = 0;
    for (int iter = 0; iter < 3000; iter++) {
        // dW[V, D] += dLogits[N, V]ᵀ · h[N, D]
        int v = 600, d = 32, n = 300 + iter % 300;
        float *dl = malloc(sizeof(float) * n * v), *h = malloc(sizeof(float) * n * d);
        float *dw = calloc((size_t)v * d, sizeof(float));
        for (int i = 0; i < n * v; i++) dl[i] = (float)((i * 7919) % 101) / 101.f - 0.5f;
        for (int i = 0; i < n * d; i++) h[i] = (float)((i * 104729) % 97) / 97.f - 0.5f;
        dnnl_sgemm('T', 'N', v, d, n, 1.f, dl, v, h, d, 1.f, dw, d);
        if (iter % 50 == 0) {  // spot-check against a double-precision sum
            for (int i = 0; i < v; i++)
                for (int j = 0; j < d; j++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += (double)dl[k * v + i] * h[k * d + j];
                    if (fabs(s - dw[i * d + j]) > 1e-3) wrong++;
                }
        }
        free(dl); free(h); free(dw);
    }
    printf("signals delivered %ld, wrong values %ld\n", delivered, wrong);
    return wrong != 0;
}
