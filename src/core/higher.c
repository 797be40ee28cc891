/*
 * higher.c - derivatives beyond the gradient (chainrule/higher.h):
 * Jacobian-vector products, Hessian-vector products, Jacobians and
 * Hessians, all built from the seeded vector-Jacobian products of
 * autodiff.c (cr_vjp_build), so every result is ordinary graph nodes.
 *
 * Forward mode uses the transpose trick: for a dummy cotangent u shaped
 * like y, w(u) = u^T dy/dx is linear in u, so the vector-Jacobian product
 * of w with the cotangent v, d(w . v)/du, is (dy/dx) v whatever u holds.
 */
#include "chainrule/higher.h"

#include "chainrule/ops.h"
#include "core/internal.h"

/* Checks the common arguments; CR_OK or the status recorded in g. */
static cr_status check_args(cr_graph *g, const char *what, cr_node *y, cr_node *x,
                            cr_node *v, int want_v, int scalar_y)
{
    if (!y || !x || (want_v && !v)) {
        if (g->err.status == CR_OK)
            cr_graph_fail(g, CR_EINVAL, "%s: %s is NULL", what, !y ? "y" : !x ? "x" : "v");
        return g->err.status;
    }
    if (y->graph != g || x->graph != g || (want_v && v->graph != g))
        return cr_graph_fail(g, CR_EINVAL, "%s: nodes belong to another graph", what);
    char label[300];
    if (scalar_y && y->value.size != 1) {
        cr_node_label(y, label, sizeof label);
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s must be a scalar, got %s", what, label,
                             cr_shape_str(&y->value).text);
    }
    if (want_v && !cr_tensor_same_shape(&v->value, &x->value)) {
        cr_node_label(x, label, sizeof label);
        return cr_graph_fail(g, CR_ESHAPE, "%s: the direction's shape %s is not %s's %s",
                             what, cr_shape_str(&v->value).text, label,
                             cr_shape_str(&x->value).text);
    }
    return CR_OK;
}

/* A graph mark to rewind to when a build fails half way. */
typedef struct rewind_point {
    size_t n_nodes;
    cr_arena_mark mark;
} rewind_point;

static rewind_point rewind_here(const cr_graph *g)
{
    return (rewind_point){g->n_nodes, cr_arena_get_mark(&g->arena)};
}

static cr_node *rewind_to(cr_graph *g, rewind_point p)
{
    cr_graph_truncate(g, p.n_nodes, p.mark);
    return NULL;
}

/* The gradient of a scalar y with respect to x, seeded with 1. */
static cr_status gradient(cr_graph *g, cr_node *y, cr_node *x, cr_node **out)
{
    cr_node *one = cr_constant_fill(g, y->value.rank, y->value.shape, 1.0);
    if (!one)
        return g->err.status;
    return cr_vjp_build(g, y, one, x, out);
}

cr_node *cr_jvp(cr_graph *g, cr_node *y, cr_node *x, cr_node *v)
{
    if (!g || check_args(g, "jvp", y, x, v, 1, 0) != CR_OK)
        return NULL;
    const rewind_point p = rewind_here(g);
    cr_node *u = cr_input(g, NULL, y->value.rank, y->value.shape);
    cr_node *w = NULL, *out = NULL;
    if (!u || cr_vjp_build(g, y, u, x, &w) != CR_OK ||
        cr_vjp_build(g, w, v, u, &out) != CR_OK)
        return rewind_to(g, p);
    return out;
}

cr_node *cr_hvp(cr_graph *g, cr_node *y, cr_node *x, cr_node *v)
{
    if (!g || check_args(g, "hvp", y, x, v, 1, 1) != CR_OK)
        return NULL;
    const rewind_point p = rewind_here(g);
    cr_node *dx = NULL, *out = NULL;
    /* the Hessian is symmetric: v^T d(grad)/dx is H v */
    if (gradient(g, y, x, &dx) != CR_OK || cr_vjp_build(g, dx, v, x, &out) != CR_OK)
        return rewind_to(g, p);
    return out;
}

/* The Jacobian of y (any shape) with respect to x: one row per element of
 * y, each the vector-Jacobian product with a one-hot cotangent, flattened
 * and stacked. */
static cr_node *jacobian_rows(cr_graph *g, const char *what, cr_node *y, cr_node *x)
{
    const size_t m = y->value.size;
    const long n = (long)x->value.size;
    cr_node **rows = cr_malloc(m * sizeof *rows);
    if (!rows) {
        cr_graph_fail(g, CR_ENOMEM, "%s: out of memory for %zu rows", what, m);
        return NULL;
    }
    cr_node *out = NULL;
    for (size_t i = 0; i < m; i++) {
        cr_node *e = cr_constant_fill(g, y->value.rank, y->value.shape, 0.0), *row = NULL;
        if (!e)
            goto done;
        e->value.data[i] = 1.0;
        if (cr_vjp_build(g, y, e, x, &row) != CR_OK)
            goto done;
        if (!(rows[i] = cr_reshape(g, row, 1, &n)))
            goto done;
    }
    out = cr_stack(g, m, rows, 0);
done:
    cr_free(rows);
    return out;
}

cr_node *cr_jacobian(cr_graph *g, cr_node *y, cr_node *x)
{
    if (!g || check_args(g, "jacobian", y, x, NULL, 0, 0) != CR_OK)
        return NULL;
    const rewind_point p = rewind_here(g);
    cr_node *out = jacobian_rows(g, "jacobian", y, x);
    return out ? out : rewind_to(g, p);
}

cr_node *cr_hessian(cr_graph *g, cr_node *y, cr_node *x)
{
    if (!g || check_args(g, "hessian", y, x, NULL, 0, 1) != CR_OK)
        return NULL;
    const rewind_point p = rewind_here(g);
    cr_node *dx = NULL, *out = NULL;
    if (gradient(g, y, x, &dx) == CR_OK)
        out = jacobian_rows(g, "hessian", dx, x);
    return out ? out : rewind_to(g, p);
}
