/*
 * html_steps.c - the steps of the step-through page (html.c): the forward
 * pass node by node and the backward pass edge by edge, each with the lines
 * of text it shows, the gradients accumulating at each node, and the chain
 * of every node whose gradient is complete, written as JSON for the page's
 * script (every string escaped for a <script> element). In the statements
 * view the steps go statement by statement and along the view's collapsed
 * edges, each with its composed local derivative; in the layers view the
 * same steps point at the drawn layer boxes and summarise each tensor (its
 * shape, smallest, mean and largest element, its gradient's norm).
 */
#include "explain/html_private.h"

#include <math.h>
#include <string.h>

/* ---- JSON strings that are safe inside <script> ---- */

void cr_html_json_string(cr_sink *s, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    cr_sink_put(s, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = cr_utf8_length(u + i, len - i);
            if (n == 3 && c == 0xE2 && u[i + 1] == 0x80 &&
                (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
                cr_sink_printf(s, "\\u%04X",
                               0x2000u + (u[i + 2] - 0x80u)); /* U+2028, U+2029 */
            else if (n)
                cr_sink_put(s, text + i, n);
            else
                cr_sink_put(s, "\\uFFFD", 6);
            i += n ? n : 1;
            continue;
        }
        if (c == '"' || c == '\\')
            cr_sink_printf(s, "\\%c", c);
        else if (c == '\n')
            cr_sink_put(s, "\\n", 2);
        else if (c < 0x20 || c == 0x7F || c == '<' || c == '>' || c == '&')
            cr_sink_printf(s, "\\u%04X", c); /* "</script>" cannot end the data */
        else
            cr_sink_put(s, text + i, 1);
        i++;
    }
    cr_sink_put(s, "\"", 1);
}

/* ---- building the steps ---- */

/* One edge of the backward pass: child is input number `input` of parent,
 * drawn as the dup-th DOT edge child -> parent (z*z draws two); in the
 * statements view, the view's edge ce (its local derivative composed
 * through the unnamed nodes between them; dup 0). */
typedef struct step_edge {
    cr_node *parent, *child;
    size_t input, dup;
    const cr_chain_edge *ce;
} step_edge;

typedef struct steps {
    cr_graph *g;
    cr_node *loss;
    const cr_statements *stm; /* the statements view, or NULL: the ops view */
    int layers;               /* the layers view (with stm) */
    cr_dot_layers boxes;      /* layers: the picture's layer boxes and names */
    size_t *rep;              /* layers: per order entry, the drawn node's id */
    cr_node **order;          /* the drawn nodes behind the loss, in creation order */
    size_t n;
    double *grad;     /* per order entry: gradient so far (scalars) */
    size_t *left;     /* per order entry: edges still to arrive */
    size_t *incoming; /* per order entry: edges that arrive in all */
    size_t *pos;      /* per node id in [lo, hi]: its order entry */
    size_t lo, n_ops; /* lowest id; op nodes among order */
    step_edge *edges; /* the backward pass's edges, in its order */
    size_t n_edges;
    cr_sink json;   /* the "steps" array */
    cr_sink chains; /* the "chains" array */
    cr_sink texts;  /* the same chains as lines of plain text */
    size_t n_chains;
    size_t n_steps;
    cr_sink line; /* scratch for one line of text */
} steps;

static const char partial[] = "\xe2\x88\x82";

static size_t entry(const steps *st, const cr_node *n) { return st->pos[n->id - st->lo]; }

/* The DOT id of the node that draws n: n, or in the layers view its
 * layer's box. */
static void put_id(const steps *st, cr_sink *s, const cr_node *n)
{
    cr_sink_printf(s, "\"n%zu\"", st->rep ? st->rep[entry(st, n)] : n->id);
}

static int is_scalar(const cr_node *n) { return n->value.size == 1; }

/* 1 if the picture draws n (n lies behind the loss). */
static int drawn(const steps *st, const cr_node *n)
{
    return st->stm ? n->id < st->stm->n && st->stm->kept[n->id]
                   : !(n->flags & CR_NODE_BACKWARD);
}

/* A node's value as a page shows it: the number, or the shape (in the
 * layers view with the smallest, mean and largest element). */
static void put_value(const steps *st, cr_sink *s, const cr_node *n)
{
    if (is_scalar(n)) {
        cr_sink_printf(s, "%s", cr_number_str(n->value.data[0]).text);
        return;
    }
    cr_sink_printf(s, "%s", cr_shape_str(&n->value).text);
    if (!st->layers || n->value.size == 0)
        return;
    const double *v = n->value.data;
    double lo = v[0], hi = v[0], sum = 0.0;
    for (size_t k = 0; k < n->value.size; k++) {
        lo = v[k] < lo ? v[k] : lo;
        hi = v[k] > hi ? v[k] : hi;
        sum += v[k];
    }
    cr_sink_printf(s, " (min %s, ", cr_number_str(lo).text);
    cr_sink_printf(s, "mean %s, ", cr_number_str(sum / (double)n->value.size).text);
    cr_sink_printf(s, "max %s)", cr_number_str(hi).text);
}

/* Adds the line in st->line to the step's "lines" array, and empties it. */
static void end_line(steps *st, int first)
{
    if (!first)
        cr_sink_put(&st->json, ", ", 2);
    if (st->line.status != CR_OK && st->json.status == CR_OK)
        st->json.status = st->line.status;
    cr_html_json_string(&st->json, st->line.data ? st->line.data : "", st->line.len);
    st->line.len = 0;
    st->line.status = CR_OK;
}

/* Opens a step: its phase, forward ops done, backward edges done, chains
 * complete and what it points at; the lines follow. */
static void begin_step(steps *st, const char *phase, size_t f, size_t b,
                       const cr_node *node, long edge)
{
    cr_sink *j = &st->json;
    cr_sink_printf(j, "%s\n{\"p\": \"%s\", \"f\": %zu, \"b\": %zu, \"c\": %zu, \"node\": ",
                   st->n_steps ? "," : "", phase, f, b, st->n_chains);
    if (node)
        put_id(st, j, node);
    else
        cr_sink_put(j, "null", 4);
    cr_sink_printf(j, ", \"edge\": %ld, \"lines\": [", edge);
    st->n_steps++;
}

static void end_step(steps *st) { cr_sink_put(&st->json, "]}", 2); }

static void put_ratio(cr_sink *s, const cr_node *top, const cr_node *bottom)
{
    cr_sink_printf(s, "%s", partial);
    cr_sink_label(s, top);
    cr_sink_printf(s, "/%s", partial);
    cr_sink_label(s, bottom);
}

/* The lines of a statement's forward step: the drawn nodes it is computed
 * from, with their values, then its own value. */
static void statement_lines(steps *st, const cr_node *n)
{
    const cr_chain *c = st->stm->chain;
    size_t from = 0;
    for (size_t k = 0; k < c->n_edges; k++) {
        const cr_chain_edge *e = c->edges[k];
        if (e->parent != n)
            continue;
        cr_sink_printf(&st->line, "%s", from++ ? ", " : "from ");
        cr_sink_label(&st->line, e->child);
        cr_sink_put(&st->line, " = ", 3);
        put_value(st, &st->line, e->child);
    }
    if (from)
        end_line(st, 0);
    cr_sink_label(&st->line, n);
    cr_sink_put(&st->line, " = ", 3);
    put_value(st, &st->line, n);
    end_line(st, 0);
}

/* The forward steps: the leaves, then each op with its inputs' values (in
 * the statements view each statement, from the statements it uses). */
static void forward_steps(steps *st)
{
    begin_step(st, "forward", 0, 0, NULL, -1);
    cr_sink_printf(&st->line, "Forward pass: the inputs are given");
    end_line(st, 1);
    for (size_t k = 0; k < st->n; k++) {
        const cr_node *n = st->order[k];
        if (n->kind == CR_NODE_OP)
            continue;
        cr_sink_label(&st->line, n);
        cr_sink_put(&st->line, " = ", 3);
        put_value(st, &st->line, n);
        end_line(st, 0);
    }
    end_step(st);
    size_t f = 0;
    for (size_t k = 0; k < st->n; k++) {
        const cr_node *n = st->order[k];
        if (n->kind != CR_NODE_OP)
            continue;
        begin_step(st, "forward", ++f, 0, n, -1);
        cr_sink_printf(&st->line, "Forward %zu of %zu: ", f, st->n_ops);
        if (st->layers && st->boxes.name[n->id] != CR_DOT_NO_LAYER)
            cr_sink_printf(&st->line, "%s, ", st->boxes.names.data + st->boxes.name[n->id]);
        cr_sink_label(&st->line, n);
        end_line(st, 1);
        if (st->stm) {
            statement_lines(st, n);
            end_step(st);
            continue;
        }
        cr_sink_label(&st->line, n);
        cr_sink_printf(&st->line, " = %s(", n->op->name);
        for (size_t i = 0; i < n->n_inputs; i++) {
            if (i)
                cr_sink_put(&st->line, ", ", 2);
            cr_sink_label(&st->line, n->inputs[i]);
            cr_sink_put(&st->line, " = ", 3);
            put_value(st, &st->line, n->inputs[i]);
        }
        cr_sink_put(&st->line, ") = ", 4);
        put_value(st, &st->line, n);
        end_line(st, 0);
        end_step(st);
    }
}

/* Records the chain of d(loss)/d(n) (n's gradient is complete); a scalar
 * reached through tensors takes its gradient from the chain. */
static cr_status add_chain(steps *st, cr_node *n)
{
    cr_chain_options co;
    cr_chain_options_init(&co);
    co.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(st->g, st->loss, n, &co);
    if (!c)
        return st->g->err.status;
    if (isnan(st->grad[entry(st, n)]))
        st->grad[entry(st, n)] = cr_chain_value(c);
    int need = cr_chain_format(c, CR_CHAIN_PRINT_UNICODE, NULL, 0);
    char *text = need >= 0 ? cr_malloc((size_t)need + 1) : NULL;
    if (!text || cr_chain_format(c, CR_CHAIN_PRINT_UNICODE, text, (size_t)need + 1) < 0) {
        cr_free(text);
        cr_chain_free(c);
        return cr_chain_oom(st->g);
    }
    cr_chain_free(c);
    if (need > 0 && text[need - 1] == '\n')
        text[--need] = '\0';
    cr_sink_printf(&st->chains, "%s\n{\"node\": ", st->n_chains ? "," : "");
    put_id(st, &st->chains, n);
    cr_sink_put(&st->chains, ", \"text\": ", 10);
    cr_html_json_string(&st->chains, text, (size_t)need);
    cr_sink_put(&st->texts, text, (size_t)need);
    cr_sink_put(&st->texts, "\n", 1);
    cr_sink_put(&st->chains, "}", 1);
    cr_free(text);
    st->n_chains++;
    return CR_OK;
}

/* Backward step b (1-based): the edge from parent p's input i to child c. */
static cr_status edge_step(steps *st, size_t b)
{
    cr_node *p = st->edges[b - 1].parent, *c = st->edges[b - 1].child;
    size_t i = st->edges[b - 1].input;
    const cr_chain_edge *ce = st->edges[b - 1].ce;
    cr_sink *l = &st->line;
    size_t kp = entry(st, p), kc = entry(st, c);
    int scalar = is_scalar(p) && is_scalar(c);
    double local = ce ? ce->value : NAN;
    cr_status vs = !scalar ? CR_ESHAPE : ce ? CR_OK : cr_chain_local_value(p, i, &local);
    if (vs == CR_ENOMEM)
        return vs;
    double product = st->grad[kp] * local, before = st->grad[kc];
    st->grad[kc] += product;
    if (--st->left[kc] == 0) {
        cr_status cs = add_chain(st, c);
        if (cs != CR_OK)
            return cs;
    }
    begin_step(st, "backward", st->n_ops, b, NULL, (long)b - 1);
    cr_sink_printf(l, "Backward %zu of %zu: the edge ", b, st->n_edges);
    cr_sink_label(l, c);
    cr_sink_printf(l, " \xe2\x86\x92 ");
    cr_sink_label(l, p);
    end_line(st, 1);
    cr_sink_printf(l, "upstream ");
    put_ratio(l, st->loss, p);
    /* a scalar reached through tensors has no number here: its chain has */
    if (st->layers && !is_scalar(p))
        cr_sink_printf(l, ", a tensor of norm %s",
                       cr_number_str(st->stm->grad[p->id]).text);
    else
        cr_sink_printf(l, " = %s",
                       !is_scalar(p)         ? "(a tensor)"
                       : isnan(st->grad[kp]) ? "(through tensors: see its chain)"
                                             : cr_number_str(st->grad[kp]).text);
    end_line(st, 0);
    cr_sink_printf(l, "local ");
    put_ratio(l, p, c);
    cr_sink_put(l, " = ", 3);
    size_t formula_at = l->len;
    if (ce)
        cr_sink_put(l, ce->formula, strlen(ce->formula));
    else
        cr_sink_local_text(l, p, i);
    cr_number_text number = cr_number_str(local);
    if (scalar && vs == CR_OK) {
        if (!(l->data && strcmp(l->data + formula_at, number.text) == 0)) /* not "1 = 1" */
            cr_sink_printf(l, " = %s", number.text);
    } else if (scalar) {
        cr_sink_printf(l, " (no value: %s)", cr_strerror(vs));
    } else {
        cr_sink_printf(l, " (a Jacobian, %s x %s)", cr_shape_str(&p->value).text,
                       cr_shape_str(&c->value).text);
    }
    end_line(st, 0);
    if (ce && ce->collapsed) {
        cr_sink_printf(l, "(composed through the unnamed steps between them)");
        end_line(st, 0);
    }
    if (st->layers && !scalar) {
        cr_sink_printf(l, "gradient flowing to ");
        cr_sink_label(l, c);
        cr_sink_printf(l, ": norm %s", cr_number_str(ce->flow_norm).text);
        end_line(st, 0);
        if (!st->left[kc]) {
            cr_sink_printf(l, "|");
            put_ratio(l, st->loss, c);
            cr_sink_printf(l, "| = %s, complete", cr_number_str(st->stm->grad[c->id]).text);
            end_line(st, 0);
        }
    }
    if (scalar && !isnan(product)) {
        cr_sink_printf(l, "product %s \xc3\x97 ", cr_number_str(st->grad[kp]).text);
        cr_sink_printf(l, "%s = %s", cr_number_str(local).text,
                       cr_number_str(product).text);
        end_line(st, 0);
        put_ratio(l, st->loss, c);
        cr_sink_printf(l, " %s ", st->left[kc] ? "so far =" : "=");
        if (st->left[kc] + 1 < st->incoming[kc]) /* not the first edge to arrive */
            cr_sink_printf(l, "%s + ", cr_number_str(before).text);
        cr_sink_printf(l, "%s", cr_number_str(product).text);
        if (st->left[kc] + 1 < st->incoming[kc])
            cr_sink_printf(l, " = %s", cr_number_str(st->grad[kc]).text);
        if (st->left[kc])
            cr_sink_printf(l, " (%zu more edge%s to come)", st->left[kc],
                           st->left[kc] > 1 ? "s" : "");
        end_line(st, 0);
    }
    end_step(st);
    return CR_OK;
}

/* The backward steps: the seed, then every edge. */
static cr_status backward_steps(steps *st)
{
    begin_step(st, "backward", st->n_ops, 0, st->loss, -1);
    cr_sink_printf(&st->line, "Backward pass: it starts at ");
    put_ratio(&st->line, st->loss, st->loss);
    cr_sink_printf(&st->line, " = 1");
    end_line(st, 1);
    end_step(st);
    for (size_t b = 1; b <= st->n_edges; b++) {
        cr_status s = edge_step(st, b);
        if (s != CR_OK)
            return s;
    }
    return CR_OK;
}

/* The statements view's edges for the backward pass: consumers from the
 * last created, each with its inputs by creation (the view lists them by
 * consumer, then input), and each node's count of incoming edges. */
static void statement_edges(steps *st)
{
    const cr_chain *c = st->stm->chain;
    size_t e = 0;
    for (size_t end = c->n_edges; end > 0;) {
        size_t start = end;
        while (start > 0 && c->edges[start - 1]->parent == c->edges[end - 1]->parent)
            start--;
        for (size_t k = start; k < end; k++) {
            cr_chain_edge *ce = c->edges[k];
            size_t dup = 0; /* layers: the drawn edges between the same boxes before it */
            for (size_t j = 0; st->rep && j < k; j++)
                dup += st->rep[entry(st, c->edges[j]->child)] ==
                           st->rep[entry(st, ce->child)] &&
                       st->rep[entry(st, c->edges[j]->parent)] ==
                           st->rep[entry(st, ce->parent)];
            st->edges[e++] = (step_edge){ce->parent, ce->child, ce->input, dup, ce};
            st->left[entry(st, ce->child)]++;
            st->incoming[entry(st, ce->child)]++;
        }
        end = start;
    }
}

/* The layers view: each node's drawn box (its layer's, as the picture
 * draws it: st->boxes), or the node itself. */
static cr_status layer_boxes(steps *st)
{
    st->rep = cr_calloc(st->n, sizeof *st->rep);
    if (!st->rep)
        return cr_chain_oom(st->g);
    for (size_t k = 0; k < st->n; k++)
        st->rep[k] = st->boxes.rep[st->order[k]->id];
    return CR_OK;
}

/* Collects the forward nodes behind the loss (the drawn ones), the edges between them
 * (consumers in reverse creation order, so that each upstream gradient is
 * complete when it is used), and each node's count of incoming edges. */
static cr_status collect(steps *st)
{
    cr_graph *g = st->g;
    cr_status s = cr_graph_marks_reset(g);
    if (s != CR_OK)
        return cr_chain_oom(g);
    cr_graph_mark_ancestors(g, &st->loss, 1);
    size_t hi = st->loss->id;
    st->lo = hi;
    for (size_t id = 0; id <= hi; id++)
        if (g->marks[id] && drawn(st, g->nodes[id])) {
            if (st->n == 0)
                st->lo = id;
            st->n++;
        }
    if (st->n > CR_HTML_MAX_NODES)
        return cr_graph_fail(g, CR_ERANGE,
                             "explain page: %zu nodes lie behind the loss; a step-through "
                             "page takes at most %d",
                             st->n, CR_HTML_MAX_NODES);
    st->order = cr_calloc(st->n, sizeof *st->order);
    st->grad = cr_calloc(st->n, sizeof *st->grad);
    st->left = cr_calloc(st->n, sizeof *st->left);
    st->incoming = cr_calloc(st->n, sizeof *st->incoming);
    st->pos = cr_calloc(hi - st->lo + 1, sizeof *st->pos);
    if (!st->order || !st->grad || !st->left || !st->incoming || !st->pos)
        return cr_chain_oom(g);
    size_t k = 0;
    for (size_t id = st->lo; id <= hi; id++) {
        cr_node *n = g->nodes[id];
        if (!g->marks[id] || !drawn(st, n))
            continue;
        st->pos[id - st->lo] = k;
        st->order[k++] = n;
        if (n->kind == CR_NODE_OP)
            st->n_ops++;
    }
    if (st->layers && (s = layer_boxes(st)) != CR_OK)
        return s;
    for (k = 0; k < st->n && !st->stm; k++)
        if (st->order[k]->kind == CR_NODE_OP)
            st->n_edges += st->order[k]->n_inputs;
    if (st->stm)
        st->n_edges = st->stm->chain->n_edges;
    st->edges = cr_calloc(st->n_edges ? st->n_edges : 1, sizeof *st->edges);
    if (!st->edges)
        return cr_chain_oom(g);
    if (st->stm)
        statement_edges(st);
    size_t e = 0;
    for (k = st->n; k-- > 0 && !st->stm;) {
        cr_node *p = st->order[k];
        for (size_t i = 0; p->kind == CR_NODE_OP && i < p->n_inputs; i++) {
            size_t dup = 0;
            for (size_t j = 0; j < i; j++)
                dup += p->inputs[j] == p->inputs[i];
            st->edges[e++] = (step_edge){p, p->inputs[i], i, dup, NULL};
            st->left[entry(st, p->inputs[i])]++;
            st->incoming[entry(st, p->inputs[i])]++;
        }
    }
    st->grad[entry(st, st->loss)] = 1.0;
    return CR_OK;
}

/* The data of the page's script: {"ops": [...], "edges": [...], "gradAt":
 * {...}, "steps": [...], "chains": [...]}. */
static void put_data(steps *st, cr_sink *s)
{
    cr_sink_put(s, "{\"ops\": [", 9);
    size_t f = 0;
    for (size_t k = 0; k < st->n; k++)
        if (st->order[k]->kind == CR_NODE_OP) {
            cr_sink_printf(s, "%s", f++ ? ", " : "");
            put_id(st, s, st->order[k]);
        }
    /* each edge: [child, parent, which of the DOT edges child -> parent] */
    cr_sink_put(s, "],\n\"edges\": [", 13);
    for (size_t e = 0; e < st->n_edges; e++) {
        cr_sink_printf(s, "%s[", e ? ", " : "");
        put_id(st, s, st->edges[e].child);
        cr_sink_put(s, ", ", 2);
        put_id(st, s, st->edges[e].parent);
        cr_sink_printf(s, ", %zu]", st->edges[e].dup);
    }
    cr_sink_put(s, "],\n\"steps\": [", 13);
    if (st->json.data)
        cr_sink_put(s, st->json.data, st->json.len);
    cr_sink_put(s, "],\n\"chains\": [", 14);
    if (st->chains.data)
        cr_sink_put(s, st->chains.data, st->chains.len);
    cr_sink_put(s, "]}", 2);
    if (s->status == CR_OK)
        s->status = st->json.status != CR_OK ? st->json.status : st->chains.status;
}

/* The final state as text, one line each: every node's value and
 * gradient, and every chain. */
static void final_text(steps *st, cr_sink *lines, cr_sink *chains)
{
    for (size_t k = 0; k < st->n; k++) {
        const cr_node *n = st->order[k];
        cr_sink_label(lines, n);
        cr_sink_put(lines, " = ", 3);
        put_value(st, lines, n);
        if (is_scalar(n)) {
            cr_sink_put(lines, ", ", 2);
            put_ratio(lines, st->loss, n);
            cr_sink_printf(lines, " = %s", cr_number_str(st->grad[k]).text);
        } else if (st->layers && !isnan(st->stm->grad[n->id])) {
            cr_sink_put(lines, ", |", 3);
            put_ratio(lines, st->loss, n);
            cr_sink_printf(lines, "| = %s", cr_number_str(st->stm->grad[n->id]).text);
        }
        cr_sink_put(lines, "\n", 1);
    }
    if (st->texts.data)
        cr_sink_put(chains, st->texts.data, st->texts.len);
    if (st->texts.status != CR_OK && chains->status == CR_OK)
        chains->status = st->texts.status;
}

cr_status cr_html_steps(cr_graph *g, const cr_dot_options *o, const cr_statements *stm,
                        cr_sink *out, cr_sink *final_lines, cr_sink *final_chains)
{
    steps st;
    memset(&st, 0, sizeof st);
    st.g = g;
    st.loss = o->loss;
    st.stm = stm;
    st.layers = o->view == CR_DOT_VIEW_LAYERS && stm;
    cr_sink_init(&st.json, NULL);
    cr_sink_init(&st.chains, NULL);
    cr_sink_init(&st.texts, NULL);
    cr_sink_init(&st.line, NULL);
    cr_status s = st.layers ? cr_dot_layers_build(&st.boxes, g, o) : CR_OK;
    if (s == CR_OK)
        s = collect(&st);
    if (s == CR_OK) {
        forward_steps(&st);
        s = backward_steps(&st);
    }
    if (s == CR_OK) {
        put_data(&st, out);
        s = out->status;
        if (s == CR_ENOMEM)
            cr_chain_oom(g);
        else if (s != CR_OK)
            s = cr_graph_fail(g, s, "explain page: cannot write the steps");
    }
    if (s == CR_OK)
        final_text(&st, final_lines, final_chains);
    cr_sink_release(&st.json);
    cr_sink_release(&st.chains);
    cr_sink_release(&st.texts);
    cr_sink_release(&st.line);
    cr_free(st.order);
    cr_free(st.grad);
    cr_free(st.left);
    cr_free(st.incoming);
    cr_free(st.edges);
    cr_free(st.pos);
    cr_free(st.rep);
    cr_dot_layers_release(&st.boxes);
    return s;
}
