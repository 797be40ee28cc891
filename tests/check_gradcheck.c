/*
 * check_gradcheck.c - tests of the numerical gradient check (cr_gradcheck):
 * every op of the built-in table passes at random points (a loop test),
 * kinks are skipped with their reason, tolerances and options, fast mode,
 * report contents and printer, second derivatives, exact restoration of
 * values, argument errors, allocation failures, and GSL's error handler
 * left as it was.
 */
#include "testutil.h"

#include "core/internal.h"
#include "explain/gradcheck_private.h"

#include <gsl/gsl_errno.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Reads back what was written to the temporary file f, and closes it. */
static void take_text(FILE *f, char *text, size_t size)
{
    rewind(f);
    text[fread(text, 1, size - 1, f)] = '\0';
    fclose(f);
}

static cr_node *param_vec(cr_graph *g, const char *name, int rank, const size_t *shape,
                          double lo, double hi, int away_from_zero)
{
    cr_error err;
    cr_tensor *t = cr_tensor_new(rank, shape, &err);
    ck_assert_ptr_nonnull(t);
    double *d = cr_tensor_data_mut(t);
    for (size_t i = 0; i < cr_tensor_size(t); i++) {
        d[i] = test_rand_uniform(lo, hi);
        if (away_from_zero && test_rand_uniform(0, 1) < 0.5)
            d[i] = -d[i];
    }
    cr_node *p = cr_param(g, name, t);
    cr_tensor_free(t);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* E = sum(y * c) for a random constant c shaped like y: every element of y
 * gets its own weight, so a wrong element of the gradient shows. */
static cr_node *weighted_sum(cr_graph *g, cr_node *y)
{
    ck_assert_msg(y != NULL, "%s", cr_graph_error(g)->message);
    cr_error err;
    cr_tensor *c = cr_tensor_new(cr_tensor_rank(cr_node_value(y)),
                                 cr_tensor_shape(cr_node_value(y)), &err);
    double *d = cr_tensor_data_mut(c);
    for (size_t i = 0; i < cr_tensor_size(c); i++)
        d[i] = test_rand_uniform(0.5, 1.5);
    cr_node *E = cr_sum(g, cr_mul(g, y, cr_constant(g, c)));
    cr_tensor_free(c);
    ck_assert_ptr_nonnull(E);
    return E;
}

/* ---- the op table: one case per op, inputs as parameters ---- */

typedef struct in_spec {
    int rank;
    size_t shape[4];
    double lo, hi;
    int away; /* random sign, |x| in [lo, hi] */
} in_spec;

typedef cr_node *(*build_fn)(cr_graph *g, cr_node *const *in);

typedef struct op_case {
    const char *op;
    build_fn build;
    int n_in;
    in_spec in[4];
} op_case;

static cr_node *internal(cr_graph *g, const char *name, cr_node *const *in, size_t n)
{
    return cr_node_create(g, cr_op_find(name), in, n, NULL);
}

static cr_node *c_add(cr_graph *g, cr_node *const *in) { return cr_add(g, in[0], in[1]); }
static cr_node *c_sub(cr_graph *g, cr_node *const *in) { return cr_sub(g, in[0], in[1]); }
static cr_node *c_mul(cr_graph *g, cr_node *const *in) { return cr_mul(g, in[0], in[1]); }
static cr_node *c_div(cr_graph *g, cr_node *const *in) { return cr_div(g, in[0], in[1]); }
static cr_node *c_pow(cr_graph *g, cr_node *const *in) { return cr_pow(g, in[0], in[1]); }
static cr_node *c_neg(cr_graph *g, cr_node *const *in) { return cr_neg(g, in[0]); }
static cr_node *c_scale(cr_graph *g, cr_node *const *in)
{
    return cr_scale(g, in[0], -1.7);
}
static cr_node *c_powc(cr_graph *g, cr_node *const *in) { return cr_powc(g, in[0], 2.5); }
static cr_node *c_exp(cr_graph *g, cr_node *const *in) { return cr_exp(g, in[0]); }
static cr_node *c_log(cr_graph *g, cr_node *const *in) { return cr_log(g, in[0]); }
static cr_node *c_sqrt(cr_graph *g, cr_node *const *in) { return cr_sqrt(g, in[0]); }
static cr_node *c_abs(cr_graph *g, cr_node *const *in) { return cr_abs(g, in[0]); }
static cr_node *c_sign(cr_graph *g, cr_node *const *in)
{
    return internal(g, "sign", in, 1);
}
static cr_node *c_sin(cr_graph *g, cr_node *const *in) { return cr_sin(g, in[0]); }
static cr_node *c_cos(cr_graph *g, cr_node *const *in) { return cr_cos(g, in[0]); }
static cr_node *c_tanh(cr_graph *g, cr_node *const *in) { return cr_tanh(g, in[0]); }
static cr_node *c_sigmoid(cr_graph *g, cr_node *const *in) { return cr_sigmoid(g, in[0]); }
static cr_node *c_relu(cr_graph *g, cr_node *const *in) { return cr_relu(g, in[0]); }
static cr_node *c_softplus(cr_graph *g, cr_node *const *in)
{
    return cr_softplus(g, in[0]);
}
static cr_node *c_sigmoid_bwd(cr_graph *g, cr_node *const *in)
{
    return internal(g, "sigmoid_bwd", in, 2);
}
static cr_node *c_tanh_bwd(cr_graph *g, cr_node *const *in)
{
    return internal(g, "tanh_bwd", in, 2);
}
static cr_node *c_relu_bwd(cr_graph *g, cr_node *const *in)
{
    return internal(g, "relu_bwd", in, 2);
}
static cr_node *c_sum(cr_graph *g, cr_node *const *in) { return cr_sum_axis(g, in[0], 1); }
static cr_node *c_mean(cr_graph *g, cr_node *const *in)
{
    return cr_mean_axis(g, in[0], 0);
}
static cr_node *c_expand(cr_graph *g, cr_node *const *in)
{
    static const size_t shape[2] = {4, 3};
    return cr_expand_axis(g, in[0], 0, 4, 2, shape);
}
static cr_node *c_matmul(cr_graph *g, cr_node *const *in)
{
    return cr_matmul(g, in[0], in[1], CR_TRANS_B);
}
static cr_node *c_transpose(cr_graph *g, cr_node *const *in)
{
    return cr_transpose(g, in[0]);
}
static cr_node *c_reshape(cr_graph *g, cr_node *const *in)
{
    return cr_reshape(g, in[0], 2, (const long[]){3, -1});
}
static cr_node *c_permute(cr_graph *g, cr_node *const *in)
{
    return cr_permute(g, in[0], 2, (const int[]){1, 0});
}
static cr_node *c_slice(cr_graph *g, cr_node *const *in)
{
    return cr_slice(g, in[0], 1, 0, 3, 2);
}
static cr_node *c_pad(cr_graph *g, cr_node *const *in) { return cr_pad(g, in[0], 0, 1, 2); }
static cr_node *c_concat(cr_graph *g, cr_node *const *in) { return cr_concat(g, 2, in, 0); }
static cr_node *c_stack(cr_graph *g, cr_node *const *in) { return cr_stack(g, 2, in, 1); }
/* The indices [2, 0, 2] (a constant: indices have no gradient). */
static cr_node *index_202(cr_graph *g)
{
    const size_t s3[1] = {3};
    cr_tensor *t = cr_tensor_new_from(1, s3, (const double[]){2, 0, 2}, NULL);
    cr_node *idx = cr_constant(g, t);
    cr_tensor_free(t);
    return idx;
}
static cr_node *c_index_select(cr_graph *g, cr_node *const *in)
{
    return cr_index_select(g, in[0], 1, index_202(g));
}
static cr_node *c_index_add(cr_graph *g, cr_node *const *in)
{
    const size_t s23[2] = {2, 3};
    cr_node *args_in[2] = {in[0], index_202(g)};
    cr_node_args args = {.i = {1}};
    return cr_node_create_shaped(g, cr_op_find("index_add"), args_in, 2, &args, 2, s23);
}
static cr_node *c_sop(cr_graph *g, cr_node *const *in)
{
    cr_node *xs[2] = {in[0], in[2]}, *ws[2] = {in[1], in[3]};
    return cr_sop(g, 2, xs, ws, NULL);
}
static cr_node *c_sq_error(cr_graph *g, cr_node *const *in)
{
    return cr_sq_error(g, in[0], in[1]);
}
static cr_node *c_mse(cr_graph *g, cr_node *const *in) { return cr_mse(g, in[0], in[1]); }
static cr_node *c_softmax(cr_graph *g, cr_node *const *in) { return cr_softmax(g, in[0]); }
static cr_node *c_softmax_bwd(cr_graph *g, cr_node *const *in)
{
    return internal(g, "softmax_bwd", in, 2);
}
static cr_node *c_softmax_xent(cr_graph *g, cr_node *const *in)
{
    return cr_softmax_xent(g, in[0], in[1]);
}
static cr_node *c_softmax_xent_bwd(cr_graph *g, cr_node *const *in)
{
    return internal(g, "softmax_xent_bwd", in, 3);
}
static cr_node *c_bce(cr_graph *g, cr_node *const *in) { return cr_bce(g, in[0], in[1]); }
static cr_node *c_add_n(cr_graph *g, cr_node *const *in) { return cr_add_n(g, 3, in); }
static cr_node *c_clamp_prob(cr_graph *g, cr_node *const *in)
{
    return internal(g, "clamp_prob", in, 1);
}
static cr_node *c_log_softmax(cr_graph *g, cr_node *const *in)
{
    return internal(g, "log_softmax", in, 1);
}
static cr_node *c_bce_logits(cr_graph *g, cr_node *const *in)
{
    return cr_bce_logits(g, in[0], in[1]);
}

/* Neural-network ops: a 3x3 image of two channels, 2x2 kernels. */
static cr_node *c_conv(cr_graph *g, cr_node *const *in)
{
    return cr_conv2d(g, in[0], in[1], in[2], NULL, (size_t[]){1, 1}, NULL, 1);
}
/* The backward helpers with the parameters of conv2d(x [1,2,3,3], w
 * [2,2,2,2]), a zero constant standing in for x or w. */
static cr_node *conv_template(cr_graph *g, int weights, cr_node *given)
{
    static const size_t sx[4] = {1, 2, 3, 3}, sw[4] = {2, 2, 2, 2};
    cr_node *zero = cr_constant_fill(g, 4, weights ? sw : sx, 0.0);
    return weights ? cr_conv2d(g, given, zero, NULL, NULL, NULL, NULL, 1)
                   : cr_conv2d(g, zero, given, NULL, NULL, NULL, NULL, 1);
}
static cr_node *c_conv_input_grad(cr_graph *g, cr_node *const *in)
{
    cr_node *t = conv_template(g, 0, in[1]);
    return cr_conv_input_grad(g, in[0], in[1], t->args, &t->inputs[0]->value);
}
static cr_node *c_conv_weight_grad(cr_graph *g, cr_node *const *in)
{
    cr_node *t = conv_template(g, 1, in[0]);
    return cr_conv_weight_grad(g, in[0], in[1], t->args, &t->inputs[1]->value);
}
/* 2x2 pooling of [1,2,4,4]; the helpers with its parameters */
static const size_t pool_kernel[2] = {2, 2};
static cr_node *c_max_pool(cr_graph *g, cr_node *const *in)
{
    return cr_max_pool2d(g, in[0], pool_kernel, NULL, NULL);
}
static cr_node *c_avg_pool(cr_graph *g, cr_node *const *in)
{
    return cr_avg_pool2d(g, in[0], pool_kernel, NULL, NULL);
}
static cr_node *pool_helper(cr_graph *g, const char *name, cr_node *const *in, size_t n,
                            cr_node *pooled, const cr_tensor *out)
{
    ck_assert_ptr_nonnull(pooled);
    return cr_node_create_shaped(g, cr_op_find(name), in, n, pooled->args, out->rank,
                                 out->shape);
}
/* the max_pool helpers take the max_pool node and dy (or u) */
static cr_node *c_max_pool_scatter(cr_graph *g, cr_node *const *in)
{
    cr_node *pair[2] = {c_max_pool(g, in), in[1]};
    return pool_helper(g, "max_pool_scatter", pair, 2, pair[0], cr_node_value(in[0]));
}
static cr_node *c_max_pool_gather(cr_graph *g, cr_node *const *in)
{
    cr_node *pair[2] = {c_max_pool(g, in), in[1]};
    return pool_helper(g, "max_pool_gather", pair, 2, pair[0], cr_node_value(pair[0]));
}
static cr_node *c_avg_pool_bwd(cr_graph *g, cr_node *const *in)
{
    static const size_t sx[4] = {1, 2, 4, 4};
    cr_node *x = cr_constant_fill(g, 4, sx, 0.0);
    return pool_helper(g, "avg_pool_bwd", in, 1, c_avg_pool(g, &x), cr_node_value(x));
}
/* dropout in evaluation mode (the identity; training-mode masks change
 * at every evaluation) */
static cr_node *c_dropout(cr_graph *g, cr_node *const *in)
{
    cr_graph_set_training(g, 0);
    return cr_dropout(g, in[0], 0.5);
}
/* normalisation of [2,3] rows (layer) or of [4,3] columns (batch) */
static cr_node *c_layer_norm(cr_graph *g, cr_node *const *in)
{
    return cr_layer_norm(g, in[0], 1, in[1], in[2], CR_NORM_EPS);
}
static cr_node *c_batch_norm(cr_graph *g, cr_node *const *in)
{
    return cr_batch_norm(g, in[0], in[1], in[2], CR_BATCH_NORM_MOMENTUM, CR_NORM_EPS);
}
/* the helpers of layer norm over [2,3] rows: norm_bwd(x, u, norm),
 * norm_gain_grad(x, dy, norm); training_only(t, norm) */
static cr_node *norm_helper(cr_graph *g, cr_node *const *in, const char *op, int rank,
                            const size_t *shape)
{
    cr_node *n = cr_layer_norm(g, in[0], 1, NULL, NULL, CR_NORM_EPS);
    ck_assert_ptr_nonnull(n);
    cr_node *three[3] = {in[0], in[1], n};
    return cr_node_create_shaped(g, cr_op_find(op), three, 3, n->args, rank, shape);
}
static cr_node *c_norm_bwd(cr_graph *g, cr_node *const *in)
{
    return norm_helper(g, in, "norm_bwd", 2, cr_node_value(in[0])->shape);
}
static cr_node *c_norm_gain_grad(cr_graph *g, cr_node *const *in)
{
    const size_t s3[1] = {3};
    return norm_helper(g, in, "norm_gain_grad", 1, s3);
}
static cr_node *c_training_only(cr_graph *g, cr_node *const *in)
{
    const size_t s43[2] = {4, 3};
    cr_node *pair[2] = {in[0], cr_batch_norm(g, cr_constant_fill(g, 2, s43, 0.5), NULL,
                                             NULL, 0.1, CR_NORM_EPS)};
    return internal(g, "training_only", pair, 2);
}
/* cross-entropy of [2,3] logits with classes {2, 0}; its backward; huber */
static cr_node *classes_2(cr_graph *g)
{
    const size_t s2[1] = {2};
    cr_tensor *t = cr_tensor_new_from(1, s2, (double[]){2, 0}, NULL);
    cr_node *n = cr_constant(g, t);
    cr_tensor_free(t);
    return n;
}
static cr_node *c_cross_entropy(cr_graph *g, cr_node *const *in)
{
    return cr_cross_entropy(g, in[0], classes_2(g));
}
static cr_node *c_cross_entropy_bwd(cr_graph *g, cr_node *const *in)
{
    cr_node *ce = c_cross_entropy(g, in);
    ck_assert_ptr_nonnull(ce);
    cr_node *three[3] = {in[0], ce->inputs[1], in[1]};
    return cr_node_create(g, cr_op_find("cross_entropy_bwd"), three, 3, ce->args);
}
static cr_node *c_huber(cr_graph *g, cr_node *const *in)
{
    return cr_huber(g, in[0], in[1], 0.8);
}
/* per-channel helpers over [2,3] viewed as [2,3,1] */
static cr_node *c_channel_sum(cr_graph *g, cr_node *const *in)
{
    const size_t shape[1] = {3};
    return cr_channel_sum(g, in[0], 2, 3, 1, 0.5, 1, shape);
}
static cr_node *c_channel_expand(cr_graph *g, cr_node *const *in)
{
    const size_t shape[2] = {2, 3};
    return cr_channel_expand(g, in[0], 2, 3, 1, 1.0, 2, shape);
}
static cr_node *c_channel_scale(cr_graph *g, cr_node *const *in)
{
    return cr_channel_scale(g, in[0], in[1], 2, 3, 1);
}
static cr_node *c_square(cr_graph *g, cr_node *const *in) { return cr_square(g, in[0]); }
static cr_node *c_log1p(cr_graph *g, cr_node *const *in) { return cr_log1p(g, in[0]); }
static cr_node *c_erf(cr_graph *g, cr_node *const *in) { return cr_erf(g, in[0]); }
static cr_node *c_gelu(cr_graph *g, cr_node *const *in) { return cr_gelu(g, in[0]); }
static cr_node *c_silu(cr_graph *g, cr_node *const *in) { return cr_silu(g, in[0]); }
static cr_node *c_leaky_relu(cr_graph *g, cr_node *const *in)
{
    return cr_leaky_relu(g, in[0], 0.1);
}
static cr_node *c_elu(cr_graph *g, cr_node *const *in) { return cr_elu(g, in[0], 0.8); }
static cr_node *c_leaky_relu_bwd(cr_graph *g, cr_node *const *in)
{
    cr_node_args args = {.f = 0.3};
    return cr_node_create(g, cr_op_find("leaky_relu_bwd"), in, 2, &args);
}
static cr_node *c_maximum(cr_graph *g, cr_node *const *in)
{
    return cr_maximum(g, in[0], in[1]);
}
static cr_node *c_minimum(cr_graph *g, cr_node *const *in)
{
    return cr_minimum(g, in[0], in[1]);
}
static cr_node *c_clamp(cr_graph *g, cr_node *const *in)
{
    return cr_clamp(g, in[0], -0.5, 0.7);
}
static cr_node *c_where(cr_graph *g, cr_node *const *in)
{
    return cr_where(g, cr_gt(g, in[0], cr_scalar(g, 0.0)), in[1], in[2]);
}
static cr_node *c_gt(cr_graph *g, cr_node *const *in) { return cr_gt(g, in[0], in[1]); }
static cr_node *c_ge(cr_graph *g, cr_node *const *in) { return cr_ge(g, in[0], in[1]); }
static cr_node *c_lt(cr_graph *g, cr_node *const *in) { return cr_lt(g, in[0], in[1]); }
static cr_node *c_le(cr_graph *g, cr_node *const *in) { return cr_le(g, in[0], in[1]); }
static cr_node *c_eq(cr_graph *g, cr_node *const *in) { return cr_eq(g, in[0], in[1]); }

static cr_node *c_max(cr_graph *g, cr_node *const *in)
{
    return cr_max_dim(g, in[0], 1, 0);
}
static cr_node *c_min(cr_graph *g, cr_node *const *in)
{
    return cr_min_dim(g, in[0], 0, 1);
}
static cr_node *c_logsumexp(cr_graph *g, cr_node *const *in)
{
    return cr_logsumexp_dim(g, in[0], -1, 0);
}
static cr_node *c_argmax(cr_graph *g, cr_node *const *in) { return cr_argmax(g, in[0]); }
static cr_node *c_select_mask(cr_graph *g, cr_node *const *in)
{
    cr_node *m = cr_max_dim(g, in[0], 1, 0);
    cr_node *pair[2] = {in[0], m};
    return cr_node_create_shaped(g, cr_op_find("select_mask"), pair, 2, m->args, 2,
                                 cr_tensor_shape(cr_node_value(in[0])));
}

/* An input: rank and two dimensions, then the range of its values. */
#define SPEC(RANK, D0, D1, LO, HI, AWAY)                                                   \
    {                                                                                      \
        RANK, {D0, D1}, LO, HI, AWAY                                                       \
    }
#define SPEC4(D0, D1, D2, D3, LO, HI)                                                      \
    {                                                                                      \
        4, {D0, D1, D2, D3}, LO, HI, 0                                                     \
    }
#define M23 2, 2, 3
#define SCALAR 0, 0, 0
#define VEC3 1, 3, 0
#define ANY(S) SPEC(S, -1.5, 1.5, 0)
#define POS(S) SPEC(S, 0.5, 2.0, 0)
#define AWAY(S) SPEC(S, 0.3, 1.5, 1)
#define PROB(S) SPEC(S, 0.2, 0.8, 0)

static const op_case cases[] = {
    {"add", c_add, 2, {ANY(M23), ANY(VEC3)}},
    {"sub", c_sub, 2, {ANY(VEC3), ANY(M23)}},
    {"mul", c_mul, 2, {ANY(M23), ANY(SCALAR)}},
    {"div", c_div, 2, {ANY(M23), AWAY(VEC3)}},
    {"pow", c_pow, 2, {POS(M23), ANY(M23)}},
    {"neg", c_neg, 1, {ANY(M23)}},
    {"scale", c_scale, 1, {ANY(M23)}},
    {"powc", c_powc, 1, {POS(M23)}},
    {"exp", c_exp, 1, {ANY(M23)}},
    {"log", c_log, 1, {POS(M23)}},
    {"sqrt", c_sqrt, 1, {POS(M23)}},
    {"abs", c_abs, 1, {AWAY(M23)}},
    {"sign", c_sign, 1, {AWAY(M23)}},
    {"sin", c_sin, 1, {ANY(M23)}},
    {"cos", c_cos, 1, {ANY(M23)}},
    {"tanh", c_tanh, 1, {ANY(M23)}},
    {"sigmoid", c_sigmoid, 1, {ANY(M23)}},
    {"relu", c_relu, 1, {AWAY(M23)}},
    {"softplus", c_softplus, 1, {ANY(M23)}},
    {"sigmoid_bwd", c_sigmoid_bwd, 2, {PROB(M23), ANY(M23)}},
    {"tanh_bwd", c_tanh_bwd, 2, {ANY(M23), ANY(M23)}},
    {"relu_bwd", c_relu_bwd, 2, {AWAY(M23), ANY(M23)}},
    {"sum", c_sum, 1, {ANY(M23)}},
    {"mean", c_mean, 1, {ANY(M23)}},
    {"expand", c_expand, 1, {ANY(VEC3)}},
    {"matmul", c_matmul, 2, {ANY(M23), SPEC(2, 4, 3, -1.5, 1.5, 0)}},
    {"transpose", c_transpose, 1, {ANY(M23)}},
    {"reshape", c_reshape, 1, {ANY(M23)}},
    {"permute", c_permute, 1, {ANY(M23)}},
    {"slice", c_slice, 1, {ANY(M23)}},
    {"pad", c_pad, 1, {ANY(VEC3)}},
    {"concat", c_concat, 2, {ANY(M23), ANY(M23)}},
    {"stack", c_stack, 2, {ANY(VEC3), ANY(VEC3)}},
    {"index_select", c_index_select, 1, {ANY(M23)}},
    {"index_add", c_index_add, 1, {ANY(M23)}},
    {"sop", c_sop, 4, {ANY(VEC3), ANY(VEC3), ANY(SCALAR), ANY(SCALAR)}},
    {"sq_error", c_sq_error, 2, {ANY(M23), ANY(M23)}},
    {"mse", c_mse, 2, {ANY(VEC3), ANY(VEC3)}},
    {"softmax", c_softmax, 1, {ANY(M23)}},
    {"softmax_bwd", c_softmax_bwd, 2, {PROB(M23), ANY(M23)}},
    {"softmax_xent", c_softmax_xent, 2, {ANY(M23), PROB(M23)}},
    {"softmax_xent_bwd", c_softmax_xent_bwd, 3, {ANY(M23), PROB(M23), ANY(SCALAR)}},
    {"bce", c_bce, 2, {PROB(M23), PROB(M23)}},
    {"bce_logits", c_bce_logits, 2, {AWAY(M23), PROB(M23)}},
    {"add_n", c_add_n, 3, {ANY(M23), ANY(M23), ANY(M23)}},
    {"clamp_prob", c_clamp_prob, 1, {PROB(M23)}},
    {"log_softmax", c_log_softmax, 1, {ANY(M23)}},
    {"square", c_square, 1, {ANY(M23)}},
    {"log1p", c_log1p, 1, {POS(M23)}},
    {"erf", c_erf, 1, {ANY(M23)}},
    {"gelu", c_gelu, 1, {ANY(M23)}},
    {"silu", c_silu, 1, {ANY(M23)}},
    {"leaky_relu", c_leaky_relu, 1, {AWAY(M23)}},
    {"elu", c_elu, 1, {AWAY(M23)}},
    {"leaky_relu_bwd", c_leaky_relu_bwd, 2, {AWAY(M23), ANY(M23)}},
    {"maximum", c_maximum, 2, {ANY(M23), ANY(VEC3)}},
    {"minimum", c_minimum, 2, {ANY(VEC3), ANY(M23)}},
    {"clamp", c_clamp, 1, {ANY(M23)}},
    {"where", c_where, 3, {AWAY(M23), ANY(M23), ANY(VEC3)}},
    {"gt", c_gt, 2, {ANY(M23), ANY(VEC3)}},
    {"ge", c_ge, 2, {ANY(M23), ANY(M23)}},
    {"lt", c_lt, 2, {ANY(VEC3), ANY(M23)}},
    {"le", c_le, 2, {ANY(M23), ANY(SCALAR)}},
    {"eq", c_eq, 2, {ANY(M23), ANY(M23)}},
    {"max", c_max, 1, {ANY(M23)}},
    {"min", c_min, 1, {ANY(M23)}},
    {"logsumexp", c_logsumexp, 1, {ANY(M23)}},
    {"argmax", c_argmax, 1, {ANY(M23)}},
    {"select_mask", c_select_mask, 1, {ANY(M23)}},
    {"conv",
     c_conv,
     3,
     {SPEC4(1, 2, 3, 3, -1.5, 1.5), SPEC4(2, 2, 2, 2, -1.5, 1.5), SPEC(1, 2, 0, -1, 1, 0)}},
    {"conv_input_grad",
     c_conv_input_grad,
     2,
     {SPEC4(1, 2, 2, 2, -1.5, 1.5), SPEC4(2, 2, 2, 2, -1.5, 1.5)}},
    {"conv_weight_grad",
     c_conv_weight_grad,
     2,
     {SPEC4(1, 2, 3, 3, -1.5, 1.5), SPEC4(1, 2, 2, 2, -1.5, 1.5)}},
    {"max_pool", c_max_pool, 1, {SPEC4(1, 2, 4, 4, -1.5, 1.5)}},
    {"max_pool_scatter",
     c_max_pool_scatter,
     2,
     {SPEC4(1, 2, 4, 4, -1.5, 1.5), SPEC4(1, 2, 2, 2, -1.5, 1.5)}},
    {"max_pool_gather",
     c_max_pool_gather,
     2,
     {SPEC4(1, 2, 4, 4, -1.5, 1.5), SPEC4(1, 2, 4, 4, -1.5, 1.5)}},
    {"avg_pool", c_avg_pool, 1, {SPEC4(1, 2, 4, 4, -1.5, 1.5)}},
    {"avg_pool_bwd", c_avg_pool_bwd, 1, {SPEC4(1, 2, 2, 2, -1.5, 1.5)}},
    {"dropout", c_dropout, 1, {ANY(M23)}},
    {"layer_norm", c_layer_norm, 3, {ANY(M23), ANY(VEC3), ANY(VEC3)}},
    {"batch_norm", c_batch_norm, 3, {SPEC(2, 4, 3, -1.5, 1.5, 0), ANY(VEC3), ANY(VEC3)}},
    {"norm_bwd", c_norm_bwd, 2, {ANY(M23), ANY(M23)}},
    {"norm_gain_grad", c_norm_gain_grad, 2, {ANY(M23), ANY(M23)}},
    {"training_only", c_training_only, 1, {ANY(M23)}},
    {"cross_entropy", c_cross_entropy, 1, {ANY(M23)}},
    {"cross_entropy_bwd", c_cross_entropy_bwd, 2, {ANY(M23), ANY(SCALAR)}},
    {"huber", c_huber, 2, {SPEC(2, 2, 3, -2, 2, 0), ANY(M23)}},
    {"channel_sum", c_channel_sum, 1, {ANY(M23)}},
    {"channel_expand", c_channel_expand, 1, {ANY(VEC3)}},
    {"channel_scale", c_channel_scale, 2, {ANY(M23), ANY(VEC3)}},
};

/* Ops whose every derivative is zero (step functions). */
static int zero_derivative(const char *op)
{
    static const char *const names[] = {"sign", "gt", "ge",     "lt",
                                        "le",   "eq", "argmax", "select_mask"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(op, names[k]) == 0)
            return 1;
    return 0;
}
static const size_t n_cases = sizeof cases / sizeof cases[0];

START_TEST(test_every_op_passes)
{
    const cr_op *op = cr_builtin_ops[_i];
    /* detach's value follows x but its derivative is 0 by definition:
     * finite differences cannot agree (check_ops checks its zeros) */
    if (strcmp(op->name, "detach") == 0)
        return;
    const op_case *c = NULL;
    for (size_t k = 0; k < n_cases; k++)
        if (strcmp(cases[k].op, op->name) == 0)
            c = &cases[k];
    ck_assert_msg(c != NULL, "op '%s' has no gradcheck case", op->name);
    test_rand_seed(1000 + (unsigned long)_i);
    cr_graph *g = cr_graph_new();
    cr_node *in[4];
    for (int i = 0; i < c->n_in; i++) {
        char name[16]; /* "in" and any int */
        snprintf(name, sizeof name, "in%d", i);
        in[i] = param_vec(g, name, c->in[i].rank, c->in[i].shape, c->in[i].lo, c->in[i].hi,
                          c->in[i].away);
    }
    cr_node *y = c->build(g, in);
    ck_assert_msg(y != NULL, "%s: %s", op->name, cr_graph_error(g)->message);
    ck_assert_str_eq(cr_node_op_name(y), op->name);
    cr_node *E = weighted_sum(g, y);
    cr_gradcheck_report *r = NULL;
    cr_status st = cr_gradcheck(g, E, in, (size_t)c->n_in, NULL, &r);
    ck_assert_ptr_nonnull(r);
    if (st != CR_OK)
        cr_gradcheck_report_print(r, stderr);
    ck_assert_msg(st == CR_OK, "%s: gradcheck %s", op->name, cr_strerror(st));
    size_t total = 0;
    for (int i = 0; i < c->n_in; i++)
        total += cr_tensor_size(cr_node_value(in[i]));
    ck_assert_uint_eq(cr_gradcheck_report_size(r), total);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), total);
    /* non-trivial: some gradient element is not zero (a step function's is zero) */
    double biggest = 0.0;
    for (size_t k = 0; k < total; k++)
        biggest = fmax(biggest, fabs(cr_gradcheck_report_entry(r, k)->analytic));
    if (!zero_derivative(op->name))
        ck_assert_double_gt(biggest, 1e-3);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

/* ---- the seed neuron: report contents and printer ---- */

typedef struct neuron {
    cr_graph *g;
    cr_node *w1, *w2, *b, *s, *predicted, *E;
} neuron;

static neuron neuron_new(void)
{
    neuron n;
    n.g = cr_graph_new();
    cr_graph *g = n.g;
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1), *x2 = cr_input_scalar(g, "x2", 0.3);
    cr_node *d = cr_input_scalar(g, "desired", 0.03);
    n.w1 = cr_param_scalar(g, "w1", 0.5);
    n.w2 = cr_param_scalar(g, "w2", 0.2);
    n.b = cr_param_scalar(g, "b", 1.83);
    n.s = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){n.w1, n.w2}, n.b);
    n.predicted = cr_sigmoid(g, n.s);
    n.E = cr_sq_error(g, n.predicted, d);
    ck_assert_ptr_nonnull(n.E);
    cr_node_set_name(n.s, "s");
    cr_node_set_name(n.predicted, "predicted");
    cr_node_set_name(n.E, "E");
    return n;
}

START_TEST(test_report_contents)
{
    neuron n = neuron_new();
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, NULL, &r), CR_OK); /* every param */
    ck_assert_uint_eq(cr_gradcheck_report_size(r), 3);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 3);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_FAIL), 0);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_SKIP), 0);
    const double want[3] = {0.009276093, 0.027828278, 0.0927609256};
    const cr_node *nodes[3] = {n.w1, n.w2, n.b};
    for (size_t k = 0; k < 3; k++) {
        const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, k);
        ck_assert_ptr_eq(e->node, nodes[k]);
        ck_assert_uint_eq(e->index, 0);
        ck_assert_double_eq_tol(e->analytic, want[k], 1e-9);
        ck_assert_double_eq_tol(e->numerical, want[k], 1e-9);
        ck_assert_double_lt(e->error_estimate, 1e-8);
        ck_assert_double_eq_tol(e->abs_err, fabs(e->analytic - e->numerical), 1e-18);
        ck_assert_double_lt(e->rel_err, 1e-6);
        ck_assert_double_ge(e->tolerance, 1e-5);
        ck_assert_int_eq(e->result, CR_CHECK_PASS);
        ck_assert_str_eq(e->reason, "");
    }
    ck_assert_ptr_null(cr_gradcheck_report_entry(r, 3));
    const cr_gradcheck_entry *w = cr_gradcheck_report_worst(r);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(cr_gradcheck_report_num_suspects(r), 0);

    FILE *f = tmpfile();
    ck_assert_int_eq(cr_gradcheck_report_print(r, f), CR_OK);
    char text[4096];
    take_text(f, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text,
                                 "gradcheck of E (element mode): 3 checked, 3 passed, "
                                 "0 failed, 0 skipped\n"));
    ck_assert_ptr_nonnull(strstr(text, "atol 1e-05 + rtol 0.001"));
    ck_assert_ptr_nonnull(strstr(text, "  w1[0]  "));
    ck_assert_ptr_nonnull(strstr(text, "0.00927609"));
    ck_assert_ptr_nonnull(strstr(text, "  b[0]  "));
    ck_assert_ptr_nonnull(strstr(text, "0.0927609256"));
    ck_assert_ptr_nonnull(strstr(text, "  worst: "));
    ck_assert_int_eq(cr_gradcheck_report_print(NULL, stdout), CR_EINVAL);
    cr_gradcheck_report_free(r);
    cr_graph_free(n.g);
}
END_TEST

/* Values are restored bit for bit, and the output recomputed. */
START_TEST(test_values_restored)
{
    test_rand_seed(7);
    cr_graph *g = cr_graph_new();
    const size_t shape[2] = {3, 4};
    cr_node *W = param_vec(g, "W", 2, shape, -2.0, 2.0, 0);
    cr_node *E = weighted_sum(g, cr_tanh(g, cr_exp(g, W)));
    double before[12], out_before = cr_node_scalar(E);
    memcpy(before, cr_tensor_data(cr_node_value(W)), sizeof before);
    for (int fast = 0; fast < 2; fast++) {
        cr_gradcheck_options o = cr_gradcheck_defaults();
        o.fast = fast;
        cr_gradcheck_report *r = NULL;
        ck_assert_int_eq(cr_gradcheck(g, E, &W, 1, &o, &r), CR_OK);
        ck_assert_int_eq(memcmp(before, cr_tensor_data(cr_node_value(W)), sizeof before),
                         0);
        ck_assert(cr_node_scalar(E) == out_before);
        cr_gradcheck_report_free(r);
    }
    cr_graph_free(g);
}
END_TEST

/* ---- kinks ---- */

START_TEST(test_kink_relu_at_zero)
{
    cr_graph *g = cr_graph_new();
    const size_t shape[1] = {3};
    const double v[3] = {0.0, 0.8, 0.00002};
    cr_error err;
    cr_tensor *t = cr_tensor_new_from(1, shape, v, &err);
    cr_node *x = cr_param(g, "x", t);
    cr_tensor_free(t);
    cr_node *y = cr_relu(g, x);
    cr_node *E = cr_sum(g, cr_mul(g, y, y));
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_SKIP), 1);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 2);
    /* on the kink: E = relu(x)^2 has one-sided differences 0 and h = 1e-4,
     * and the analytic 0 lies between them */
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_int_eq(e->result, CR_CHECK_PASS);
    ck_assert_str_eq(e->reason, "at a kink of relu(x): its input is 0; one-sided 0 and "
                                "0.0001, any value between is a subgradient");
    ck_assert_double_eq_tol(e->numerical, 0.5e-4, 1e-12);
    ck_assert_double_eq(e->abs_err, 0.0);
    e = cr_gradcheck_report_entry(r, 2); /* 2e-5 is within the step 1e-4 */
    ck_assert_int_eq(e->result, CR_CHECK_SKIP);
    ck_assert_str_eq(e->reason,
                     "the input of relu(x) reaches its kink 0 within x +- 0.0001");
    e = cr_gradcheck_report_entry(r, 1);
    ck_assert_int_eq(e->result, CR_CHECK_PASS);
    ck_assert_double_eq_tol(e->analytic, 1.6, 1e-12);
    /* a smaller step clears the element near the kink */
    cr_gradcheck_report_free(r);
    cr_gradcheck_options o = cr_gradcheck_defaults();
    o.step = 1e-6;
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, &o, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_SKIP), 0);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 3);
    cr_gradcheck_report_free(r);
    /* fast mode: every direction moves x[0] off its kink; judged between the
     * one-sided directional differences */
    o = cr_gradcheck_defaults();
    o.fast = 1;
    o.directions = 3;
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, &o, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 3);
    ck_assert_msg(strstr(cr_gradcheck_report_entry(r, 2)->reason,
                         "at a kink of relu(x): its input is 0; one-sided ") != NULL,
                  "%s", cr_gradcheck_report_entry(r, 2)->reason);
    cr_gradcheck_report_free(r);
    (void)y;
    cr_graph_free(g);
}
END_TEST

/* bce clamps its probability to [1e-12, 1 - 1e-12] before dividing by
 * p (1 - p): those are kinks too. A saturated p (0, or within 1e-12 of 1)
 * is skipped with the kink named, not reported as a wrong gradient. */
START_TEST(test_kink_bce_clamp)
{
    cr_graph *g = cr_graph_new();
    const size_t shape[1] = {3};
    const double pv[3] = {0.0, 0.5, 1.0 - 5e-13}, tv[3] = {1.0, 0.0, 0.0};
    cr_error err;
    cr_tensor *pt = cr_tensor_new_from(1, shape, pv, &err),
              *tt = cr_tensor_new_from(1, shape, tv, &err);
    cr_node *p = cr_param(g, "p", pt);
    cr_node *E = cr_bce(g, p, cr_constant(g, tt));
    cr_tensor_free(pt);
    cr_tensor_free(tt);
    ck_assert_ptr_nonnull(E);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &p, 1, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_FAIL), 0);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_SKIP), 2);
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_int_eq(e->result, CR_CHECK_SKIP);
    ck_assert_msg(strstr(e->reason, "reaches its kink 1e-12 within x +- 0.0001") != NULL,
                  "%s", e->reason);
    ck_assert_int_eq(cr_gradcheck_report_entry(r, 1)->result, CR_CHECK_PASS);
    e = cr_gradcheck_report_entry(r, 2);
    ck_assert_int_eq(e->result, CR_CHECK_SKIP);
    ck_assert_msg(strstr(e->reason, "its kink 0.999999999999 within") != NULL, "%s",
                  e->reason);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_kink_abs_named)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.0);
    cr_node *a = cr_abs(g, x);
    cr_node_set_name(a, "absx");
    cr_node *E = cr_add(g, a, cr_sin(g, x));
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, NULL, &r), CR_OK);
    /* abs'(0) is taken as 0, so the analytic 0 + cos 0 = 1 lies between the
     * one-sided derivatives -1 + 1 = 0 and 1 + 1 = 2 */
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 1);
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_double_eq_tol(e->analytic, 1.0, 1e-15);
    ck_assert_double_eq_tol(e->numerical, 1.0, 1e-8);
    ck_assert_msg(strncmp(e->reason,
                          "at a kink of absx = abs(x): its input is 0; one-sided ",
                          54) == 0,
                  "%s", e->reason);
    ck_assert_ptr_nonnull(strstr(e->reason, " and 2, any value between is a subgradient"));
    cr_gradcheck_report_free(r);
    /* a value outside the one-sided interval fails, naming it (the judge
     * alone: the library's own gradients at a kink are right) */
    cr_gradcheck_entry wrong = {.analytic = 2.5};
    snprintf(wrong.reason, sizeof wrong.reason,
             "at a kink of absx = abs(x): its input is 0");
    cr_gradcheck_options d = cr_gradcheck_defaults();
    cr_judge_kink(&d, &wrong, 0.0, 2.0, 1e-12);
    ck_assert_int_eq(wrong.result, CR_CHECK_FAIL);
    ck_assert_double_eq_tol(wrong.abs_err, 0.5, 1e-15);
    ck_assert_str_eq(wrong.reason,
                     "at a kink of absx = abs(x): its input is 0; one-sided 0 "
                     "and 2, and 2.5 is not between them");
    /* away from the kink it is checked */
    cr_node_set_scalar(x, -0.4);
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 1);
    ck_assert_double_eq_tol(cr_gradcheck_report_entry(r, 0)->analytic, -1.0 + cos(-0.4),
                            1e-12);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

/* ---- second order ---- */

START_TEST(test_second_order_cube)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 1.3);
    cr_node *y = cr_powc(g, x, 3.0);
    cr_node *dy = cr_grad(g, y, x); /* 3 x^2 */
    ck_assert_double_eq_tol(cr_node_scalar(dy), 3 * 1.69, 1e-12);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, dy, &x, 1, NULL, &r), CR_OK);
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_double_eq_tol(e->analytic, 6 * 1.3, 1e-12);
    ck_assert_double_eq_tol(e->numerical, 6 * 1.3, 1e-7);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_second_order_mixed)
{
    /* f = x^2 y + sin(x y); df/dx = 2xy + y cos(xy);
     * d2f/dx2 = 2y - y^2 sin(xy); d2f/dxdy = 2x + cos(xy) - xy sin(xy) */
    const double X = 0.7, Y = -1.9;
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", X), *y = cr_param_scalar(g, "y", Y);
    cr_node *f = cr_add(g, cr_mul(g, cr_mul(g, x, x), y), cr_sin(g, cr_mul(g, x, y)));
    cr_node *fx = cr_grad(g, f, x);
    ck_assert_double_eq_tol(cr_node_scalar(fx), 2 * X * Y + Y * cos(X * Y), 1e-12);
    cr_node *both[2] = {x, y};
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, fx, both, 2, NULL, &r), CR_OK);
    ck_assert_double_eq_tol(cr_gradcheck_report_entry(r, 0)->analytic,
                            2 * Y - Y * Y * sin(X * Y), 1e-12);
    ck_assert_double_eq_tol(cr_gradcheck_report_entry(r, 1)->analytic,
                            2 * X + cos(X * Y) - X * Y * sin(X * Y), 1e-12);
    cr_gradcheck_report_free(r);
    /* a tensor x: check d/dx of sum(grad * v) */
    test_rand_seed(3);
    const size_t shape[1] = {4};
    cr_node *w = param_vec(g, "w", 1, shape, -1.0, 1.0, 0);
    cr_node *L = cr_sum(g, cr_tanh(g, cr_mul(g, w, w)));
    cr_node *gw = weighted_sum(g, cr_grad(g, L, w));
    ck_assert_int_eq(cr_gradcheck(g, gw, &w, 1, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 4);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

/* relu's gradient contains relu_bwd, whose kink is skipped too. */
START_TEST(test_second_order_kink)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.0);
    cr_node *y = cr_mul(g, cr_relu(g, x), cr_exp(g, x));
    cr_node *dy = cr_grad(g, y, x);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, dy, &x, 1, NULL, &r), CR_OK);
    /* y' = relu'(x) e^x + relu(x) e^x jumps at 0 (from 0 to 1): no second
     * derivative exists there, not even one-sided, so it is skipped */
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_int_eq(e->result, CR_CHECK_SKIP);
    ck_assert_msg(strstr(e->reason, ": its input is 0, where no derivative exists") != NULL,
                  "%s", e->reason);
    cr_gradcheck_report_free(r);
    cr_node_set_scalar(x, 0.6); /* (x e^x)'' = (x + 2) e^x */
    ck_assert_int_eq(cr_gradcheck(g, dy, &x, 1, NULL, &r), CR_OK);
    ck_assert_double_eq_tol(cr_gradcheck_report_entry(r, 0)->analytic, 2.6 * exp(0.6),
                            1e-12);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

/* ---- options ---- */

START_TEST(test_max_elements)
{
    test_rand_seed(11);
    cr_graph *g = cr_graph_new();
    const size_t shape[1] = {10};
    cr_node *w = param_vec(g, "w", 1, shape, -1.0, 1.0, 0);
    cr_node *E = weighted_sum(g, cr_sin(g, w));
    cr_gradcheck_options o = cr_gradcheck_defaults();
    o.max_elements = 3;
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &w, 1, &o, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_size(r), 3);
    ck_assert_uint_eq(cr_gradcheck_report_entry(r, 0)->index, 0);
    ck_assert_uint_eq(cr_gradcheck_report_entry(r, 1)->index, 3);
    ck_assert_uint_eq(cr_gradcheck_report_entry(r, 2)->index, 6);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_defaults_and_bad_options)
{
    cr_gradcheck_options o = cr_gradcheck_defaults();
    ck_assert_double_eq(o.atol, 1e-5);
    ck_assert_double_eq(o.rtol, 1e-3);
    ck_assert_double_eq(o.step, 0.0);
    ck_assert_uint_eq(o.max_elements, 0);
    ck_assert_int_eq(o.fast, 0);
    ck_assert_uint_eq(o.directions, 8);
    ck_assert_uint_eq(o.seed, 42);
    neuron n = neuron_new();
    cr_gradcheck_report *r = (cr_gradcheck_report *)1;
    o.rtol = -1;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, &o, &r), CR_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "gradcheck: tolerances must be finite and >= 0 (atol 1e-05, rtol -1)");
    o = cr_gradcheck_defaults();
    o.step = NAN;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, &o, &r), CR_EINVAL);
    o = cr_gradcheck_defaults();
    o.fast = 1;
    o.directions = 0;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, &o, &r), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "gradcheck: fast mode needs at least 1 direction");
    o = cr_gradcheck_defaults();
    o.step = 1e-30;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, &n.b, 1, &o, &r), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "gradcheck: step 1e-30 is too small for b[0] = 1.83");
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_argument_errors)
{
    neuron n = neuron_new();
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(NULL, n.E, NULL, 0, NULL, &r), CR_EINVAL);
    ck_assert_int_eq(cr_gradcheck(n.g, NULL, NULL, 0, NULL, &r), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message, "gradcheck: output is NULL");
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, NULL, NULL), CR_EINVAL);
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, &n.s, 1, NULL, &r), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "gradcheck: s is computed by an op; only inputs, parameters and "
                     "constants can be perturbed");
    const size_t shape[1] = {2};
    cr_node *v = cr_input(n.g, "v", 1, shape);
    ck_assert_int_eq(cr_gradcheck(n.g, v, &n.b, 1, NULL, &r), CR_ESHAPE);
    ck_assert_ptr_nonnull(
        strstr(cr_graph_error(n.g)->message, "output v must be a scalar, got [2]"));
    cr_node_set_scalar(n.b, NAN);
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, &n.w1, 1, NULL, &r), CR_EDOMAIN);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "gradcheck: output E is nan at this point");
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, &n.b, 1, NULL, &r), CR_EDOMAIN);
    ck_assert_str_eq(cr_graph_error(n.g)->message, "gradcheck: b[0] is nan");
    cr_graph *other = cr_graph_new();
    cr_node *o = cr_param_scalar(other, "o", 1.0);
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, &o, 1, NULL, &r), CR_EINVAL);
    ck_assert_ptr_null(r);
    cr_graph_free(other);
    cr_graph_free(n.g);
}
END_TEST

/* ---- fast mode ---- */

/* y = x^2 with a gradient that is wrong by `bias` in one element. */
static void sq_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    const double *x = cr_tensor_data(in[0]);
    double *y = cr_tensor_data_mut(out);
    for (size_t i = 0; i < cr_tensor_size(out); i++)
        y[i] = x[i] * x[i];
}

static void sq_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                   const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    const double *x = cr_tensor_data(in[0]), *up = cr_tensor_data(dy);
    const double *bias = user;
    double *d = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < cr_tensor_size(dx); i++)
        d[i] = up[i] * 2.0 * x[i] * (i == 17 ? 1.0 + *bias : 1.0);
}

/* The graph and op of the last check_square, freed by the next call (the
 * report points into the graph) and at the end by square_done(). */
static cr_graph *square_graph;
static cr_custom_op *square_op;
static double square_bias;

static void square_done(void)
{
    cr_graph_free(square_graph);
    cr_custom_op_free(square_op);
    square_graph = NULL;
    square_op = NULL;
}

static cr_status check_square(double bias, cr_gradcheck_options *o, cr_gradcheck_report **r)
{
    square_done();
    square_bias = bias;
    cr_custom_op_def def = {.name = "my_square",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .forward = sq_forward,
                            .vjp = sq_vjp,
                            .user = &square_bias};
    cr_error err;
    square_op = cr_custom_op_new(&def, &err);
    ck_assert_ptr_nonnull(square_op);
    test_rand_seed(5);
    cr_graph *g = square_graph = cr_graph_new();
    const size_t shape[2] = {8, 8};
    cr_node *w = param_vec(g, "w", 2, shape, 0.5, 1.5, 1);
    cr_node *E = weighted_sum(g, cr_custom(g, square_op, &w, 1));
    return cr_gradcheck(g, E, &w, 1, o, r);
}

START_TEST(test_fast_mode)
{
    cr_gradcheck_options o = cr_gradcheck_defaults();
    o.fast = 1;
    o.directions = 5;
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(check_square(0.0, &o, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_size(r), 5);
    for (size_t d = 0; d < 5; d++) {
        const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, d);
        ck_assert_ptr_null(e->node);
        ck_assert_uint_eq(e->index, d);
        ck_assert_int_eq(e->result, CR_CHECK_PASS);
        ck_assert_double_gt(fabs(e->analytic), 1e-3);
    }
    FILE *f = tmpfile();
    cr_gradcheck_report_print(r, f);
    char text[4096];
    take_text(f, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "(directional mode): 5 checked, 5 passed"));
    ck_assert_ptr_nonnull(strstr(text, "  direction 4 "));
    cr_gradcheck_report_free(r);
    /* one wrong element out of 64 (by 50%) is caught in every direction */
    ck_assert_int_eq(check_square(0.5, &o, &r), CR_ECHECK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_FAIL), 5);
    ck_assert_uint_eq(cr_gradcheck_report_num_suspects(r), 1);
    const cr_gradcheck_suspect *s = cr_gradcheck_report_suspect(r, 0);
    ck_assert_str_eq(cr_node_op_name(s->node), "my_square");
    ck_assert_uint_eq(s->index, 17);
    ck_assert_double_eq_tol(s->analytic, 1.5 * s->numerical, 1e-6 * fabs(s->numerical));
    cr_gradcheck_report_free(r);
    /* the same seed draws the same directions */
    cr_gradcheck_report *r2 = NULL;
    check_square(0.5, &o, &r);
    double first = cr_gradcheck_report_entry(r, 3)->analytic;
    check_square(0.5, &o, &r2);
    ck_assert(cr_gradcheck_report_entry(r2, 3)->analytic == first);
    cr_gradcheck_report_free(r);
    cr_gradcheck_report_free(r2);
    square_done();
}
END_TEST

START_TEST(test_tolerances)
{
    /* a gradient wrong by 1e-5 relative passes the default rtol 1e-3 and
     * fails a tight one */
    cr_gradcheck_options o = cr_gradcheck_defaults();
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(check_square(1e-5, &o, &r), CR_OK);
    cr_gradcheck_report_free(r);
    o.atol = 1e-9;
    o.rtol = 1e-7;
    ck_assert_int_eq(check_square(1e-5, &o, &r), CR_ECHECK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_FAIL), 1);
    const cr_gradcheck_entry *w = cr_gradcheck_report_worst(r);
    ck_assert_uint_eq(w->index, 17);
    ck_assert_int_eq(w->result, CR_CHECK_FAIL);
    ck_assert_double_eq_tol(w->rel_err, 1e-5, 1e-7);
    ck_assert_ptr_nonnull(strstr(w->reason, "> tolerance"));
    cr_gradcheck_report_free(r);
    square_done();
}
END_TEST

/* ---- GSL's handler and allocation failures ---- */

static void host_handler(const char *reason, const char *file, int line, int gsl_errno)
{
    (void)reason;
    (void)file;
    (void)line;
    (void)gsl_errno;
}

START_TEST(test_gsl_handler_untouched)
{
    gsl_error_handler_t *before = gsl_set_error_handler(host_handler);
    neuron n = neuron_new();
    cr_gradcheck_report *r = NULL;
    cr_gradcheck_options o = cr_gradcheck_defaults();
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, &o, &r), CR_OK);
    cr_gradcheck_report_free(r);
    o.fast = 1;
    ck_assert_int_eq(cr_gradcheck(n.g, n.E, NULL, 0, &o, &r), CR_OK);
    cr_gradcheck_report_free(r);
    ck_assert_ptr_eq(gsl_set_error_handler(before), host_handler);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_allocation_failures)
{
    for (int fast = 0; fast < 2; fast++) {
        size_t k = 1;
        for (;; k++) {
            test_alloc_install(0);
            neuron n = neuron_new();
            test_alloc.fail_at = test_alloc.allocations + k;
            cr_gradcheck_options o = cr_gradcheck_defaults();
            o.fast = fast;
            cr_gradcheck_report *r = NULL;
            cr_status st = cr_gradcheck(n.g, n.E, NULL, 0, &o, &r);
            size_t failures = test_alloc.failures;
            if (st == CR_OK) {
                ck_assert_ptr_nonnull(r);
            } else {
                ck_assert_int_eq(st, CR_ENOMEM);
                ck_assert_ptr_null(r);
            }
            cr_gradcheck_report_free(r);
            cr_graph_free(n.g);
            ck_assert_int_eq(test_alloc.live, 0);
            test_alloc_uninstall();
            if (failures == 0)
                break;
        }
        ck_assert_uint_gt(k, 3);
    }
}
END_TEST

/* ---- hand-derived claims ---- */

static const double STUDENT_FACTOR = 1.94 * (1.0 - 1.94); /* s*(1-s), the mistake */

static cr_claim_report *claims_ok(neuron *n, const cr_claim *claims, size_t count,
                                  cr_status want)
{
    cr_claim_report *r = NULL;
    cr_status st = cr_check_claims(n->g, n->E, claims, count, 1e-9, 1e-7, &r);
    ck_assert_msg(st == want, "%s: %s", cr_strerror(st), cr_graph_error(n->g)->message);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(cr_claim_report_size(r), count);
    return r;
}

START_TEST(test_claims_article)
{
    neuron n = neuron_new();
    const cr_claim claims[] = {
        {NULL, "w1", 0, 0.009276093},
        {NULL, "w2", 0, 0.027828278}, /* right */
        {"s", "b", 0, 0.0},
        {NULL, "b", 0, 0.0}, /* the article's b */
    };
    cr_claim_report *r = claims_ok(&n, claims, 4, CR_ECHECK);
    ck_assert_uint_eq(cr_claim_report_count(r, CR_CHECK_PASS), 2);
    ck_assert_uint_eq(cr_claim_report_count(r, CR_CHECK_FAIL), 2);
    const cr_claim_result *c = cr_claim_report_entry(r, 0);
    ck_assert_int_eq(c->result, CR_CHECK_PASS);
    ck_assert_str_eq(c->label, "dE/dw1");
    ck_assert_ptr_eq(c->of, n.E);
    ck_assert_ptr_eq(c->wrt, n.w1);
    ck_assert_double_eq_tol(c->autodiff, 0.009276093, 5e-10);
    ck_assert_double_eq_tol(c->numerical, c->autodiff, 1e-10);
    ck_assert_int_eq(c->numerical_agrees, 1);
    ck_assert_int_eq(c->local, 0);
    ck_assert_str_eq(c->explanation, "");
    ck_assert_int_eq(cr_claim_report_entry(r, 1)->result, CR_CHECK_PASS);
    c = cr_claim_report_entry(r, 2); /* ds/db = 0: wrong, it is 1 */
    ck_assert_int_eq(c->result, CR_CHECK_FAIL);
    ck_assert_int_eq(c->local, 1);
    ck_assert_str_eq(c->label, "ds/db");
    ck_assert_double_eq_tol(c->autodiff, 1.0, 1e-15);
    ck_assert_double_eq_tol(c->numerical, 1.0, 1e-9);
    ck_assert_str_eq(c->explanation, "it is 1, not 0");
    c = cr_claim_report_entry(r, 3); /* dE/db = 0: wrong, because of ds/db */
    ck_assert_int_eq(c->result, CR_CHECK_FAIL);
    ck_assert_double_eq_tol(c->autodiff, 0.0927609256, 1e-10);
    ck_assert_uint_eq(c->culprit, 2);
    ck_assert_str_eq(c->explanation,
                     "it is 0.0927609256, not 0; the first local factor on its "
                     "chain that differs is ds/db: you have 0, it is 1");
    /* a tight tolerance rejects the article's rounding */
    cr_claim_report_free(r);
    ck_assert_int_eq(cr_check_claims(n.g, n.E, claims, 1, 0.0, 1e-12, &r), CR_ECHECK);
    cr_claim_report_free(r);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_claims_wrong_sigmoid_factor)
{
    neuron n = neuron_new();
    const cr_claim claims[] = {
        {"E", "predicted", 0, 0.844352143},
        {"predicted", "s", 0, STUDENT_FACTOR},
        {"s", "w1", 0, 0.1},
        {NULL, "w1", 0, 0.844352143 * STUDENT_FACTOR * 0.1},
    };
    cr_claim_report *r = claims_ok(&n, claims, 4, CR_ECHECK);
    const cr_claim_result *f = cr_claim_report_entry(r, 1);
    ck_assert_int_eq(f->result, CR_CHECK_FAIL);
    ck_assert_str_eq(f->label, "dpredicted/ds");
    ck_assert_str_eq(f->formula, "predicted*(1-predicted)");
    ck_assert_double_eq_tol(f->claimed, -1.8236, 1e-12);
    ck_assert_double_eq_tol(f->autodiff, 0.109860473, 5e-10);
    ck_assert_str_eq(f->explanation,
                     "it is predicted*(1-predicted) = 0.109860473, not -1.8236");
    ck_assert_int_eq(cr_claim_report_entry(r, 0)->result, CR_CHECK_PASS);
    ck_assert_int_eq(cr_claim_report_entry(r, 2)->result, CR_CHECK_PASS);
    const cr_claim_result *c = cr_claim_report_entry(r, 3);
    ck_assert_int_eq(c->result, CR_CHECK_FAIL);
    ck_assert_uint_eq(c->culprit, 1);
    ck_assert_str_eq(c->explanation,
                     "it is 0.00927609256, not -0.153976057; the first local factor on its "
                     "chain that differs is dpredicted/ds: you have -1.8236, it is "
                     "predicted*(1-predicted) = 0.109860473");
    FILE *out = tmpfile();
    ck_assert_int_eq(cr_claim_report_print(r, out), CR_OK);
    ck_assert_int_eq(cr_claim_report_print(NULL, out), CR_EINVAL);
    char text[4096];
    take_text(out, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "hand-derived derivatives of E: 4 claimed, 2 right, "
                                       "2 wrong (atol 1e-09, rtol 1e-07)\n"));
    ck_assert_ptr_nonnull(strstr(text, "  dpredicted/ds      "));
    ck_assert_ptr_nonnull(
        strstr(text, "-1.8236      0.109860473      0.109860473  WRONG\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "  dE/dw1: it is 0.00927609256, not -0.153976057; "));
    cr_claim_report_free(r);
    cr_graph_free(n.g);
}
END_TEST

/* At a kink any value between the one-sided derivatives is right, and the
 * explanation says so; one outside is wrong; a smooth point has no kink. */
START_TEST(test_claims_at_kink)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_input_scalar(g, "x", 0.0), *w = cr_input_scalar(g, "w", 2.0);
    cr_node *L = cr_relu(g, cr_mul(g, w, x));
    cr_node_set_name(L, "L");
    cr_node *y = cr_abs(g, x);
    cr_node_set_name(y, "y");
    const cr_claim claims[] = {{"L", "x", 0, 1.5}, {"L", "x", 0, 2.5}, {"L", "w", 0, 0.0}};
    cr_claim_report *r = NULL;
    ck_assert_int_eq(cr_check_claims(g, L, claims, 3, 1e-9, 1e-7, &r), CR_ECHECK);
    const cr_claim_result *c = cr_claim_report_entry(r, 0);
    ck_assert_int_eq(c->result, CR_CHECK_PASS);
    ck_assert_int_eq(c->at_kink, 1);
    ck_assert_double_eq_tol(c->kink_low, 0.0, 1e-8);
    ck_assert_double_eq_tol(c->kink_high, 2.0, 1e-8);
    ck_assert_str_eq(c->explanation,
                     "right at a kink: the one-sided derivatives are 0 and 2, "
                     "and any value between them is a subgradient (the chain "
                     "rule takes 0)");
    c = cr_claim_report_entry(r, 1);
    ck_assert_int_eq(c->result, CR_CHECK_FAIL);
    ck_assert_str_eq(
        c->explanation,
        "not 2.5: at a kink the one-sided derivatives are 0 and 2, and only "
        "values between them are right (subgradients; the chain rule takes 0)");
    /* dL/dw = x = 0 from both sides: no kink in w */
    c = cr_claim_report_entry(r, 2);
    ck_assert_int_eq(c->result, CR_CHECK_PASS);
    ck_assert_int_eq(c->at_kink, 0);
    cr_claim_report_free(r);
    const cr_claim abs_claims[] = {{"y", "x", 0, -1.0}, {"y", "x", 0, 0.3}};
    ck_assert_int_eq(cr_check_claims(g, y, abs_claims, 2, 1e-9, 1e-7, &r), CR_OK);
    ck_assert_int_eq(cr_claim_report_entry(r, 0)->at_kink, 1);
    ck_assert_double_eq_tol(cr_claim_report_entry(r, 0)->kink_low, -1.0, 1e-8);
    cr_claim_report_free(r);
    /* away from the kink the claim must match */
    cr_node_set_scalar(x, 0.25);
    ck_assert_int_eq(cr_check_claims(g, y, abs_claims + 1, 1, 1e-9, 1e-7, &r), CR_ECHECK);
    ck_assert_int_eq(cr_claim_report_entry(r, 0)->at_kink, 0);
    ck_assert_str_eq(cr_claim_report_entry(r, 0)->explanation,
                     "it is sign(x) = 1, not 0.3");
    cr_claim_report_free(r);
    cr_graph_free(g);
}
END_TEST

/* A wrong total with no wrong factor claimed: the whole chain through the
 * named nodes is shown, each factor with its formula, never truncated. */
START_TEST(test_claims_chain_shown)
{
    neuron n = neuron_new();
    const cr_claim claims[] = {{"E", "predicted", 0, 0.844352143}, {NULL, "w1", 0, 0.0093}};
    cr_claim_report *r = claims_ok(&n, claims, 2, CR_ECHECK);
    const cr_claim_result *c = cr_claim_report_entry(r, 1);
    ck_assert_uint_eq(c->culprit, (size_t)-1);
    ck_assert_str_eq(
        c->explanation,
        "it is 0.00927609256, not 0.0093; no factor you claimed on its chain is "
        "wrong; the chain rule, through your named statements, gives:\n"
        "    dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = 0.844352143 * "
        "0.109860473 * 0.1 = 0.009276093\n"
        "      dE/dpredicted = predicted-desired = 0.844352143\n"
        "      dpredicted/ds = predicted*(1-predicted) = 0.109860473\n"
        "      ds/dw1 = x1 = 0.1");
    cr_claim_report_free(r);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_claims_tensors_labels_errors)
{
    cr_graph *g = cr_graph_new();
    const size_t shape[1] = {2};
    cr_error err;
    cr_tensor *t = cr_tensor_new_from(1, shape, (const double[]){0.4, -0.9}, &err);
    cr_node *W = cr_param(g, "W", t);
    cr_tensor_free(t);
    cr_node *r1 = cr_relu(g, W); /* unnamed: "relu#1" */
    cr_node *L = cr_sum(g, cr_mul(g, r1, cr_exp(g, W)));
    cr_node_set_name(L, "L");
    double before = cr_node_scalar(L);
    const cr_claim claims[] = {{NULL, "W", 0, 1.4 * exp(0.4)}, {NULL, "W", 1, 0.0}};
    cr_claim_report *r = NULL;
    ck_assert_int_eq(cr_check_claims(g, L, claims, 2, 1e-12, 1e-12, &r), CR_OK);
    ck_assert_str_eq(cr_claim_report_entry(r, 0)->label, "dL/dW[0]");
    ck_assert_str_eq(cr_claim_report_entry(r, 1)->label, "dL/dW[1]");
    cr_claim_report_free(r);
    ck_assert(cr_node_scalar(L) == before);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(W), 0), 0.4);
    /* a node by its label; a non-scalar numerator */
    cr_node *s = cr_sum(g, r1);
    char label[32];
    cr_node_label(s, label, sizeof label);
    const cr_claim by_label[] = {{label, "W", 1, 0.0}};
    ck_assert_int_eq(cr_check_claims(g, L, by_label, 1, 0, 0, &r), CR_OK);
    ck_assert_ptr_eq(cr_claim_report_entry(r, 0)->of, s);
    cr_claim_report_free(r);
    const cr_claim vector_of[] = {{"relu#1", "W", 0, 1.0}};
    ck_assert_int_eq(cr_check_claims(g, L, vector_of, 1, 0, 0, &r), CR_ESHAPE);
    ck_assert_ptr_null(r);
    const cr_claim unknown[] = {{NULL, "V", 0, 1.0}};
    ck_assert_int_eq(cr_check_claims(g, L, unknown, 1, 0, 0, &r), CR_ENOTFOUND);
    ck_assert_str_eq(cr_graph_error(g)->message, "claims: claim 1: no node is called 'V'");
    const cr_claim beyond[] = {{NULL, "W", 2, 1.0}};
    ck_assert_int_eq(cr_check_claims(g, L, beyond, 1, 0, 0, &r), CR_ERANGE);
    ck_assert_str_eq(cr_graph_error(g)->message, "claims: dL/dW: element 2 of a [2] node");
    const cr_claim no_wrt[] = {{NULL, NULL, 0, 1.0}};
    ck_assert_int_eq(cr_check_claims(g, L, no_wrt, 1, 0, 0, &r), CR_EINVAL);
    ck_assert_int_eq(cr_check_claims(g, L, claims, 1, -1, 0, &r), CR_EINVAL);
    ck_assert_int_eq(cr_check_claims(g, NULL, claims, 1, 0, 0, &r), CR_EINVAL);
    ck_assert_int_eq(cr_check_claims(NULL, L, claims, 1, 0, 0, &r), CR_EINVAL);
    ck_assert_int_eq(cr_check_claims(g, L, claims, 1, 0, 0, NULL), CR_EINVAL);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_claims_allocation_failures)
{
    /* a wrong total with its wrong factor, and one shown with its chain */
    const cr_claim sets[2][2] = {{{"predicted", "s", 0, STUDENT_FACTOR},
                                  {NULL, "w1", 0, 0.844352143 * STUDENT_FACTOR * 0.1}},
                                 {{"s", "w1", 0, 0.1}, {NULL, "w1", 0, 0.0093}}};
    for (int set = 0; set < 2; set++) {
        for (size_t k = 1;; k++) {
            test_alloc_install(0);
            neuron n = neuron_new();
            test_alloc.fail_at = test_alloc.allocations + k;
            cr_claim_report *r = NULL;
            cr_status st = cr_check_claims(n.g, n.E, sets[set], 2, 1e-9, 1e-7, &r);
            size_t failures = test_alloc.failures;
            ck_assert_int_eq(st, failures ? CR_ENOMEM : CR_ECHECK);
            if (!failures)
                ck_assert_uint_eq(cr_claim_report_entry(r, 1)->culprit,
                                  set == 0 ? 0 : (size_t)-1);
            cr_claim_report_free(r);
            cr_graph_free(n.g);
            ck_assert_int_eq(test_alloc.live, 0);
            test_alloc_uninstall();
            if (!failures)
                break;
        }
    }
}
END_TEST

Suite *gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("op table");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_every_op_passes, 0, (int)cr_builtin_op_count);
    suite_add_tcase(s, tc);
    tc = tcase_create("check");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_report_contents);
    tcase_add_test(tc, test_values_restored);
    tcase_add_test(tc, test_kink_relu_at_zero);
    tcase_add_test(tc, test_kink_abs_named);
    tcase_add_test(tc, test_kink_bce_clamp);
    tcase_add_test(tc, test_second_order_cube);
    tcase_add_test(tc, test_second_order_mixed);
    tcase_add_test(tc, test_second_order_kink);
    tcase_add_test(tc, test_max_elements);
    tcase_add_test(tc, test_defaults_and_bad_options);
    tcase_add_test(tc, test_argument_errors);
    tcase_add_test(tc, test_fast_mode);
    tcase_add_test(tc, test_tolerances);
    tcase_add_test(tc, test_gsl_handler_untouched);
    tcase_add_test(tc, test_allocation_failures);
    suite_add_tcase(s, tc);
    tc = tcase_create("claims");
    tcase_add_test(tc, test_claims_article);
    tcase_add_test(tc, test_claims_wrong_sigmoid_factor);
    tcase_add_test(tc, test_claims_chain_shown);
    tcase_add_test(tc, test_claims_at_kink);
    tcase_add_test(tc, test_claims_tensors_labels_errors);
    tcase_add_test(tc, test_claims_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}
