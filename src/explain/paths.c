/*
 * paths.c - local derivatives and the paths between two nodes: the value
 * of one edge's local derivative from its op's vjp (cr_chain_local_value),
 * and the analysis of the paths output -> ... -> wrt shared by chain.c and
 * dot.c (which nodes lie on them, each edge's local derivative and
 * gradient flow, the gradient of output with respect to every node on
 * them). Everything is iterative: graphs may be 1M nodes deep.
 */
#include "explain/chain_private.h"

#include <math.h>
#include <string.h>

/* ---- local derivative values ---- */

/* Records in g that p's op has no derivative (no vjp): CR_ENOTSUP. */
static cr_status no_derivative(cr_graph *g, const cr_node *p)
{
    char label[300];
    cr_node_label(p, label, sizeof label);
    return cr_graph_fail(g, CR_ENOTSUP, "chain: %s: op %s has no derivative", label,
                         p->op->name);
}

/* d(parent)/d(input i) for a scalar edge: the op's vjp applied to 1, on
 * helper nodes removed again before returning. */
static cr_status probe(cr_graph *g, cr_node *p, size_t i, double *value)
{
    if (!p->op->vjp)
        return no_derivative(g, p);
    size_t n_before = g->n_nodes;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    cr_node *one = cr_constant_fill(g, p->value.rank, p->value.shape, 1.0);
    cr_node *dx = NULL;
    cr_status st = one ? p->op->vjp(g, p, i, one, &dx) : g->err.status;
    if (st == CR_OK)
        *value = dx ? dx->value.data[0] : 0.0;
    cr_graph_truncate(g, n_before, mark);
    return st;
}

cr_status cr_chain_local_value(cr_node *parent, size_t input, double *value)
{
    if (!parent || !value)
        return CR_EINVAL;
    cr_graph *g = parent->graph;
    char label[300];
    if (input >= parent->n_inputs) {
        cr_node_label(parent, label, sizeof label);
        return cr_graph_fail(g, CR_EINVAL, "chain: %s has no input %zu", label, input);
    }
    if (parent->value.size != 1 || parent->inputs[input]->value.size != 1) {
        cr_node_label(parent, label, sizeof label);
        return cr_graph_fail(
            g, CR_ESHAPE, "chain: d(%s)/d(input %zu) is a Jacobian %s x %s, not a scalar",
            label, input, cr_shape_str(&parent->value).text,
            cr_shape_str(&parent->inputs[input]->value).text);
    }
    return probe(g, parent, input, value);
}

/* ---- paths between two nodes ---- */

enum { ANCESTOR = 1, DEPENDS = 2 };

void cr_paths_release(cr_paths *p)
{
    if (p->acc)
        cr_graph_truncate(p->g, p->n_before, p->mark);
    cr_free(p->acc);
    cr_free(p->marks);
    cr_free(p->ebase);
    cr_free(p->local);
    cr_free(p->flow);
    cr_free(p->grad);
    cr_tensor_free(p->gradient);
    memset(p, 0, sizeof *p);
}

int cr_paths_edge(const cr_paths *p, const cr_node *parent, size_t i, size_t *e)
{
    if (!p->any || parent->id < p->lo || parent->id > p->hi || i >= parent->n_inputs)
        return 0;
    const cr_node *child = parent->inputs[i];
    if (child->id < p->lo || !(p->marks[parent->id - p->lo] & CR_ON_PATH) ||
        !(p->marks[child->id - p->lo] & CR_ON_PATH))
        return 0;
    *e = p->ebase[parent->id - p->lo] + i;
    return 1;
}

cr_status cr_chain_oom(cr_graph *g)
{
    return cr_graph_fail(g, CR_ENOMEM, "chain: out of memory");
}

/* Gradient flow through nodes (tensors on the paths): the reverse sweep of
 * autodiff restricted to the paths, on helper nodes the caller removes. */
static cr_status sweep_nodes(cr_paths *p)
{
    cr_graph *g = p->g;
    size_t n = p->hi - p->lo + 1;
    cr_node **acc = p->acc = cr_calloc(n, sizeof *acc);
    if (!acc)
        return cr_chain_oom(g);
    cr_status st = CR_OK;
    acc[n - 1] = cr_constant_fill(g, p->output->value.rank, p->output->value.shape, 1.0);
    if (!acc[n - 1])
        st = g->err.status;
    for (size_t k = n; st == CR_OK && k-- > 0;) {
        cr_node *node = g->nodes[p->lo + k];
        if (!(p->marks[k] & CR_ON_PATH) || !acc[k] || node->kind != CR_NODE_OP)
            continue;
        for (size_t i = 0; i < node->n_inputs && st == CR_OK; i++) {
            cr_node *in = node->inputs[i];
            if (!cr_paths_on_path(p, in))
                continue;
            cr_node *c = NULL;
            if (!node->op->vjp) {
                st = no_derivative(g, node);
                break;
            }
            if ((st = node->op->vjp(g, node, i, acc[k], &c)) != CR_OK || !c)
                continue;
            size_t e = p->ebase[k] + i;
            p->flow[e] = c->value.size == 1 ? c->value.data[0] : cr_tensor_norm(&c->value);
            size_t kin = in->id - p->lo;
            acc[kin] = acc[kin] ? cr_add(g, acc[kin], c) : c;
            if (!acc[kin])
                st = g->err.status;
        }
    }
    if (st == CR_OK) {
        for (size_t k = 0; k < n; k++)
            if (acc[k] && acc[k]->value.size == 1)
                p->grad[k] = acc[k]->value.data[0];
        cr_error err;
        if (p->wrt)
            p->gradient =
                acc[0] ? cr_tensor_copy(&acc[0]->value, &err)
                       : cr_tensor_new(p->wrt->value.rank, p->wrt->value.shape, &err);
        if (p->wrt && !p->gradient)
            st = cr_chain_oom(g);
    }
    return st;
}

/* The same sweep in doubles when every node on the paths is a scalar. */
static cr_status sweep_scalars(cr_paths *p)
{
    cr_graph *g = p->g;
    size_t n = p->hi - p->lo + 1;
    for (size_t k = 0; k < n; k++)
        p->grad[k] = 0.0;
    p->grad[n - 1] = 1.0;
    for (size_t k = n; k-- > 0;) {
        cr_node *node = g->nodes[p->lo + k];
        if (!(p->marks[k] & CR_ON_PATH) || node->kind != CR_NODE_OP)
            continue;
        for (size_t i = 0; i < node->n_inputs; i++) {
            cr_node *in = node->inputs[i];
            if (!cr_paths_on_path(p, in))
                continue;
            size_t e = p->ebase[k] + i;
            p->flow[e] = p->grad[k] * p->local[e];
            p->grad[in->id - p->lo] += p->flow[e];
        }
    }
    cr_error err;
    if (!p->wrt)
        return CR_OK;
    p->gradient = cr_tensor_new_scalar(p->grad[0], &err);
    return p->gradient ? CR_OK : cr_chain_oom(g);
}

cr_status cr_paths_build(cr_paths *p, cr_graph *g, cr_node *output, cr_node *wrt)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    p->output = output;
    p->wrt = wrt;
    cr_error err;
    if (wrt && wrt->id > output->id) { /* made later: cannot influence output */
        p->gradient = cr_tensor_new(wrt->value.rank, wrt->value.shape, &err);
        return p->gradient ? CR_OK : cr_chain_oom(g);
    }
    p->lo = wrt ? wrt->id : 0;
    p->hi = output->id;
    size_t n = p->hi - p->lo + 1;
    p->marks = cr_calloc(n, 1);
    p->ebase = cr_calloc(n + 1, sizeof *p->ebase);
    p->grad = cr_malloc(n * sizeof *p->grad);
    if (!p->marks || !p->ebase || !p->grad)
        goto nomem;
    /* ancestors of output, then descendants of wrt: one sweep each */
    p->marks[n - 1] = ANCESTOR;
    for (size_t k = n; k-- > 0;) {
        if (!(p->marks[k] & ANCESTOR))
            continue;
        const cr_node *node = g->nodes[p->lo + k];
        for (size_t i = 0; i < node->n_inputs; i++)
            if (node->inputs[i]->id >= p->lo)
                p->marks[node->inputs[i]->id - p->lo] |= ANCESTOR;
    }
    p->marks[0] |= wrt ? DEPENDS : 0;
    p->all_scalar = 1;
    for (size_t k = 0; k < n; k++) {
        const cr_node *node = g->nodes[p->lo + k];
        for (size_t i = 0; i < node->n_inputs && !(p->marks[k] & DEPENDS); i++)
            if (node->inputs[i]->id >= p->lo &&
                (p->marks[node->inputs[i]->id - p->lo] & DEPENDS))
                p->marks[k] |= DEPENDS;
        const unsigned on = wrt ? (ANCESTOR | DEPENDS) : ANCESTOR;
        if ((p->marks[k] & on) == on) {
            p->marks[k] |= CR_ON_PATH;
            if (node->value.size != 1)
                p->all_scalar = 0;
        }
        p->ebase[k + 1] = p->ebase[k] + ((p->marks[k] & CR_ON_PATH) ? node->n_inputs : 0);
        p->grad[k] = NAN;
    }
    p->any = (p->marks[n - 1] & CR_ON_PATH) != 0;
    size_t n_edges = p->ebase[n] ? p->ebase[n] : 1;
    p->local = cr_malloc(n_edges * sizeof *p->local);
    p->flow = cr_calloc(n_edges, sizeof *p->flow);
    if (!p->local || !p->flow)
        goto nomem;
    for (size_t e = 0; e < n_edges; e++)
        p->local[e] = NAN;

    /* local derivatives of the scalar edges */
    cr_status st = CR_OK;
    for (size_t k = 0; k < n && st == CR_OK; k++) {
        cr_node *node = g->nodes[p->lo + k];
        if (!(p->marks[k] & CR_ON_PATH) || node->kind != CR_NODE_OP ||
            node->value.size != 1)
            continue;
        for (size_t i = 0; i < node->n_inputs && st == CR_OK; i++)
            if (cr_paths_on_path(p, node->inputs[i]) && node->inputs[i]->value.size == 1)
                st = probe(g, node, i, &p->local[p->ebase[k] + i]);
    }
    if (st == CR_OK) {
        p->n_before = g->n_nodes;
        p->mark = cr_arena_get_mark(&g->arena);
        st = p->all_scalar ? sweep_scalars(p) : sweep_nodes(p); /* nodes kept in acc */
    }
    if (st != CR_OK)
        cr_paths_release(p);
    return st;

nomem:
    cr_paths_release(p);
    return cr_chain_oom(g);
}
