/*
 * compare.c - elementwise ops that compare or select: maximum and minimum
 * (ties split the gradient evenly, as torch.maximum), clamp between two
 * constants, where(cond, a, b), and the comparisons gt, ge, lt, le, eq,
 * whose 0/1 values have a zero Jacobian. Binary ones broadcast (NumPy's
 * rule, ops_common.h); their gradients are built from the comparisons.
 */
#include "ops/ops_common.h"

#include <stdio.h>
#include <string.h>

/* ---- comparisons: 0/1 values, no gradient ---- */

/* A comparison: y = (EXPR) ? 1 : 0, broadcasting, with its constructor. */
#define CR_COMPARE_OP(NAME, EXPR, FORMULA, TEXT)                                           \
    CR_BINARY_ENTRY(NAME, (EXPR) ? 1.0 : 0.0, 0, FORMULA, TEXT, "0", "0",                  \
                    "zero (a step function)", cr_shape_broadcast, NULL)                    \
    cr_node *cr_##NAME(cr_graph *g, cr_node *a, cr_node *b)                                \
    {                                                                                      \
        return cr_op_pair(g, &cr_op_##NAME, a, b);                                         \
    }                                                                                      \
    static cr_status NAME##_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,            \
                                cr_node **dx)                                              \
    {                                                                                      \
        *dx = NULL; /* constant almost everywhere */                                       \
        return CR_OK;                                                                      \
    }

CR_COMPARE_OP(gt, a > b, "y = 1 if a > b else 0", "gt(a, b)")
CR_COMPARE_OP(ge, a >= b, "y = 1 if a >= b else 0", "ge(a, b)")
CR_COMPARE_OP(lt, a < b, "y = 1 if a < b else 0", "lt(a, b)")
CR_COMPARE_OP(le, a <= b, "y = 1 if a <= b else 0", "le(a, b)")
CR_COMPARE_OP(eq, a == b, "y = 1 if a == b else 0", "eq(a, b)")

/* ---- maximum and minimum: NaN wins, ties split the gradient ---- */

CR_BINARY_OP(maximum, (a > b || a != a) ? a : b, "y = max(a, b)", "maximum(a, b)",
             "gt(a, b) + 0.5*eq(a, b)", "lt(a, b) + 0.5*eq(a, b)", NULL)
CR_BINARY_OP(minimum, (a < b || a != a) ? a : b, "y = min(a, b)", "minimum(a, b)",
             "lt(a, b) + 0.5*eq(a, b)", "gt(a, b) + 0.5*eq(a, b)", NULL)

/* dy times the share of input i in y = pick(a, b): 1 where wins(input i,
 * other) holds, 1/2 where they tie, 0 elsewhere. */
static cr_status pick_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx,
                          cr_node *(*wins)(cr_graph *, cr_node *, cr_node *))
{
    cr_node *self = n->inputs[i], *other = n->inputs[1 - i];
    cr_node *share =
        cr_add(g, wins(g, self, other), cr_scale(g, cr_eq(g, self, other), 0.5));
    return cr_vjp_to_input(g, n, i, cr_mul(g, dy, share), dx);
}

static cr_status maximum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return pick_vjp(g, n, i, dy, dx, cr_gt);
}

static cr_status minimum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    return pick_vjp(g, n, i, dy, dx, cr_lt);
}

/* ---- clamp(x, lo, hi): the bounds are args.i[0] and args.i[1] holding
 * the bits of two doubles. Its kinks are at the bounds, which the op
 * table's fixed kink points (cr_op.kinks) cannot hold, so it is not
 * flagged CR_OP_KINK; nor are maximum, minimum and the comparisons, whose
 * kinks are where a == b. ---- */

static double clamp_bound(const cr_node *n, int k)
{
    double v;
    memcpy(&v, &n->args->i[k], sizeof v);
    return v;
}

static void clamp_forward(cr_node *n)
{
    const double *restrict x = IN(n, 0);
    double *restrict y = OUT(n);
    const double lo = clamp_bound(n, 0), hi = clamp_bound(n, 1);
    /* NaN stays NaN, as in PyTorch */
    CR_FOR_BLOCKED(i, n->value.size, const double v = x[i]; y[i] = v < lo   ? lo
                                                                   : v > hi ? hi
                                                                            : v;);
}

/* dy where lo <= x <= hi (y == x, bounds included as in PyTorch), else 0. */
static cr_status clamp_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    CR_VJP_RETURN(cr_mul(g, dy, cr_eq(g, n, n->inputs[0])));
}

const cr_op cr_op_clamp = {.name = "clamp",
                           .min_inputs = 1,
                           .max_inputs = 1,
                           .flags = CR_OP_ELEMENTWISE,
                           .formula = "y = min(max(x, lo), hi)",
                           .deriv = {"eq(y, x)", NULL},
                           .jacobian =
                               "diagonal: 1 between the bounds (included), 0 outside",
                           .shape = cr_shape_same,
                           .forward = clamp_forward,
                           .vjp = clamp_vjp};

cr_node *cr_clamp(cr_graph *g, cr_node *x, double lo, double hi)
{
    if (g && x && (lo != lo || hi != hi || lo > hi)) {
        cr_graph_fail(g, CR_EINVAL, "clamp: bounds [%.17g, %.17g]: need lo <= hi, not NaN",
                      lo, hi);
        return NULL;
    }
    cr_node_args args = {0};
    memcpy(&args.i[0], &lo, sizeof lo);
    memcpy(&args.i[1], &hi, sizeof hi);
    return cr_node_create(g, &cr_op_clamp, &x, 1, &args);
}

/* ---- where(cond, a, b): a where cond is not 0, else b ---- */

static void where_forward(cr_node *n)
{
    const double *restrict pc = IN(n, 0), *restrict pa = IN(n, 1), *restrict pb = IN(n, 2);
    double *restrict y = OUT(n);
    const size_t len = n->value.size;
    if (IN_TENSOR(n, 0)->size == len && IN_TENSOR(n, 1)->size == len &&
        IN_TENSOR(n, 2)->size == len) {
        CR_FOR_BLOCKED(i, len, y[i] = pc[i] != 0.0 ? pa[i] : pb[i];);
        return;
    }
    const cr_tensor *ops[3] = {IN_TENSOR(n, 0), IN_TENSOR(n, 1), IN_TENSOR(n, 2)};
    cr_bcast it;
    cr_bcast_init(&it, &n->value, ops, 3);
    for (size_t blk = 0; blk < len; blk += it.row, cr_bcast_next(&it)) {
        const double *rc = pc + it.off[0], *ra = pa + it.off[1], *rb = pb + it.off[2];
        for (size_t j = 0; j < it.row; j++)
            y[blk + j] =
                rc[j * it.step[0]] != 0.0 ? ra[j * it.step[1]] : rb[j * it.step[2]];
    }
}

/* where(cond, dy, 0) to a, where(cond, 0, dy) to b, nothing to cond. */
static cr_status where_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    if (i == 0) {
        *dx = NULL;
        return CR_OK;
    }
    cr_node *zero = cr_scalar(g, 0.0), *cond = n->inputs[0];
    return cr_vjp_to_input(
        g, n, i, i == 1 ? cr_where(g, cond, dy, zero) : cr_where(g, cond, zero, dy), dx);
}

/* d/d cond = 0, d/da = cond, d/db = 1 - cond, with cond's label. */
static int where_deriv_text(const cr_node *n, size_t i, char *buf, size_t size)
{
    if (i == 0)
        return snprintf(buf, size, "0");
    char cond[300];
    cr_node_label(n->inputs[0], cond, sizeof cond);
    /* a where the condition is not 0, b where it is */
    return snprintf(buf, size, i == 1 ? "%s == 0 ? 0 : 1" : "%s == 0 ? 1 : 0", cond);
}

static const char *where_jacobian(const cr_node *n, size_t i)
{
    CR_UNUSED(n);
    return i == 0 ? "zero (the condition selects)"
                  : "diagonal: the selected elements (summed over broadcast axes)";
}

const cr_op cr_op_where = {.name = "where",
                           .min_inputs = 3,
                           .max_inputs = 3,
                           .flags = CR_OP_ELEMENTWISE,
                           .formula = "y = a where cond != 0, else b",
                           .deriv = {"0", NULL},
                           .jacobian = "diagonal: the selected elements",
                           .deriv_text = where_deriv_text,
                           .jacobian_of = where_jacobian,
                           .shape = cr_shape_broadcast,
                           .forward = where_forward,
                           .vjp = where_vjp};

cr_node *cr_where(cr_graph *g, cr_node *cond, cr_node *a, cr_node *b)
{
    cr_node *in[3] = {cond, a, b};
    return cr_node_create(g, &cr_op_where, in, 3, NULL);
}
