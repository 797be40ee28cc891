/*
 * loss.c - losses and softmax: sq_error (the article's E), mse, softmax
 * and log_softmax along any axis, fused softmax cross-entropy (from target
 * distributions along any axis, or from integer class indices), binary
 * cross-entropy (from probabilities and, stably, from logits), huber, with
 * the fused backward helpers softmax_bwd, softmax_xent_bwd and
 * cross_entropy_bwd.
 */
#include "ops/ops_common.h"

#include <float.h>
#include <string.h>

/* ---- sq_error and mse ---- */

/* sum (y - d)^2 over both inputs, in CR_BLOCK partial sums (a fixed order,
 * vectorised; clang-format mis-indents the unrolled loop). */
// clang-format off
static double sum_sq_diff(const cr_node *n)
{
    const double *restrict y = IN(n, 0), *restrict d = IN(n, 1);
    const size_t len = IN_TENSOR(n, 0)->size;
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= len; i += CR_BLOCK)
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++)
            acc[j] += (y[i + j] - d[i + j]) * (y[i + j] - d[i + j]);
    for (; i < len; i++)
        acc[0] += (y[i] - d[i]) * (y[i] - d[i]);
    return cr_sum_of_block(acc);
}
// clang-format on

static void sq_error_forward(cr_node *n) { OUT(n)[0] = 0.5 * sum_sq_diff(n); }

static void mse_forward(cr_node *n)
{
    OUT(n)[0] = sum_sq_diff(n) / (double)IN_TENSOR(n, 0)->size;
}

/* dE/dy = k (y - d), dE/dd = k (d - y): k = 1 for sq_error, 2/n for mse
 * (a factor that follows the batch size) */
static cr_status difference_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                cr_node **dx, int mean)
{
    cr_node *diff = cr_sub(g, n->inputs[i], n->inputs[1 - i]);
    CR_VJP_RETURN(cr_mul(g, dy, mean ? cr_scale_per_element(g, diff, 2.0) : diff));
}

static cr_status sq_error_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return difference_vjp(g, n, i, dy, dx, 0);
}

static cr_status mse_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return difference_vjp(g, n, i, dy, dx, 1);
}

const cr_op cr_op_sq_error = {.name = "sq_error",
                              .min_inputs = 2,
                              .max_inputs = 2,
                              .formula = "E = 1/2 * sum (d - y)^2",
                              .deriv = {"a-b", "b-a"},
                              .jacobian = "row: dE/dy = y - d",
                              .shape = cr_shape_pair_to_scalar,
                              .forward = sq_error_forward,
                              .vjp = sq_error_vjp};
const cr_op cr_op_mse = {.name = "mse",
                         .min_inputs = 2,
                         .max_inputs = 2,
                         .formula = "E = mean (y - d)^2",
                         .deriv = {"2*(a-b)/n", "2*(b-a)/n"},
                         .jacobian = "row: dE/dy = 2 (y - d) / n",
                         .shape = cr_shape_pair_to_scalar,
                         .forward = mse_forward,
                         .vjp = mse_vjp};

cr_node *cr_sq_error(cr_graph *g, cr_node *y, cr_node *d)
{
    return cr_op_pair(g, &cr_op_sq_error, y, d);
}

cr_node *cr_mse(cr_graph *g, cr_node *y, cr_node *d)
{
    return cr_op_pair(g, &cr_op_mse, y, d);
}

/* ---- softmax, log_softmax and softmax cross-entropy along an axis ----
 * args.i = {axis, outer, len, inner}: the input viewed as [outer, len,
 * inner], the axis in the middle. All-zero args (a helper built without
 * them) mean the last axis. */

typedef struct axis_view {
    int axis;
    size_t outer, len, inner;
} axis_view;

static axis_view view_along(const cr_tensor *t, int axis)
{
    axis_view v = {axis, 1, t->rank ? t->shape[axis] : 1, 1};
    for (int d = 0; d < t->rank; d++) {
        if (d < axis)
            v.outer *= t->shape[d];
        else if (d > axis)
            v.inner *= t->shape[d];
    }
    return v;
}

static axis_view view_of(const cr_node *n)
{
    const cr_node_args *a = n->args;
    if (a->i[2] == 0)
        return view_along(IN_TENSOR(n, 0), IN_TENSOR(n, 0)->rank - 1);
    return (axis_view){(int)a->i[0], (size_t)a->i[1], (size_t)a->i[2], (size_t)a->i[3]};
}

static cr_node_args view_args(axis_view v)
{
    return (cr_node_args){
        .i = {v.axis, (int64_t)v.outer, (int64_t)v.len, (int64_t)v.inner}};
}

/* The positions the loss averages over: every element but the class axis. */
static double positions(const cr_node *n)
{
    const axis_view v = view_of(n);
    return (double)(v.outer * v.inner);
}

/* Calls LINE(x, y, ...) for each line along the axis: the inputs' and the
 * output's element (o, 0, k), with stride inner between the len elements. */
#define FOR_EACH_LINE(v, o, k)                                                             \
    for (size_t o = 0; o < (v).outer; o++)                                                 \
        for (size_t k = 0; k < (v).inner; k++)
#define LINE_AT(v, o, k) ((o) * (v).len * (v).inner + (k))

static cr_status shape_rows(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    if (x->rank < 1)
        return cr_graph_fail(g, CR_ESHAPE, "%s: needs at least one axis, got %s",
                             n->op->name, cr_shape_str(x).text);
    if (n->n_inputs > 1 && !cr_tensor_same_shape(x, IN_TENSOR(n, 1)))
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s and %s differ", n->op->name,
                             cr_shape_str(x).text, cr_shape_str(IN_TENSOR(n, 1)).text);
    return CR_OK;
}

static cr_status softmax_shape(cr_graph *g, cr_node *n)
{
    cr_status st = shape_rows(g, n);
    return st != CR_OK ? st : cr_shape_same(g, n);
}

static double line_max(const double *x, size_t len, size_t stride)
{
    double m = x[0];
    for (size_t j = 1; j < len; j++)
        if (x[j * stride] > m)
            m = x[j * stride];
    return m;
}

/* log sum exp of one line, shifted by its maximum so exp cannot overflow. */
static double line_lse(const double *x, size_t len, size_t stride)
{
    const double m = line_max(x, len, stride);
    double s = 0.0;
    for (size_t j = 0; j < len; j++)
        s += exp(x[j * stride] - m);
    return m + log(s);
}

/* Writes softmax(x) of one line into p. */
static void softmax_line(const double *x, double *p, size_t len, size_t stride)
{
    const double m = line_max(x, len, stride);
    double s = 0.0;
    for (size_t j = 0; j < len; j++) {
        p[j * stride] = exp(x[j * stride] - m);
        s += p[j * stride];
    }
    for (size_t j = 0; j < len; j++)
        p[j * stride] /= s;
}

static void softmax_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    FOR_EACH_LINE(v, o, k)
    {
        const size_t at = LINE_AT(v, o, k);
        softmax_line(IN(n, 0) + at, OUT(n) + at, v.len, v.inner);
    }
}

/* softmax_bwd(y, dy) = y * (dy - sum_axis(dy * y)) */
static void softmax_bwd_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    FOR_EACH_LINE(v, o, k)
    {
        const size_t at = LINE_AT(v, o, k), st = v.inner;
        const double *y = IN(n, 0) + at, *dy = IN(n, 1) + at;
        double *out = OUT(n) + at;
        double s = 0.0;
        for (size_t j = 0; j < v.len; j++)
            s += dy[j * st] * y[j * st];
        for (size_t j = 0; j < v.len; j++)
            out[j * st] = y[j * st] * (dy[j * st] - s);
    }
}

static cr_status softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status softmax_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx);

/* A view kept in args (an explicit axis) is taken again along its axis. */
static cr_status view_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    (void)max;
    (void)rows;
    if (n->args->i[2] != 0) {
        const cr_node_args v = view_args(view_along(IN_TENSOR(n, 0), (int)n->args->i[0]));
        memcpy(((cr_node_args *)n->args)->i, v.i, 4 * sizeof v.i[0]);
    }
    return n->op->shape(g, n);
}

const cr_op cr_op_softmax = {.name = "softmax",
                             .min_inputs = 1,
                             .max_inputs = 1,
                             .formula = "y_i = exp(x_i) / sum_j exp(x_j) (along the axis)",
                             .tensor_text = {"diag(y) - y y^T", NULL},
                             .jacobian = "per line along the axis: diag(y) - y y^T",
                             .shape = softmax_shape,
                             .forward = softmax_forward,
                             .vjp = softmax_vjp,
                             .resize = view_resize};
const cr_op cr_op_softmax_bwd = {.name = "softmax_bwd",
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "z = a * (b - sum_axis(a * b))",
                                 .jacobian = "per line along the axis",
                                 .shape = softmax_shape,
                                 .forward = softmax_bwd_forward,
                                 .vjp = softmax_bwd_vjp,
                                 .resize = view_resize};

/* A node of op (softmax, log_softmax, softmax_bwd, ...) with n's view. */
static cr_node *along(cr_graph *g, const cr_op *op, const cr_node *n, cr_node *const *in,
                      size_t n_in)
{
    const cr_node_args args = view_args(view_of(n));
    return cr_node_create(g, op, in, n_in, &args);
}

/* The axis of a public constructor (negative counts from the end), or
 * CR_EINVAL; x is not NULL. */
static cr_status axis_of(cr_graph *g, const char *name, const cr_node *x, int axis,
                         axis_view *v)
{
    const cr_tensor *t = &x->value;
    const int a = axis < 0 ? axis + t->rank : axis;
    if (t->rank < 1 || a < 0 || a >= t->rank)
        return cr_graph_fail(g, t->rank < 1 ? CR_ESHAPE : CR_EINVAL,
                             "%s: axis %d out of range for %s", name, axis,
                             cr_shape_str(t).text);
    *v = view_along(t, a);
    return CR_OK;
}

static cr_node *build_along(cr_graph *g, const cr_op *op, cr_node *const *in, size_t n_in,
                            int axis)
{
    axis_view v = {0};
    if (!g || !in[0] || (n_in > 1 && !in[1]))
        return cr_node_create(g, op, in, n_in, NULL); /* reports the NULL */
    if (axis_of(g, op->name, in[0], axis, &v) != CR_OK)
        return NULL;
    const cr_node_args args = view_args(v);
    return cr_node_create(g, op, in, n_in, &args);
}

cr_node *cr_softmax_axis(cr_graph *g, cr_node *x, int axis)
{
    return build_along(g, &cr_op_softmax, &x, 1, axis);
}

cr_node *cr_softmax(cr_graph *g, cr_node *x) { return cr_softmax_axis(g, x, -1); }

static cr_status softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *in[2] = {n, dy};
    CR_VJP_RETURN(along(g, &cr_op_softmax_bwd, n, in, 2));
}

/* Sums of x along n's axis, repeated along it. */
static cr_node *axis_sum_expanded(cr_graph *g, const cr_node *n, cr_node *x)
{
    if (!x)
        return NULL;
    const cr_tensor *t = &x->value;
    const int axis = view_of(n).axis;
    return cr_expand_axis(g, cr_sum_axis(g, x, axis), axis, t->shape[axis], t->rank,
                          t->shape);
}

static cr_status softmax_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                 cr_node **dx)
{
    cr_node *y = n->inputs[0], *dy = n->inputs[1];
    if (i == 1) { /* linear in dy, and self-adjoint */
        cr_node *in[2] = {y, up};
        CR_VJP_RETURN(along(g, &cr_op_softmax_bwd, n, in, 2));
    }
    /* d/dy_j: up_j (dy_j - s) - dy_j sum(up * y), s = sum(dy * y) */
    cr_node *s = axis_sum_expanded(g, n, cr_mul(g, dy, y));
    cr_node *t = axis_sum_expanded(g, n, cr_mul(g, up, y));
    CR_VJP_RETURN(cr_sub(g, cr_mul(g, up, cr_sub(g, dy, s)), cr_mul(g, dy, t)));
}

/* ---- log_softmax: z - lse(z) along the axis (the stable dE/dt of softmax_xent) ---- */

static void log_softmax_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    FOR_EACH_LINE(v, o, k)
    {
        const size_t at = LINE_AT(v, o, k), st = v.inner;
        const double *z = IN(n, 0) + at;
        double *out = OUT(n) + at;
        const double lse = line_lse(z, v.len, st);
        for (size_t j = 0; j < v.len; j++)
            out[j * st] = z[j * st] - lse;
    }
}

/* dz = dy - softmax(z) * sum_axis(dy) */
static cr_status log_softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx)
{
    cr_node *p = along(g, &cr_op_softmax, n, n->inputs, 1);
    CR_VJP_RETURN(cr_sub(g, dy, cr_mul(g, p, axis_sum_expanded(g, n, dy))));
}

const cr_op cr_op_log_softmax = {.name = "log_softmax",
                                 .min_inputs = 1,
                                 .max_inputs = 1,
                                 .formula =
                                     "y_i = x_i - log sum_j exp(x_j) (along the axis)",
                                 .tensor_text = {"I - softmax(x) 1^T", NULL},
                                 .jacobian = "per line along the axis: I - 1 softmax(x)^T",
                                 .shape = softmax_shape,
                                 .forward = log_softmax_forward,
                                 .vjp = log_softmax_vjp,
                                 .resize = view_resize};

cr_node *cr_log_softmax(cr_graph *g, cr_node *x, int axis)
{
    return build_along(g, &cr_op_log_softmax, &x, 1, axis);
}

/* ---- softmax cross-entropy: E = mean over positions of sum t (lse - z) ---- */

static cr_status xent_shape(cr_graph *g, cr_node *n)
{
    cr_status st = shape_rows(g, n);
    return st != CR_OK ? st : cr_tensor_set_shape(&n->value, 0, NULL, &g->err);
}

static void softmax_xent_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    double total = 0.0;
    FOR_EACH_LINE(v, o, k)
    {
        const size_t at = LINE_AT(v, o, k), st = v.inner;
        const double *z = IN(n, 0) + at, *t = IN(n, 1) + at;
        const double lse = line_lse(z, v.len, st);
        for (size_t j = 0; j < v.len; j++)
            if (t[j * st] != 0.0)
                total += t[j * st] * (lse - z[j * st]);
    }
    OUT(n)[0] = total / positions(n);
}

/* softmax_xent_bwd(z, t, dE) = dE * (softmax(z) * sum_axis(t) - t) / positions */
static void softmax_xent_bwd_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    const double k = IN(n, 2)[0] / positions(n);
    FOR_EACH_LINE(v, o, kk)
    {
        const size_t at = LINE_AT(v, o, kk), st = v.inner;
        const double *z = IN(n, 0) + at, *t = IN(n, 1) + at;
        double *out = OUT(n) + at;
        softmax_line(z, out, v.len, st);
        double ts = 0.0;
        for (size_t j = 0; j < v.len; j++)
            ts += t[j * st];
        for (size_t j = 0; j < v.len; j++)
            out[j * st] = k * (out[j * st] * ts - t[j * st]);
    }
}

static cr_status softmax_xent_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx);
static cr_status softmax_xent_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                      cr_node **dx);

static cr_status xent_bwd_shape(cr_graph *g, cr_node *n)
{
    if (IN_TENSOR(n, 2)->size != 1)
        return cr_graph_fail(g, CR_ESHAPE, "%s: upstream must be a scalar", n->op->name);
    return softmax_shape(g, n);
}

const cr_op cr_op_softmax_xent = {
    .name = "softmax_xent",
    .min_inputs = 2,
    .max_inputs = 2,
    .formula = "E = mean over positions of -sum t log "
               "softmax(z) (along the axis)",
    .tensor_text = {"(softmax(a) sum(b) - b)/positions", "-log softmax(a)/positions"},
    .jacobian = "dE/dz = (softmax(z) sum(t) - t) / positions",
    .shape = xent_shape,
    .forward = softmax_xent_forward,
    .vjp = softmax_xent_vjp,
    .resize = view_resize};
const cr_op cr_op_softmax_xent_bwd = {.name = "softmax_xent_bwd",
                                      .min_inputs = 3,
                                      .max_inputs = 3,
                                      .flags = CR_OP_BACKWARD,
                                      .formula = "dz = c * (softmax(a) sum_axis(b) - b) / "
                                                 "positions",
                                      .jacobian = "per line along the axis",
                                      .shape = xent_bwd_shape,
                                      .forward = softmax_xent_bwd_forward,
                                      .vjp = softmax_xent_bwd_vjp,
                                      .resize = view_resize};

cr_node *cr_softmax_xent_axis(cr_graph *g, cr_node *logits, cr_node *targets, int axis)
{
    cr_node *in[2] = {logits, targets};
    return build_along(g, &cr_op_softmax_xent, in, 2, axis);
}

cr_node *cr_softmax_xent(cr_graph *g, cr_node *logits, cr_node *targets)
{
    return cr_softmax_xent_axis(g, logits, targets, -1);
}

static cr_status softmax_xent_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx)
{
    cr_node *z = n->inputs[0];
    if (i == 0) {
        cr_node *in[3] = {z, n->inputs[1], dy};
        CR_VJP_RETURN(along(g, &cr_op_softmax_xent_bwd, n, in, 3));
    }
    /* dE/dt = (lse - z) / positions = -log_softmax(z) / positions, computed
     * stably: log(softmax(z)) would be log(0) = -inf for a logit far below
     * its line's maximum, where the true value is finite. */
    cr_node *neg_logp =
        cr_scale(g, along(g, &cr_op_log_softmax, n, &z, 1), -1.0 / positions(n));
    CR_VJP_RETURN(cr_mul(g, dy, neg_logp));
}

static cr_status softmax_xent_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                      cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1], *dE = n->inputs[2];
    const double inv = 1.0 / positions(n);
    cr_node *p = along(g, &cr_op_softmax, n, &z, 1);
    if (i == 2) { /* linear in dE: sum(up * (p sum_axis(t) - t)) / positions */
        cr_node *p_t = cr_mul(g, p, axis_sum_expanded(g, n, t));
        CR_VJP_RETURN(cr_sum(g, cr_mul(g, up, cr_scale(g, cr_sub(g, p_t, t), inv))));
    }
    cr_node *k = cr_scale(g, dE, inv);
    if (i == 0) { /* k * sum_axis(t) * softmax_bwd(p, up) */
        cr_node *in[2] = {p, up};
        cr_node *jvp = along(g, &cr_op_softmax_bwd, n, in, 2);
        CR_VJP_RETURN(cr_mul(g, k, cr_mul(g, axis_sum_expanded(g, n, t), jvp)));
    }
    /* d/dt_j = k (sum_axis(up * p) - up_j) */
    CR_VJP_RETURN(cr_mul(g, k, cr_sub(g, axis_sum_expanded(g, n, cr_mul(g, up, p)), up)));
}

/* ---- binary cross-entropy ---- */

#define BCE_EPS 1e-12

static double clamp_prob(double p)
{
    return p < BCE_EPS ? BCE_EPS : (p > 1.0 - BCE_EPS ? 1.0 - BCE_EPS : p);
}

static void bce_forward(cr_node *n)
{
    const double *p = IN(n, 0), *t = IN(n, 1);
    const size_t len = IN_TENSOR(n, 0)->size;
    double s = 0.0;
    for (size_t i = 0; i < len; i++) {
        const double q = clamp_prob(p[i]);
        s -= t[i] * log(q) + (1.0 - t[i]) * log1p(-q);
    }
    OUT(n)[0] = s / (double)len;
}

static void bce_logits_forward(cr_node *n)
{
    const double *z = IN(n, 0), *t = IN(n, 1);
    const size_t len = IN_TENSOR(n, 0)->size;
    double s = 0.0;
    for (size_t i = 0; i < len; i++)
        s += (z[i] > 0 ? z[i] : 0.0) - z[i] * t[i] + log1p(exp(-fabs(z[i])));
    OUT(n)[0] = s / (double)len;
}

/* clamp_prob(x) = min(max(x, eps), 1 - eps), used where bce's gradient
 * divides by p (1 - p): a saturated sigmoid gives p = 1 exactly, and the
 * gradient must stay finite. Its derivative is taken as 1 (the clamp only
 * guards the division), which is exact inside [eps, 1 - eps]. */
static const double clamp_prob_kinks[2] = {BCE_EPS, 1.0 - BCE_EPS};
CR_UNARY_OP_KINKS(clamp_prob, clamp_prob(v), "y = min(max(x, 1e-12), 1 - 1e-12)", NULL, "1",
                  CR_OP_KINK, clamp_prob_kinks, 2, NULL)

static cr_status clamp_prob_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                cr_node **dx)
{
    *dx = dy;
    return CR_OK;
}

static cr_status bce_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *p = n->inputs[0], *t = n->inputs[1];
    cr_node *q = cr_node_create(g, &cr_op_clamp_prob, &p, 1, NULL);
    cr_node *one_minus_q = cr_sub(g, cr_scalar(g, 1.0), q);
    if (i == 0) /* (p - t) / (q (1 - q) n) */
        CR_VJP_RETURN(
            cr_mul(g, dy,
                   cr_scale_per_element(
                       g, cr_div(g, cr_sub(g, p, t), cr_mul(g, q, one_minus_q)), 1.0)));
    /* (log(1-q) - log q) / n */
    CR_VJP_RETURN(cr_mul(
        g, dy,
        cr_scale_per_element(g, cr_sub(g, cr_log(g, one_minus_q), cr_log(g, q)), 1.0)));
}

static cr_status bce_logits_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1];
    if (i == 0) /* (sigmoid(z) - t) / n */
        CR_VJP_RETURN(
            cr_mul(g, dy, cr_scale_per_element(g, cr_sub(g, cr_sigmoid(g, z), t), 1.0)));
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale_per_element(g, z, -1.0))); /* -z / n */
}

const cr_op cr_op_bce = {.name = "bce",
                         .min_inputs = 2,
                         .max_inputs = 2,
                         .flags = CR_OP_KINK, /* p is clamped to [eps, 1 - eps] */
                         .kinks = clamp_prob_kinks,
                         .n_kinks = 2,
                         .formula = "E = mean -(t log p + (1-t) log(1-p))",
                         .deriv = {"(a-b)/(a*(1-a)*n)", "(log(1-a)-log(a))/n"},
                         .jacobian = "row: dE/dp = (p - t) / (p (1-p) n)",
                         .shape = cr_shape_pair_to_scalar,
                         .forward = bce_forward,
                         .vjp = bce_vjp};
const cr_op cr_op_bce_logits = {.name = "bce_logits",
                                .min_inputs = 2,
                                .max_inputs = 2,
                                .formula = "E = mean max(z,0) - z t + log(1+exp(-|z|))",
                                .deriv = {"(sigmoid(a)-b)/n", "-a/n"},
                                .jacobian = "row: dE/dz = (sigmoid(z) - t) / n",
                                .shape = cr_shape_pair_to_scalar,
                                .forward = bce_logits_forward,
                                .vjp = bce_logits_vjp};

cr_node *cr_bce(cr_graph *g, cr_node *p, cr_node *t)
{
    return cr_op_pair(g, &cr_op_bce, p, t);
}

cr_node *cr_bce_logits(cr_graph *g, cr_node *z, cr_node *t)
{
    return cr_op_pair(g, &cr_op_bce_logits, z, t);
}

/* ---- cross-entropy from integer class indices ----
 * z [N,C,d...] (or [C]) and indices t [N,d...] (or a scalar), the class
 * axis 1 (0 for a vector) as PyTorch's cross_entropy; args as softmax's. */

/* The class indices must be integers in [0, C): checked at build and
 * before each evaluation. */
static cr_status class_check(cr_graph *g, const cr_node *n)
{
    const axis_view v = view_of(n);
    const cr_tensor *t = IN_TENSOR(n, 1);
    for (size_t i = 0; i < t->size; i++) {
        const double c = t->data[i];
        if (c >= 0 && c < (double)v.len && c == floor(c))
            continue;
        return cr_graph_fail(
            g, CR_EINVAL, "%s: class index %g at %s %zu of %s is %s %zu classes",
            n->op->name, c, t->rank == 1 ? "row" : "position", i, cr_shape_str(t).text,
            c == floor(c) ? "out of range for" : "not an integer, of", v.len);
    }
    return CR_OK;
}

/* t shaped like z without its class axis (both checked by class_check's
 * caller); out the loss (a scalar) or shaped like z. */
static cr_status class_shape(cr_graph *g, cr_node *n, int scalar_out)
{
    const cr_tensor *z = IN_TENSOR(n, 0), *t = IN_TENSOR(n, 1);
    const axis_view v = view_of(n);
    size_t want[CR_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < z->rank; d++)
        if (d != v.axis)
            want[rank++] = z->shape[d];
    if (z->rank < 1 || t->rank != rank ||
        memcmp(t->shape, want, (size_t)rank * sizeof *want) != 0) {
        char w[96];
        cr_shape_format(w, sizeof w, rank, want);
        return cr_graph_fail(
            g, CR_ESHAPE,
            "%s: logits %s need class indices %s (the class axis removed), "
            "got %s",
            n->op->name, cr_shape_str(z).text, w, cr_shape_str(t).text);
    }
    if (n->n_inputs > 2 && IN_TENSOR(n, 2)->size != 1)
        return cr_graph_fail(g, CR_ESHAPE, "%s: upstream must be a scalar", n->op->name);
    return scalar_out ? cr_tensor_set_shape(&n->value, 0, NULL, &g->err)
                      : cr_shape_same(g, n);
}

static cr_status cross_entropy_shape(cr_graph *g, cr_node *n)
{
    return class_shape(g, n, 1);
}

static cr_status cross_entropy_bwd_shape(cr_graph *g, cr_node *n)
{
    return class_shape(g, n, 0);
}

/* E = mean over positions of lse(z) - z[class] */
static void cross_entropy_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    const double *t = IN(n, 1);
    double total = 0.0;
    FOR_EACH_LINE(v, o, k)
    {
        const double *z = IN(n, 0) + LINE_AT(v, o, k);
        total += line_lse(z, v.len, v.inner) - z[(size_t)t[o * v.inner + k] * v.inner];
    }
    OUT(n)[0] = total / positions(n);
}

/* cross_entropy_bwd(z, t, dE) = dE (softmax(z) - onehot(t)) / positions */
static void cross_entropy_bwd_forward(cr_node *n)
{
    const axis_view v = view_of(n);
    const double *t = IN(n, 1);
    const double k = IN(n, 2)[0] / positions(n);
    FOR_EACH_LINE(v, o, kk)
    {
        const size_t at = LINE_AT(v, o, kk), st = v.inner;
        double *out = OUT(n) + at;
        softmax_line(IN(n, 0) + at, out, v.len, st);
        out[(size_t)t[o * v.inner + kk] * st] -= 1.0;
        for (size_t j = 0; j < v.len; j++)
            out[j * st] *= k;
    }
}

static cr_status cross_entropy_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx);
static cr_status cross_entropy_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                       cr_node **dx);

const cr_op cr_op_cross_entropy = {.name = "cross_entropy",
                                   .min_inputs = 2,
                                   .max_inputs = 2,
                                   .formula = "E = mean over positions of "
                                              "-log softmax(z)[class]",
                                   .jacobian =
                                       "dE/dz = (softmax(z) - onehot(t)) / positions; "
                                       "none for the indices",
                                   .shape = cross_entropy_shape,
                                   .check = class_check,
                                   .forward = cross_entropy_forward,
                                   .vjp = cross_entropy_vjp,
                                   .resize = view_resize};
const cr_op cr_op_cross_entropy_bwd = {.name = "cross_entropy_bwd",
                                       .min_inputs = 3,
                                       .max_inputs = 3,
                                       .flags = CR_OP_BACKWARD,
                                       .formula = "dz = c (softmax(a) - onehot(b)) / "
                                                  "positions",
                                       .jacobian = "per line along the class axis",
                                       .shape = cross_entropy_bwd_shape,
                                       .check = class_check,
                                       .forward = cross_entropy_bwd_forward,
                                       .vjp = cross_entropy_bwd_vjp,
                                       .resize = view_resize};

cr_node *cr_cross_entropy(cr_graph *g, cr_node *logits, cr_node *classes)
{
    cr_node *in[2] = {logits, classes};
    if (!g || !logits || !classes)
        return cr_node_create(g, &cr_op_cross_entropy, in, 2, NULL);
    const int rank = logits->value.rank;
    if (rank < 1) {
        cr_graph_fail(g, CR_ESHAPE, "cross_entropy: logits %s have no class axis",
                      cr_shape_str(&logits->value).text);
        return NULL;
    }
    const cr_node_args args = view_args(view_along(&logits->value, rank >= 2 ? 1 : 0));
    return cr_node_create(g, &cr_op_cross_entropy, in, 2, &args);
}

static cr_status cross_entropy_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx)
{
    if (i == 1) { /* class indices: no derivative */
        *dx = NULL;
        return CR_OK;
    }
    cr_node *in[3] = {n->inputs[0], n->inputs[1], dy};
    CR_VJP_RETURN(along(g, &cr_op_cross_entropy_bwd, n, in, 3));
}

static cr_status cross_entropy_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                       cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1], *dE = n->inputs[2];
    if (i == 1) {
        *dx = NULL;
        return CR_OK;
    }
    if (i == 2) { /* linear in dE: sum(up * cross_entropy_bwd(z, t, 1)) */
        cr_node *in[3] = {z, t, cr_scalar(g, 1.0)};
        CR_VJP_RETURN(
            cr_sum(g, cr_mul(g, up, along(g, &cr_op_cross_entropy_bwd, n, in, 3))));
    }
    /* dE / positions * softmax_bwd(softmax(z), up) */
    cr_node *in[2] = {along(g, &cr_op_softmax, n, &z, 1), up};
    CR_VJP_RETURN(cr_mul(g, cr_scale(g, dE, 1.0 / positions(n)),
                         along(g, &cr_op_softmax_bwd, n, in, 2)));
}

/* ---- huber (smooth L1): E = mean h(y - t), h(d) = d^2/2 for |d| < delta,
 * delta (|d| - delta/2) beyond; args.f = delta ---- */

static void huber_forward(cr_node *n)
{
    const double *y = IN(n, 0), *t = IN(n, 1), delta = n->args->f;
    const size_t len = IN_TENSOR(n, 0)->size;
    double s = 0.0;
    for (size_t i = 0; i < len; i++) {
        const double d = fabs(y[i] - t[i]);
        s += d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
    }
    OUT(n)[0] = s / (double)len;
}

/* dE/dy = h'(y - t) / n, dE/dt = -h'(y - t) / n, h'(d) = clamp(d, -delta, delta) */
static cr_status huber_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const double delta = n->args->f;
    cr_node *grad = cr_clamp(g, cr_sub(g, n->inputs[0], n->inputs[1]), -delta, delta);
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale_per_element(g, grad, i == 0 ? 1.0 : -1.0)));
}

const cr_op cr_op_huber = {.name = "huber",
                           .min_inputs = 2,
                           .max_inputs = 2,
                           .formula = "E = mean h(y - t), h(d) = d^2/2 if |d| < delta, "
                                      "else delta (|d| - delta/2)",
                           .jacobian = "row: dE/dy = clamp(y - t, -delta, delta) / n",
                           .shape = cr_shape_pair_to_scalar,
                           .forward = huber_forward,
                           .vjp = huber_vjp};

cr_node *cr_huber(cr_graph *g, cr_node *y, cr_node *t, double delta)
{
    if (g && !(delta > 0.0 && isfinite(delta))) {
        cr_graph_fail(g, CR_EINVAL, "huber: delta %g must be positive", delta);
        return NULL;
    }
    cr_node *in[2] = {y, t};
    const cr_node_args args = {.f = delta};
    return cr_node_create(g, &cr_op_huber, in, 2, &args);
}
