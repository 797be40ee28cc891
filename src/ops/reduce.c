/*
 * reduce.c - sums and means (of all elements or along an axis) and their
 * inverse, expand (broadcasting a tensor along a new or repeated axis).
 * Both view the input as [outer, n, inner] and reduce or repeat the middle
 * dimension, scaled by a factor f (1 for sums, 1/n for means); the vjp of
 * one is the other with the same view and factor. Broadcast operands'
 * gradients are summed back with the same "sum" op.
 */
#include "ops/ops_common.h"

#include <string.h>

/* args.i[0] = outer, args.i[1] = n, args.i[2] = inner, args.f = factor */

static void sum_forward(cr_node *n)
{
    const size_t outer = (size_t)n->args->i[0], len = (size_t)n->args->i[1],
                 inner = (size_t)n->args->i[2];
    const double *x = IN(n, 0);
    double *y = OUT(n);
    const double f = n->args->f;
    memset(y, 0, outer * inner * sizeof(double));
    for (size_t o = 0; o < outer; o++) {
        double *yo = y + o * inner;
        for (size_t k = 0; k < len; k++)
            cr_add_into(yo, x + (o * len + k) * inner, inner);
        if (f != 1.0)
            for (size_t j = 0; j < inner; j++)
                yo[j] *= f;
    }
}

static void expand_forward(cr_node *n)
{
    const size_t outer = (size_t)n->args->i[0], len = (size_t)n->args->i[1],
                 inner = (size_t)n->args->i[2];
    const double *x = IN(n, 0);
    double *y = OUT(n);
    const double f = n->args->f;
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < len; k++) {
            double *yk = y + (o * len + k) * inner;
            const double *xo = x + o * inner;
            for (size_t j = 0; j < inner; j++)
                yk[j] = f * xo[j];
        }
}

static cr_status sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);

const cr_op cr_op_sum = {.name = "sum",
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .formula = "y = sum of x (over all elements or one axis)",
                         .deriv = {"1", NULL},
                         .jacobian = "ones (each output sums its inputs)",
                         .forward = sum_forward,
                         .vjp = sum_vjp};
const cr_op cr_op_mean = {.name = "mean",
                          .min_inputs = 1,
                          .max_inputs = 1,
                          .formula = "y = mean of x (over all elements or one axis)",
                          .deriv = {"1/n", NULL},
                          .jacobian = "constant 1/n",
                          .forward = sum_forward,
                          .vjp = sum_vjp};
const cr_op cr_op_expand = {.name = "expand",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .flags = CR_OP_BACKWARD,
                            .formula = "y = c*x repeated along an axis",
                            .deriv = {"c", NULL},
                            .jacobian = "repetition (its transpose sums)",
                            .forward = expand_forward,
                            .vjp = expand_vjp};

static cr_node *view_node(cr_graph *g, const cr_op *op, cr_node *x, size_t outer, size_t len,
                          size_t inner, double f, int rank, const size_t *shape)
{
    cr_node_args args = {.i = {(int64_t)outer, (int64_t)len, (int64_t)inner}, .f = f};
    return cr_node_create_shaped(g, op, &x, 1, &args, rank, shape);
}

static cr_status sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = INT(n, 0);
    CR_VJP_RETURN(view_node(g, &cr_op_expand, dy, (size_t)n->args->i[0],
                            (size_t)n->args->i[1], (size_t)n->args->i[2], n->args->f,
                            x->rank, x->shape));
}

static cr_status expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = INT(n, 0);
    CR_VJP_RETURN(view_node(g, &cr_op_sum, dy, (size_t)n->args->i[0], (size_t)n->args->i[1],
                            (size_t)n->args->i[2], n->args->f, x->rank, x->shape));
}

static cr_node *reduce_all(cr_graph *g, const cr_op *op, cr_node *x)
{
    if (!g || !x)
        return cr_node_create(g, op, &x, 1, NULL); /* reports/propagates the error */
    size_t len = x->value.size;
    return view_node(g, op, x, 1, len, 1, op == &cr_op_mean ? 1.0 / (double)len : 1.0, 0,
                     NULL);
}

cr_node *cr_sum(cr_graph *g, cr_node *x) { return reduce_all(g, &cr_op_sum, x); }
cr_node *cr_mean(cr_graph *g, cr_node *x) { return reduce_all(g, &cr_op_mean, x); }

static cr_node *reduce_axis(cr_graph *g, const cr_op *op, cr_node *x, int axis)
{
    if (!g || !x)
        return cr_node_create(g, op, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    if (axis < 0)
        axis += t->rank;
    if (axis < 0 || axis >= t->rank) {
        cr_graph_fail(g, CR_EINVAL, "%s: axis %d out of range for %s", op->name, axis,
                      cr_shape_str(t).text);
        return NULL;
    }
    size_t outer = 1, inner = 1, shape[CR_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < t->rank; d++) {
        if (d < axis)
            outer *= t->shape[d];
        else if (d > axis)
            inner *= t->shape[d];
        if (d != axis)
            shape[rank++] = t->shape[d];
    }
    size_t len = t->shape[axis];
    return view_node(g, op, x, outer, len, inner,
                     op == &cr_op_mean ? 1.0 / (double)len : 1.0, rank, shape);
}

cr_node *cr_sum_axis(cr_graph *g, cr_node *x, int axis)
{
    return reduce_axis(g, &cr_op_sum, x, axis);
}

cr_node *cr_mean_axis(cr_graph *g, cr_node *x, int axis)
{
    return reduce_axis(g, &cr_op_mean, x, axis);
}

cr_node *cr_sum_to_shape(cr_graph *g, cr_node *x, int rank, const size_t *shape)
{
    size_t inner;
    if (cr_shape_count(rank, shape, &inner) != CR_OK || x->value.size % inner) {
        cr_graph_fail(g, CR_ESHAPE, "sum: cannot reduce %s to a broadcast operand",
                      cr_shape_str(&x->value).text);
        return NULL;
    }
    return view_node(g, &cr_op_sum, x, 1, x->value.size / inner, inner, 1.0, rank, shape);
}

cr_node *cr_expand_axis(cr_graph *g, cr_node *x, int axis, size_t len, int rank,
                        const size_t *shape)
{
    size_t outer = 1, inner = 1;
    for (int d = 0; d < rank; d++) {
        if (d < axis)
            outer *= shape[d];
        else if (d > axis)
            inner *= shape[d];
    }
    return view_node(g, &cr_op_expand, x, outer, len, inner, 1.0, rank, shape);
}
