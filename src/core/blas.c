/*
 * blas.c - the one place chainrule calls CBLAS (OpenBLAS or GSL's reference
 * CBLAS, chosen at configure time), and the thread count it shares with
 * the BLAS, including the one way a kernel splits its work over two
 * threads (cr_run_two_parts). Tiny products, such as the scalar and
 * few-neuron graphs of the seed article, use a plain loop instead, where a
 * BLAS call costs more than the arithmetic.
 */
#include "core/internal.h"

#include <gsl/gsl_cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#ifdef CR_HAVE_OPENBLAS
void openblas_set_num_threads(int num_threads); /* OpenBLAS's own API */
/* Not in OpenBLAS's header: stops its worker threads, which it starts again
 * when a threaded call needs them. Weak, so that a BLAS without it (or an
 * OpenBLAS built another way) still links; then it is NULL. */
void blas_thread_shutdown_(void) __attribute__((weak));
#endif

#define SMALL_PRODUCT 4096 /* m*n*k below which the loop beats the call */

static void gemm_small(unsigned flags, size_t m, size_t n, size_t k, double alpha,
                       const double *a, const double *b, double beta, double *c)
{
    const int ta = (flags & CR_TRANS_A) != 0, tb = (flags & CR_TRANS_B) != 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++)
                s +=
                    (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = (beta == 0.0 ? 0.0 : beta * c[i * n + j]) + alpha * s;
        }
}

/* The thread count: decided once from CR_NUM_THREADS (pthread_once, so
 * graphs used from several threads race on nothing), or set explicitly. */
static _Atomic int num_threads;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void apply_threads(int n)
{
    atomic_store(&num_threads, n);
#ifdef CR_HAVE_OPENBLAS
    openblas_set_num_threads(n);
    /* OpenBLAS starts its workers when it loads, and an idle worker spins
     * for a while before it sleeps, taking the second core (or the caller's
     * hyperthread sibling) from a short run on one thread (figures in
     * docs/performance.md, "What made it fast"). One thread needs no workers. */
    if (n == 1 && blas_thread_shutdown_)
        blas_thread_shutdown_();
#endif
}

static int threads_from_env(void)
{
    const char *env = getenv("CR_NUM_THREADS");
    long v = env ? strtol(env, NULL, 10) : 1;
    return v >= 1 && v <= 1024 ? (int)v : 1;
}

static void threads_default(void) { apply_threads(threads_from_env()); }

cr_status cr_set_num_threads(int n)
{
    if (n < 0 || n > 1024)
        return CR_EINVAL;
    pthread_once(&threads_once, threads_default);
    apply_threads(n ? n : threads_from_env());
    return CR_OK;
}

int cr_num_threads(void)
{
    pthread_once(&threads_once, threads_default);
    return atomic_load(&num_threads);
}

void cr_gemm(unsigned flags, size_t m, size_t n, size_t k, double alpha, const double *a,
             const double *b, double beta, double *c)
{
    if ((double)m * (double)n * (double)k <= SMALL_PRODUCT) {
        gemm_small(flags, m, n, k, alpha, a, b, beta, c);
        return;
    }
    pthread_once(&threads_once, threads_default);
    const int ta = (flags & CR_TRANS_A) != 0, tb = (flags & CR_TRANS_B) != 0;
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                ta ? (int)m : (int)k, b, tb ? (int)k : (int)n, beta, c, (int)n);
}

typedef struct two_parts {
    void (*part)(void *ctx, size_t index);
    void *ctx;
} two_parts;

static void *second_part(void *arg)
{
    const two_parts *t = arg;
    t->part(t->ctx, 1);
    return NULL;
}

void cr_run_two_parts(int two, void (*part)(void *ctx, size_t index), void *ctx)
{
    const int threads = cr_num_threads();
    if (!two || threads < 2) {
        part(ctx, 0);
        part(ctx, 1);
        return;
    }
#ifdef CR_HAVE_OPENBLAS
    /* each part's products on its own thread only; the count in force comes
     * back after the join */
    openblas_set_num_threads(1);
#endif
    two_parts t = {part, ctx};
    pthread_t worker;
    const int started = pthread_create(&worker, NULL, second_part, &t) == 0;
    part(ctx, 0);
    if (started)
        pthread_join(worker, NULL);
    else
        part(ctx, 1);
#ifdef CR_HAVE_OPENBLAS
    openblas_set_num_threads(threads);
#endif
}
