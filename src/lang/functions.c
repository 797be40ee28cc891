/*
 * functions.c - the functions of the expression language: their table and
 * the list of their names, both generated from the op list (ops/oplist.h),
 * the suggestion for an unknown name, the names of keyword arguments, list
 * literals, and the builders that turn a call into nodes.
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

/* The edit distance of a and b (lengths na, nb < 64; transpositions
 * count 1), or 99 when either is longer. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na >= 64 || nb >= 64)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

const char *cr_lang_function_suggest(const char *name, size_t len)
{
    /* names other tools use for the language's functions */
    static const char *const aliases[][2] = {
        {"ln", "log"},       {"mm", "matmul"},        {"inner", "dot"},
        {"arctanh", "tanh"}, {"logistic", "sigmoid"}, {"concatenate", "concat"},
        {"cat", "concat"},   {"t", "transpose"},      {"tr", "trace"},
        {"amax", "max"},     {"amin", "min"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strlen(aliases[i][0]) == len && memcmp(aliases[i][0], name, len) == 0)
            return aliases[i][1];
    const char *best = NULL;
    int best_d = len <= 3 ? 1 : 2; /* at most this far */
    for (size_t i = 0; i < N_FUNCTIONS; i++) {
        const int d =
            edit_distance(name, len, functions[i].name, strlen(functions[i].name));
        if (d <= best_d && (!best || d < best_d)) {
            best = functions[i].name;
            best_d = d;
        }
    }
    return best;
}

/* The argument names of the builders that take keyword arguments. */
static const struct {
    cr_lang_build build;
    const char *names;
} keyword_names[] = {
    {cr_lang_reduce, "x, axis, keepdims"},
    {cr_lang_softmax, "x, axis"},
    {cr_lang_join, "xs, axis"},
};

int cr_lang_keyword(const cr_lang_function *f, const char *name, size_t len,
                    const char **names)
{
    *names = "";
    for (size_t i = 0; i < sizeof keyword_names / sizeof keyword_names[0]; i++)
        if (keyword_names[i].build == f->build)
            *names = keyword_names[i].names;
    int pos = 0;
    for (const char *p = *names; *p; pos++) {
        const size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, len) == 0)
            return pos;
        p += n;
        p += strspn(p, ", ");
    }
    return -1;
}

/* ---- builders ---- */

/* 1 if the n nodes have one shape, else 0 with CR_ESHAPE in g naming the
 * first item that differs. */
static int list_same_shapes(cr_graph *g, cr_node **nodes, size_t n)
{
    const cr_tensor *a = cr_node_value(nodes[0]);
    for (size_t i = 1; i < n; i++) {
        const cr_tensor *b = cr_node_value(nodes[i]);
        if (!cr_tensor_same_shape(a, b)) {
            cr_graph_fail(g, CR_ESHAPE, "list: item %zu has the shape %s, item 0 has %s", i,
                          cr_shape_str(b).text, cr_shape_str(a).text);
            return 0;
        }
    }
    return 1;
}

cr_node *cr_lang_node(cr_graph *g, cr_lang_value *v)
{
    if (v->is_lit && !v->node)
        v->node = cr_scalar(g, v->lit);
    if (v->is_missing && !v->node)
        cr_graph_fail(g, CR_EINVAL, "an argument before a keyword argument is missing");
    /* a list kept for concat, of items that cannot be stacked */
    if (v->list && !v->node)
        list_same_shapes(g, v->list, v->n_list);
    return v->node;
}

int cr_lang_list(cr_graph *g, cr_lang_value *items, size_t n, int joined,
                 cr_lang_value *out)
{
    cr_node **nodes = cr_arena_alloc(&g->arena, n * sizeof *nodes, sizeof(void *));
    if (!nodes) {
        cr_graph_fail(g, CR_ENOMEM, "out of memory building a list");
        return 0;
    }
    int constant = 1, same = 1;
    for (size_t i = 0; i < n; i++) {
        if (!(nodes[i] = cr_lang_node(g, &items[i])))
            return 0;
        constant &= cr_node_kind_of(nodes[i]) == CR_NODE_CONSTANT;
        same &= cr_tensor_same_shape(cr_node_value(nodes[0]), cr_node_value(nodes[i]));
    }
    out->list = nodes;
    out->n_list = n;
    if (!same)
        return joined || list_same_shapes(g, nodes, n);
    const cr_tensor *first = cr_node_value(nodes[0]);
    if (first->rank == CR_MAX_RANK) {
        cr_graph_fail(g, CR_ESHAPE, "list: items of shape %s make a rank above %d",
                      cr_shape_str(first).text, CR_MAX_RANK);
        return 0;
    }
    if (!constant)
        return (out->node = cr_stack(g, n, nodes, 0)) != NULL;
    size_t shape[CR_MAX_RANK] = {n};
    memcpy(shape + 1, first->shape, (size_t)first->rank * sizeof *shape);
    cr_tensor *t = cr_tensor_new(first->rank + 1, shape, NULL);
    if (!t) {
        cr_graph_fail(g, CR_ENOMEM, "out of memory building a list");
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(t->data + i * first->size, cr_node_value(nodes[i])->data,
               first->size * sizeof *t->data);
    out->node = cr_constant(g, t);
    cr_tensor_free(t);
    return out->node != NULL;
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
 * the program, one by one (permute(x, 1, 0)) or, for reshape, also as a
 * list literal (reshape(x, [2, -1])). */

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

/* The whole numbers of a list literal of numbers (list): at most
 * CR_MAX_RANK into out, *n of them; 0 with CR_EINVAL recorded in g when it
 * is anything else. */
static int list_wholes(cr_graph *g, const char *fn, const cr_lang_value *list,
                       const char *what, long *out, int *n)
{
    const cr_tensor *t = list->node ? cr_node_value(list->node) : NULL;
    if (!t || cr_node_kind_of(list->node) != CR_NODE_CONSTANT || t->rank != 1 ||
        t->size > CR_MAX_RANK) {
        cr_graph_fail(g, CR_EINVAL, "%s(): the %s must be a list of at most %d numbers", fn,
                      what, CR_MAX_RANK);
        return 0;
    }
    for (size_t i = 0; i < t->size; i++) {
        if (floor(t->data[i]) != t->data[i] || fabs(t->data[i]) > WHOLE_MAX) {
            cr_graph_fail(g, CR_EINVAL, "%s(): the %s must be whole numbers, not %.17g", fn,
                          what, t->data[i]);
            return 0;
        }
        out[i] = (long)t->data[i];
    }
    *n = (int)t->size;
    return 1;
}

/* reshape(x, d1, ...) or reshape(x, [d1, ...]) */
cr_node *cr_lang_reshape(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long dims[CR_MAX_RANK];
    int rank = argc - 1;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x)
        return NULL;
    if (argc == 2 && args[1].list) {
        if (!list_wholes(g, op->name, &args[1], "shape", dims, &rank))
            return NULL;
    } else if (!lang_wholes(g, op->name, args, argc, NAMES("dimension"), dims)) {
        return NULL;
    }
    return cr_reshape(g, x, rank, dims);
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
    const int all = argc == 1 || args[1].is_missing;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (!all && !whole_arg(g, op->name, args, 1, "axis", CR_MAX_RANK, &axis)) ||
        (argc > 2 && !literal_arg(g, op->name, args, 2, "keepdims flag", &keep)))
        return NULL;
    if (all && keep != 0) { /* every axis kept with length 1 */
        const cr_tensor *v = cr_node_value(x);
        long ones[CR_MAX_RANK] = {1, 1, 1, 1};
        cr_node *r = cr_reduce(g, op, x, 1, 0, 0);
        return r && v->rank > 0 ? cr_reshape(g, r, v->rank, ones) : r;
    }
    return cr_reduce(g, op, x, all, (int)axis, keep != 0);
}

/* ---- axes, lists and the linear algebra of vectors and matrices ---- */

/* softmax(x) and log_softmax(x) along the last axis, or along an axis. */
cr_node *cr_lang_softmax(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long axis = -1;
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || (argc > 1 && !whole_arg(g, op->name, args, 1, "axis", CR_MAX_RANK, &axis)))
        return NULL;
    return op == &cr_op_softmax ? cr_softmax_axis(g, x, (int)axis)
                                : cr_log_softmax(g, x, (int)axis);
}

/* concat([a, b, ...], axis) and stack([a, b, ...], axis); axis 0 by
 * default. */
cr_node *cr_lang_join(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    long axis = 0;
    if (!args[0].list) {
        cr_graph_fail(g, CR_EINVAL, "%s(): the first argument must be a list [a, b, ...]",
                      op->name);
        return NULL;
    }
    if (argc > 1 && !whole_arg(g, op->name, args, 1, "axis", CR_MAX_RANK, &axis))
        return NULL;
    return op == &cr_op_concat ? cr_concat(g, args[0].n_list, args[0].list, (int)axis)
                               : cr_stack(g, args[0].n_list, args[0].list, (int)axis);
}

/* 0 with CR_ESHAPE recorded in g unless x has the given rank. */
static int need_rank(cr_graph *g, const char *fn, cr_node *x, int rank, const char *what)
{
    if (cr_node_value(x)->rank == rank)
        return 1;
    cr_graph_fail(g, CR_ESHAPE, "%s: %s is not %s", fn, cr_shape_str(cr_node_value(x)).text,
                  what);
    return 0;
}

/* norm(x) = sqrt(sum(x^2)), the Euclidean norm of all the elements. */
cr_node *cr_lang_norm(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *x = cr_lang_node(g, &args[0]);
    cr_node *sq = x ? cr_mul(g, x, x) : NULL;
    cr_node *s = sq ? cr_sum(g, sq) : NULL;
    return s ? cr_sqrt(g, s) : NULL;
}

/* dot(a, b) = sum_i a_i b_i of two vectors of one length (matmul). */
cr_node *cr_lang_dot(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *a = cr_lang_node(g, &args[0]);
    cr_node *b = a ? cr_lang_node(g, &args[1]) : NULL;
    if (!b || !need_rank(g, "dot", a, 1, "a vector") ||
        !need_rank(g, "dot", b, 1, "a vector"))
        return NULL;
    return cr_matmul(g, a, b, 0);
}

/* outer(a, b) = a b^T, [n] and [m] giving [n,m]. */
cr_node *cr_lang_outer(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *a = cr_lang_node(g, &args[0]);
    cr_node *b = a ? cr_lang_node(g, &args[1]) : NULL;
    if (!b || !need_rank(g, "outer", a, 1, "a vector") ||
        !need_rank(g, "outer", b, 1, "a vector"))
        return NULL;
    long col[2] = {-1, 1}, row[2] = {1, -1};
    cr_node *ac = cr_reshape(g, a, 2, col), *br = ac ? cr_reshape(g, b, 2, row) : NULL;
    return br ? cr_matmul(g, ac, br, 0) : NULL;
}

/* diag(v) for a vector: the square matrix with v on its diagonal (v as a
 * column times the identity); diag(m) for a matrix: its main diagonal
 * (the elements i*(cols+1) of m flattened). */
cr_node *cr_lang_diag(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x)
        return NULL;
    const cr_tensor *v = cr_node_value(x);
    if (v->rank != 1 && v->rank != 2) {
        cr_graph_fail(g, CR_ESHAPE, "diag: %s is not a vector or a matrix",
                      cr_shape_str(v).text);
        return NULL;
    }
    const size_t n = v->rank == 1 ? v->shape[0]
                                  : (v->shape[0] < v->shape[1] ? v->shape[0] : v->shape[1]);
    const size_t shape[2] = {n, n};
    cr_tensor *t = cr_tensor_new(v->rank == 1 ? 2 : 1, shape, NULL);
    if (!t) {
        cr_graph_fail(g, CR_ENOMEM, "diag: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) /* the identity, or the diagonal's positions */
        t->data[v->rank == 1 ? i * (n + 1) : i] =
            v->rank == 1 ? 1.0 : (double)(i * (v->shape[1] + 1));
    cr_node *c = cr_constant(g, t);
    cr_tensor_free(t);
    if (!c)
        return NULL;
    long col[2] = {-1, 1}, flat[1] = {-1};
    if (v->rank == 1) {
        cr_node *xc = cr_reshape(g, x, 2, col);
        return xc ? cr_mul(g, xc, c) : NULL;
    }
    cr_node *xf = cr_reshape(g, x, 1, flat);
    return xf ? cr_index_select(g, xf, 0, c) : NULL;
}

/* trace(m) = sum of the main diagonal of a matrix. */
cr_node *cr_lang_trace(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    cr_node *x = cr_lang_node(g, &args[0]);
    if (!x || !need_rank(g, "trace", x, 2, "a matrix"))
        return NULL;
    cr_node *d = cr_lang_diag(g, op, args, argc);
    return d ? cr_sum(g, d) : NULL;
}
