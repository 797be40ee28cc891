/*
 * bench_util.h - what the benchmark programs share: a monotonic clock and
 * the deterministic weights both chainrule and PyTorch sides start from.
 */
#ifndef CR_BENCH_UTIL_H
#define CR_BENCH_UTIL_H

#include <math.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The k-th initial weight, identical in the Python peers (bench/peers): 0.5 sin(1.3 k +
 * 0.1). */
static inline double bench_weight(long k) { return 0.5 * sin(1.3 * (double)k + 0.1); }

#endif
