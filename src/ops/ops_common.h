/*
 * ops_common.h - what the op files share: shape rules, input/output
 * accessors and the macros that define an elementwise op (kernel,
 * descriptor and constructor) in one place.
 */
#ifndef CR_OPS_COMMON_H
#define CR_OPS_COMMON_H

#include "core/internal.h"
#include "ops/oplist.h"

#include <math.h>

/* Input i's values, input i's tensor (shape and values), the node's output
 * values. */
#define IN(n, i) ((const double *)(n)->inputs[i]->value.data)
#define IN_TENSOR(n, i) (&(n)->inputs[i]->value)
#define OUT(n) ((n)->value.data)

/* Output shaped like input 0. */
cr_status cr_shape_same(cr_graph *g, cr_node *n);
/* x * num / (x's element count) as a scale node whose factor follows
 * cr_graph_set_rows (the 1/n of a mean's gradient); cr_unary_resize is
 * the one-input ops' resize hook that works it out again. */
cr_node *cr_scale_per_element(cr_graph *g, cr_node *x, double num);
cr_status cr_unary_resize(cr_graph *g, cr_node *n, size_t max, size_t rows);
/* Output shaped like the broadcast of all the inputs (NumPy's rule, see
 * ops.h); CR_ESHAPE "add: [2,3] and [4,3] do not broadcast" otherwise. */
cr_status cr_shape_broadcast(cr_graph *g, cr_node *n);
/* Whether small's shape is a suffix of big's ([n] of [m,n]; [] of any). */
int cr_shape_is_suffix(const cr_tensor *small, const cr_tensor *big);
/* Inputs 0 and 1 have the same shape; output is a scalar. */
cr_status cr_shape_pair_to_scalar(cr_graph *g, cr_node *n);
/* The axis of a rank-`rank` tensor that axis names (negative: counting from
 * the end), or -1 after recording CR_EINVAL "<op>: axis A out of range for
 * <x's shape>" in g (shape.c). */
int cr_axis_index(cr_graph *g, const char *op, int axis, int rank, const cr_tensor *x);

/* A reduction node of op (sum, mean, max, min, logsumexp, argmax: ops.h)
 * over every element of x (all) or along axis (negative: from the end),
 * which keepdims keeps with length 1. CR_EINVAL for an axis out of range. */
cr_node *cr_reduce(cr_graph *g, const cr_op *op, cr_node *x, int all, int axis,
                   int keepdims);

/* A node of a two-input op with no parameters. */
static inline cr_node *cr_op_pair(cr_graph *g, const cr_op *op, cr_node *a, cr_node *b)
{
    cr_node *in[2] = {a, b};
    return cr_node_create(g, op, in, 2, NULL);
}

/* The descriptor of every op of the op list (ops/oplist.h), defined in its
 * family's file. */
#define CR_DECLARE_OP_(NAME) extern const cr_op cr_op_##NAME;
#define CR_DECLARE_OP_FN_(NAME, MIN, MAX, BUILD) CR_DECLARE_OP_(NAME)
#define CR_NOT_AN_OP_(NAME, MIN, MAX, BUILD)
CR_OP_LIST(CR_DECLARE_OP_, CR_DECLARE_OP_FN_, CR_NOT_AN_OP_)

/* Keeps a function out of its callers: the loops of a kernel stay out of
 * the small function that handles one element, which then needs no stack
 * frame (a scalar graph's forward is mostly such calls). */
#if defined(__GNUC__)
#define CR_NOINLINE __attribute__((noinline))
#else
#define CR_NOINLINE
#endif

/* A unary elementwise op: y[i] = EXPR with v = x[i] and c = n->args->f;
 * TEXT is the op's cr_op.expr. The vjp NAME##_vjp is written by hand next
 * to it; SCALAR_VJP is its cr_op.scalar_vjp, or NULL. */
#define CR_UNARY_OP(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS, SCALAR_VJP)                   \
    CR_UNARY_OP_KINKS(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS, NULL, 0, SCALAR_VJP)

/* The same, for an op with kinks elsewhere than at 0: KINKS points to
 * N_KINKS values of x (cr_op.kinks). */
#define CR_UNARY_OP_KINKS(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS, KINKS, N_KINKS,         \
                          SCALAR_VJP)                                                      \
    static CR_NOINLINE void NAME##_forward_loop(cr_node *n)                                \
    {                                                                                      \
        const double *restrict x = IN(n, 0);                                               \
        double *restrict y = OUT(n);                                                       \
        const double c = n->args->f;                                                       \
        (void)c;                                                                           \
        CR_FOR_BLOCKED(i, n->value.size, const double v = x[i]; y[i] = (EXPR););           \
    }                                                                                      \
    static void NAME##_forward(cr_node *n)                                                 \
    {                                                                                      \
        if (n->value.size != 1) {                                                          \
            NAME##_forward_loop(n);                                                        \
            return;                                                                        \
        }                                                                                  \
        const double v = IN(n, 0)[0], c = n->args->f; /* scalar graphs: no loop */         \
        (void)c;                                                                           \
        OUT(n)[0] = (EXPR);                                                                \
    }                                                                                      \
    CR_UNARY_OP_DESCRIPTOR(NAME, FORMULA, TEXT, DERIV, FLAGS, KINKS, N_KINKS, SCALAR_VJP)

/* The descriptor cr_op_NAME of a unary elementwise op whose NAME##_forward
 * is defined before it (by CR_UNARY_OP_KINKS, or by hand for one whose
 * loop is a kernel of its own). */
#define CR_UNARY_OP_DESCRIPTOR(NAME, FORMULA, TEXT, DERIV, FLAGS, KINKS, N_KINKS,          \
                               SCALAR_VJP)                                                 \
    static cr_status NAME##_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,            \
                                cr_node **dx);                                             \
    const cr_op cr_op_##NAME = {.name = #NAME,                                             \
                                .min_inputs = 1,                                           \
                                .max_inputs = 1,                                           \
                                .flags = CR_OP_ELEMENTWISE | (FLAGS),                      \
                                .formula = FORMULA,                                        \
                                .expr = TEXT,                                              \
                                .deriv = {DERIV, NULL},                                    \
                                .jacobian = "diagonal",                                    \
                                .kinks = KINKS,                                            \
                                .n_kinks = N_KINKS,                                        \
                                .shape = cr_shape_same,                                    \
                                .forward = NAME##_forward,                                 \
                                .vjp = NAME##_vjp,                                         \
                                .scalar_vjp = SCALAR_VJP,                                  \
                                .resize = cr_unary_resize};

/* ---- broadcasting (NumPy's rule; elementwise.c) ----
 * Shapes are aligned on their last axes; along each axis the dimensions
 * are equal, or one is 1 (or missing) and is stretched. cr_bcast walks the
 * output in rows of its last (collapsed) axis and gives, for each row, the
 * offsets of the operands; an operand's elements along that row are
 * contiguous (step[k] = 1) or one repeated element (step[k] = 0). */
#define CR_BCAST_MAX 3
typedef struct cr_bcast {
    int rank, n_ops;                          /* collapsed axes (>= 1), operands */
    size_t dim[CR_MAX_RANK];                  /* collapsed output dimensions */
    size_t stride[CR_BCAST_MAX][CR_MAX_RANK]; /* 0 along stretched axes */
    size_t idx[CR_MAX_RANK];
    size_t off[CR_BCAST_MAX];  /* offsets of the current row in each operand */
    size_t step[CR_BCAST_MAX]; /* 1 or 0: the operand along the row */
    size_t row;                /* length of a row: dim[rank - 1] */
} cr_bcast;

/* Sets it at the first row of out for the n_ops operands (shapes that
 * broadcast to out, checked by the shape rule). */
void cr_bcast_init(cr_bcast *it, const cr_tensor *out, const cr_tensor *const *ops,
                   int n_ops);

/* Moves it to the next row. */
static inline void cr_bcast_next(cr_bcast *it)
{
    for (int d = it->rank - 2; d >= 0; d--) {
        for (int k = 0; k < it->n_ops; k++)
            it->off[k] += it->stride[k][d];
        if (++it->idx[d] < it->dim[d])
            return;
        for (int k = 0; k < it->n_ops; k++)
            it->off[k] -= it->stride[k][d] * it->dim[d];
        it->idx[d] = 0;
    }
}

/* Whether small's elements repeat as one block over big: small's shape
 * without its leading 1s is a suffix of big's ([n] or [1,n] over [m,n]; a
 * scalar over anything). */
int cr_shape_is_block(const cr_tensor *small, const cr_tensor *big);

/* A binary elementwise op with broadcasting: y = EXPR of a and b. One
 * element (scalar graphs) is computed in NAME##_forward itself; same
 * shapes, a scalar and a repeated block (a row over a matrix) have loops of
 * their own; every other broadcast goes row by row through cr_bcast. */
#define CR_BINARY_KERNEL(NAME, EXPR)                                                       \
    static CR_NOINLINE void NAME##_forward_loops(cr_node *n);                              \
    static void NAME##_forward(cr_node *n)                                                 \
    {                                                                                      \
        if (n->value.size != 1) {                                                          \
            NAME##_forward_loops(n);                                                       \
            return;                                                                        \
        }                                                                                  \
        const double a = IN(n, 0)[0], b = IN(n, 1)[0], c = n->args->f;                     \
        (void)c;                                                                           \
        OUT(n)[0] = (EXPR);                                                                \
    }                                                                                      \
    static CR_NOINLINE void NAME##_forward_loops(cr_node *n)                               \
    {                                                                                      \
        const double *restrict pa = IN(n, 0), *restrict pb = IN(n, 1);                     \
        double *restrict y = OUT(n);                                                       \
        const size_t len = n->value.size, na = IN_TENSOR(n, 0)->size,                      \
                     nb = IN_TENSOR(n, 1)->size;                                           \
        const double c = n->args->f;                                                       \
        (void)c;                                                                           \
        if (na == len && nb == len) {                                                      \
            CR_FOR_BLOCKED(i, len, const double a = pa[i]; const double b = pb[i];         \
                           y[i] = (EXPR););                                                \
        } else if (na == len && nb == 1) {                                                 \
            const double b = pb[0];                                                        \
            CR_FOR_BLOCKED(i, len, const double a = pa[i]; y[i] = (EXPR););                \
        } else if (nb == len && na == 1) {                                                 \
            const double a = pa[0];                                                        \
            CR_FOR_BLOCKED(i, len, const double b = pb[i]; y[i] = (EXPR););                \
        } else if (na == len && cr_shape_is_block(IN_TENSOR(n, 1), &n->value)) {           \
            for (size_t blk = 0; blk < len; blk += nb) {                                   \
                const double *restrict ra = pa + blk;                                      \
                double *restrict ry = y + blk;                                             \
                CR_FOR_BLOCKED(j, nb, const double a = ra[j]; const double b = pb[j];      \
                               ry[j] = (EXPR););                                           \
            }                                                                              \
        } else if (nb == len && cr_shape_is_block(IN_TENSOR(n, 0), &n->value)) {           \
            for (size_t blk = 0; blk < len; blk += na) {                                   \
                const double *restrict rb = pb + blk;                                      \
                double *restrict ry = y + blk;                                             \
                CR_FOR_BLOCKED(j, na, const double a = pa[j]; const double b = rb[j];      \
                               ry[j] = (EXPR););                                           \
            }                                                                              \
        } else {                                                                           \
            const cr_tensor *ops_[2] = {IN_TENSOR(n, 0), IN_TENSOR(n, 1)};                 \
            cr_bcast it;                                                                   \
            cr_bcast_init(&it, &n->value, ops_, 2);                                        \
            for (size_t blk = 0; blk < len; blk += it.row, cr_bcast_next(&it)) {           \
                const double *restrict ra = pa + it.off[0], *restrict rb = pb + it.off[1]; \
                double *restrict ry = y + blk;                                             \
                if (it.step[0] && it.step[1]) {                                            \
                    CR_FOR_BLOCKED(j, it.row, const double a = ra[j];                      \
                                   const double b = rb[j]; ry[j] = (EXPR););               \
                } else if (it.step[0]) {                                                   \
                    const double b = rb[0];                                                \
                    CR_FOR_BLOCKED(j, it.row, const double a = ra[j]; ry[j] = (EXPR););    \
                } else {                                                                   \
                    const double a = ra[0];                                                \
                    CR_FOR_BLOCKED(j, it.row, const double b = rb[j]; ry[j] = (EXPR););    \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

/* A two-input elementwise op: kernel, vjp declaration and descriptor. The
 * vjp NAME##_vjp is written by hand next to it; SCALAR_VJP is its
 * cr_op.scalar_vjp, or NULL. */
#define CR_BINARY_ENTRY(NAME, EXPR, FLAGS, FORMULA, TEXT, DA, DB, JACOBIAN, SHAPE,         \
                        SCALAR_VJP)                                                        \
    CR_BINARY_KERNEL(NAME, EXPR)                                                           \
    static cr_status NAME##_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,            \
                                cr_node **dx);                                             \
    const cr_op cr_op_##NAME = {.name = #NAME,                                             \
                                .min_inputs = 2,                                           \
                                .max_inputs = 2,                                           \
                                .flags = CR_OP_ELEMENTWISE | (FLAGS),                      \
                                .formula = FORMULA,                                        \
                                .expr = TEXT,                                              \
                                .deriv = {DA, DB},                                         \
                                .jacobian = JACOBIAN,                                      \
                                .shape = SHAPE,                                            \
                                .forward = NAME##_forward,                                 \
                                .vjp = NAME##_vjp,                                         \
                                .scalar_vjp = SCALAR_VJP};

/* A public broadcasting binary op with its constructor cr_NAME(g, a, b). */
#define CR_BINARY_OP(NAME, EXPR, FORMULA, TEXT, DA, DB, SCALAR_VJP)                        \
    CR_BINARY_ENTRY(NAME, EXPR, 0, FORMULA, TEXT, DA, DB,                                  \
                    "diagonal (summed over broadcast axes)", cr_shape_broadcast,           \
                    SCALAR_VJP)                                                            \
    cr_node *cr_##NAME(cr_graph *g, cr_node *a, cr_node *b)                                \
    {                                                                                      \
        return cr_op_pair(g, &cr_op_##NAME, a, b);                                         \
    }

/* The contribution full (shaped like n, or NULL after a failed builder)
 * summed back to the shape of n's input i over the axes it was stretched
 * along, into *dx. */
cr_status cr_vjp_to_input(cr_graph *g, cr_node *n, size_t i, cr_node *full, cr_node **dx);

/* Shorthand for vjp bodies: fail with the graph's status when a builder
 * returned NULL. */
#define CR_VJP_RETURN(expr)                                                                \
    do {                                                                                   \
        *dx = (expr);                                                                      \
        return *dx ? CR_OK : g->err.status;                                                \
    } while (0)

#endif
