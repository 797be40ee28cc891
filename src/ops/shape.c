/*
 * shape.c - ops that move elements without arithmetic on them: reshape
 * (flatten is a reshape), permute, and transpose of the last two axes. A
 * node owns its values, so each copies; the vjp of each is the same move
 * backwards (reshape to the input's shape, the inverse permutation, the
 * transpose again), so every derivative order works. Also the axis check
 * the shape and indexing ops share.
 */
#include "ops/ops_common.h"

#include <stdio.h>
#include <string.h>

int cr_axis_index(cr_graph *g, const char *op, int axis, int rank, const cr_tensor *x)
{
    const int a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
        cr_graph_fail(g, CR_EINVAL, "%s: axis %d out of range for %s", op, axis,
                      cr_shape_str(x).text);
        return -1;
    }
    return a;
}

/* ---- reshape: the output's shape is the node's; no parameters ---- */

static void reshape_forward(cr_node *n)
{
    memcpy(OUT(n), IN(n, 0), n->value.size * sizeof(double));
}

/* dX = dY read in X's shape */
static cr_status reshape_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(
        cr_node_create_shaped(g, &cr_op_reshape, &dy, 1, NULL, x->rank, x->shape));
}

/* The batch must stay the leading axis of the reshaped tensor. */
static cr_status reshape_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    cr_status st = cr_rows_lead(g, n, max, rows);
    if (st == CR_OK && n->value.size != IN_TENSOR(n, 0)->size)
        return cr_graph_fail(g, CR_ENOTSUP,
                             "set rows: reshape #%zu: the batch is not its leading axis",
                             n->id);
    return st;
}

const cr_op cr_op_reshape = {
    .name = "reshape",
    .min_inputs = 1,
    .max_inputs = 1,
    .formula = "Y = X in another shape (same elements, same order)",
    .jacobian = "identity (the elements keep their row-major order)",
    .forward = reshape_forward,
    .vjp = reshape_vjp,
    .resize = reshape_resize};

/* "[2,-1]": the dimensions a caller asked for. */
static cr_shape_text dims_text(int rank, const long *dims)
{
    cr_shape_text s;
    size_t len = 0;
    s.text[len++] = '[';
    for (int d = 0; d < rank; d++)
        len += (size_t)snprintf(s.text + len, sizeof s.text - len, "%s%ld", d ? "," : "",
                                dims[d]);
    snprintf(s.text + len, sizeof s.text - len, "]");
    return s;
}

cr_node *cr_reshape(cr_graph *g, cr_node *x, int rank, const long *shape)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_reshape, &x, 1, NULL); /* reports the NULL */
    const cr_tensor *t = &x->value;
    if (rank < 0 || rank > CR_MAX_RANK || (rank > 0 && !shape)) {
        cr_graph_fail(g, CR_EINVAL, "reshape: rank %d is not within 0..%d%s", rank,
                      CR_MAX_RANK, rank > 0 && !shape ? " (shape is NULL)" : "");
        return NULL;
    }
    size_t out[CR_MAX_RANK], known = 1;
    int infer = -1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (shape[d] < 1) {
            cr_graph_fail(g, CR_EINVAL,
                          "reshape: %s -> %s: dimension %d is %ld (at least 1, or one -1 "
                          "to infer)",
                          cr_shape_str(t).text, dims_text(rank, shape).text, d, shape[d]);
            return NULL;
        }
        out[d] = (size_t)shape[d];
        if (out[d] > t->size / known) { /* more elements than x has, and no overflow */
            known = 0;
            break;
        }
        known *= out[d];
    }
    if (known == 0 || (infer >= 0 ? t->size % known != 0 : t->size != known)) {
        cr_graph_fail(g, CR_ESHAPE, "reshape: %s (%zu elements) cannot become %s",
                      cr_shape_str(t).text, t->size, dims_text(rank, shape).text);
        return NULL;
    }
    if (infer >= 0)
        out[infer] = t->size / known;
    return cr_node_create_shaped(g, &cr_op_reshape, &x, 1, NULL, rank, out);
}

cr_node *cr_flatten(cr_graph *g, cr_node *x, int start_axis)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_reshape, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    /* as torch.flatten: a scalar flattens to [1] and takes axis 0 or -1 */
    const int start = cr_axis_index(g, "flatten", start_axis, t->rank ? t->rank : 1, t);
    if (start < 0)
        return NULL;
    size_t out[CR_MAX_RANK];
    for (int d = 0; d < start; d++)
        out[d] = t->shape[d];
    size_t tail = 1;
    for (int d = start; d < t->rank; d++)
        tail *= t->shape[d];
    out[start] = tail;
    return cr_node_create_shaped(g, &cr_op_reshape, &x, 1, NULL, start + 1, out);
}

/* ---- permute: args.i[d] = the input axis that becomes output axis d ---- */

static void permute_forward(cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    const int rank = x->rank;
    size_t stride[CR_MAX_RANK], dim[4] = {1, 1, 1, 1}, step[4] = {0, 0, 0, 0};
    size_t s = 1;
    for (int d = rank; d-- > 0;) {
        stride[d] = s;
        s *= x->shape[d];
    }
    /* the output's axes, right-aligned in four loops; step: the input's stride */
    for (int d = 0; d < rank; d++) {
        const int from = (int)n->args->i[d];
        dim[4 - rank + d] = x->shape[from];
        step[4 - rank + d] = stride[from];
    }
    const double *restrict in = IN(n, 0);
    double *restrict y = OUT(n);
    size_t k = 0;
    for (size_t a = 0; a < dim[0]; a++)
        for (size_t b = 0; b < dim[1]; b++)
            for (size_t c = 0; c < dim[2]; c++) {
                const double *row = in + a * step[0] + b * step[1] + c * step[2];
                for (size_t e = 0; e < dim[3]; e++)
                    y[k++] = row[e * step[3]];
            }
}

static cr_node *permute_node(cr_graph *g, cr_node *x, const int *axes)
{
    const cr_tensor *t = &x->value;
    cr_node_args args = {.i = {0}};
    size_t shape[CR_MAX_RANK];
    for (int d = 0; d < t->rank; d++) {
        args.i[d] = axes[d];
        shape[d] = t->shape[axes[d]];
    }
    return cr_node_create_shaped(g, &cr_op_permute, &x, 1, &args, t->rank, shape);
}

/* dX = dY permuted back: input axis axes[d] receives output axis d */
static cr_status permute_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    int inverse[CR_MAX_RANK];
    for (int d = 0; d < IN_TENSOR(n, 0)->rank; d++)
        inverse[n->args->i[d]] = d;
    CR_VJP_RETURN(permute_node(g, dy, inverse));
}

const cr_op cr_op_permute = {.name = "permute",
                             .min_inputs = 1,
                             .max_inputs = 1,
                             .formula = "Y = X with its axes reordered",
                             .jacobian = "permutation: dX = dY with the axes put back",
                             .forward = permute_forward,
                             .vjp = permute_vjp};

cr_node *cr_permute(cr_graph *g, cr_node *x, int n_axes, const int *axes)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_permute, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    if (n_axes != t->rank || (n_axes > 0 && !axes)) {
        cr_graph_fail(g, CR_EINVAL, "permute: %s needs %d axes, got %d%s",
                      cr_shape_str(t).text, t->rank, n_axes,
                      n_axes > 0 && !axes ? " (axes is NULL)" : "");
        return NULL;
    }
    int norm[CR_MAX_RANK];
    unsigned seen = 0;
    for (int d = 0; d < n_axes; d++) {
        if ((norm[d] = cr_axis_index(g, "permute", axes[d], t->rank, t)) < 0)
            return NULL;
        if (seen & (1u << norm[d])) {
            cr_graph_fail(g, CR_EINVAL, "permute: %s: axis %d is given twice",
                          cr_shape_str(t).text, norm[d]);
            return NULL;
        }
        seen |= 1u << norm[d];
    }
    return permute_node(g, x, norm);
}

/* ---- transpose of the last two axes (each matrix of a batch) ---- */

static cr_status transpose_shape(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    if (x->rank < 2)
        return cr_graph_fail(g, CR_ESHAPE,
                             "transpose: needs a matrix or a batch of matrices, got %s",
                             cr_shape_str(x).text);
    size_t shape[CR_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->rank - 2] = x->shape[x->rank - 1];
    shape[x->rank - 1] = x->shape[x->rank - 2];
    return cr_tensor_set_shape(&n->value, x->rank, shape, &g->err);
}

static void transpose_forward(cr_node *n)
{
    const cr_tensor *t = IN_TENSOR(n, 0);
    const size_t rows = t->shape[t->rank - 2], cols = t->shape[t->rank - 1];
    const size_t batch = t->size / (rows * cols);
    enum { BLOCK = 32 };
    for (size_t b = 0; b < batch; b++) {
        const double *x = IN(n, 0) + b * rows * cols;
        double *y = OUT(n) + b * rows * cols;
        for (size_t i0 = 0; i0 < rows; i0 += BLOCK)
            for (size_t j0 = 0; j0 < cols; j0 += BLOCK)
                for (size_t i = i0; i < i0 + BLOCK && i < rows; i++)
                    for (size_t j = j0; j < j0 + BLOCK && j < cols; j++)
                        y[j * rows + i] = x[i * cols + j];
    }
}

static cr_status transpose_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_transpose(g, dy));
}

const cr_op cr_op_transpose = {.name = "transpose",
                               .min_inputs = 1,
                               .max_inputs = 1,
                               .formula =
                                   "Y = X^T (of each matrix: the last two axes swap)",
                               .tensor_text = {"transpose", NULL},
                               .jacobian = "permutation: dX = dY^T",
                               .shape = transpose_shape,
                               .forward = transpose_forward,
                               .vjp = transpose_vjp};

cr_node *cr_transpose(cr_graph *g, cr_node *x)
{
    return cr_node_create(g, &cr_op_transpose, &x, 1, NULL);
}
