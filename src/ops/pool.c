/*
 * pool.c - pooling over windows of the last two axes (2-D) or the last
 * axis (1-D), PyTorch's max_pool and avg_pool: max_pool with -inf padding,
 * its gradient going to the first maximal element of each window
 * (max_pool_scatter, whose vjp is max_pool_gather and back), and avg_pool
 * with count_include_pad (its vjp avg_pool_bwd, whose vjp is avg_pool).
 * Every leading axis is a plane pooled on its own.
 */
#include "ops/ops_common.h"

#include <string.h>

/* args.i = {kernel h, kernel w, stride h, stride w, padding h, padding w,
 * 2 for 2-D / 1 for 1-D}; the 1-D form has kernel 1, stride 1, padding 0
 * along h. */
enum { KH, KW, SH, SW, PH, PW, DIMS };

/* The geometry: planes of x [H,W] pooled into [OH,OW]. */
typedef struct pool_geom {
    size_t planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} pool_geom;

static pool_geom pool_geom_of(const cr_node_args *a, const cr_tensor *x, const cr_tensor *y)
{
    const int two = a->i[DIMS] == 2;
    const int r = x->rank;
    pool_geom q = {.h = two ? x->shape[r - 2] : 1,
                   .w = x->shape[r - 1],
                   .oh = two ? y->shape[r - 2] : 1,
                   .ow = y->shape[r - 1],
                   .kh = (size_t)a->i[KH],
                   .kw = (size_t)a->i[KW],
                   .sh = (size_t)a->i[SH],
                   .sw = (size_t)a->i[SW],
                   .ph = (size_t)a->i[PH],
                   .pw = (size_t)a->i[PW]};
    q.planes = x->size / (q.h * q.w);
    return q;
}

/* The part of window (oy, ox) inside the plane: rows [*y0, *y1), columns
 * [*x0, *x1). Padding is at most half the kernel, so it is never empty. */
static void window(const pool_geom *q, size_t oy, size_t ox, size_t *y0, size_t *y1,
                   size_t *x0, size_t *x1)
{
    const size_t top = oy * q->sh, left = ox * q->sw; /* in padded coordinates */
    *y0 = top < q->ph ? 0 : top - q->ph;
    *x0 = left < q->pw ? 0 : left - q->pw;
    *y1 = top + q->kh - q->ph < q->h ? top + q->kh - q->ph : q->h;
    *x1 = left + q->kw - q->pw < q->w ? left + q->kw - q->pw : q->w;
}

/* The takeover rule for one more element of a window: a greater value or a
 * NaN. */
#define TAKE(v, at)                                                                        \
    do {                                                                                   \
        if ((v) > m || isnan(v)) {                                                         \
            m = (v);                                                                       \
            best = (at);                                                                   \
        }                                                                                  \
    } while (0)

/* The index in the plane p of window (oy, ox)'s first maximal element, as
 * PyTorch picks it: scanning rows then columns from the first element
 * inside the plane, a strictly greater value or a NaN takes over. */
static size_t window_argmax(const pool_geom *q, const double *p, size_t oy, size_t ox)
{
    size_t y0, y1, x0, x1;
    window(q, oy, ox, &y0, &y1, &x0, &x1);
    size_t best = y0 * q->w + x0;
    double m = p[best];
    for (size_t iy = y0; iy < y1; iy++) {
        const double *row = p + iy * q->w;
        for (size_t ix = x0; ix < x1; ix++)
            TAKE(row[ix], iy * q->w + ix);
    }
    return best;
}

/* ---- max_pool: y = max over the window; dx = max_pool_scatter(pool, dy) ----
 * The forward leaves each window's argmax (its index in x) in the node's
 * cache; the helpers take the max_pool node as input 0 and read it. */

/* One output row of 2x2 windows with stride 2 and no padding (the common
 * case): rows r0 and r1 of the plane, starting at index base. */
static void max_pool_row_2x2(const double *r0, const double *r1, size_t base, size_t w,
                             size_t ow, double *y, double *arg)
{
    for (size_t ox = 0; ox < ow; ox++) {
        size_t best = 2 * ox;
        double m = r0[best];
        TAKE(r0[2 * ox + 1], 2 * ox + 1);
        TAKE(r1[2 * ox], w + 2 * ox);
        TAKE(r1[2 * ox + 1], w + 2 * ox + 1);
        y[ox] = m;
        arg[ox] = (double)(base + best);
    }
}

static void max_pool_forward(cr_node *n)
{
    const pool_geom q = pool_geom_of(n->args, IN_TENSOR(n, 0), &n->value);
    const double *x = IN(n, 0);
    double *y = OUT(n), *arg = n->args->cache;
    const int fast =
        q.kh == 2 && q.kw == 2 && q.sh == 2 && q.sw == 2 && q.ph == 0 && q.pw == 0;
    for (size_t p = 0; p < q.planes; p++) {
        const size_t x0 = p * q.h * q.w;
        const double *xp = x + x0;
        for (size_t oy = 0; oy < q.oh; oy++) {
            const size_t o = (p * q.oh + oy) * q.ow;
            if (fast) {
                const size_t r = 2 * oy * q.w;
                max_pool_row_2x2(xp + r, xp + r + q.w, x0 + r, q.w, q.ow, y + o, arg + o);
                continue;
            }
            for (size_t ox = 0; ox < q.ow; ox++) {
                const size_t at = window_argmax(&q, xp, oy, ox);
                y[o + ox] = xp[at];
                arg[o + ox] = (double)(x0 + at);
            }
        }
    }
}

/* max_pool_scatter(pool, dy): dx[argmax of each window] += dy. */
static void max_pool_scatter_forward(cr_node *n)
{
    const cr_node *pool = n->inputs[0];
    const double *arg = pool->args->cache, *dy = IN(n, 1);
    double *dx = OUT(n);
    memset(dx, 0, n->value.size * sizeof *dx);
    for (size_t o = 0, len = pool->value.size; o < len; o++)
        dx[(size_t)arg[o]] += dy[o];
}

/* max_pool_gather(pool, u): y = u at the argmax of each window. */
static void max_pool_gather_forward(cr_node *n)
{
    const double *arg = n->inputs[0]->args->cache, *u = IN(n, 1);
    double *y = OUT(n);
    for (size_t o = 0, len = n->value.size; o < len; o++)
        y[o] = u[(size_t)arg[o]];
}

/* ---- avg_pool: y = sum over the window (padding counted) / (kh kw) ---- */

static void avg_pool_forward(cr_node *n)
{
    const pool_geom q = pool_geom_of(n->args, IN_TENSOR(n, 0), &n->value);
    const double *x = IN(n, 0);
    double *y = OUT(n);
    const double inv = 1.0 / (double)(q.kh * q.kw);
    for (size_t p = 0; p < q.planes; p++) {
        const double *xp = x + p * q.h * q.w;
        double *yp = y + p * q.oh * q.ow;
        for (size_t oy = 0; oy < q.oh; oy++)
            for (size_t ox = 0; ox < q.ow; ox++) {
                size_t y0, y1, x0, x1;
                window(&q, oy, ox, &y0, &y1, &x0, &x1);
                double s = 0.0;
                for (size_t iy = y0; iy < y1; iy++)
                    for (size_t ix = x0; ix < x1; ix++)
                        s += xp[iy * q.w + ix];
                yp[oy * q.ow + ox] = s * inv;
            }
    }
}

/* avg_pool_bwd(dy): dx[window] += dy / (kh kw), the adjoint of avg_pool. */
static void avg_pool_bwd_forward(cr_node *n)
{
    const pool_geom q = pool_geom_of(n->args, &n->value, IN_TENSOR(n, 0));
    const double *dy = IN(n, 0);
    double *dx = OUT(n);
    const double inv = 1.0 / (double)(q.kh * q.kw);
    memset(dx, 0, n->value.size * sizeof *dx);
    for (size_t p = 0; p < q.planes; p++) {
        const double *dyp = dy + p * q.oh * q.ow;
        double *dxp = dx + p * q.h * q.w;
        for (size_t oy = 0; oy < q.oh; oy++)
            for (size_t ox = 0; ox < q.ow; ox++) {
                size_t y0, y1, x0, x1;
                window(&q, oy, ox, &y0, &y1, &x0, &x1);
                const double v = dyp[oy * q.ow + ox] * inv;
                for (size_t iy = y0; iy < y1; iy++)
                    for (size_t ix = x0; ix < x1; ix++)
                        dxp[iy * q.w + ix] += v;
            }
    }
}

static cr_status max_pool_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status max_pool_select_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                     cr_node **dx);
static cr_status avg_pool_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status avg_pool_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx);

/* Planes come from the shapes: only the batch axis of the output changes. */
static cr_status pool_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    return cr_rows_lead(g, n, max, rows);
}

const cr_op cr_op_max_pool = {.name = "max_pool",
                              .min_inputs = 1,
                              .max_inputs = 1,
                              .formula = "y = max of x over each window (-inf padding)",
                              .jacobian = "selection: 1 at the first maximal element of "
                                          "each window",
                              .forward = max_pool_forward,
                              .vjp = max_pool_vjp,
                              .resize = pool_resize};
const cr_op cr_op_max_pool_scatter = {.name = "max_pool_scatter",
                                      .min_inputs = 2,
                                      .max_inputs = 2,
                                      .flags = CR_OP_BACKWARD,
                                      .formula = "dx = dy added at the first maximal "
                                                 "element of each window (a: the max_pool)",
                                      .jacobian =
                                          "linear in dy (adjoint: max_pool_gather); "
                                          "zero in x",
                                      .forward = max_pool_scatter_forward,
                                      .vjp = max_pool_select_vjp,
                                      .resize = pool_resize};
const cr_op cr_op_max_pool_gather = {.name = "max_pool_gather",
                                     .min_inputs = 2,
                                     .max_inputs = 2,
                                     .flags = CR_OP_BACKWARD,
                                     .formula = "y = u at the first maximal element of "
                                                "each window (a: the max_pool)",
                                     .jacobian = "linear in u (adjoint: max_pool_scatter); "
                                                 "zero in x",
                                     .forward = max_pool_gather_forward,
                                     .vjp = max_pool_select_vjp,
                                     .resize = pool_resize};
const cr_op cr_op_avg_pool = {.name = "avg_pool",
                              .min_inputs = 1,
                              .max_inputs = 1,
                              .formula = "y = sum of x over each window / window size "
                                         "(zero padding counted)",
                              .jacobian = "linear: 1/(kh kw) on each window (adjoint: "
                                          "avg_pool_bwd)",
                              .forward = avg_pool_forward,
                              .vjp = avg_pool_vjp,
                              .resize = pool_resize};
const cr_op cr_op_avg_pool_bwd = {.name = "avg_pool_bwd",
                                  .min_inputs = 1,
                                  .max_inputs = 1,
                                  .flags = CR_OP_BACKWARD,
                                  .formula = "dx = dy / (kh kw) added over each window",
                                  .jacobian = "linear (adjoint: avg_pool)",
                                  .forward = avg_pool_bwd_forward,
                                  .vjp = avg_pool_bwd_vjp,
                                  .resize = pool_resize};

/* A pooling node of op with the window args from x (rank like x) into
 * shape, shaped like the pooled x or like x. */
static cr_node *pool_node(cr_graph *g, const cr_op *op, cr_node *const *in, size_t n_in,
                          const cr_node_args *args, const cr_tensor *shape)
{
    return cr_node_create_shaped(g, op, in, n_in, args, shape->rank, shape->shape);
}

static cr_status max_pool_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *in[2] = {n, dy};
    CR_VJP_RETURN(pool_node(g, &cr_op_max_pool_scatter, in, 2, n->args, IN_TENSOR(n, 0)));
}

/* max_pool_scatter and max_pool_gather are linear in their second input
 * and each other's adjoint; the max_pool node only tells where (x's
 * derivative through it is zero: piecewise constant). */
static cr_status max_pool_select_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                     cr_node **dx)
{
    if (i == 0) {
        *dx = NULL;
        return CR_OK;
    }
    cr_node *in[2] = {n->inputs[0], up};
    const cr_op *other =
        n->op == &cr_op_max_pool_scatter ? &cr_op_max_pool_gather : &cr_op_max_pool_scatter;
    CR_VJP_RETURN(pool_node(g, other, in, 2, n->args, IN_TENSOR(n, 1)));
}

static cr_status avg_pool_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(pool_node(g, &cr_op_avg_pool_bwd, &dy, 1, n->args, IN_TENSOR(n, 0)));
}

static cr_status avg_pool_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                  cr_node **dx)
{
    CR_VJP_RETURN(pool_node(g, &cr_op_avg_pool, &up, 1, n->args, IN_TENSOR(n, 0)));
}

/* ---- the public constructors ---- */

/* Pools x with op over the last dims (1 or 2) axes: checks the arguments
 * and computes the output shape. kernel, stride and padding are {h, w};
 * a zero stride means the kernel's. */
static cr_node *pool_build(cr_graph *g, const cr_op *op, const char *name, int dims,
                           cr_node *x, const size_t kernel[2], const size_t stride[2],
                           const size_t padding[2])
{
    if (!g || !x)
        return cr_node_create(g, op, &x, 1, NULL); /* reports or propagates the NULL */
    const size_t k[2] = {kernel[0], kernel[1]};
    const size_t s[2] = {stride[0] ? stride[0] : k[0], stride[1] ? stride[1] : k[1]};
    const size_t limit = (size_t)1 << 30;
    for (int d = 0; d < 2; d++)
        if (k[d] == 0 || k[d] > limit || s[d] > limit || 2 * padding[d] > k[d]) {
            cr_graph_fail(
                g, CR_EINVAL,
                "%s: kernel %zux%zu, stride %zux%zu, padding %zux%zu: kernels must "
                "be at least 1 and padding at most half the kernel",
                name, k[0], k[1], s[0], s[1], padding[0], padding[1]);
            return NULL;
        }
    const cr_tensor *t = &x->value;
    if (t->rank < dims + 1 || t->rank > dims + 2) {
        cr_graph_fail(g, CR_ESHAPE, "%s: input %s is not %s", name, cr_shape_str(t).text,
                      dims == 2 ? "[N,C,H,W] or [C,H,W]" : "[N,C,L] or [C,L]");
        return NULL;
    }
    size_t shape[CR_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    for (int d = 2 - dims; d < 2; d++) {
        size_t *len = &shape[t->rank - 2 + d];
        if (*len + 2 * padding[d] < k[d]) {
            cr_graph_fail(g, CR_ESHAPE,
                          "%s: input %s with padding is smaller than the "
                          "kernel %zux%zu",
                          name, cr_shape_str(t).text, k[0], k[1]);
            return NULL;
        }
        *len = (*len + 2 * padding[d] - k[d]) / s[d] + 1;
    }
    cr_node_args args = {.i = {(int64_t)k[0], (int64_t)k[1], (int64_t)s[0], (int64_t)s[1],
                               (int64_t)padding[0], (int64_t)padding[1], dims}};
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    if (op == &cr_op_max_pool) {
        size_t count;
        cr_shape_count(t->rank, shape, &count);
        if (!(args.cache = cr_graph_cache_new(g, count)))
            return NULL;
    }
    cr_node *n = cr_node_create_shaped(g, op, &x, 1, &args, t->rank, shape);
    if (!n)
        cr_arena_rewind(&g->arena, mark);
    return n;
}

static cr_node *pool2d(cr_graph *g, const cr_op *op, const char *name, cr_node *x,
                       const size_t kernel[2], const size_t stride[2],
                       const size_t padding[2])
{
    static const size_t zero[2] = {0, 0};
    if (g && !kernel) {
        cr_graph_fail(g, CR_EINVAL, "%s: kernel is NULL", name);
        return NULL;
    }
    return pool_build(g, op, name, 2, x, kernel, stride ? stride : zero,
                      padding ? padding : zero);
}

static cr_node *pool1d(cr_graph *g, const cr_op *op, const char *name, cr_node *x,
                       size_t kernel, size_t stride, size_t padding)
{
    const size_t k[2] = {1, kernel}, s[2] = {1, stride}, p[2] = {0, padding};
    return pool_build(g, op, name, 1, x, k, s, p);
}

cr_node *cr_max_pool2d(cr_graph *g, cr_node *x, const size_t kernel[2],
                       const size_t stride[2], const size_t padding[2])
{
    return pool2d(g, &cr_op_max_pool, "max_pool2d", x, kernel, stride, padding);
}

cr_node *cr_avg_pool2d(cr_graph *g, cr_node *x, const size_t kernel[2],
                       const size_t stride[2], const size_t padding[2])
{
    return pool2d(g, &cr_op_avg_pool, "avg_pool2d", x, kernel, stride, padding);
}

cr_node *cr_max_pool1d(cr_graph *g, cr_node *x, size_t kernel, size_t stride,
                       size_t padding)
{
    return pool1d(g, &cr_op_max_pool, "max_pool1d", x, kernel, stride, padding);
}

cr_node *cr_avg_pool1d(cr_graph *g, cr_node *x, size_t kernel, size_t stride,
                       size_t padding)
{
    return pool1d(g, &cr_op_avg_pool, "avg_pool1d", x, kernel, stride, padding);
}
