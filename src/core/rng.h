/*
 * rng.h - the one way chainrule makes a seeded random generator (weight
 * initialisation, dropout masks, shuffles, gradient-check directions): GSL's Mersenne
 * Twister with its state from cr_calloc. gsl_rng_alloc would bypass the
 * library's allocator hook and call GSL's error handler (abort by default)
 * when out of memory; filling the public gsl_rng struct here keeps every
 * allocation in the hook and every failure a status.
 */
#ifndef CR_RNG_H
#define CR_RNG_H

#include "core/internal.h"

#include <gsl/gsl_rng.h>

/* Seeds *r. CR_ENOMEM (nothing to close) or CR_OK; close it with
 * cr_rng_close. */
cr_status cr_rng_open(gsl_rng *r, unsigned long seed);
/* Frees the state; r may be one that failed to open or was zeroed. */
void cr_rng_close(gsl_rng *r);

/* Fills w[0..n) with draws from r for initialisation kind (cr_init_kind):
 * Xavier and He from fan_in and fan_out, uniform on [a, b), normal with
 * mean a and deviation b. The kind was validated. */
void cr_init_draw(gsl_rng *r, cr_init_kind kind, size_t fan_in, size_t fan_out, double a,
                  double b, double *w, size_t n);

/* The graph's generator (graph.c), opened on first use with the graph's
 * seed (cr_graph_set_seed); CR_OK, or CR_ENOMEM recorded in g. */
cr_status cr_graph_rng(cr_graph *g, gsl_rng **out);

#endif
