/*
 * index.c - ops that pick or place parts of a tensor along one axis:
 * slice, pad, concat, stack, index_select and its scatter-add index_add.
 *
 * Each views a tensor as [outer, len, inner] around its axis, so a kernel
 * is a loop of row copies. The ops come in pairs whose vjps are each
 * other: slice picks rows start, start+step, ... and pad (with a step, for
 * slice's vjp) puts rows there among zeros; concat and stack are undone by
 * slices; index_select gathers rows by index and index_add scatter-adds
 * them back. Slice and pad read the axis's layout from the larger side (the
 * input of slice, the output of pad), so a slice of one row may also drop
 * the axis (stack's vjp) and a pad may add it.
 */
#include "ops/ops_common.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* t viewed as [outer, shape[axis], inner]. */
static void axis_view(const cr_tensor *t, int axis, size_t *outer, size_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < t->rank; d++) {
        if (d < axis)
            *outer *= t->shape[d];
        else if (d > axis)
            *inner *= t->shape[d];
    }
}

/* ---- slice and pad: args.i = {axis, start, step} ---- */

/* y[o, k, :] = x[o, start + k*step, :] */
static void slice_forward(cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    const int axis = (int)n->args->i[0];
    const size_t start = (size_t)n->args->i[1], step = (size_t)n->args->i[2];
    size_t outer, inner;
    axis_view(x, axis, &outer, &inner);
    const size_t len = x->shape[axis], count = n->value.size / (outer * inner);
    const double *in = IN(n, 0);
    double *y = OUT(n);
    for (size_t o = 0; o < outer; o++) {
        const double *from = in + (o * len + start) * inner;
        double *to = y + o * count * inner;
        if (step == 1) {
            memcpy(to, from, count * inner * sizeof(double));
            continue;
        }
        for (size_t k = 0; k < count; k++)
            memcpy(to + k * inner, from + k * step * inner, inner * sizeof(double));
    }
}

/* y = zeros; y[o, start + k*step, :] = x[o, k, :] */
static void pad_forward(cr_node *n)
{
    const cr_tensor *y_t = &n->value;
    const int axis = (int)n->args->i[0];
    const size_t start = (size_t)n->args->i[1], step = (size_t)n->args->i[2];
    size_t outer, inner;
    axis_view(y_t, axis, &outer, &inner);
    const size_t len = y_t->shape[axis], count = IN_TENSOR(n, 0)->size / (outer * inner);
    const double *in = IN(n, 0);
    double *y = OUT(n);
    if (step != 1)
        memset(y, 0, y_t->size * sizeof(double));
    for (size_t o = 0; o < outer; o++) {
        double *to = y + o * len * inner;
        const double *from = in + o * count * inner;
        if (step != 1) {
            for (size_t k = 0; k < count; k++)
                memcpy(to + (start + k * step) * inner, from + k * inner,
                       inner * sizeof(double));
            continue;
        }
        const size_t end = start + count;
        memset(to, 0, start * inner * sizeof(double));
        memcpy(to + start * inner, from, count * inner * sizeof(double));
        memset(to + end * inner, 0, (len - end) * inner * sizeof(double));
    }
}

/* A slice or pad node of x with the given view, shaped rank/shape. */
static cr_node *place_node(cr_graph *g, const cr_op *op, cr_node *x, int axis, size_t start,
                           size_t step, int rank, const size_t *shape)
{
    cr_node_args args = {.i = {axis, (int64_t)start, (int64_t)step}};
    return cr_node_create_shaped(g, op, &x, 1, &args, rank, shape);
}

/* dX = dY put back among zeros where the slice took it */
static cr_status slice_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(place_node(g, &cr_op_pad, dy, (int)n->args->i[0], (size_t)n->args->i[1],
                             (size_t)n->args->i[2], x->rank, x->shape));
}

/* dX = the rows of dY where pad put X */
static cr_status pad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(place_node(g, &cr_op_slice, dy, (int)n->args->i[0], (size_t)n->args->i[1],
                             (size_t)n->args->i[2], x->rank, x->shape));
}

/* Along an axis other than the batch's, the output keeps the batch first;
 * index_add along axis 0 (an embedding's gradient) has none. */
static cr_status place_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    if (n->args->i[0] != 0)
        return cr_rows_lead(g, n, max, rows);
    if (n->op == &cr_op_index_add)
        return CR_OK;
    return cr_graph_fail(g, CR_ENOTSUP,
                         "set rows: %s #%zu along the batch axis cannot "
                         "change its batch size",
                         n->op->name, n->id);
}

/* The sum of n placements that fill every row of one axis exactly once,
 * built by copying the placed parts once instead of summing n zero-padded
 * full tensors: index_add placements of one row each (index_select's vjp
 * for a constant scalar index) become the stack of the rows in index order
 * (a recurrent layer's steps: O(T) instead of O(T^2) in the backward), pad
 * placements of consecutive ranges (slice's vjp, step 1) the concat of the
 * ranges in order (the gate blocks of a step). *done = 0 and NULL when the
 * inputs are not such placements; otherwise *done = 1 and the join, or NULL
 * after recording the failure in g. The join_sum of pad and index_add. */
static cr_node *join_placements(cr_graph *g, size_t n, cr_node *const *inputs, int *done)
{
    const cr_node *first = inputs[0];
    const int is_pad = first->op == &cr_op_pad;
    *done = 0;
    if (n < 2 || (!is_pad && first->op != &cr_op_index_add))
        return NULL;
    const int axis = (int)first->args->i[0];
    const size_t len = first->value.shape[axis];
    if (len < n)
        return NULL;
    cr_node **at = cr_calloc(len, sizeof *at); /* the part placed from each row */
    if (!at) {
        *done = 1;
        cr_graph_fail(g, CR_ENOMEM, "add_n: out of memory");
        return NULL;
    }
    cr_node *out = NULL;
    for (size_t k = 0; k < n; k++) {
        const cr_node *c = inputs[k];
        if (!c || c->op != first->op || (int)c->args->i[0] != axis)
            goto end;
        size_t row;
        if (is_pad) { /* from start, step 1, as many rows as its input has */
            if (c->args->i[2] != 1 || c->inputs[0]->value.rank != c->value.rank)
                goto end;
            row = (size_t)c->args->i[1];
        } else {
            const cr_node *idx = c->inputs[1]; /* a constant: fixed for good */
            if (idx->kind != CR_NODE_CONSTANT || idx->value.rank != 0)
                goto end;
            const double v = idx->value.data[0];
            if (!(v >= 0 && v < (double)len) || v != (double)(size_t)v)
                goto end;
            row = (size_t)v;
        }
        if (at[row])
            goto end;
        at[row] = c->inputs[0];
    }
    /* the parts, in order, must cover the axis without gaps or overlaps */
    size_t count = 0;
    for (size_t row = 0; row < len; count++) {
        if (!at[row])
            goto end;
        at[count] = at[row];
        row += is_pad ? at[row]->value.shape[axis] : 1;
        if (row > len)
            goto end;
    }
    if (count != n)
        goto end;
    *done = 1;
    out = is_pad ? cr_concat(g, n, at, axis) : cr_stack(g, n, at, axis);
end:
    cr_free(at);
    return out;
}

const cr_op cr_op_slice = {.name = "slice",
                           .min_inputs = 1,
                           .max_inputs = 1,
                           .formula = "Y = X[start:stop:step] along one axis",
                           .jacobian =
                               "selection: dX = dY at the sliced positions, 0 elsewhere",
                           .forward = slice_forward,
                           .vjp = slice_vjp,
                           .resize = place_resize};

const cr_op cr_op_pad = {.name = "pad",
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .formula = "Y = X with zeros before and after it along one axis",
                         .jacobian = "selection: dX = dY without the padding",
                         .forward = pad_forward,
                         .vjp = pad_vjp,
                         .resize = place_resize,
                         .join_sum = join_placements};

/* Python's slice bound: negative counts from the end, then clamped. */
static long slice_bound(long v, long len)
{
    if (v < 0)
        v = v < -len ? 0 : v + len;
    return v > len ? len : v;
}

cr_node *cr_slice(cr_graph *g, cr_node *x, int axis, long start, long stop, long step)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_slice, &x, 1, NULL); /* reports the NULL */
    const cr_tensor *t = &x->value;
    const int a = cr_axis_index(g, "slice", axis, t->rank, t);
    if (a < 0)
        return NULL;
    if (step < 1) {
        cr_graph_fail(g, CR_EINVAL, "slice: %s axis %d: step %ld (must be at least 1)",
                      cr_shape_str(t).text, axis, step);
        return NULL;
    }
    const long len = (long)t->shape[a], from = slice_bound(start, len),
               to = slice_bound(stop, len);
    if (to <= from) {
        char stop_text[24] = ""; /* LONG_MAX, "to the end", is left out as in x[3:] */
        if (stop != LONG_MAX)
            snprintf(stop_text, sizeof stop_text, "%ld", stop);
        cr_graph_fail(g, CR_ESHAPE,
                      "slice: %s axis %d [%ld:%s:%ld] selects nothing (a tensor has at "
                      "least one element)",
                      cr_shape_str(t).text, axis, start, stop_text, step);
        return NULL;
    }
    size_t shape[CR_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    shape[a] = (size_t)((to - from - 1) / step + 1);
    return place_node(g, &cr_op_slice, x, a, (size_t)from, (size_t)step, t->rank, shape);
}

cr_node *cr_pad(cr_graph *g, cr_node *x, int axis, size_t before, size_t after)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_pad, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    const int a = cr_axis_index(g, "pad", axis, t->rank, t);
    if (a < 0)
        return NULL;
    const size_t len = t->shape[a];
    if (before > (size_t)LONG_MAX - len || after > (size_t)LONG_MAX - len - before) {
        cr_graph_fail(g, CR_ERANGE, "pad: %s axis %d: padding %zu and %zu is too large",
                      cr_shape_str(t).text, axis, before, after);
        return NULL;
    }
    size_t shape[CR_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    shape[a] = before + len + after;
    return place_node(g, &cr_op_pad, x, a, before, 1, t->rank, shape);
}

/* ---- concat and stack: args.i[0] = the output's axis ---- */

/* y[o, offset_i + k, :] = x_i[o, k, :]: each input's rows in turn */
static void join_forward(cr_node *n)
{
    const int axis = (int)n->args->i[0];
    size_t outer, inner;
    axis_view(&n->value, axis, &outer, &inner);
    const size_t row = n->value.shape[axis] * inner; /* one outer block of y */
    double *y = OUT(n);
    size_t offset = 0;
    for (size_t i = 0; i < n->n_inputs; i++) {
        const size_t block = IN_TENSOR(n, i)->size / outer; /* count * inner */
        const double *x = IN(n, i);
        for (size_t o = 0; o < outer; o++)
            memcpy(y + o * row + offset, x + o * block, block * sizeof(double));
        offset += block;
    }
}

/* dX_i = the rows of dY that input i filled (a slice shaped like it) */
static cr_status join_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const int axis = (int)n->args->i[0];
    size_t outer, inner, offset = 0;
    axis_view(&n->value, axis, &outer, &inner);
    for (size_t j = 0; j < i; j++)
        offset += IN_TENSOR(n, j)->size / (outer * inner);
    const cr_tensor *x = IN_TENSOR(n, i);
    CR_VJP_RETURN(place_node(g, &cr_op_slice, dy, axis, offset, 1, x->rank, x->shape));
}

/* The shape rule of both: inputs shaped alike except along the axis
 * (concat), or exactly alike (stack, whose output gains the axis). */
static cr_status join_shape(cr_graph *g, cr_node *n)
{
    const int stack = n->op == &cr_op_stack, axis = (int)n->args->i[0];
    const cr_tensor *first = IN_TENSOR(n, 0);
    size_t shape[CR_MAX_RANK], total = 0;
    for (size_t i = 0; i < n->n_inputs; i++) {
        const cr_tensor *x = IN_TENSOR(n, i);
        int same = x->rank == first->rank;
        for (int d = 0; d < x->rank && same; d++)
            same = x->shape[d] == first->shape[d] || (!stack && d == axis);
        if (!same)
            return cr_graph_fail(g, CR_ESHAPE, "%s: input %zu is %s but input 1 is %s%s",
                                 n->op->name, i + 1, cr_shape_str(x).text,
                                 cr_shape_str(first).text,
                                 stack ? "" : " (only the concatenated axis may differ)");
        total += stack ? 1 : x->shape[axis];
    }
    int rank = 0;
    for (int d = 0; d <= first->rank; d++) {
        if (d == axis)
            shape[rank++] = total;
        if (d < first->rank && (stack || d != axis))
            shape[rank++] = first->shape[d];
    }
    return cr_tensor_set_shape(&n->value, rank, shape, &g->err);
}

const cr_op cr_op_concat = {.name = "concat",
                            .min_inputs = 1,
                            .max_inputs = -1,
                            .formula = "Y = X1, X2, ... one after the other along an axis",
                            .jacobian = "selection: dX_i = the part of dY that X_i fills",
                            .shape = join_shape,
                            .forward = join_forward,
                            .vjp = join_vjp};

const cr_op cr_op_stack = {.name = "stack",
                           .min_inputs = 1,
                           .max_inputs = -1,
                           .formula = "Y = X1, X2, ... stacked along a new axis",
                           .jacobian = "selection: dX_i = dY at index i of the new axis",
                           .shape = join_shape,
                           .forward = join_forward,
                           .vjp = join_vjp};

static cr_node *join(cr_graph *g, const cr_op *op, size_t n, cr_node *const *xs, int axis)
{
    if (!g)
        return NULL;
    if (n == 0 || !xs) {
        cr_graph_fail(g, CR_EINVAL, "%s: needs at least one input%s", op->name,
                      xs ? "" : " (the array is NULL)");
        return NULL;
    }
    if (!xs[0])
        return cr_node_create(g, op, xs, n, NULL); /* reports or propagates the NULL */
    const cr_tensor *t = &xs[0]->value;
    const int stack = op == &cr_op_stack;
    if (stack && t->rank == CR_MAX_RANK) {
        cr_graph_fail(g, CR_ESHAPE,
                      "stack: stacking %s would give rank %d; the limit is %d",
                      cr_shape_str(t).text, t->rank + 1, CR_MAX_RANK);
        return NULL;
    }
    if (!stack && t->rank == 0) {
        cr_graph_fail(g, CR_ESHAPE, "concat: input 1 is a scalar (stack joins scalars)");
        return NULL;
    }
    const int a = cr_axis_index(g, op->name, axis, t->rank + stack, t);
    if (a < 0)
        return NULL;
    cr_node_args args = {.i = {a}};
    return cr_node_create(g, op, xs, n, &args);
}

cr_node *cr_concat(cr_graph *g, size_t n, cr_node *const *xs, int axis)
{
    return join(g, &cr_op_concat, n, xs, axis);
}

cr_node *cr_stack(cr_graph *g, size_t n, cr_node *const *xs, int axis)
{
    return join(g, &cr_op_stack, n, xs, axis);
}

/* ---- index_select and index_add: inputs (x, indices), args.i[0] = axis ----
 * Indices are doubles holding whole numbers. They are checked when the node
 * is built; a kernel cannot fail, so an index made invalid later (new data
 * in an input) selects NaNs and adds nothing. */

/* Whether v is a whole number in [0, len); its value in *k. */
static int index_ok(double v, size_t len, size_t *k)
{
    if (!(v >= 0.0 && v < (double)len) || v != (double)(size_t)v)
        return 0;
    *k = (size_t)v;
    return 1;
}

/* y[o, j, :] = x[o, idx[j], :] */
static void index_select_forward(cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    const int axis = (int)n->args->i[0];
    size_t outer, inner;
    axis_view(x, axis, &outer, &inner);
    const size_t len = x->shape[axis], count = IN_TENSOR(n, 1)->size;
    const double *in = IN(n, 0), *idx = IN(n, 1);
    double *y = OUT(n);
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < count; j++) {
            double *to = y + (o * count + j) * inner;
            size_t k;
            if (index_ok(idx[j], len, &k))
                memcpy(to, in + (o * len + k) * inner, inner * sizeof(double));
            else
                for (size_t e = 0; e < inner; e++)
                    to[e] = NAN;
        }
}

/* y = zeros; y[o, idx[j], :] += x[o, j, :] */
static void index_add_forward(cr_node *n)
{
    const int axis = (int)n->args->i[0];
    size_t outer, inner;
    axis_view(&n->value, axis, &outer, &inner);
    const size_t len = n->value.shape[axis], count = IN_TENSOR(n, 1)->size;
    const double *in = IN(n, 0), *idx = IN(n, 1);
    double *y = OUT(n);
    memset(y, 0, n->value.size * sizeof(double));
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < count; j++) {
            size_t k;
            if (index_ok(idx[j], len, &k))
                cr_add_into(y + (o * len + k) * inner, in + (o * count + j) * inner, inner);
        }
}

/* The gather or scatter node of x by indices along axis, shaped like. */
static cr_node *index_node(cr_graph *g, const cr_op *op, cr_node *x, cr_node *indices,
                           int axis, const cr_tensor *like)
{
    cr_node *in[2] = {x, indices};
    cr_node_args args = {.i = {axis}};
    return cr_node_create_shaped(g, op, in, 2, &args, like->rank, like->shape);
}

/* dX = dY scatter-added to the selected rows (repeats add up); the indices
 * are piecewise constant: no gradient. index_add's vjp is the gather. */
static cr_status index_select_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx)
{
    if (i == 1) {
        *dx = NULL;
        return CR_OK;
    }
    CR_VJP_RETURN(index_node(g, &cr_op_index_add, dy, n->inputs[1], (int)n->args->i[0],
                             IN_TENSOR(n, 0)));
}

static cr_status index_add_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    if (i == 1) {
        *dx = NULL;
        return CR_OK;
    }
    CR_VJP_RETURN(index_node(g, &cr_op_index_select, dy, n->inputs[1], (int)n->args->i[0],
                             IN_TENSOR(n, 0)));
}

/* Output: x's shape with the axis replaced by the indices' shape; every
 * index a whole number within the axis. */
static cr_status index_select_shape(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0), *idx = IN_TENSOR(n, 1);
    const int axis = (int)n->args->i[0];
    if (x->rank - 1 + idx->rank > CR_MAX_RANK)
        return cr_graph_fail(
            g, CR_ESHAPE,
            "index_select: %s indices into axis %d of %s give rank %d; the "
            "limit is %d",
            cr_shape_str(idx).text, axis, cr_shape_str(x).text, x->rank - 1 + idx->rank,
            CR_MAX_RANK);
    const double *v = IN(n, 1);
    for (size_t j = 0; j < idx->size; j++) {
        size_t k;
        if (!index_ok(v[j], x->shape[axis], &k))
            return cr_graph_fail(g, CR_EINVAL,
                                 "index_select: index %.17g at position %zu is %s for axis "
                                 "%d of %s (0..%zu)",
                                 v[j], j,
                                 isfinite(v[j]) && floor(v[j]) == v[j]
                                     ? "out of range"
                                     : "not a whole number",
                                 axis, cr_shape_str(x).text, x->shape[axis] - 1);
    }
    size_t shape[CR_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) {
            shape[rank++] = x->shape[d];
            continue;
        }
        for (int e = 0; e < idx->rank; e++)
            shape[rank++] = idx->shape[e];
    }
    return cr_tensor_set_shape(&n->value, rank, shape, &g->err);
}

const cr_op cr_op_index_select = {
    .name = "index_select",
    .min_inputs = 2,
    .max_inputs = 2,
    .formula = "Y = the rows of X at the indices, along one axis",
    .jacobian = "selection: dX = dY scatter-added to the rows "
                "picked (repeats add up); none for the indices",
    .shape = index_select_shape,
    .forward = index_select_forward,
    .vjp = index_select_vjp};

const cr_op cr_op_index_add = {.name = "index_add",
                               .min_inputs = 2,
                               .max_inputs = 2,
                               .flags = CR_OP_BACKWARD,
                               .formula = "Y = zeros with X's rows added at the indices",
                               .jacobian = "selection: dX = the rows of dY at the indices",
                               .forward = index_add_forward,
                               .vjp = index_add_vjp,
                               .resize = place_resize,
                               .join_sum = join_placements};

cr_node *cr_index_select(cr_graph *g, cr_node *x, int axis, cr_node *indices)
{
    cr_node *in[2] = {x, indices};
    if (!g || !x || !indices)
        return cr_node_create(g, &cr_op_index_select, in, 2, NULL);
    const int a = cr_axis_index(g, "index_select", axis, x->value.rank, &x->value);
    if (a < 0)
        return NULL;
    cr_node_args args = {.i = {a}};
    return cr_node_create(g, &cr_op_index_select, in, 2, &args);
}
