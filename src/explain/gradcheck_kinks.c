/*
 * gradcheck_kinks.c - kinks for the gradient check: the op nodes flagged
 * CR_OP_KINK whose first input depends on the perturbed values, and
 * whether a perturbation makes such an input reach or cross one of its
 * op's kink points (cr_op.kinks; 0 by default), where finite differences
 * are meaningless.
 */
#include "explain/gradcheck_private.h"

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

/* With the values at x - h in k->lo, at x in k->base and the current ones
 * at x + h: writes the reason and returns 1 if a kink input reaches or
 * crosses one of its op's kink points on the way. */
int cr_kinks_hit(const cr_kink_set *k, double h, char *reason, size_t size)
{
    for (size_t j = 0, at = 0; j < k->n; j++) {
        const cr_node *node = k->nodes[j];
        const cr_tensor *t = &node->inputs[0]->value;
        size_t n_points;
        const double *points = kink_points(node->op, &n_points);
        for (size_t e = 0; e < t->size; e++) {
            const double lo = k->lo[at + e], mid = k->base[at + e], hi = t->data[e];
            if (lo == mid && mid == hi)
                continue; /* not moved by this perturbation */
            for (size_t q = 0; q < n_points; q++) {
                const double c = points[q];
                if (mid != c && lo != c && hi != c && (lo < c) == (mid < c) &&
                    (mid < c) == (hi < c))
                    continue;
                char label[300];
                cr_node_label(node, label, sizeof label);
                if (mid == c)
                    snprintf(reason, size, "%.80s input is at its kink %.12g", label, c);
                else
                    snprintf(reason, size,
                             "%.80s input reaches its kink %.12g within x +- %.3g", label,
                             c, h);
                return 1;
            }
        }
        at += t->size;
    }
    return 0;
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
