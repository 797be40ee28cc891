/*
 * linalg.c - matrix products (matmul, with transpose flags instead of
 * materialised transposes, of matrices or of batches of them broadcast as
 * in torch.matmul) and the article's sum of products sop(x, w, b). Every
 * product goes through cr_gemm (blas.c): a batch is a loop of calls, or one
 * call where the batch folds into a dimension of the matrices.
 */
#include "ops/ops_common.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- matmul ----
 * args.i = {flags | mranks, m, n, k, B0, B1}. Y = op(A) op(B), where A is
 * read as an m x k matrix (k x m with CR_TRANS_A), B as k x n (n x k) and
 * Y as m x n, whatever their ranks. With a batch loop [B0, B1] (B0*B1 > 1)
 * the three are stacks of such matrices: the last mrank dims of each (2 for
 * a matrix, 1 for a vector, 0 for a scalar) hold the matrix, the dims
 * before are batch dims, right-aligned against the loop's and broadcast
 * where they are 1 or missing. Where Y's batch is broadcast, the products
 * add up into it (a vjp sums over the batch in the same products). The
 * mranks of A, B and Y are bits 2-3, 4-5 and 6-7 of i[0]. */

enum { MR_A = 2, MR_B = 4, MR_Y = 6 };

static int mrank_of(const cr_node *n, int shift)
{
    return (int)((n->args->i[0] >> shift) & 3);
}

static void batch_loop(const cr_node *n, size_t loop[2])
{
    loop[0] = n->args->i[4] > 1 ? (size_t)n->args->i[4] : 1;
    loop[1] = n->args->i[5] > 1 ? (size_t)n->args->i[5] : 1;
}

/* The strides of t over the loop's two batch dims, when its matrices hold
 * mat elements: 0 where t's batch dim is 1 or missing. */
static void batch_strides(const cr_tensor *t, int mrank, size_t mat, size_t stride[2])
{
    size_t s = mat;
    stride[0] = stride[1] = 0;
    for (int d = t->rank - mrank - 1, l = 1; d >= 0 && l >= 0; d--, l--) {
        stride[l] = t->shape[d] == 1 ? 0 : s;
        s *= t->shape[d];
    }
}

/* Whether the batch of a tensor with these strides covers the whole loop,
 * stored contiguously. */
static int batch_full(const size_t stride[2], const size_t loop[2], size_t mat)
{
    return (loop[1] == 1 || stride[1] == mat) &&
           (loop[0] == 1 || stride[0] == mat * loop[1]);
}

static void matmul_forward(cr_node *n)
{
    const unsigned flags = (unsigned)n->args->i[0] & (CR_TRANS_A | CR_TRANS_B);
    const size_t m = (size_t)n->args->i[1], nn = (size_t)n->args->i[2],
                 k = (size_t)n->args->i[3];
    size_t loop[2];
    batch_loop(n, loop);
    const size_t batches = loop[0] * loop[1];
    const double *a = IN(n, 0), *b = IN(n, 1);
    double *y = OUT(n);
    if (batches == 1) {
        cr_gemm(flags, m, nn, k, 1.0, a, b, 0.0, y);
        return;
    }
    size_t sa[2], sb[2], sy[2];
    batch_strides(IN_TENSOR(n, 0), mrank_of(n, MR_A), m * k, sa);
    batch_strides(IN_TENSOR(n, 1), mrank_of(n, MR_B), k * nn, sb);
    batch_strides(&n->value, mrank_of(n, MR_Y), m * nn, sy);
    const int full_a = batch_full(sa, loop, m * k), full_b = batch_full(sb, loop, k * nn),
              full_y = batch_full(sy, loop, m * nn);
    const int shared_b = sb[0] == 0 && sb[1] == 0, shared_y = sy[0] == 0 && sy[1] == 0;
    /* One product where the batch folds into the rows of A and Y (a stack
     * of matrices times one matrix), or into the inner dimension (the sum
     * over the batch of A_b^T B_b: a shared weight's gradient). */
    if (shared_b && full_a && full_y && !(flags & CR_TRANS_A) && m * batches <= INT_MAX) {
        cr_gemm(flags, m * batches, nn, k, 1.0, a, b, 0.0, y);
        return;
    }
    if (shared_y && full_a && full_b && flags == CR_TRANS_A && k * batches <= INT_MAX) {
        cr_gemm(flags, m, nn, k * batches, 1.0, a, b, 0.0, y);
        return;
    }
    const int accumulate = (loop[0] > 1 && sy[0] == 0) || (loop[1] > 1 && sy[1] == 0);
    if (accumulate)
        memset(y, 0, n->value.size * sizeof(double));
    for (size_t i = 0; i < loop[0]; i++)
        for (size_t j = 0; j < loop[1]; j++)
            cr_gemm(flags, m, nn, k, 1.0, a + i * sa[0] + j * sa[1],
                    b + i * sb[0] + j * sb[1], accumulate ? 1.0 : 0.0,
                    y + i * sy[0] + j * sy[1]);
}

static cr_status matmul_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);

static const char *matmul_jacobian(const cr_node *n, size_t i)
{
    (void)n;
    return i == 0 ? "linear: dA = dY op(B)^T" : "linear: dB = op(A)^T dY";
}

/* The batch sits in one of m (rows of A and Y), k (a sum over the batch: a
 * weight's gradient) or n; which one the inputs' sizes tell. Products over
 * a batch loop keep their size. */
static cr_status matmul_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    cr_node_args *a = (cr_node_args *)n->args;
    const size_t m = (size_t)a->i[1], nn = (size_t)a->i[2], k = (size_t)a->i[3];
    const size_t sa = IN_TENSOR(n, 0)->size, sb = IN_TENSOR(n, 1)->size;
    cr_status st = CR_OK;
    if (a->i[4] > 1 || a->i[5] > 1) {
        /* a batch loop holds the batch: its first dim above 1; the output
         * keeps it unless the products add up over the loop */
        if (cr_rows_view(g, n, 4, 2, max, rows) < 0)
            return g->err.status;
        return n->value.rank > mrank_of(n, MR_Y) ? cr_rows_lead(g, n, max, rows) : CR_OK;
    }
    if (sa != m * k && sb != k * nn)
        a->i[3] = (int64_t)cr_rows_scale(k, max, rows);
    else if (sa != m * k) {
        a->i[1] = (int64_t)cr_rows_scale(m, max, rows);
        st = cr_rows_lead(g, n, max, rows);
    } else if (n->value.rank == 2) {
        a->i[2] = (int64_t)cr_rows_scale(nn, max, rows);
        size_t shape[2] = {n->value.shape[0], (size_t)a->i[2]};
        st = cr_tensor_set_shape(&n->value, 2, shape, &g->err);
    } else
        st = CR_ENOTSUP;
    if (st == CR_OK &&
        (sa != (size_t)(a->i[1] * a->i[3]) || sb != (size_t)(a->i[3] * a->i[2])))
        st = CR_ENOTSUP;
    if (st == CR_ENOTSUP)
        return cr_graph_fail(g, st,
                             "set rows: matmul #%zu: this product cannot change its "
                             "batch size",
                             n->id);
    return st;
}

/* Whether node c is a plain product A^T B of matrices (no batch loop)
 * with the dimensions m, n, k of first. */
static int plain_at_b(const cr_node *c, const cr_node *first)
{
    return c && c->op == &cr_op_matmul && c->args->i[0] == CR_TRANS_A &&
           c->args->i[4] <= 1 && c->args->i[5] <= 1 && c->value.rank == 2 &&
           IN_TENSOR(c, 0)->rank == 2 && IN_TENSOR(c, 1)->rank == 2 &&
           memcmp(&c->args->i[1], &first->args->i[1], 3 * sizeof c->args->i[1]) == 0;
}

/* The sum of n products A_p^T B_p of matrices with the same dimensions
 * (the gradient of a weight that each step of a recurrent layer uses) as
 * one product [A_1; ...; A_n]^T [B_1; ...; B_n] of the factors stacked by
 * rows: one GEMM over n k rows instead of n products and their sum.
 * matmul's join_sum (internal.h). */
static cr_node *join_products(cr_graph *g, size_t n, cr_node *const *inputs, int *done)
{
    *done = 0;
    const cr_node *first = inputs[0];
    if (n < 2 || !plain_at_b(first, first))
        return NULL;
    /* Whatever the sizes: k is often the batch, and a graph shrunk to fewer
     * rows must sum as one built for them does (bit for bit). The copy of
     * the factors costs no more than the products' reading them. */
    if ((size_t)first->args->i[3] * n > INT_MAX)
        return NULL;
    for (size_t p = 1; p < n; p++)
        if (!plain_at_b(inputs[p], first))
            return NULL;
    *done = 1;
    cr_node **parts = cr_malloc(2 * n * sizeof *parts);
    if (!parts) {
        cr_graph_fail(g, CR_ENOMEM, "add_n: out of memory");
        return NULL;
    }
    for (size_t p = 0; p < n; p++) {
        parts[p] = inputs[p]->inputs[0];
        parts[n + p] = inputs[p]->inputs[1];
    }
    cr_node *a = cr_concat(g, n, parts, 0);
    cr_node *b = a ? cr_concat(g, n, parts + n, 0) : NULL;
    cr_free(parts);
    return b ? cr_matmul(g, a, b, CR_TRANS_A) : NULL;
}

const cr_op cr_op_matmul = {.name = "matmul",
                            .min_inputs = 2,
                            .max_inputs = 2,
                            .formula = "Y = op(A) op(B) (for each matrix of a batch)",
                            .tensor_text = {"dY B^T", "A^T dY"},
                            .jacobian = "linear: dA = dY op(B)^T, dB = op(A)^T dY",
                            .jacobian_of = matmul_jacobian,
                            .forward = matmul_forward,
                            .vjp = matmul_vjp,
                            .resize = matmul_resize,
                            .join_sum = join_products};

static int dims_fit_int(size_t m, size_t n, size_t k)
{
    return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX;
}

/* A matmul node. mr: the mranks of a, b and the output; without a batch
 * (loop[0] * loop[1] == 1) the matrices are the whole tensors and the
 * mranks are not kept. */
static cr_node *matmul_node(cr_graph *g, cr_node *a, cr_node *b, unsigned flags,
                            const int mr[3], size_t m, size_t n, size_t k,
                            const size_t loop[2], int rank, const size_t *shape)
{
    if (g && a && b && !dims_fit_int(m, n, k)) {
        cr_graph_fail(g, CR_ERANGE, "matmul: dimensions exceed the BLAS integer range");
        return NULL;
    }
    cr_node *in[2] = {a, b};
    cr_node_args args = {.i = {(int64_t)flags, (int64_t)m, (int64_t)n, (int64_t)k}};
    if (loop[0] * loop[1] > 1) {
        args.i[0] |= mr[0] << MR_A | mr[1] << MR_B | mr[2] << MR_Y;
        args.i[4] = (int64_t)loop[0];
        args.i[5] = (int64_t)loop[1];
    }
    return cr_node_create_shaped(g, &cr_op_matmul, in, 2, &args, rank, shape);
}

cr_node *cr_matmul_dims(cr_graph *g, cr_node *a, cr_node *b, unsigned flags, size_t m,
                        size_t n, size_t k, int rank, const size_t *shape)
{
    static const int no_mranks[3] = {0, 0, 0};
    static const size_t no_loop[2] = {1, 1};
    return matmul_node(g, a, b, flags, no_mranks, m, n, k, no_loop, rank, shape);
}

/* The forward's products with the roles moved: dA = dY op(B)^T (op(B) dY^T
 * when A holds A'^T), dB = op(A)^T dY (dY^T op(A) when B holds B'^T), over
 * the same batch loop; each is shaped like its input and, where that input
 * was broadcast over the batch, summed over it by the product itself. */
static cr_status matmul_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const unsigned flags = (unsigned)n->args->i[0];
    const size_t m = (size_t)n->args->i[1], nn = (size_t)n->args->i[2],
                 k = (size_t)n->args->i[3];
    size_t loop[2];
    batch_loop(n, loop);
    const int ta = (flags & CR_TRANS_A) != 0, tb = (flags & CR_TRANS_B) != 0;
    const int ra = mrank_of(n, MR_A), rb = mrank_of(n, MR_B), ry = mrank_of(n, MR_Y);
    cr_node *a = n->inputs[0], *b = n->inputs[1];
    const cr_tensor *like = &n->inputs[i]->value;
    if (i == 0) {
        if (!ta)
            CR_VJP_RETURN(matmul_node(g, dy, b, tb ? 0 : CR_TRANS_B, (int[3]){ry, rb, ra},
                                      m, k, nn, loop, like->rank, like->shape));
        CR_VJP_RETURN(matmul_node(g, b, dy, (tb ? CR_TRANS_A : 0) | CR_TRANS_B,
                                  (int[3]){rb, ry, ra}, k, m, nn, loop, like->rank,
                                  like->shape));
    }
    if (!tb)
        CR_VJP_RETURN(matmul_node(g, a, dy, ta ? 0 : CR_TRANS_A, (int[3]){ra, ry, rb}, k,
                                  nn, m, loop, like->rank, like->shape));
    CR_VJP_RETURN(matmul_node(g, dy, a, CR_TRANS_A | (ta ? CR_TRANS_B : 0),
                              (int[3]){ry, ra, rb}, nn, k, m, loop, like->rank,
                              like->shape));
}

cr_node *cr_matmul(cr_graph *g, cr_node *a, cr_node *b, unsigned flags)
{
    if (!g || !a || !b)
        return cr_op_pair(g, &cr_op_matmul, a, b); /* reports or propagates the NULL */
    const cr_tensor *ta = &a->value, *tb = &b->value;
    const int ra = ta->rank, rb = tb->rank, ok_rank = ra >= 1 && rb >= 1;
    if (!ok_rank || (flags & ~(unsigned)(CR_TRANS_A | CR_TRANS_B)) ||
        ((flags & CR_TRANS_A) && ra < 2) || ((flags & CR_TRANS_B) && rb < 2)) {
        cr_graph_fail(g, ok_rank ? CR_EINVAL : CR_ESHAPE,
                      "matmul: %s x %s: needs vectors, matrices or batches of matrices "
                      "(transpose flags need matrices)",
                      cr_shape_str(ta).text, cr_shape_str(tb).text);
        return NULL;
    }
    /* A vector a is a row [1,k]; a vector b is a column [k,1]. */
    const int mra = ra == 1 ? 1 : 2, mrb = rb == 1 ? 1 : 2;
    const size_t m = ra == 1 ? 1 : ta->shape[(flags & CR_TRANS_A) ? ra - 1 : ra - 2];
    const size_t ka =
        ra == 1 ? ta->shape[0] : ta->shape[(flags & CR_TRANS_A) ? ra - 2 : ra - 1];
    const size_t kb =
        rb == 1 ? tb->shape[0] : tb->shape[(flags & CR_TRANS_B) ? rb - 1 : rb - 2];
    const size_t nn = rb == 1 ? 1 : tb->shape[(flags & CR_TRANS_B) ? rb - 2 : rb - 1];
    if (ka != kb) {
        cr_graph_fail(g, CR_ESHAPE,
                      "matmul: %s%s x %s%s: inner dimensions %zu and %zu differ",
                      cr_shape_str(ta).text, (flags & CR_TRANS_A) ? "^T" : "",
                      cr_shape_str(tb).text, (flags & CR_TRANS_B) ? "^T" : "", ka, kb);
        return NULL;
    }
    /* the batch dims, right-aligned and broadcast as in NumPy: at most two */
    const int nba = ra - mra, nbb = rb - mrb, nb = nba > nbb ? nba : nbb;
    size_t shape[CR_MAX_RANK], loop[2] = {1, 1};
    for (int d = 0; d < nb; d++) {
        const int da_at = d - (nb - nba), db_at = d - (nb - nbb);
        const size_t da = da_at >= 0 ? ta->shape[da_at] : 1;
        const size_t db = db_at >= 0 ? tb->shape[db_at] : 1;
        if (da != db && da != 1 && db != 1) {
            cr_graph_fail(g, CR_ESHAPE,
                          "matmul: %s x %s: batch dimensions %zu and %zu do not broadcast",
                          cr_shape_str(ta).text, cr_shape_str(tb).text, da, db);
            return NULL;
        }
        shape[d] = loop[2 - nb + d] = da == 1 ? db : da;
    }
    int rank = nb;
    if (ra >= 2)
        shape[rank++] = m;
    if (rb >= 2)
        shape[rank++] = nn;
    return matmul_node(g, a, b, flags, (int[3]){mra, mrb, rank - nb}, m, nn, ka, loop, rank,
                       shape);
}

/* ---- sop: inputs x1, w1, ..., xn, wn [, b]; args.i[0] = n ---- */

/* The matrix view of pair p: x as [m,k], w as [k,nn]. */
static void pair_dims(const cr_node *node, size_t p, size_t *m, size_t *k, size_t *nn)
{
    const cr_tensor *x = IN_TENSOR(node, 2 * p), *w = IN_TENSOR(node, 2 * p + 1);
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
        const cr_tensor *x = IN_TENSOR(n, 2 * p), *w = IN_TENSOR(n, 2 * p + 1);
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
                                 p + 1, cr_shape_str(&this).text,
                                 cr_shape_str(&first).text);
        }
        rank = r;
        memcpy(shape, s, sizeof s);
    }
    cr_status st = cr_tensor_set_shape(&n->value, rank, shape, &g->err);
    if (st != CR_OK || n->n_inputs == 2 * pairs)
        return st;
    const cr_tensor *b = IN_TENSOR(n, 2 * pairs);
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
        const size_t nb = IN_TENSOR(n, 2 * pairs)->size; /* a suffix: len is a multiple */
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
        CR_VJP_RETURN(
            cr_matmul_dims(g, dy, w, CR_TRANS_B, m, k, nn, like->rank, like->shape));
    /* dW = X^T dY */
    CR_VJP_RETURN(cr_matmul_dims(g, x, dy, CR_TRANS_A, k, nn, m, like->rank, like->shape));
}

/* The direct backward's arithmetic for a rank-0 sop of rank-0 inputs:
 * sop_vjp's mul(dy, w_p) and mul(dy, x_p), and dy itself for the bias. */
static int sop_scalar_vjp(const cr_node *n, double *slot)
{
    const size_t pairs = (size_t)n->args->i[0];
    const double dy = slot[n->id];
    for (size_t p = 0; p < pairs; p++) { /* from values, never slots: in order */
        const cr_node *x = n->inputs[2 * p], *w = n->inputs[2 * p + 1];
        slot[x->id] += dy * w->value.data[0];
        slot[w->id] += dy * x->value.data[0];
    }
    if (n->n_inputs > 2 * pairs)
        slot[n->inputs[2 * pairs]->id] += dy;
    return 1;
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
                         .vjp = sop_vjp,
                         .scalar_vjp = sop_scalar_vjp};

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
