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
    if (inner == 1) { /* each output sums len consecutive elements, in order */
        for (size_t o = 0; o < outer; o++) {
            const double *xo = x + o * len;
            double s = 0.0;
            for (size_t k = 0; k < len; k++)
                s += xo[k];
            y[o] = f != 1.0 ? s * f : s;
        }
        return;
    }
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

/* The factor a reduction applies to the sum of len elements. */
static double reduce_factor(const cr_op *op, size_t len)
{
    return op == &cr_op_mean ? 1.0 / (double)len : 1.0;
}

cr_node *cr_reduce(cr_graph *g, const cr_op *op, cr_node *x, int all, int axis,
                   int keepdims)
{
    if (!g || !x)
        return cr_node_create(g, op, &x, 1, NULL); /* reports/propagates the error */
    const cr_tensor *t = &x->value;
    if (all)
        return view_node(g, op, x, 1, t->size, 1, reduce_factor(op, t->size), 0, NULL);
    const int d0 = axis < 0 ? axis + t->rank : axis;
    if (d0 < 0 || d0 >= t->rank) {
        cr_graph_fail(g, CR_EINVAL, "%s: axis %d out of range for %s", op->name, axis,
                      cr_shape_str(t).text);
        return NULL;
    }
    size_t outer = 1, inner = 1, shape[CR_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < t->rank; d++) {
        if (d < d0)
            outer *= t->shape[d];
        else if (d > d0)
            inner *= t->shape[d];
        if (d != d0)
            shape[rank++] = t->shape[d];
        else if (keepdims)
            shape[rank++] = 1;
    }
    const size_t len = t->shape[d0];
    return view_node(g, op, x, outer, len, inner, reduce_factor(op, len), rank, shape);
}

cr_node *cr_sum(cr_graph *g, cr_node *x)
{
    return cr_reduce(g, &cr_op_sum, x, 1, 0, 0);
}
cr_node *cr_mean(cr_graph *g, cr_node *x)
{
    return cr_reduce(g, &cr_op_mean, x, 1, 0, 0);
}

cr_node *cr_sum_dim(cr_graph *g, cr_node *x, int axis, int keepdims)
{
    return cr_reduce(g, &cr_op_sum, x, 0, axis, keepdims);
}

cr_node *cr_mean_dim(cr_graph *g, cr_node *x, int axis, int keepdims)
{
    return cr_reduce(g, &cr_op_mean, x, 0, axis, keepdims);
}

cr_node *cr_sum_axis(cr_graph *g, cr_node *x, int axis)
{
    return cr_sum_dim(g, x, axis, 0);
}
cr_node *cr_mean_axis(cr_graph *g, cr_node *x, int axis)
{
    return cr_mean_dim(g, x, axis, 0);
}

/* Sums x down to a broadcast operand's shape: each run of adjacent axes
 * along which the operand was stretched is one sum node over the view
 * [outer, run, inner] (a suffix-shaped operand, one run from the first
 * axis, is one node as before); the last node has the operand's shape. */
cr_node *cr_sum_to_shape(cr_graph *g, cr_node *x, int rank, const size_t *shape)
{
    if (!x)
        return NULL;
    const cr_tensor *t = &x->value;
    const int r = t->rank;
    size_t cur[CR_MAX_RANK], target[CR_MAX_RANK];
    int ok = rank <= r && cr_shape_count(rank, shape, NULL) == CR_OK;
    for (int d = 0; d < r && ok; d++) {
        cur[d] = t->shape[d];
        target[d] = d < r - rank ? 1 : shape[d - (r - rank)];
        ok = target[d] == cur[d] || target[d] == 1;
    }
    if (!ok) {
        cr_tensor want = {0};
        cr_tensor_set_shape(&want, rank, shape, NULL);
        cr_graph_fail(g, CR_ESHAPE, "sum: cannot reduce %s to the broadcast operand %s",
                      cr_shape_str(t).text, cr_shape_str(&want).text);
        return NULL;
    }
    int d = 0;
    do {
        while (d < r && target[d] == cur[d])
            d++;
        const int start = d;
        while (d < r && target[d] != cur[d])
            d++;
        size_t outer = 1, len = 1, inner = 1;
        for (int e = 0; e < r; e++)
            *(e < start ? &outer : e < d ? &len : &inner) *= cur[e];
        for (int e = start; e < d; e++)
            cur[e] = 1;
        int more = 0;
        for (int e = d; e < r; e++)
            more |= target[e] != cur[e];
        x = more ? view_node(g, &cr_op_sum, x, outer, len, inner, 1.0, r, cur)
                 : view_node(g, &cr_op_sum, x, outer, len, inner, 1.0, rank, shape);
        if (!more)
            break;
    } while (x);
    return x;
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
