/*
 * conv.c - convolutions (conv1d and conv2d: one op, conv, whose 1-D form is
 * a 2-D one with a kernel one row high) through im2col and cr_gemm, and the
 * two products of its vjp: conv_input_grad (the transposed convolution,
 * through col2im) and conv_weight_grad. The three are linear in each input,
 * and each one's vjp is built from the three, so a convolution
 * differentiates to any order. The im2col columns of one sample and group
 * live in the graph's scratch space, reserved when a node is built, so an
 * evaluation allocates nothing.
 */
#include "ops/ops_common.h"

#include <limits.h>
#include <string.h>

/* args.i = {stride h, stride w, padding h, padding w, dilation h, dilation w,
 * groups}; the 1-D form has stride, padding and dilation 1, 0 and 1 along h. */
enum { SH, SW, PH, PW, DH, DW, GROUPS };

/* The geometry of a convolution: input [N,C,H,W], weights [O,C/groups,KH,KW],
 * output [N,O,OH,OW] (rank 3 tensors with H = KH = OH = 1). */
typedef struct geom {
    size_t n, c, h, w, o, kh, kw, oh, ow;
    size_t sh, sw, ph, pw, dh, dw, groups;
    size_t cg, og, kc, l, hw; /* per group: channels in, out; column rows, length */
} geom;

static geom geom_of(const cr_node_args *a, const cr_tensor *x, const cr_tensor *w,
                    const cr_tensor *y)
{
    const int two = x->rank == 4;
    geom q = {.n = x->shape[0],
              .c = x->shape[1],
              .h = two ? x->shape[2] : 1,
              .w = x->shape[x->rank - 1],
              .o = w->shape[0],
              .kh = two ? w->shape[2] : 1,
              .kw = w->shape[w->rank - 1],
              .oh = two ? y->shape[2] : 1,
              .ow = y->shape[y->rank - 1],
              .sh = (size_t)a->i[SH],
              .sw = (size_t)a->i[SW],
              .ph = (size_t)a->i[PH],
              .pw = (size_t)a->i[PW],
              .dh = (size_t)a->i[DH],
              .dw = (size_t)a->i[DW],
              .groups = (size_t)a->i[GROUPS]};
    q.cg = q.c / q.groups;
    q.og = q.o / q.groups;
    q.kc = q.cg * q.kh * q.kw;
    q.l = q.oh * q.ow;
    q.hw = q.h * q.w;
    return q;
}

/* A 1x1 kernel with stride 1 and no padding reads the input as its own
 * columns: no im2col. */
static int direct(const geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
}

/* Output positions ox whose input column ox*stride + off lies in [0, len):
 * [*lo, *hi). */
static void valid_range(size_t out, size_t stride, long off, size_t len, size_t *lo,
                        size_t *hi)
{
    *lo = off >= 0 ? 0 : ((size_t)(-off) + stride - 1) / stride;
    *hi = (long)len - 1 - off >= 0 ? ((size_t)((long)len - 1 - off)) / stride + 1 : 0;
    if (*hi > out)
        *hi = out;
    if (*lo > *hi)
        *lo = *hi;
}

/* Whether im2col can copy each column row as one block: with stride 1 and
 * no dilation along the width, and output rows as long as the input's
 * (ow == w, "same" padding, as 3x3 with padding 1), output position
 * oy*OW + ox of a kernel tap reads input position oy*W + ox plus a fixed
 * shift, except where ox + shift wraps into a neighbouring row. */
static int im2col_shifts(const geom *q)
{
    return q->sh == 1 && q->sw == 1 && q->dw == 1 && q->ow == q->w;
}

/* Where column row (c, i, j) reads in the im2col_shifts case: output rows
 * [y0, y1) read input rows inside the image and, within them, columns
 * [lo, hi); the block [first, last) of the row, from row y0's column lo to
 * row y1 - 1's column hi - 1, reads input positions from + [first, last),
 * all inside the channel. The rest of the row is padding (zero), and so
 * are the lo + ow - hi entries at each join of two rows of the block, which
 * read a neighbouring row's end. last == first when no entry reads inside. */
typedef struct shifted {
    size_t lo, hi, y0, y1, first, last;
    long from;
} shifted;

static shifted shifted_of(const geom *q, size_t i, size_t j)
{
    shifted b = {0};
    const long off = (long)j - (long)q->pw, dy = (long)(i * q->dh) - (long)q->ph;
    valid_range(q->ow, 1, off, q->w, &b.lo, &b.hi);
    b.y0 = dy >= 0 ? 0 : (size_t)(-dy) < q->oh ? (size_t)(-dy) : q->oh;
    b.y1 = (long)q->h - dy > 0 ? (size_t)((long)q->h - dy) : 0;
    if (b.y1 > q->oh)
        b.y1 = q->oh;
    if (b.y1 <= b.y0 || b.hi <= b.lo)
        return b;
    b.first = b.y0 * q->ow + b.lo;
    b.last = (b.y1 - 1) * q->ow + b.hi;
    b.from = (long)b.first + dy * (long)q->w + off; /* >= 0 */
    return b;
}

/* Zeroes the entries of the block of r that read a neighbouring row. */
static void zero_joins(const geom *q, const shifted *b, double *restrict r)
{
    for (size_t oy = b->y0; oy + 1 < b->y1; oy++) {
        double *restrict e = r + oy * q->ow;
        for (size_t ox = b->hi; ox < q->ow; ox++)
            e[ox] = 0.0;
        for (size_t ox = 0; ox < b->lo; ox++)
            e[q->ow + ox] = 0.0;
    }
}

/* im2col of one column row in the im2col_shifts case: one block copy from
 * the channel xc. */
static void im2col_row_shifted(const geom *q, const double *restrict xc, size_t i, size_t j,
                               double *restrict r)
{
    const shifted b = shifted_of(q, i, j);
    memset(r, 0, b.first * sizeof *r);
    memcpy(r + b.first, xc + b.from, (b.last - b.first) * sizeof *r);
    memset(r + b.last, 0, (q->l - b.last) * sizeof *r);
    zero_joins(q, &b, r);
}

/* col[(c*KH + i)*KW + j][oy*OW + ox] = x[c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]
 * for the cg channels of one sample's group at x, zero in the padding.
 * Rows are short (a feature map's width), so plain loops beat a memset and
 * memcpy call per row; im2col_shifts copies a whole column row at once. */
static void im2col(const geom *q, const double *restrict x, double *restrict col)
{
    if (im2col_shifts(q)) {
        for (size_t c = 0; c < q->cg; c++)
            for (size_t i = 0; i < q->kh; i++)
                for (size_t j = 0; j < q->kw; j++)
                    im2col_row_shifted(q, x + c * q->hw, i, j,
                                       col + ((c * q->kh + i) * q->kw + j) * q->l);
        return;
    }
    for (size_t j = 0; j < q->kw; j++) {
        const long off = (long)(j * q->dw) - (long)q->pw;
        size_t lo, hi;
        valid_range(q->ow, q->sw, off, q->w, &lo, &hi);
        for (size_t c = 0; c < q->cg; c++)
            for (size_t i = 0; i < q->kh; i++) {
                double *row = col + ((c * q->kh + i) * q->kw + j) * q->l;
                for (size_t oy = 0; oy < q->oh; oy++) {
                    double *restrict r = row + oy * q->ow;
                    const long iy = (long)(oy * q->sh + i * q->dh) - (long)q->ph;
                    if (iy < 0 || iy >= (long)q->h) {
                        for (size_t ox = 0; ox < q->ow; ox++)
                            r[ox] = 0.0;
                        continue;
                    }
                    const double *restrict src = x + (c * q->h + (size_t)iy) * q->w;
                    for (size_t ox = 0; ox < lo; ox++)
                        r[ox] = 0.0;
                    if (q->sw == 1)
                        for (size_t ox = lo; ox < hi; ox++)
                            r[ox] = src[(long)ox + off];
                    else
                        for (size_t ox = lo; ox < hi; ox++)
                            r[ox] = src[(long)(ox * q->sw) + off];
                    for (size_t ox = hi; ox < q->ow; ox++)
                        r[ox] = 0.0;
                }
            }
    }
}

/* The adjoint of im2col: adds each column entry to the input position it
 * was read from (dx must be zeroed first). In the im2col_shifts case each
 * column row adds as one block, its joins zeroed first (so col, the
 * kernel's scratch, is changed). */
static void col2im(const geom *q, double *restrict col, double *restrict dx)
{
    if (im2col_shifts(q)) {
        for (size_t c = 0; c < q->cg; c++)
            for (size_t i = 0; i < q->kh; i++)
                for (size_t j = 0; j < q->kw; j++) {
                    double *r = col + ((c * q->kh + i) * q->kw + j) * q->l;
                    const shifted b = shifted_of(q, i, j);
                    zero_joins(q, &b, r);
                    cr_add_into(dx + c * q->hw + b.from, r + b.first, b.last - b.first);
                }
        return;
    }
    for (size_t j = 0; j < q->kw; j++) {
        const long off = (long)(j * q->dw) - (long)q->pw;
        size_t lo, hi;
        valid_range(q->ow, q->sw, off, q->w, &lo, &hi);
        for (size_t c = 0; c < q->cg; c++)
            for (size_t i = 0; i < q->kh; i++) {
                const double *row = col + ((c * q->kh + i) * q->kw + j) * q->l;
                for (size_t oy = 0; oy < q->oh; oy++) {
                    const long iy = (long)(oy * q->sh + i * q->dh) - (long)q->ph;
                    if (iy < 0 || iy >= (long)q->h)
                        continue;
                    const double *r = row + oy * q->ow;
                    double *dst = dx + (c * q->h + (size_t)iy) * q->w;
                    for (size_t ox = lo; ox < hi; ox++)
                        dst[(long)(ox * q->sw) + off] += r[ox];
                }
            }
    }
}

/* ---- two threads: the kernels split their work in two parts ---- */

/* Multiply-adds of a kernel below which a second thread costs more than
 * it saves (starting one takes tens of microseconds). */
#define TWO_THREAD_WORK (1 << 19)

/* Whether a kernel of q splits its work, count items (samples or output
 * channels), between two threads: when there are two threads, two items
 * and enough work (else OpenBLAS's own threads serve one big product). */
static int split_in_two(const geom *q, size_t count)
{
    return count >= 2 && cr_num_threads() >= 2 &&
           (double)q->n * (double)q->o * (double)q->kc * (double)q->l >= TWO_THREAD_WORK;
}

/* Part index's share [*lo, *hi) of count items: halves when split, else
 * all of them in part 0. */
static void part_range(int split, size_t index, size_t count, size_t *lo, size_t *hi)
{
    *lo = index == 0 ? 0 : split ? count / 2 : count;
    *hi = index == 0 && split ? count / 2 : count;
}

/* Scratch for one node: room for the transposed weight gradient
 * (weight_grad_transposed), then the columns of one sample and group per
 * part. */
static size_t scratch_need(const geom *q) { return q->o * q->kc + 2 * q->kc * q->l; }
static double *part_cols(const geom *q, double *scratch, size_t index)
{
    return scratch + q->o * q->kc + index * q->kc * q->l;
}

/* What a kernel's parts share: the geometry, the node's inputs and output
 * and the scratch space. */
typedef struct job {
    geom q;
    const double *a, *b, *bias; /* the node's inputs, in order */
    double *out, *scratch;
    int split; /* split_in_two */
} job;

/* ---- conv: Y[n,o] = sum_c W[o,c] (*) X[n,c] + b[o], per group ---- */

/* With a bias, each output block is filled with it and the product added
 * (beta 1): faster than the bias as a column of the weights against a row
 * of ones, which OpenBLAS zeroes C for (beta 0) and whose extra column
 * slows its kernel (docs/performance.md, W6). Each part computes its own
 * samples, so two threads give the very numbers one does. */
static void conv_part(void *ctx, size_t index)
{
    const job *j = ctx;
    const geom *q = &j->q;
    const double *x = j->a, *w = j->b, *b = j->bias;
    double *y = j->out, *col = part_cols(q, j->scratch, index);
    const int cols_are_input = direct(q);
    size_t lo, hi;
    part_range(j->split, index, q->n, &lo, &hi);
    for (size_t s = lo; s < hi; s++)
        for (size_t gi = 0; gi < q->groups; gi++) {
            const double *xg = x + (s * q->c + gi * q->cg) * q->hw;
            if (!cols_are_input)
                im2col(q, xg, col);
            double *yg = y + (s * q->o + gi * q->og) * q->l;
            if (b)
                for (size_t o = 0; o < q->og; o++) {
                    double *restrict r = yg + o * q->l;
                    const double v = b[gi * q->og + o];
                    CR_FOR_BLOCKED(k, q->l, r[k] = v;);
                }
            cr_gemm(0, q->og, q->l, q->kc, 1.0, w + gi * q->og * q->kc,
                    cols_are_input ? xg : col, b ? 1.0 : 0.0, yg);
        }
}

/* Runs a kernel's two parts on node n of geometry q, which split count
 * items. */
static void run_parts(cr_node *n, const geom *q, size_t count,
                      void (*part)(void *ctx, size_t index))
{
    job j = {.q = *q,
             .a = IN(n, 0),
             .b = IN(n, 1),
             .bias = n->n_inputs > 2 ? IN(n, 2) : NULL,
             .out = OUT(n),
             .scratch = n->graph->scratch,
             .split = split_in_two(q, count)};
    cr_run_two_parts(j.split, part, &j);
}

static void conv_forward(cr_node *n)
{
    const geom q = geom_of(n->args, IN_TENSOR(n, 0), IN_TENSOR(n, 1), &n->value);
    run_parts(n, &q, q.n, conv_part);
}

/* conv_input_grad(dY, W) = dX: per sample and group, W^T dY, scattered back
 * by col2im; each part its own samples. */
static void input_grad_part(void *ctx, size_t index)
{
    const job *j = ctx;
    const geom *q = &j->q;
    const double *dy = j->a, *w = j->b;
    double *col = part_cols(q, j->scratch, index);
    const int cols_are_input = direct(q);
    size_t lo, hi;
    part_range(j->split, index, q->n, &lo, &hi);
    if (!cols_are_input)
        memset(j->out + lo * q->c * q->hw, 0, (hi - lo) * q->c * q->hw * sizeof(double));
    for (size_t s = lo; s < hi; s++)
        for (size_t gi = 0; gi < q->groups; gi++) {
            const double *dyg = dy + (s * q->o + gi * q->og) * q->l;
            double *dxg = j->out + (s * q->c + gi * q->cg) * q->hw;
            cr_gemm(CR_TRANS_A, q->kc, q->l, q->og, 1.0, w + gi * q->og * q->kc, dyg, 0.0,
                    cols_are_input ? dxg : col);
            if (!cols_are_input)
                col2im(q, col, dxg);
        }
}

static void conv_input_grad_forward(cr_node *n)
{
    const geom q = geom_of(n->args, &n->value, IN_TENSOR(n, 1), IN_TENSOR(n, 0));
    run_parts(n, &q, q.n, input_grad_part);
}

/* Whether conv_weight_grad computes dW^T = im2col(X) dY^T (kc x og per
 * group) and transposes it at the end, rather than dW = dY im2col(X)^T: with
 * fewer column rows than output channels, such as a first layer's 9
 * against 32 (W6's conv2d 1->32: the 64 products took 1.16 ms instead of
 * 1.30 ms, docs/performance.md). The transposed sums go to the scratch
 * space's first o * kc doubles, so the direct (no scratch) form keeps the
 * other way. */
static int weight_grad_transposed(const geom *q) { return !direct(q) && q->kc < q->og; }

/* conv_weight_grad(X, dY) = dW: per group, the sum over samples of
 * dY im2col(X)^T (or its transpose, weight_grad_transposed). The parts
 * split each group's output channels (both make the columns of every
 * sample), so each entry sums the samples in the same order whether one
 * thread runs or two. */
static void weight_grad_part(void *ctx, size_t index)
{
    const job *j = ctx;
    size_t o0, o1;
    part_range(j->split, index, j->q.og, &o0, &o1);
    if (o0 == o1)
        return;
    const geom *q = &j->q;
    const size_t rows = o1 - o0;
    const int transposed = weight_grad_transposed(q);
    double *col = part_cols(q, j->scratch, index);
    for (size_t s = 0; s < q->n; s++)
        for (size_t gi = 0; gi < q->groups; gi++) {
            const double *xg = j->a + (s * q->c + gi * q->cg) * q->hw;
            const double *dyg = j->b + (s * q->o + gi * q->og + o0) * q->l;
            /* this part's rows of dW (or its block of dW^T) */
            const size_t at = (gi * q->og + o0) * q->kc;
            if (!direct(q))
                im2col(q, xg, col);
            if (transposed)
                cr_gemm(CR_TRANS_B, q->kc, rows, q->l, 1.0, col, dyg, s ? 1.0 : 0.0,
                        j->scratch + at);
            else
                cr_gemm(CR_TRANS_B, rows, q->kc, q->l, 1.0, dyg, direct(q) ? xg : col,
                        s ? 1.0 : 0.0, j->out + at);
        }
    if (transposed)
        for (size_t gi = 0; gi < q->groups; gi++) {
            const size_t at = (gi * q->og + o0) * q->kc;
            for (size_t r = 0; r < rows; r++)
                for (size_t k = 0; k < q->kc; k++)
                    j->out[at + r * q->kc + k] = j->scratch[at + k * rows + r];
        }
}

static void conv_weight_grad_forward(cr_node *n)
{
    const geom q = geom_of(n->args, IN_TENSOR(n, 0), &n->value, IN_TENSOR(n, 1));
    run_parts(n, &q, q.og, weight_grad_part);
}

static cr_status conv_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status conv_input_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                     cr_node **dx);
static cr_status conv_weight_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                      cr_node **dx);

static const char *conv_jacobian(const cr_node *n, size_t i)
{
    (void)n;
    if (i == 0)
        return "linear: dX = conv_input_grad(dY, W), the transposed convolution";
    if (i == 1)
        return "linear: dW = conv_weight_grad(X, dY), dY times im2col(X)^T";
    return "bias: db = dY summed over samples and positions";
}

/* The geometry comes from the shapes: the batch is axis 0 of the output,
 * except for the weights' gradient. */
static cr_status conv_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    return n->op == &cr_op_conv_weight_grad ? CR_OK : cr_rows_lead(g, n, max, rows);
}

const cr_op cr_op_conv = {.name = "conv",
                          .min_inputs = 2,
                          .max_inputs = 3,
                          .formula = "Y[n,o] = sum_c W[o,c] (*) X[n,c] + b[o] (per group)",
                          .jacobian = "linear in X and in W (see conv_input_grad, "
                                      "conv_weight_grad)",
                          .jacobian_of = conv_jacobian,
                          .forward = conv_forward,
                          .vjp = conv_vjp,
                          .resize = conv_resize};
const cr_op cr_op_conv_input_grad = {.name = "conv_input_grad",
                                     .min_inputs = 2,
                                     .max_inputs = 2,
                                     .flags = CR_OP_BACKWARD,
                                     .formula = "dX = col2im(W^T dY): the transposed "
                                                "convolution",
                                     .jacobian = "linear in dY (adjoint: conv) and in W",
                                     .forward = conv_input_grad_forward,
                                     .vjp = conv_input_grad_vjp,
                                     .resize = conv_resize};
const cr_op cr_op_conv_weight_grad = {.name = "conv_weight_grad",
                                      .min_inputs = 2,
                                      .max_inputs = 2,
                                      .flags = CR_OP_BACKWARD,
                                      .formula = "dW = sum_n dY[n] im2col(X[n])^T",
                                      .jacobian = "linear in X and in dY",
                                      .forward = conv_weight_grad_forward,
                                      .vjp = conv_weight_grad_vjp,
                                      .resize = conv_resize};

/* The name users know the node by. */
static const char *conv_name(int rank) { return rank == 3 ? "conv1d" : "conv2d"; }

/* Output length along one axis, or 0 when the dilated kernel is longer than
 * the padded input. */
static size_t out_len(size_t in, size_t k, size_t stride, size_t pad, size_t dil)
{
    const size_t span = dil * (k - 1) + 1;
    return in + 2 * pad < span ? 0 : (in + 2 * pad - span) / stride + 1;
}

/* Checks x, w and the bias b (NULL: none) against the parameters args and
 * writes the output shape. */
static cr_status conv_check(cr_graph *g, const cr_tensor *x, const cr_tensor *w,
                            const cr_tensor *b, const cr_node_args *a, size_t shape[4])
{
    const char *name = conv_name(x->rank);
    const size_t groups = (size_t)a->i[GROUPS];
    if ((x->rank != 3 && x->rank != 4) || w->rank != x->rank)
        return cr_graph_fail(
            g, CR_ESHAPE,
            "%s: input %s and weights %s: needs [N,C,L] and [O,C/groups,K] "
            "or [N,C,H,W] and [O,C/groups,KH,KW]",
            name, cr_shape_str(x).text, cr_shape_str(w).text);
    if (x->shape[1] % groups || w->shape[0] % groups || w->shape[1] != x->shape[1] / groups)
        return cr_graph_fail(g, CR_ESHAPE,
                             "%s: input %s and weights %s do not fit %zu group(s): the "
                             "weights need [O,%zu,...] with O a multiple of the groups",
                             name, cr_shape_str(x).text, cr_shape_str(w).text, groups,
                             x->shape[1] / groups);
    if (b && (b->rank != 1 || b->shape[0] != w->shape[0]))
        return cr_graph_fail(g, CR_ESHAPE,
                             "%s: bias %s does not fit weights %s (needs [%zu])", name,
                             cr_shape_str(b).text, cr_shape_str(w).text, w->shape[0]);
    const int two = x->rank == 4;
    shape[0] = x->shape[0];
    shape[1] = w->shape[0];
    shape[2] = out_len(x->shape[2], w->shape[2], (size_t)a->i[two ? SH : SW],
                       (size_t)a->i[two ? PH : PW], (size_t)a->i[two ? DH : DW]);
    shape[3] = two ? out_len(x->shape[3], w->shape[3], (size_t)a->i[SW], (size_t)a->i[PW],
                             (size_t)a->i[DW])
                   : 1;
    if (shape[2] == 0 || shape[3] == 0)
        return cr_graph_fail(g, CR_ESHAPE,
                             "%s: input %s with padding is smaller than the (dilated) "
                             "kernel of weights %s",
                             name, cr_shape_str(x).text, cr_shape_str(w).text);
    return CR_OK;
}

/* A node of one of the three ops with the convolution's parameters args
 * and output shape (rank like input 0's): reserves the scratch space its
 * kernel needs (the columns of one sample and group) first, since the node
 * is evaluated when built, and checks the products fit BLAS's integers. */
static cr_node *conv_node(cr_graph *g, const cr_op *op, cr_node *const *in, size_t n_in,
                          const cr_node_args *args, const size_t *shape)
{
    const int rank = in[0]->value.rank;
    cr_tensor out;
    if (cr_tensor_set_shape(&out, rank, shape, &g->err) != CR_OK)
        return NULL;
    geom q;
    if (op == &cr_op_conv)
        q = geom_of(args, &in[0]->value, &in[1]->value, &out);
    else if (op == &cr_op_conv_input_grad)
        q = geom_of(args, &out, &in[1]->value, &in[0]->value);
    else
        q = geom_of(args, &in[0]->value, &out, &in[1]->value);
    if (q.kc >= INT_MAX || q.l > INT_MAX || q.og > INT_MAX ||
        (double)q.kc * (2.0 * (double)q.l + (double)q.o) > /* scratch_need */
            (double)SIZE_MAX / sizeof(double)) {
        cr_graph_fail(g, CR_ERANGE, "%s: the products exceed the BLAS integer range",
                      conv_name(rank));
        return NULL;
    }
    if (!direct(&q) && cr_graph_reserve_scratch(g, scratch_need(&q)) != CR_OK)
        return NULL;
    return cr_node_create_shaped(g, op, in, n_in, args, rank, shape);
}

/* The convolution of x by w (+ b) with parameters args; in[2] may be NULL. */
static cr_node *conv_build(cr_graph *g, cr_node *x, cr_node *w, cr_node *b,
                           const cr_node_args *args)
{
    cr_node *in[3] = {x, w, b};
    const size_t n_in = b ? 3 : 2;
    if (!g || !x || !w)
        return cr_node_create(g, &cr_op_conv, in, n_in, args); /* reports the NULL */
    size_t shape[4];
    if (conv_check(g, &x->value, &w->value, b ? &b->value : NULL, args, shape) != CR_OK)
        return NULL;
    return conv_node(g, &cr_op_conv, in, n_in, args, shape);
}

/* A backward helper op (conv_input_grad or conv_weight_grad) of inputs
 * in[2], one of them dy, for the convolution of x_like by w_like with
 * parameters args; its output is shaped like x_like or w_like. */
static cr_node *helper_node(cr_graph *g, const cr_op *op, cr_node *const *in,
                            const cr_node_args *args, const cr_tensor *x_like,
                            const cr_tensor *w_like, const cr_node *dy)
{
    size_t y_shape[4];
    if (conv_check(g, x_like, w_like, NULL, args, y_shape) != CR_OK)
        return NULL;
    if (dy->value.size != y_shape[0] * y_shape[1] * y_shape[2] * y_shape[3] ||
        dy->value.rank != x_like->rank) {
        cr_graph_fail(g, CR_ESHAPE, "%s: %s is not the output shape of %s", op->name,
                      cr_shape_str(&dy->value).text, conv_name(x_like->rank));
        return NULL;
    }
    const cr_tensor *out = op == &cr_op_conv_input_grad ? x_like : w_like;
    return conv_node(g, op, in, 2, args, out->shape);
}

cr_node *cr_conv_input_grad(cr_graph *g, cr_node *dy, cr_node *w, const cr_node_args *args,
                            const cr_tensor *x_like)
{
    cr_node *in[2] = {dy, w};
    if (!g || !dy || !w)
        return cr_node_create(g, &cr_op_conv_input_grad, in, 2, args);
    return helper_node(g, &cr_op_conv_input_grad, in, args, x_like, &w->value, dy);
}

cr_node *cr_conv_weight_grad(cr_graph *g, cr_node *x, cr_node *dy, const cr_node_args *args,
                             const cr_tensor *w_like)
{
    cr_node *in[2] = {x, dy};
    if (!g || !x || !dy)
        return cr_node_create(g, &cr_op_conv_weight_grad, in, 2, args);
    return helper_node(g, &cr_op_conv_weight_grad, in, args, &x->value, w_like, dy);
}

/* dX = conv_input_grad(dY, W), dW = conv_weight_grad(X, dY), db = dY summed
 * over samples and positions. */
static cr_status conv_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *x = n->inputs[0], *w = n->inputs[1];
    if (i == 0)
        CR_VJP_RETURN(cr_conv_input_grad(g, dy, w, n->args, &x->value));
    if (i == 1)
        CR_VJP_RETURN(cr_conv_weight_grad(g, x, dy, n->args, &w->value));
    const cr_tensor *y = &n->value;
    CR_VJP_RETURN(cr_channel_sum(g, dy, y->shape[0], y->shape[1],
                                 y->size / (y->shape[0] * y->shape[1]), 1.0, 1,
                                 &y->shape[1]));
}

/* conv_input_grad(G, W) is linear in each: its vjp for an upstream U
 * (shaped like X) is conv(U, W) for G and conv_weight_grad(U, G) for W. */
static cr_status conv_input_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                     cr_node **dx)
{
    cr_node *dy = n->inputs[0], *w = n->inputs[1];
    if (i == 0)
        CR_VJP_RETURN(conv_build(g, up, w, NULL, n->args));
    CR_VJP_RETURN(cr_conv_weight_grad(g, up, dy, n->args, &w->value));
}

/* conv_weight_grad(X, G): for an upstream V (shaped like W),
 * conv_input_grad(G, V) for X and conv(X, V) for G. */
static cr_status conv_weight_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                      cr_node **dx)
{
    cr_node *x = n->inputs[0], *dy = n->inputs[1];
    if (i == 0)
        CR_VJP_RETURN(cr_conv_input_grad(g, dy, up, n->args, &x->value));
    CR_VJP_RETURN(conv_build(g, x, up, NULL, n->args));
}

/* ---- the public constructors ---- */

/* The parameters as args, or CR_EINVAL naming the bad one. */
static cr_status conv_args(cr_graph *g, const char *name, const size_t stride[2],
                           const size_t padding[2], const size_t dilation[2], size_t groups,
                           cr_node_args *a)
{
    const size_t s[2] = {stride ? stride[0] : 1, stride ? stride[1] : 1};
    const size_t p[2] = {padding ? padding[0] : 0, padding ? padding[1] : 0};
    const size_t d[2] = {dilation ? dilation[0] : 1, dilation ? dilation[1] : 1};
    const size_t limit = (size_t)1 << 30;
    if (s[0] == 0 || s[1] == 0 || d[0] == 0 || d[1] == 0 || groups == 0 || s[0] > limit ||
        s[1] > limit || p[0] > limit || p[1] > limit || d[0] > limit || d[1] > limit ||
        groups > limit)
        return cr_graph_fail(
            g, CR_EINVAL,
            "%s: stride %zux%zu, padding %zux%zu, dilation %zux%zu, groups "
            "%zu: strides, dilations and groups must be at least 1 (and "
            "every value below 2^30)",
            name, s[0], s[1], p[0], p[1], d[0], d[1], groups);
    *a = (cr_node_args){.i = {(int64_t)s[0], (int64_t)s[1], (int64_t)p[0], (int64_t)p[1],
                              (int64_t)d[0], (int64_t)d[1], (int64_t)groups}};
    return CR_OK;
}

/* A public constructor's convolution: x of the given rank (3 or 4). */
static cr_node *conv_public(cr_graph *g, int rank, cr_node *x, cr_node *w, cr_node *b,
                            const size_t stride[2], const size_t padding[2],
                            const size_t dilation[2], size_t groups)
{
    const char *name = conv_name(rank);
    cr_node_args a = {0};
    if (g && conv_args(g, name, stride, padding, dilation, groups, &a) != CR_OK)
        return NULL;
    if (g && x && x->value.rank != rank) {
        cr_graph_fail(g, CR_ESHAPE, "%s: input %s is not %s", name,
                      cr_shape_str(&x->value).text, rank == 4 ? "[N,C,H,W]" : "[N,C,L]");
        return NULL;
    }
    return conv_build(g, x, w, b, &a);
}

cr_node *cr_conv2d(cr_graph *g, cr_node *x, cr_node *w, cr_node *b, const size_t stride[2],
                   const size_t padding[2], const size_t dilation[2], size_t groups)
{
    return conv_public(g, 4, x, w, b, stride, padding, dilation, groups);
}

cr_node *cr_conv1d(cr_graph *g, cr_node *x, cr_node *w, cr_node *b, size_t stride,
                   size_t padding, size_t dilation, size_t groups)
{
    const size_t s[2] = {1, stride}, p[2] = {0, padding}, d[2] = {1, dilation};
    return conv_public(g, 3, x, w, b, s, p, d, groups);
}
