/*
 * dgemm_limit.c - the machine's limit for benchmark W2: GFLOP/s of
 * cblas_dgemm (the CBLAS chainrule links, OpenBLAS by default) on the
 * products one W2 training step makes (batch 256, 784-256-128-10: forward
 * X W, weight gradients X^T dY, input gradients dY W^T), each repeated
 * until 0.3 s have passed, the flops summed over the whole step. Threads
 * from CR_NUM_THREADS (which sets OpenBLAS's). Prints one JSON line.
 */
#include <chainrule.h>

#include <gsl/gsl_cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

/* C[m,n] = op(A) op(B) with op(A) m x k, op(B) k x n, row-major. */
static double run(int ta, int tb, int m, int n, int k, double *a, double *b, double *c,
                  long reps)
{
    for (long r = 0; r < reps; r++)
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, ta ? m : k, b,
                    tb ? k : n, 0.0, c, n);
    return 2.0 * m * n * k * (double)reps;
}

int main(void)
{
    const int B = 256, w[] = {784, 256, 128, 10};
    double *a = malloc(1024 * 1024 * sizeof *a), *b = malloc(1024 * 1024 * sizeof *b),
           *c = malloc(1024 * 1024 * sizeof *c);
    for (long i = 0; i < 1024 * 1024; i++) {
        a[i] = bench_weight(i);
        b[i] = bench_weight(i + 7);
    }
    int threads = cr_num_threads();        /* applies CR_NUM_THREADS to OpenBLAS */
    run(0, 0, B, w[1], w[0], a, b, c, 20); /* warm up */
    long reps = 1;
    double secs = 0, flops = 0;
    for (;;) {
        double t0 = bench_now();
        flops = 0;
        for (int l = 0; l < 3; l++) {
            flops += run(0, 0, B, w[l + 1], w[l], a, b, c, reps); /* X W */
            flops += run(1, 0, w[l], w[l + 1], B, a, b, c, reps); /* X^T dY */
            if (l > 0)
                flops += run(0, 1, B, w[l], w[l + 1], a, b, c, reps); /* dY W^T */
        }
        secs = bench_now() - t0;
        if (secs > 0.3)
            break;
        reps *= 2;
    }
    double t0 = bench_now();
    double sq = run(0, 0, 1024, 1024, 1024, a, b, c, 4);
    double sqs = bench_now() - t0;
    printf("{\"bench\": \"dgemm\", \"threads\": %d, \"step_gflops\": %.3f, "
           "\"square1024_gflops\": %.3f}\n",
           threads, flops / secs * 1e-9, sq / sqs * 1e-9);
    free(a);
    free(b);
    free(c);
    return 0;
}
