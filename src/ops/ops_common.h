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

#define IN(n, i) ((const double *)(n)->inputs[i]->value.data)
#define INT(n, i) (&(n)->inputs[i]->value)
#define OUT(n) ((n)->value.data)

/* Output shaped like input 0. */
cr_status cr_shape_same(cr_graph *g, cr_node *n);
/* Output shaped like the broadcast of inputs 0 and 1 (see ops.h). */
cr_status cr_shape_broadcast(cr_graph *g, cr_node *n);
/* Whether small's shape is a suffix of big's ([n] of [m,n]; [] of any). */
int cr_shape_is_suffix(const cr_tensor *small, const cr_tensor *big);
/* Inputs 0 and 1 have the same shape; output is a scalar. */
cr_status cr_shape_pair_to_scalar(cr_graph *g, cr_node *n);
/* The axis of a rank-`rank` tensor that axis names (negative: counting from
 * the end), or -1 after recording CR_EINVAL "<op>: axis A out of range for
 * <x's shape>" in g (shape.c). */
int cr_axis_index(cr_graph *g, const char *op, int axis, int rank, const cr_tensor *x);

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

/* A unary elementwise op: y[i] = EXPR with v = x[i] and c = n->args->f;
 * TEXT is the op's cr_op.expr. The vjp NAME##_vjp is written by hand next
 * to it. */
#define CR_UNARY_OP(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS)                             \
    CR_UNARY_OP_KINKS(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS, NULL, 0)

/* The same, for an op with kinks elsewhere than at 0: KINKS points to
 * N_KINKS values of x (cr_op.kinks). */
#define CR_UNARY_OP_KINKS(NAME, EXPR, FORMULA, TEXT, DERIV, FLAGS, KINKS, N_KINKS)        \
    static void NAME##_forward(cr_node *n)                                                \
    {                                                                                     \
        const double *restrict x = IN(n, 0);                                              \
        double *restrict y = OUT(n);                                                      \
        const double c = n->args->f;                                                      \
        (void)c;                                                                          \
        CR_FOR_BLOCKED(i, n->value.size, const double v = x[i]; y[i] = (EXPR););          \
    }                                                                                     \
    static cr_status NAME##_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,           \
                                cr_node **dx);                                            \
    const cr_op cr_op_##NAME = {.name = #NAME,                                            \
                                .min_inputs = 1,                                          \
                                .max_inputs = 1,                                          \
                                .flags = CR_OP_ELEMENTWISE | (FLAGS),                     \
                                .formula = FORMULA,                                       \
                                .expr = TEXT,                                             \
                                .deriv = {DERIV, NULL},                                   \
                                .jacobian = "diagonal",                                   \
                                .kinks = KINKS,                                           \
                                .n_kinks = N_KINKS,                                       \
                                .shape = cr_shape_same,                                   \
                                .forward = NAME##_forward,                                \
                                .vjp = NAME##_vjp};

/* A binary elementwise op with broadcasting: y = EXPR of a and b. */
#define CR_BINARY_KERNEL(NAME, EXPR)                                                      \
    static void NAME##_forward(cr_node *n)                                                \
    {                                                                                     \
        const double *restrict pa = IN(n, 0), *restrict pb = IN(n, 1);                    \
        double *restrict y = OUT(n);                                                      \
        const size_t len = n->value.size, na = INT(n, 0)->size, nb = INT(n, 1)->size;     \
        if (na == len && nb == len) {                                                     \
            CR_FOR_BLOCKED(i, len, const double a = pa[i]; const double b = pb[i];        \
                           y[i] = (EXPR););                                               \
        } else if (na == len && nb == 1) {                                                \
            const double b = pb[0];                                                       \
            CR_FOR_BLOCKED(i, len, const double a = pa[i]; y[i] = (EXPR););               \
        } else if (nb == len && na == 1) {                                                \
            const double a = pa[0];                                                       \
            CR_FOR_BLOCKED(i, len, const double b = pb[i]; y[i] = (EXPR););               \
        } else if (na == len) { /* b is a suffix of a's shape */                          \
            for (size_t blk = 0; blk < len; blk += nb) {                                  \
                const double *restrict ra = pa + blk;                                     \
                double *restrict ry = y + blk;                                            \
                CR_FOR_BLOCKED(j, nb, const double a = ra[j]; const double b = pb[j];     \
                               ry[j] = (EXPR););                                          \
            }                                                                             \
        } else { /* a is a suffix of b's shape */                                         \
            for (size_t blk = 0; blk < len; blk += na) {                                  \
                const double *restrict rb = pb + blk;                                     \
                double *restrict ry = y + blk;                                            \
                CR_FOR_BLOCKED(j, na, const double a = pa[j]; const double b = rb[j];     \
                               ry[j] = (EXPR););                                          \
            }                                                                             \
        }                                                                                 \
    }

/* Shorthand for vjp bodies: fail with the graph's status when a builder
 * returned NULL. */
#define CR_VJP_RETURN(expr)                                                               \
    do {                                                                                  \
        *dx = (expr);                                                                     \
        return *dx ? CR_OK : g->err.status;                                               \
    } while (0)

#endif
