/*
 * loss.c - losses and softmax: sq_error (the article's E), mse, row-wise
 * softmax, fused softmax cross-entropy, binary cross-entropy (from
 * probabilities and, stably, from logits), with the fused backward helpers
 * softmax_bwd and softmax_xent_bwd.
 */
#include "ops/ops_common.h"

#include <float.h>
#include <string.h>

/* ---- sq_error and mse ---- */

static void sq_error_forward(cr_node *n)
{
    const double *y = IN(n, 0), *d = IN(n, 1);
    double s = 0.0;
    for (size_t i = 0, len = INT(n, 0)->size; i < len; i++)
        s += (d[i] - y[i]) * (d[i] - y[i]);
    OUT(n)[0] = 0.5 * s;
}

static void mse_forward(cr_node *n)
{
    const double *y = IN(n, 0), *d = IN(n, 1);
    const size_t len = INT(n, 0)->size;
    double s = 0.0;
    for (size_t i = 0; i < len; i++)
        s += (y[i] - d[i]) * (y[i] - d[i]);
    OUT(n)[0] = s / (double)len;
}

/* dE/dy = k (y - d), dE/dd = k (d - y): k = 1 for sq_error, 2/n for mse */
static cr_status difference_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx,
                                double k)
{
    cr_node *diff = cr_sub(g, n->inputs[i], n->inputs[1 - i]);
    CR_VJP_RETURN(cr_mul(g, dy, k == 1.0 ? diff : cr_scale(g, diff, k)));
}

static cr_status sq_error_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return difference_vjp(g, n, i, dy, dx, 1.0);
}

static cr_status mse_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return difference_vjp(g, n, i, dy, dx, 2.0 / (double)INT(n, 0)->size);
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

cr_node *cr_mse(cr_graph *g, cr_node *y, cr_node *d) { return cr_op_pair(g, &cr_op_mse, y, d); }

/* ---- softmax over the last axis of a vector or matrix ---- */

static void rows_of(const cr_tensor *t, size_t *rows, size_t *cols)
{
    *cols = t->rank == 0 ? 1 : t->shape[t->rank - 1];
    *rows = t->size / *cols;
}

static cr_status shape_rows(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = INT(n, 0);
    if (x->rank < 1 || x->rank > 2)
        return cr_graph_fail(g, CR_ESHAPE, "%s: needs a vector or a matrix, got %s",
                             n->op->name, cr_shape_str(x).text);
    if (n->n_inputs > 1 && !cr_tensor_same_shape(x, INT(n, 1)))
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s and %s differ", n->op->name,
                             cr_shape_str(x).text, cr_shape_str(INT(n, 1)).text);
    return CR_OK;
}

static cr_status softmax_shape(cr_graph *g, cr_node *n)
{
    cr_status st = shape_rows(g, n);
    return st != CR_OK ? st : cr_shape_same(g, n);
}

static double row_max(const double *x, size_t cols)
{
    double m = x[0];
    for (size_t j = 1; j < cols; j++)
        if (x[j] > m)
            m = x[j];
    return m;
}

/* log sum exp of one row, shifted by its maximum so exp cannot overflow. */
static double row_lse(const double *x, size_t cols)
{
    const double m = row_max(x, cols);
    double s = 0.0;
    for (size_t j = 0; j < cols; j++)
        s += exp(x[j] - m);
    return m + log(s);
}

/* Writes softmax(x) of one row into p; returns log sum exp of the row
 * (the very value row_lse gives). */
static double softmax_row(const double *x, double *p, size_t cols)
{
    const double m = row_max(x, cols);
    double s = 0.0;
    for (size_t j = 0; j < cols; j++) {
        p[j] = exp(x[j] - m);
        s += p[j];
    }
    for (size_t j = 0; j < cols; j++)
        p[j] /= s;
    return m + log(s);
}

static void softmax_forward(cr_node *n)
{
    size_t rows, cols;
    rows_of(&n->value, &rows, &cols);
    for (size_t r = 0; r < rows; r++)
        softmax_row(IN(n, 0) + r * cols, OUT(n) + r * cols, cols);
}

/* softmax_bwd(y, dy) = y * (dy - sum_row(dy * y)) */
static void softmax_bwd_forward(cr_node *n)
{
    size_t rows, cols;
    rows_of(&n->value, &rows, &cols);
    const double *y = IN(n, 0), *dy = IN(n, 1);
    double *out = OUT(n);
    for (size_t r = 0; r < rows; r++) {
        const size_t o = r * cols;
        double s = 0.0;
        for (size_t j = 0; j < cols; j++)
            s += dy[o + j] * y[o + j];
        for (size_t j = 0; j < cols; j++)
            out[o + j] = y[o + j] * (dy[o + j] - s);
    }
}

static cr_status softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
static cr_status softmax_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx);

const cr_op cr_op_softmax = {.name = "softmax",
                             .min_inputs = 1,
                             .max_inputs = 1,
                             .formula = "y_i = exp(x_i) / sum_j exp(x_j) (per row)",
                             .tensor_text = {"diag(y) - y y^T", NULL},
                             .jacobian = "per row: diag(y) - y y^T",
                             .shape = softmax_shape,
                             .forward = softmax_forward,
                             .vjp = softmax_vjp};
const cr_op cr_op_softmax_bwd = {.name = "softmax_bwd",
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "z = a * (b - sum_row(a * b))",
                                 .jacobian = "per row",
                                 .shape = softmax_shape,
                                 .forward = softmax_bwd_forward,
                                 .vjp = softmax_bwd_vjp};

cr_node *cr_softmax(cr_graph *g, cr_node *x)
{
    return cr_node_create(g, &cr_op_softmax, &x, 1, NULL);
}

static cr_status softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_op_pair(g, &cr_op_softmax_bwd, n, dy));
}

/* Row sums of x (shaped like `like`), repeated across each row. */
static cr_node *row_sum_expanded(cr_graph *g, cr_node *x)
{
    const cr_tensor *t = &x->value;
    int last = t->rank - 1;
    return cr_expand_axis(g, cr_sum_axis(g, x, last), last, t->shape[last], t->rank,
                          t->shape);
}

static cr_status softmax_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                 cr_node **dx)
{
    cr_node *y = n->inputs[0], *dy = n->inputs[1];
    if (i == 1) /* linear in dy, and self-adjoint */
        CR_VJP_RETURN(cr_op_pair(g, &cr_op_softmax_bwd, y, up));
    /* d/dy_j: up_j (dy_j - s) - dy_j sum(up * y), s = sum(dy * y) */
    cr_node *s = row_sum_expanded(g, cr_mul(g, dy, y));
    cr_node *t = row_sum_expanded(g, cr_mul(g, up, y));
    CR_VJP_RETURN(cr_sub(g, cr_mul(g, up, cr_sub(g, dy, s)), cr_mul(g, dy, t)));
}

/* ---- log_softmax: z - lse(z) per row (the stable dE/dt of softmax_xent) ---- */

static void log_softmax_forward(cr_node *n)
{
    size_t rows, cols;
    rows_of(&n->value, &rows, &cols);
    const double *z = IN(n, 0);
    double *out = OUT(n);
    for (size_t r = 0; r < rows; r++) {
        const size_t o = r * cols;
        const double lse = row_lse(z + o, cols);
        for (size_t j = 0; j < cols; j++)
            out[o + j] = z[o + j] - lse;
    }
}

/* dz = dy - softmax(z) * sum_row(dy) */
static cr_status log_softmax_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx)
{
    cr_node *p = cr_softmax(g, n->inputs[0]);
    CR_VJP_RETURN(cr_sub(g, dy, cr_mul(g, p, row_sum_expanded(g, dy))));
}

const cr_op cr_op_log_softmax = {.name = "log_softmax",
                                 .min_inputs = 1,
                                 .max_inputs = 1,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "y_i = x_i - log sum_j exp(x_j) (per row)",
                                 .tensor_text = {"I - softmax(x) 1^T", NULL},
                                 .jacobian = "per row: I - 1 softmax(x)^T",
                                 .shape = softmax_shape,
                                 .forward = log_softmax_forward,
                                 .vjp = log_softmax_vjp};

/* ---- softmax cross-entropy: E = mean_rows(sum t (lse - z)) ---- */

static cr_status xent_shape(cr_graph *g, cr_node *n)
{
    cr_status st = shape_rows(g, n);
    return st != CR_OK ? st : cr_tensor_set_shape(&n->value, 0, NULL, &g->err);
}

static void softmax_xent_forward(cr_node *n)
{
    size_t rows, cols;
    rows_of(INT(n, 0), &rows, &cols);
    const double *z = IN(n, 0), *t = IN(n, 1);
    double total = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const double *zr = z + r * cols, *tr = t + r * cols;
        const double lse = row_lse(zr, cols);
        for (size_t j = 0; j < cols; j++)
            if (tr[j] != 0.0)
                total += tr[j] * (lse - zr[j]);
    }
    OUT(n)[0] = total / (double)rows;
}

/* softmax_xent_bwd(z, t, dE) = dE * (softmax(z) * sum_row(t) - t) / rows */
static void softmax_xent_bwd_forward(cr_node *n)
{
    size_t rows, cols;
    rows_of(&n->value, &rows, &cols);
    const double *z = IN(n, 0), *t = IN(n, 1);
    const double k = IN(n, 2)[0] / (double)rows;
    double *out = OUT(n);
    for (size_t r = 0; r < rows; r++) {
        const size_t o = r * cols;
        softmax_row(z + o, out + o, cols);
        double ts = 0.0;
        for (size_t j = 0; j < cols; j++)
            ts += t[o + j];
        for (size_t j = 0; j < cols; j++)
            out[o + j] = k * (out[o + j] * ts - t[o + j]);
    }
}

static cr_status softmax_xent_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx);
static cr_status softmax_xent_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                      cr_node **dx);

static cr_status xent_bwd_shape(cr_graph *g, cr_node *n)
{
    if (INT(n, 2)->size != 1)
        return cr_graph_fail(g, CR_ESHAPE, "softmax_xent_bwd: upstream must be a scalar");
    return softmax_shape(g, n);
}

const cr_op cr_op_softmax_xent = {.name = "softmax_xent",
                                  .min_inputs = 2,
                                  .max_inputs = 2,
                                  .formula = "E = mean_rows(-sum t log softmax(z))",
                                  .tensor_text = {"(softmax(a) - b)/rows", "-log softmax(a)/rows"},
                                  .jacobian = "row: dE/dz = (softmax(z) - t) / rows",
                                  .shape = xent_shape,
                                  .forward = softmax_xent_forward,
                                  .vjp = softmax_xent_vjp};
const cr_op cr_op_softmax_xent_bwd = {.name = "softmax_xent_bwd",
                                      .min_inputs = 3,
                                      .max_inputs = 3,
                                      .flags = CR_OP_BACKWARD,
                                      .formula = "dz = c * (softmax(a) sum_row(b) - b) / rows",
                                      .jacobian = "per row",
                                      .shape = xent_bwd_shape,
                                      .forward = softmax_xent_bwd_forward,
                                      .vjp = softmax_xent_bwd_vjp};

cr_node *cr_softmax_xent(cr_graph *g, cr_node *logits, cr_node *targets)
{
    return cr_op_pair(g, &cr_op_softmax_xent, logits, targets);
}

static double rows_in(const cr_node *x)
{
    size_t rows, cols;
    rows_of(&x->value, &rows, &cols);
    return (double)rows;
}

static cr_status softmax_xent_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                  cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1];
    if (i == 0) {
        cr_node *in[3] = {z, t, dy};
        CR_VJP_RETURN(cr_node_create(g, &cr_op_softmax_xent_bwd, in, 3, NULL));
    }
    /* dE/dt = (lse - z) / rows = -log_softmax(z) / rows, computed stably:
     * log(softmax(z)) would be log(0) = -inf for a logit far below its
     * row's maximum, where the true value is finite. */
    cr_node *neg_logp =
        cr_scale(g, cr_node_create(g, &cr_op_log_softmax, &z, 1, NULL), -1.0 / rows_in(z));
    CR_VJP_RETURN(cr_mul(g, dy, neg_logp));
}

static cr_status softmax_xent_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *up,
                                      cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1], *dE = n->inputs[2];
    const double inv_rows = 1.0 / rows_in(z);
    if (i == 2) { /* linear in dE: sum(up * (p sum_row(t) - t)) / rows */
        cr_node *p_t = cr_mul(g, cr_softmax(g, z), row_sum_expanded(g, t));
        cr_node *unit = cr_scale(g, cr_sub(g, p_t, t), inv_rows);
        CR_VJP_RETURN(cr_sum(g, cr_mul(g, up, unit)));
    }
    cr_node *k = cr_scale(g, dE, inv_rows);
    cr_node *p = cr_softmax(g, z);
    if (i == 0) { /* k * sum_row(t) * softmax_bwd(p, up) */
        cr_node *jvp = cr_op_pair(g, &cr_op_softmax_bwd, p, up);
        CR_VJP_RETURN(cr_mul(g, k, cr_mul(g, row_sum_expanded(g, t), jvp)));
    }
    /* d/dt_j = k (sum_i up_i p_i - up_j) */
    CR_VJP_RETURN(cr_mul(g, k, cr_sub(g, row_sum_expanded(g, cr_mul(g, up, p)), up)));
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
    const size_t len = INT(n, 0)->size;
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
    const size_t len = INT(n, 0)->size;
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
                  CR_OP_KINK, clamp_prob_kinks, 2)

static cr_status clamp_prob_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    *dx = dy;
    return CR_OK;
}

static cr_status bce_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *p = n->inputs[0], *t = n->inputs[1];
    const double inv_n = 1.0 / (double)p->value.size;
    cr_node *q = cr_node_create(g, &cr_op_clamp_prob, &p, 1, NULL);
    cr_node *one_minus_q = cr_sub(g, cr_scalar(g, 1.0), q);
    if (i == 0) /* (p - t) / (q (1 - q) n) */
        CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, cr_div(g, cr_sub(g, p, t),
                                                       cr_mul(g, q, one_minus_q)),
                                             inv_n)));
    /* (log(1-q) - log q) / n */
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, cr_sub(g, cr_log(g, one_minus_q), cr_log(g, q)),
                                         inv_n)));
}

static cr_status bce_logits_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *z = n->inputs[0], *t = n->inputs[1];
    const double inv_n = 1.0 / (double)z->value.size;
    if (i == 0) /* (sigmoid(z) - t) / n */
        CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, cr_sub(g, cr_sigmoid(g, z), t), inv_n)));
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, z, -inv_n))); /* -z / n */
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

cr_node *cr_bce(cr_graph *g, cr_node *p, cr_node *t) { return cr_op_pair(g, &cr_op_bce, p, t); }

cr_node *cr_bce_logits(cr_graph *g, cr_node *z, cr_node *t)
{
    return cr_op_pair(g, &cr_op_bce_logits, z, t);
}
