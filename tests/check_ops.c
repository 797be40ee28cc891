/*
 * check_ops.c - the op-table tests: a loop test over cr_builtin_ops checks
 * every op's gradient (first order against central finite differences, and
 * second order: a Hessian-vector product built with cr_grad twice against
 * finite differences of the first gradient) on random inputs of several
 * shapes, including broadcasting; a coverage test fails when an op of the
 * table has no case here. Also forward values of the ops against direct
 * computation.
 */
#include "core/internal.h"
#include "testutil.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_IN 5
#define FD_TOL 1e-6

/* How to draw an input: uniform in [lo, hi]; AWAY draws the magnitude in
 * [lo, hi] with a random sign (keeps kinks at 0 out of reach of the
 * finite-difference step); INDEX draws whole numbers in lo..hi for an input
 * that asks for no gradient and is not checked (indices); FLAG draws 0 or 1
 * (where's condition). */
enum { PLAIN = 0, AWAY = 1, INDEX = 2, FLAG = 3 };

typedef struct in_spec {
    int rank;
    size_t shape[CR_MAX_RANK];
    double lo, hi;
    int draw;
} in_spec;

typedef cr_node *(*build_fn)(cr_graph *g, cr_node *const *in, double arg);

typedef struct op_case {
    const char *op;     /* the op name in cr_builtin_ops */
    build_fn build;     /* builds the op from the inputs */
    double arg;         /* scale factor, exponent, axis ... */
    unsigned zero_mask; /* bit i: the true derivative w.r.t. input i is zero */
    int n_in;
    in_spec in[MAX_IN];
} op_case;

/* ---- builders ---- */

/* One line per builder, read as a table: b_NAME(g, in, c) returns EXPR. */
#define BUILDER(NAME, ...)                                                                 \
    static cr_node *b_##NAME(cr_graph *g, cr_node *const *in, double c)                    \
    {                                                                                      \
        return __VA_ARGS__;                                                                \
    }
// clang-format off

BUILDER(add, cr_add(g, in[0], in[1]))
BUILDER(sub, cr_sub(g, in[0], in[1]))
BUILDER(mul, cr_mul(g, in[0], in[1]))
BUILDER(div, cr_div(g, in[0], in[1]))
BUILDER(pow, cr_pow(g, in[0], in[1]))
BUILDER(neg, cr_neg(g, in[0]))
BUILDER(scale, cr_scale(g, in[0], c))
BUILDER(powc, cr_powc(g, in[0], c))
BUILDER(exp, cr_exp(g, in[0]))
BUILDER(log, cr_log(g, in[0]))
BUILDER(sqrt, cr_sqrt(g, in[0]))
BUILDER(abs, cr_abs(g, in[0]))
BUILDER(sin, cr_sin(g, in[0]))
BUILDER(cos, cr_cos(g, in[0]))
BUILDER(tanh, cr_tanh(g, in[0]))
BUILDER(sigmoid, cr_sigmoid(g, in[0]))
BUILDER(relu, cr_relu(g, in[0]))
BUILDER(softplus, cr_softplus(g, in[0]))
BUILDER(square, cr_square(g, in[0]))
BUILDER(log1p, cr_log1p(g, in[0]))
BUILDER(erf, cr_erf(g, in[0]))
BUILDER(leaky_relu, cr_leaky_relu(g, in[0], c))
BUILDER(elu, cr_elu(g, in[0], c))
BUILDER(gelu, cr_gelu(g, in[0]))
BUILDER(silu, cr_silu(g, in[0]))
BUILDER(detach, cr_detach(g, in[0]))
BUILDER(maximum, cr_maximum(g, in[0], in[1]))
BUILDER(minimum, cr_minimum(g, in[0], in[1]))
BUILDER(clamp, cr_clamp(g, in[0], -0.5, c))
BUILDER(where, cr_where(g, in[0], in[1], in[2]))
BUILDER(gt, cr_gt(g, in[0], in[1]))
BUILDER(ge, cr_ge(g, in[0], in[1]))
BUILDER(lt, cr_lt(g, in[0], in[1]))
BUILDER(le, cr_le(g, in[0], in[1]))
BUILDER(eq, cr_eq(g, in[0], in[1]))
BUILDER(sum, cr_sum(g, in[0]))
BUILDER(mean, cr_mean(g, in[0]))
BUILDER(sum_axis, cr_sum_axis(g, in[0], (int)c))
BUILDER(mean_axis, cr_mean_axis(g, in[0], (int)c))
/* reductions: over all elements, along axis c, along axis c keeping it */
#define REDUCE_BUILDERS(NAME)                                                              \
    BUILDER(NAME, cr_##NAME(g, in[0]))                                                     \
    BUILDER(NAME##_dim, cr_##NAME##_dim(g, in[0], (int)c, 0))                              \
    BUILDER(NAME##_keep, cr_##NAME##_dim(g, in[0], (int)c, 1))
REDUCE_BUILDERS(max)
REDUCE_BUILDERS(min)
REDUCE_BUILDERS(logsumexp)
REDUCE_BUILDERS(argmax)
BUILDER(sum_keep, cr_sum_dim(g, in[0], (int)c, 1))
BUILDER(mean_keep, cr_mean_dim(g, in[0], (int)c, 1))
BUILDER(matmul, cr_matmul(g, in[0], in[1], (unsigned)c))
BUILDER(transpose, cr_transpose(g, in[0]))
BUILDER(flatten, cr_flatten(g, in[0], (int)c))
BUILDER(pad_2_1, cr_pad(g, in[0], (int)c, 2, 1))
BUILDER(pad_0_2, cr_pad(g, in[0], (int)c, 0, 2))
BUILDER(concat2, cr_concat(g, 2, in, (int)c))
BUILDER(concat3, cr_concat(g, 3, in, (int)c))
BUILDER(stack2, cr_stack(g, 2, in, (int)c))
BUILDER(stack3, cr_stack(g, 3, in, (int)c))
BUILDER(index_select, cr_index_select(g, in[0], (int)c, in[1]))

/* reshape to the shape number c of this table */
static cr_node *b_reshape(cr_graph *g, cr_node *const *in, double c)
{
    static const long shapes[][CR_MAX_RANK] = {{4, -1}, {3, 2}, {1, 1}, {-1}, {2, 1, 3, 2}};
    static const int ranks[] = {2, 2, 2, 1, 4};
    return cr_reshape(g, in[0], ranks[(int)c], shapes[(int)c]);
}
/* permute by the axes number c of this table (rank 3, 2, 4) */
static cr_node *b_permute(cr_graph *g, cr_node *const *in, double c)
{
    static const int axes[][CR_MAX_RANK] = {{2, 0, 1}, {1, 0}, {-1, 1, 0, 2}, {0, -1, 1}};
    static const int n[] = {3, 2, 4, 3};
    return cr_permute(g, in[0], n[(int)c], axes[(int)c]);
}
/* slice number c of this table: {axis, start, stop, step} */
static cr_node *b_slice(cr_graph *g, cr_node *const *in, double c)
{
    static const long s[][4] = {{0, 1, 4, 1},    {1, -3, LONG_MAX, 2}, {0, 0, 3, 2},
                                {-2, -5, -1, 2}, {1, 1, 2, 1},         {0, -100, 100, 3}};
    const long *v = s[(int)c];
    return cr_slice(g, in[0], (int)v[0], v[1], v[2], v[3]);
}
/* index_add (internal: index_select's vjp) of dy in[0] by indices in[1]
 * along axis 0 into [4,3] (c = 0) or along axis 1 into [2,5,2] (c = 1) */
static cr_node *b_index_add(cr_graph *g, cr_node *const *in, double c)
{
    static const size_t shapes[2][3] = {{4, 3}, {2, 5, 2}};
    cr_node_args args = {.i = {(int)c}};
    return cr_node_create_shaped(g, cr_op_find("index_add"), in, 2, &args, 2 + (int)c,
                                 shapes[(int)c]);
}
BUILDER(sq_error, cr_sq_error(g, in[0], in[1]))
BUILDER(mse, cr_mse(g, in[0], in[1]))
BUILDER(softmax, cr_softmax(g, in[0]))
BUILDER(softmax_xent, cr_softmax_xent(g, in[0], in[1]))
BUILDER(bce, cr_bce(g, in[0], in[1]))
BUILDER(bce_logits, cr_bce_logits(g, in[0], in[1]))

/* sop of c pairs (inputs x1, w1, x2, w2, ...); c = pairs + 0.5 adds the
 * input after the pairs as the bias. */
static cr_node *b_sop(cr_graph *g, cr_node *const *in, double c)
{
    size_t pairs = (size_t)c;
    cr_node *xs[4], *ws[4];
    for (size_t p = 0; p < pairs; p++) {
        xs[p] = in[2 * p];
        ws[p] = in[2 * p + 1];
    }
    return cr_sop(g, pairs, xs, ws, c - (double)pairs > 0.25 ? in[2 * pairs] : NULL);
}

/* Internal helper ops, built as the backward driver builds them. */
static cr_node *b_internal(cr_graph *g, const char *name, cr_node *const *in, size_t n)
{
    const cr_op *op = cr_op_find(name);
    ck_assert_ptr_nonnull(op);
    return cr_node_create(g, op, in, n, NULL);
}
BUILDER(sigmoid_bwd, b_internal(g, "sigmoid_bwd", in, 2))
BUILDER(tanh_bwd, b_internal(g, "tanh_bwd", in, 2))
BUILDER(relu_bwd, b_internal(g, "relu_bwd", in, 2))
BUILDER(add_n, cr_add_n(g, (size_t)c, in))
BUILDER(log_softmax, b_internal(g, "log_softmax", in, 1))
BUILDER(sign, b_internal(g, "sign", in, 1))
BUILDER(clamp_prob, b_internal(g, "clamp_prob", in, 1))
BUILDER(softmax_bwd, b_internal(g, "softmax_bwd", in, 2))
BUILDER(softmax_xent_bwd, b_internal(g, "softmax_xent_bwd", in, 3))
/* leaky_relu_bwd(x, dy) with the slope c */
static cr_node *b_leaky_relu_bwd(cr_graph *g, cr_node *const *in, double c)
{
    cr_node_args args = {.f = c};
    return cr_node_create(g, cr_op_find("leaky_relu_bwd"), in, 2, &args);
}

/* the mask max's gradient goes through: x against its max along axis c */
static cr_node *b_select_mask(cr_graph *g, cr_node *const *in, double c)
{
    cr_node *m = cr_max_dim(g, in[0], (int)c, 0);
    cr_node *pair[2] = {in[0], m};
    return m ? cr_node_create_shaped(g, cr_op_find("select_mask"), pair, 2, m->args,
                                     cr_tensor_rank(cr_node_value(in[0])),
                                     cr_tensor_shape(cr_node_value(in[0])))
             : NULL;
}

/* expand along axis c of the output [2,3] (the input lacks that axis). */
static cr_node *b_expand_axis(cr_graph *g, cr_node *const *in, double c)
{
    static const size_t shape[2] = {2, 3};
    int axis = (int)c;
    return cr_expand_axis(g, in[0], axis, shape[axis], 2, shape);
}
/* expand with a factor: x [3] repeated 4 times as [4,3], times 0.37 */
static cr_node *b_expand_scaled(cr_graph *g, cr_node *const *in, double c)
{
    const size_t shape[2] = {4, 3};
    cr_node_args args = {.i = {1, 4, 3}, .f = 0.37};
    return cr_node_create_shaped(g, cr_op_find("expand"), in, 1, &args, 2, shape);
}
/* the internal sum used to reduce broadcast gradients: [3,4] -> [4] */
static cr_node *b_sum_to_shape(cr_graph *g, cr_node *const *in, double c)
{
    const size_t shape[1] = {4};
    return cr_sum_to_shape(g, in[0], 1, shape);
}

// clang-format on

/* ---- neural-network ops ---- */

/* Convolution settings by index (the case's arg): the shapes of x and w,
 * stride, padding, dilation, groups, and whether input 2 is the bias. */
typedef struct conv_setting {
    int rank;
    size_t x[4], w[4], stride[2], padding[2], dilation[2], groups;
    int bias;
} conv_setting;
// clang-format off
static const conv_setting conv_settings[] = {
    /* 0: 3x3, padding 1, two samples: y [2,2,3,3] */
    {4, {2, 2, 3, 3}, {2, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, 1},
    /* 1: strides, padding and dilation differing by axis: y [1,2,3,1] */
    {4, {1, 2, 5, 5}, {2, 2, 2, 3}, {2, 1}, {1, 0}, {1, 2}, 1, 1},
    /* 2: two groups, no bias: y [1,4,2,3] */
    {4, {1, 4, 3, 4}, {4, 2, 2, 2}, {1, 1}, {0, 0}, {1, 1}, 2, 0},
    /* 3: a 1x1 kernel (no im2col): y [2,2,3,3] */
    {4, {2, 3, 3, 3}, {2, 3, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, 1},
    /* 4: depthwise with stride, padding and dilation 2: y [1,2,3,3] */
    {4, {1, 2, 5, 5}, {2, 1, 3, 3}, {2, 2}, {2, 2}, {2, 2}, 2, 0},
    /* 5: 1-D, padding 1: y [2,4,7] */
    {3, {2, 3, 7}, {4, 3, 3}, {1, 1}, {0, 1}, {1, 1}, 1, 1},
    /* 6: 1-D, groups, stride, dilation: y [1,2,4] */
    {3, {1, 4, 9}, {2, 2, 3}, {1, 2}, {0, 1}, {1, 2}, 2, 0},
    /* 7: 1-D, a 1x1 kernel: y [2,3,5] */
    {3, {2, 2, 5}, {3, 2, 1}, {1, 1}, {0, 0}, {1, 1}, 1, 0},
};
// clang-format on

static cr_node *conv_of(cr_graph *g, cr_node *x, cr_node *w, cr_node *b,
                        const conv_setting *s)
{
    if (s->rank == 4)
        return cr_conv2d(g, x, w, b, s->stride, s->padding, s->dilation, s->groups);
    return cr_conv1d(g, x, w, b, s->stride[1], s->padding[1], s->dilation[1], s->groups);
}

static cr_node *b_conv(cr_graph *g, cr_node *const *in, double c)
{
    const conv_setting *s = &conv_settings[(int)c];
    return conv_of(g, in[0], in[1], s->bias ? in[2] : NULL, s);
}

/* The backward helpers, with the parameters of a convolution of x by w;
 * a zero constant stands in for the one not among the inputs (of the
 * setting's shape). */
static cr_node *b_conv_helper(cr_graph *g, cr_node *const *in, double c, int weights)
{
    const conv_setting *s = &conv_settings[(int)c];
    cr_node *zero = cr_constant_fill(g, s->rank, weights ? s->w : s->x, 0.0);
    cr_node *y =
        weights ? conv_of(g, in[0], zero, NULL, s) : conv_of(g, zero, in[1], NULL, s);
    ck_assert_ptr_nonnull(y);
    if (weights)
        return cr_conv_weight_grad(g, in[0], in[1], y->args, &zero->value);
    return cr_conv_input_grad(g, in[0], in[1], y->args, &zero->value);
}
BUILDER(conv_input_grad, b_conv_helper(g, in, c, 0))
BUILDER(conv_weight_grad, b_conv_helper(g, in, c, 1))

/* Pooling settings by index: 1-D or 2-D, x's shape, kernel, stride (0:
 * the kernel's), padding. */
typedef struct pool_setting {
    int dims, rank;
    size_t x[4], kernel[2], stride[2], padding[2];
} pool_setting;
// clang-format off
static const pool_setting pool_settings[] = {
    {2, 4, {2, 2, 4, 4}, {2, 2}, {2, 2}, {0, 0}}, /* 0: 2x2, stride 2: y [2,2,2,2] */
    {2, 4, {1, 2, 5, 5}, {3, 3}, {2, 1}, {1, 1}}, /* 1: overlapping, padded: y [1,2,3,5] */
    {2, 4, {1, 1, 4, 5}, {2, 3}, {1, 2}, {1, 1}}, /* 2: uneven kernel: y [1,1,5,3] */
    {2, 3, {3, 4, 4}, {2, 2}, {0, 0}, {0, 0}},    /* 3: [C,H,W], stride = kernel: [3,2,2] */
    {1, 3, {2, 3, 6}, {1, 2}, {1, 0}, {0, 0}},    /* 4: 1-D, stride = kernel: y [2,3,3] */
    {1, 3, {2, 2, 7}, {1, 3}, {1, 2}, {0, 1}},    /* 5: 1-D, padded: y [2,2,4] */
    {1, 2, {3, 5}, {1, 2}, {1, 1}, {0, 1}},       /* 6: [C,L], stride 1: y [3,6] */
};
// clang-format on

static cr_node *pool_of(cr_graph *g, cr_node *x, int max, const pool_setting *s)
{
    if (s->dims == 2)
        return max ? cr_max_pool2d(g, x, s->kernel, s->stride, s->padding)
                   : cr_avg_pool2d(g, x, s->kernel, s->stride, s->padding);
    return max ? cr_max_pool1d(g, x, s->kernel[1], s->stride[1], s->padding[1])
               : cr_avg_pool1d(g, x, s->kernel[1], s->stride[1], s->padding[1]);
}
BUILDER(max_pool, pool_of(g, in[0], 1, &pool_settings[(int)c]))
BUILDER(avg_pool, pool_of(g, in[0], 0, &pool_settings[(int)c]))

/* The pooling helpers: 0 max_pool_scatter(max_pool(x), dy), 1
 * max_pool_gather(max_pool(x), u), 2 avg_pool_bwd(dy) with the parameters
 * of an avg_pool of the setting's x. */
static cr_node *b_pool_helper(cr_graph *g, cr_node *const *in, double c, int which)
{
    const pool_setting *s = &pool_settings[(int)c];
    cr_node *x = which == 2 ? cr_constant_fill(g, s->rank, s->x, 0.0) : in[0];
    cr_node *pool = pool_of(g, x, which < 2, s);
    ck_assert_ptr_nonnull(pool);
    static const char *const names[3] = {"max_pool_scatter", "max_pool_gather",
                                         "avg_pool_bwd"};
    const cr_tensor *out = which == 1 ? cr_node_value(pool) : cr_node_value(x);
    cr_node *pair[2] = {pool, in[1]};
    return cr_node_create_shaped(g, cr_op_find(names[which]), which == 2 ? in : pair,
                                 which == 2 ? 1 : 2, pool->args, out->rank, out->shape);
}
BUILDER(max_pool_scatter, b_pool_helper(g, in, c, 0))
BUILDER(max_pool_gather, b_pool_helper(g, in, c, 1))
BUILDER(avg_pool_bwd, b_pool_helper(g, in, c, 2))

/* dropout(x, p) with p = c in training mode, p = -c in evaluation mode;
 * the mask-applying form dropout(dy, source) of its vjp (source made from
 * input 1 with p = 0.4, in evaluation mode). */
static cr_node *b_dropout(cr_graph *g, cr_node *const *in, double c)
{
    cr_graph_set_training(g, c >= 0);
    return cr_dropout(g, in[0], fabs(c));
}
static cr_node *b_dropout_apply(cr_graph *g, cr_node *const *in, double c)
{
    cr_graph_set_training(g, 0);
    cr_node *source = cr_dropout(g, in[1], 0.4);
    ck_assert_ptr_nonnull(source);
    cr_node *pair[2] = {in[0], source};
    return cr_node_create(g, source->op, pair, 2, source->args);
}

/* Normalisation. layer_norm over the last c axes; with a gain and a bias
 * (inputs 1 and 2), only a gain (c = 1.5: one axis) or only a bias
 * (c = 1.25). */
BUILDER(layer_norm, cr_layer_norm(g, in[0], (int)c, NULL, NULL, CR_NORM_EPS))
static cr_node *b_layer_norm_affine(cr_graph *g, cr_node *const *in, double c)
{
    if (c == 1.5)
        return cr_layer_norm(g, in[0], 1, in[1], NULL, CR_NORM_EPS);
    if (c == 1.25)
        return cr_layer_norm(g, in[0], 1, NULL, in[1], CR_NORM_EPS);
    return cr_layer_norm(g, in[0], (int)c, in[1], in[2], 0.01);
}
/* Running statistics for three channels, loaded into batch norm n and the
 * graph switched to evaluation mode. */
static void evaluate_with_stats(cr_graph *g, cr_node *n)
{
    const size_t shape[2] = {2, 3};
    const double stats[6] = {0.3, -0.2, 0.1, 1.5, 0.7, 2.0};
    cr_tensor *t = cr_tensor_new_from(2, shape, stats, NULL);
    ck_assert_int_eq(cr_node_set_state(n, t), CR_OK);
    cr_tensor_free(t);
    cr_graph_set_training(g, 0);
    ck_assert_int_eq(cr_graph_forward(g, n), CR_OK);
}
/* batch_norm with a gain and a bias when given (c = 1: inputs 1 and 2),
 * in evaluation mode with loaded statistics when c = 2 (three channels). */
static cr_node *b_batch_norm(cr_graph *g, cr_node *const *in, double c)
{
    cr_node *n = cr_batch_norm(g, in[0], c > 0 ? in[1] : NULL, c > 0 ? in[2] : NULL,
                               CR_BATCH_NORM_MOMENTUM, CR_NORM_EPS);
    if (n && c == 2)
        evaluate_with_stats(g, n);
    return n;
}
/* norm_bwd(x, u, norm(x)) of layer norm over the last axis (c = 0), of
 * batch norm (c = 1), of batch norm evaluating (c = 2); norm_gain_grad(x,
 * dy, norm(x, gain)) of layer norm (c = 0) or batch norm (c = 1). */
static cr_node *norm_of(cr_graph *g, cr_node *x, double c, cr_node *gain)
{
    cr_node *n = c == 0 ? cr_layer_norm(g, x, 1, gain, NULL, CR_NORM_EPS)
                        : cr_batch_norm(g, x, gain, NULL, 0.1, CR_NORM_EPS);
    ck_assert_ptr_nonnull(n);
    if (c == 2)
        evaluate_with_stats(g, n);
    return n;
}
static cr_node *b_norm_helper(cr_graph *g, cr_node *const *in, double c, const char *op)
{
    const cr_tensor *x = cr_node_value(in[0]);
    const size_t d = x->shape[c == 0 ? x->rank - 1 : 1];
    cr_node *gain = cr_constant_fill(g, 1, &d, 1.5);
    cr_node *n = norm_of(g, in[0], c, gain);
    cr_node *three[3] = {in[0], in[1], n};
    const cr_tensor *out = strcmp(op, "norm_bwd") == 0 ? x : cr_node_value(gain);
    return cr_node_create_shaped(g, cr_op_find(op), three, 3, n->args, out->rank,
                                 out->shape);
}
BUILDER(norm_bwd, b_norm_helper(g, in, c, "norm_bwd"))
/* norm_bwd(x, u, norm(x, gamma), gamma), the gain an input too */
static cr_node *b_norm_bwd_gain(cr_graph *g, cr_node *const *in, double c)
{
    cr_node *n = norm_of(g, in[0], c, in[2]);
    cr_node *four[4] = {in[0], in[1], n, in[2]};
    const cr_tensor *x = cr_node_value(in[0]);
    return cr_node_create_shaped(g, cr_op_find("norm_bwd"), four, 4, n->args, x->rank,
                                 x->shape);
}
BUILDER(norm_gain_grad, b_norm_helper(g, in, c, "norm_gain_grad"))
/* training_only(t, norm) with a batch norm in training (c = 1) or
 * evaluation (c = 0) mode */
static cr_node *b_training_only(cr_graph *g, cr_node *const *in, double c)
{
    const size_t s43[2] = {4, 3};
    cr_node *n = norm_of(g, cr_constant_fill(g, 2, s43, 0.5), c ? 1 : 2, NULL);
    cr_node *pair[2] = {in[0], n};
    return b_internal(g, "training_only", pair, 2);
}

/* Softmax and the losses along an axis (arg: the axis); the backward
 * helpers with the view of a softmax along it. */
BUILDER(softmax_axis, cr_softmax_axis(g, in[0], (int)c))
BUILDER(log_softmax_axis, cr_log_softmax(g, in[0], (int)c))
BUILDER(softmax_xent_axis, cr_softmax_xent_axis(g, in[0], in[1], (int)c))
static cr_node *b_softmax_helper_axis(cr_graph *g, cr_node *const *in, double c,
                                      const char *op, size_t n)
{
    cr_node *view = cr_softmax_axis(g, in[0], (int)c);
    ck_assert_ptr_nonnull(view);
    return cr_node_create(g, cr_op_find(op), in, n, view->args);
}
BUILDER(softmax_bwd_axis, b_softmax_helper_axis(g, in, c, "softmax_bwd", 2))
BUILDER(softmax_xent_bwd_axis, b_softmax_helper_axis(g, in, c, "softmax_xent_bwd", 3))

/* Class indices for the cross-entropy cases, by the logits' shape: [3,4]
 * -> [3], [2,3,2] -> [2,2], [5] -> a scalar. */
static cr_node *classes_for(cr_graph *g, const cr_tensor *z)
{
    static const double c34[3] = {2, 0, 3}, c232[4] = {0, 2, 1, 1}, c5[1] = {3};
    const size_t s3[1] = {3}, s22[2] = {2, 2};
    cr_tensor *t = z->rank == 2   ? cr_tensor_new_from(1, s3, c34, NULL)
                   : z->rank == 3 ? cr_tensor_new_from(2, s22, c232, NULL)
                                  : cr_tensor_new_from(0, NULL, c5, NULL);
    cr_node *n = cr_constant(g, t);
    cr_tensor_free(t);
    return n;
}
static cr_node *b_cross_entropy(cr_graph *g, cr_node *const *in, double c)
{
    return cr_cross_entropy(g, in[0], classes_for(g, cr_node_value(in[0])));
}
/* cross_entropy_bwd(z, classes, dE) for inputs z and dE */
static cr_node *b_cross_entropy_bwd(cr_graph *g, cr_node *const *in, double c)
{
    cr_node *ce = b_cross_entropy(g, in, c);
    ck_assert_ptr_nonnull(ce);
    cr_node *three[3] = {in[0], ce->inputs[1], in[1]};
    return cr_node_create(g, cr_op_find("cross_entropy_bwd"), three, 3, ce->args);
}
BUILDER(huber, cr_huber(g, in[0], in[1], c))

/* channel ops over the view [2,3,4] of a [2,3,4] tensor or [3] */
static cr_node *b_channel_sum(cr_graph *g, cr_node *const *in, double c)
{
    const size_t shape[1] = {3};
    return cr_channel_sum(g, in[0], 2, 3, 4, c, 1, shape);
}
static cr_node *b_channel_expand(cr_graph *g, cr_node *const *in, double c)
{
    const size_t shape[3] = {2, 3, 2};
    return cr_channel_expand(g, in[0], 2, 3, 2, c, 3, shape);
}
static cr_node *b_channel_scale(cr_graph *g, cr_node *const *in, double c)
{
    return cr_channel_scale(g, in[0], in[1], 2, 3, 4);
}

/* ---- the case table ---- */

// clang-format off

/* Input specs: {rank, {dims}, lo, hi, draw}. */
#define SPEC(R, DRAW, LO, HI, ...)                                                         \
    {.rank = R, .shape = {__VA_ARGS__}, .lo = LO, .hi = HI, .draw = DRAW}
#define SC(LO, HI) SPEC(0, PLAIN, LO, HI, 0)
#define V(N, LO, HI) SPEC(1, PLAIN, LO, HI, N)
#define M(R, C, LO, HI) SPEC(2, PLAIN, LO, HI, R, C)
#define T3(A, B, C, LO, HI) SPEC(3, PLAIN, LO, HI, A, B, C)
#define IDX(N, HI) SPEC(1, INDEX, 0, HI, N)
#define IDX2(R, C, HI) SPEC(2, INDEX, 0, HI, R, C)
#define T3A(A, B, C, LO, HI) SPEC(3, AWAY, LO, HI, A, B, C)
#define MF(R, C) SPEC(2, FLAG, 0, 1, R, C)
#define VF(N) SPEC(1, FLAG, 0, 1, N)
#define SCA(LO, HI) SPEC(0, AWAY, LO, HI, 0)
#define VA(N, LO, HI) SPEC(1, AWAY, LO, HI, N)
#define MA(R, C, LO, HI) SPEC(2, AWAY, LO, HI, R, C)
#define CASE(OP, BUILD, ARG, MASK, N, ...)                                                 \
    {.op = OP, .build = BUILD, .arg = ARG, .zero_mask = MASK, .n_in = N,                   \
     .in = {__VA_ARGS__}}

/* Binary broadcasting ops get the same six layouts (same shape, row vector, scalar, each way round). */
#define BINARY_CASES_M(NAME, MASK, ALO, AHI, BLO, BHI)                                     \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 4, ALO, AHI), M(3, 4, BLO, BHI)),               \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 4, ALO, AHI), V(4, BLO, BHI)),                  \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 4, ALO, AHI), SC(BLO, BHI)),                    \
    CASE(#NAME, b_##NAME, 0, MASK, 2, SC(ALO, AHI), V(5, BLO, BHI)),                       \
    CASE(#NAME, b_##NAME, 0, MASK, 2, V(4, ALO, AHI), M(3, 4, BLO, BHI)),                  \
    CASE(#NAME, b_##NAME, 0, MASK, 2, SC(ALO, AHI), SC(BLO, BHI))

/* NumPy's broadcasts beyond the blocks above: a column [3,1] over [3,4],
 * an outer [3,1] x [1,4], a matrix over a batch, stretched axes inside and
 * on both sides. */
#define T4(A, B, C, D, LO, HI) SPEC(4, PLAIN, LO, HI, A, B, C, D)
#define BROADCAST_CASES_M(NAME, MASK, ALO, AHI, BLO, BHI)                                  \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 4, ALO, AHI), M(3, 1, BLO, BHI)),               \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 1, ALO, AHI), M(3, 4, BLO, BHI)),               \
    CASE(#NAME, b_##NAME, 0, MASK, 2, M(3, 1, ALO, AHI), M(1, 4, BLO, BHI)),               \
    CASE(#NAME, b_##NAME, 0, MASK, 2, T3(2, 3, 4, ALO, AHI), M(3, 1, BLO, BHI)),           \
    CASE(#NAME, b_##NAME, 0, MASK, 2, T3(2, 1, 4, ALO, AHI), M(3, 4, BLO, BHI)),           \
    CASE(#NAME, b_##NAME, 0, MASK, 2, T3(2, 3, 1, ALO, AHI), T3(2, 1, 4, BLO, BHI)),       \
    CASE(#NAME, b_##NAME, 0, MASK, 2, T4(2, 1, 3, 1, ALO, AHI), T3(2, 1, 2, BLO, BHI))

#define BINARY_CASES(NAME, ALO, AHI, BLO, BHI) BINARY_CASES_M(NAME, 0, ALO, AHI, BLO, BHI)
#define BROADCAST_CASES(NAME, ALO, AHI, BLO, BHI)                                          \
    BROADCAST_CASES_M(NAME, 0, ALO, AHI, BLO, BHI)

/* maximum and minimum: the broadcasts, a scalar against a mix of smaller
 * and larger elements, and two scalars apart (LOSER: the mask of the one
 * that gets no gradient, b for maximum). */
#define MAXMIN_CASES(NAME, LOSER)                                                          \
    CASE(#NAME, b_##NAME, 0, 0, 2, M(3, 4, -2, 2), M(3, 4, -2, 2)),                        \
    CASE(#NAME, b_##NAME, 0, 0, 2, M(3, 4, -2, 2), V(4, -2, 2)),                           \
    CASE(#NAME, b_##NAME, 0, 0, 2, M(3, 4, -2, 2), SC(-0.3, 0.3)),                         \
    CASE(#NAME, b_##NAME, 0, 0, 2, SC(-0.3, 0.3), V(5, -2, 2)),                            \
    CASE(#NAME, b_##NAME, 0, LOSER, 2, SC(1, 2), SC(-2, -1)),                              \
    BROADCAST_CASES(NAME, -2, 2, -2, 2)

/* A reduction over all elements, along each kind of axis (negative ones
 * too), keeping it. */
#define REDUCE_CASES(NAME, MASK)                                                           \
    CASE(#NAME, b_##NAME, 0, MASK, 1, M(3, 4, -2, 2)),                                     \
    CASE(#NAME, b_##NAME, 0, MASK, 1, SC(-2, 2)),                                          \
    CASE(#NAME, b_##NAME, 0, MASK, 1, T3(2, 3, 2, -2, 2)),                                 \
    CASE(#NAME, b_##NAME##_dim, 0, MASK, 1, M(3, 4, -2, 2)),                               \
    CASE(#NAME, b_##NAME##_dim, 1, MASK, 1, M(3, 4, -2, 2)),                               \
    CASE(#NAME, b_##NAME##_dim, -2, MASK, 1, T3(2, 3, 4, -2, 2)),                          \
    CASE(#NAME, b_##NAME##_dim, 0, MASK, 1, V(5, -2, 2)),                                  \
    CASE(#NAME, b_##NAME##_keep, 2, MASK, 1, T3(2, 3, 4, -2, 2)),                          \
    CASE(#NAME, b_##NAME##_keep, -1, MASK, 1, M(3, 4, -2, 2)),                             \
    CASE(#NAME, b_##NAME##_keep, 1, MASK, 1, T4(2, 3, 2, 2, -2, 2))

/* Unary ops: a scalar, a vector, a matrix and a rank-3 tensor. */
#define UNARY_CASES(NAME, ARG, LO, HI, MASK)                                               \
    CASE(#NAME, b_##NAME, ARG, MASK, 1, SC(LO, HI)),                                       \
    CASE(#NAME, b_##NAME, ARG, MASK, 1, V(5, LO, HI)),                                     \
    CASE(#NAME, b_##NAME, ARG, MASK, 1, M(3, 4, LO, HI)),                                  \
    CASE(#NAME, b_##NAME, ARG, MASK, 1, T3(2, 3, 2, LO, HI))
#define UNARY_CASES_AWAY(NAME, LO, HI, MASK)                                               \
    CASE(#NAME, b_##NAME, 0, MASK, 1, SCA(LO, HI)),                                        \
    CASE(#NAME, b_##NAME, 0, MASK, 1, VA(5, LO, HI)),                                      \
    CASE(#NAME, b_##NAME, 0, MASK, 1, MA(3, 4, LO, HI))

static const op_case cases[] = {
    BINARY_CASES(add, -2, 2, -2, 2),
    BROADCAST_CASES(add, -2, 2, -2, 2),
    /* add_n (internal: sums gradient contributions; arg: input count) */
    CASE("add_n", b_add_n, 3, 0, 3, M(3, 4, -2, 2), M(3, 4, -2, 2), M(3, 4, -2, 2)),
    CASE("add_n", b_add_n, 2, 0, 2, SC(-2, 2), SC(-2, 2)),
    CASE("add_n", b_add_n, 4, 0, 4, V(5, -2, 2), V(5, -2, 2), V(5, -2, 2), V(5, -2, 2)),
    BINARY_CASES(sub, -2, 2, -2, 2),
    BROADCAST_CASES(sub, -2, 2, -2, 2),
    BINARY_CASES(mul, -2, 2, -2, 2),
    BROADCAST_CASES(mul, -2, 2, -2, 2),
    BINARY_CASES(div, -2, 2, 0.5, 2),
    BROADCAST_CASES(div, -2, 2, 0.5, 2),
    BINARY_CASES(pow, 0.5, 2, -1.5, 2),
    BROADCAST_CASES(pow, 0.5, 2, -1.5, 2),
    UNARY_CASES(neg, 0, -2, 2, 0),
    UNARY_CASES(scale, -1.7, -2, 2, 0),
    UNARY_CASES(powc, 2.5, 0.3, 2, 0),
    UNARY_CASES(powc, 3.0, -2, 2, 0),
    CASE("powc", b_powc, 1.0, 0, 1, M(3, 4, -2, 2)),
    CASE("powc", b_powc, 0.0, 1u, 1, M(3, 4, 0.3, 2)),
    CASE("powc", b_powc, -1.5, 0, 1, V(5, 0.3, 2)),
    UNARY_CASES(exp, 0, -2, 2, 0),
    UNARY_CASES(log, 0, 0.2, 3, 0),
    UNARY_CASES(sqrt, 0, 0.2, 3, 0),
    UNARY_CASES_AWAY(abs, 0.1, 2, 0),
    UNARY_CASES_AWAY(sign, 0.1, 2, 1u),
    UNARY_CASES(sin, 0, -3, 3, 0),
    UNARY_CASES(cos, 0, -3, 3, 0),
    UNARY_CASES(tanh, 0, -2, 2, 0),
    UNARY_CASES(sigmoid, 0, -3, 3, 0),
    UNARY_CASES_AWAY(relu, 0.1, 2, 0),
    UNARY_CASES(softplus, 0, -3, 3, 0),
    UNARY_CASES(square, 0, -2, 2, 0),
    UNARY_CASES(log1p, 0, -0.6, 3, 0),
    UNARY_CASES(erf, 0, -2, 2, 0),
    UNARY_CASES(gelu, 0, -3, 3, 0),
    UNARY_CASES(silu, 0, -4, 4, 0),
    /* leaky_relu and elu (arg: slope, alpha) away from their kink at 0 */
    CASE("leaky_relu", b_leaky_relu, 0.01, 0, 1, VA(5, 0.1, 2)),
    CASE("leaky_relu", b_leaky_relu, 0.2, 0, 1, MA(3, 4, 0.1, 2)),
    CASE("leaky_relu", b_leaky_relu, -0.3, 0, 1, T3A(2, 3, 2, 0.1, 2)),
    CASE("leaky_relu", b_leaky_relu, 0.2, 0, 1, SCA(0.1, 2)),
    CASE("elu", b_elu, 1.0, 0, 1, VA(5, 0.1, 2)),
    CASE("elu", b_elu, 0.7, 0, 1, MA(3, 4, 0.1, 3)),
    CASE("elu", b_elu, 1.6, 0, 1, T3A(2, 3, 2, 0.1, 2)),
    CASE("elu", b_elu, 1.0, 0, 1, SCA(0.1, 2)),
    /* maximum and minimum broadcast like the arithmetic ops */
    MAXMIN_CASES(maximum, 2u),
    MAXMIN_CASES(minimum, 1u),
    /* clamp to [-0.5, arg] */
    CASE("clamp", b_clamp, 0.7, 0, 1, V(5, -2, 2)),
    CASE("clamp", b_clamp, 0.7, 0, 1, M(3, 4, -2, 2)),
    CASE("clamp", b_clamp, 1.5, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("clamp", b_clamp, 0.5, 0, 1, SC(-0.4, 0.4)),
    /* where(cond, a, b): no gradient to the 0/1 condition */
    CASE("where", b_where, 0, 1u, 3, MF(3, 4), M(3, 4, -2, 2), M(3, 4, -2, 2)),
    CASE("where", b_where, 0, 1u, 3, MF(3, 1), M(3, 4, -2, 2), V(4, -2, 2)),
    CASE("where", b_where, 0, 1u, 3, VF(4), T3(2, 3, 4, -2, 2), SC(-2, 2)),
    CASE("where", b_where, 0, 1u, 3, SPEC(3, FLAG, 0, 1, 2, 1, 4), M(3, 1, -2, 2), M(1, 4, -2, 2)),
    /* comparisons: 0/1 values, a zero gradient */
    BINARY_CASES_M(gt, 3u, -2, 2, -2, 2),
    BROADCAST_CASES_M(ge, 3u, -2, 2, -2, 2),
    BINARY_CASES_M(lt, 3u, -2, 2, -2, 2),
    BROADCAST_CASES_M(le, 3u, -2, 2, -2, 2),
    BINARY_CASES_M(eq, 3u, -2, 2, -2, 2),
    /* backward helpers: a is the op's output (or input for relu), b the
     * upstream gradient; relu_bwd is a step function of a */
    CASE("sigmoid_bwd", b_sigmoid_bwd, 0, 0, 2, M(3, 4, 0.05, 0.95), M(3, 4, -2, 2)),
    CASE("sigmoid_bwd", b_sigmoid_bwd, 0, 0, 2, SC(0.05, 0.95), SC(-2, 2)),
    CASE("tanh_bwd", b_tanh_bwd, 0, 0, 2, M(3, 4, -0.95, 0.95), M(3, 4, -2, 2)),
    CASE("tanh_bwd", b_tanh_bwd, 0, 0, 2, V(5, -0.95, 0.95), V(5, -2, 2)),
    CASE("relu_bwd", b_relu_bwd, 0, 1u, 2, MA(3, 4, 0.1, 2), M(3, 4, -2, 2)),
    CASE("relu_bwd", b_relu_bwd, 0, 1u, 2, SC(0.1, 2), SC(-2, 2)),
    CASE("leaky_relu_bwd", b_leaky_relu_bwd, 0.2, 1u, 2, MA(3, 4, 0.1, 2), M(3, 4, -2, 2)),
    CASE("leaky_relu_bwd", b_leaky_relu_bwd, -0.5, 1u, 2, VA(5, 0.1, 2), V(5, -2, 2)),
    /* reductions */
    CASE("sum", b_sum, 0, 0, 1, M(3, 4, -2, 2)),
    CASE("sum", b_sum, 0, 0, 1, SC(-2, 2)),
    CASE("sum", b_sum_axis, 0, 0, 1, M(3, 4, -2, 2)),
    CASE("sum", b_sum_axis, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("sum", b_sum_axis, 1, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("sum", b_sum_axis, 0, 0, 1, V(5, -2, 2)),
    CASE("sum", b_sum_to_shape, 0, 0, 1, M(3, 4, -2, 2)),
    CASE("mean", b_mean, 0, 0, 1, M(3, 4, -2, 2)),
    CASE("mean", b_mean, 0, 0, 1, V(5, -2, 2)),
    CASE("mean", b_mean_axis, 0, 0, 1, M(3, 4, -2, 2)),
    CASE("mean", b_mean_axis, -1, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("sum", b_sum_keep, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("sum", b_sum_keep, -3, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("mean", b_mean_keep, 0, 0, 1, T4(2, 1, 3, 2, -2, 2)),
    CASE("mean", b_mean_keep, -1, 0, 1, M(3, 4, -2, 2)),
    /* max, min (distinct values: the first maximum is the only one),
     * logsumexp and argmax over all, along an axis, keeping it */
    REDUCE_CASES(max, 0),
    REDUCE_CASES(min, 0),
    REDUCE_CASES(logsumexp, 0),
    REDUCE_CASES(argmax, 1u),
    CASE("select_mask", b_select_mask, 1, 1u, 1, M(3, 4, -2, 2)),
    CASE("select_mask", b_select_mask, 0, 1u, 1, T3(2, 3, 2, -2, 2)),
    CASE("expand", b_expand_axis, 0, 0, 1, V(3, -2, 2)),
    CASE("expand", b_expand_axis, 1, 0, 1, V(2, -2, 2)),
    CASE("expand", b_expand_scaled, 0, 0, 1, V(3, -2, 2)),
    /* matrix products (arg: transpose flags) */
    CASE("matmul", b_matmul, 0, 0, 2, M(2, 3, -2, 2), M(3, 4, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_A, 0, 2, M(3, 2, -2, 2), M(3, 4, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_B, 0, 2, M(2, 3, -2, 2), M(4, 3, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_A | CR_TRANS_B, 0, 2, M(3, 2, -2, 2), M(4, 3, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, V(3, -2, 2), M(3, 4, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, M(2, 3, -2, 2), V(3, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, V(3, -2, 2), V(3, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_B, 0, 2, V(3, -2, 2), M(4, 3, -2, 2)),
    /* batched products: batch dims broadcast, vectors, transpose flags */
    CASE("matmul", b_matmul, 0, 0, 2, T3(2, 3, 4, -2, 2), M(4, 2, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, T3(2, 3, 4, -2, 2), T3(2, 4, 2, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_A, 0, 2, T3(2, 4, 3, -2, 2), T3(2, 4, 2, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_A, 0, 2, T3(2, 4, 3, -2, 2), M(4, 2, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_B, 0, 2, T3(2, 3, 4, -2, 2), T3(1, 2, 4, -2, 2)),
    CASE("matmul", b_matmul, CR_TRANS_A | CR_TRANS_B, 0, 2, M(4, 3, -2, 2),
         T3(2, 2, 4, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, T4(2, 1, 2, 3, -2, 2), T3(3, 3, 2, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, M(3, 4, -2, 2), T4(2, 2, 4, 2, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, V(4, -2, 2), T3(2, 4, 3, -2, 2)),
    CASE("matmul", b_matmul, 0, 0, 2, T3(2, 3, 4, -2, 2), V(4, -2, 2)),
    /* shapes (arg: the builder's setting) */
    CASE("transpose", b_transpose, 0, 0, 1, M(2, 3, -2, 2)),
    CASE("transpose", b_transpose, 0, 0, 1, M(1, 4, -2, 2)),
    CASE("transpose", b_transpose, 0, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("transpose", b_transpose, 0, 0, 1, T4(2, 1, 3, 2, -2, 2)),
    CASE("reshape", b_reshape, 0, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("reshape", b_reshape, 1, 0, 1, V(6, -2, 2)),
    CASE("reshape", b_reshape, 2, 0, 1, SC(-2, 2)),
    CASE("reshape", b_reshape, 3, 0, 1, T4(2, 1, 3, 2, -2, 2)),
    CASE("reshape", b_reshape, 4, 0, 1, M(3, 4, -2, 2)),
    CASE("reshape", b_flatten, 1, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("reshape", b_flatten, 0, 0, 1, SC(-2, 2)),
    CASE("reshape", b_flatten, -2, 0, 1, T4(2, 1, 3, 2, -2, 2)),
    CASE("permute", b_permute, 0, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("permute", b_permute, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("permute", b_permute, 2, 0, 1, T4(2, 1, 3, 2, -2, 2)),
    CASE("permute", b_permute, 3, 0, 1, T3(2, 3, 4, -2, 2)),
    /* indexing along an axis */
    CASE("slice", b_slice, 0, 0, 1, V(5, -2, 2)),
    CASE("slice", b_slice, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("slice", b_slice, 2, 0, 1, T3(3, 2, 2, -2, 2)),
    CASE("slice", b_slice, 3, 0, 1, T3(2, 6, 2, -2, 2)),
    CASE("slice", b_slice, 4, 0, 1, T4(2, 3, 2, 2, -2, 2)),
    CASE("slice", b_slice, 5, 0, 1, M(4, 3, -2, 2)),
    CASE("pad", b_pad_2_1, 0, 0, 1, V(3, -2, 2)),
    CASE("pad", b_pad_0_2, -1, 0, 1, M(2, 3, -2, 2)),
    CASE("pad", b_pad_2_1, 1, 0, 1, T3(2, 2, 3, -2, 2)),
    CASE("pad", b_pad_2_1, 0, 0, 1, T4(1, 3, 2, 2, -2, 2)),
    CASE("concat", b_concat2, 1, 0, 2, M(2, 3, -2, 2), M(2, 1, -2, 2)),
    CASE("concat", b_concat3, 0, 0, 3, T3(1, 2, 3, -2, 2), T3(2, 2, 3, -2, 2),
         T3(1, 2, 3, -2, 2)),
    CASE("concat", b_concat2, -1, 0, 2, V(3, -2, 2), V(2, -2, 2)),
    CASE("concat", b_concat2, 1, 0, 2, T4(2, 1, 2, 2, -2, 2), T4(2, 2, 2, 2, -2, 2)),
    CASE("stack", b_stack2, 0, 0, 2, V(3, -2, 2), V(3, -2, 2)),
    CASE("stack", b_stack3, -1, 0, 3, M(2, 3, -2, 2), M(2, 3, -2, 2), M(2, 3, -2, 2)),
    CASE("stack", b_stack2, 1, 0, 2, T3(2, 1, 3, -2, 2), T3(2, 1, 3, -2, 2)),
    CASE("stack", b_stack3, 0, 0, 3, SC(-2, 2), SC(-2, 2), SC(-2, 2)),
    CASE("index_select", b_index_select, 0, 2u, 2, M(4, 3, -2, 2), IDX(5, 3)),
    CASE("index_select", b_index_select, 1, 2u, 2, T3(2, 4, 3, -2, 2), IDX2(2, 2, 3)),
    CASE("index_select", b_index_select, -1, 2u, 2, M(3, 4, -2, 2), IDX(6, 3)),
    CASE("index_select", b_index_select, 1, 2u, 2, T3(2, 3, 2, -2, 2), SPEC(0, INDEX, 0, 2, 0)),
    CASE("index_add", b_index_add, 0, 2u, 2, M(5, 3, -2, 2), IDX(5, 3)),
    CASE("index_add", b_index_add, 1, 2u, 2, T3(2, 3, 2, -2, 2), IDX(3, 4)),
    /* sop (arg: pairs, + 0.5 with a bias) */
    CASE("sop", b_sop, 2.5, 0, 5, SC(-2, 2), SC(-2, 2), SC(-2, 2), SC(-2, 2), SC(-2, 2)),
    CASE("sop", b_sop, 1.5, 0, 3, V(3, -2, 2), V(3, -2, 2), SC(-2, 2)),
    CASE("sop", b_sop, 1.5, 0, 3, M(2, 3, -2, 2), M(3, 4, -2, 2), V(4, -2, 2)),
    CASE("sop", b_sop, 2.0, 0, 4, M(2, 3, -2, 2), M(3, 4, -2, 2), M(2, 2, -2, 2),
         M(2, 4, -2, 2)),
    CASE("sop", b_sop, 1.5, 0, 3, V(3, -2, 2), M(3, 2, -2, 2), SC(-2, 2)),
    CASE("sop", b_sop, 1.0, 0, 2, M(2, 3, -2, 2), V(3, -2, 2)),
    /* losses */
    CASE("sq_error", b_sq_error, 0, 0, 2, SC(-2, 2), SC(-2, 2)),
    CASE("sq_error", b_sq_error, 0, 0, 2, V(5, -2, 2), V(5, -2, 2)),
    CASE("sq_error", b_sq_error, 0, 0, 2, M(2, 3, -2, 2), M(2, 3, -2, 2)),
    CASE("mse", b_mse, 0, 0, 2, V(5, -2, 2), V(5, -2, 2)),
    CASE("mse", b_mse, 0, 0, 2, M(2, 3, -2, 2), M(2, 3, -2, 2)),
    CASE("softmax", b_softmax, 0, 0, 1, V(5, -3, 3)),
    CASE("softmax", b_softmax, 0, 0, 1, M(3, 4, -3, 3)),
    CASE("softmax_bwd", b_softmax_bwd, 0, 0, 2, M(3, 4, 0.05, 0.6), M(3, 4, -2, 2)),
    CASE("softmax_bwd", b_softmax_bwd, 0, 0, 2, V(5, 0.05, 0.6), V(5, -2, 2)),
    CASE("log_softmax", b_log_softmax, 0, 0, 1, M(3, 4, -3, 3)),
    CASE("log_softmax", b_log_softmax, 0, 0, 1, V(5, -3, 3)),
    CASE("softmax_xent", b_softmax_xent, 0, 0, 2, M(3, 4, -3, 3), M(3, 4, 0.05, 1)),
    CASE("softmax_xent", b_softmax_xent, 0, 0, 2, V(5, -3, 3), V(5, 0.05, 1)),
    CASE("softmax_xent_bwd", b_softmax_xent_bwd, 0, 0, 3, M(3, 4, -3, 3), M(3, 4, 0.05, 1),
         SC(-2, 2)),
    CASE("softmax_xent_bwd", b_softmax_xent_bwd, 0, 0, 3, V(5, -3, 3), V(5, 0.05, 1),
         SC(-2, 2)),
    /* along other axes (arg: the axis) */
    CASE("softmax", b_softmax_axis, 0, 0, 1, T3(2, 3, 2, -3, 3)),
    CASE("softmax", b_softmax_axis, 1, 0, 1, T3(2, 3, 2, -3, 3)),
    CASE("softmax", b_softmax_axis, -3, 0, 1, T4(2, 2, 3, 2, -3, 3)),
    CASE("log_softmax", b_log_softmax_axis, 1, 0, 1, T3(2, 3, 2, -3, 3)),
    CASE("log_softmax", b_log_softmax_axis, 0, 0, 1, M(3, 4, -3, 3)),
    CASE("softmax_bwd", b_softmax_bwd_axis, 1, 0, 2, T3(2, 3, 2, 0.05, 0.6),
         T3(2, 3, 2, -2, 2)),
    CASE("softmax_xent", b_softmax_xent_axis, 1, 0, 2, T3(2, 3, 2, -3, 3),
         T3(2, 3, 2, 0.05, 1)),
    CASE("softmax_xent", b_softmax_xent_axis, 0, 0, 2, M(3, 4, -3, 3), M(3, 4, 0.05, 1)),
    CASE("softmax_xent_bwd", b_softmax_xent_bwd_axis, 0, 0, 3, T3(3, 2, 2, -3, 3),
         T3(3, 2, 2, 0.05, 1), SC(-2, 2)),
    /* cross-entropy from class indices (made by the builder) */
    CASE("cross_entropy", b_cross_entropy, 0, 0, 1, M(3, 4, -3, 3)),
    CASE("cross_entropy", b_cross_entropy, 0, 0, 1, T3(2, 3, 2, -3, 3)),
    CASE("cross_entropy", b_cross_entropy, 0, 0, 1, V(5, -3, 3)),
    CASE("cross_entropy_bwd", b_cross_entropy_bwd, 0, 0, 2, M(3, 4, -3, 3), SC(-2, 2)),
    CASE("cross_entropy_bwd", b_cross_entropy_bwd, 0, 0, 2, T3(2, 3, 2, -3, 3), SC(-2, 2)),
    /* huber (arg: delta) */
    CASE("huber", b_huber, 1.0, 0, 2, M(3, 4, -2, 2), M(3, 4, -2, 2)),
    CASE("huber", b_huber, 0.5, 0, 2, V(5, -2, 2), V(5, -2, 2)),
    CASE("huber", b_huber, 2.5, 0, 2, SC(-2, 2), SC(-2, 2)),
    CASE("bce", b_bce, 0, 0, 2, V(5, 0.1, 0.9), V(5, 0.05, 0.95)),
    CASE("bce", b_bce, 0, 0, 2, M(2, 3, 0.1, 0.9), M(2, 3, 0.05, 0.95)),
    CASE("bce", b_bce, 0, 0, 2, SC(0.1, 0.9), SC(0.05, 0.95)),
    CASE("clamp_prob", b_clamp_prob, 0, 0, 1, V(5, 0.05, 0.95)),
    CASE("clamp_prob", b_clamp_prob, 0, 0, 1, M(2, 3, 0.05, 0.95)),
    CASE("bce_logits", b_bce_logits, 0, 0, 2, VA(5, 0.1, 3), V(5, 0.05, 0.95)),
    CASE("bce_logits", b_bce_logits, 0, 0, 2, MA(2, 3, 0.1, 3), M(2, 3, 0.05, 0.95)),
    /* convolutions (arg: the index in conv_settings): x, w [, b]; the
     * helpers get dy and w, or x and dy */
    CASE("conv", b_conv, 0, 0, 3, T4(2, 2, 3, 3, -2, 2), T4(2, 2, 3, 3, -1, 1), V(2, -1, 1)),
    CASE("conv", b_conv, 1, 0, 3, T4(1, 2, 5, 5, -2, 2), T4(2, 2, 2, 3, -1, 1), V(2, -1, 1)),
    CASE("conv", b_conv, 2, 0, 2, T4(1, 4, 3, 4, -2, 2), T4(4, 2, 2, 2, -1, 1)),
    CASE("conv", b_conv, 3, 0, 3, T4(2, 3, 3, 3, -2, 2), T4(2, 3, 1, 1, -1, 1), V(2, -1, 1)),
    CASE("conv", b_conv, 4, 0, 2, T4(1, 2, 5, 5, -2, 2), T4(2, 1, 3, 3, -1, 1)),
    CASE("conv", b_conv, 5, 0, 3, T3(2, 3, 7, -2, 2), T3(4, 3, 3, -1, 1), V(4, -1, 1)),
    CASE("conv", b_conv, 6, 0, 2, T3(1, 4, 9, -2, 2), T3(2, 2, 3, -1, 1)),
    CASE("conv", b_conv, 7, 0, 2, T3(2, 2, 5, -2, 2), T3(3, 2, 1, -1, 1)),
    CASE("conv_input_grad", b_conv_input_grad, 0, 0, 2, T4(2, 2, 3, 3, -2, 2),
         T4(2, 2, 3, 3, -1, 1)),
    CASE("conv_input_grad", b_conv_input_grad, 1, 0, 2, T4(1, 2, 3, 1, -2, 2),
         T4(2, 2, 2, 3, -1, 1)),
    CASE("conv_input_grad", b_conv_input_grad, 4, 0, 2, T4(1, 2, 3, 3, -2, 2),
         T4(2, 1, 3, 3, -1, 1)),
    CASE("conv_input_grad", b_conv_input_grad, 3, 0, 2, T4(2, 2, 3, 3, -2, 2),
         T4(2, 3, 1, 1, -1, 1)),
    CASE("conv_input_grad", b_conv_input_grad, 6, 0, 2, T3(1, 2, 4, -2, 2), T3(2, 2, 3, -1, 1)),
    CASE("conv_weight_grad", b_conv_weight_grad, 0, 0, 2, T4(2, 2, 3, 3, -2, 2),
         T4(2, 2, 3, 3, -1, 1)),
    CASE("conv_weight_grad", b_conv_weight_grad, 2, 0, 2, T4(1, 4, 3, 4, -2, 2),
         T4(1, 4, 2, 3, -1, 1)),
    CASE("conv_weight_grad", b_conv_weight_grad, 4, 0, 2, T4(1, 2, 5, 5, -2, 2),
         T4(1, 2, 3, 3, -1, 1)),
    CASE("conv_weight_grad", b_conv_weight_grad, 3, 0, 2, T4(2, 3, 3, 3, -2, 2),
         T4(2, 2, 3, 3, -1, 1)),
    CASE("conv_weight_grad", b_conv_weight_grad, 5, 0, 2, T3(2, 3, 7, -2, 2),
         T3(2, 4, 7, -1, 1)),
    /* pooling (arg: the index in pool_settings) */
    CASE("max_pool", b_max_pool, 0, 0, 1, T4(2, 2, 4, 4, -2, 2)),
    CASE("max_pool", b_max_pool, 1, 0, 1, T4(1, 2, 5, 5, -2, 2)),
    CASE("max_pool", b_max_pool, 2, 0, 1, T4(1, 1, 4, 5, -2, 2)),
    CASE("max_pool", b_max_pool, 3, 0, 1, T3(3, 4, 4, -2, 2)),
    CASE("max_pool", b_max_pool, 4, 0, 1, T3(2, 3, 6, -2, 2)),
    CASE("max_pool", b_max_pool, 5, 0, 1, T3(2, 2, 7, -2, 2)),
    CASE("max_pool", b_max_pool, 6, 0, 1, M(3, 5, -2, 2)),
    CASE("avg_pool", b_avg_pool, 0, 0, 1, T4(2, 2, 4, 4, -2, 2)),
    CASE("avg_pool", b_avg_pool, 1, 0, 1, T4(1, 2, 5, 5, -2, 2)),
    CASE("avg_pool", b_avg_pool, 2, 0, 1, T4(1, 1, 4, 5, -2, 2)),
    CASE("avg_pool", b_avg_pool, 5, 0, 1, T3(2, 2, 7, -2, 2)),
    CASE("avg_pool", b_avg_pool, 6, 0, 1, M(3, 5, -2, 2)),
    CASE("max_pool_scatter", b_max_pool_scatter, 0, 1u, 2, T4(2, 2, 4, 4, -2, 2),
         T4(2, 2, 2, 2, -2, 2)),
    CASE("max_pool_scatter", b_max_pool_scatter, 1, 1u, 2, T4(1, 2, 5, 5, -2, 2),
         T4(1, 2, 3, 5, -2, 2)),
    CASE("max_pool_scatter", b_max_pool_scatter, 5, 1u, 2, T3(2, 2, 7, -2, 2),
         T3(2, 2, 4, -2, 2)),
    CASE("max_pool_gather", b_max_pool_gather, 0, 1u, 2, T4(2, 2, 4, 4, -2, 2),
         T4(2, 2, 4, 4, -2, 2)),
    CASE("max_pool_gather", b_max_pool_gather, 2, 1u, 2, T4(1, 1, 4, 5, -2, 2),
         T4(1, 1, 4, 5, -2, 2)),
    CASE("avg_pool_bwd", b_avg_pool_bwd, 1, 0, 1, T4(1, 2, 3, 5, -2, 2)),
    CASE("avg_pool_bwd", b_avg_pool_bwd, 6, 0, 1, M(3, 6, -2, 2)),
    /* dropout: the identity cases (p = 0, or evaluation mode; arg: p, negative
     * in evaluation mode); check_nnops.c tests the masks of training mode */
    CASE("dropout", b_dropout, 0.0, 0, 1, M(3, 4, -2, 2)),
    CASE("dropout", b_dropout, -0.3, 0, 1, T3(2, 3, 2, -2, 2)),
    CASE("dropout", b_dropout_apply, 0, 2u, 2, M(3, 4, -2, 2), M(3, 4, -2, 2)),
    /* layer norm (arg: trailing axes), batch norm (arg: 1 with gain and
     * bias, 2 evaluating), their backward helper, the training switch */
    CASE("layer_norm", b_layer_norm, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("layer_norm", b_layer_norm, 2, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("layer_norm", b_layer_norm, 3, 0, 1, T4(2, 2, 2, 3, -2, 2)),
    CASE("layer_norm", b_layer_norm_affine, 1, 0, 3, M(3, 4, -2, 2), V(4, -2, 2), V(4, -2, 2)),
    CASE("layer_norm", b_layer_norm_affine, 2, 0, 3, T3(2, 2, 3, -2, 2), M(2, 3, -2, 2),
         M(2, 3, -2, 2)),
    CASE("layer_norm", b_layer_norm_affine, 1.5, 0, 2, T3(2, 3, 4, -2, 2), V(4, -2, 2)),
    CASE("layer_norm", b_layer_norm_affine, 1.25, 0, 2, M(3, 4, -2, 2), V(4, -2, 2)),
    CASE("batch_norm", b_batch_norm, 0, 0, 1, M(4, 3, -2, 2)),
    CASE("batch_norm", b_batch_norm, 1, 0, 3, T3(3, 2, 4, -2, 2), V(2, -2, 2), V(2, -2, 2)),
    CASE("batch_norm", b_batch_norm, 1, 0, 3, T4(2, 3, 2, 2, -2, 2), V(3, -2, 2), V(3, -2, 2)),
    CASE("batch_norm", b_batch_norm, 2, 0, 3, T3(2, 3, 2, -2, 2), V(3, -2, 2), V(3, -2, 2)),
    CASE("norm_bwd", b_norm_bwd, 0, 0, 2, M(3, 4, -2, 2), M(3, 4, -2, 2)),
    CASE("norm_bwd", b_norm_bwd, 1, 0, 2, T3(3, 2, 2, -2, 2), T3(3, 2, 2, -2, 2)),
    CASE("norm_bwd", b_norm_bwd, 2, 1u, 2, M(4, 3, -2, 2), M(4, 3, -2, 2)),
    CASE("norm_bwd", b_norm_bwd_gain, 0, 0, 3, M(3, 4, -2, 2), M(3, 4, -2, 2), V(4, -2, 2)),
    CASE("norm_bwd", b_norm_bwd_gain, 1, 0, 3, T3(3, 2, 2, -2, 2), T3(3, 2, 2, -2, 2),
         V(2, -2, 2)),
    CASE("norm_bwd", b_norm_bwd_gain, 2, 1u, 3, M(4, 3, -2, 2), M(4, 3, -2, 2), V(3, -2, 2)),
    CASE("norm_gain_grad", b_norm_gain_grad, 0, 0, 2, M(3, 4, -2, 2), M(3, 4, -2, 2)),
    CASE("norm_gain_grad", b_norm_gain_grad, 1, 0, 2, T3(3, 2, 2, -2, 2),
         T3(3, 2, 2, -2, 2)),
    CASE("norm_gain_grad", b_norm_gain_grad, 2, 0, 2, M(4, 3, -2, 2), M(4, 3, -2, 2)),
    CASE("training_only", b_training_only, 1, 0, 1, M(3, 4, -2, 2)),
    CASE("training_only", b_training_only, 0, 1u, 1, V(5, -2, 2)),
    /* per-channel helpers over the view [2,3,4] (arg: the factor) */
    CASE("channel_sum", b_channel_sum, 1.0, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("channel_sum", b_channel_sum, 0.125, 0, 1, T3(2, 3, 4, -2, 2)),
    CASE("channel_expand", b_channel_expand, 0.5, 0, 1, V(3, -2, 2)),
    CASE("channel_scale", b_channel_scale, 0, 0, 2, T3(2, 3, 4, -2, 2), V(3, -2, 2)),
    /* the stop-gradient: the identity, with a zero gradient by definition
     * (last, so that the cases above keep their numbers and draws) */
    UNARY_CASES(detach, 0, -2, 2, 1u),
};
// clang-format on
static const size_t n_cases = sizeof cases / sizeof cases[0];

/* ---- the checks ---- */

static double draw(const in_spec *s)
{
    if (s->draw == INDEX)
        return fmin(floor(test_rand_uniform(s->lo, s->hi + 1)), s->hi);
    double v = test_rand_uniform(s->lo, s->hi);
    if (s->draw == FLAG)
        return v < 0.5 * (s->lo + s->hi) ? 0.0 : 1.0;
    if (s->draw == AWAY && test_rand_uniform(0, 1) < 0.5)
        v = -v;
    return v;
}

/* A constant of the given shape filled with random values in [lo, hi]. */
static cr_node *random_constant(cr_graph *g, const cr_tensor *like, double lo, double hi)
{
    cr_error err;
    cr_tensor *t = cr_tensor_new(cr_tensor_rank(like), cr_tensor_shape(like), &err);
    ck_assert_ptr_nonnull(t);
    double *d = cr_tensor_data_mut(t);
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        d[i] = test_rand_uniform(lo, hi);
    cr_node *c = cr_constant(g, t);
    cr_tensor_free(t);
    return c;
}

/* Runs one case: builds the inputs (inputs asking for their gradients),
 * loss = sum(op * W) for random W; checks every input's gradient from
 * cr_graph_backward against finite differences (and that it is not all
 * zeros unless the true derivative is zero), then every Hessian-vector
 * product d/dx_j sum(d loss/dx_i * v) against finite differences. */
static void run_case(const op_case *c, size_t index)
{
    char what[128];
    test_rand_seed(1000 + index);
    cr_graph *g = cr_graph_new();
    ck_assert_ptr_nonnull(g);
    cr_node *in[MAX_IN];
    for (int i = 0; i < c->n_in; i++) {
        const in_spec *s = &c->in[i];
        in[i] = cr_input(g, NULL, s->rank, s->shape);
        ck_assert_ptr_nonnull(in[i]);
        size_t n = cr_tensor_size(cr_node_value(in[i]));
        double vals[64];
        ck_assert_uint_le(n, 64);
        for (size_t j = 0; j < n; j++)
            vals[j] = draw(s);
        ck_assert_int_eq(cr_node_set_data(in[i], vals, n), CR_OK);
        ck_assert_int_eq(cr_node_require_grad(in[i], s->draw != INDEX), CR_OK);
    }
    cr_node *y = c->build(g, in, c->arg);
    ck_assert_msg(y != NULL, "case %zu (%s): %s", index, c->op, cr_graph_error(g)->message);
    ck_assert_str_eq(cr_node_op_name(y), c->op);
    cr_node *w = random_constant(g, cr_node_value(y), -1.5, 1.5);
    cr_node *loss = cr_sum(g, cr_mul(g, y, w));
    ck_assert_ptr_nonnull(loss);

    /* first order: backward against finite differences */
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    for (int i = 0; i < c->n_in; i++) {
        if (c->in[i].draw == INDEX)
            continue;
        const cr_tensor *gr = cr_node_grad(in[i]);
        ck_assert_ptr_nonnull(gr);
        ck_assert(cr_tensor_same_shape(gr, cr_node_value(in[i])));
        snprintf(what, sizeof what, "case %zu (%s) d/d input %d", index, c->op, i);
        if (c->zero_mask & (1u << i)) {
            ck_assert_msg(test_max_abs(gr) == 0.0, "%s: expected a zero gradient", what);
            /* detach's value moves with x, its derivative is 0 by
             * definition: finite differences do not apply */
            if (strcmp(c->op, "detach") == 0)
                continue;
        } else
            ck_assert_msg(test_max_abs(gr) > 1e-6, "%s: gradient is all zeros", what);
        test_assert_fd(g, loss, in[i], cr_tensor_data(gr), FD_TOL, what);
    }

    /* second order: Hessian-vector products through cr_grad twice */
    for (int i = 0; i < c->n_in; i++) {
        if (c->in[i].draw == INDEX)
            continue;
        cr_node *gi = cr_grad(g, loss, in[i]);
        ck_assert_msg(gi != NULL, "case %zu (%s): %s", index, c->op,
                      cr_graph_error(g)->message);
        /* cr_grad agrees with backward */
        const cr_tensor *gb = cr_node_grad(in[i]);
        for (size_t j = 0; j < cr_tensor_size(gb); j++)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(gi), j),
                                    cr_tensor_get(gb, j), 1e-12);
        cr_node *v = random_constant(g, cr_node_value(in[i]), -1.0, 1.0);
        cr_node *h = cr_sum(g, cr_mul(g, gi, v));
        ck_assert_ptr_nonnull(h);
        for (int j = 0; j < c->n_in; j++) {
            if (c->in[j].draw == INDEX)
                continue;
            cr_node *hv = cr_grad(g, h, in[j]);
            ck_assert_msg(hv != NULL, "case %zu (%s): %s", index, c->op,
                          cr_graph_error(g)->message);
            snprintf(what, sizeof what, "case %zu (%s) d2/d input %d d input %d", index,
                     c->op, j, i);
            test_assert_fd(g, h, in[j], cr_tensor_data(cr_node_value(hv)), FD_TOL, what);
        }
    }
    cr_graph_free(g);
}

/* One iteration per op of the table: every case of that op. */
START_TEST(test_op_gradients)
{
    const cr_op *op = cr_builtin_ops[_i];
    size_t found = 0;
    for (size_t k = 0; k < n_cases; k++) {
        if (strcmp(cases[k].op, op->name) == 0) {
            run_case(&cases[k], k);
            found++;
        }
    }
    ck_assert_msg(found > 0, "op '%s' has no gradient test case", op->name);
}
END_TEST

/* Every op of the table has a case, and every case names an op of the
 * table: adding an op without a test fails here. */
START_TEST(test_every_op_has_a_case)
{
    for (size_t i = 0; i < cr_builtin_op_count; i++) {
        size_t found = 0;
        for (size_t k = 0; k < n_cases; k++)
            found += strcmp(cases[k].op, cr_builtin_ops[i]->name) == 0;
        ck_assert_msg(found > 0, "op '%s' has no gradient test case",
                      cr_builtin_ops[i]->name);
        ck_assert_ptr_eq(cr_op_find(cr_builtin_ops[i]->name), cr_builtin_ops[i]);
        ck_assert_ptr_nonnull(cr_builtin_ops[i]->forward);
        ck_assert_ptr_nonnull(cr_builtin_ops[i]->vjp);
        ck_assert_ptr_nonnull(cr_builtin_ops[i]->formula);
    }
    for (size_t k = 0; k < n_cases; k++)
        ck_assert_msg(cr_op_find(cases[k].op) != NULL, "case %zu names unknown op '%s'", k,
                      cases[k].op);
    ck_assert_ptr_null(cr_op_find("no_such_op"));
    ck_assert_uint_ge(cr_builtin_op_count, 36);
}
END_TEST

/* Softmax cross-entropy far from the logits' maximum: forward and both
 * gradients stay finite and exact (log(softmax) would give -inf). */
START_TEST(test_softmax_xent_extreme_logits)
{
    cr_graph *g = cr_graph_new();
    size_t s3[1] = {3};
    cr_node *z = cr_input(g, "z", 1, s3), *t = cr_input(g, "t", 1, s3);
    ck_assert_int_eq(cr_node_set_data(z, (double[]){800, 0, -800}, 3), CR_OK);
    ck_assert_int_eq(cr_node_set_data(t, (double[]){0.25, 0.25, 0.5}, 3), CR_OK);
    cr_node_require_grad(z, 1);
    cr_node_require_grad(t, 1);
    cr_node *e = cr_softmax_xent(g, z, t);
    ck_assert_int_eq(cr_graph_forward(g, e), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(e), 0.25 * 800 + 0.5 * 1600, 1e-9);
    ck_assert_int_eq(cr_graph_backward(g, e, 0), CR_OK);
    const double dz[3] = {1.0 - 0.25, -0.25, -0.5}, dt[3] = {0, 800, 1600};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(z), i), dz[i], 1e-12);
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(t), i), dt[i], 1e-9);
    }
    cr_graph_free(g);
}
END_TEST

/* Forward values of ops against direct computation. */
START_TEST(test_forward_values)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s3[1] = {3};
    const double a[6] = {0.5, -1.25, 2.0, 3.5, -0.75, 1.0}, r[3] = {0.1, 0.2, -0.3};
    cr_node *A = cr_input(g, "A", 2, s23), *R = cr_input(g, "r", 1, s3);
    cr_node_set_data(A, a, 6);
    cr_node_set_data(R, r, 3);
    const cr_tensor *v;
    v = cr_node_value(cr_sub(g, A, R)); /* row vector over rows */
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(v, i), a[i] - r[i % 3]);
    v = cr_node_value(cr_div(g, cr_scalar(g, 2.0), A)); /* scalar first */
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(v, i), 2.0 / a[i]);
    v = cr_node_value(cr_sum_axis(g, A, 0));
    for (size_t j = 0; j < 3; j++)
        ck_assert_double_eq(cr_tensor_get(v, j), a[j] + a[3 + j]);
    v = cr_node_value(cr_mean_axis(g, A, 1));
    ck_assert_double_eq_tol(cr_tensor_get(v, 1), (3.5 - 0.75 + 1.0) / 3, 1e-15);
    v = cr_node_value(cr_matmul(g, A, A, CR_TRANS_B)); /* A A^T */
    ck_assert_double_eq_tol(cr_tensor_get(v, 1), 0.5 * 3.5 + 1.25 * 0.75 + 2.0, 1e-15);
    v = cr_node_value(cr_transpose(g, A));
    ck_assert_double_eq(cr_tensor_get(v, 1), 3.5);
    v = cr_node_value(cr_softmax(g, A));
    double row = 0;
    for (size_t j = 0; j < 3; j++)
        row += cr_tensor_get(v, j);
    ck_assert_double_eq_tol(row, 1.0, 1e-15);
    ck_assert_double_eq_tol(cr_tensor_get(v, 0),
                            exp(0.5) / (exp(0.5) + exp(-1.25) + exp(2.0)), 1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_mse(g, R, cr_scale(g, R, 0.5))),
                            0.25 * (0.01 + 0.04 + 0.09) / 3, 1e-16);
    ck_assert_double_eq_tol(cr_node_scalar(cr_sq_error(g, R, cr_scale(g, R, 0.5))),
                            0.5 * 0.25 * (0.01 + 0.04 + 0.09), 1e-16);
    ck_assert_double_eq_tol(cr_node_scalar(cr_bce_logits(g, R, R)),
                            cr_node_scalar(cr_bce(g, cr_sigmoid(g, R), R)), 1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_softplus(g, cr_scalar(g, 40.0))), 40.0,
                            1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_sigmoid(g, cr_scalar(g, -800.0))), 0.0,
                            1e-300);
    ck_assert_double_eq(cr_node_scalar(cr_relu(g, cr_scalar(g, -0.5))), 0.0);
    ck_assert_double_eq(cr_node_scalar(cr_abs(g, cr_scalar(g, -0.5))), 0.5);
    ck_assert_double_eq_tol(cr_node_scalar(cr_pow(g, cr_scalar(g, 2.0), cr_scalar(g, 0.5))),
                            sqrt(2.0), 1e-15);
    cr_graph_free(g);
}
END_TEST

/* ---- shapes, indexing and batched products ---- */

/* An input named name of the given shape holding v (row-major). */
static cr_node *input_of(cr_graph *g, const char *name, int rank, const size_t *shape,
                         const double *v)
{
    cr_node *x = cr_input(g, name, rank, shape);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(cr_node_set_data(x, v, cr_tensor_size(cr_node_value(x))), CR_OK);
    return x;
}

/* y's shape is the given one and its values are v. */
static void assert_values(const cr_node *y, int rank, const size_t *shape, const double *v)
{
    ck_assert_ptr_nonnull(y);
    const cr_tensor *t = cr_node_value(y);
    ck_assert_int_eq(cr_tensor_rank(t), rank);
    for (int d = 0; d < rank; d++)
        ck_assert_uint_eq(cr_tensor_dim(t, d), shape[d]);
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        ck_assert_msg(cr_tensor_get(t, i) == v[i], "element %zu: %g, expected %g", i,
                      cr_tensor_get(t, i), v[i]);
}

START_TEST(test_shape_values)
{
    cr_graph *g = cr_graph_new();
    double a[24], r[10];
    for (int i = 0; i < 24; i++)
        a[i] = 0.25 * i - 1.5;
    for (int i = 0; i < 10; i++)
        r[i] = 1.5 * i + 0.125;
    const size_t s23[2] = {2, 3}, s234[3] = {2, 3, 4}, s10[1] = {10};
    cr_node *A = input_of(g, "A", 2, s23, a), *T = input_of(g, "T", 3, s234, a);
    cr_node *R = input_of(g, "r", 1, s10, r);

    assert_values(cr_reshape(g, A, 2, (const long[]){3, -1}), 2, (const size_t[]){3, 2}, a);
    assert_values(cr_reshape(g, cr_scalar(g, 2.5), 3, (const long[]){1, -1, 1}), 3,
                  (const size_t[]){1, 1, 1}, (const double[]){2.5});
    assert_values(cr_flatten(g, T, 1), 2, (const size_t[]){2, 12}, a);
    assert_values(cr_flatten(g, T, -3), 1, (const size_t[]){24}, a);
    assert_values(cr_flatten(g, cr_scalar(g, 2.5), 0), 1, (const size_t[]){1},
                  (const double[]){2.5});

    /* permute (2, 0, 1): y[k][i][j] = x[i][j][k]; transpose: y[i][k][j] */
    double want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                want[(k * 2 + i) * 3 + j] = a[(i * 3 + j) * 4 + k];
    assert_values(cr_permute(g, T, 3, (const int[]){-1, 0, 1}), 3,
                  (const size_t[]){4, 2, 3}, want);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                want[(i * 4 + k) * 3 + j] = a[(i * 3 + j) * 4 + k];
    assert_values(cr_transpose(g, T), 3, (const size_t[]){2, 4, 3}, want);

    /* slices with Python's bounds */
    assert_values(cr_slice(g, R, 0, -3, LONG_MAX, 1), 1, (const size_t[]){3}, r + 7);
    assert_values(cr_slice(g, R, -1, 1, -1, 3), 1, (const size_t[]){3},
                  (const double[]){r[1], r[4], r[7]});
    assert_values(cr_slice(g, R, 0, -100, 2, 1), 1, (const size_t[]){2}, r);
    assert_values(cr_slice(g, A, 1, 1, 3, 2), 2, (const size_t[]){2, 1},
                  (const double[]){a[1], a[4]});

    /* zeros around */
    assert_values(
        cr_pad(g, A, 0, 1, 2), 2, (const size_t[]){5, 3},
        (const double[]){0, 0, 0, a[0], a[1], a[2], a[3], a[4], a[5], 0, 0, 0, 0, 0, 0});
    assert_values(cr_pad(g, A, -1, 2, 0), 2, (const size_t[]){2, 5},
                  (const double[]){0, 0, a[0], a[1], a[2], 0, 0, a[3], a[4], a[5]});

    /* joins */
    cr_node *col = cr_slice(g, R, 0, 0, 2, 1);
    cr_node *col2 = cr_reshape(g, col, 2, (const long[]){2, 1});
    assert_values(cr_concat(g, 2, (cr_node *[]){A, col2}, 1), 2, (const size_t[]){2, 4},
                  (const double[]){a[0], a[1], a[2], r[0], a[3], a[4], a[5], r[1]});
    assert_values(cr_concat(g, 2, (cr_node *[]){A, A}, 0), 2, (const size_t[]){4, 3},
                  (const double[]){a[0], a[1], a[2], a[3], a[4], a[5], a[0], a[1], a[2],
                                   a[3], a[4], a[5]});
    cr_node *r3 = cr_slice(g, R, 0, 0, 3, 1), *r3b = cr_slice(g, R, 0, 3, 6, 1);
    assert_values(cr_stack(g, 2, (cr_node *[]){r3, r3b}, 1), 2, (const size_t[]){3, 2},
                  (const double[]){r[0], r[3], r[1], r[4], r[2], r[5]});
    assert_values(cr_stack(g, 2, (cr_node *[]){r3, r3b}, 0), 2, (const size_t[]){2, 3}, r);
    assert_values(cr_stack(g, 2, (cr_node *[]){cr_scalar(g, 1.5), cr_scalar(g, -2.0)}, 0),
                  1, (const size_t[]){2}, (const double[]){1.5, -2.0});
    cr_graph_free(g);
}
END_TEST

/* Every row of an axis picked once by a constant scalar index (a recurrent
 * layer's steps): the gradient is the stack of the rows' gradients, one
 * node with no zero-padded tensor per row (cr_add_n), right again after the
 * cotangents change; rows picked twice or left out still add up. Slices
 * that tile an axis: the concat of their gradients. */
START_TEST(test_index_select_rows_stacked)
{
    cr_graph *g = cr_graph_new();
    const size_t s232[3] = {2, 3, 2}, s22[2] = {2, 2};
    double x[12], c[3][4];
    for (int i = 0; i < 12; i++)
        x[i] = 0.1 * i - 0.5;
    cr_node *X = input_of(g, "X", 3, s232, x);
    cr_node_require_grad(X, 1);
    cr_node *C[3], *terms[3];
    const int order[3] = {2, 0, 1}; /* rows picked out of order */
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 4; j++)
            c[k][j] = 1.0 + k + 0.25 * j;
        const char *names[3] = {"C0", "C1", "C2"};
        C[k] = input_of(g, names[k], 2, s22, c[k]);
        cr_node *row = cr_index_select(g, X, 1, cr_scalar(g, order[k]));
        terms[k] = cr_sum(g, cr_mul(g, row, C[k]));
    }
    cr_node *loss = cr_add(g, cr_add(g, terms[0], terms[1]), terms[2]);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
        ck_assert_str_eq(cr_node_op_name(cr_node_grad_node(X)), "stack");
        const cr_tensor *dX = cr_node_grad(X);
        for (int k = 0; k < 3; k++)
            for (int b = 0; b < 2; b++)
                for (int e = 0; e < 2; e++)
                    ck_assert_double_eq(
                        cr_tensor_get(dX, (size_t)(b * 6 + order[k] * 2 + e)),
                        c[k][b * 2 + e]);
        for (int j = 0; j < 4; j++) /* new cotangents: the plan re-evaluates */
            c[1][j] = -3.0 + j;
        ck_assert_int_eq(cr_node_set_data(C[1], c[1], 4), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    }
    cr_graph_free(g);

    /* rows 0, 0 and 2 of 3: no stack, the sum of the placements */
    g = cr_graph_new();
    X = input_of(g, "X", 3, s232, x);
    cr_node_require_grad(X, 1);
    const int rows[3] = {0, 0, 2};
    cr_node *sum = NULL;
    for (int k = 0; k < 3; k++) {
        cr_node *row = cr_index_select(g, X, 1, cr_scalar(g, rows[k]));
        cr_node *t = cr_sum(g, cr_scale(g, row, 1.0 + k));
        sum = sum ? cr_add(g, sum, t) : t;
    }
    ck_assert_int_eq(cr_graph_backward(g, sum, 0), CR_OK);
    ck_assert_str_eq(cr_node_op_name(cr_node_grad_node(X)), "add_n");
    const cr_tensor *dX = cr_node_grad(X);
    for (int b = 0; b < 2; b++)
        for (int e = 0; e < 2; e++) {
            ck_assert_double_eq(cr_tensor_get(dX, (size_t)(b * 6 + e)), 3.0);
            ck_assert_double_eq(cr_tensor_get(dX, (size_t)(b * 6 + 2 + e)), 0.0);
            ck_assert_double_eq(cr_tensor_get(dX, (size_t)(b * 6 + 4 + e)), 3.0);
        }
    cr_graph_free(g);

    /* slices [3:5] and [0:3] of an axis of 5 (an LSTM's gate blocks): the
     * concat of their gradients; [0:2] and [1:5] overlap: the sum */
    for (int overlap = 0; overlap < 2; overlap++) {
        g = cr_graph_new();
        X = input_of(g, "X", 2, (const size_t[]){2, 5}, x);
        cr_node_require_grad(X, 1);
        const long from[2] = {3, 0}, to[2] = {5, overlap ? 2 : 3};
        sum = NULL;
        for (int k = 0; k < 2; k++) {
            cr_node *part = cr_slice(g, X, 1, overlap && k == 0 ? 1 : from[k], to[k], 1);
            cr_node *t = cr_sum(g, cr_scale(g, part, 2.0 + k));
            sum = sum ? cr_add(g, sum, t) : t;
        }
        ck_assert_int_eq(cr_graph_backward(g, sum, 0), CR_OK);
        ck_assert_str_eq(cr_node_op_name(cr_node_grad_node(X)),
                         overlap ? "add_n" : "concat");
        const double want[2][5] = {{3, 3, 3, 2, 2}, {3, 5, 2, 2, 2}};
        for (int b = 0; b < 2; b++)
            for (int e = 0; e < 5; e++)
                ck_assert_double_eq(cr_tensor_get(cr_node_grad(X), (size_t)(b * 5 + e)),
                                    want[overlap][e]);
        cr_graph_free(g);
    }
}
END_TEST

/* A weight that several products use (a recurrent layer's steps): the sum
 * of its gradient's products X_t^T dY_t is one product of the stacked
 * factors, right again after the cotangents change, for short and tall
 * factors; a product of another form among them leaves the sum an add_n. */
START_TEST(test_weight_gradient_one_product)
{
    for (int kind = 0; kind < 3; kind++) {
        enum { T = 3, M = 4, N = 5 };
        const int tall = kind == 1, mixed = kind == 2;
        const size_t rows = tall ? 8 : 2;
        cr_graph *g = cr_graph_new();
        double w[M * N], x[T][8 * M], c[T][8 * N];
        for (int i = 0; i < M * N; i++)
            w[i] = 0.5 * i - 3.0;
        cr_node *W = input_of(g, "W", 2, (const size_t[]){M, N}, w);
        cr_node_require_grad(W, 1);
        cr_node *X[T], *C[T], *loss = NULL;
        for (int t = 0; t < T; t++) {
            for (size_t i = 0; i < rows * M; i++)
                x[t][i] = (double)((int)(i * 7 + t * 3) % 11) - 5.0;
            for (size_t i = 0; i < rows * N; i++)
                c[t][i] = (double)((int)(i * 5 + t) % 9) - 4.0;
            char name[2][8];
            snprintf(name[0], sizeof name[0], "X%d", t);
            snprintf(name[1], sizeof name[1], "C%d", t);
            X[t] = input_of(g, name[0], 2, (const size_t[]){rows, M}, x[t]);
            C[t] = input_of(g, name[1], 2, (const size_t[]){rows, N}, c[t]);
            /* mixed: the last step's X W as (W^T X^T)^T, whose gradient for
             * W is a product of another form */
            cr_node *prod =
                mixed && t == T - 1
                    ? cr_transpose(g, cr_matmul(g, W, X[t], CR_TRANS_A | CR_TRANS_B))
                    : cr_sop(g, 1, &X[t], &W, NULL);
            cr_node *term = cr_sum(g, cr_mul(g, prod, C[t]));
            loss = loss ? cr_add(g, loss, term) : term;
        }
        for (int pass = 0; pass < 2; pass++) {
            ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
            ck_assert_str_eq(cr_node_op_name(cr_node_grad_node(W)),
                             mixed ? "add_n" : "matmul");
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double want = 0; /* small integers: exact in any order */
                    for (int t = 0; t < T; t++)
                        for (size_t r = 0; r < rows; r++)
                            want += x[t][r * M + i] * c[t][r * N + j];
                    ck_assert_double_eq(cr_tensor_get(cr_node_grad(W), (size_t)(i * N + j)),
                                        want);
                }
            for (size_t i = 0; i < rows * N;
                 i++) /* new cotangents: the plan re-evaluates */
                c[1][i] = 2.0 - (double)(i % 4);
            ck_assert_int_eq(cr_node_set_data(C[1], c[1], rows * N), CR_OK);
            ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
        }
        cr_graph_free(g);
    }
}
END_TEST

/* index_select as an embedding lookup: repeated indices, their gradient
 * scatter-added; indices made invalid after the build select NaNs. */
START_TEST(test_index_select_values)
{
    cr_graph *g = cr_graph_new();
    const double w[12] = {0.5, -1.0, 2.0, 1.5,   0.25, -0.75,
                          3.0, -2.5, 1.0, 0.125, 4.0,  -0.5};
    const size_t s43[2] = {4, 3}, s22[2] = {2, 2};
    cr_error err;
    cr_tensor *wt = cr_tensor_new_from(2, s43, w, &err);
    cr_node *W = cr_param(g, "W", wt);
    cr_tensor_free(wt);
    cr_node *I = input_of(g, "I", 2, s22, (const double[]){3, 0, 3, 3});
    cr_node *E = cr_index_select(g, W, 0, I);
    double want[12];
    const int rows[4] = {3, 0, 3, 3};
    for (int j = 0; j < 4; j++)
        for (int e = 0; e < 3; e++)
            want[j * 3 + e] = w[rows[j] * 3 + e];
    assert_values(E, 3, (const size_t[]){2, 2, 3}, want);
    /* along axis 1, with a scalar index: the axis goes away */
    assert_values(cr_index_select(g, W, -1, cr_scalar(g, 2.0)), 1, (const size_t[]){4},
                  (const double[]){w[2], w[5], w[8], w[11]});

    /* loss = sum(E * C): dW[row] = the sum of C's rows that picked it */
    double c[12];
    for (int i = 0; i < 12; i++)
        c[i] = 0.5 + 0.25 * i;
    const size_t s223[3] = {2, 2, 3};
    cr_node *C = input_of(g, "C", 3, s223, c);
    cr_node *loss = cr_sum(g, cr_mul(g, E, C));
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    const cr_tensor *dW = cr_node_grad(W);
    for (int e = 0; e < 3; e++) {
        ck_assert_double_eq(cr_tensor_get(dW, 0 * 3 + e), c[3 + e]);
        ck_assert_double_eq(cr_tensor_get(dW, 1 * 3 + e), 0.0);
        ck_assert_double_eq(cr_tensor_get(dW, 2 * 3 + e), 0.0);
        ck_assert_double_eq(cr_tensor_get(dW, 3 * 3 + e), c[e] + c[6 + e] + c[9 + e]);
    }
    /* new indices, same graph; then an invalid one: NaNs, no gradient */
    ck_assert_int_eq(cr_node_set_data(I, (const double[]){1, 1, 2, 0}, 4), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(E), 0), w[3]);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    ck_assert_double_eq(cr_tensor_get(dW, 3), c[0] + c[3]);
    ck_assert_int_eq(cr_node_set_data(I, (const double[]){1, 7, 2, 0.5}, 4), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    ck_assert(isnan(cr_tensor_get(cr_node_value(E), 3)));
    ck_assert(isnan(cr_tensor_get(cr_node_value(E), 9)));
    ck_assert_double_eq(cr_tensor_get(cr_node_value(E), 6), w[6]);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    ck_assert_double_eq(cr_tensor_get(dW, 3), c[0]);
    ck_assert_double_eq(cr_tensor_get(dW, 0), 0.0);
    cr_graph_free(g);
}
END_TEST

/* Each bad call: NULL, the status, the message, and the graph unchanged. */
static void assert_fails(cr_graph *g, cr_node *y, cr_status st, const char *message)
{
    ck_assert_ptr_null(y);
    ck_assert_int_eq(cr_graph_error(g)->status, st);
    ck_assert_str_eq(cr_graph_error(g)->message, message);
    cr_graph_clear_error(g);
}

START_TEST(test_shape_errors)
{
    cr_graph *g = cr_graph_new();
    const size_t s23[2] = {2, 3}, s32[2] = {3, 2}, s24[2] = {2, 4}, s3[1] = {3},
                 s1111[4] = {1, 1, 1, 1}, s2222[4] = {2, 2, 2, 2}, s234[3] = {2, 3, 4},
                 s542[3] = {5, 4, 2}, s43[2] = {4, 3}, s2[1] = {2};
    cr_node *A = cr_input(g, "A", 2, s23), *B = cr_input(g, "B", 2, s32);
    cr_node *C = cr_input(g, "C", 2, s24), *v = cr_input(g, "v", 1, s3);
    cr_node *F = cr_input(g, "F", 4, s1111), *G = cr_input(g, "G", 4, s2222);
    cr_node *T = cr_input(g, "T", 3, s234), *U = cr_input(g, "U", 3, s542);
    cr_node *W = cr_input(g, "W", 2, s43);
    cr_node *I = input_of(g, "I", 1, s2, (const double[]){0, 4});
    cr_node *J = input_of(g, "J", 1, s2, (const double[]){1.5, 0});
    cr_node *K = input_of(g, "K", 2, (const size_t[]){2, 2}, (const double[]){0, 1, 1, 0});
    const size_t before = cr_graph_size(g);

    assert_fails(g, cr_reshape(g, A, 2, (const long[]){4, -1}), CR_ESHAPE,
                 "reshape: [2,3] (6 elements) cannot become [4,-1]");
    assert_fails(g, cr_reshape(g, A, 1, (const long[]){7}), CR_ESHAPE,
                 "reshape: [2,3] (6 elements) cannot become [7]");
    assert_fails(g, cr_reshape(g, A, 2, (const long[]){-1, -1}), CR_EINVAL,
                 "reshape: [2,3] -> [-1,-1]: dimension 1 is -1 (at least 1, or one -1 to "
                 "infer)");
    assert_fails(
        g, cr_reshape(g, A, 2, (const long[]){0, 6}), CR_EINVAL,
        "reshape: [2,3] -> [0,6]: dimension 0 is 0 (at least 1, or one -1 to infer)");
    assert_fails(g, cr_reshape(g, A, 5, (const long[]){1, 1, 1, 2, 3}), CR_EINVAL,
                 "reshape: rank 5 is not within 0..4");
    assert_fails(g, cr_flatten(g, A, 2), CR_EINVAL,
                 "flatten: axis 2 out of range for [2,3]");
    assert_fails(g, cr_permute(g, A, 3, (const int[]){0, 1, 2}), CR_EINVAL,
                 "permute: [2,3] needs 2 axes, got 3");
    assert_fails(g, cr_permute(g, A, 2, (const int[]){0, -2}), CR_EINVAL,
                 "permute: [2,3]: axis 0 is given twice");
    assert_fails(g, cr_permute(g, A, 2, (const int[]){0, 2}), CR_EINVAL,
                 "permute: axis 2 out of range for [2,3]");
    assert_fails(g, cr_slice(g, A, 1, 0, 3, 0), CR_EINVAL,
                 "slice: [2,3] axis 1: step 0 (must be at least 1)");
    assert_fails(g, cr_slice(g, A, -1, 2, 1, 1), CR_ESHAPE,
                 "slice: [2,3] axis -1 [2:1:1] selects nothing (a tensor has at least one "
                 "element)");
    /* x[3:]: the stop "to the end" (LONG_MAX) is left out */
    assert_fails(g, cr_slice(g, A, 1, 3, LONG_MAX, 1), CR_ESHAPE,
                 "slice: [2,3] axis 1 [3::1] selects nothing (a tensor has at least one "
                 "element)");
    assert_fails(g, cr_slice(g, A, -3, 0, 1, 1), CR_EINVAL,
                 "slice: axis -3 out of range for [2,3]");
    assert_fails(g, cr_pad(g, v, 1, 1, 1), CR_EINVAL, "pad: axis 1 out of range for [3]");
    assert_fails(
        g, cr_concat(g, 2, (cr_node *[]){A, B}, 0), CR_ESHAPE,
        "concat: input 2 is [3,2] but input 1 is [2,3] (only the concatenated axis "
        "may differ)");
    assert_fails(
        g, cr_concat(g, 2, (cr_node *[]){A, v}, 0), CR_ESHAPE,
        "concat: input 2 is [3] but input 1 is [2,3] (only the concatenated axis may "
        "differ)");
    assert_fails(g, cr_concat(g, 1, (cr_node *[]){cr_scalar(g, 1.0)}, 0), CR_ESHAPE,
                 "concat: input 1 is a scalar (stack joins scalars)");
    assert_fails(g, cr_concat(g, 0, (cr_node *[]){A}, 0), CR_EINVAL,
                 "concat: needs at least one input");
    assert_fails(g, cr_stack(g, 2, (cr_node *[]){A, C}, 0), CR_ESHAPE,
                 "stack: input 2 is [2,4] but input 1 is [2,3]");
    assert_fails(g, cr_stack(g, 1, &F, 0), CR_ESHAPE,
                 "stack: stacking [1,1,1,1] would give rank 5; the limit is 4");
    assert_fails(g, cr_stack(g, 2, (cr_node *[]){A, A}, 3), CR_EINVAL,
                 "stack: axis 3 out of range for [2,3]");
    assert_fails(g, cr_index_select(g, W, 0, I), CR_EINVAL,
                 "index_select: index 4 at position 1 is out of range for axis 0 of [4,3] "
                 "(0..3)");
    assert_fails(
        g, cr_index_select(g, W, 1, J), CR_EINVAL,
        "index_select: index 1.5 at position 0 is not a whole number for axis 1 of "
        "[4,3] (0..2)");
    assert_fails(
        g, cr_index_select(g, G, 0, K), CR_ESHAPE,
        "index_select: [2,2] indices into axis 0 of [2,2,2,2] give rank 5; the limit "
        "is 4");
    assert_fails(g, cr_index_select(g, W, 2, v), CR_EINVAL,
                 "index_select: axis 2 out of range for [4,3]");
    assert_fails(g, cr_matmul(g, T, U, 0), CR_ESHAPE,
                 "matmul: [2,3,4] x [5,4,2]: batch dimensions 2 and 5 do not broadcast");
    assert_fails(g, cr_matmul(g, v, T, CR_TRANS_A), CR_EINVAL,
                 "matmul: [3] x [2,3,4]: needs vectors, matrices or batches of matrices "
                 "(transpose flags need matrices)");
    assert_fails(g, cr_matmul(g, cr_scalar(g, 2.0), T, 0), CR_ESHAPE,
                 "matmul: [] x [2,3,4]: needs vectors, matrices or batches of matrices "
                 "(transpose flags need matrices)");
    assert_fails(g, cr_matmul(g, T, T, 0), CR_ESHAPE,
                 "matmul: [2,3,4] x [2,3,4]: inner dimensions 4 and 3 differ");
    /* only the scalar constants of the calls above were added */
    for (size_t id = before; id < cr_graph_size(g); id++)
        ck_assert_str_eq(cr_node_op_name(cr_graph_node(g, id)), "const");
    cr_graph_free(g);
}
END_TEST

/* The product of the matrices a[m,k] and b[k,n] by the definition. */
static void naive_product(const double *a, const double *b, size_t m, size_t n, size_t k,
                          double *y)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += a[i * k + p] * b[p * n + j];
            y[i * n + j] = s;
        }
}

/* Batched products against the definition, small (a loop in cr_gemm) and
 * large (CBLAS): a stack times a matrix, stacks broadcast against each
 * other, a vector times a stack; the gradient of a shared matrix sums over
 * the batch. A matrix product gives the same bits as before batches. */
START_TEST(test_matmul_batched_values)
{
    cr_graph *g = cr_graph_new();
    for (size_t big = 0; big < 2; big++) {
        const size_t m = big ? 20 : 3, k = big ? 17 : 4, n = big ? 19 : 2;
        const size_t sa[4] = {2, 3, m, k}, sb[3] = {3, k, n}, sv[1] = {k};
        cr_error err;
        cr_tensor *at = cr_tensor_new(4, sa, &err), *bt = cr_tensor_new(3, sb, &err);
        for (size_t i = 0; i < cr_tensor_size(at); i++)
            cr_tensor_data_mut(at)[i] = sin(0.37 * (double)i + 0.2);
        for (size_t i = 0; i < cr_tensor_size(bt); i++)
            cr_tensor_data_mut(bt)[i] = cos(0.91 * (double)i - 0.4);
        cr_node *A = cr_param(g, NULL, at), *B = cr_param(g, NULL, bt);
        const double *a = cr_tensor_data(at), *b = cr_tensor_data(bt);
        cr_node *Wn = cr_slice(g, B, 0, 1, 2, 1); /* b's second matrix, [1,k,n] */
        cr_node *W = cr_reshape(g, Wn, 2, (const long[]){(long)k, (long)n});
        cr_node *vk =
            cr_reshape(g, cr_slice(g, cr_slice(g, W, 1, 0, 1, 1), 0, 0, LONG_MAX, 1), 1,
                       (const long[]){(long)k});
        ck_assert_ptr_nonnull(vk);
        ck_assert_uint_eq(cr_tensor_size(cr_node_value(vk)), sv[0]);

        double want[2 * 3 * 20 * 19], got;
        /* [2,3,m,k] x [3,k,n] -> [2,3,m,n]: b broadcast over the first dim */
        cr_node *Y = cr_matmul(g, A, B, 0);
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < 3; j++)
                naive_product(a + (i * 3 + j) * m * k, b + j * k * n, m, n, k,
                              want + (i * 3 + j) * m * n);
        for (size_t i = 0; i < 2 * 3 * m * n; i++) {
            got = cr_tensor_get(cr_node_value(Y), i);
            ck_assert_msg(fabs(got - want[i]) <= 1e-13 * (1 + fabs(want[i])),
                          "Y[%zu] = %.17g, expected %.17g", i, got, want[i]);
        }
        /* the same per batch, by cr_matmul of the matrices: same bits */
        cr_node *A12 = cr_reshape(g, cr_slice(g, cr_slice(g, A, 0, 1, 2, 1), 1, 2, 3, 1), 2,
                                  (const long[]){(long)m, (long)k});
        cr_node *B2 =
            cr_reshape(g, cr_slice(g, B, 0, 2, 3, 1), 2, (const long[]){(long)k, (long)n});
        cr_node *Y12 = cr_matmul(g, A12, B2, 0);
        for (size_t i = 0; i < m * n; i++)
            ck_assert(cr_tensor_get(cr_node_value(Y12), i) ==
                      cr_tensor_get(cr_node_value(Y), (1 * 3 + 2) * m * n + i));
        /* a stack times one matrix (one product), and its gradients */
        cr_node *Z = cr_matmul(g, A, W, 0);
        for (size_t s = 0; s < 6; s++)
            naive_product(a + s * m * k, b + k * n, m, n, k, want + s * m * n);
        for (size_t i = 0; i < 6 * m * n; i++)
            ck_assert(fabs(cr_tensor_get(cr_node_value(Z), i) - want[i]) <=
                      1e-13 * (1 + fabs(want[i])));
        cr_node *dW = cr_grad(g, cr_sum(g, Z), W);
        /* d sum(A W)/dW [p][j] = the sum over the batch and rows of A[.., p] */
        for (size_t p = 0; p < k; p++) {
            double s = 0;
            for (size_t r = 0; r < 6 * m; r++)
                s += a[r * k + p];
            for (size_t j = 0; j < n; j++)
                ck_assert(fabs(cr_tensor_get(cr_node_value(dW), p * n + j) - s) <=
                          1e-12 * (1 + fabs(s)));
        }
        /* a vector times a stack: [k] x [3,k,n] -> [3,n] */
        cr_node *V = cr_matmul(g, vk, B, 0);
        ck_assert_int_eq(cr_tensor_rank(cr_node_value(V)), 2);
        for (size_t s = 0; s < 3; s++)
            naive_product(cr_tensor_data(cr_node_value(vk)), b + s * k * n, 1, n, k,
                          want + s * n);
        for (size_t i = 0; i < 3 * n; i++)
            ck_assert(fabs(cr_tensor_get(cr_node_value(V), i) - want[i]) <=
                      1e-13 * (1 + fabs(want[i])));
        cr_tensor_free(at);
        cr_tensor_free(bt);
    }
    cr_graph_free(g);
}
END_TEST

/* The language calls the shape ops by name on tensors built in C; their
 * numeric arguments must be written in the program. */
START_TEST(test_shape_language)
{
    cr_graph *g = cr_graph_new();
    const double a[6] = {0.5, -1.25, 2.0, 3.5, -0.75, 1.0};
    const size_t s23[2] = {2, 3}, s2[1] = {2};
    input_of(g, "X", 2, s23, a);
    input_of(g, "I", 1, s2, (const double[]){2, 0});
    const char *text = "t = transpose(X)\n"
                       "r = reshape(X, 3, -1)\n"
                       "f = flatten(X)\n"
                       "p = permute(X, -1, 0)\n"
                       "s = slice(X, 1, -2, 100)\n"
                       "q = pad(X, 0, 1, 0)\n"
                       "e = index_select(X, 1, I)\n"
                       "m = matmul(X, t)\n"
                       "k = slice(X, 1, 0, 3, 2)\n";
    cr_expr_program *p = NULL;
    cr_error err;
    ck_assert_msg(cr_expr_parse(g, text, strlen(text), &p, &err) == CR_OK, "%s",
                  err.message);
    assert_values(cr_expr_lookup(p, "t")->node, 2, (const size_t[]){3, 2},
                  (const double[]){a[0], a[3], a[1], a[4], a[2], a[5]});
    assert_values(cr_expr_lookup(p, "r")->node, 2, (const size_t[]){3, 2}, a);
    assert_values(cr_expr_lookup(p, "f")->node, 1, (const size_t[]){6}, a);
    assert_values(cr_expr_lookup(p, "p")->node, 2, (const size_t[]){3, 2},
                  (const double[]){a[0], a[3], a[1], a[4], a[2], a[5]});
    assert_values(cr_expr_lookup(p, "s")->node, 2, (const size_t[]){2, 2},
                  (const double[]){a[1], a[2], a[4], a[5]});
    assert_values(cr_expr_lookup(p, "q")->node, 2, (const size_t[]){3, 3},
                  (const double[]){0, 0, 0, a[0], a[1], a[2], a[3], a[4], a[5]});
    assert_values(cr_expr_lookup(p, "e")->node, 2, (const size_t[]){2, 2},
                  (const double[]){a[2], a[0], a[5], a[3]});
    assert_values(cr_expr_lookup(p, "k")->node, 2, (const size_t[]){2, 2},
                  (const double[]){a[0], a[2], a[3], a[5]});
    const cr_tensor *m = cr_node_value(cr_expr_lookup(p, "m")->node);
    ck_assert_uint_eq(cr_tensor_size(m), 4);
    ck_assert_double_eq_tol(cr_tensor_get(m, 1), a[0] * a[3] + a[1] * a[4] + a[2] * a[5],
                            1e-15);
    cr_expr_free(p);

    const struct {
        const char *text, *message;
    } bad[] = {
        {"y = reshape(X, n, 2)", "reshape(): the dimension (argument 2) must be a number"},
        {"y = slice(X, 0.5, 0, 1)",
         "slice(): the axis (argument 2) must be a whole number from -4 to 4, not 0.5"},
        {"y = pad(X, 0, -1, 0)", "pad: the padding -1 and 0 must not be negative"},
        {"y = transpose(x)", "transpose: needs a matrix or a batch of matrices, got []"},
        {"y = flatten(X, 1, 2)", "flatten() takes 1 to 2 arguments, got 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne(cr_expr_parse(g, bad[i].text, strlen(bad[i].text), &p, &err),
                         CR_OK);
        ck_assert_ptr_null(p);
        ck_assert_str_eq(err.message, bad[i].message);
    }
    cr_graph_free(g);
}
END_TEST

/* ---- the new elementwise ops: values, ties, kinks, errors ---- */

/* d sum(y)/dx for y = fn(x) at the given values, through backward. */
static void grad_at(cr_node *(*fn)(cr_graph *, cr_node *, double), double c,
                    const double *x, size_t n, double *value, double *grad)
{
    cr_graph *g = cr_graph_new();
    cr_node *in = cr_input(g, "x", 1, &n);
    cr_node_set_data(in, x, n);
    cr_node_require_grad(in, 1);
    cr_node *y = fn(g, in, c);
    ck_assert_msg(y != NULL, "%s", cr_graph_error(g)->message);
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, y), 0), CR_OK);
    for (size_t i = 0; i < n; i++) {
        value[i] = cr_tensor_get(cr_node_value(y), i);
        grad[i] = cr_tensor_get(cr_node_grad(in), i);
    }
    cr_graph_free(g);
}

static cr_node *f_leaky(cr_graph *g, cr_node *x, double c)
{
    return cr_leaky_relu(g, x, c);
}
static cr_node *f_elu(cr_graph *g, cr_node *x, double c) { return cr_elu(g, x, c); }
static cr_node *f_clamp(cr_graph *g, cr_node *x, double c) { return cr_clamp(g, x, -c, c); }
static cr_node *f_gelu(cr_graph *g, cr_node *x, double c) { return cr_gelu(g, x); }
static cr_node *f_silu(cr_graph *g, cr_node *x, double c) { return cr_silu(g, x); }
static cr_node *f_log1p(cr_graph *g, cr_node *x, double c) { return cr_log1p(g, x); }
static cr_node *f_erf(cr_graph *g, cr_node *x, double c) { return cr_erf(g, x); }
static cr_node *f_square(cr_graph *g, cr_node *x, double c) { return cr_square(g, x); }

/* Values and derivatives at chosen points, kinks included (PyTorch's
 * choices: leaky_relu and elu take the left side at 0, clamp passes the
 * gradient at its bounds). */
START_TEST(test_elementwise_points)
{
    const double x[5] = {-1.5, -0.25, 0.0, 0.5, 2.0};
    double y[5], d[5];
    grad_at(f_leaky, 0.2, x, 5, y, d);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_double_eq(y[i], x[i] > 0 ? x[i] : 0.2 * x[i]);
        ck_assert_double_eq(d[i], x[i] > 0 ? 1.0 : 0.2);
    }
    grad_at(f_elu, 0.5, x, 5, y, d);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(y[i], x[i] > 0 ? x[i] : 0.5 * expm1(x[i]), 1e-16);
        ck_assert_double_eq_tol(d[i], x[i] > 0 ? 1.0 : 0.5 * exp(x[i]), 1e-16);
    }
    grad_at(f_clamp, 0.5, (const double[]){-1.5, -0.5, 0.0, 0.5, 2.0}, 5, y, d);
    const double cy[5] = {-0.5, -0.5, 0.0, 0.5, 0.5}, cd[5] = {0, 1, 1, 1, 0};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_double_eq(y[i], cy[i]);
        ck_assert_double_eq(d[i], cd[i]);
    }
    grad_at(f_gelu, 0, x, 5, y, d);
    for (size_t i = 0; i < 5; i++) {
        const double phi = 0.5 * (1 + erf(x[i] / sqrt(2.0)));
        ck_assert_double_eq_tol(y[i], x[i] * phi, 1e-16);
        ck_assert_double_eq_tol(
            d[i], phi + x[i] * exp(-0.5 * x[i] * x[i]) / sqrt(2 * acos(-1.0)), 1e-15);
    }
    grad_at(f_silu, 0, x, 5, y, d);
    for (size_t i = 0; i < 5; i++) {
        const double s = 1 / (1 + exp(-x[i]));
        ck_assert_double_eq_tol(y[i], x[i] * s, 1e-16);
        ck_assert_double_eq_tol(d[i], s * (1 + x[i] * (1 - s)), 1e-15);
    }
    grad_at(f_log1p, 0, x + 1, 4, y, d);
    grad_at(f_erf, 0, x, 5, y, d);
    ck_assert_double_eq_tol(d[2], 2 / sqrt(acos(-1.0)), 1e-15);
    ck_assert_double_eq_tol(y[4], erf(2.0), 1e-16);
    grad_at(f_square, 0, x, 5, y, d);
    ck_assert_double_eq(y[0], 2.25);
    ck_assert_double_eq(d[0], -3.0);
    /* log1p keeps the digits of tiny arguments */
    cr_graph *g = cr_graph_new();
    ck_assert_double_eq(cr_node_scalar(cr_log1p(g, cr_scalar(g, 1e-300))), 1e-300);
    cr_graph_free(g);
}
END_TEST

/* maximum/minimum: ties split the gradient evenly, NaN propagates;
 * comparisons give 0/1; where selects with broadcasting. */
START_TEST(test_compare_select)
{
    cr_graph *g = cr_graph_new();
    size_t s4[1] = {4};
    cr_node *a = cr_input(g, "a", 1, s4), *b = cr_input(g, "b", 1, s4);
    cr_node_set_data(a, (double[]){1, 2, 3, NAN}, 4);
    cr_node_set_data(b, (double[]){1, 1, 4, 0}, 4);
    cr_node_require_grad(a, 1);
    cr_node_require_grad(b, 1);
    cr_node *mx = cr_maximum(g, a, b), *mn = cr_minimum(g, a, b);
    const double want_max[3] = {1, 2, 4}, want_min[3] = {1, 1, 3};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_value(mx), i), want_max[i]);
        ck_assert_double_eq(cr_tensor_get(cr_node_value(mn), i), want_min[i]);
    }
    ck_assert(isnan(cr_tensor_get(cr_node_value(mx), 3)));
    ck_assert(isnan(cr_tensor_get(cr_node_value(mn), 3)));
    /* the first three elements: gradient of sum(max) and sum(min) */
    size_t s3[1] = {3};
    cr_node *a3 = cr_input(g, "a3", 1, s3), *b3 = cr_input(g, "b3", 1, s3);
    cr_node_set_data(a3, (double[]){1, 2, 3}, 3);
    cr_node_set_data(b3, (double[]){1, 1, 4}, 3);
    cr_node_require_grad(a3, 1);
    cr_node_require_grad(b3, 1);
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, cr_maximum(g, a3, b3)), 0), CR_OK);
    const double da_max[3] = {0.5, 1, 0}, db_max[3] = {0.5, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(a3), i), da_max[i]);
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(b3), i), db_max[i]);
    }
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, cr_minimum(g, a3, b3)), 0), CR_OK);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(a3), i), db_max[i]);
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(b3), i), da_max[i]);
    }
    /* comparisons of [1,2,3] with [1,1,4]; NaN compares false */
    static const struct {
        cr_node *(*fn)(cr_graph *, cr_node *, cr_node *);
        double want[4];
    } cmp[] = {{cr_gt, {0, 1, 0, 0}},
               {cr_ge, {1, 1, 0, 0}},
               {cr_lt, {0, 0, 1, 0}},
               {cr_le, {1, 0, 1, 0}},
               {cr_eq, {1, 0, 0, 0}}};
    for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; k++)
        for (size_t i = 0; i < 4; i++)
            ck_assert_double_eq(cr_tensor_get(cr_node_value(cmp[k].fn(g, a, b)), i),
                                cmp[k].want[i]);
    /* where: a [2,1] condition picks rows of a [2,3] matrix or a scalar */
    size_t s21[2] = {2, 1}, s23[2] = {2, 3};
    cr_node *cond = cr_input(g, "cond", 2, s21), *m = cr_input(g, "m", 2, s23);
    cr_node_set_data(cond, (double[]){0, 1}, 2);
    cr_node_set_data(m, (double[]){1, 2, 3, 4, 5, 6}, 6);
    cr_node_require_grad(m, 1);
    cr_node *w = cr_where(g, cond, m, cr_scalar(g, -7));
    const double want_w[6] = {-7, -7, -7, 4, 5, 6};
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(w), i), want_w[i]);
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, w), 0), CR_OK);
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(m), i), i < 3 ? 0.0 : 1.0);
    cr_graph_free(g);
}
END_TEST

/* Bad arguments: CR_ESHAPE/CR_EINVAL naming the op and the shapes or the
 * values, the graph unchanged. */
START_TEST(test_elementwise_errors)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s4[1] = {4}, s21[2] = {2, 1};
    cr_node *m = cr_input(g, "m", 2, s23), *v = cr_input(g, "v", 1, s4);
    cr_node *c = cr_input(g, "c", 2, s21);
    size_t before = cr_graph_size(g);
    ck_assert_ptr_null(cr_maximum(g, m, v));
    ck_assert_str_eq(cr_graph_error(g)->message, "maximum: [2,3] and [4] do not broadcast");
    ck_assert_ptr_null(cr_ge(g, v, m));
    ck_assert_str_eq(cr_graph_error(g)->message, "ge: [4] and [2,3] do not broadcast");
    ck_assert_ptr_null(cr_where(g, c, m, v));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "where: [2,1], [2,3] and [4] do not broadcast");
    ck_assert_ptr_null(cr_clamp(g, m, 1.0, -1.0));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "clamp: bounds [1, -1]: need lo <= hi, not NaN");
    ck_assert_ptr_null(cr_clamp(g, m, NAN, 1.0));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
    ck_assert_uint_eq(cr_graph_size(g), before);
    /* a NULL input keeps the error that made it */
    ck_assert_ptr_null(cr_clamp(g, cr_maximum(g, m, v), 0, 1));
    ck_assert_str_eq(cr_graph_error(g)->message, "maximum: [2,3] and [4] do not broadcast");
    ck_assert_ptr_null(cr_leaky_relu(g, NULL, 0.1));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    cr_graph_free(g);
}
END_TEST

/* ---- reductions: values, ties, NaN, shapes, errors ---- */

/* Shape of v as text, for comparisons. */
static const char *shape_of(const cr_node *v)
{
    static char text[64];
    const cr_tensor *t = cr_node_value(v);
    cr_shape_format(text, sizeof text, cr_tensor_rank(t), cr_tensor_shape(t));
    return text;
}

START_TEST(test_reduction_values)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3};
    /* row 0 has its maximum twice, row 1 its minimum twice */
    const double v[6] = {1, 5, 5, -2, -2, 0.5};
    cr_node *x = cr_input(g, "x", 2, s23);
    cr_node_set_data(x, v, 6);
    cr_node_require_grad(x, 1);
    /* shapes: removed, kept, negative axes, over everything */
    ck_assert_str_eq(shape_of(cr_max_dim(g, x, 1, 0)), "[2]");
    ck_assert_str_eq(shape_of(cr_max_dim(g, x, -1, 1)), "[2,1]");
    ck_assert_str_eq(shape_of(cr_logsumexp_dim(g, x, -2, 1)), "[1,3]");
    ck_assert_str_eq(shape_of(cr_argmax_dim(g, x, 0, 0)), "[3]");
    ck_assert_str_eq(shape_of(cr_sum_dim(g, x, 0, 1)), "[1,3]");
    ck_assert_str_eq(shape_of(cr_min(g, x)), "[]");
    /* values */
    const cr_tensor *t = cr_node_value(cr_max_dim(g, x, 1, 0));
    ck_assert_double_eq(cr_tensor_get(t, 0), 5);
    ck_assert_double_eq(cr_tensor_get(t, 1), 0.5);
    t = cr_node_value(cr_min_dim(g, x, 1, 1));
    ck_assert_double_eq(cr_tensor_get(t, 0), 1);
    ck_assert_double_eq(cr_tensor_get(t, 1), -2);
    t = cr_node_value(cr_argmax_dim(g, x, 1, 0)); /* the first maximum */
    ck_assert_double_eq(cr_tensor_get(t, 0), 1);
    ck_assert_double_eq(cr_tensor_get(t, 1), 2);
    t = cr_node_value(cr_argmax_dim(g, x, 0, 1));
    const double am0[3] = {0, 0, 0};
    for (size_t j = 0; j < 3; j++)
        ck_assert_double_eq(cr_tensor_get(t, j), am0[j]);
    ck_assert_double_eq(cr_node_scalar(cr_argmax(g, x)), 1); /* flat index */
    ck_assert_double_eq(cr_node_scalar(cr_max(g, x)), 5);
    ck_assert_double_eq(cr_node_scalar(cr_min(g, x)), -2);
    t = cr_node_value(cr_logsumexp_dim(g, x, 1, 0));
    ck_assert_double_eq_tol(cr_tensor_get(t, 0), log(exp(1) + 2 * exp(5)), 1e-14);
    ck_assert_double_eq_tol(cr_tensor_get(t, 1), log(2 * exp(-2) + exp(0.5)), 1e-14);
    /* gradients: along an axis the first extreme element takes it all;
     * over all elements the ties share it */
    static const struct {
        cr_node *(*dim)(cr_graph *, cr_node *, int, int);
        cr_node *(*all)(cr_graph *, cr_node *);
        double along[6], over_all[6];
    } grads[] = {
        {cr_max_dim, cr_max, {0, 1, 0, 0, 0, 1}, {0, 0.5, 0.5, 0, 0, 0}},
        {cr_min_dim, cr_min, {1, 0, 0, 1, 0, 0}, {0, 0, 0, 0.5, 0.5, 0}},
    };
    for (size_t k = 0; k < 2; k++) {
        ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, grads[k].dim(g, x, 1, 0)), 0),
                         CR_OK);
        for (size_t i = 0; i < 6; i++)
            ck_assert_double_eq(cr_tensor_get(cr_node_grad(x), i), grads[k].along[i]);
        ck_assert_int_eq(cr_graph_backward(g, grads[k].all(g, x), 0), CR_OK);
        for (size_t i = 0; i < 6; i++)
            ck_assert_double_eq(cr_tensor_get(cr_node_grad(x), i), grads[k].over_all[i]);
    }
    /* argmax has no gradient */
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, cr_argmax_dim(g, x, 0, 0)), 0), CR_OK);
    ck_assert_double_eq(test_max_abs(cr_node_grad(x)), 0.0);
    /* logsumexp of huge and of infinite values stays exact */
    size_t s3[1] = {3};
    cr_node *big = cr_input(g, "big", 1, s3);
    cr_node_set_data(big, (double[]){1000, 1000, -INFINITY}, 3);
    ck_assert_double_eq_tol(cr_node_scalar(cr_logsumexp(g, big)), 1000 + log(2.0), 1e-12);
    cr_node_set_data(big, (double[]){-INFINITY, -INFINITY, -INFINITY}, 3);
    ck_assert_int_eq(cr_graph_forward(g, cr_logsumexp(g, big)), CR_OK);
    ck_assert(isinf(cr_node_scalar(cr_logsumexp(g, big))));
    /* NaN is maximal (and minimal) and wins, as in PyTorch */
    cr_node_set_data(big, (double[]){1, NAN, 3}, 3);
    ck_assert(isnan(cr_node_scalar(cr_max(g, big))));
    ck_assert(isnan(cr_node_scalar(cr_min(g, big))));
    ck_assert_double_eq(cr_node_scalar(cr_argmax(g, big)), 1);
    cr_graph_free(g);
}
END_TEST

/* A graph of every shape and indexing op and a batched product trains
 * with no allocation per step once its first backward is built. */
START_TEST(test_shape_ops_zero_alloc)
{
    test_alloc_install(0);
    cr_graph *g = cr_graph_new();
    const size_t sx[2] = {4, 6}, si[1] = {4}, sw[2] = {5, 3}, sv[2] = {3, 4};
    cr_error err;
    cr_tensor *wt = cr_tensor_new(2, sw, &err), *vt = cr_tensor_new(2, sv, &err);
    for (size_t i = 0; i < 15; i++)
        cr_tensor_data_mut(wt)[i] = 0.1 * sin((double)i);
    for (size_t i = 0; i < 12; i++)
        cr_tensor_data_mut(vt)[i] = 0.1 * cos((double)i);
    cr_node *W = cr_param(g, "W", wt), *V = cr_param(g, "V", vt);
    cr_tensor_free(wt);
    cr_tensor_free(vt);
    cr_node *X = cr_input(g, "X", 2, sx), *I = cr_input(g, "I", 1, si);
    cr_node_set_data(I, (const double[]){4, 0, 4, 2}, 4);
    cr_node *a = cr_reshape(g, X, 3, (const long[]){4, 2, 3}); /* [4,2,3] */
    cr_node *p = cr_permute(g, a, 3, (const int[]){1, 0, 2});  /* [2,4,3] */
    cr_node *t = cr_transpose(g, p);                           /* [2,3,4] */
    cr_node *s = cr_slice(g, t, -1, 0, 4, 2);                  /* [2,3,2] */
    cr_node *e = cr_index_select(g, W, 0, I);                  /* [4,3] */
    cr_node *ev = cr_reshape(g, cr_matmul(g, e, V, 0), 3, (const long[]){2, 2, -1});
    cr_node *c = cr_concat(g, 2, (cr_node *[]){cr_pad(g, s, 2, 1, 1), ev}, 1); /* [2,5,4] */
    cr_node *y = cr_matmul(g, c, e, 0);                                        /* [2,5,3] */
    cr_node *st = cr_stack(g, 2, (cr_node *[]){y, cr_tanh(g, y)}, 0); /* [2,2,5,3] */
    cr_node *loss = cr_sum(g, cr_mul(g, cr_flatten(g, st, 1), cr_flatten(g, st, 1)));
    ck_assert_msg(loss != NULL, "%s", cr_graph_error(g)->message);
    double buf[16];
    size_t before = 0;
    double first = 0, last = 0;
    for (int step = 0; step < 12; step++) {
        double x[24];
        for (int i = 0; i < 24; i++)
            x[i] = sin(0.7 * i + step % 2);
        ck_assert_int_eq(cr_node_set_data(X, x, 24), CR_OK);
        ck_assert_int_eq(cr_node_set_data(I,
                                          step % 2 ? (const double[]){1, 3, 3, 0}
                                                   : (const double[]){4, 0, 4, 2},
                                          4),
                         CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
        ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
        for (size_t k = 0; k < cr_graph_num_params(g); k++) {
            cr_node *q = cr_graph_param(g, k);
            const size_t n = cr_tensor_size(cr_node_value(q));
            for (size_t i = 0; i < n; i++)
                buf[i] = cr_tensor_get(cr_node_value(q), i) -
                         0.01 * cr_tensor_get(cr_node_grad(q), i);
            ck_assert_int_eq(cr_node_set_data(q, buf, n), CR_OK);
        }
        if (step == 0)
            first = cr_node_scalar(loss);
        if (step == 1)
            before = test_alloc.allocations;
        last = cr_node_scalar(loss);
    }
    ck_assert_uint_eq(test_alloc.allocations, before);
    ck_assert(isfinite(last));
    ck_assert_double_ne(first, last);
    cr_graph_free(g);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

START_TEST(test_reduction_errors)
{
    cr_graph *g = cr_graph_new();
    size_t s34[2] = {3, 4};
    cr_node *x = cr_input(g, "x", 2, s34);
    size_t before = cr_graph_size(g);
    static const struct {
        cr_node *(*fn)(cr_graph *, cr_node *, int, int);
        int axis;
        const char *message;
    } bad[] = {
        {cr_sum_dim, 2, "sum: axis 2 out of range for [3,4]"},
        {cr_mean_dim, -3, "mean: axis -3 out of range for [3,4]"},
        {cr_max_dim, 5, "max: axis 5 out of range for [3,4]"},
        {cr_min_dim, -7, "min: axis -7 out of range for [3,4]"},
        {cr_logsumexp_dim, 2, "logsumexp: axis 2 out of range for [3,4]"},
        {cr_argmax_dim, 3, "argmax: axis 3 out of range for [3,4]"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_ptr_null(bad[k].fn(g, x, bad[k].axis, k % 2));
        ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
        ck_assert_str_eq(cr_graph_error(g)->message, bad[k].message);
    }
    ck_assert_ptr_null(cr_sum_axis(g, cr_scalar(g, 1.0), 0));
    ck_assert_str_eq(cr_graph_error(g)->message, "sum: axis 0 out of range for []");
    ck_assert_uint_eq(cr_graph_size(g), before + 1);
    cr_graph_free(g);
}
END_TEST

/* A training step over a graph using every op of this family (general
 * broadcasts included) allocates nothing once the first backward built the
 * gradient graph. */
START_TEST(test_steady_state_allocations)
{
    test_alloc_install(0);
    cr_graph *g = cr_graph_new();
    size_t s43[2] = {4, 3}, s13[2] = {1, 3}, s41[2] = {4, 1};
    cr_node *x = cr_input(g, "x", 2, s43);
    cr_tensor *t13 = cr_tensor_new_from(2, s13, (double[]){0.3, -0.8, 1.1}, NULL);
    cr_tensor *t41 = cr_tensor_new_from(2, s41, (double[]){-0.6, 0.9, 0.2, 1.4}, NULL);
    cr_node *row = cr_param(g, "row", t13), *col = cr_param(g, "col", t41);
    cr_tensor_free(t13);
    cr_tensor_free(t41);
    cr_node *centred = cr_sub(g, x, cr_mean_dim(g, x, 1, 1));
    cr_node *h = cr_maximum(g, cr_leaky_relu(g, centred, 0.1), cr_mul(g, row, col));
    cr_node *w = cr_where(g, cr_gt(g, x, cr_scalar(g, 0.0)), h, cr_elu(g, col, 1.0));
    cr_node *r = cr_sub(g, cr_logsumexp_dim(g, w, 1, 1), cr_max_dim(g, w, 0, 1));
    cr_node *loss =
        cr_add(g, cr_sum(g, cr_square(g, cr_clamp(g, r, -2.0, 2.0))),
               cr_add(g, cr_mean(g, cr_mul(g, cr_gelu(g, row), cr_silu(g, col))),
                      cr_log1p(g, cr_square(g, cr_minimum(g, cr_min(g, h),
                                                          cr_erf(g, cr_max(g, w)))))));
    ck_assert_msg(loss != NULL, "%s", cr_graph_error(g)->message);
    double v[12];
    for (size_t step = 0; step < 12; step++) {
        if (step == 2)
            test_alloc.allocations = 0; /* from here on, nothing */
        for (size_t i = 0; i < 12; i++)
            v[i] = sin(1.7 * (double)(i + step)) * 2.0;
        ck_assert_int_eq(cr_node_set_data(x, v, 12), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
        ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    }
    ck_assert_uint_eq(test_alloc.allocations, 0);
    ck_assert_double_gt(test_max_abs(cr_node_grad(row)), 0.0);
    ck_assert_double_gt(test_max_abs(cr_node_grad(col)), 0.0);
    cr_graph_free(g);
    test_alloc_uninstall();
}
END_TEST

/* ---- broadcasting ---- */

/* An input of the given shape holding 0.37 * (i + 1) - 2 at flat index i. */
static cr_node *ramp_input(cr_graph *g, int rank, const size_t *shape)
{
    cr_node *x = cr_input(g, NULL, rank, shape);
    ck_assert_ptr_nonnull(x);
    size_t n = cr_tensor_size(cr_node_value(x));
    double v[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        v[i] = 0.37 * (double)(i + 1) - 2.0;
    ck_assert_int_eq(cr_node_set_data(x, v, n), CR_OK);
    return x;
}

/* The flat index into t of the output element at multi-index idx of a
 * rank-`rank` broadcast (NumPy's rule, written out). */
static size_t source_index(const cr_tensor *t, int rank, const size_t *idx)
{
    size_t at = 0;
    for (int d = 0; d < cr_tensor_rank(t); d++) {
        size_t dim = cr_tensor_dim(t, d), i = idx[rank - cr_tensor_rank(t) + d];
        at = at * dim + (dim == 1 ? 0 : i);
    }
    return at;
}

/* sub and div on pairs of shapes that take every path of the kernel (same
 * shape, scalar, block, column, outer, stretched inside), against the rule
 * written out, and each operand's gradient against the sums written out. */
START_TEST(test_broadcast_values)
{
    static const struct {
        int ra, rb;
        size_t a[4], b[4], out[4];
    } pairs[] = {
        {2, 2, {3, 4}, {3, 4}, {3, 4}},
        {2, 0, {3, 4}, {0}, {3, 4}},
        {0, 2, {0}, {3, 4}, {3, 4}},
        {2, 1, {3, 4}, {4}, {3, 4}},
        {2, 2, {3, 4}, {1, 4}, {3, 4}},
        {1, 2, {4}, {3, 4}, {3, 4}},
        {2, 2, {3, 4}, {3, 1}, {3, 4}},
        {2, 2, {3, 1}, {3, 4}, {3, 4}},
        {2, 2, {3, 1}, {1, 4}, {3, 4}},
        {3, 2, {2, 3, 4}, {3, 1}, {2, 3, 4}},
        {3, 3, {2, 1, 4}, {1, 3, 1}, {2, 3, 4}},
        {4, 3, {2, 1, 3, 1}, {2, 1, 2}, {2, 2, 3, 2}},
        {2, 2, {1, 1}, {3, 1}, {3, 1}},
        {3, 1, {2, 3, 1}, {1}, {2, 3, 1}},
    };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        cr_graph *g = cr_graph_new();
        cr_node *a = ramp_input(g, pairs[p].ra, pairs[p].a);
        cr_node *b = cr_scale(g, ramp_input(g, pairs[p].rb, pairs[p].b), -0.5);
        cr_node_require_grad(a, 1);
        cr_node *y =
            cr_div(g, cr_sub(g, a, b), cr_add(g, cr_abs(g, b), cr_scalar(g, 0.25)));
        ck_assert_msg(y != NULL, "pair %zu: %s", p, cr_graph_error(g)->message);
        const cr_tensor *vy = cr_node_value(y), *va = cr_node_value(a),
                        *vb = cr_node_value(b);
        const int rank = cr_tensor_rank(vy);
        ck_assert_int_eq(rank, pairs[p].ra > pairs[p].rb ? pairs[p].ra : pairs[p].rb);
        for (int d = 0; d < rank; d++)
            ck_assert_uint_eq(cr_tensor_dim(vy, d), pairs[p].out[d]);
        /* d sum(y * w) / da: w / (|b| + 0.25) summed over a's stretched axes */
        cr_node *w = ramp_input(g, rank, pairs[p].out);
        ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, cr_mul(g, y, w)), 0), CR_OK);
        double want_grad[64] = {0};
        size_t idx[4] = {0};
        for (size_t i = 0; i < cr_tensor_size(vy); i++) {
            size_t ia = source_index(va, rank, idx), ib = source_index(vb, rank, idx);
            double bv = cr_tensor_get(vb, ib), den = fabs(bv) + 0.25;
            ck_assert_double_eq(cr_tensor_get(vy, i), (cr_tensor_get(va, ia) - bv) / den);
            want_grad[ia] += cr_tensor_get(cr_node_value(w), i) / den;
            for (int d = rank - 1; d >= 0 && ++idx[d] == pairs[p].out[d]; d--)
                idx[d] = 0;
        }
        for (size_t i = 0; i < cr_tensor_size(va); i++)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(a), i), want_grad[i], 1e-13);
        cr_graph_free(g);
    }
}
END_TEST

/* The square-matrix case: x - mean(x, axis 1, keepdims) subtracts each
 * row's mean; x - mean_axis(x, 1) ([N,N] - [N]) subtracts the means as a
 * row, as NumPy does. */
START_TEST(test_broadcast_square_rows)
{
    cr_graph *g = cr_graph_new();
    size_t s33[2] = {3, 3};
    const double v[9] = {1, 2, 6, -3, 0.5, 4, 10, 20, 60};
    cr_node *x = cr_input(g, "x", 2, s33);
    cr_node_set_data(x, v, 9);
    const double mean[3] = {3, 0.5, 30};
    const cr_tensor *rows = cr_node_value(cr_sub(g, x, cr_mean_dim(g, x, 1, 1)));
    const cr_tensor *as_row = cr_node_value(cr_sub(g, x, cr_mean_axis(g, x, 1)));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            ck_assert_double_eq_tol(cr_tensor_get(rows, 3 * i + j), v[3 * i + j] - mean[i],
                                    1e-14);
            ck_assert_double_eq_tol(cr_tensor_get(as_row, 3 * i + j),
                                    v[3 * i + j] - mean[j], 1e-14);
        }
    cr_graph_free(g);
}
END_TEST

/* Shapes that do not broadcast: CR_ESHAPE naming the op and both shapes,
 * and the graph unchanged. */
START_TEST(test_broadcast_errors)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s43[2] = {4, 3}, s2[1] = {2}, s231[3] = {2, 3, 1},
           s22[2] = {2, 2};
    cr_node *a = cr_input(g, "a", 2, s23), *b = cr_input(g, "b", 2, s43);
    cr_node *v2 = cr_input(g, "v", 1, s2), *c = cr_input(g, "c", 3, s231);
    cr_node *d = cr_input(g, "d", 2, s22);
    size_t before = cr_graph_size(g);
    static const struct {
        cr_node *(*fn)(cr_graph *, cr_node *, cr_node *);
        int a, b;
        const char *message;
    } bad[] = {
        {cr_add, 0, 1, "add: [2,3] and [4,3] do not broadcast"},
        {cr_sub, 0, 2, "sub: [2,3] and [2] do not broadcast"},
        {cr_mul, 2, 0, "mul: [2] and [2,3] do not broadcast"},
        {cr_div, 3, 4, "div: [2,3,1] and [2,2] do not broadcast"},
        {cr_pow, 1, 0, "pow: [4,3] and [2,3] do not broadcast"},
    };
    cr_node *nodes[5] = {a, b, v2, c, d};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_ptr_null(bad[k].fn(g, nodes[bad[k].a], nodes[bad[k].b]));
        ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
        ck_assert_str_eq(cr_graph_error(g)->message, bad[k].message);
        ck_assert_uint_eq(cr_graph_size(g), before);
    }
    /* [2,3,1] and [3,1] broadcast ([3,1] stretches over the batch) */
    ck_assert_ptr_nonnull(
        cr_add(g, c, cr_transpose(g, cr_input(g, "e", 2, (size_t[]){1, 3}))));
    cr_graph_free(g);
}
END_TEST

/* The vectorised sigmoid and tanh (kernels.c) stay within 4 units in the
 * last place of long-double references over every range that matters, give
 * the same bits from the array loops (whole blocks and tails) as one value
 * at a time, and keep the special values: NaN (its sign too), infinities,
 * -0, the saturation and the sigmoid's underflow to 0 at -708. */
START_TEST(test_sigmoid_tanh_kernels)
{
    enum { N = 1003 };
    static double x[N], ys[N], yt[N];
    const double ranges[] = {1e-300, 1e-9, 1e-3, 0.3, 1.0, 3.0, 10.0, 40.0, 700.0};
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
        for (size_t i = 0; i < N; i++)
            x[i] = ranges[r] * sin(0.7 * (double)i + 0.1 * (double)r);
        cr_sigmoid_array(ys, x, N);
        cr_tanh_array(yt, x, N);
        for (size_t i = 0; i < N; i++) {
            const long double v = x[i], e = expl(-fabsl(v));
            const double s = (double)(v >= 0 ? 1.0L / (1.0L + e) : e / (1.0L + e));
            const double t = (double)tanhl(v);
            ck_assert_msg(fabs(ys[i] - s) <= 4 * DBL_EPSILON * s,
                          "sigmoid(%.17g) = %.17g, not %.17g", x[i], ys[i], s);
            ck_assert_msg(fabs(yt[i] - t) <= 4 * DBL_EPSILON * fabs(t),
                          "tanh(%.17g) = %.17g, not %.17g", x[i], yt[i], t);
            ck_assert(memcmp(&ys[i], &(double){cr_sigmoid_value(x[i])}, sizeof(double)) ==
                      0);
            ck_assert(memcmp(&yt[i], &(double){cr_tanh_value(x[i])}, sizeof(double)) == 0);
        }
    }
    ck_assert(isnan(cr_sigmoid_value(NAN)) && !signbit(cr_sigmoid_value(NAN)));
    ck_assert(isnan(cr_sigmoid_value(-NAN)) && signbit(cr_sigmoid_value(-NAN)));
    ck_assert(isnan(cr_tanh_value(NAN)) && !signbit(cr_tanh_value(NAN)));
    ck_assert(isnan(cr_tanh_value(-NAN)) && signbit(cr_tanh_value(-NAN)));
    ck_assert_double_eq(cr_sigmoid_value(INFINITY), 1.0);
    ck_assert_double_eq(cr_sigmoid_value(-INFINITY), 0.0);
    ck_assert_double_eq(cr_sigmoid_value(0.0), 0.5);
    ck_assert_double_eq(cr_sigmoid_value(-708.0), 0.0);
    ck_assert_double_eq(cr_sigmoid_value(-1e308), 0.0);
    ck_assert_double_eq(cr_sigmoid_value(40.0), 1.0);
    ck_assert_double_eq(cr_tanh_value(INFINITY), 1.0);
    ck_assert_double_eq(cr_tanh_value(-INFINITY), -1.0);
    ck_assert_double_eq(cr_tanh_value(25.0), 1.0);
    ck_assert(cr_tanh_value(-0.0) == 0.0 && signbit(cr_tanh_value(-0.0)));
    ck_assert_double_eq(cr_tanh_value(4.9e-324), 4.9e-324);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_op_gradients, 0, (int)cr_builtin_op_count);
    tcase_add_test(tc, test_every_op_has_a_case);
    tcase_add_test(tc, test_softmax_xent_extreme_logits);
    tcase_add_test(tc, test_forward_values);
    tcase_add_test(tc, test_broadcast_values);
    tcase_add_test(tc, test_elementwise_points);
    tcase_add_test(tc, test_sigmoid_tanh_kernels);
    tcase_add_test(tc, test_compare_select);
    tcase_add_test(tc, test_elementwise_errors);
    tcase_add_test(tc, test_reduction_values);
    tcase_add_test(tc, test_reduction_errors);
    tcase_add_test(tc, test_steady_state_allocations);
    tcase_add_test(tc, test_broadcast_square_rows);
    tcase_add_test(tc, test_broadcast_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("shapes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shape_values);
    tcase_add_test(tc, test_index_select_values);
    tcase_add_test(tc, test_weight_gradient_one_product);
    tcase_add_test(tc, test_index_select_rows_stacked);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_test(tc, test_matmul_batched_values);
    tcase_add_test(tc, test_shape_language);
    tcase_add_test(tc, test_shape_ops_zero_alloc);
    suite_add_tcase(s, tc);
    return s;
}
