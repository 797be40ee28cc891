/*
 * gradcheck_localise.c - localisation of a failed gradient check: tests
 * the vector-Jacobian product of every op node between the checked nodes
 * and the output on its own, against finite differences of that node's
 * forward kernel alone, and lists the disagreeing ones as suspects.
 */
#include "explain/gradcheck_private.h"
#include "core/rng.h"

#include <gsl/gsl_rng.h>

#include <float.h>
#include <math.h>

#define LOCAL_MAX 1024 /* elements per input tested when localising an error */

/* Checks the vjp of op node n for input i on its own: with a fixed
 * pseudo-random upstream r, compares vjp(r) with the numerical gradient of
 * sum(n * r) with respect to input i, computed by re-running only n's
 * forward kernel. Adds a suspect if an element disagrees. */
static cr_status check_local(cr_graph *g, cr_gradcheck_report *r, cr_node *n, size_t i,
                             gsl_rng *rng)
{
    cr_node *up = cr_constant_fill(g, n->value.rank, n->value.shape, 0.0);
    if (!up)
        return g->err.status;
    for (size_t e = 0; e < up->value.size; e++)
        up->value.data[e] = 0.5 + gsl_rng_uniform(rng);
    cr_node *dx = NULL;
    cr_status st = n->op->vjp(g, n, i, up, &dx);
    if (st != CR_OK)
        return st;
    cr_node *in = n->inputs[i];
    double worst = -1.0;
    cr_gradcheck_suspect s = {.node = n, .input = i};
    const size_t size = in->value.size, count = size < LOCAL_MAX ? size : LOCAL_MAX;
    for (size_t k = 0; k < count; k++) {
        const size_t e = count == size ? k : k * size / count;
        double *slot = &in->value.data[e];
        const double save = *slot, h = CR_GRADCHECK_STEP_ELEMENT * fmax(1.0, fabs(save));
        double f[2];
        for (int side = 0; side < 2; side++) {
            *slot = save + (side ? h : -h);
            n->op->forward(n);
            f[side] = 0.0;
            for (size_t j = 0; j < n->value.size; j++)
                f[side] += n->value.data[j] * up->value.data[j];
        }
        *slot = save;
        const double numerical = (f[1] - f[0]) / (2.0 * h);
        const double analytic = dx ? dx->value.data[e] : 0.0;
        const double err = fabs(analytic - numerical);
        const double tol = r->opts.atol + r->opts.rtol * fabs(numerical) +
                           1e3 * DBL_EPSILON * (fabs(f[0]) + fabs(f[1])) / h;
        if (err > tol && err - tol > worst) {
            worst = err - tol;
            s.index = e;
            s.analytic = analytic;
            s.numerical = numerical;
        }
    }
    n->op->forward(n);
    if (worst < 0)
        return CR_OK;
    if (cr_grow((void **)&r->suspects, &r->cap_suspects, r->n_suspects + 1,
                sizeof *r->suspects) != CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the report");
    r->suspects[r->n_suspects++] = s;
    return CR_OK;
}

/* After a failed check: tests the vjp of every op node between the checked
 * nodes and the output on its own, skipping kinks, and lists the ones that
 * disagree. */
cr_status cr_gradcheck_localise(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                cr_node *const *nodes, size_t n_nodes)
{
    const size_t top = out->id;
    unsigned char *dep = cr_mark_between(g, out, nodes, n_nodes);
    gsl_rng rng = {0};
    if (!dep)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory localising an error");
    cr_status st = CR_OK;
    if (cr_rng_open(&rng, r->opts.seed) != CR_OK)
        st = cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the generator");
    if (st == CR_OK) {
        for (size_t id = 0; id <= top && st == CR_OK; id++) {
            cr_node *n = g->nodes[id];
            if (!g->marks[id] || !dep[id] || n->kind != CR_NODE_OP || !n->op->vjp ||
                cr_near_kink(n))
                continue;
            for (size_t i = 0; i < n->n_inputs && st == CR_OK; i++)
                if (dep[n->inputs[i]->id])
                    st = check_local(g, r, n, i, &rng);
        }
    }
    cr_rng_close(&rng);
    cr_free(dep);
    return st;
}
