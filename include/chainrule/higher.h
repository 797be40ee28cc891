/*
 * chainrule/higher.h - derivatives beyond the gradient: Jacobian-vector
 * products (forward mode), Hessian-vector products, full Jacobians and
 * Hessians.
 *
 * Each function builds its result as ordinary nodes of the graph, from the
 * same vector-Jacobian products that reverse mode uses (docs/design.md,
 * "Gradients are graph nodes"), so results compose: a Jacobian-vector
 * product can be differentiated again, a Hessian drawn, any of them named.
 * Build once, then re-evaluate with cr_graph_forward(g, result) after
 * changing inputs (cr_node_set_data): the evaluation order is planned on
 * the first call, and later calls allocate nothing. Each call builds new
 * nodes (unlike cr_grad, nothing is cached per pair), so call these at
 * set-up, not in a loop.
 *
 * Shapes: a Jacobian or Hessian is a matrix whatever the ranks of y and x:
 * row i is element i of y (row-major), column j element j of x, so
 * J[i, j] = dy_i/dx_j and H[i, j] = d^2y/dx_i dx_j. A scalar y gives one
 * row.
 *
 * Ownership: every returned node is borrowed from the graph (which owns
 * it). Errors: NULL is returned and the detail recorded in g
 * (cr_graph_error); a NULL g gives NULL, a NULL node NULL with the error
 * that made it NULL kept (as for node constructors). A failed call leaves
 * the graph unchanged.
 */
#ifndef CHAINRULE_HIGHER_H
#define CHAINRULE_HIGHER_H

#include "chainrule/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Forward mode: the Jacobian-vector product (dy/dx) v, shaped like y, for
 * a y of any shape and a tangent v shaped like x (any node: usually an
 * input whose value is set before each evaluation). The tangent is
 * propagated as graph nodes (the transpose of the vector-Jacobian product
 * applied to v), so the result composes with reverse mode. Returns a new
 * node (borrowed), or NULL: CR_EINVAL for nodes of another graph,
 * CR_ESHAPE when v's shape is not x's, CR_ENOTSUP for an op without a
 * derivative on the way, CR_ENOMEM. A zero constant when y does not
 * depend on x. */
CR_API cr_node *cr_jvp(cr_graph *g, cr_node *y, cr_node *x, cr_node *v);

/* The Hessian-vector product H v = d/dx (dy/dx . v), shaped like x, for a
 * scalar y and a v shaped like x (reverse mode over reverse mode). Returns
 * a new node (borrowed), or NULL: CR_ESHAPE for a y that is not a scalar
 * or a v not shaped like x, others as cr_jvp. */
CR_API cr_node *cr_hvp(cr_graph *g, cr_node *y, cr_node *x, cr_node *v);

/* The Jacobian dy/dx as a [size(y), size(x)] matrix (see the header
 * comment), one reverse pass per element of y. Returns a new node
 * (borrowed), or NULL: errors as cr_jvp. */
CR_API cr_node *cr_jacobian(cr_graph *g, cr_node *y, cr_node *x);

/* The Hessian of a scalar y with respect to x as a [size(x), size(x)]
 * matrix: the Jacobian of the gradient. Returns a new node (borrowed), or
 * NULL: CR_ESHAPE for a y that is not a scalar, others as cr_jvp. */
CR_API cr_node *cr_hessian(cr_graph *g, cr_node *y, cr_node *x);

#ifdef __cplusplus
}
#endif
#endif
