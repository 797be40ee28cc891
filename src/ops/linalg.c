/*
 * linalg.c - matrix products (matmul, with transpose flags instead of
 * materialised transposes) and the article's sum of products sop(x, w, b).
 * All products go through cr_gemm (blas.c).
 */
#include "ops/ops_common.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- matmul: args.i = {flags, m, n, k}; A, B read as matrices ---- */

static void matmul_forward(cr_node *n)
{
    cr_gemm((unsigned)n->args->i[0], (size_t)n->args->i[1], (size_t)n->args->i[2],
            (size_t)n->args->i[3], 1.0, IN(n, 0), IN(n, 1), 0.0, OUT(n));
}

static cr_status matmul_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);

static const char *matmul_jacobian(const cr_node *n, size_t i)
{
    (void)n;
    return i == 0 ? "linear: dA = dY op(B)^T" : "linear: dB = op(A)^T dY";
}

const cr_op cr_op_matmul = {.name = "matmul",
                            .min_inputs = 2,
                            .max_inputs = 2,
                            .formula = "Y = op(A) op(B)",
                            .deriv = {"dY B^T", "A^T dY"},
                            .jacobian = "linear: dA = dY op(B)^T, dB = op(A)^T dY",
                            .jacobian_of = matmul_jacobian,
                            .forward = matmul_forward,
                            .vjp = matmul_vjp};

static int dims_fit_int(size_t m, size_t n, size_t k)
{
    return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX;
}

cr_node *cr_matmul_dims(cr_graph *g, cr_node *a, cr_node *b, unsigned flags, size_t m,
                        size_t n, size_t k, int rank, const size_t *shape)
{
    if (g && a && b && !dims_fit_int(m, n, k)) {
        cr_graph_fail(g, CR_ERANGE, "matmul: dimensions exceed the BLAS integer range");
        return NULL;
    }
    cr_node *in[2] = {a, b};
    cr_node_args args = {.i = {(int64_t)flags, (int64_t)m, (int64_t)n, (int64_t)k}};
    return cr_node_create_shaped(g, &cr_op_matmul, in, 2, &args, rank, shape);
}

static cr_status matmul_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const unsigned flags = (unsigned)n->args->i[0];
    const size_t m = (size_t)n->args->i[1], nn = (size_t)n->args->i[2],
                 k = (size_t)n->args->i[3];
    const int ta = (flags & CR_TRANS_A) != 0, tb = (flags & CR_TRANS_B) != 0;
    cr_node *a = n->inputs[0], *b = n->inputs[1];
    const cr_tensor *shape = &n->inputs[i]->value;
    if (i == 0) {
        if (!ta) /* dA = dY op(B)^T */
            CR_VJP_RETURN(cr_matmul_dims(g, dy, b, tb ? 0 : CR_TRANS_B, m, k, nn, shape->rank,
                                         shape->shape));
        /* A holds A'^T: dA = op(B) dY^T */
        CR_VJP_RETURN(cr_matmul_dims(g, b, dy, (tb ? CR_TRANS_A : 0) | CR_TRANS_B, k, m, nn,
                                     shape->rank, shape->shape));
    }
    if (!tb) /* dB = op(A)^T dY */
        CR_VJP_RETURN(cr_matmul_dims(g, a, dy, ta ? 0 : CR_TRANS_A, k, nn, m, shape->rank,
                                     shape->shape));
    /* B holds B'^T: dB = dY^T op(A) */
    CR_VJP_RETURN(cr_matmul_dims(g, dy, a, CR_TRANS_A | (ta ? CR_TRANS_B : 0), nn, k, m,
                                 shape->rank, shape->shape));
}

cr_node *cr_matmul(cr_graph *g, cr_node *a, cr_node *b, unsigned flags)
{
    if (!g || !a || !b)
        return cr_op_pair(g, &cr_op_matmul, a, b); /* reports or propagates the NULL */
    const cr_tensor *ta = &a->value, *tb = &b->value;
    const int ok_rank = ta->rank >= 1 && ta->rank <= 2 && tb->rank >= 1 && tb->rank <= 2;
    if (!ok_rank || (flags & ~(unsigned)(CR_TRANS_A | CR_TRANS_B)) ||
        ((flags & CR_TRANS_A) && ta->rank != 2) || ((flags & CR_TRANS_B) && tb->rank != 2)) {
        cr_graph_fail(g, ok_rank ? CR_EINVAL : CR_ESHAPE,
                      "matmul: %s x %s: needs vectors or matrices (transpose flags need "
                      "matrices)",
                      cr_shape_str(ta).text, cr_shape_str(tb).text);
        return NULL;
    }
    /* A rank-1 a is a row [1,k]; a rank-1 b is a column [k,1]. */
    size_t m = ta->rank == 1 ? 1 : ta->shape[(flags & CR_TRANS_A) ? 1 : 0];
    size_t ka = ta->rank == 1 ? ta->shape[0] : ta->shape[(flags & CR_TRANS_A) ? 0 : 1];
    size_t kb = tb->rank == 1 ? tb->shape[0] : tb->shape[(flags & CR_TRANS_B) ? 1 : 0];
    size_t nn = tb->rank == 1 ? 1 : tb->shape[(flags & CR_TRANS_B) ? 0 : 1];
    if (ka != kb) {
        cr_graph_fail(g, CR_ESHAPE, "matmul: %s%s x %s%s: inner dimensions %zu and %zu differ",
                      cr_shape_str(ta).text, (flags & CR_TRANS_A) ? "^T" : "",
                      cr_shape_str(tb).text, (flags & CR_TRANS_B) ? "^T" : "", ka, kb);
        return NULL;
    }
    size_t shape[2];
    int rank = 0;
    if (ta->rank == 2)
        shape[rank++] = m;
    if (tb->rank == 2)
        shape[rank++] = nn;
    return cr_matmul_dims(g, a, b, flags, m, nn, ka, rank, shape);
}

/* ---- sop: inputs x1, w1, ..., xn, wn [, b]; args.i[0] = n ---- */

/* The matrix view of pair p: x as [m,k], w as [k,nn]. */
static void pair_dims(const cr_node *node, size_t p, size_t *m, size_t *k, size_t *nn)
{
    const cr_tensor *x = INT(node, 2 * p), *w = INT(node, 2 * p + 1);
    if (x->rank == 0) {
        *m = *k = *nn = 1;
        return;
    }
    *k = x->shape[x->rank - 1];
    *m = x->size / *k;
    *nn = w->size / *k;
}

static cr_status sop_shape(cr_graph *g, cr_node *n)
{
    const size_t pairs = (size_t)n->args->i[0];
    size_t shape[CR_MAX_RANK];
    int rank = -1;
    for (size_t p = 0; p < pairs; p++) {
        const cr_tensor *x = INT(n, 2 * p), *w = INT(n, 2 * p + 1);
        size_t s[CR_MAX_RANK];
        int r = 0;
        if (x->rank == 0 && w->rank == 0) {
            r = 0;
        } else if (x->rank >= 1 && x->rank <= 2 && w->rank >= 1 && w->rank <= 2 &&
                   x->shape[x->rank - 1] == w->shape[0]) {
            if (x->rank == 2)
                s[r++] = x->shape[0];
            if (w->rank == 2)
                s[r++] = w->shape[1];
        } else {
            return cr_graph_fail(g, CR_ESHAPE, "sop: pair %zu: %s x %s do not contract",
                                 p + 1, cr_shape_str(x).text, cr_shape_str(w).text);
        }
        if (rank >= 0 && (r != rank || memcmp(s, shape, (size_t)r * sizeof *s) != 0)) {
            cr_tensor first = {.rank = rank};
            memcpy(first.shape, shape, sizeof shape);
            cr_tensor this = {.rank = r};
            memcpy(this.shape, s, sizeof s);
            return cr_graph_fail(g, CR_ESHAPE, "sop: pair %zu gives %s but pair 1 gives %s",
                                 p + 1, cr_shape_str(&this).text, cr_shape_str(&first).text);
        }
        rank = r;
        memcpy(shape, s, sizeof s);
    }
    cr_status st = cr_tensor_set_shape(&n->value, rank, shape, &g->err);
    if (st != CR_OK || n->n_inputs == 2 * pairs)
        return st;
    const cr_tensor *b = INT(n, 2 * pairs);
    if (b->size != 1 && !cr_shape_is_suffix(b, &n->value))
        return cr_graph_fail(g, CR_ESHAPE, "sop: bias %s does not broadcast over %s",
                             cr_shape_str(b).text, cr_shape_str(&n->value).text);
    return CR_OK;
}

static void sop_forward(cr_node *n)
{
    const size_t pairs = (size_t)n->args->i[0], len = n->value.size;
    double *y = OUT(n);
    if (n->n_inputs > 2 * pairs) {
        const double *b = IN(n, 2 * pairs);
        const size_t nb = INT(n, 2 * pairs)->size; /* a suffix: len is a multiple */
        for (size_t r = 0; r < len; r += nb)
            memcpy(y + r, b, nb * sizeof(double));
    } else {
        memset(y, 0, len * sizeof(double));
    }
    for (size_t p = 0; p < pairs; p++) {
        size_t m, k, nn;
        pair_dims(n, p, &m, &k, &nn);
        if (m * k * nn == 1)
            y[0] += IN(n, 2 * p)[0] * IN(n, 2 * p + 1)[0];
        else
            cr_gemm(0, m, nn, k, 1.0, IN(n, 2 * p), IN(n, 2 * p + 1), 1.0, y);
    }
}

static cr_status sop_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const size_t pairs = (size_t)n->args->i[0];
    if (i == 2 * pairs)
        return cr_reduce_to_operand(g, dy, n->inputs[i], dx);
    size_t p = i / 2, m, k, nn;
    pair_dims(n, p, &m, &k, &nn);
    cr_node *x = n->inputs[2 * p], *w = n->inputs[2 * p + 1];
    const cr_tensor *like = &n->inputs[i]->value;
    if (m * k * nn == 1) /* plain products: ds/dw = x, ds/dx = w */
        CR_VJP_RETURN(cr_mul(g, dy, i % 2 ? x : w));
    if (i % 2 == 0) /* dX = dY W^T */
        CR_VJP_RETURN(cr_matmul_dims(g, dy, w, CR_TRANS_B, m, k, nn, like->rank, like->shape));
    /* dW = X^T dY */
    CR_VJP_RETURN(cr_matmul_dims(g, x, dy, CR_TRANS_A, k, nn, m, like->rank, like->shape));
}

/* ds/dx_i = w_i, ds/dw_i = x_i, ds/db = 1, with the partner's label. */
static int sop_deriv_text(const cr_node *n, size_t i, char *buf, size_t size)
{
    const size_t pairs = (size_t)n->args->i[0];
    if (i == 2 * pairs)
        return snprintf(buf, size, "1");
    return cr_node_label(n->inputs[i % 2 ? i - 1 : i + 1], buf, size);
}

/* Per input: x_p, w_p, or the bias (summed over the rows it is added to). */
static const char *sop_jacobian(const cr_node *n, size_t i)
{
    if (i == 2 * (size_t)n->args->i[0])
        return "bias: dB = dS summed over the broadcast rows";
    return i % 2 == 0 ? "linear: dX = dS W^T (matrix product)"
                      : "linear: dW = X^T dS (matrix product)";
}

const cr_op cr_op_sop = {.name = "sop",
                         .min_inputs = 2,
                         .max_inputs = -1,
                         .formula = "s = x1*w1 + ... + xn*wn + b",
                         .deriv = {"w", "x"},
                         .jacobian = "linear: ds/dx = w (W^T for matrices), ds/dw = x",
                         .deriv_text = sop_deriv_text,
                         .jacobian_of = sop_jacobian,
                         .shape = sop_shape,
                         .forward = sop_forward,
                         .vjp = sop_vjp};

cr_node *cr_sop(cr_graph *g, size_t n, cr_node *const *xs, cr_node *const *ws, cr_node *b)
{
    if (!g)
        return NULL;
    if (n == 0 || !xs || !ws || n > 1u << 20) {
        cr_graph_fail(g, CR_EINVAL, "sop: needs 1 to 2^20 pairs of inputs, got %zu", n);
        return NULL;
    }
    size_t count = 2 * n + (b ? 1 : 0);
    cr_node **in = cr_malloc(count * sizeof *in);
    if (!in) {
        cr_graph_fail(g, CR_ENOMEM, "sop: out of memory");
        return NULL;
    }
    for (size_t p = 0; p < n; p++) {
        in[2 * p] = xs[p];
        in[2 * p + 1] = ws[p];
    }
    if (b)
        in[2 * n] = b;
    cr_node_args args = {.i = {(int64_t)n}};
    cr_node *node = cr_node_create(g, &cr_op_sop, in, count, &args);
    cr_free(in);
    return node;
}
