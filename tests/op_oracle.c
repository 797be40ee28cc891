/*
 * op_oracle.c - evaluates one op at a time for the cross-check against
 * PyTorch (tests/crosscheck_ops.py): value, gradient and Hessian-vector
 * product of every differentiable input, computed through chainrule's
 * graph ops (the gradient and the HVP are graph nodes, cr_grad of cr_grad).
 *
 * Reads cases from standard input, one block per case:
 *
 *     case NAME               the op, by its name in the builder table below
 *     int KEY V1 V2 ...       integer parameters (a list)
 *     real KEY V              real parameters
 *     in RANK D1..DR V...     a differentiable input (row-major values)
 *     const RANK D1..DR V...  an input without gradient (indices, masks)
 *     dy V...                 the upstream gradient, shaped like the output
 *     v V...                  the HVP direction of the next differentiable
 *                             input (one `v` line per `in`, in order)
 *     end
 *
 * For each case writes either `error STATUS MESSAGE` or
 *
 *     y RANK D1..DR V...      the op's value
 *     g V...                  d(sum(y * dy))/d(input), per differentiable input
 *     h V...                  d(sum_i sum(g_i * v_i))/d(input), per input
 *
 * with every number in %.17g. A case is built in a graph of its own.
 * `op_oracle --list` prints the names of the ops it can build.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <chainrule.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 8
#define MAX_PARAMS 16
#define MAX_LIST 8

typedef struct param {
    char key[32];
    int is_real;
    long ints[MAX_LIST];
    int n_ints;
    double real;
} param;

typedef struct oracle_case {
    char op[64];
    param params[MAX_PARAMS];
    int n_params;
    cr_tensor *inputs[MAX_INPUTS];
    int differentiable[MAX_INPUTS];
    int n_inputs;
    double *dy, *v[MAX_INPUTS];
    size_t n_dy, n_v[MAX_INPUTS];
    int n_v_lines;
} oracle_case;

static const param *find_param(const oracle_case *c, const char *key)
{
    for (int i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].key, key) == 0)
            return &c->params[i];
    return NULL;
}

/* Integer parameter key (its first value), or def. */
static long int_param(const oracle_case *c, const char *key, long def)
{
    const param *p = find_param(c, key);
    return p && !p->is_real && p->n_ints > 0 ? p->ints[0] : def;
}

/* Real parameter key, or def. */
static double real_param(const oracle_case *c, const char *key, double def)
{
    const param *p = find_param(c, key);
    return p && p->is_real ? p->real : def;
}

/* ---- the builders: one per op name ---- */

typedef cr_node *(*builder)(cr_graph *g, cr_node **in, const oracle_case *c);

#define BINARY(NAME)                                                                       \
    static cr_node *build_##NAME(cr_graph *g, cr_node **in, const oracle_case *c)          \
    {                                                                                      \
        (void)c;                                                                           \
        return cr_##NAME(g, in[0], in[1]);                                                 \
    }
#define UNARY(NAME)                                                                        \
    static cr_node *build_##NAME(cr_graph *g, cr_node **in, const oracle_case *c)          \
    {                                                                                      \
        (void)c;                                                                           \
        return cr_##NAME(g, in[0]);                                                        \
    }
BINARY(add)
BINARY(sub)
BINARY(mul)
BINARY(div)
BINARY(pow)
BINARY(sq_error)
BINARY(mse)
BINARY(softmax_xent)
BINARY(bce)
BINARY(bce_logits)
UNARY(neg)
UNARY(exp)
UNARY(log)
UNARY(sqrt)
UNARY(abs)
UNARY(sign)
UNARY(sin)
UNARY(cos)
UNARY(tanh)
UNARY(sigmoid)
UNARY(relu)
UNARY(softplus)
UNARY(sum)
UNARY(mean)
UNARY(transpose)
UNARY(softmax)
BINARY(maximum)
BINARY(minimum)
BINARY(gt)
BINARY(ge)
BINARY(lt)
BINARY(le)
BINARY(eq)
UNARY(square)
UNARY(log1p)
UNARY(erf)
UNARY(gelu)
UNARY(silu)
UNARY(detach)

static cr_node *build_leaky_relu(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_leaky_relu(g, in[0], real_param(c, "slope", CR_LEAKY_RELU_SLOPE));
}
static cr_node *build_elu(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_elu(g, in[0], real_param(c, "alpha", CR_ELU_ALPHA));
}
static cr_node *build_clamp(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_clamp(g, in[0], real_param(c, "lo", 0.0), real_param(c, "hi", 1.0));
}
/* where(cond, a, b): cond is the first input (a `const` line) */
static cr_node *build_where(cr_graph *g, cr_node **in, const oracle_case *c)
{
    (void)c;
    return cr_where(g, in[0], in[1], in[2]);
}

static cr_node *build_scale(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_scale(g, in[0], real_param(c, "c", 1.0));
}
static cr_node *build_powc(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_powc(g, in[0], real_param(c, "p", 1.0));
}
static cr_node *build_sum_axis(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_sum_axis(g, in[0], (int)int_param(c, "axis", 0));
}
static cr_node *build_mean_axis(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_mean_axis(g, in[0], (int)int_param(c, "axis", 0));
}
/* Reductions along `axis`, keeping it when `keepdims` is 1. */
#define REDUCE_DIM(NAME)                                                                   \
    static cr_node *build_##NAME##_dim(cr_graph *g, cr_node **in, const oracle_case *c)    \
    {                                                                                      \
        return cr_##NAME##_dim(g, in[0], (int)int_param(c, "axis", 0),                     \
                               (int)int_param(c, "keepdims", 0));                          \
    }
UNARY(max)
UNARY(min)
UNARY(logsumexp)
UNARY(argmax)
REDUCE_DIM(sum)
REDUCE_DIM(mean)
REDUCE_DIM(max)
REDUCE_DIM(min)
REDUCE_DIM(logsumexp)
REDUCE_DIM(argmax)

static cr_node *build_matmul(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_matmul(g, in[0], in[1], (unsigned)int_param(c, "flags", 0));
}

/* ---- shapes and indexing ---- */

/* The integer list parameter key into out (at most MAX_LIST); its length. */
static int list_param(const oracle_case *c, const char *key, long *out)
{
    const param *p = find_param(c, key);
    if (!p || p->is_real)
        return 0;
    memcpy(out, p->ints, (size_t)p->n_ints * sizeof *out);
    return p->n_ints;
}
static cr_node *build_reshape(cr_graph *g, cr_node **in, const oracle_case *c)
{
    long dims[MAX_LIST];
    int rank = list_param(c, "shape", dims);
    return cr_reshape(g, in[0], rank, dims);
}
static cr_node *build_flatten(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_flatten(g, in[0], (int)int_param(c, "start", 0));
}
static cr_node *build_permute(cr_graph *g, cr_node **in, const oracle_case *c)
{
    long axes[MAX_LIST];
    int axes_int[MAX_LIST], n = list_param(c, "axes", axes);
    for (int i = 0; i < n; i++)
        axes_int[i] = (int)axes[i];
    return cr_permute(g, in[0], n, axes_int);
}
static cr_node *build_slice(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_slice(g, in[0], (int)int_param(c, "axis", 0), int_param(c, "start", 0),
                    int_param(c, "stop", 0), int_param(c, "step", 1));
}
static cr_node *build_pad(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_pad(g, in[0], (int)int_param(c, "axis", 0), (size_t)int_param(c, "before", 0),
                  (size_t)int_param(c, "after", 0));
}
static cr_node *build_concat(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_concat(g, (size_t)c->n_inputs, in, (int)int_param(c, "axis", 0));
}
static cr_node *build_stack(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_stack(g, (size_t)c->n_inputs, in, (int)int_param(c, "axis", 0));
}
/* index_select of input 1 by the indices of input 2 (a constant) */
static cr_node *build_index_select(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_index_select(g, in[0], (int)int_param(c, "axis", 0), in[1]);
}

/* sop over `pairs` pairs of inputs (x1, w1, x2, w2, ...), with a last
 * input as the bias when `bias` is 1. */
static cr_node *build_sop(cr_graph *g, cr_node **in, const oracle_case *c)
{
    size_t pairs = (size_t)int_param(c, "pairs", 1);
    cr_node *xs[MAX_INPUTS / 2], *ws[MAX_INPUTS / 2];
    if (pairs == 0 || pairs > MAX_INPUTS / 2)
        return NULL;
    for (size_t i = 0; i < pairs; i++) {
        xs[i] = in[2 * i];
        ws[i] = in[2 * i + 1];
    }
    return cr_sop(g, pairs, xs, ws, int_param(c, "bias", 0) ? in[2 * pairs] : NULL);
}

/* Along an axis (int axis): softmax, log_softmax, softmax_xent. */
static cr_node *build_softmax_axis(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_softmax_axis(g, in[0], (int)int_param(c, "axis", -1));
}
static cr_node *build_log_softmax(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_log_softmax(g, in[0], (int)int_param(c, "axis", -1));
}
static cr_node *build_softmax_xent_axis(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_softmax_xent_axis(g, in[0], in[1], (int)int_param(c, "axis", -1));
}
/* cross_entropy(logits, classes): the classes a const input */
static cr_node *build_cross_entropy(cr_graph *g, cr_node **in, const oracle_case *c)
{
    (void)c;
    return cr_cross_entropy(g, in[0], in[1]);
}
static cr_node *build_huber(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_huber(g, in[0], in[1], real_param(c, "delta", 1.0));
}

/* ---- neural-network ops ---- */

/* Integer list parameter key into out[n] (each def when absent or short). */
static void int_list(const oracle_case *c, const char *key, size_t *out, int n, size_t def)
{
    const param *p = find_param(c, key);
    for (int i = 0; i < n; i++)
        out[i] = p && !p->is_real && i < p->n_ints ? (size_t)p->ints[i] : def;
}

/* conv2d(x, w[, b]) with int lists stride, padding, dilation (2 each),
 * groups, and bias 1 when input 3 is the bias. */
static cr_node *build_conv2d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    size_t stride[2], padding[2], dilation[2];
    int_list(c, "stride", stride, 2, 1);
    int_list(c, "padding", padding, 2, 0);
    int_list(c, "dilation", dilation, 2, 1);
    return cr_conv2d(g, in[0], in[1], int_param(c, "bias", 0) ? in[2] : NULL, stride,
                     padding, dilation, (size_t)int_param(c, "groups", 1));
}
static cr_node *build_conv1d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_conv1d(g, in[0], in[1], int_param(c, "bias", 0) ? in[2] : NULL,
                     (size_t)int_param(c, "stride", 1), (size_t)int_param(c, "padding", 0),
                     (size_t)int_param(c, "dilation", 1),
                     (size_t)int_param(c, "groups", 1));
}

/* Pooling: int lists kernel, stride (0: the kernel), padding. */
static cr_node *build_pool2d(cr_graph *g, cr_node **in, const oracle_case *c, int max)
{
    size_t kernel[2], stride[2], padding[2];
    int_list(c, "kernel", kernel, 2, 1);
    int_list(c, "stride", stride, 2, 0);
    int_list(c, "padding", padding, 2, 0);
    return max ? cr_max_pool2d(g, in[0], kernel, stride, padding)
               : cr_avg_pool2d(g, in[0], kernel, stride, padding);
}
static cr_node *build_max_pool2d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return build_pool2d(g, in, c, 1);
}
static cr_node *build_avg_pool2d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return build_pool2d(g, in, c, 0);
}
static cr_node *build_max_pool1d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_max_pool1d(g, in[0], (size_t)int_param(c, "kernel", 1),
                         (size_t)int_param(c, "stride", 0),
                         (size_t)int_param(c, "padding", 0));
}
static cr_node *build_avg_pool1d(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return cr_avg_pool1d(g, in[0], (size_t)int_param(c, "kernel", 1),
                         (size_t)int_param(c, "stride", 0),
                         (size_t)int_param(c, "padding", 0));
}

/* dropout(x, p) in training mode when training is 1 (the default), in
 * evaluation mode when 0. */
static cr_node *build_dropout(cr_graph *g, cr_node **in, const oracle_case *c)
{
    cr_graph_set_training(g, (int)int_param(c, "training", 1));
    return cr_dropout(g, in[0], real_param(c, "p", 0.5));
}

/* layer_norm(x) over the last `axes` axes; affine 1: gain and bias
 * inputs, 2: gain only, 3: bias only; real eps. */
static cr_node *build_layer_norm(cr_graph *g, cr_node **in, const oracle_case *c)
{
    const long affine = int_param(c, "affine", 0);
    return cr_layer_norm(g, in[0], (int)int_param(c, "axes", 1),
                         affine == 1 || affine == 2 ? in[1] : NULL,
                         affine == 1   ? in[2]
                         : affine == 3 ? in[1]
                                       : NULL,
                         real_param(c, "eps", 1e-5));
}

/* batch_norm(x[, gain, bias]) (affine 1); with training 0, evaluating
 * with the running mean and variance given as the last two inputs. */
static cr_node *build_batch_norm(cr_graph *g, cr_node **in, const oracle_case *c)
{
    const int affine = (int)int_param(c, "affine", 0);
    cr_node *n = cr_batch_norm(g, in[0], affine ? in[1] : NULL, affine ? in[2] : NULL,
                               real_param(c, "momentum", 0.1), real_param(c, "eps", 1e-5));
    if (!n || int_param(c, "training", 1))
        return n;
    const int k = affine ? 3 : 1;
    const cr_tensor *mean = cr_node_value(in[k]), *var = cr_node_value(in[k + 1]);
    const size_t shape[2] = {2, cr_tensor_size(mean)};
    cr_tensor *stats = cr_tensor_new(2, shape, NULL);
    if (!stats)
        return NULL;
    double *d = cr_tensor_data_mut(stats);
    for (size_t i = 0; i < shape[1]; i++) {
        d[i] = cr_tensor_get(mean, i);
        d[shape[1] + i] = cr_tensor_get(var, i);
    }
    cr_status st = cr_node_set_state(n, stats);
    cr_tensor_free(stats);
    cr_graph_set_training(g, 0);
    return st == CR_OK && cr_graph_forward(g, n) == CR_OK ? n : NULL;
}

/* Recurrent layers (src/nn/recurrent.c): inputs x [B,T,in], w_ih, w_hh,
 * b_ih, b_hh, h0 and (LSTM) c0; int every_step. */
static cr_node *build_recurrent(cr_graph *g, cr_node **in, const oracle_case *c,
                                cr_rnn_cell cell)
{
    const cr_tensor *x = cr_node_value(in[0]), *whh = cr_node_value(in[2]);
    cr_rnn_params p = {.cell = cell,
                       .n_in = cr_tensor_dim(x, 2),
                       .hidden = cr_tensor_dim(whh, 0),
                       .w_ih = in[1],
                       .w_hh = in[2],
                       .b_ih = in[3],
                       .b_hh = in[4]};
    cr_rnn_state init = {in[5], cell == CR_RNN_LSTM ? in[6] : NULL};
    return cr_rnn(g, &p, in[0], &init, (int)int_param(c, "every_step", 0), NULL);
}
static cr_node *build_rnn(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return build_recurrent(g, in, c, CR_RNN_TANH);
}
static cr_node *build_gru(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return build_recurrent(g, in, c, CR_RNN_GRU);
}
static cr_node *build_lstm(cr_graph *g, cr_node **in, const oracle_case *c)
{
    return build_recurrent(g, in, c, CR_RNN_LSTM);
}

static const struct {
    const char *name;
    builder build;
} builders[] = {
#define ENTRY(NAME) {#NAME, build_##NAME},
    ENTRY(add) ENTRY(sub) ENTRY(mul) ENTRY(div) ENTRY(pow) ENTRY(sq_error) ENTRY(mse)
        ENTRY(softmax_xent) ENTRY(bce) ENTRY(bce_logits) ENTRY(neg) ENTRY(exp) ENTRY(log)
            ENTRY(sqrt) ENTRY(abs) ENTRY(sign) ENTRY(sin) ENTRY(cos) ENTRY(tanh)
                ENTRY(sigmoid) ENTRY(relu) ENTRY(softplus) ENTRY(sum) ENTRY(mean)
                    ENTRY(transpose) ENTRY(softmax) ENTRY(scale) ENTRY(powc) ENTRY(sum_axis)
                        ENTRY(mean_axis) ENTRY(matmul) ENTRY(sop) ENTRY(reshape)
                            ENTRY(flatten) ENTRY(permute) ENTRY(slice) ENTRY(pad)
                                ENTRY(concat) ENTRY(stack) ENTRY(index_select)
    /* compare and select, activations (src/ops/compare.c, elementwise.c) */
    ENTRY(maximum) ENTRY(minimum) ENTRY(clamp) ENTRY(where) ENTRY(gt) ENTRY(ge) ENTRY(lt)
        ENTRY(le) ENTRY(eq) ENTRY(square) ENTRY(log1p) ENTRY(erf) ENTRY(leaky_relu)
            ENTRY(elu) ENTRY(gelu) ENTRY(silu) ENTRY(detach)
    /* reductions (src/ops/reduce.c) */
    ENTRY(max) ENTRY(min) ENTRY(logsumexp) ENTRY(argmax) ENTRY(sum_dim) ENTRY(mean_dim)
        ENTRY(max_dim) ENTRY(min_dim) ENTRY(logsumexp_dim) ENTRY(argmax_dim)
    /* neural-network ops */
    ENTRY(conv2d) ENTRY(conv1d) ENTRY(max_pool2d) ENTRY(avg_pool2d) ENTRY(max_pool1d)
        ENTRY(avg_pool1d) ENTRY(dropout) ENTRY(layer_norm) ENTRY(batch_norm)
    /* losses and softmax along an axis */
    ENTRY(softmax_axis) ENTRY(log_softmax) ENTRY(softmax_xent_axis) ENTRY(cross_entropy)
        ENTRY(huber)
    /* recurrent layers, unrolled (src/nn/recurrent.c) */
    ENTRY(rnn) ENTRY(gru) ENTRY(lstm)
#undef ENTRY
};

/* ---- reading a case ---- */

static void case_clear(oracle_case *c)
{
    for (int i = 0; i < c->n_inputs; i++) {
        cr_tensor_free(c->inputs[i]);
        free(c->v[i]);
    }
    free(c->dy);
    memset(c, 0, sizeof *c);
}

/* Reads numbers from the rest of a line into a new array. */
static double *read_numbers(char *rest, size_t *n)
{
    size_t cap = 16, len = 0;
    double *out = malloc(cap * sizeof *out);
    char *tok = strtok(rest, " \t\n");
    while (out && tok) {
        if (len == cap) {
            double *bigger = realloc(out, 2 * cap * sizeof *out);
            if (!bigger) {
                free(out);
                return NULL;
            }
            out = bigger;
            cap *= 2;
        }
        out[len++] = strtod(tok, NULL);
        tok = strtok(NULL, " \t\n");
    }
    *n = len;
    return out;
}

/* Parses "RANK D1..DR V..." into a new tensor. */
static cr_tensor *read_tensor(char *rest)
{
    size_t n;
    double *nums = read_numbers(rest, &n);
    if (!nums || n < 1)
        goto bad;
    int rank = (int)nums[0];
    if (rank < 0 || rank > CR_MAX_RANK || n < (size_t)rank + 1)
        goto bad;
    size_t shape[CR_MAX_RANK], count = 1;
    for (int i = 0; i < rank; i++)
        count *= shape[i] = (size_t)nums[1 + i];
    if (n != (size_t)rank + 1 + count)
        goto bad;
    cr_tensor *t = cr_tensor_new_from(rank, shape, nums + rank + 1, NULL);
    free(nums);
    return t;
bad:
    free(nums);
    return NULL;
}

/* Reads the next case; 0 at the end of the input, -1 on a malformed one. */
static int read_case(oracle_case *c)
{
    char line[1 << 16];
    int started = 0;
    while (fgets(line, sizeof line, stdin)) {
        char word[32] = "";
        int used = 0;
        if (sscanf(line, "%31s %n", word, &used) < 1)
            continue;
        char *rest = line + used;
        if (strcmp(word, "case") == 0) {
            started = 1;
            sscanf(rest, "%63s", c->op);
        } else if (strcmp(word, "int") == 0 || strcmp(word, "real") == 0) {
            if (c->n_params == MAX_PARAMS)
                return -1;
            param *p = &c->params[c->n_params++];
            int off = 0;
            sscanf(rest, "%31s %n", p->key, &off);
            size_t n;
            double *nums = read_numbers(rest + off, &n);
            if (!nums)
                return -1;
            p->is_real = word[0] == 'r';
            p->real = n ? nums[0] : 0;
            for (size_t i = 0; i < n && i < MAX_LIST; i++)
                p->ints[p->n_ints++] = (long)nums[i];
            free(nums);
        } else if (strcmp(word, "in") == 0 || strcmp(word, "const") == 0) {
            if (c->n_inputs == MAX_INPUTS)
                return -1;
            c->differentiable[c->n_inputs] = word[0] == 'i';
            if (!(c->inputs[c->n_inputs++] = read_tensor(rest)))
                return -1;
        } else if (strcmp(word, "dy") == 0) {
            if (!(c->dy = read_numbers(rest, &c->n_dy)))
                return -1;
        } else if (strcmp(word, "v") == 0) {
            int k = c->n_v_lines++;
            if (k >= MAX_INPUTS || !(c->v[k] = read_numbers(rest, &c->n_v[k])))
                return -1;
        } else if (strcmp(word, "end") == 0) {
            return started ? 1 : -1;
        } else {
            return -1;
        }
    }
    return started ? -1 : 0;
}

/* ---- running a case ---- */

static void print_values(const char *tag, const cr_tensor *t, int with_shape)
{
    printf("%s", tag);
    if (with_shape) {
        printf(" %d", cr_tensor_rank(t));
        for (int i = 0; i < cr_tensor_rank(t); i++)
            printf(" %zu", cr_tensor_dim(t, i));
    }
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        printf(" %.17g", cr_tensor_get(t, i));
    printf("\n");
}

static int fail(cr_graph *g, const char *what)
{
    const cr_error *e = cr_graph_error(g);
    printf("error %s %s: %s\n", cr_strerror(e->status), what, e->message);
    return 0;
}

/* A constant holding n numbers in the shape of like. */
static cr_node *constant_like(cr_graph *g, const cr_tensor *like, const double *v, size_t n)
{
    if (n != cr_tensor_size(like))
        return NULL;
    cr_tensor *t = cr_tensor_new_from(cr_tensor_rank(like), cr_tensor_shape(like), v, NULL);
    cr_node *node = t ? cr_constant(g, t) : NULL;
    cr_tensor_free(t);
    return node;
}

static int run_case(const oracle_case *c)
{
    builder build = NULL;
    for (size_t i = 0; i < sizeof builders / sizeof builders[0]; i++)
        if (strcmp(builders[i].name, c->op) == 0)
            build = builders[i].build;
    if (!build) {
        printf("error CR_ENOTFOUND no builder for op '%s'\n", c->op);
        return 0;
    }
    cr_graph *g = cr_graph_new();
    if (!g)
        return printf("error CR_ENOMEM graph\n"), 0;
    cr_node *in[MAX_INPUTS];
    int ok = 1;
    for (int i = 0; i < c->n_inputs && ok; i++) {
        const cr_tensor *t = c->inputs[i];
        in[i] = c->differentiable[i] ? cr_param(g, NULL, t) : cr_constant(g, t);
        ok = in[i] != NULL;
    }
    cr_node *y = ok ? build(g, in, c) : NULL;
    if (!y) {
        fail(g, "building the op");
        cr_graph_free(g);
        return 1;
    }
    cr_node *dy = constant_like(g, cr_node_value(y), c->dy, c->n_dy);
    cr_node *loss = dy ? cr_sum(g, cr_mul(g, y, dy)) : NULL;
    if (!loss) {
        if (!dy)
            printf("error CR_ESHAPE dy has %zu values, the output %zu\n", c->n_dy,
                   cr_tensor_size(cr_node_value(y)));
        else
            fail(g, "building sum(y * dy)");
        cr_graph_free(g);
        return 1;
    }
    print_values("y", cr_node_value(y), 1);
    cr_node *grads[MAX_INPUTS];
    cr_node *dot = NULL;
    int k = 0;
    for (int i = 0; i < c->n_inputs; i++) {
        if (!c->differentiable[i])
            continue;
        grads[i] = cr_grad(g, loss, in[i]);
        cr_node *v =
            k < c->n_v_lines ? constant_like(g, c->inputs[i], c->v[k], c->n_v[k]) : NULL;
        k++;
        if (!grads[i] || !v) {
            if (!v)
                printf("error CR_ESHAPE missing or misshaped v for input %d\n", i + 1);
            else
                fail(g, "building the gradient");
            cr_graph_free(g);
            return 1;
        }
        cr_node *term = cr_sum(g, cr_mul(g, grads[i], v));
        dot = dot ? cr_add(g, dot, term) : term;
    }
    for (int i = 0; i < c->n_inputs; i++)
        if (c->differentiable[i])
            print_values("g", cr_node_value(grads[i]), 0);
    for (int i = 0; i < c->n_inputs && dot; i++) {
        if (!c->differentiable[i])
            continue;
        cr_node *h = cr_grad(g, dot, in[i]);
        if (!h) {
            fail(g, "building the Hessian-vector product");
            break;
        }
        print_values("h", cr_node_value(h), 0);
    }
    cr_graph_free(g);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof builders / sizeof builders[0]; i++)
            printf("%s\n", builders[i].name);
        return 0;
    }
    oracle_case c;
    memset(&c, 0, sizeof c);
    int r;
    while ((r = read_case(&c)) == 1) {
        run_case(&c);
        printf("done\n");
        fflush(stdout);
        case_clear(&c);
    }
    case_clear(&c);
    if (r < 0) {
        fprintf(stderr, "op_oracle: malformed case\n");
        return 2;
    }
    return 0;
}
