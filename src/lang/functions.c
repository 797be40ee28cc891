/*
 * functions.c - the functions of the expression language: their table and
 * the list of their names, both generated from the op list (ops/oplist.h),
 * and the builders that turn a call into nodes.
 */
#include "lang/lang_private.h"
#include "ops/ops_common.h"

#include <math.h>
#include <string.h>

/* Builders of this file named in the op list (the others are in
 * lang_private.h). */
static cr_node *cr_lang_binary(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
static cr_node *cr_lang_where(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
static cr_node *cr_lang_clamp(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
static cr_node *cr_lang_leaky_relu(cr_graph *g, const cr_op *op, cr_lang_value *args,
                                   int argc);
static cr_node *cr_lang_elu(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
static cr_node *cr_lang_reduce(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);

/* ---- the table, generated from the op list ---- */

#define CR_SKIP_OP_(NAME)
#define CR_FUNCTION_OF_OP_(NAME, MIN, MAX, BUILD) {#NAME, MIN, MAX, BUILD, &cr_op_##NAME},
#define CR_FUNCTION_(NAME, MIN, MAX, BUILD) {#NAME, MIN, MAX, BUILD, NULL},
static const cr_lang_function functions[] = {
    CR_OP_LIST(CR_SKIP_OP_, CR_FUNCTION_OF_OP_, CR_FUNCTION_)};
enum { N_FUNCTIONS = sizeof functions / sizeof functions[0] };

/* ", exp, log, ...": every name with a separator before it. */
#define CR_NAME_OF_OP_(NAME, MIN, MAX, BUILD) ", " #NAME
#define CR_NAME_(NAME, MIN, MAX, BUILD) ", " #NAME
static const char function_names[] = "" CR_OP_LIST(CR_SKIP_OP_, CR_NAME_OF_OP_, CR_NAME_);

const char *cr_expr_functions(void)
{
    return function_names + 2; /* without the first separator */
}

const cr_lang_function *cr_lang_function_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (strlen(functions[i].name) == len && memcmp(functions[i].name, name, len) == 0)
            return &functions[i];
    return NULL;
}

/* ---- builders ---- */

cr_node *cr_lang_node(cr_graph *g, cr_lang_value *v)
{
    if (v->is_lit && !v->node)
        v->node = cr_scalar(g, v->lit);
    return v->node;
}

cr_node *cr_lang_unary(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(argc);
    cr_node *x = cr_lang_node(g, &args[0]);
    return x ? cr_node_create(g, op, &x, 1, NULL) : NULL;
}

/* pow(a, b), and the operator ^: a literal exponent makes a powc node, so
 * x^2 has the derivative 2*x^(2-1) of a constant power. */
cr_node *cr_lang_pow(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *base = cr_lang_node(g, &args[0]);
    if (!base)
        return NULL;
    if (args[1].is_lit)
        return cr_powc(g, base, args[1].lit);
    return cr_pow(g, base, cr_lang_node(g, &args[1]));
}

/* ---- shapes, indexing and products ----
 * Their shape, axis and position arguments are whole numbers written in
 * the program (the language has no lists: reshape(x, 2, -1) and
 * permute(x, 1, 0) take them one by one). concat and stack, which take a
 * list of nodes, are C only. */

/* Argument k of a call of fn as a number written in the program (what
 * names it in the message: "the axis (argument 2)"); 0 with CR_EINVAL
 * recorded in g when it is anything else. */
static int literal_arg(cr_graph *g, const char *fn, const cr_lang_value *args, int k,
                       const char *what, double *out)
{
    if (!args[k].is_lit) {
        cr_graph_fail(g, CR_EINVAL, "%s(): the %s (argument %d) must be a number", fn, what,
                      k + 1);
        return 0;
    }
    *out = args[k].lit;
    return 1;
}

/* The largest whole-number argument: sizes and positions; axes stop at
 * CR_MAX_RANK (a larger one is out of range for every tensor). */
#define WHOLE_MAX 1e15

/* The same, for a whole number of magnitude at most limit. */
static int whole_arg(cr_graph *g, const char *fn, const cr_lang_value *args, int k,
                     const char *what, double limit, long *out)
{
    double v;
    if (!literal_arg(g, fn, args, k, what, &v))
        return 0;
    if (floor(v) != v || fabs(v) > limit) {
        cr_graph_fail(
            g, CR_EINVAL,
            "%s(): the %s (argument %d) must be a whole number from %.0f to %.0f, "
            "not %.17g",
            fn, what, k + 1, -limit, limit, v);
        return 0;
    }
    *out = (long)v;
    return 1;
}

/* Arguments 1.. of a call as whole numbers into out (at most CR_MAX_RANK),
 * named by names[k - 1] (the last name for the rest); axes are the
 * arguments named "axis". */
static int lang_wholes(cr_graph *g, const char *fn, const cr_lang_value *args, int argc,
                       const char *const *names, int n_names, long *out)
{
    for (int k = 1; k < argc; k++) {
        const char *what = names[k - 1 < n_names ? k - 1 : n_names - 1];
        const double limit = strcmp(what, "axis") == 0 ? CR_MAX_RANK : WHOLE_MAX;
        if (!whole_arg(g, fn, args, k, what, limit, &out[k - 1]))
            return 0;
    }
    return 1;
}
#define NAMES(...)                                                                         \
    (const char *const[]){__VA_ARGS__},                                                    \
        (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

cr_node *cr_lang_reshape(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long dims[CR_MAX_RANK];
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !lang_wholes(g, op->name, args, argc, NAMES("dimension"), dims))
        return NULL;
    return cr_reshape(g, x, argc - 1, dims);
}

cr_node *cr_lang_flatten(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long start = 0;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (argc > 1 && !whole_arg(g, "flatten", args, 1, "axis", CR_MAX_RANK, &start)))
        return NULL;
    return cr_flatten(g, x, (int)start);
}

cr_node *cr_lang_permute(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long axes[CR_MAX_RANK];
    int iaxes[CR_MAX_RANK];
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !lang_wholes(g, op->name, args, argc, NAMES("axis"), axes))
        return NULL;
    for (int k = 0; k < argc - 1; k++)
        iaxes[k] = (int)axes[k];
    return cr_permute(g, x, argc - 1, iaxes);
}

/* slice(x, axis, start, stop) and slice(x, axis, start, stop, step) */
cr_node *cr_lang_slice(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long v[4] = {0, 0, 0, 1};
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x ||
        !lang_wholes(g, op->name, args, argc, NAMES("axis", "start", "stop", "step"), v))
        return NULL;
    return cr_slice(g, x, (int)v[0], v[1], v[2], v[3]);
}

/* pad(x, axis, before, after) */
cr_node *cr_lang_pad(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long v[3];
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !lang_wholes(g, op->name, args, argc,
                           NAMES("axis", "padding before", "padding after"), v))
        return NULL;
    if (v[1] < 0 || v[2] < 0) {
        cr_graph_fail(g, CR_EINVAL, "pad: the padding %ld and %ld must not be negative",
                      v[1], v[2]);
        return NULL;
    }
    return cr_pad(g, x, (int)v[0], (size_t)v[1], (size_t)v[2]);
}

/* index_select(x, axis, indices) */
cr_node *cr_lang_index_select(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long axis;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !whole_arg(g, op->name, args, 1, "axis", CR_MAX_RANK, &axis))
        return NULL;
    return cr_index_select(g, x, (int)axis, cr_lang_node(g, &args[2]));
}

cr_node *cr_lang_matmul(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    cr_node *a = cr_lang_node(g, &args[0]);
    return a ? cr_matmul(g, a, cr_lang_node(g, &args[1]), 0) : NULL;
}

/* maximum(a, b), gt(a, b), ...: a two-input op of two values. */
static cr_node *cr_lang_binary(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(argc);
    cr_node *a = cr_lang_node(g, &args[0]);
    cr_node *b = a ? cr_lang_node(g, &args[1]) : NULL;
    return b ? cr_op_pair(g, op, a, b) : NULL;
}

static cr_node *cr_lang_where(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *in[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++)
        if (!(in[k] = cr_lang_node(g, &args[k])))
            return NULL;
    return cr_where(g, in[0], in[1], in[2]);
}

/* clamp(x, lo, hi) with numbers lo and hi. */
static cr_node *cr_lang_clamp(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(argc);
    double lo, hi;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !literal_arg(g, op->name, args, 1, "lower bound", &lo) ||
        !literal_arg(g, op->name, args, 2, "upper bound", &hi))
        return NULL;
    return cr_clamp(g, x, lo, hi);
}

/* leaky_relu(x) with PyTorch's slope, or leaky_relu(x, slope). */
static cr_node *cr_lang_leaky_relu(cr_graph *g, const cr_op *op, cr_lang_value *args,
                                   int argc)
{
    double slope = CR_LEAKY_RELU_SLOPE;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (argc > 1 && !literal_arg(g, op->name, args, 1, "slope", &slope)))
        return NULL;
    return cr_leaky_relu(g, x, slope);
}

/* elu(x) with alpha 1, or elu(x, alpha). */
static cr_node *cr_lang_elu(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    double alpha = CR_ELU_ALPHA;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (argc > 1 && !literal_arg(g, op->name, args, 1, "alpha", &alpha)))
        return NULL;
    return cr_elu(g, x, alpha);
}

/* sum(x), sum(x, axis), sum(x, axis, keepdims) and the other reductions:
 * the axis an integer, keepdims a number (non-zero: keep the axis). */
static cr_node *cr_lang_reduce(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long axis = 0;
    double keep = 0;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (argc > 1 && !whole_arg(g, op->name, args, 1, "axis", CR_MAX_RANK, &axis)) ||
        (argc > 2 && !literal_arg(g, op->name, args, 2, "keepdims flag", &keep)))
        return NULL;
    return cr_reduce(g, op, x, argc == 1, (int)axis, keep != 0);
}
