/*
 * kernels.c - loops over arrays of doubles that the hot paths share: the
 * sum of squares (the optimizer's gradient norm and finiteness check, and
 * every tensor norm), the search for the first NaN or infinity (the graph's
 * non-finite trap, input checks) and y += x (sums of gradients,
 * reductions), and sigmoid and tanh of arrays without libm's per-element
 * calls. All run in blocks of CR_BLOCK elements (see internal.h) so
 * that they vectorise at -O2, and have AVX2 clones (CR_AVX2_CLONE).
 */
#include "core/internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* ---- sigmoid and tanh ----
 * libm computes exp and tanh one call per element. These loops use
 * arithmetic the compiler vectorises instead, the same operations in the
 * AVX2 clone as in the baseline copy (no FMA), so both give the same bits:
 * a = k ln2 + r with k = round(a / ln2) (ln2 split in two so that k ln2_hi
 * is exact), |r| <= ln2/2 (a little more where the rounding of a / ln2
 * ties), expm1(r) from its Taylor series to r^13 (the next term is below
 * 2^-56 of the result), and 2^k put together from k's bits. Results are
 * within a few units in the last place of libm's. The loops have no
 * branches (a branch stops the vectoriser): the ranges are chosen on the
 * bits of |v| as integers, which order non-negative doubles as their values
 * do and put NaN above infinity. */

#define LN2_HI 0x1.62e42p-1          /* ln 2 to 21 bits: k LN2_HI is exact */
#define LN2_LO 0x1.fdf473de6af28p-22 /* ln 2 - LN2_HI */
#define INV_LN2 1.4426950408889634   /* 1 / ln 2 */
#define ROUNDER 0x1.8p52             /* x + ROUNDER - ROUNDER: x rounded */
#define BITS_INF 0x7ff0000000000000u /* the bits of infinity */

static inline uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline double of_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* c ? x : y, for a c of 0 or 1, as a mask: a select the compiler would
 * turn into a branch (threading the constant of one side through the rest
 * of the computation) stops the vectoriser. */
static inline uint64_t pick(uint64_t c, uint64_t x, uint64_t y)
{
    const uint64_t mask = (uint64_t)0 - c;
    return (x & mask) | (y & ~mask);
}

/* |v|, or top where it is above top but not NaN. */
static inline double abs_capped(double v, double top)
{
    const uint64_t b = bits_of(fabs(v)), cap = bits_of(top);
    return of_bits(pick((uint64_t)((b > cap) & (b <= BITS_INF)), cap, b));
}

/* For a in [-708, 0] (or NaN): *scale = 2^k and the return value
 * expm1(r), so that exp(a) = scale + scale expm1(r) and expm1(a) =
 * scale expm1(r) + (scale - 1). */
static inline double exp_parts(double a, double *scale)
{
    const double t = a * INV_LN2 + ROUNDER; /* k in its low mantissa bits */
    const double k = t - ROUNDER;
    const double r = (a - k * LN2_HI) - k * LN2_LO;
    /* the low 12 bits of k + 1023: 2^k's exponent */
    *scale = of_bits((bits_of(t) + 1023) << 52);
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return r + (r * r) * p;
}

/* sigmoid(v): with e = exp(-|v|), 1 / (1 + e) for v >= 0 and e / (1 + e)
 * below; e is 0 from |v| = 708 on (where exp leaves the normal range: the
 * sigmoid of v <= -708 is 0 instead of a number below 3.4e-308). */
static inline double sigmoid_one(double v)
{
    const double u = abs_capped(v, 708.0);
    double scale;
    const double q = exp_parts(-u, &scale);
    const double e =
        of_bits(pick(bits_of(u) == bits_of(708.0), 0, bits_of(scale + scale * q)));
    const double s = 1.0 / (1.0 + e);
    const uint64_t y = pick(bits_of(v) >> 63, bits_of(e * s), bits_of(s));
    return of_bits(pick(bits_of(u) > BITS_INF, bits_of(v), y)); /* NaN: v itself */
}

/* tanh(v) = -m / (m + 2) with m = expm1(-2|v|), the sign of v put back;
 * m is -1 in double precision from |v| = 19 on. */
static inline double tanh_one(double v)
{
    double scale;
    const double q = exp_parts(-2.0 * abs_capped(v, 20.0), &scale);
    const double m = scale * q + (scale - 1.0);
    return copysign(-m / (m + 2.0), v);
}

CR_AVX2_CLONE void cr_sigmoid_array(double *restrict y, const double *restrict x, size_t n)
{
    CR_FOR_BLOCKED(i, n, y[i] = sigmoid_one(x[i]););
}

CR_AVX2_CLONE void cr_tanh_array(double *restrict y, const double *restrict x, size_t n)
{
    CR_FOR_BLOCKED(i, n, y[i] = tanh_one(x[i]););
}

double cr_sigmoid_value(double v) { return sigmoid_one(v); }
double cr_tanh_value(double v) { return tanh_one(v); }
