/*
 * dot.c - DOT text of a graph (deterministic, every string escaped), with
 * node styles per kind, edges labelled by their local derivative, the
 * highlighted chain from the loss to one node, groups of nodes (given,
 * numbered layers or statements) drawn as boxes or layer nodes, a cap on
 * drawn nodes with one summary node per group, written to a stream, a
 * string or (through fileio.c's atomic writer) a file.
 */
#include "explain/chain_private.h"
#include "io/fileio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cr_dot_options_init(cr_dot_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->edge_values = 1;
    opts->rankdir = CR_DOT_LR;
    opts->values = 1;
    opts->grads = 1;
}

/* ---- escaping ---- */

/* Writes text as the inside of a DOT quoted string: quotes and backslashes
 * escaped, newlines as line breaks, '&' as an entity, control characters
 * and bytes that are not valid UTF-8 shown as \xHH. */
static void put_escaped(cr_sink *s, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = cr_utf8_length(u + i, len - i);
            if (n) {
                cr_sink_put(s, text + i, n);
                i += n;
                continue;
            }
            cr_sink_printf(s, "\\\\x%02X", c);
        } else if (c == '"') {
            cr_sink_put(s, "\\\"", 2);
        } else if (c == '\\') {
            cr_sink_put(s, "\\\\", 2);
        } else if (c == '\n') {
            cr_sink_put(s, "\\n", 2);
        } else if (c == '&') {
            cr_sink_put(s, "&amp;", 5);
        } else if (c < 0x20 || c == 0x7F) {
            cr_sink_printf(s, "\\\\x%02X", c);
        } else {
            cr_sink_put(s, text + i, 1);
        }
        i++;
    }
}

/* Writes the raw text of a scratch sink escaped, and empties the scratch. */
static void flush_escaped(cr_sink *out, cr_sink *raw)
{
    if (raw->status != CR_OK && out->status == CR_OK)
        out->status = raw->status;
    if (raw->len)
        put_escaped(out, raw->data, raw->len);
    raw->len = 0;
    raw->status = CR_OK;
}

/* ---- the writer ---- */

enum { SHOW = 1, KEEP = 2, CONSUMED = 4, LOSS = 8, SEEDED = 16 };

/* A group of nodes: given (name), a numbered layer (layer), or one
 * statement (stmt, the id of its node; box 0: never drawn as a box). */
typedef struct dot_group {
    const char *name;
    size_t layer, stmt;
    int box;
    size_t hidden[5]; /* not drawn, by kind: const, input, param, op, backward */
} dot_group;

typedef struct dot_writer {
    cr_graph *g;
    const cr_dot_options *o;
    size_t n;             /* the graph's nodes (helper nodes come after) */
    unsigned char *marks; /* per node */
    cr_paths paths;       /* the highlighted chain, when asked */
    int highlighting;
    unsigned char *top; /* per edge of paths: 1 on the strongest path */
    size_t *place;      /* per node of paths: its place on the strongest path */
    int statements;     /* the statements or the layers view, built in stm */
    int layers;         /* the layers view */
    cr_statements stm;
    size_t *group;   /* per node: its group, an index into gtab (0: none) */
    dot_group *gtab; /* the groups; [0] stands for no group */
    size_t n_groups, cap_groups;
    size_t n_hidden; /* shown nodes not drawn */
    size_t *rep;     /* per node: the first drawn node of its group, or itself */
    size_t *ord;     /* the drawn nodes of groups, by group, then id */
    size_t n_ord;
    cr_sink raw; /* scratch for labels before escaping */
} dot_writer;

/* The highlighting styles: none, on a path (thin), on the strongest path. */
enum { OFF = 0, THIN = 1, BOLD = 2 };

static int highlighted_node(const dot_writer *w, const cr_node *n)
{
    if (!w->highlighting || !cr_paths_on_path(&w->paths, n))
        return OFF;
    return w->place[n->id - w->paths.lo] ? BOLD : THIN;
}

/* The style attributes of a highlighted node or edge. */
static const char *highlight_style(int on, int edge)
{
    if (on == BOLD)
        return edge ? ", color=\"#d62728\", fontcolor=\"#d62728\", penwidth=2.5"
                    : ", color=\"#d62728\", penwidth=2.5";
    return edge ? ", color=\"#f08c8c\", fontcolor=\"#c0504d\", penwidth=1.2"
                : ", color=\"#f08c8c\", penwidth=1.2";
}

/* Finds the strongest of the paths loss -> ... -> highlight, the one with
 * the largest share of the gradient: the largest |product of the local
 * derivatives| (through a tensor edge, the ratio of the gradient norm it
 * carries to its consumer's). Marks its edges in w->top and numbers its
 * nodes in w->place from the loss (1) down, counting only drawn kinds of
 * node (all in the ops view, the kept ones in the others) so that two
 * consecutive kept nodes have consecutive places. */
static cr_status strongest_path(dot_writer *w)
{
    const cr_paths *p = &w->paths;
    size_t n = p->hi - p->lo + 1;
    double *best = cr_malloc(n * sizeof *best);
    size_t *via = cr_calloc(n, sizeof *via), *from = cr_calloc(n, sizeof *from);
    w->top = cr_calloc(p->ebase[n] ? p->ebase[n] : 1, 1);
    w->place = cr_calloc(n, sizeof *w->place);
    cr_status st = CR_OK;
    if (!best || !via || !from || !w->top || !w->place) {
        st = cr_graph_fail(w->g, CR_ENOMEM, "dot: out of memory");
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        best[k] = -1.0;
    best[n - 1] = 1.0;
    for (size_t k = n; k-- > 0;) {
        const cr_node *node = w->g->nodes[p->lo + k];
        if (!(p->marks[k] & CR_ON_PATH) || best[k] < 0.0 || node->kind != CR_NODE_OP)
            continue;
        double gk = !isnan(p->grad[k])    ? fabs(p->grad[k])
                    : p->acc && p->acc[k] ? cr_tensor_norm(&p->acc[k]->value)
                                          : 0.0;
        for (size_t i = 0; i < node->n_inputs; i++) {
            if (!cr_paths_on_path(p, node->inputs[i]))
                continue;
            size_t e = p->ebase[k] + i, c = node->inputs[i]->id - p->lo;
            double gain = !isnan(p->local[e]) ? fabs(p->local[e])
                          : gk > 0.0          ? fabs(p->flow[e]) / gk
                                              : 0.0;
            if (best[k] * gain > best[c]) {
                best[c] = best[k] * gain;
                via[c] = e;
                from[c] = k;
            }
        }
    }
    size_t len = 0;
    for (size_t k = 0; k != n - 1 && best[0] >= 0.0; k = from[k]) {
        w->top[via[k]] = 1;
        best[len++] = (double)k; /* the path, from highlight up */
    }
    best[len++] = (double)(n - 1);
    for (size_t j = len, place = 0; j-- > 0 && best[0] >= 0.0;) {
        size_t k = (size_t)best[j];
        place += !w->statements || w->stm.kept[p->lo + k];
        w->place[k] = place;
    }
done:
    cr_free(best);
    cr_free(via);
    cr_free(from);
    return st;
}

/* Writes a node's value (or shape) and gradient into w->raw, the first
 * after `first`, the second after `sep`. */
static void put_facts(dot_writer *w, const cr_node *n, const char *first, const char *sep)
{
    cr_sink *r = &w->raw;
    if (n->value.size != 1)
        cr_sink_printf(r, "%s%s", first, cr_shape_str(&n->value).text);
    else if (w->o->values)
        cr_sink_printf(r, "%s= %s", first, cr_number_str(n->value.data[0]).text);
    else
        sep = first;
    const cr_tensor *grad = w->statements ? NULL : cr_node_grad(n);
    double gv = w->statements ? w->stm.grad[n->id] : grad ? cr_tensor_norm(grad) : NAN;
    if (grad && grad->size == 1)
        gv = grad->data[0];
    if (w->o->grads && !isnan(gv))
        cr_sink_printf(r, "%sgrad%s = %s", sep, n->value.size == 1 ? "" : " norm",
                       cr_number_str(gv).text);
}

static void put_node(dot_writer *w, cr_sink *s, const cr_node *n)
{
    cr_sink *r = &w->raw;
    static const char *const kinds[] = {"constant", "input", "parameter", "op"};
    cr_sink_label(r, n);
    if (w->statements)
        ; /* the styles tell the kinds apart; ops are statements */
    else if (n->name && n->kind == CR_NODE_OP)
        cr_sink_printf(r, "\n%s", n->op->name);
    else if (n->kind != CR_NODE_OP)
        cr_sink_printf(r, "\n%s", kinds[n->kind]);
    put_facts(w, n, "\n", "\n");
    cr_sink_printf(s, "  n%zu [label=\"", n->id);
    flush_escaped(s, r);
    cr_sink_put(s, "\"", 1);
    if (w->marks[n->id] & LOSS)
        cr_sink_printf(s, ", shape=doubleoctagon, style=filled, fillcolor=\"#ffc9c9\"");
    else if (n->kind == CR_NODE_PARAM)
        cr_sink_printf(s, ", shape=box, style=\"rounded,filled\", fillcolor=\"#cfe2ff\"");
    else if (n->kind == CR_NODE_INPUT)
        cr_sink_printf(s, ", shape=box, style=filled, fillcolor=\"#fff3bf\"");
    else if (n->kind == CR_NODE_CONSTANT)
        cr_sink_printf(s, ", shape=box, style=filled, fillcolor=\"#eeeeee\", "
                          "fontcolor=\"#555555\"");
    else
        cr_sink_printf(s, ", shape=ellipse");
    if (n->flags & CR_NODE_BACKWARD)
        cr_sink_printf(s, ", style=dashed, color=\"#888888\", fontcolor=\"#666666\"");
    if (highlighted_node(w, n))
        cr_sink_printf(s, "%s", highlight_style(highlighted_node(w, n), 0));
    cr_sink_put(s, "];\n", 3);
}

/* Starts an edge's label in w->raw: "∂parent/∂child = ", for the formula
 * that follows (on a line of its own in the statements view, keeping the
 * label narrow); returns where " = " begins. */
static size_t edge_head(dot_writer *w, const cr_node *parent, const cr_node *child)
{
    cr_sink *r = &w->raw;
    cr_sink_printf(r, "\xe2\x88\x82");
    cr_sink_label(r, parent);
    cr_sink_printf(r, "/\xe2\x88\x82");
    cr_sink_label(r, child);
    size_t mark = r->len;
    cr_sink_put(r, w->statements ? "\n= " : " = ", 3);
    return mark;
}

/* Ends the formula begun by edge_head (dropping " = " when it is empty)
 * and adds the value line, unless the formula is already the number
 * ("1"). */
static void edge_value(dot_writer *w, size_t mark, int with_value, double v)
{
    cr_sink *r = &w->raw;
    if (r->len == mark + 3) /* no formula */
        r->len = mark;
    if (!with_value)
        return;
    cr_number_text num = cr_number_str(v);
    size_t len = strlen(num.text);
    if (r->len != mark + 3 + len || memcmp(r->data + mark + 3, num.text, len) != 0)
        cr_sink_printf(r, "\n= %s", num.text);
}

/* The DOT node that draws n: n itself, or the layer it belongs to. */
static size_t drawn_as(const dot_writer *w, const cr_node *n)
{
    return w->layers ? w->rep[n->id] : n->id;
}

/* Writes the edge child -> parent with the label in w->raw. */
static void edge_line(dot_writer *w, cr_sink *s, const cr_node *parent,
                      const cr_node *child, int on)
{
    cr_sink_printf(s, "  n%zu -> n%zu [label=\"", drawn_as(w, child), drawn_as(w, parent));
    flush_escaped(s, &w->raw);
    cr_sink_put(s, "\"", 1);
    if (on)
        cr_sink_printf(s, "%s", highlight_style(on, 1));
    else if ((parent->flags & CR_NODE_BACKWARD) || (child->flags & CR_NODE_BACKWARD))
        cr_sink_printf(s, ", style=dashed, color=\"#888888\"");
    cr_sink_put(s, "];\n", 3);
}

static cr_status put_edge(dot_writer *w, cr_sink *s, cr_node *parent, size_t i)
{
    cr_sink *r = &w->raw;
    cr_node *child = parent->inputs[i];
    size_t e = 0;
    int on = w->highlighting && cr_paths_edge(&w->paths, parent, i, &e);
    on = on ? (w->top[e] ? BOLD : THIN) : OFF;
    int scalar = parent->value.size == 1 && child->value.size == 1;
    size_t mark = edge_head(w, parent, child);
    cr_sink_local_text(r, parent, i);
    int with_value = parent->op->vjp && scalar && (w->o->edge_values || on);
    double v = 0.0;
    if (with_value && on) {
        v = w->paths.local[e];
    } else if (with_value) {
        cr_status st = cr_chain_local_value(parent, i, &v);
        if (st != CR_OK)
            return st;
    }
    edge_value(w, mark, with_value, v);
    if (!parent->op->vjp) {
        cr_sink_printf(r, "\n(no derivative)");
    } else if (!scalar) {
        const char *jacobian = cr_op_jacobian(parent, i);
        cr_sink_printf(r, "\n%s, %s x %s", jacobian ? jacobian : "",
                       cr_shape_str(&parent->value).text, cr_shape_str(&child->value).text);
    }
    if (on)
        cr_sink_printf(r, "\ngradient flow%s %s", scalar ? "" : " norm",
                       cr_number_str(w->paths.flow[e]).text);
    edge_line(w, s, parent, child, on);
    return CR_OK;
}

/* An edge of the statements view: the composed local derivative. */
static void put_statement_edge(dot_writer *w, cr_sink *s, const cr_chain_edge *e)
{
    cr_sink *r = &w->raw;
    int on = highlighted_node(w, e->parent) && highlighted_node(w, e->child) ? THIN : OFF;
    size_t pp = on ? w->place[e->parent->id - w->paths.lo] : 0;
    if (pp && w->place[e->child->id - w->paths.lo] == pp + 1)
        on = BOLD;
    size_t mark = edge_head(w, e->parent, e->child);
    cr_sink_put(r, e->formula, strlen(e->formula));
    edge_value(w, mark, e->scalar && (w->o->edge_values || on), e->value);
    if (!e->scalar)
        cr_sink_printf(r, "\n%s, %s", e->jacobian, e->shape);
    if ((on || w->layers) && e->scalar)
        cr_sink_printf(r, "\ngradient flow %s",
                       cr_number_str(w->stm.grad[e->parent->id] * e->value).text);
    else if (on || w->layers)
        cr_sink_printf(r, "\ngradient flow norm %s", cr_number_str(e->flow_norm).text);
    edge_line(w, s, e->parent, e->child, on);
}

/* Chooses the drawn nodes: every shown node, or under a cap the
 * highlighted chain first, then the latest created. */
static void choose(dot_writer *w)
{
    cr_graph *g = w->g;
    size_t shown = 0;
    for (size_t id = 0; id < w->n; id++) {
        const cr_node *n = g->nodes[id];
        int show = w->statements ? w->stm.kept[id]
                                 : w->o->include_backward || !(n->flags & CR_NODE_BACKWARD);
        if (show) {
            w->marks[id] |= SHOW;
            shown++;
        }
    }
    size_t budget = w->o->max_nodes && w->o->max_nodes < shown ? w->o->max_nodes : shown;
    /* the loss, the highlighted node and the strongest path between them,
     * whole even beyond the budget (so that it stays connected), then the
     * other highlighted paths, then the rest */
    for (int pass = 0; pass < 4; pass++)
        for (size_t id = w->n; id-- > 0 && (pass < 2 || budget > 0);) {
            const cr_node *n = g->nodes[id];
            if (!(w->marks[id] & SHOW) || (w->marks[id] & KEEP))
                continue;
            if (pass == 0 && n != w->o->loss && n != w->o->highlight)
                continue;
            if (pass == 1 && highlighted_node(w, n) != BOLD)
                continue;
            if (pass == 2 && !highlighted_node(w, n))
                continue;
            w->marks[id] |= KEEP;
            budget -= budget > 0;
        }
    for (size_t id = 0; id < w->n; id++)
        w->n_hidden += (w->marks[id] & SHOW) && !(w->marks[id] & KEEP);
    /* the loss: given, or every scalar op that no drawn node consumes */
    if (w->o->loss) {
        w->marks[w->o->loss->id] |= LOSS;
        return;
    }
    for (size_t id = 0; id < w->n; id++)
        if (w->marks[id] & SHOW)
            for (size_t i = 0; i < g->nodes[id]->n_inputs; i++)
                w->marks[g->nodes[id]->inputs[i]->id] |= CONSUMED;
    for (size_t id = 0; id < w->n; id++) {
        const cr_node *n = g->nodes[id];
        if ((w->marks[id] & SHOW) && !(w->marks[id] & CONSUMED) && n->kind == CR_NODE_OP &&
            n->value.size == 1 && !(n->flags & CR_NODE_BACKWARD))
            w->marks[id] |= LOSS;
    }
}

/* ---- groups: layers, statement groups, statements ---- */

/* The layer a node belongs to in the layers view and in clusters without
 * given groups: the number its name ends in ("W1", "s12": 1, 12), or for a
 * model builder's name the number before its first '.' ("L3.gamma": 3); 0
 * for none. */
static size_t name_group(const cr_node *n)
{
    if (!n->name)
        return 0;
    const char *dot = strchr(n->name, '.');
    size_t len = dot ? (size_t)(dot - n->name) : strlen(n->name), k = len;
    while (k > 0 && n->name[k - 1] >= '0' && n->name[k - 1] <= '9')
        k--;
    if (k == 0 || k == len || len - k > 9)
        return 0;
    size_t v = 0;
    for (; k < len; k++)
        v = v * 10 + (size_t)(n->name[k] - '0');
    return v;
}

/* Finds or adds the group called name (given groups) or "layer N" (layer
 * N > 0); 0 when out of memory. */
static size_t group_index(dot_writer *w, const char *name, size_t layer)
{
    for (size_t k = w->n_groups; k-- > 1;) /* the latest first: runs of one group */
        if (w->gtab[k].box && w->gtab[k].layer == layer &&
            (!name || strcmp(w->gtab[k].name, name) == 0))
            return k;
    if (cr_grow((void **)&w->gtab, &w->cap_groups, w->n_groups + 1, sizeof *w->gtab) !=
        CR_OK)
        return 0;
    w->gtab[w->n_groups] = (dot_group){.name = name, .layer = layer, .box = 1};
    return w->n_groups++;
}

static const dot_writer *order_writer; /* for cmp_grouped only (qsort has no context) */

/* The boxed groups in order: layers by number, given groups as met. */
static size_t group_rank(const dot_writer *w, size_t k)
{
    return w->gtab[k].layer ? w->gtab[k].layer : k;
}

static int cmp_grouped(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    size_t ra = group_rank(order_writer, order_writer->group[a]);
    size_t rb = group_rank(order_writer, order_writer->group[b]);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    return (a > b) - (a < b);
}

/* 1 when n has a given group that no other named forward node has. */
static int own_group(const dot_writer *w, const cr_node *n)
{
    const cr_dot_options *o = w->o;
    const char *name = o->group_of ? o->group_of(n, o->group_ctx) : NULL;
    for (size_t id = 0; id < w->n && name; id++) {
        const cr_node *m = w->g->nodes[id];
        const char *other = m == n || !m->name || (m->flags & CR_NODE_BACKWARD)
                                ? NULL
                                : o->group_of(m, o->group_ctx);
        if (other && strcmp(other, name) == 0)
            return 0;
    }
    return name != NULL;
}

/* Puts every node in a group (w->group, an index into w->gtab; 0: none):
 * the group opts->group_of names; when it names none, for the layers view
 * and clusters, the number the name ends in ("layer N"); else, for a named
 * op, its statement (a group of its own, never drawn as a box). The loss
 * is in no boxed group, unless its given group holds nothing else: it is
 * its own statement. A node without a
 * group takes its earliest grouped consumer's, so that the ops of a
 * statement and the inputs it uses first join its group (in the numbered
 * layers only unnamed nodes do); those the loss uses first stay outside
 * the boxes with it. Then ord lists the drawn nodes of the
 * boxed groups by group, then id, and rep maps each node to the first of
 * its group (the others to themselves). */
static cr_status make_groups(dot_writer *w)
{
    const cr_dot_options *o = w->o;
    int given = 0;
    for (size_t id = 0; id < w->n && o->group_of && !given; id++)
        given = !(w->g->nodes[id]->flags & CR_NODE_BACKWARD) &&
                o->group_of(w->g->nodes[id], o->group_ctx);
    int numbered = !given && (w->layers || o->clusters);
    w->group = cr_calloc(w->n ? w->n : 1, sizeof *w->group);
    w->rep = cr_calloc(w->n ? w->n : 1, sizeof *w->rep);
    w->ord = cr_calloc(w->n ? w->n : 1, sizeof *w->ord);
    if (!w->group || !w->rep || !w->ord ||
        cr_grow((void **)&w->gtab, &w->cap_groups, 1, sizeof *w->gtab) != CR_OK)
        return cr_graph_fail(w->g, CR_ENOMEM, "dot: out of memory");
    w->gtab[0] = (dot_group){0};
    w->n_groups = 1;
    for (size_t id = 0; id < w->n; id++) {
        const cr_node *n = w->g->nodes[id];
        if (n->flags & CR_NODE_BACKWARD)
            continue;
        /* the loss is in no box or layer (where the gradient starts, drawn
         * on its own even when the last group holds its statement), unless
         * its given group is its own */
        const int loss = (w->marks[id] & LOSS) && !own_group(w, n);
        const char *name = given && !loss ? o->group_of(n, o->group_ctx) : NULL;
        size_t layer = numbered && !loss ? name_group(n) : 0;
        size_t k = 0;
        if (name || layer) {
            if (!(k = group_index(w, name, layer)))
                return cr_graph_fail(w->g, CR_ENOMEM, "dot: out of memory");
        } else if (n->name && n->kind == CR_NODE_OP) {
            if (cr_grow((void **)&w->gtab, &w->cap_groups, w->n_groups + 1,
                        sizeof *w->gtab) != CR_OK)
                return cr_graph_fail(w->g, CR_ENOMEM, "dot: out of memory");
            w->gtab[k = w->n_groups++] = (dot_group){.stmt = id};
        }
        w->group[id] = k;
        w->marks[id] |= k ? SEEDED : 0;
    }
    for (size_t id = w->n; id-- > 0;) {
        const cr_node *n = w->g->nodes[id];
        for (size_t i = 0; i < n->n_inputs && w->group[id]; i++) {
            size_t in = n->inputs[i]->id;
            if (in < w->n && !(w->marks[in] & SEEDED) && !(numbered && n->inputs[i]->name))
                w->group[in] = w->group[id];
        }
    }
    for (size_t id = 0; id < w->n; id++) {
        w->rep[id] = id;
        if ((w->marks[id] & KEEP) && w->gtab[w->group[id]].box)
            w->ord[w->n_ord++] = id;
    }
    order_writer = w;
    qsort(w->ord, w->n_ord, sizeof *w->ord, cmp_grouped);
    for (size_t k = 1; k < w->n_ord; k++)
        if (w->group[w->ord[k]] == w->group[w->ord[k - 1]])
            w->rep[w->ord[k]] = w->rep[w->ord[k - 1]];
    return CR_OK;
}

/* Writes the name of group k into w->raw. */
static void put_group_name(dot_writer *w, size_t k)
{
    const dot_group *grp = &w->gtab[k];
    if (grp->name)
        cr_sink_put(&w->raw, grp->name, strlen(grp->name));
    else if (grp->layer)
        cr_sink_printf(&w->raw, "layer %zu", grp->layer);
    else
        cr_sink_label(&w->raw, w->g->nodes[grp->stmt]);
}

/* One node for the layer of the grouped nodes ord[k0..k1): its name,
 * then one line per node with its value (or shape) and gradient. */
static void put_layer(dot_writer *w, cr_sink *s, size_t k0, size_t k1)
{
    cr_sink *r = &w->raw;
    int on = 0;
    put_group_name(w, w->group[w->ord[k0]]);
    for (size_t k = k0; k < k1; k++) {
        const cr_node *n = w->g->nodes[w->ord[k]];
        cr_sink_put(r, "\n", 1);
        cr_sink_label(r, n);
        put_facts(w, n, " ", ", ");
        if (highlighted_node(w, n) > on)
            on = highlighted_node(w, n);
    }
    cr_sink_printf(s, "  n%zu [label=\"", w->ord[k0]);
    flush_escaped(s, r);
    cr_sink_printf(s,
                   "\", shape=box, style=\"rounded,filled\", fillcolor=\"#d3f9d8\"%s];\n",
                   on ? highlight_style(on, 0) : "");
}

/* The drawn nodes: one per layer in the layers view, and a box around
 * the nodes of each group when clusters are asked for. */
static void put_nodes(dot_writer *w, cr_sink *s)
{
    for (size_t id = 0; id < w->n; id++)
        if ((w->marks[id] & KEEP) && !(w->layers && w->gtab && w->gtab[w->group[id]].box))
            put_node(w, s, w->g->nodes[id]);
    for (size_t k0 = 0, k1; k0 < w->n_ord && (w->layers || w->o->clusters); k0 = k1) {
        size_t k = w->group[w->ord[k0]];
        for (k1 = k0 + 1; k1 < w->n_ord && w->group[w->ord[k1]] == k;)
            k1++;
        if (w->layers) {
            put_layer(w, s, k0, k1);
            continue;
        }
        cr_sink_printf(s, "  subgraph cluster_%zu {\n    label=\"", group_rank(w, k));
        put_group_name(w, k);
        flush_escaped(s, &w->raw);
        cr_sink_printf(s, "\"; style=\"rounded,dashed\"; color=\"#888888\";\n   ");
        for (size_t j = k0; j < k1; j++)
            cr_sink_printf(s, " n%zu;", w->ord[j]);
        cr_sink_printf(s, "\n  }\n");
    }
}

/* ---- the summaries of the nodes not drawn ---- */

typedef struct summary_edge {
    size_t from, to; /* a drawn node's id, or w->n + the group of a summary */
} summary_edge;

static int cmp_summary_edge(const void *x, const void *y)
{
    const summary_edge *a = x, *b = y;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return (a->to > b->to) - (a->to < b->to);
}

/* Where an edge end is drawn: the node, or its group's summary. */
static size_t summary_end(const dot_writer *w, size_t id)
{
    return (w->marks[id] & KEEP) ? id : w->n + w->group[id];
}

/* Notes the edge input -> consumer of the view (data flow) when one end is
 * not drawn. */
static void note_summary_edge(dot_writer *w, summary_edge *e, size_t *n_e, size_t input,
                              size_t consumer)
{
    size_t from = summary_end(w, input), to = summary_end(w, consumer);
    if (from != to && (from >= w->n || to >= w->n))
        e[(*n_e)++] = (summary_edge){from, to};
}

static void put_summary_id(cr_sink *s, size_t end, size_t n)
{
    if (end < n)
        cr_sink_printf(s, "n%zu", end);
    else if (end == n)
        cr_sink_printf(s, "collapsed");
    else
        cr_sink_printf(s, "collapsed_%zu", end - n);
}

/* One summary node per group with nodes not drawn ("layer 2: 118 nodes not
 * drawn", then how many of each kind; the nodes of no group: "N more nodes
 * not drawn"), joined by dashed edges to the drawn nodes and the other
 * summaries that the hidden nodes feed or use, so that the picture stays
 * connected. */
static cr_status put_summaries(dot_writer *w, cr_sink *s)
{
    static const char *const names[][2] = {{"constant", "constants"},
                                           {"input", "inputs"},
                                           {"parameter", "parameters"},
                                           {"op", "ops"},
                                           {"backward node", "backward nodes"}};
    cr_graph *g = w->g;
    for (size_t id = 0; id < w->n; id++) {
        const cr_node *n = g->nodes[id];
        if ((w->marks[id] & SHOW) && !(w->marks[id] & KEEP))
            w->gtab[w->group[id]].hidden[(n->flags & CR_NODE_BACKWARD) ? 4 : n->kind]++;
    }
    for (size_t k = 0; k < w->n_groups; k++) {
        const size_t *h = w->gtab[k].hidden;
        size_t total = h[0] + h[1] + h[2] + h[3] + h[4];
        if (total == 0)
            continue;
        cr_sink_put(s, "  ", 2);
        put_summary_id(s, w->n + k, w->n);
        cr_sink_printf(s, " [label=\"");
        if (k == 0) {
            cr_sink_printf(s, "%zu more nodes not drawn", total);
        } else {
            put_group_name(w, k);
            flush_escaped(s, &w->raw);
            cr_sink_printf(s, ": %zu node%s not drawn", total, total == 1 ? "" : "s");
        }
        for (int j = 0; j < 5; j++)
            if (h[j])
                cr_sink_printf(s, "\\n%zu %s", h[j], names[j][h[j] != 1]);
        cr_sink_printf(
            s, "\", shape=note, style=\"filled,dashed\", fillcolor=\"#f8f9fa\"];\n");
    }
    /* the edges of the view with a hidden end, each pair of ends once */
    size_t cap = 0, n_e = 0;
    const cr_chain *c = w->stm.chain;
    for (size_t id = 0; id < w->n && !w->statements; id++)
        cap += (w->marks[id] & SHOW) ? g->nodes[id]->n_inputs : 0;
    cap = w->statements ? c->n_edges : cap;
    summary_edge *e = cr_malloc((cap ? cap : 1) * sizeof *e);
    if (!e)
        return cr_graph_fail(g, CR_ENOMEM, "dot: out of memory");
    for (size_t k = 0; w->statements && k < c->n_edges; k++)
        note_summary_edge(w, e, &n_e, c->edges[k]->child->id, c->edges[k]->parent->id);
    for (size_t id = 0; id < w->n && !w->statements; id++) {
        const cr_node *n = g->nodes[id];
        for (size_t i = 0; i < n->n_inputs && (w->marks[id] & SHOW); i++)
            if (n->inputs[i]->id < w->n && (w->marks[n->inputs[i]->id] & SHOW))
                note_summary_edge(w, e, &n_e, n->inputs[i]->id, id);
    }
    qsort(e, n_e, sizeof *e, cmp_summary_edge);
    for (size_t k = 0; k < n_e; k++) {
        if (k > 0 && cmp_summary_edge(&e[k], &e[k - 1]) == 0)
            continue;
        cr_sink_put(s, "  ", 2);
        put_summary_id(s, e[k].from, w->n);
        cr_sink_put(s, " -> ", 4);
        put_summary_id(s, e[k].to, w->n);
        cr_sink_printf(s, " [style=dashed, color=\"#888888\"];\n");
    }
    cr_free(e);
    return CR_OK;
}

static cr_status check_args(cr_graph *g, const cr_dot_options *o)
{
    int statements = o->view == CR_DOT_VIEW_STATEMENTS || o->view == CR_DOT_VIEW_LAYERS;
    if ((unsigned)o->view > CR_DOT_VIEW_LAYERS)
        return cr_graph_fail(g, CR_EINVAL, "dot: unknown view %d", (int)o->view);
    if (o->highlight && !o->loss)
        return cr_graph_fail(g, CR_EINVAL, "dot: highlighting a chain needs the loss");
    if (statements && !o->loss)
        return cr_graph_fail(g, CR_EINVAL, "dot: the %s view needs the loss",
                             o->view == CR_DOT_VIEW_LAYERS ? "layers" : "statements");
    if ((o->loss && o->loss->graph != g) || (o->highlight && o->highlight->graph != g))
        return cr_graph_fail(g, CR_EINVAL, "dot: nodes belong to another graph");
    if (o->loss && (o->highlight || statements) && o->loss->value.size != 1) {
        char label[300];
        cr_node_label(o->loss, label, sizeof label);
        return cr_graph_fail(g, CR_ESHAPE, "dot: the loss %s must be a scalar, got %s",
                             label, cr_shape_str(&o->loss->value).text);
    }
    return CR_OK;
}

/* Everything the text needs before it is written, for the options o
 * (which must outlive w): the highlighted chain, the statements view, the
 * drawn nodes and their groups. The status is also recorded in g;
 * writer_release frees what was made, also on failure. */
static cr_status writer_prepare(dot_writer *w, cr_graph *g, const cr_dot_options *o)
{
    memset(w, 0, sizeof *w);
    w->g = g;
    w->o = o;
    cr_sink_init(&w->raw, NULL);
    cr_status st = check_args(g, o);
    if (st != CR_OK)
        return st;
    w->n = g->n_nodes;
    w->marks = cr_calloc(w->n ? w->n : 1, 1);
    if (!w->marks)
        return cr_graph_fail(g, CR_ENOMEM, "dot: out of memory");
    if (o->highlight) {
        if ((st = cr_paths_build(&w->paths, g, o->loss, o->highlight)) != CR_OK)
            return st;
        w->highlighting = w->paths.any;
    }
    w->layers = o->view == CR_DOT_VIEW_LAYERS;
    w->statements = w->layers || o->view == CR_DOT_VIEW_STATEMENTS;
    if (w->statements && (st = cr_statements_build(&w->stm, g, o->loss)) != CR_OK)
        return st;
    if (w->highlighting && (st = strongest_path(w)) != CR_OK)
        return st;
    choose(w);
    if (w->layers || o->clusters || w->n_hidden)
        st = make_groups(w);
    return st;
}

static void writer_release(dot_writer *w)
{
    cr_free(w->top);
    cr_free(w->place);
    cr_free(w->group);
    cr_free(w->gtab);
    cr_free(w->rep);
    cr_free(w->ord);
    cr_statements_release(&w->stm);
    cr_paths_release(&w->paths);
    cr_sink_release(&w->raw);
    cr_free(w->marks);
}

/* Writes the DOT text of g into s; the status is also recorded in g. */
static cr_status write_dot(cr_graph *g, cr_sink *s, const cr_dot_options *opts)
{
    cr_dot_options defaults;
    cr_dot_options_init(&defaults);
    dot_writer w;
    cr_status st = writer_prepare(&w, g, opts ? opts : &defaults);
    if (st != CR_OK)
        goto done;
    cr_sink_printf(s, "digraph chainrule {\n  graph [rankdir=%s, fontname=\"Helvetica\"",
                   w.o->rankdir == CR_DOT_TB ? "TB" : "LR");
    if (w.o->title) {
        cr_sink_printf(s, ", labelloc=t, label=\"");
        put_escaped(s, w.o->title, strlen(w.o->title));
        cr_sink_put(s, "\"", 1);
    }
    cr_sink_printf(s, "];\n  node [fontname=\"Helvetica\", fontsize=11];\n"
                      "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    put_nodes(&w, s);
    if (w.n_hidden && (st = put_summaries(&w, s)) != CR_OK)
        goto done;
    for (size_t k = 0; w.statements && k < w.stm.chain->n_edges && s->status == CR_OK;
         k++) {
        const cr_chain_edge *e = w.stm.chain->edges[k];
        if ((w.marks[e->parent->id] & KEEP) && (w.marks[e->child->id] & KEEP) &&
            (!w.layers || w.rep[e->parent->id] != w.rep[e->child->id]))
            put_statement_edge(&w, s, e);
    }
    for (size_t id = 0; id < w.n && !w.statements && st == CR_OK && s->status == CR_OK;
         id++) {
        if (!(w.marks[id] & KEEP))
            continue;
        cr_node *n = g->nodes[id];
        for (size_t i = 0; i < n->n_inputs && st == CR_OK; i++)
            if (w.marks[n->inputs[i]->id] & KEEP)
                st = put_edge(&w, s, n, i);
    }
    cr_sink_put(s, "}\n", 2);
    if (st == CR_OK && s->status == CR_ENOMEM)
        st = cr_graph_fail(g, CR_ENOMEM, "dot: out of memory");
    else if (st == CR_OK && s->status != CR_OK)
        st = cr_graph_fail(g, s->status, "dot: writing the DOT text failed: %s",
                           strerror(errno));
done:
    writer_release(&w);
    return st;
}

cr_status cr_dot_layers_build(cr_dot_layers *m, cr_graph *g, const cr_dot_options *opts)
{
    memset(m, 0, sizeof *m);
    cr_sink_init(&m->names, NULL);
    dot_writer w;
    size_t *at = NULL; /* per group: the offset of its name, or none */
    cr_status st = writer_prepare(&w, g, opts);
    if (st == CR_OK) {
        m->n = w.n;
        m->rep = cr_malloc((w.n ? w.n : 1) * sizeof *m->rep);
        m->name = cr_malloc((w.n ? w.n : 1) * sizeof *m->name);
        at = cr_malloc((w.n_groups ? w.n_groups : 1) * sizeof *at);
        if (!m->rep || !m->name || !at)
            st = cr_graph_fail(g, CR_ENOMEM, "dot: out of memory");
    }
    for (size_t k = 0; st == CR_OK && k < w.n_groups; k++) {
        at[k] = CR_DOT_NO_LAYER;
        if (k == 0 || !w.gtab[k].box)
            continue;
        at[k] = m->names.len;
        put_group_name(&w, k);
        if (w.raw.len)
            cr_sink_put(&m->names, w.raw.data, w.raw.len);
        cr_sink_put(&m->names, "", 1);
        w.raw.len = 0;
        if (m->names.status != CR_OK || w.raw.status != CR_OK)
            st = cr_graph_fail(g, CR_ENOMEM, "dot: out of memory");
    }
    for (size_t id = 0; st == CR_OK && id < w.n; id++) {
        m->rep[id] = w.layers && w.rep ? w.rep[id] : id;
        m->name[id] = w.group ? at[w.group[id]] : CR_DOT_NO_LAYER;
    }
    cr_free(at);
    writer_release(&w);
    if (st != CR_OK)
        cr_dot_layers_release(m);
    return st;
}

void cr_dot_layers_release(cr_dot_layers *m)
{
    cr_free(m->rep);
    cr_free(m->name);
    cr_sink_release(&m->names);
    memset(m, 0, sizeof *m);
}

static cr_status dot_write_body(cr_graph *g, FILE *out, const cr_dot_options *opts)
{
    if (!g)
        return CR_EINVAL;
    if (!out)
        return cr_graph_fail(g, CR_EINVAL, "dot: the output stream is NULL");
    cr_sink s;
    cr_sink_init(&s, out);
    cr_status st = write_dot(g, &s, opts);
    if (st == CR_OK && (fflush(out) != 0 || ferror(out)))
        st = cr_graph_fail(g, CR_EIO, "dot: writing the DOT text failed: %s",
                           strerror(errno));
    return st;
}

cr_status cr_dot_write(cr_graph *g, FILE *out, const cr_dot_options *opts)
{
    cr_status result;
    CR_IN_C_LOCALE(result, dot_write_body(g, out, opts));
    return result;
}

cr_status cr_dot_to_string(cr_graph *g, const cr_dot_options *opts, char **text,
                           size_t *len)
{
    cr_sink s;
    cr_sink_init(&s, NULL);
    cr_status st = write_dot(g, &s, opts);
    if (st != CR_OK) {
        cr_sink_release(&s);
        return st;
    }
    *text = s.data;
    *len = s.len;
    return CR_OK;
}

typedef struct dot_job {
    cr_graph *g;
    const cr_dot_options *opts;
} dot_job;

static cr_status fill_dot(FILE *out, void *ctx, cr_error *err)
{
    dot_job *job = ctx;
    cr_status st = cr_dot_write(job->g, out, job->opts);
    if (st != CR_OK && err)
        *err = *cr_graph_error(job->g);
    return st;
}

static cr_status dot_write_file_body(cr_graph *g, const char *path,
                                     const cr_dot_options *opts)
{
    if (!g)
        return CR_EINVAL;
    if (!path)
        return cr_graph_fail(g, CR_EINVAL, "dot: the path is NULL");
    dot_job job = {g, opts};
    cr_error err;
    cr_status st = cr_file_write_atomic(path, fill_dot, &job, &err);
    return st == CR_OK ? CR_OK : cr_graph_fail(g, st, "%s", err.message);
}

cr_status cr_dot_write_file(cr_graph *g, const char *path, const cr_dot_options *opts)
{
    cr_status result;
    CR_IN_C_LOCALE(result, dot_write_file_body(g, path, opts));
    return result;
}
