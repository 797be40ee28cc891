/*
 * rng.c - seeded generators whose state comes from the library's allocator
 * (see rng.h), and the draws of weight initialisation.
 */
#include "core/rng.h"

#include <gsl/gsl_randist.h>
#include <math.h>

cr_status cr_rng_open(gsl_rng *r, unsigned long seed)
{
    r->type = gsl_rng_mt19937;
    r->state = cr_calloc(1, gsl_rng_mt19937->size);
    if (!r->state)
        return CR_ENOMEM;
    gsl_rng_set(r, seed);
    return CR_OK;
}

void cr_rng_close(gsl_rng *r)
{
    cr_free(r->state);
    r->state = NULL;
}

void cr_init_draw(gsl_rng *r, cr_init_kind kind, size_t fan_in, size_t fan_out, double a,
                  double b, double *w, size_t n)
{
    const double xavier = sqrt(6.0 / (double)(fan_in + fan_out));
    const double he = sqrt(2.0 / (double)fan_in);
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case CR_INIT_XAVIER:
            w[i] = xavier * (2.0 * gsl_rng_uniform(r) - 1.0);
            break;
        case CR_INIT_HE:
            w[i] = gsl_ran_gaussian(r, he);
            break;
        case CR_INIT_UNIFORM:
            w[i] = a + (b - a) * gsl_rng_uniform(r);
            break;
        case CR_INIT_NORMAL:
            w[i] = a + gsl_ran_gaussian(r, b);
            break;
        case CR_INIT_COUNT: /* not a kind; the caller validated it */
            break;
        }
    }
}
