/*
 * kernels.c - loops over arrays of doubles that the hot paths share: the
 * sum of squares (the optimizer's gradient norm and finiteness check, and
 * every tensor norm), the search for the first NaN or infinity (the graph's
 * non-finite trap, input checks) and y += x (sums of gradients,
 * reductions). All run in blocks of CR_BLOCK elements (see internal.h) so
 * that they vectorise at -O2, and have AVX2 clones (CR_AVX2_CLONE).
 */
#include "core/internal.h"

#include <math.h>

CR_AVX2_CLONE double cr_sum_squares(const double *x, size_t n)
{
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK) {
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++)
            acc[j] += x[i + j] * x[i + j];
    }
    for (; i < n; i++)
        acc[0] += x[i] * x[i];
    return cr_sum_of_block(acc);
}

/* x * 0 is zero for every finite x and NaN otherwise, so partial sums of
 * those over a chunk show whether the chunk holds a non-finite element;
 * only such a chunk is searched element by element. */
CR_AVX2_CLONE size_t cr_first_nonfinite(const double *x, size_t n)
{
    enum { CHUNK = 8 * CR_BLOCK };
    size_t k = 0;
    for (; k + CHUNK <= n; k += CHUNK) {
        double acc[CR_BLOCK] = {0};
        for (size_t i = k; i < k + CHUNK; i += CR_BLOCK) {
            CR_UNROLL_BLOCK
            for (size_t j = 0; j < CR_BLOCK; j++)
                acc[j] += x[i + j] * 0.0;
        }
        if (isnan(cr_sum_of_block(acc)))
            break;
    }
    for (; k < n; k++)
        if (!isfinite(x[k]))
            return k;
    return n;
}

CR_AVX2_CLONE void cr_add_into(double *restrict y, const double *restrict x, size_t n)
{
    CR_FOR_BLOCKED(i, n, y[i] += x[i];);
}

double cr_tensor_norm(const cr_tensor *t) { return sqrt(cr_sum_squares(t->data, t->size)); }
