/*
 * gradcheck_private.h - what the gradient check's files share and nobody
 * else needs: the report's struct and the judging of an entry, the
 * evaluation of the output at perturbed values and the nodes a
 * perturbation reaches (gradcheck.c), the kinks (gradcheck_kinks.c), the
 * localisation of a wrong vector-Jacobian product (gradcheck_localise.c);
 * claims.c uses the evaluation, the nodes reached and the judging.
 */
#ifndef CR_GRADCHECK_PRIVATE_H
#define CR_GRADCHECK_PRIVATE_H

#include "core/internal.h"

#include <stddef.h>

/* Relative step of gsl_deriv_central's 5-point rule (element mode, claims)
 * and of the local checks of the localisation. */
#define CR_GRADCHECK_STEP_ELEMENT 1e-4

/* ---- the report (gradcheck.c) ---- */

struct cr_gradcheck_report {
    cr_gradcheck_entry *entries;
    size_t n, cap;
    size_t counts[3];
    cr_gradcheck_suspect *suspects;
    size_t n_suspects, cap_suspects;
    cr_gradcheck_options opts;
    char output[300];
};

/* Fills the errors, the tolerance and the result of an entry whose
 * analytic, numerical and error_estimate are set (result is CR_CHECK_SKIP
 * already if a kink was found), with the tolerances of o. */
void cr_judge_entry(const cr_gradcheck_options *o, cr_gradcheck_entry *e);

/* ---- evaluation at perturbed values (gradcheck.c) ---- */

/* The output as a function of one number t: either one element set to t
 * (slot), or every element k of slots set to x0[k] + t v[k]. */
typedef struct cr_probe {
    cr_graph *g;
    cr_node *out;
    cr_node *const *list; /* if set: recompute only these nodes, not out's plan */
    size_t n_list;
    double *slot;  /* element mode: the perturbed element */
    size_t n_dims; /* fast mode: x0 + t v over these elements */
    double **slots;
    const double *x0, *v;
} cr_probe;

/* The output's value at t (params: a cr_probe; a gsl_function). Allocates
 * nothing once out's plan is cached; NaN when the graph traps non-finite
 * values. The perturbed values are left at t. */
double cr_probe_eval(double t, void *params);

/* The nodes between the given ones and out: g->marks flags out's ancestors
 * and the returned array (one byte per node up to out, new: cr_free it)
 * those depending on one of nodes. NULL when out of memory (nothing
 * recorded). */
unsigned char *cr_mark_between(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n);

/* ---- kinks (gradcheck_kinks.c) ---- */

/* The CR_OP_KINK op nodes between the perturbed nodes and the output whose
 * first input depends on the perturbed values. */
typedef struct cr_kink_set {
    cr_node **nodes;
    size_t n;
    double *base, *lo; /* first inputs' values at x and at x - h */
    size_t total;
} cr_kink_set;

/* Finds the kink nodes between nodes and out, with room for their first
 * inputs' values (free k with cr_kinks_free). CR_OK, or CR_ENOMEM recorded
 * in g with k left empty. */
cr_status cr_kinks_collect(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n,
                           cr_kink_set *k);
/* Frees what cr_kinks_collect allocated. */
void cr_kinks_free(cr_kink_set *k);
/* Copies the kink nodes' current first inputs into buf (k->base or k->lo). */
void cr_kinks_snapshot(const cr_kink_set *k, double *buf);
/* What cr_kinks_hit found. */
enum { CR_KINK_NONE = 0, CR_KINK_AT = 1, CR_KINK_NEAR = 2 };
/* With the values at x - h in k->lo, at x in k->base and the current ones
 * at x + h: CR_KINK_AT when a kink input sits on one of its op's kink
 * points at x (the reason then names the op as the user wrote it, e.g.
 * "at a kink of relu(x): its input is 0"), CR_KINK_NEAR when it reaches
 * or crosses one within x +- h, or sits on the step of a CR_OP_JUMP op
 * (the reason says so; the element is skipped), else CR_KINK_NONE. */
int cr_kinks_hit(const cr_kink_set *k, double h, char *reason, size_t size);
/* Judges entry e at a kink from the one-sided differences back and fwd:
 * analytic between them (with the tolerances of o) passes as a
 * subgradient, else fails; the reason, which names the kink, is
 * completed. Sets numerical to their mean and the error fields. */
void cr_judge_kink(const cr_gradcheck_options *o, cr_gradcheck_entry *e, double back,
                   double fwd, double error_estimate);
/* Whether n's op has kinks and an element of its first input lies within
 * two element steps of one: its local check would straddle the kink. */
int cr_near_kink(const cr_node *n);

/* ---- localisation (gradcheck_localise.c) ---- */

/* After a failed check: tests the vjp of every op node between the checked
 * nodes and the output on its own, skipping kinks, and adds the ones that
 * disagree to r's suspects. CR_OK or an error recorded in g. */
cr_status cr_gradcheck_localise(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                cr_node *const *nodes, size_t n_nodes);

#endif
