/*
 * gradcheck_kinks.c - kinks for the gradient check: the op nodes flagged
 * CR_OP_KINK whose first input depends on the perturbed values, and
 * whether a perturbation makes such an input reach or cross one of its
 * op's kink points (cr_op.kinks; 0 by default). At the kink the check
 * accepts any value between the one-sided differences (a subgradient);
 * near it, where central differences straddle the kink, it skips.
 */
#include "explain/gradcheck_private.h"
#include "explain/chain_private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cr_kinks_free(cr_kink_set *k)
{
    cr_free(k->nodes);
    cr_free(k->base);
    cr_free(k->lo);
    memset(k, 0, sizeof *k);
}

cr_status cr_kinks_collect(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n,
                           cr_kink_set *k)
{
    memset(k, 0, sizeof *k);
    const size_t top = out->id;
    unsigned char *dep = cr_mark_between(g, out, nodes, n);
    if (!dep)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory finding kinks");
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t id = 0; id <= top; id++) {
            cr_node *node = g->nodes[id];
            if (!g->marks[id] || node->kind != CR_NODE_OP ||
                !(node->op->flags & CR_OP_KINK) || node->n_inputs == 0 ||
                !dep[node->inputs[0]->id])
                continue;
            if (pass == 1) {
                k->nodes[k->n++] = node;
                k->total += node->inputs[0]->value.size;
            } else {
                count++;
            }
        }
        if (pass == 0 && count > 0) {
            k->nodes = cr_malloc(count * sizeof *k->nodes);
            if (!k->nodes)
                break;
        } else if (pass == 0) {
            break;
        }
    }
    cr_free(dep);
    if (count > 0 && k->nodes) {
        k->base = cr_malloc(k->total * sizeof *k->base);
        k->lo = cr_malloc(k->total * sizeof *k->lo);
    }
    if (count > 0 && (!k->nodes || !k->base || !k->lo)) {
        cr_kinks_free(k);
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory finding kinks");
    }
    return CR_OK;
}

void cr_kinks_snapshot(const cr_kink_set *k, double *buf)
{
    for (size_t j = 0, at = 0; j < k->n; j++) {
        const cr_tensor *t = &k->nodes[j]->inputs[0]->value;
        memcpy(buf + at, t->data, t->size * sizeof *buf);
        at += t->size;
    }
}

/* The values of input 0 where a CR_OP_KINK op has kinks: its own list, or
 * 0. */
static const double *kink_points(const cr_op *op, size_t *n)
{
    static const double at_zero = 0.0;
    *n = op->kinks ? op->n_kinks : 1;
    return op->kinks ? op->kinks : &at_zero;
}

/* The kink node as the user wrote it ("y = relu(s)", "relu(x)"); its
 * label when out of memory. */
static void kink_node_text(const cr_node *node, char *buf, size_t size)
{
    cr_sink s;
    cr_sink_init(&s, NULL);
    cr_sink_definition(&s, node);
    if (cr_sink_to_buffer(&s, buf, size) < 0)
        cr_node_label(node, buf, size);
}

/* With the values at x - h in k->lo, at x in k->base and the current ones
 * at x + h: writes the reason and returns 1 if a kink input reaches or
 * crosses one of its op's kink points on the way. */
int cr_kinks_hit(const cr_kink_set *k, double h, char *reason, size_t size)
{
    /* a kink sat on is judged only if no other kink makes the element
     * unjudgeable: the first reason to skip wins, else the first kink */
    int found = CR_KINK_NONE;
    for (size_t j = 0, at = 0; j < k->n && found != CR_KINK_NEAR; j++) {
        const cr_node *node = k->nodes[j];
        const cr_tensor *t = &node->inputs[0]->value;
        size_t n_points;
        const double *points = kink_points(node->op, &n_points);
        for (size_t e = 0; e < t->size && found != CR_KINK_NEAR; e++) {
            const double lo = k->lo[at + e], mid = k->base[at + e], hi = t->data[e];
            if (lo == mid && mid == hi)
                continue; /* not moved by this perturbation */
            for (size_t q = 0; q < n_points && found != CR_KINK_NEAR; q++) {
                const double c = points[q];
                if (mid != c && lo != c && hi != c && (lo < c) == (mid < c) &&
                    (mid < c) == (hi < c))
                    continue;
                const int jump = (node->op->flags & CR_OP_JUMP) != 0;
                if (mid == c && !jump && found == CR_KINK_AT)
                    continue;
                char what[120];
                kink_node_text(node, what, sizeof what);
                if (mid == c && !jump) {
                    snprintf(reason, size, "at a kink of %s: its input is %.12g", what, c);
                    found = CR_KINK_AT;
                } else if (mid == c) {
                    snprintf(reason, size,
                             "at a step of %s: its input is %.12g, where no derivative "
                             "exists",
                             what, c);
                    found = CR_KINK_NEAR;
                } else {
                    snprintf(reason, size,
                             "the input of %s reaches its kink %.12g within x +- %.3g",
                             what, c, h);
                    found = CR_KINK_NEAR;
                }
            }
        }
        at += t->size;
    }
    return found;
}

void cr_judge_kink(const cr_gradcheck_options *o, cr_gradcheck_entry *e, double back,
                   double fwd, double error_estimate)
{
    const double lo = fmin(back, fwd) + 0.0, hi = fmax(back, fwd) + 0.0; /* no -0 */
    e->numerical = 0.5 * (back + fwd);
    e->error_estimate = error_estimate;
    e->tolerance = o->atol + o->rtol * fmax(fabs(lo), fabs(hi)) + error_estimate;
    e->abs_err = e->analytic < lo   ? lo - e->analytic
                 : e->analytic > hi ? e->analytic - hi
                                    : 0.0;
    const double scale = fmax(fabs(e->analytic), fmax(fabs(lo), fabs(hi)));
    e->rel_err = scale > 0 ? e->abs_err / scale : 0.0;
    const size_t used = strlen(e->reason);
    if (!isfinite(e->analytic) || !isfinite(lo) || !isfinite(hi)) {
        e->result = CR_CHECK_FAIL;
        snprintf(e->reason + used, sizeof e->reason - used, "; a derivative is not finite");
    } else if (e->abs_err <= e->tolerance) {
        e->result = CR_CHECK_PASS;
        snprintf(e->reason + used, sizeof e->reason - used,
                 "; one-sided %.6g and %.6g, any value between is a subgradient", lo, hi);
    } else {
        e->result = CR_CHECK_FAIL;
        snprintf(e->reason + used, sizeof e->reason - used,
                 "; one-sided %.6g and %.6g, and %.6g is not between them", lo, hi,
                 e->analytic);
    }
}

/* Whether n's op has kinks and an element of its first input lies within
 * two element steps of one: its local check would straddle the kink. */
int cr_near_kink(const cr_node *n)
{
    if (!(n->op->flags & CR_OP_KINK))
        return 0;
    size_t n_points;
    const double *points = kink_points(n->op, &n_points);
    const cr_tensor *t = &n->inputs[0]->value;
    for (size_t e = 0; e < t->size; e++)
        for (size_t q = 0; q < n_points; q++)
            if (fabs(t->data[e] - points[q]) <=
                2 * CR_GRADCHECK_STEP_ELEMENT * fmax(1.0, fabs(t->data[e])))
                return 1;
    return 0;
}
