/*
 * elementwise.c - elementwise ops: add, sub, mul, div, pow (with
 * broadcasting), neg, scale, powc, exp, log, sqrt, abs, sign, sin, cos,
 * tanh, sigmoid, relu, softplus, square, log1p, erf, leaky_relu, elu,
 * gelu, silu, detach (the stop-gradient), and the fused backward helpers
 * sigmoid_bwd, tanh_bwd,
 * relu_bwd and leaky_relu_bwd. Also the shared shape rules and the
 * broadcasting iterator (cr_bcast, ops_common.h).
 */
#include "ops/ops_common.h"

#include <string.h>

/* ---- shape rules ---- */

cr_status cr_shape_same(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0);
    return cr_tensor_set_shape(&n->value, x->rank, x->shape, &g->err);
}

int cr_shape_is_suffix(const cr_tensor *small, const cr_tensor *big)
{
    if (small->rank > big->rank)
        return 0;
    for (int i = 1; i <= small->rank; i++)
        if (small->shape[small->rank - i] != big->shape[big->rank - i])
            return 0;
    return 1;
}

int cr_shape_is_block(const cr_tensor *small, const cr_tensor *big)
{
    int lead = 0;
    while (lead < small->rank && small->shape[lead] == 1)
        lead++;
    if (small->rank - lead > big->rank)
        return 0;
    for (int i = 1; i <= small->rank - lead; i++)
        if (small->shape[small->rank - i] != big->shape[big->rank - i])
            return 0;
    return 1;
}

/* The dimension of t along axis d of a rank-`rank` broadcast (1 where t
 * has no such axis). */
static size_t aligned_dim(const cr_tensor *t, int rank, int d)
{
    int k = d - (rank - t->rank);
    return k < 0 ? 1 : t->shape[k];
}

cr_status cr_shape_broadcast(cr_graph *g, cr_node *n)
{
    int rank = 0;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (IN_TENSOR(n, k)->rank > rank)
            rank = IN_TENSOR(n, k)->rank;
    if (rank == 0) /* scalars */
        return cr_tensor_set_shape(&n->value, 0, NULL, &g->err);
    size_t shape[CR_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        shape[d] = 1;
        for (size_t k = 0; k < n->n_inputs; k++) {
            size_t dim = aligned_dim(IN_TENSOR(n, k), rank, d);
            if (dim == shape[d] || dim == 1)
                continue;
            if (shape[d] != 1)
                goto mismatch;
            shape[d] = dim;
        }
    }
    return cr_tensor_set_shape(&n->value, rank, shape, &g->err);
mismatch:
    if (n->n_inputs == 2)
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s and %s do not broadcast", n->op->name,
                             cr_shape_str(IN_TENSOR(n, 0)).text,
                             cr_shape_str(IN_TENSOR(n, 1)).text);
    return cr_graph_fail(g, CR_ESHAPE, "%s: %s, %s and %s do not broadcast", n->op->name,
                         cr_shape_str(IN_TENSOR(n, 0)).text,
                         cr_shape_str(IN_TENSOR(n, 1)).text,
                         cr_shape_str(IN_TENSOR(n, 2)).text);
}

void cr_bcast_init(cr_bcast *it, const cr_tensor *out, const cr_tensor *const *ops,
                   int n_ops)
{
    const int rank = out->rank;
    it->n_ops = n_ops;
    it->rank = 0;
    /* Axes of length 1 drop out; an axis merges into the one before when
     * every operand steps across both as across one. */
    for (int d = 0; d < rank; d++) {
        const size_t dim = out->shape[d];
        if (dim == 1)
            continue;
        size_t st[CR_BCAST_MAX];
        for (int k = 0; k < n_ops; k++) {
            size_t inner = 1;
            for (int e = d + 1; e < rank; e++)
                inner *= aligned_dim(ops[k], rank, e);
            st[k] = aligned_dim(ops[k], rank, d) == 1 ? 0 : inner;
        }
        int merge = it->rank > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = it->stride[k][it->rank - 1] == st[k] * dim;
        if (merge) {
            it->dim[it->rank - 1] *= dim;
            for (int k = 0; k < n_ops; k++)
                it->stride[k][it->rank - 1] = st[k];
            continue;
        }
        it->dim[it->rank] = dim;
        for (int k = 0; k < n_ops; k++)
            it->stride[k][it->rank] = st[k];
        it->rank++;
    }
    if (it->rank == 0) { /* one element */
        it->dim[0] = 1;
        for (int k = 0; k < n_ops; k++)
            it->stride[k][0] = 0;
        it->rank = 1;
    }
    for (int d = 0; d < it->rank; d++)
        it->idx[d] = 0;
    for (int k = 0; k < n_ops; k++) {
        it->off[k] = 0;
        it->step[k] = it->stride[k][it->rank - 1] != 0;
    }
    it->row = it->dim[it->rank - 1];
}

cr_status cr_shape_pair_to_scalar(cr_graph *g, cr_node *n)
{
    const cr_tensor *a = IN_TENSOR(n, 0), *b = IN_TENSOR(n, 1);
    if (!cr_tensor_same_shape(a, b))
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s and %s differ", n->op->name,
                             cr_shape_str(a).text, cr_shape_str(b).text);
    return cr_tensor_set_shape(&n->value, 0, NULL, &g->err);
}

/* ---- binary ops ----
 * The scalar_vjp of an op (internal.h) is the arithmetic of its vjp's nodes
 * for one element, written in the order those nodes compute it, so that
 * the direct backward of scalar graphs gives their results bit for bit
 * (tests/check_autodiff.c compares the two on random graphs). */

/* The scalar vjp of a two-input op whose contributions to its inputs are
 * DA and DB, expressions of the node's gradient dy, its value y, its
 * inputs a and b and its constant c; and of a one-input op whose
 * contribution is DX, of dy, y, its input x and c. Both contributions are
 * computed before either slot changes (the inputs may be one node). */
#define CR_SCALAR_VJP2(NAME, DA, DB)                                                       \
    static int NAME##_scalar_vjp(const cr_node *n, double *slot)                           \
    {                                                                                      \
        const double dy = slot[n->id], y = n->value.data[0], a = IN(n, 0)[0],              \
                     b = IN(n, 1)[0], c = n->args->f;                                      \
        (void)y, (void)a, (void)b, (void)c;                                                \
        const double da = (DA), db = (DB);                                                 \
        slot[n->inputs[0]->id] += da;                                                      \
        slot[n->inputs[1]->id] += db;                                                      \
        return 1;                                                                          \
    }
#define CR_SCALAR_VJP1(NAME, DX)                                                           \
    static int NAME##_scalar_vjp(const cr_node *n, double *slot)                           \
    {                                                                                      \
        const double dy = slot[n->id], y = n->value.data[0], x = IN(n, 0)[0],              \
                     c = n->args->f;                                                       \
        (void)y, (void)x, (void)c;                                                         \
        slot[n->inputs[0]->id] += (DX);                                                    \
        return 1;                                                                          \
    }

/* clang-format off */
CR_SCALAR_VJP2(add, dy, dy)
CR_SCALAR_VJP2(sub, dy, -dy)                    /* neg(dy) */
CR_SCALAR_VJP2(mul, dy * b, dy * a)             /* mul(dy, other input) */
CR_SCALAR_VJP2(div, dy / b, -(dy * (y / b)))    /* div(dy, b); neg(mul(dy, div(y, b))) */
/* clang-format on */

CR_BINARY_OP(add, a + b, "y = a + b", "a + b", "1", "1", add_scalar_vjp)
CR_BINARY_OP(sub, a - b, "y = a - b", "a - b", "1", "-1", sub_scalar_vjp)
CR_BINARY_OP(mul, (a * b), "y = a * b", "a*b", "b", "a", mul_scalar_vjp)
CR_BINARY_OP(div, a / b, "y = a / b", "a/b", "1/b", "-a/b^2", div_scalar_vjp)
CR_BINARY_OP(pow, pow(a, b), "y = a ^ b", "a^b", "b*a^(b-1)", "y*log(a)", NULL)

/* ---- add_n: the sum of n same-shaped inputs (gradient accumulation) ---- */

static cr_status add_n_shape(cr_graph *g, cr_node *n)
{
    for (size_t i = 1; i < n->n_inputs; i++)
        if (!cr_tensor_same_shape(IN_TENSOR(n, 0), IN_TENSOR(n, i)))
            return cr_graph_fail(g, CR_ESHAPE, "add_n: input %zu is %s, input 1 is %s",
                                 i + 1, cr_shape_str(IN_TENSOR(n, i)).text,
                                 cr_shape_str(IN_TENSOR(n, 0)).text);
    return cr_shape_same(g, n);
}

static void add_n_forward(cr_node *n)
{
    double *y = OUT(n);
    const size_t len = n->value.size;
    memcpy(y, IN(n, 0), len * sizeof(double));
    for (size_t k = 1; k < n->n_inputs; k++)
        cr_add_into(y, IN(n, k), len);
}

static cr_status add_n_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    *dx = dy;
    return CR_OK;
}

/* every input gets dy */
static int add_n_scalar_vjp(const cr_node *n, double *slot)
{
    const double dy = slot[n->id];
    for (size_t i = 0; i < n->n_inputs; i++)
        slot[n->inputs[i]->id] += dy;
    return 1;
}

const cr_op cr_op_add_n = {.name = "add_n",
                           .min_inputs = 1,
                           .max_inputs = -1,
                           .flags = CR_OP_ELEMENTWISE,
                           .formula = "y = x1 + ... + xn",
                           .deriv = {"1", "1"},
                           .jacobian = "identity",
                           .shape = add_n_shape,
                           .forward = add_n_forward,
                           .vjp = add_n_vjp,
                           .scalar_vjp = add_n_scalar_vjp};

cr_node *cr_add_n(cr_graph *g, size_t n, cr_node *const *inputs)
{
    if (n == 1 && inputs && inputs[0])
        return inputs[0];
    int joined = 0;
    cr_node *sum = NULL;
    if (g && inputs && n >= 2 && inputs[0] && inputs[0]->op->join_sum)
        sum = inputs[0]->op->join_sum(g, n, inputs, &joined);
    return joined ? sum : cr_node_create(g, &cr_op_add_n, inputs, n, NULL);
}

cr_status cr_vjp_to_input(cr_graph *g, cr_node *n, size_t i, cr_node *full, cr_node **dx)
{
    if (!full)
        return g->err.status;
    return cr_reduce_to_operand(g, full, n->inputs[i], dx);
}

static cr_status add_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return cr_vjp_to_input(g, n, i, dy, dx);
}

static cr_status sub_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return cr_vjp_to_input(g, n, i, i == 0 ? dy : cr_neg(g, dy), dx);
}

static cr_status mul_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return cr_vjp_to_input(g, n, i, cr_mul(g, dy, n->inputs[1 - i]), dx);
}

static cr_status div_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *b = n->inputs[1];
    if (i == 0)
        return cr_vjp_to_input(g, n, i, cr_div(g, dy, b), dx);
    /* d(a/b)/db = -y/b */
    return cr_vjp_to_input(g, n, i, cr_neg(g, cr_mul(g, dy, cr_div(g, n, b))), dx);
}

static cr_status pow_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *a = n->inputs[0], *b = n->inputs[1];
    if (i == 0) {
        cr_node *bm1 = cr_sub(g, b, cr_scalar(g, 1.0));
        return cr_vjp_to_input(g, n, i, cr_mul(g, dy, cr_mul(g, b, cr_pow(g, a, bm1))), dx);
    }
    return cr_vjp_to_input(g, n, i, cr_mul(g, dy, cr_mul(g, n, cr_log(g, a))), dx);
}

/* ---- unary ops ---- */

static double sigmoid(double v) { return cr_sigmoid_value(v); }

static double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

static double sign(double v) { return (double)((v > 0) - (v < 0)); }

/* clang-format off */
CR_SCALAR_VJP1(neg, -dy)
CR_SCALAR_VJP1(scale, c * dy)
CR_SCALAR_VJP1(exp, dy * y)
CR_SCALAR_VJP1(log, dy / x)
CR_SCALAR_VJP1(sqrt, (0.5 * dy) / y)            /* div(scale(dy, 0.5), y) */
CR_SCALAR_VJP1(abs, dy * sign(x))
CR_SCALAR_VJP1(sin, dy * cos(x))
CR_SCALAR_VJP1(cos, -(dy * sin(x)))
CR_SCALAR_VJP1(tanh, dy * (1.0 - y * y))        /* tanh_bwd(y, dy) */
CR_SCALAR_VJP1(sigmoid, dy * y * (1.0 - y))     /* sigmoid_bwd(y, dy) */
CR_SCALAR_VJP1(relu, x > 0 ? dy : 0.0)          /* relu_bwd(x, dy) */
CR_SCALAR_VJP1(softplus, dy * sigmoid(x))
/* clang-format on */

/* powc's vjp gives nothing for c = 0, dy for c = 1, and otherwise
 * mul(dy, scale(powc(x, c - 1), c)). sign's and detach's give nothing. */
static int powc_scalar_vjp(const cr_node *n, double *slot)
{
    const double p = n->args->f, dy = slot[n->id];
    if (p == 0.0)
        return 0;
    slot[n->inputs[0]->id] += p == 1.0 ? dy : dy * (p * pow(IN(n, 0)[0], p - 1.0));
    return 1;
}

static int no_scalar_vjp(const cr_node *n, double *slot)
{
    CR_UNUSED(n), CR_UNUSED(slot);
    return 0;
}

CR_UNARY_OP(neg, -v, "y = -x", "-x", "-1", 0, neg_scalar_vjp)
CR_UNARY_OP(scale, (c * v), "y = c*x", "c*x", "c", 0, scale_scalar_vjp)
CR_UNARY_OP(powc, pow(v, c), "y = x^c", "x^c", "c*x^(c-1)", 0, powc_scalar_vjp)
CR_UNARY_OP(exp, exp(v), "y = exp(x)", "exp(x)", "y", 0, exp_scalar_vjp)
CR_UNARY_OP(log, log(v), "y = log(x)", "log(x)", "1/x", 0, log_scalar_vjp)
CR_UNARY_OP(sqrt, sqrt(v), "y = sqrt(x)", "sqrt(x)", "1/(2*y)", 0, sqrt_scalar_vjp)
CR_UNARY_OP(abs, fabs(v), "y = |x|", "abs(x)", "sign(x)", CR_OP_KINK, abs_scalar_vjp)
CR_UNARY_OP(sign, sign(v), "y = sign(x)", "sign(x)", "0", CR_OP_KINK | CR_OP_JUMP,
            no_scalar_vjp)
CR_UNARY_OP(sin, sin(v), "y = sin(x)", "sin(x)", "cos(x)", 0, sin_scalar_vjp)
CR_UNARY_OP(cos, cos(v), "y = cos(x)", "cos(x)", "-sin(x)", 0, cos_scalar_vjp)
/* tanh and sigmoid: the vectorised kernels (kernels.c) */
static void tanh_forward(cr_node *n) { cr_tanh_array(OUT(n), IN(n, 0), n->value.size); }
static void sigmoid_forward(cr_node *n)
{
    cr_sigmoid_array(OUT(n), IN(n, 0), n->value.size);
}
CR_UNARY_OP_DESCRIPTOR(tanh, "y = tanh(x)", "tanh(x)", "1-y^2", 0, NULL, 0, tanh_scalar_vjp)
CR_UNARY_OP_DESCRIPTOR(sigmoid, "y = 1/(1+exp(-x))", "sigmoid(x)", "y*(1-y)", 0, NULL, 0,
                       sigmoid_scalar_vjp)
CR_UNARY_OP(relu, v > 0 ? v : 0.0, "y = max(x, 0)", "relu(x)", "x > 0 ? 1 : 0", CR_OP_KINK,
            relu_scalar_vjp)
CR_UNARY_OP(softplus, softplus(v), "y = log(1+exp(x))", "softplus(x)", "sigmoid(x)", 0,
            softplus_scalar_vjp)

static cr_node *unary(cr_graph *g, const cr_op *op, cr_node *x, double c)
{
    cr_node_args args = {.f = c};
    return cr_node_create(g, op, &x, 1, &args);
}

/* args.i[SCALE_PER_ELEMENT] = 1: f = f2 / the input's element count */
enum { SCALE_PER_ELEMENT = 7 };

cr_node *cr_scale_per_element(cr_graph *g, cr_node *x, double num)
{
    cr_node_args args = {.f = x ? num / (double)x->value.size : num, .f2 = num};
    args.i[SCALE_PER_ELEMENT] = 1;
    return cr_node_create(g, &cr_op_scale, &x, 1, &args);
}

cr_status cr_unary_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    (void)max;
    (void)rows;
    if (n->args->i[SCALE_PER_ELEMENT] == 1)
        ((cr_node_args *)n->args)->f = n->args->f2 / (double)IN_TENSOR(n, 0)->size;
    return cr_shape_same(g, n);
}

cr_node *cr_neg(cr_graph *g, cr_node *x) { return unary(g, &cr_op_neg, x, 0); }
cr_node *cr_scale(cr_graph *g, cr_node *x, double c)
{
    return unary(g, &cr_op_scale, x, c);
}
cr_node *cr_powc(cr_graph *g, cr_node *x, double p) { return unary(g, &cr_op_powc, x, p); }
cr_node *cr_exp(cr_graph *g, cr_node *x) { return unary(g, &cr_op_exp, x, 0); }
cr_node *cr_log(cr_graph *g, cr_node *x) { return unary(g, &cr_op_log, x, 0); }
cr_node *cr_sqrt(cr_graph *g, cr_node *x) { return unary(g, &cr_op_sqrt, x, 0); }
cr_node *cr_abs(cr_graph *g, cr_node *x) { return unary(g, &cr_op_abs, x, 0); }
cr_node *cr_sin(cr_graph *g, cr_node *x) { return unary(g, &cr_op_sin, x, 0); }
cr_node *cr_cos(cr_graph *g, cr_node *x) { return unary(g, &cr_op_cos, x, 0); }
cr_node *cr_tanh(cr_graph *g, cr_node *x) { return unary(g, &cr_op_tanh, x, 0); }
cr_node *cr_sigmoid(cr_graph *g, cr_node *x) { return unary(g, &cr_op_sigmoid, x, 0); }
cr_node *cr_relu(cr_graph *g, cr_node *x) { return unary(g, &cr_op_relu, x, 0); }
cr_node *cr_softplus(cr_graph *g, cr_node *x) { return unary(g, &cr_op_softplus, x, 0); }
cr_node *cr_sign(cr_graph *g, cr_node *x) { return unary(g, &cr_op_sign, x, 0); }

static cr_status neg_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_neg(g, dy));
}

static cr_status scale_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_scale(g, dy, n->args->f));
}

static cr_status powc_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    double p = n->args->f;
    if (p == 0.0) {
        *dx = NULL;
        return CR_OK;
    }
    if (p == 1.0)
        CR_VJP_RETURN(dy);
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, cr_powc(g, n->inputs[0], p - 1.0), p)));
}

static cr_status exp_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, n));
}

static cr_status log_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_div(g, dy, n->inputs[0]));
}

static cr_status sqrt_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_div(g, cr_scale(g, dy, 0.5), n));
}

static cr_status abs_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, cr_sign(g, n->inputs[0])));
}

static cr_status sign_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    *dx = NULL; /* zero almost everywhere */
    return CR_OK;
}

static cr_status sin_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, cr_cos(g, n->inputs[0])));
}

static cr_status cos_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_neg(g, cr_mul(g, dy, cr_sin(g, n->inputs[0]))));
}

static cr_status softplus_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, cr_sigmoid(g, n->inputs[0])));
}

/* ---- square, log1p, erf, and the activations leaky_relu, elu, gelu
 * (erf form), silu: PyTorch's definitions, derivatives at 0 included ---- */

#define CR_INV_SQRT2 0.70710678118654752440     /* 1/sqrt(2) */
#define CR_INV_SQRT2PI 0.39894228040143267794   /* 1/sqrt(2 pi) */
#define CR_TWO_BY_SQRTPI 1.12837916709551257390 /* 2/sqrt(pi) */

static double elu(double v, double alpha) { return v > 0 ? v : alpha * expm1(v); }

static double gelu(double v) { return 0.5 * v * (1.0 + erf(v * CR_INV_SQRT2)); }

/* clang-format off */
CR_SCALAR_VJP1(square, dy * (2.0 * x))          /* mul(dy, scale(x, 2)) */
CR_SCALAR_VJP1(log1p, dy / (x + 1.0))           /* div(dy, add(x, 1)) */
/* clang-format on */

CR_UNARY_OP(square, (v * v), "y = x^2", "square(x)", "2*x", 0, square_scalar_vjp)
CR_UNARY_OP(log1p, log1p(v), "y = log(1 + x)", "log1p(x)", "1/(1 + x)", 0, log1p_scalar_vjp)
CR_UNARY_OP(erf, erf(v), "y = erf(x) = 2/sqrt(pi) * integral of exp(-t^2) from 0 to x",
            "erf(x)", "1.1283791670955126*exp(-x^2)", 0, NULL)
CR_UNARY_OP(leaky_relu, v > 0 ? v : c * v, "y = x if x > 0 else c*x", "leaky_relu(x, c)",
            "where(gt(x, 0), 1, c)", CR_OP_KINK, NULL)
CR_UNARY_OP(elu, elu(v, c), "y = x if x > 0 else c*(exp(x) - 1)", "elu(x, c)",
            "where(gt(x, 0), 1, y + c)", CR_OP_KINK, NULL)
CR_UNARY_OP(gelu, gelu(v), "y = x*Phi(x) = x/2*(1 + erf(x/sqrt(2)))", "gelu(x)",
            "0.5*(1 + erf(x*0.7071067811865476)) + x*0.3989422804014327*exp(-0.5*x^2)", 0,
            NULL)
CR_UNARY_OP(silu, (v * sigmoid(v)), "y = x*sigmoid(x)", "silu(x)",
            "sigmoid(x)*(1 + x*(1 - sigmoid(x)))", 0, NULL)
/* detach: the value passes, the gradient does not (a stop-gradient) */
CR_UNARY_OP(detach, v, "y = x, treated as a constant by differentiation", "detach(x)", "0",
            0, no_scalar_vjp)

cr_node *cr_square(cr_graph *g, cr_node *x) { return unary(g, &cr_op_square, x, 0); }
cr_node *cr_log1p(cr_graph *g, cr_node *x) { return unary(g, &cr_op_log1p, x, 0); }
cr_node *cr_erf(cr_graph *g, cr_node *x) { return unary(g, &cr_op_erf, x, 0); }
cr_node *cr_gelu(cr_graph *g, cr_node *x) { return unary(g, &cr_op_gelu, x, 0); }
cr_node *cr_silu(cr_graph *g, cr_node *x) { return unary(g, &cr_op_silu, x, 0); }
cr_node *cr_detach(cr_graph *g, cr_node *x) { return unary(g, &cr_op_detach, x, 0); }

cr_node *cr_leaky_relu(cr_graph *g, cr_node *x, double slope)
{
    return unary(g, &cr_op_leaky_relu, x, slope);
}

cr_node *cr_elu(cr_graph *g, cr_node *x, double alpha)
{
    return unary(g, &cr_op_elu, x, alpha);
}

static cr_status square_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, n->inputs[0], 2.0)));
}

static cr_status log1p_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_div(g, dy, cr_add(g, n->inputs[0], cr_scalar(g, 1.0))));
}

/* 2/sqrt(pi) exp(-x^2) */
static cr_node *erf_deriv(cr_graph *g, cr_node *x)
{
    return cr_scale(g, cr_exp(g, cr_neg(g, cr_square(g, x))), CR_TWO_BY_SQRTPI);
}

static cr_status erf_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, erf_deriv(g, n->inputs[0])));
}

/* dy * (x > 0 ? 1 : else_value) */
static cr_node *mul_where_positive(cr_graph *g, cr_node *dy, cr_node *x,
                                   cr_node *else_value)
{
    cr_node *pos = cr_gt(g, x, cr_scalar(g, 0.0));
    return cr_mul(g, dy, cr_where(g, pos, cr_scalar(g, 1.0), else_value));
}

static cr_status elu_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    /* alpha*exp(x) = y + alpha where x <= 0 */
    cr_node *neg_side = cr_add(g, n, cr_scalar(g, n->args->f));
    CR_VJP_RETURN(mul_where_positive(g, dy, n->inputs[0], neg_side));
}

/* Phi(x) + x phi(x) = (1 + erf(x/sqrt 2))/2 + x exp(-x^2/2)/sqrt(2 pi) */
static cr_status gelu_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *x = n->inputs[0];
    cr_node *cdf = cr_scale(
        g, cr_add(g, cr_erf(g, cr_scale(g, x, CR_INV_SQRT2)), cr_scalar(g, 1.0)), 0.5);
    cr_node *pdf =
        cr_scale(g, cr_exp(g, cr_scale(g, cr_square(g, x), -0.5)), CR_INV_SQRT2PI);
    CR_VJP_RETURN(cr_mul(g, dy, cr_add(g, cdf, cr_mul(g, x, pdf))));
}

/* s (1 + x (1 - s)) with s = sigmoid(x) */
static cr_status silu_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *x = n->inputs[0], *s = cr_sigmoid(g, x), *one = cr_scalar(g, 1.0);
    cr_node *d = cr_mul(g, s, cr_add(g, one, cr_mul(g, x, cr_sub(g, one, s))));
    CR_VJP_RETURN(cr_mul(g, dy, d));
}

/* detach: no contribution, to any order */
static cr_status detach_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    *dx = NULL;
    return CR_OK;
}

/* ---- fused backward helpers: f(y_or_x, dy) in one pass ---- */

/* A backward helper f(a, dy) of two same-shaped inputs, with a static
 * builder NAME(g, a, b). */
#define CR_BACKWARD_OP(NAME, EXPR, FORMULA, FLAGS)                                         \
    CR_BINARY_ENTRY(NAME, EXPR, CR_OP_BACKWARD | (FLAGS), FORMULA, NULL, NULL, NULL,       \
                    "diagonal", cr_shape_same, NULL)                                       \
    static cr_node *NAME(cr_graph *g, cr_node *a, cr_node *b)                              \
    {                                                                                      \
        return cr_op_pair(g, &cr_op_##NAME, a, b);                                         \
    }

CR_BACKWARD_OP(sigmoid_bwd, (b * a * (1.0 - a)), "y = b*a*(1-a), a = sigmoid output", 0)
CR_BACKWARD_OP(tanh_bwd, (b * (1.0 - a * a)), "y = b*(1-a^2), a = tanh output", 0)
CR_BACKWARD_OP(relu_bwd, a > 0 ? b : 0.0, "y = a > 0 ? b : 0", CR_OP_KINK | CR_OP_JUMP)
CR_BINARY_ENTRY(leaky_relu_bwd, a > 0 ? b : c * b, CR_OP_BACKWARD | CR_OP_KINK | CR_OP_JUMP,
                "y = a > 0 ? b : c*b, a = leaky_relu input", NULL, NULL, NULL, "diagonal",
                cr_shape_same, NULL)

/* leaky_relu_bwd(x, dy) with the slope c */
static cr_node *leaky_relu_bwd(cr_graph *g, cr_node *x, cr_node *dy, double slope)
{
    cr_node *in[2] = {x, dy};
    cr_node_args args = {.f = slope};
    return cr_node_create(g, &cr_op_leaky_relu_bwd, in, 2, &args);
}

static cr_status leaky_relu_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                cr_node **dx)
{
    CR_VJP_RETURN(leaky_relu_bwd(g, n->inputs[0], dy, n->args->f));
}

static cr_status leaky_relu_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx)
{
    if (i == 0) {
        *dx = NULL; /* a step function of a */
        return CR_OK;
    }
    CR_VJP_RETURN(leaky_relu_bwd(g, n->inputs[0], dy, n->args->f));
}

static cr_status sigmoid_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(sigmoid_bwd(g, n, dy));
}

static cr_status tanh_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(tanh_bwd(g, n, dy));
}

static cr_status relu_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(relu_bwd(g, n->inputs[0], dy));
}

static cr_status sigmoid_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx)
{
    cr_node *a = n->inputs[0], *b = n->inputs[1];
    if (i == 1)
        CR_VJP_RETURN(sigmoid_bwd(g, a, dy));
    /* d/da [b a (1-a)] = b (1 - 2a) */
    cr_node *one_minus_2a = cr_sub(g, cr_scalar(g, 1.0), cr_scale(g, a, 2.0));
    CR_VJP_RETURN(cr_mul(g, dy, cr_mul(g, b, one_minus_2a)));
}

static cr_status tanh_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    cr_node *a = n->inputs[0], *b = n->inputs[1];
    if (i == 1)
        CR_VJP_RETURN(tanh_bwd(g, a, dy));
    /* d/da [b (1 - a^2)] = -2 a b */
    CR_VJP_RETURN(cr_mul(g, dy, cr_scale(g, cr_mul(g, a, b), -2.0)));
}

static cr_status relu_bwd_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    if (i == 0) {
        *dx = NULL; /* a step function of a: zero almost everywhere */
        return CR_OK;
    }
    CR_VJP_RETURN(relu_bwd(g, n->inputs[0], dy));
}
