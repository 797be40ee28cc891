/*
 * norm.c - normalisation: layer_norm (over trailing axes) and batch_norm
 * (over the batch and spatial axes, with running statistics updated in
 * training mode and used in evaluation mode), their shared backward helper
 * norm_bwd, and the per-channel ops their gradients and a convolution's
 * bias are built from: channel_sum, channel_expand, channel_scale, and
 * training_only (the identity in training mode, zero in evaluation mode).
 *
 * Both normalisations view x as [A, C, B] and normalise each c over its A*B
 * elements: layer norm as [1, rows, D] (D the product of the normalised
 * trailing axes), batch norm as [N, C, spatial]. Their gain and bias are
 * indexed by d for layer norm and by c for batch norm.
 */
#include "ops/ops_common.h"

#include <math.h>
#include <string.h>

/* ---- sums over one group ---- */

/* The sum of x[0..n), of x*y, and of (x - mu)^2, in CR_BLOCK partial sums
 * (clang-format mis-indents the unrolled loops). */
// clang-format off
static double sum_of(const double *x, size_t n)
{
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK)
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++)
            acc[j] += x[i + j];
    for (; i < n; i++)
        acc[0] += x[i];
    return cr_sum_of_block(acc);
}

static double dot_of(const double *x, const double *y, size_t n)
{
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK)
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++)
            acc[j] += x[i + j] * y[i + j];
    for (; i < n; i++)
        acc[0] += x[i] * y[i];
    return cr_sum_of_block(acc);
}

static double sq_dev_of(const double *x, double mu, size_t n)
{
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK)
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++)
            acc[j] += (x[i + j] - mu) * (x[i + j] - mu);
    for (; i < n; i++)
        acc[0] += (x[i] - mu) * (x[i] - mu);
    return cr_sum_of_block(acc);
}
// clang-format on

/* ---- channel_sum, channel_expand, channel_scale: args.i = {A, C, B} ---- */

#define VIEW_A(n) ((size_t)(n)->args->i[0])
#define VIEW_C(n) ((size_t)(n)->args->i[1])
#define VIEW_B(n) ((size_t)(n)->args->i[2])

/* y[c] = f sum_{a,b} x[a,c,b] */
static void channel_sum_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0);
    double *y = OUT(n);
    memset(y, 0, nc * sizeof *y);
    for (size_t a = 0; a < na; a++) {
        if (nb == 1) { /* sums across rows: vectorised over c */
            cr_add_into(y, x + a * nc, nc);
            continue;
        }
        for (size_t c = 0; c < nc; c++)
            y[c] += sum_of(x + (a * nc + c) * nb, nb);
    }
    if (n->args->f != 1.0)
        for (size_t c = 0; c < nc; c++)
            y[c] *= n->args->f;
}

/* y[a,c,b] = f x[c] */
static void channel_expand_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0);
    double *y = OUT(n);
    const double f = n->args->f;
    for (size_t a = 0; a < na; a++) {
        if (nb == 1) {
            double *restrict r = y + a * nc;
            CR_FOR_BLOCKED(c, nc, r[c] = f * x[c];);
            continue;
        }
        for (size_t c = 0; c < nc; c++) {
            double *restrict r = y + (a * nc + c) * nb;
            const double v = f * x[c];
            CR_FOR_BLOCKED(b, nb, r[b] = v;);
        }
    }
}

/* y[a,c,b] = x[a,c,b] s[c] */
static void channel_scale_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0), *s = IN(n, 1);
    double *y = OUT(n);
    for (size_t a = 0; a < na; a++) {
        if (nb == 1) {
            const double *restrict xr = x + a * nc, *restrict sr = s;
            double *restrict yr = y + a * nc;
            CR_FOR_BLOCKED(c, nc, yr[c] = xr[c] * sr[c];);
            continue;
        }
        for (size_t c = 0; c < nc; c++) {
            const size_t o = (a * nc + c) * nb;
            const double *restrict xr = x + o;
            double *restrict yr = y + o;
            const double v = s[c];
            CR_FOR_BLOCKED(b, nb, yr[b] = xr[b] * v;);
        }
    }
}

static cr_status channel_sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx);
static cr_status channel_expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx);
static cr_status channel_scale_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx);

/* The view {A, C, B}'s slot holding the batch (batch norm's A = N, layer
 * norm's groups C) scales; outputs shaped like a gain or a channel sum
 * over the batch keep their shape. */
static cr_status norm_resize(cr_graph *g, cr_node *n, size_t max, size_t rows);

const cr_op cr_op_channel_sum = {.name = "channel_sum",
                                 .min_inputs = 1,
                                 .max_inputs = 1,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "y[c] = f * sum over a, b of x[a,c,b]",
                                 .jacobian = "ones along each channel (adjoint: "
                                             "channel_expand)",
                                 .forward = channel_sum_forward,
                                 .vjp = channel_sum_vjp,
                                 .resize = norm_resize};
const cr_op cr_op_channel_expand = {.name = "channel_expand",
                                    .min_inputs = 1,
                                    .max_inputs = 1,
                                    .flags = CR_OP_BACKWARD,
                                    .formula = "y[a,c,b] = f * x[c]",
                                    .jacobian = "repetition (adjoint: channel_sum)",
                                    .forward = channel_expand_forward,
                                    .vjp = channel_expand_vjp,
                                    .resize = norm_resize};
const cr_op cr_op_channel_scale = {.name = "channel_scale",
                                   .min_inputs = 2,
                                   .max_inputs = 2,
                                   .flags = CR_OP_BACKWARD,
                                   .formula = "y[a,c,b] = x[a,c,b] * s[c]",
                                   .jacobian = "diagonal in x; dS = channel_sum(dY * X)",
                                   .forward = channel_scale_forward,
                                   .vjp = channel_scale_vjp,
                                   .resize = norm_resize};

static cr_node *view_node(cr_graph *g, const cr_op *op, cr_node *const *in, size_t n_in,
                          size_t a, size_t c, size_t b, double f, int rank,
                          const size_t *shape)
{
    cr_node_args args = {.i = {(int64_t)a, (int64_t)c, (int64_t)b}, .f = f};
    return cr_node_create_shaped(g, op, in, n_in, &args, rank, shape);
}

cr_node *cr_channel_sum(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                        int rank, const size_t *shape)
{
    return view_node(g, &cr_op_channel_sum, &x, 1, a, c, b, f, rank, shape);
}

cr_node *cr_channel_expand(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                           int rank, const size_t *shape)
{
    return view_node(g, &cr_op_channel_expand, &x, 1, a, c, b, f, rank, shape);
}

cr_node *cr_channel_scale(cr_graph *g, cr_node *x, cr_node *s, size_t a, size_t c, size_t b)
{
    if (!x || !s)
        return NULL;
    cr_node *in[2] = {x, s};
    return view_node(g, &cr_op_channel_scale, in, 2, a, c, b, 0.0, x->value.rank,
                     x->value.shape);
}

static cr_status channel_sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(cr_channel_expand(g, dy, VIEW_A(n), VIEW_C(n), VIEW_B(n), n->args->f,
                                    x->rank, x->shape));
}

static cr_status channel_expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    CR_VJP_RETURN(cr_channel_sum(g, dy, VIEW_A(n), VIEW_C(n), VIEW_B(n), n->args->f,
                                 x->rank, x->shape));
}

static cr_status channel_scale_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx)
{
    if (i == 0)
        CR_VJP_RETURN(
            cr_channel_scale(g, dy, n->inputs[1], VIEW_A(n), VIEW_C(n), VIEW_B(n)));
    const cr_tensor *s = IN_TENSOR(n, 1);
    CR_VJP_RETURN(cr_channel_sum(g, cr_mul(g, dy, n->inputs[0]), VIEW_A(n), VIEW_C(n),
                                 VIEW_B(n), 1.0, s->rank, s->shape));
}

/* ---- layer_norm, batch_norm and their backward helpers ----
 * args.i = {A, C, B, flags}, args.f = eps, args.f2 = momentum, args.state =
 * batch norm's running statistics [2, C] (mean, variance), args.cache =
 * the mean and 1/sqrt(var + eps) of each group c from the node's last
 * evaluation ([0, C) and [C, 2C)), then 1 if those were the running
 * statistics (batch norm evaluating), else 0. The helpers norm_bwd,
 * norm_gain_grad and training_only take the normalisation node as their
 * last input and read its cache. */

enum {
    NORM_BATCH = 1u << 0, /* batch norm: running statistics in evaluation mode */
    NORM_OWNER = 1u << 1, /* updates the running statistics in training mode */
    NORM_GAIN = 1u << 2,  /* an input gamma follows x */
    NORM_BIAS = 1u << 3   /* an input beta follows (x and gamma) */
};
#define NORM_FLAGS(n) ((unsigned)(n)->args->i[3])

/* Whether the cache holds running statistics (so the normalisation was
 * affine in x). */
static int cache_fixed(const cr_node *n) { return n->args->cache[2 * VIEW_C(n)] != 0.0; }

/* ---- training_only(t, src): t if the normalisation src used batch
 * statistics, 0 if it used running ones (its second derivative then
 * vanishes) ---- */

static void training_only_forward(cr_node *n)
{
    const double *restrict x = IN(n, 0);
    double *restrict y = OUT(n);
    const double keep = cache_fixed(n->inputs[1]) ? 0.0 : 1.0;
    CR_FOR_BLOCKED(i, n->value.size, y[i] = keep * x[i];);
}

static cr_status training_only_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx)
{
    if (i == 1) {
        *dx = NULL;
        return CR_OK;
    }
    cr_node *in[2] = {dy, n->inputs[1]};
    CR_VJP_RETURN(cr_node_create(g, &cr_op_training_only, in, 2, NULL));
}

const cr_op cr_op_training_only = {.name = "training_only",
                                   .min_inputs = 2,
                                   .max_inputs = 2,
                                   .flags = CR_OP_BACKWARD,
                                   .formula = "y = a if normalisation b used batch "
                                              "statistics (training), else 0",
                                   .jacobian = "identity or zero, by b's mode",
                                   .shape = cr_shape_same,
                                   .forward = training_only_forward,
                                   .vjp = training_only_vjp};

/* sum over the group c of x viewed as [A, C, B], and of x and of x * y in
 * one pass */
static double group_sum(const cr_node *n, const double *x, size_t c)
{
    double s = 0.0;
    for (size_t a = 0; a < VIEW_A(n); a++)
        s += sum_of(x + (a * VIEW_C(n) + c) * VIEW_B(n), VIEW_B(n));
    return s;
}

static void group_sum_dot(const cr_node *n, const double *x, const double *y, size_t c,
                          double *sx, double *sxy)
{
    *sx = *sxy = 0.0;
    for (size_t a = 0; a < VIEW_A(n); a++) {
        const size_t o = (a * VIEW_C(n) + c) * VIEW_B(n);
        *sx += sum_of(x + o, VIEW_B(n));
        *sxy += dot_of(x + o, y + o, VIEW_B(n));
    }
}

/* The mean and 1/sqrt(variance + eps) group c is normalised with, left in
 * the cache: the batch's (the biased variance), or batch norm's running
 * statistics in evaluation mode. The owner of the running statistics
 * updates them in training mode (momentum, and PyTorch's unbiased
 * variance). */
static void group_stats(const cr_node *n, const double *x, size_t c)
{
    double *running = n->args->state ? n->args->state->data : NULL, *cache = n->args->cache;
    const size_t nc = VIEW_C(n), m = VIEW_A(n) * VIEW_B(n);
    if ((NORM_FLAGS(n) & NORM_BATCH) && n->graph->evaluating) {
        cache[c] = running[c];
        cache[nc + c] = 1.0 / sqrt(running[nc + c] + n->args->f);
        return;
    }
    const double mu = group_sum(n, x, c) / (double)m;
    double q = 0.0;
    for (size_t a = 0; a < VIEW_A(n); a++)
        q += sq_dev_of(x + (a * nc + c) * VIEW_B(n), mu, VIEW_B(n));
    cache[c] = mu;
    cache[nc + c] = 1.0 / sqrt(q / (double)m + n->args->f);
    if (NORM_FLAGS(n) & NORM_OWNER) {
        const double k = n->args->f2;
        running[c] = (1.0 - k) * running[c] + k * mu;
        running[nc + c] = (1.0 - k) * running[nc + c] + k * q / (double)(m - 1);
    }
}

/* y = (x - mean) rstd * gamma + beta, gamma and beta indexed by c for
 * batch norm and by b (the position in the normalised trailing axes) for
 * layer norm. */
static void norm_forward(cr_node *n)
{
    const unsigned flags = NORM_FLAGS(n);
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0), *cache = n->args->cache;
    const double *gamma = (flags & NORM_GAIN) ? IN(n, 1) : NULL;
    const double *beta = (flags & NORM_BIAS) ? IN(n, gamma ? 2 : 1) : NULL;
    double *y = OUT(n);
    n->args->cache[2 * nc] = (flags & NORM_BATCH) && n->graph->evaluating;
    for (size_t c = 0; c < nc; c++) {
        group_stats(n, x, c);
        const double mu = cache[c], r = cache[nc + c];
        for (size_t a = 0; a < na; a++) {
            const size_t o = (a * nc + c) * nb;
            const double *restrict xr = x + o;
            double *restrict yr = y + o;
            if (flags & NORM_BATCH) { /* one gain and bias for the group */
                const double k = r * (gamma ? gamma[c] : 1.0);
                const double off = (beta ? beta[c] : 0.0) - mu * k;
                CR_FOR_BLOCKED(b, nb, yr[b] = xr[b] * k + off;);
            } else if (gamma && beta) {
                const double *restrict gr = gamma, *restrict br = beta;
                CR_FOR_BLOCKED(b, nb, yr[b] = (xr[b] - mu) * r * gr[b] + br[b];);
            } else {
                CR_FOR_BLOCKED(b, nb, yr[b] = (xr[b] - mu) * r;);
                if (gamma)
                    CR_FOR_BLOCKED(b, nb, yr[b] *= gamma[b];);
                if (beta)
                    CR_FOR_BLOCKED(b, nb, yr[b] += beta[b];);
            }
        }
    }
}

/* norm_bwd(x, u, src[, gamma]) = J^T (u gamma) for the normalisation
 * xh(x) of src without gain and bias (J is symmetric), with src's
 * statistics: per group, rstd (g - mean(g) - xh mean(g xh)) for
 * g = u gamma; g rstd with running statistics. gamma, indexed as src's
 * gain, saves the pass that would make g. */
static void norm_bwd_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n), m = na * nb;
    const double *x = IN(n, 0), *u = IN(n, 1), *cache = n->args->cache;
    const double *gamma = n->n_inputs > 3 ? IN(n, 3) : NULL;
    const int batch = (NORM_FLAGS(n) & NORM_BATCH) != 0, fixed = cache_fixed(n);
    double *z = OUT(n);
    for (size_t c = 0; c < nc; c++) {
        const double mu = cache[c], r = cache[nc + c];
        const double gc = gamma && batch ? gamma[c] : 1.0;
        double k1 = r * gc, k2 = 0.0, k3 = 0.0; /* z = k1 g + k2 x + k3 */
        if (!fixed) {
            double su = 0.0, sux = 0.0; /* sums of g and g x */
            if (gamma && !batch) {      /* layer norm: A = 1, gamma along the row */
                const double *restrict ur = u + c * nb, *restrict xr = x + c * nb;
                double acc_u[CR_BLOCK] = {0}, acc_ux[CR_BLOCK] = {0};
                CR_FOR_BLOCKED(b, nb, const double gu = ur[b] * gamma[b];
                               acc_u[b % CR_BLOCK] += gu;
                               acc_ux[b % CR_BLOCK] += gu * xr[b];);
                su = cr_sum_of_block(acc_u);
                sux = cr_sum_of_block(acc_ux);
            } else {
                group_sum_dot(n, u, x, c, &su, &sux);
                su *= gc;
                sux *= gc;
            }
            const double mean_gxh = r * (sux - mu * su) / (double)m;
            k2 = -r * r * mean_gxh;
            k3 = -r * su / (double)m - k2 * mu;
        }
        for (size_t a = 0; a < na; a++) {
            const size_t o = (a * nc + c) * nb;
            const double *restrict xr = x + o, *restrict ur = u + o;
            double *restrict zr = z + o;
            if (gamma && !batch) {
                const double *restrict gr = gamma;
                CR_FOR_BLOCKED(b, nb, zr[b] = r * ur[b] * gr[b] + k2 * xr[b] + k3;);
            } else {
                CR_FOR_BLOCKED(b, nb, zr[b] = k1 * ur[b] + k2 * xr[b] + k3;);
            }
        }
    }
}

/* norm_gain_grad(x, dy, src) = sum of dy * xh over everything but the
 * gain's index (c for batch norm, b for layer norm), with src's
 * statistics. */
static void norm_gain_grad_forward(cr_node *n)
{
    const size_t nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0), *dy = IN(n, 1), *cache = n->args->cache;
    double *out = OUT(n);
    if (NORM_FLAGS(n) & NORM_BATCH) {
        for (size_t c = 0; c < nc; c++) {
            double sd, sdx;
            group_sum_dot(n, dy, x, c, &sd, &sdx);
            out[c] = cache[nc + c] * (sdx - cache[c] * sd);
        }
        return;
    }
    memset(out, 0, nb * sizeof *out);
    for (size_t c = 0; c < nc; c++) { /* layer norm: A = 1, one row per c */
        const double mu = cache[c], r = cache[nc + c];
        const double *restrict xr = x + c * nb, *restrict dr = dy + c * nb;
        double *restrict o = out;
        CR_FOR_BLOCKED(b, nb, o[b] += dr[b] * (xr[b] - mu) * r;);
    }
}

static cr_status norm_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status norm_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status norm_gain_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx);

static const char *norm_jacobian(const cr_node *n, size_t i)
{
    (void)n;
    if (i == 0)
        return "per group: rstd (I - 1 1^T/m - xh xh^T/m), times gamma (norm_bwd)";
    return "gain: dgamma = dY * xh, bias: dbeta = dY, summed over the other axes";
}

const cr_op cr_op_layer_norm = {.name = "layer_norm",
                                .min_inputs = 1,
                                .max_inputs = 3,
                                .formula =
                                    "y = (x - mean) / sqrt(var + eps) * gamma + beta "
                                    "over the trailing axes",
                                .jacobian = "per row: rstd (I - 1 1^T/D - xh xh^T/D)",
                                .jacobian_of = norm_jacobian,
                                .forward = norm_forward,
                                .vjp = norm_vjp,
                                .resize = norm_resize};
const cr_op cr_op_batch_norm = {.name = "batch_norm",
                                .min_inputs = 1,
                                .max_inputs = 3,
                                .formula =
                                    "y = (x - mean) / sqrt(var + eps) * gamma + beta "
                                    "per channel over N and space (running "
                                    "statistics when evaluating)",
                                .jacobian = "per channel: rstd (I - 1 1^T/m - xh xh^T/m); "
                                            "rstd I when evaluating",
                                .jacobian_of = norm_jacobian,
                                .forward = norm_forward,
                                .vjp = norm_vjp,
                                .resize = norm_resize};
const cr_op cr_op_norm_bwd = {.name = "norm_bwd",
                              .min_inputs = 3,
                              .max_inputs = 4,
                              .flags = CR_OP_BACKWARD,
                              .formula =
                                  "z = rstd (u - mean(u) - xh mean(u xh)) per group, "
                                  "with the statistics of normalisation c",
                              .jacobian = "symmetric in u; second derivative of the "
                                          "normalisation in x",
                              .forward = norm_bwd_forward,
                              .vjp = norm_bwd_vjp,
                              .resize = norm_resize};
const cr_op cr_op_norm_gain_grad = {.name = "norm_gain_grad",
                                    .min_inputs = 3,
                                    .max_inputs = 3,
                                    .flags = CR_OP_BACKWARD,
                                    .formula = "dgamma = sum of dy * xh over all but the "
                                               "gain's axes (statistics of c)",
                                    .jacobian = "linear in dy; through xh in x",
                                    .forward = norm_gain_grad_forward,
                                    .vjp = norm_gain_grad_vjp,
                                    .resize = norm_resize};

/* The view the gain and bias are indexed in: [C] of batch norm's view, or
 * the trailing D of layer norm's [1, rows, D] as [rows, D, 1]. */
static void gain_view(const cr_node *n, size_t *a, size_t *c, size_t *b)
{
    if (NORM_FLAGS(n) & NORM_BATCH) {
        *a = VIEW_A(n), *c = VIEW_C(n), *b = VIEW_B(n);
    } else {
        *a = VIEW_C(n), *c = VIEW_B(n), *b = 1;
    }
}

/* A node of op with the view, eps and running statistics of the
 * normalisation src: a normalisation of in[0] without gain and bias
 * (never updating the statistics; a cache of its own), or a helper whose
 * last input is src (sharing its cache), shaped like shape. */
static cr_node *norm_like(cr_graph *g, const cr_node *src, const cr_op *op,
                          cr_node *const *in, size_t n_in, const cr_tensor *shape)
{
    cr_node_args args = *src->args;
    args.i[3] = (int64_t)(NORM_FLAGS(src) & NORM_BATCH);
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    if (op == &cr_op_layer_norm || op == &cr_op_batch_norm)
        args.cache = cr_graph_cache_new(g, 2 * VIEW_C(src) + 1);
    cr_node *n = args.cache ? cr_node_create_shaped(g, op, in, n_in, &args, shape->rank,
                                                    shape->shape)
                            : NULL;
    if (!n)
        cr_arena_rewind(&g->arena, mark);
    return n;
}

static cr_status norm_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const unsigned flags = NORM_FLAGS(n);
    cr_node *x = n->inputs[0];
    size_t a, c, b;
    gain_view(n, &a, &c, &b);
    const cr_tensor *p = IN_TENSOR(n, i);
    if (i == 0) { /* norm_bwd(x, dy, n[, gamma]) */
        cr_node *in[4] = {x, dy, n, (flags & NORM_GAIN) ? n->inputs[1] : NULL};
        CR_VJP_RETURN(norm_like(g, n, &cr_op_norm_bwd, in, in[3] ? 4 : 3, p));
    }
    if (i == 1 && (flags & NORM_GAIN)) {
        cr_node *in[3] = {x, dy, n};
        CR_VJP_RETURN(norm_like(g, n, &cr_op_norm_gain_grad, in, 3, p));
    }
    CR_VJP_RETURN(cr_channel_sum(g, dy, a, c, b, 1.0, p->rank, p->shape));
}

/* For u: norm_bwd(x, up) (J is symmetric). For x, with v = up, z = J u,
 * r = rstd, xh the normalised x, m the group's size and sums per group:
 *   d<v, z>/dx = -(r/m) (xh sum(v z) + z sum(v xh)) - r mean(u xh) J v,
 * built from graph ops; zero when the statistics were the running ones (r
 * is then constant), which training_only makes so. */
static cr_status norm_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up, cr_node **dx)
{
    cr_node *x = n->inputs[0], *u = n->inputs[1], *src = n->inputs[2];
    cr_node *gamma = n->n_inputs > 3 ? n->inputs[3] : NULL;
    const cr_tensor *xt = &x->value;
    if (i == 2) { /* src only lends its statistics */
        *dx = NULL;
        return CR_OK;
    }
    size_t ga, gc, gb;
    gain_view(src, &ga, &gc, &gb);
    cr_node *in[3] = {x, up, src};
    cr_node *jv = norm_like(g, src, &cr_op_norm_bwd, in, 3, xt);
    if (i == 1) /* gamma J up */
        CR_VJP_RETURN(gamma ? cr_channel_scale(g, jv, gamma, ga, gc, gb) : jv);
    if (i == 3) { /* <J up, u gamma>: sum of u J up over all but the gain's axes */
        const cr_tensor *p = &gamma->value;
        CR_VJP_RETURN(
            cr_channel_sum(g, cr_mul(g, u, jv), ga, gc, gb, 1.0, p->rank, p->shape));
    }
    if (gamma) /* the formula below with g = u gamma */
        u = cr_channel_scale(g, u, gamma, ga, gc, gb);
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double inv_m = 1.0 / (double)(na * nb);
    const size_t cs[1] = {nc};
    cr_node *xh = norm_like(g, src, src->op, &x, 1, xt);
#define GROUP_SUM(t, f) cr_channel_sum(g, (t), na, nc, nb, (f), 1, cs)
#define GROUP_SCALE(t, s) cr_channel_scale(g, (t), (s), na, nc, nb)
    cr_node *mean =
        cr_channel_expand(g, GROUP_SUM(x, inv_m), na, nc, nb, 1.0, xt->rank, xt->shape);
    cr_node *d = cr_sub(g, x, mean);
    cr_node *var = GROUP_SUM(cr_mul(g, d, d), inv_m);
    cr_node *r = cr_powc(g, cr_add(g, var, cr_scalar(g, n->args->f)), -0.5);
    cr_node *t = cr_add(g, GROUP_SCALE(xh, GROUP_SUM(cr_mul(g, up, n), 1.0)),
                        GROUP_SCALE(n, GROUP_SUM(cr_mul(g, up, xh), 1.0)));
    cr_node *bu = GROUP_SUM(cr_mul(g, u, xh), inv_m);
    cr_node *grad = cr_add(g, GROUP_SCALE(t, cr_scale(g, r, -inv_m)),
                           GROUP_SCALE(jv, cr_neg(g, cr_mul(g, r, bu))));
#undef GROUP_SUM
#undef GROUP_SCALE
    if (!(NORM_FLAGS(n) & NORM_BATCH))
        CR_VJP_RETURN(grad);
    cr_node *gate[2] = {grad, src};
    CR_VJP_RETURN(cr_node_create(g, &cr_op_training_only, gate, 2, NULL));
}

/* Linear in dy: for an upstream v (shaped like gamma), v[gain index] * xh;
 * in x through xh: norm_bwd(x, dy * v[gain index]). */
static cr_status norm_gain_grad_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                    cr_node **dx)
{
    cr_node *x = n->inputs[0], *dy = n->inputs[1], *src = n->inputs[2];
    size_t a, c, b;
    gain_view(n, &a, &c, &b);
    if (i == 2) {
        *dx = NULL;
        return CR_OK;
    }
    if (i == 1) {
        cr_node *xh = norm_like(g, src, src->op, &x, 1, &x->value);
        CR_VJP_RETURN(cr_channel_scale(g, xh, up, a, c, b));
    }
    cr_node *in[3] = {x, cr_channel_scale(g, dy, up, a, c, b), src};
    CR_VJP_RETURN(in[1] ? norm_like(g, src, &cr_op_norm_bwd, in, 3, &x->value) : NULL);
}

/* ---- the public constructors ---- */

/* Checks a gain or bias p (NULL: none) against the shape it must have. */
static cr_status check_affine(cr_graph *g, const char *op, const char *what,
                              const cr_node *p, int rank, const size_t *shape)
{
    if (!p)
        return CR_OK;
    const cr_tensor *t = &p->value;
    if (t->rank == rank && memcmp(t->shape, shape, (size_t)rank * sizeof *shape) == 0)
        return CR_OK;
    char want[96];
    cr_shape_format(want, sizeof want, rank, shape);
    return cr_graph_fail(g, CR_ESHAPE, "%s: %s %s does not match %s", op, what,
                         cr_shape_str(t).text, want);
}

/* The normalisation node: inputs x, gamma, beta (either may be NULL), its
 * cache allocated here (the arena rewound on failure). */
static cr_node *norm_build(cr_graph *g, const cr_op *op, cr_node *x, cr_node *gamma,
                           cr_node *beta, cr_node_args *args)
{
    cr_node *in[3] = {x};
    size_t k = 1;
    if (gamma) {
        in[k++] = gamma;
        args->i[3] |= NORM_GAIN;
    }
    if (beta) {
        in[k++] = beta;
        args->i[3] |= NORM_BIAS;
    }
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    args->cache = cr_graph_cache_new(g, 2 * (size_t)args->i[1] + 1);
    cr_node *n = args->cache ? cr_node_create_shaped(g, op, in, k, args, x->value.rank,
                                                     x->value.shape)
                             : NULL;
    if (!n)
        cr_arena_rewind(&g->arena, mark);
    return n;
}

cr_node *cr_layer_norm(cr_graph *g, cr_node *x, int axes, cr_node *gamma, cr_node *beta,
                       double eps)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_layer_norm, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    if (axes < 1 || axes > t->rank || !(eps >= 0.0) || !isfinite(eps)) {
        cr_graph_fail(g, CR_EINVAL,
                      "layer_norm: %d trailing axes of %s with eps %g: needs 1 to %d axes "
                      "and eps >= 0",
                      axes, cr_shape_str(t).text, eps, t->rank);
        return NULL;
    }
    const size_t *trailing = t->shape + (t->rank - axes);
    size_t d = 1;
    for (int k = 0; k < axes; k++)
        d *= trailing[k];
    if (check_affine(g, "layer_norm", "gain", gamma, axes, trailing) != CR_OK ||
        check_affine(g, "layer_norm", "bias", beta, axes, trailing) != CR_OK)
        return NULL;
    cr_node_args args = {.i = {1, (int64_t)(t->size / d), (int64_t)d}, .f = eps};
    return norm_build(g, &cr_op_layer_norm, x, gamma, beta, &args);
}

cr_node *cr_batch_norm(cr_graph *g, cr_node *x, cr_node *gamma, cr_node *beta,
                       double momentum, double eps)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_batch_norm, &x, 1, NULL);
    const cr_tensor *t = &x->value;
    if (t->rank < 2 || t->size / t->shape[1] < 2) {
        cr_graph_fail(g, CR_ESHAPE,
                      "batch_norm: input %s is not [N,C], [N,C,L] or [N,C,H,W] with more "
                      "than one value per channel",
                      cr_shape_str(t).text);
        return NULL;
    }
    if (!(momentum >= 0.0 && momentum <= 1.0) || !(eps >= 0.0) || !isfinite(eps)) {
        cr_graph_fail(g, CR_EINVAL,
                      "batch_norm: momentum %g and eps %g: needs momentum in "
                      "[0, 1] and eps >= 0",
                      momentum, eps);
        return NULL;
    }
    const size_t nc = t->shape[1];
    if (check_affine(g, "batch_norm", "gain", gamma, 1, &nc) != CR_OK ||
        check_affine(g, "batch_norm", "bias", beta, 1, &nc) != CR_OK)
        return NULL;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    const size_t stats_shape[2] = {2, nc};
    cr_tensor *stats = cr_graph_state_new(g, 2, stats_shape);
    cr_node_args args = {.i = {(int64_t)t->shape[0], (int64_t)nc,
                               (int64_t)(t->size / (t->shape[0] * nc)),
                               NORM_BATCH | NORM_OWNER},
                         .f = eps,
                         .f2 = momentum,
                         .state = stats};
    cr_node *n = stats ? norm_build(g, &cr_op_batch_norm, x, gamma, beta, &args) : NULL;
    if (!n) {
        cr_arena_rewind(&g->arena, mark);
        return NULL;
    }
    /* PyTorch's initial statistics; the evaluation at build time (often of
     * placeholder inputs) does not count as a batch */
    for (size_t c = 0; c < nc; c++) {
        stats->data[c] = 0.0;
        stats->data[nc + c] = 1.0;
    }
    return n;
}

static cr_status norm_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    const int k = cr_rows_view(g, n, 0, 3, max, rows);
    if (k < 0)
        return g->err.status;
    if (n->op == &cr_op_norm_gain_grad || (n->op == &cr_op_channel_sum && k != 1))
        return CR_OK;
    return cr_rows_lead(g, n, max, rows);
}
