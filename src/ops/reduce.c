/*
 * reduce.c - reductions over all elements or along an axis (kept with
 * length 1 or removed): sum and mean, max and min, logsumexp, argmax; the
 * inverse of a sum, expand (broadcasting a tensor along a new or repeated
 * axis); and select_mask, the 0/1 mask of the elements max and min chose,
 * which their gradients scatter through. Every one views its input as
 * [outer, n, inner] and reduces or repeats the middle dimension; sums and
 * expands scale by a factor f (1 for sums, 1/n for means), and the vjp of
 * one is the other with the same view and factor. Broadcast operands'
 * gradients are summed back with the same "sum" op.
 */
#include "ops/ops_common.h"

#include <math.h>
#include <string.h>

/* args.i[0] = outer, args.i[1] = n, args.i[2] = inner, args.f = factor;
 * args.i[3] = 1 for max and min over all elements (ties share the
 * gradient) */
enum { VIEW_ALL = 3 };

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

/* The view's slot holding the batch scales, a mean's factor with its count;
 * the output keeps the batch unless the reduction summed it away. */
static cr_status view_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    const int k = cr_rows_view(g, n, 0, 3, max, rows);
    if (k < 0)
        return g->err.status;
    cr_node_args *a = (cr_node_args *)n->args;
    if (k == 1) {
        if (a->f != 1.0)
            a->f = 1.0 / (double)a->i[1];
        if (n->op != &cr_op_expand)
            return CR_OK;
    }
    return cr_rows_lead(g, n, max, rows);
}

const cr_op cr_op_sum = {.name = "sum",
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .formula = "y = sum of x (over all elements or one axis)",
                         .deriv = {"1", NULL},
                         .jacobian = "ones (each output sums its inputs)",
                         .forward = sum_forward,
                         .vjp = sum_vjp,
                         .resize = view_resize};
const cr_op cr_op_mean = {.name = "mean",
                          .min_inputs = 1,
                          .max_inputs = 1,
                          .formula = "y = mean of x (over all elements or one axis)",
                          .deriv = {"1/n", NULL},
                          .jacobian = "constant 1/n",
                          .forward = sum_forward,
                          .vjp = sum_vjp,
                          .resize = view_resize};
const cr_op cr_op_expand = {.name = "expand",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .flags = CR_OP_BACKWARD,
                            .formula = "y = c*x repeated along an axis",
                            .deriv = {"c", NULL},
                            .jacobian = "repetition (its transpose sums)",
                            .forward = expand_forward,
                            .vjp = expand_vjp,
                            .resize = view_resize};

static cr_node *view_node(cr_graph *g, const cr_op *op, cr_node *x, size_t outer,
                          size_t len, size_t inner, double f, int rank, const size_t *shape)
{
    cr_node_args args = {.i = {(int64_t)outer, (int64_t)len, (int64_t)inner}, .f = f};
    return cr_node_create_shaped(g, op, &x, 1, &args, rank, shape);
}

/* expand(dy) to the shape of n's input, with n's view (a factor of 1). */
static cr_node *expand_like_input(cr_graph *g, cr_node *n, cr_node *dy)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    return view_node(g, &cr_op_expand, dy, (size_t)n->args->i[0], (size_t)n->args->i[1],
                     (size_t)n->args->i[2], 1.0, x->rank, x->shape);
}

static cr_status sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(view_node(g, &cr_op_expand, dy, (size_t)n->args->i[0],
                            (size_t)n->args->i[1], (size_t)n->args->i[2], n->args->f,
                            x->rank, x->shape));
}

static cr_status expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(view_node(g, &cr_op_sum, dy, (size_t)n->args->i[0], (size_t)n->args->i[1],
                            (size_t)n->args->i[2], n->args->f, x->rank, x->shape));
}

/* ---- max, min, argmax: the first extreme element of each slice ---- */

/* Whether v beats the best so far: larger (smaller with sign -1), or the
 * first NaN (a NaN wins, as in PyTorch, and stays). */
static int beats(double v, double best, double sign)
{
    return sign * v > sign * best || (v != v && best == best);
}

/* The index k < len of the first extreme element of x[k * stride]. */
static size_t extreme_index(const double *x, size_t len, size_t stride, double sign)
{
    size_t at = 0;
    for (size_t k = 1; k < len; k++)
        if (beats(x[k * stride], x[at * stride], sign))
            at = k;
    return at;
}

/* y[o, j] = x[o, k, j] at the extreme k (value), or k itself (index). */
static void extreme_forward(cr_node *n, double sign, int index)
{
    const size_t outer = (size_t)n->args->i[0], len = (size_t)n->args->i[1],
                 inner = (size_t)n->args->i[2];
    const double *x = IN(n, 0);
    double *y = OUT(n);
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const double *slice = x + o * len * inner + j;
            size_t k = extreme_index(slice, len, inner, sign);
            y[o * inner + j] = index ? (double)k : slice[k * inner];
        }
}

static void argmax_forward(cr_node *n) { extreme_forward(n, 1.0, 1); }

/* select_mask(x, y): 1 at the first element of each slice of x equal to
 * y's element (NaN equal to NaN), 0 elsewhere; with VIEW_ALL, 1/count at
 * every equal element. */
static int same(double a, double b) { return a == b || (a != a && b != b); }

static void select_mask_forward(cr_node *n)
{
    const size_t outer = (size_t)n->args->i[0], len = (size_t)n->args->i[1],
                 inner = (size_t)n->args->i[2];
    const int all = n->args->i[VIEW_ALL] != 0;
    const double *x = IN(n, 0), *y = IN(n, 1);
    double *m = OUT(n);
    memset(m, 0, n->value.size * sizeof *m);
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const double *slice = x + o * len * inner + j, v = y[o * inner + j];
            double *mask = m + o * len * inner + j;
            size_t count = 0;
            for (size_t k = 0; k < len && (all || count == 0); k++)
                if (same(slice[k * inner], v)) {
                    mask[k * inner] = 1.0;
                    count++;
                }
            if (count > 1)
                for (size_t k = 0; k < len; k++)
                    mask[k * inner] /= (double)count;
        }
}

/* dx = select_mask(x, y) * expand(dy): the gradient goes to the chosen
 * element(s). */
static cr_status extreme_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *in[2] = {n->inputs[0], n};
    const cr_tensor *x = IN_TENSOR(n, 0);
    cr_node *mask =
        cr_node_create_shaped(g, &cr_op_select_mask, in, 2, n->args, x->rank, x->shape);
    CR_VJP_RETURN(cr_mul(g, mask, expand_like_input(g, n, dy)));
}

/* No gradient: argmax and select_mask are constant almost everywhere. */
static cr_status no_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    *dx = NULL;
    return CR_OK;
}

/* max or min (SIGN 1 or -1): its forward and descriptor. */
#define CR_EXTREME_OP(NAME, SIGN, WORD)                                                    \
    static void NAME##_forward(cr_node *n) { extreme_forward(n, SIGN, 0); }                \
    const cr_op cr_op_##NAME = {.name = #NAME,                                             \
                                .min_inputs = 1,                                           \
                                .max_inputs = 1,                                           \
                                .formula = "y = " #NAME " of x (over all elements or "     \
                                           "one axis)",                                    \
                                .deriv = {"eq(x, y)", NULL},                               \
                                .jacobian = "selection: 1 at the first " WORD              \
                                            " element of each slice (over all elements: "  \
                                            "1/k at each of k ties)",                      \
                                .forward = NAME##_forward,                                 \
                                .vjp = extreme_vjp};
CR_EXTREME_OP(max, 1.0, "maximal")
CR_EXTREME_OP(min, -1.0, "minimal")

const cr_op cr_op_argmax = {.name = "argmax",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .formula = "y = index of the first maximum of x (a double)",
                            .deriv = {"0", NULL},
                            .jacobian = "zero (an index)",
                            .forward = argmax_forward,
                            .vjp = no_vjp};
const cr_op cr_op_select_mask = {.name = "select_mask",
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "y = 1 at the element of each slice of a "
                                            "equal to b (1/k at each of k ties over all "
                                            "elements), else 0",
                                 .deriv = {"0", "0"},
                                 .jacobian = "zero (a mask)",
                                 .forward = select_mask_forward,
                                 .vjp = no_vjp};

/* ---- logsumexp ---- */

/* y[o, j] = m + log(sum_k exp(x[o, k, j] - m)) with m the slice's max (0
 * when the max is infinite, as in PyTorch). */
static void logsumexp_forward(cr_node *n)
{
    const size_t outer = (size_t)n->args->i[0], len = (size_t)n->args->i[1],
                 inner = (size_t)n->args->i[2];
    const double *x = IN(n, 0);
    double *y = OUT(n);
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const double *slice = x + o * len * inner + j;
            double m = slice[extreme_index(slice, len, inner, 1.0) * inner], s = 0.0;
            if (isinf(m))
                m = 0.0;
            for (size_t k = 0; k < len; k++)
                s += exp(slice[k * inner] - m);
            y[o * inner + j] = log(s) + m;
        }
}

/* dx = expand(dy) * exp(x - expand(y)), the softmax along the slices. */
static cr_status logsumexp_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *soft = cr_exp(g, cr_sub(g, n->inputs[0], expand_like_input(g, n, n)));
    CR_VJP_RETURN(cr_mul(g, expand_like_input(g, n, dy), soft));
}

const cr_op cr_op_logsumexp = {.name = "logsumexp",
                               .min_inputs = 1,
                               .max_inputs = 1,
                               .formula =
                                   "y = log(sum of exp(x)) (over all elements or one "
                                   "axis), computed from the max",
                               .deriv = {"exp(x - y)", NULL},
                               .jacobian = "softmax of each slice",
                               .forward = logsumexp_forward,
                               .vjp = logsumexp_vjp};

/* ---- building a reduction ---- */

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
    if (all) {
        cr_node_args args = {.i = {1, (int64_t)t->size, 1},
                             .f = reduce_factor(op, t->size)};
        args.i[VIEW_ALL] = 1;
        return cr_node_create_shaped(g, op, &x, 1, &args, 0, NULL);
    }
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

/* cr_NAME(g, x) over all elements and cr_NAME_dim(g, x, axis, keepdims). */
#define CR_REDUCTION(NAME)                                                                 \
    cr_node *cr_##NAME(cr_graph *g, cr_node *x)                                            \
    {                                                                                      \
        return cr_reduce(g, &cr_op_##NAME, x, 1, 0, 0);                                    \
    }                                                                                      \
    cr_node *cr_##NAME##_dim(cr_graph *g, cr_node *x, int axis, int keepdims)              \
    {                                                                                      \
        return cr_reduce(g, &cr_op_##NAME, x, 0, axis, keepdims);                          \
    }
CR_REDUCTION(sum)
CR_REDUCTION(mean)
CR_REDUCTION(max)
CR_REDUCTION(min)
CR_REDUCTION(logsumexp)
CR_REDUCTION(argmax)

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
