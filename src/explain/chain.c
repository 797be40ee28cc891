/*
 * chain.c - derivative chains (cr_chain_new and its accessors): the view of
 * the paths between an output and a node, either every edge or the
 * named-only view that collapses unnamed intermediates into one edge with
 * its composed value, flow and formula, the count of the view's paths and
 * the enumeration of the first ones with their edges. Everything is
 * iterative: graphs may be 1M nodes deep.
 */
#include "explain/chain_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the view: the edges between output and wrt, all or named-only ---- */

/* An edge of the view: original edge e (< n_orig) or collapsed record
 * e - n_orig, leading to the node with offset child. */
typedef struct view_edge {
    size_t child;
    size_t rec;
} view_edge;

typedef struct collapsed_rec {
    size_t parent, child; /* offsets */
    double value, flow;
    char *formula; /* the composed derivative text, or NULL (owned) */
} collapsed_rec;

void cr_chain_options_init(cr_chain_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->max_paths = CR_CHAIN_DEFAULT_PATHS;
}

/* The work of one cr_chain_new. */
typedef struct builder {
    cr_chain *c;
    cr_paths p;
    size_t n;          /* nodes in [lo, hi] */
    size_t *vstart;    /* n + 1 */
    view_edge *vedges; /* CSR of the view */
    size_t n_vedges, cap_vedges;
    collapsed_rec *coll;
    size_t n_coll, cap_coll;
    cr_chain_edge **memo; /* by record */
    int named_only;       /* the named-only view: unnamed inputs in formulas are
                             written as what they compute */
    int statements;       /* the statements view: every ancestor, leaves kept */
} builder;

static cr_status push_vedge(builder *b, size_t child, size_t rec)
{
    if (cr_grow((void **)&b->vedges, &b->cap_vedges, b->n_vedges + 1, sizeof *b->vedges) !=
        CR_OK)
        return cr_chain_oom(b->c->g);
    b->vedges[b->n_vedges++] = (view_edge){child, rec};
    return CR_OK;
}

static int is_kept(const builder *b, size_t k)
{
    const cr_node *node = b->p.g->nodes[b->p.lo + k];
    int end =
        b->statements ? node->kind == CR_NODE_INPUT || node->kind == CR_NODE_PARAM : k == 0;
    return (b->p.marks[k] & CR_ON_PATH) && (end || k == b->n - 1 || node->name);
}

static int cmp_desc(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, c = *(const size_t *)y;
    return (a < c) - (a > c);
}

/* Target of a collapse from one kept node: a kept child, its summed value
 * and how it is reached. */
typedef struct target {
    size_t child;
    double value, flow;
    int via;       /* reached through unnamed nodes */
    int n_direct;  /* edges straight from the kept node */
    cr_node *sum;  /* node-based: the contribution reaching child */
    cr_dtext text; /* all-scalar paths: the derivative written out */
} target;

/* Whether the paths from a kept node to target t become one collapsed
 * edge: they pass unnamed nodes, or several edges go straight to t (z*z).
 * A single direct edge stays as it is. */
static int target_collapses(const target *t) { return t->via || t->n_direct > 1; }

/* For graphs with tensors: the derivative from kept node a to its targets
 * through the region, propagated with the ops' vjps (a scalar a is seeded
 * with 1, giving d(a)/d(target); a tensor a with d(output)/d(a), giving
 * the gradient flow). racc holds one node per offset, NULL on entry and
 * exit. The helper nodes are removed again. */
static cr_status region_nodes(builder *b, size_t a, const size_t *region, size_t n_region,
                              cr_node **racc, target *tg, size_t n_tg, const size_t *slot)
{
    const cr_paths *p = &b->p;
    cr_graph *g = p->g;
    size_t n_before = g->n_nodes;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    cr_node *an = g->nodes[p->lo + a];
    int scalar_a = an->value.size == 1;
    cr_node *seed =
        scalar_a ? cr_constant_fill(g, an->value.rank, an->value.shape, 1.0) : p->acc[a];
    cr_status st = scalar_a && !seed ? g->err.status : CR_OK;
    for (size_t r = 0; r <= n_region && seed && st == CR_OK; r++) {
        size_t xk = r == 0 ? a : region[r - 1];
        cr_node *x = g->nodes[p->lo + xk], *up = r == 0 ? seed : racc[xk];
        for (size_t i = 0; up && i < x->n_inputs && st == CR_OK; i++) {
            cr_node *in = x->inputs[i], *c = NULL;
            if (!cr_paths_on_path(p, in) || !x->op->vjp ||
                (st = x->op->vjp(g, x, i, up, &c)) != CR_OK || !c)
                continue;
            size_t k = in->id - p->lo;
            cr_node **sum = is_kept(b, k) ? &tg[slot[k] - 1].sum : &racc[k];
            *sum = *sum ? cr_add(g, *sum, c) : c;
            if (!*sum)
                st = g->err.status;
        }
    }
    for (size_t t = 0; t < n_tg; t++) {
        const cr_tensor *v = tg[t].sum ? &tg[t].sum->value : NULL;
        const int collapsed = target_collapses(&tg[t]);
        if (collapsed && scalar_a) {
            tg[t].value = !v ? 0.0 : v->size == 1 ? v->data[0] : NAN;
            tg[t].flow = v ? fabs(p->grad[a]) * cr_tensor_norm(v) : 0.0;
        } else if (collapsed) {
            tg[t].value = NAN;
            tg[t].flow = v ? cr_tensor_norm(v) : 0.0;
        }
        tg[t].sum = NULL;
    }
    for (size_t r = 0; r < n_region; r++)
        racc[region[r]] = NULL;
    cr_graph_truncate(g, n_before, mark);
    return st;
}

/* The named-only view: for each kept node, the derivative to every kept
 * node it reaches through unnamed intermediates only. */
static cr_status build_named_view(builder *b)
{
    cr_graph *g = b->p.g;
    const cr_paths *p = &b->p;
    size_t n = b->n;
    cr_status st = CR_OK;
    size_t *stamp = cr_calloc(n, sizeof *stamp); /* region membership: A + 1 */
    size_t *slot = cr_calloc(n, sizeof *slot);   /* target index + 1 */
    double *dA = cr_calloc(n, sizeof *dA);
    cr_node **racc = p->all_scalar ? NULL : cr_calloc(n, sizeof *racc);
    /* scalar paths: d(a)/d(x) written out for each x of the region */
    cr_dtext *dt = p->all_scalar ? cr_calloc(n, sizeof *dt) : NULL;
    size_t *region = NULL, n_region = 0, cap_region = 0;
    size_t *stack = NULL, cap_stack = 0;
    target *tg = NULL;
    size_t n_tg = 0, cap_tg = 0;
    cr_sink local;
    cr_sink_init(&local, NULL);
    if (!stamp || !slot || !dA || (!p->all_scalar && !racc) || (p->all_scalar && !dt)) {
        st = cr_chain_oom(g);
        goto done;
    }
    for (size_t a = 0; a < n && st == CR_OK; a++) {
        b->vstart[a] = b->n_vedges;
        if (!is_kept(b, a) || a == 0)
            continue;
        /* the unnamed region below a */
        n_region = 0;
        size_t top = 0;
        const cr_node *an = g->nodes[p->lo + a];
        for (size_t pass = 0; pass == 0 || top > 0; pass++) {
            const cr_node *x = pass == 0 ? an : g->nodes[p->lo + stack[--top]];
            for (size_t i = 0; i < x->n_inputs; i++) {
                const cr_node *in = x->inputs[i];
                if (!cr_paths_on_path(p, in))
                    continue;
                size_t k = in->id - p->lo;
                if (is_kept(b, k) || stamp[k] == a + 1)
                    continue;
                stamp[k] = a + 1;
                if (cr_grow((void **)&stack, &cap_stack, top + 1, sizeof *stack) != CR_OK ||
                    cr_grow((void **)&region, &cap_region, n_region + 1, sizeof *region) !=
                        CR_OK) {
                    st = cr_chain_oom(g);
                    goto done;
                }
                stack[top++] = k;
                region[n_region++] = k;
            }
        }
        if (n_region > 1)
            qsort(region, n_region, sizeof *region, cmp_desc);
        /* propagate d(a)/d(x) down the region in doubles (and as text) */
        n_tg = 0;
        for (size_t r = 0; r <= n_region; r++) {
            size_t xk = r == 0 ? a : region[r - 1];
            const cr_node *x = g->nodes[p->lo + xk];
            double dx = r == 0 ? 1.0 : dA[xk];
            for (size_t i = 0; i < x->n_inputs; i++) {
                const cr_node *in = x->inputs[i];
                if (!cr_paths_on_path(p, in))
                    continue;
                size_t k = in->id - p->lo;
                double contribution = dx * p->local[p->ebase[xk] + i];
                cr_dtext *to;
                if (!is_kept(b, k)) {
                    dA[k] += contribution;
                    to = dt ? &dt[k] : NULL;
                } else {
                    if (slot[k] == 0 || slot[k] > n_tg || tg[slot[k] - 1].child != k) {
                        if (cr_grow((void **)&tg, &cap_tg, n_tg + 1, sizeof *tg) != CR_OK) {
                            st = cr_chain_oom(g);
                            goto done;
                        }
                        tg[n_tg] = (target){.child = k, .flow = NAN};
                        cr_sink_init(&tg[n_tg].text.s, NULL);
                        slot[k] = ++n_tg;
                    }
                    target *t = &tg[slot[k] - 1];
                    t->value += contribution;
                    if (r > 0)
                        t->via = 1;
                    else
                        t->n_direct++;
                    to = dt ? &t->text : NULL;
                }
                if (to) {
                    local.len = 0;
                    cr_sink_local_expr(&local, x, i);
                    cr_dtext_add_term(to, r == 0 ? NULL : &dt[xk], local.data, local.len);
                    if (local.status != CR_OK || to->s.status != CR_OK) {
                        st = cr_chain_oom(g);
                        goto done;
                    }
                }
            }
        }
        for (size_t r = 0; r < n_region; r++) {
            dA[region[r]] = 0.0;
            if (dt)
                cr_dtext_reset(&dt[region[r]]);
        }
        for (size_t t = 0; t < n_tg; t++)
            tg[t].flow = fabs(p->grad[a] * tg[t].value);
        if (!p->all_scalar &&
            (st = region_nodes(b, a, region, n_region, racc, tg, n_tg, slot)) != CR_OK)
            goto done;
        for (size_t t = 0; t < n_tg && st == CR_OK; t++) {
            if (!target_collapses(&tg[t])) { /* one direct edge: keep it */
                for (size_t i = 0; i < an->n_inputs && st == CR_OK; i++)
                    if (cr_paths_on_path(p, an->inputs[i]) &&
                        an->inputs[i]->id - p->lo == tg[t].child)
                        st = push_vedge(b, tg[t].child, p->ebase[a] + i);
                continue;
            }
            if (cr_grow((void **)&b->coll, &b->cap_coll, b->n_coll + 1, sizeof *b->coll) !=
                CR_OK) {
                st = cr_chain_oom(g);
                break;
            }
            char *formula = NULL;
            if (dt && !tg[t].text.too_long && tg[t].text.s.data) {
                formula = tg[t].text.s.data; /* handed over */
                cr_sink_init(&tg[t].text.s, NULL);
            }
            b->coll[b->n_coll] =
                (collapsed_rec){a, tg[t].child, tg[t].value, tg[t].flow, formula};
            st = push_vedge(b, tg[t].child, p->ebase[n] + b->n_coll++);
        }
        for (size_t t = 0; t < n_tg; t++)
            cr_dtext_reset(&tg[t].text);
        n_tg = 0;
    }
    b->vstart[n] = b->n_vedges;
done:
    for (size_t t = 0; t < n_tg; t++)
        cr_sink_release(&tg[t].text.s);
    for (size_t k = 0; dt && k < n; k++)
        cr_sink_release(&dt[k].s);
    cr_free(dt);
    cr_sink_release(&local);
    cr_free(stamp);
    cr_free(slot);
    cr_free(dA);
    cr_free(racc);
    cr_free(region);
    cr_free(stack);
    cr_free(tg);
    return st;
}

static cr_status build_full_view(builder *b)
{
    const cr_paths *p = &b->p;
    for (size_t k = 0; k < b->n; k++) {
        b->vstart[k] = b->n_vedges;
        if (!(p->marks[k] & CR_ON_PATH))
            continue;
        const cr_node *node = p->g->nodes[p->lo + k];
        for (size_t i = 0; i < node->n_inputs; i++)
            if (cr_paths_on_path(p, node->inputs[i])) {
                cr_status st = push_vedge(b, node->inputs[i]->id - p->lo, p->ebase[k] + i);
                if (st != CR_OK)
                    return st;
            }
    }
    b->vstart[b->n] = b->n_vedges;
    return CR_OK;
}

/* ---- the listed paths and their edges ---- */

static void edge_free(cr_chain_edge *e)
{
    if (!e)
        return;
    cr_free((char *)e->formula);
    cr_free((char *)e->shape);
    cr_free(e);
}

/* The chain edge of a view edge from the node at offset parent. */
static cr_chain_edge *edge_get(builder *b, size_t parent, const view_edge *ve)
{
    if (b->memo[ve->rec])
        return b->memo[ve->rec];
    const cr_paths *p = &b->p;
    cr_graph *g = p->g;
    size_t n_orig = p->ebase[b->n];
    cr_chain_edge *e = cr_calloc(1, sizeof *e);
    if (!e || cr_grow((void **)&b->c->edges, &b->c->cap_edges, b->c->n_edges + 1,
                      sizeof *b->c->edges) != CR_OK) {
        cr_free(e);
        return NULL;
    }
    e->parent = g->nodes[p->lo + parent];
    e->child = g->nodes[p->lo + ve->child];
    e->scalar = e->parent->value.size == 1 && e->child->value.size == 1;
    cr_sink s;
    cr_sink_init(&s, NULL);
    if (ve->rec < n_orig) {
        e->input = ve->rec - p->ebase[parent];
        e->value = p->local[ve->rec];
        e->flow_norm = fabs(p->flow[ve->rec]);
        e->jacobian = e->scalar ? "scalar" : cr_op_jacobian(e->parent, e->input);
        if (!e->jacobian)
            e->jacobian = "unknown";
        /* unnamed inputs are not drawn: write what they compute */
        if (b->named_only || b->statements)
            cr_sink_local_expr(&s, e->parent, e->input);
        else
            cr_sink_local_text(&s, e->parent, e->input);
    } else {
        const collapsed_rec *r = &b->coll[ve->rec - n_orig];
        e->input = (size_t)-1;
        e->collapsed = 1;
        e->value = r->value;
        e->flow_norm = r->flow;
        e->jacobian = e->scalar ? "scalar" : "composite";
        if (r->formula) {
            cr_sink_put(&s, r->formula, strlen(r->formula));
        } else {
            cr_sink_put(&s, "d(", 2);
            cr_sink_label(&s, e->parent);
            cr_sink_put(&s, ")/d(", 4);
            cr_sink_label(&s, e->child);
            cr_sink_put(&s, ")", 1);
        }
    }
    e->formula = cr_sink_string(&s);
    cr_sink_init(&s, NULL);
    cr_sink_printf(&s, "%s x %s", cr_shape_str(&e->parent->value).text,
                   cr_shape_str(&e->child->value).text);
    e->shape = cr_sink_string(&s);
    if (!e->formula || !e->shape) {
        edge_free(e);
        return NULL;
    }
    b->c->edges[b->c->n_edges++] = e;
    b->memo[ve->rec] = e;
    return e;
}

/* The norm of a path's share of the derivative, propagating through the
 * ops' vjps (tensor paths). */
static cr_status path_norm(builder *b, cr_chain_path *path)
{
    cr_graph *g = b->p.g;
    size_t n_before = g->n_nodes;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    const cr_node *out = b->p.output;
    cr_node *u = cr_constant_fill(g, out->value.rank, out->value.shape, 1.0);
    cr_status st = u ? CR_OK : g->err.status;
    for (size_t k = 0; k < path->n_edges && u && st == CR_OK; k++) {
        const cr_chain_edge *e = path->edges[k];
        if (e->collapsed || !e->parent->op->vjp) { /* a Jacobian not formed */
            path->norm = NAN;
            cr_graph_truncate(g, n_before, mark);
            return CR_OK;
        }
        cr_node *next = NULL;
        st = e->parent->op->vjp(g, e->parent, e->input, u, &next);
        u = next;
    }
    if (st == CR_OK)
        path->norm = u ? cr_tensor_norm(&u->value) : 0.0;
    cr_graph_truncate(g, n_before, mark);
    return st;
}

static cr_status emit_path(builder *b, const size_t *fk, const view_edge *const *fe,
                           size_t depth)
{
    cr_chain *c = b->c;
    cr_chain_path *path = &c->paths[c->n_listed];
    const cr_chain_edge **edges = cr_malloc((depth ? depth : 1) * sizeof *edges);
    if (!edges)
        return cr_chain_oom(c->g);
    path->edges = edges;
    path->n_edges = depth;
    c->n_listed++;
    double product = 1.0;
    for (size_t k = 0; k < depth; k++) {
        edges[k] = edge_get(b, fk[k], fe[k]);
        if (!edges[k])
            return cr_chain_oom(c->g);
        product *= edges[k]->value;
    }
    path->product = product;
    path->norm = fabs(product);
    return isnan(product) ? path_norm(b, path) : CR_OK;
}

/* Lists the first max_paths paths of the view, depth first. */
static cr_status enumerate(builder *b, size_t max_paths)
{
    cr_chain *c = b->c;
    double want = c->n_paths < (double)max_paths ? c->n_paths : (double)max_paths;
    size_t n_want = (size_t)want;
    if (n_want == 0)
        return CR_OK;
    c->paths = cr_calloc(n_want, sizeof *c->paths);
    if (!c->paths)
        return cr_chain_oom(c->g);
    size_t *fk = NULL, *fnext = NULL, cap_f = 0, cap_n = 0, cap_e = 0, depth = 0;
    const view_edge **fe = NULL;
    cr_status st = CR_OK;
    if (cr_grow((void **)&fk, &cap_f, 16, sizeof *fk) != CR_OK ||
        cr_grow((void **)&fnext, &cap_n, 16, sizeof *fnext) != CR_OK ||
        cr_grow((void **)&fe, &cap_e, 16, sizeof *fe) != CR_OK) {
        st = cr_chain_oom(c->g);
        goto done;
    }
    fk[0] = b->n - 1;
    fnext[0] = b->vstart[b->n - 1];
    size_t frames = 1;
    while (frames > 0 && c->n_listed < n_want && st == CR_OK) {
        size_t k = fk[frames - 1];
        if (k == 0) { /* reached wrt */
            st = emit_path(b, fk, fe, depth);
            frames--;
            depth = depth ? depth - 1 : 0;
            continue;
        }
        if (fnext[frames - 1] < b->vstart[k + 1]) {
            const view_edge *ve = &b->vedges[fnext[frames - 1]++];
            if (cr_grow((void **)&fk, &cap_f, frames + 1, sizeof *fk) != CR_OK ||
                cr_grow((void **)&fnext, &cap_n, frames + 1, sizeof *fnext) != CR_OK ||
                cr_grow((void **)&fe, &cap_e, depth + 1, sizeof *fe) != CR_OK) {
                st = cr_chain_oom(c->g);
                break;
            }
            fe[depth++] = ve;
            fk[frames] = ve->child;
            fnext[frames] = b->vstart[ve->child];
            frames++;
        } else {
            frames--;
            depth = depth ? depth - 1 : 0;
        }
    }
done:
    cr_free(fk);
    cr_free(fnext);
    cr_free(fe);
    return st;
}

/* ---- cr_chain ---- */

void cr_chain_free(cr_chain *c)
{
    if (!c)
        return;
    for (size_t k = 0; k < c->n_listed; k++)
        cr_free((void *)c->paths[k].edges);
    cr_free(c->paths);
    for (size_t k = 0; k < c->n_edges; k++)
        edge_free(c->edges[k]);
    cr_free(c->edges);
    cr_tensor_free(c->gradient);
    cr_free(c);
}

static void builder_release(builder *b)
{
    cr_paths_release(&b->p);
    cr_free(b->vstart);
    cr_free(b->vedges);
    for (size_t k = 0; k < b->n_coll; k++)
        cr_free(b->coll[k].formula);
    cr_free(b->coll);
    cr_free(b->memo);
}

static cr_chain *chain_new_body(cr_graph *g, cr_node *output, cr_node *wrt,
                                const cr_chain_options *opts)
{
    if (!g)
        return NULL;
    if (!output || !wrt) {
        cr_graph_fail(g, CR_EINVAL, "chain: %s is NULL", output ? "wrt" : "output");
        return NULL;
    }
    if (output->graph != g || wrt->graph != g) {
        cr_graph_fail(g, CR_EINVAL, "chain: nodes belong to another graph");
        return NULL;
    }
    if (output->value.size != 1) {
        char label[300];
        cr_node_label(output, label, sizeof label);
        cr_graph_fail(g, CR_ESHAPE, "chain: output %s must be a scalar, got %s", label,
                      cr_shape_str(&output->value).text);
        return NULL;
    }
    cr_chain_options defaults;
    cr_chain_options_init(&defaults);
    if (!opts)
        opts = &defaults;
    size_t max_paths = opts->max_paths ? opts->max_paths : CR_CHAIN_DEFAULT_PATHS;

    builder b = {0};
    cr_chain *c = b.c = cr_calloc(1, sizeof *c);
    if (!c) {
        cr_chain_oom(g);
        return NULL;
    }
    c->g = g;
    c->output = output;
    c->wrt = wrt;
    cr_status st = cr_paths_build(&b.p, g, output, wrt);
    if (st != CR_OK)
        goto fail;
    c->gradient = b.p.gradient;
    b.p.gradient = NULL;
    c->value = wrt->value.size == 1 ? c->gradient->data[0] : NAN;
    c->omitted_value = 0.0;
    if (!b.p.any) {
        cr_paths_release(&b.p);
        return c;
    }
    b.n = b.p.hi - b.p.lo + 1;
    b.vstart = cr_calloc(b.n + 1, sizeof *b.vstart);
    if (!b.vstart) {
        st = cr_chain_oom(g);
        goto fail;
    }
    b.named_only = (opts->flags & CR_CHAIN_NAMED_ONLY) != 0;
    st = b.named_only ? build_named_view(&b) : build_full_view(&b);
    if (st != CR_OK)
        goto fail;
    /* count the view's paths, from wrt up */
    double *count = cr_calloc(b.n, sizeof *count);
    b.memo = cr_calloc(b.p.ebase[b.n] + b.n_coll + 1, sizeof *b.memo);
    if (!count || !b.memo) {
        cr_free(count);
        st = cr_chain_oom(g);
        goto fail;
    }
    count[0] = 1.0;
    for (size_t k = 1; k < b.n; k++)
        for (size_t v = b.vstart[k]; v < b.vstart[k + 1]; v++)
            count[k] += count[b.vedges[v].child];
    c->n_paths = count[b.n - 1];
    cr_free(count);
    if ((st = enumerate(&b, max_paths)) != CR_OK)
        goto fail;
    if ((double)c->n_listed < c->n_paths) {
        double listed = 0.0;
        for (size_t k = 0; k < c->n_listed; k++)
            listed += c->paths[k].product;
        c->omitted_value = c->value - listed;
    }
    builder_release(&b);
    return c;

fail:
    builder_release(&b);
    cr_chain_free(c);
    return NULL;
}

cr_chain *cr_chain_new(cr_graph *g, cr_node *output, cr_node *wrt,
                       const cr_chain_options *opts)
{
    cr_chain *result;
    CR_IN_C_LOCALE(result, chain_new_body(g, output, wrt, opts));
    return result;
}

cr_node *cr_chain_output(const cr_chain *c) { return c ? c->output : NULL; }
cr_node *cr_chain_wrt(const cr_chain *c) { return c ? c->wrt : NULL; }
double cr_chain_num_paths(const cr_chain *c) { return c ? c->n_paths : NAN; }
size_t cr_chain_num_listed(const cr_chain *c) { return c ? c->n_listed : 0; }
double cr_chain_num_omitted(const cr_chain *c)
{
    return c ? c->n_paths - (double)c->n_listed : NAN;
}
double cr_chain_value(const cr_chain *c) { return c ? c->value : NAN; }
double cr_chain_omitted_value(const cr_chain *c) { return c ? c->omitted_value : NAN; }
const cr_tensor *cr_chain_gradient(const cr_chain *c) { return c ? c->gradient : NULL; }

const cr_chain_path *cr_chain_path_at(const cr_chain *c, size_t k)
{
    return c && k < c->n_listed ? &c->paths[k] : NULL;
}

/* ---- the statements view (dot.c) ---- */

void cr_statements_release(cr_statements *s)
{
    cr_chain_free(s->chain);
    cr_free(s->grad);
    cr_free(s->kept);
    memset(s, 0, sizeof *s);
}

/* Orders edges by consumer, then input, by creation. */
static int cmp_edges(const void *x, const void *y)
{
    const cr_chain_edge *a = *(cr_chain_edge *const *)x, *b = *(cr_chain_edge *const *)y;
    if (a->parent->id != b->parent->id)
        return a->parent->id < b->parent->id ? -1 : 1;
    return (a->child->id > b->child->id) - (a->child->id < b->child->id);
}

/* Fills s from b, whose paths run from output down to every ancestor. */
static cr_status statements_fill(cr_statements *s, builder *b)
{
    const cr_paths *p = &b->p;
    for (size_t k = 0; k < b->n; k++) {
        if (!(p->marks[k] & CR_ON_PATH))
            continue;
        s->kept[k] = (unsigned char)is_kept(b, k);
        s->grad[k] = p->grad[k];
        if (p->acc && isnan(s->grad[k]))
            s->grad[k] = p->acc[k] ? cr_tensor_norm(&p->acc[k]->value) : 0.0;
    }
    b->vstart = cr_calloc(b->n + 1, sizeof *b->vstart);
    if (!b->vstart)
        return cr_chain_oom(p->g);
    cr_status st = build_named_view(b);
    if (st != CR_OK)
        return st;
    b->memo = cr_calloc(p->ebase[b->n] + b->n_coll + 1, sizeof *b->memo);
    if (!b->memo)
        return cr_chain_oom(p->g);
    for (size_t a = 0; a < b->n; a++)
        for (size_t v = b->vstart[a]; v < b->vstart[a + 1]; v++)
            if (!edge_get(b, a, &b->vedges[v]))
                return cr_chain_oom(p->g);
    if (b->c->n_edges > 1)
        qsort(b->c->edges, b->c->n_edges, sizeof *b->c->edges, cmp_edges);
    return CR_OK;
}

cr_status cr_statements_build(cr_statements *s, cr_graph *g, cr_node *output)
{
    memset(s, 0, sizeof *s);
    builder b = {.statements = 1};
    cr_status st = CR_OK;
    s->n = g->n_nodes;
    s->chain = b.c = cr_calloc(1, sizeof *b.c);
    s->grad = cr_malloc(s->n * sizeof *s->grad);
    s->kept = cr_calloc(s->n, 1);
    if (!s->chain || !s->grad || !s->kept) {
        st = cr_chain_oom(g);
        goto done;
    }
    for (size_t id = 0; id < s->n; id++)
        s->grad[id] = NAN;
    s->chain->g = g;
    s->chain->output = output;
    if ((st = cr_paths_build(&b.p, g, output, NULL)) != CR_OK)
        goto done;
    b.n = b.p.hi + 1;
    st = statements_fill(s, &b);
done:
    builder_release(&b);
    if (st != CR_OK)
        cr_statements_release(s);
    return st;
}
