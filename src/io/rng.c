/*
 * rng.c - seeded generators whose state comes from the library's allocator
 * (see rng.h).
 */
#include "io/rng.h"

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
