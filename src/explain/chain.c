/*
 * chain.c - derivative chains: the analysis of the paths between an output
 * and a node (marks, path counts, local derivatives from each op's vjp,
 * gradient flow per edge), the named-only view that collapses unnamed
 * intermediates, path enumeration, the article-style printer, the local
 * derivative text with role letters replaced by labels, and the text sink
 * shared with dot.c. Everything is iterative: graphs may be 1M nodes deep.
 */
#include "explain/chain_private.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- text sink ---- */

void cr_sink_init(cr_sink *s, FILE *out)
{
    memset(s, 0, sizeof *s);
    s->out = out;
}

void cr_sink_put(cr_sink *s, const char *text, size_t len)
{
    if (s->status != CR_OK || len == 0)
        return;
    if (s->out) {
        if (fwrite(text, 1, len, s->out) != len)
            s->status = CR_EIO;
        return;
    }
    if (len >= SIZE_MAX - s->len ||
        cr_grow((void **)&s->data, &s->cap, s->len + len + 1, 1) != CR_OK) {
        s->status = CR_ENOMEM;
        return;
    }
    memcpy(s->data + s->len, text, len);
    s->len += len;
    s->data[s->len] = '\0';
}

void cr_sink_printf(cr_sink *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->status = s->status != CR_OK ? s->status : CR_EIO;
        return;
    }
    if ((size_t)n < sizeof small) {
        cr_sink_put(s, small, (size_t)n);
        return;
    }
    char *big = cr_malloc((size_t)n + 1);
    if (!big) {
        s->status = s->status != CR_OK ? s->status : CR_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cr_sink_put(s, big, (size_t)n);
    cr_free(big);
}

void cr_sink_release(cr_sink *s)
{
    cr_free(s->data);
    s->data = NULL;
    s->len = s->cap = 0;
}

cr_number_text cr_number_str(double v)
{
    cr_number_text t;
    double m = fabs(v);
    if (v == 0.0) {
        snprintf(t.text, sizeof t.text, "0");
    } else if (isfinite(v) && m >= 1e-4 && m < 1e9) {
        snprintf(t.text, sizeof t.text, "%.9f", v);
        char *end = t.text + strlen(t.text);
        while (end[-1] == '0')
            *--end = '\0';
        if (end[-1] == '.')
            end[-1] = '\0';
    } else {
        snprintf(t.text, sizeof t.text, "%.9g", v);
    }
    return t;
}

/* ---- labels and local derivative text ---- */

/* A label usable inside a formula or a "dE/dx" name: names made of
 * letters, digits, '_', '#', '.' and non-ASCII bytes stand as they are,
 * others are parenthesised. */
void cr_sink_label(cr_sink *s, const cr_node *n)
{
    char small[300];
    int len = cr_node_label(n, small, sizeof small);
    int plain = len > 0;
    for (int i = 0; i < len && plain; i++) {
        unsigned char ch = (unsigned char)small[i];
        plain = ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                (ch >= '0' && ch <= '9') || ch == '_' || ch == '#' || ch == '.';
    }
    if (!plain)
        cr_sink_put(s, "(", 1);
    cr_sink_put(s, small, strlen(small));
    if (!plain)
        cr_sink_put(s, ")", 1);
}

static int is_ident(char ch, int first)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (!first && ch >= '0' && ch <= '9');
}

/* Whether text, written inside a longer formula, needs parentheses: it
 * does when an operator or a space stands outside its own parentheses
 * (the '-' of a number's exponent, as in 1e-05, does not count). With
 * factor set, '*', '/' and '^' do not count either (a factor of a
 * product), but a leading '-' does. */
static int needs_parens(const char *t, size_t len, int factor)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        const char ch = t[i];
        if (ch == '(') {
            depth++;
        } else if (ch == ')') {
            depth--;
        } else if (depth == 0 && strchr(" +-*/^<>?:=,|", ch)) {
            if (ch == '-' && i >= 2 && (t[i - 1] == 'e' || t[i - 1] == 'E') &&
                t[i - 2] >= '0' && t[i - 2] <= '9')
                continue;
            if (factor && (ch == '*' || ch == '/' || ch == '^'))
                continue;
            return 1;
        }
    }
    return 0;
}

static void sink_expr(cr_sink *s, const cr_node *n, int depth);

/* A role of a formula: the node's label, or with expressions set what an
 * unnamed node computes, in parentheses unless it stands alone or is
 * already enclosed (bare: a function's argument). */
static void sink_role(cr_sink *s, const cr_node *n, int expressions, int bare, int depth)
{
    if (!expressions) {
        cr_sink_label(s, n);
        return;
    }
    if (bare) {
        sink_expr(s, n, depth);
        return;
    }
    cr_sink sub;
    cr_sink_init(&sub, NULL);
    sink_expr(&sub, n, depth);
    if (sub.status != CR_OK) {
        s->status = s->status != CR_OK ? s->status : sub.status;
        cr_sink_release(&sub);
        return;
    }
    const int parens = needs_parens(sub.data, sub.len, 0);
    if (parens)
        cr_sink_put(s, "(", 1);
    cr_sink_put(s, sub.data, sub.len);
    if (parens)
        cr_sink_put(s, ")", 1);
    cr_sink_release(&sub);
}

/* Writes template t with the role letters replaced: x, a (input 0), b
 * (input 1), y (the node p), c (the op's constant). */
static void sink_template(cr_sink *s, const cr_node *p, const char *t, int expressions,
                          int depth)
{
    const char *start = t;
    while (*t) {
        if (!is_ident(*t, 1)) {
            /* copy numbers whole, so "1e5" keeps its 'e' */
            size_t len = 1;
            if (*t >= '0' && *t <= '9')
                while (is_ident(t[len], 0) || t[len] == '.')
                    len++;
            cr_sink_put(s, t, len);
            t += len;
            continue;
        }
        size_t len = 1;
        while (is_ident(t[len], 0))
            len++;
        const cr_node *role = NULL;
        if (len == 1) {
            if (*t == 'y')
                role = p;
            else if ((*t == 'x' || *t == 'a') && p->n_inputs >= 1)
                role = p->inputs[0];
            else if (*t == 'b' && p->n_inputs >= 2)
                role = p->inputs[1];
        }
        if (role)
            sink_role(s, role, expressions, t > start && t[-1] == '(' && t[len] == ')',
                      depth + 1);
        else if (len == 1 && *t == 'c')
            cr_sink_printf(s, "%s", cr_number_str(p->args->f).text);
        else
            cr_sink_put(s, t, len);
        t += len;
    }
}

/* What node n computes, for a formula that has no line of its own for it:
 * its label when it has a name or its op no expression (or the nesting is
 * deep), the value of a scalar constant, else its op's expression of its
 * inputs, written the same way. */
static void sink_expr(cr_sink *s, const cr_node *n, int depth)
{
    if (!n->name && n->kind == CR_NODE_CONSTANT && n->value.size == 1)
        cr_sink_printf(s, "%s", cr_number_str(n->value.data[0]).text);
    else if (n->name || !n->op->expr || depth > 4)
        cr_sink_label(s, n);
    else
        sink_template(s, n, n->op->expr, 1, depth);
}

/* The local derivative text of p for input i; with expressions set,
 * unnamed inputs appear as what they compute instead of their labels. */
static void sink_local(cr_sink *s, const cr_node *p, size_t i, int expressions)
{
    const cr_op *op = p->op;
    if ((op->flags & CR_OP_LEAF) || i >= p->n_inputs)
        return;
    if (op->deriv_text) {
        char small[512];
        int len = op->deriv_text(p, i, small, sizeof small);
        if (len > 0)
            cr_sink_put(s, small, strlen(small));
        return;
    }
    const char *t = op->deriv[i == 0 ? 0 : 1];
    if (t)
        sink_template(s, p, t, expressions, 0);
}

/* Writes the op's derivative text for input i with the role letters
 * replaced by the nodes' labels. */
void cr_sink_local_text(cr_sink *s, const cr_node *p, size_t i)
{
    sink_local(s, p, i, 0);
}

/* Copies a memory sink into the caller's buffer, snprintf-style. */
static int sink_to_buffer(cr_sink *s, char *buf, size_t size)
{
    if (s->status != CR_OK) {
        cr_sink_release(s);
        if (buf && size)
            buf[0] = '\0';
        return -1;
    }
    if (buf && size) {
        size_t n = s->len < size - 1 ? s->len : size - 1;
        if (n)
            memcpy(buf, s->data, n);
        buf[n] = '\0';
    }
    int len = s->len > INT32_MAX ? -1 : (int)s->len;
    cr_sink_release(s);
    return len;
}

static int chain_local_text_body(const cr_node *parent, size_t input, char *buf,
                                 size_t size)
{
    if (!parent) {
        if (buf && size)
            buf[0] = '\0';
        return 0;
    }
    cr_sink s;
    cr_sink_init(&s, NULL);
    cr_sink_local_text(&s, parent, input);
    return sink_to_buffer(&s, buf, size);
}

int cr_chain_local_text(const cr_node *parent, size_t input, char *buf, size_t size)
{
    int result;
    CR_IN_C_LOCALE(result, chain_local_text_body(parent, input, buf, size));
    return result;
}

/* ---- local derivative values ---- */

/* d(parent)/d(input i) for a scalar edge: the op's vjp applied to 1, on
 * helper nodes removed again before returning. */
static cr_status probe(cr_graph *g, cr_node *p, size_t i, double *value)
{
    if (!p->op->vjp) {
        char label[300];
        cr_node_label(p, label, sizeof label);
        return cr_graph_fail(g, CR_ENOTSUP, "chain: %s: op %s has no derivative", label,
                             p->op->name);
    }
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

static int on_path(const cr_paths *p, const cr_node *n)
{
    return n->id >= p->lo && n->id <= p->hi && (p->marks[n->id - p->lo] & CR_ON_PATH);
}

static cr_status oom(cr_graph *g)
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
        return oom(g);
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
            if (!on_path(p, in))
                continue;
            cr_node *c = NULL;
            if (!node->op->vjp) {
                st = probe(g, node, i, &(double){0}); /* records CR_ENOTSUP */
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
        p->gradient = acc[0] ? cr_tensor_copy(&acc[0]->value, &err)
                             : cr_tensor_new(p->wrt->value.rank, p->wrt->value.shape, &err);
        if (!p->gradient)
            st = oom(g);
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
            if (!on_path(p, in))
                continue;
            size_t e = p->ebase[k] + i;
            p->flow[e] = p->grad[k] * p->local[e];
            p->grad[in->id - p->lo] += p->flow[e];
        }
    }
    cr_error err;
    p->gradient = cr_tensor_new_scalar(p->grad[0], &err);
    return p->gradient ? CR_OK : oom(g);
}

cr_status cr_paths_build(cr_paths *p, cr_graph *g, cr_node *output, cr_node *wrt)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    p->output = output;
    p->wrt = wrt;
    cr_error err;
    if (wrt->id > output->id) { /* made later: cannot influence output */
        p->gradient = cr_tensor_new(wrt->value.rank, wrt->value.shape, &err);
        return p->gradient ? CR_OK : oom(g);
    }
    p->lo = wrt->id;
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
    p->marks[0] |= DEPENDS;
    p->all_scalar = 1;
    for (size_t k = 0; k < n; k++) {
        const cr_node *node = g->nodes[p->lo + k];
        for (size_t i = 0; i < node->n_inputs && !(p->marks[k] & DEPENDS); i++)
            if (node->inputs[i]->id >= p->lo &&
                (p->marks[node->inputs[i]->id - p->lo] & DEPENDS))
                p->marks[k] |= DEPENDS;
        if ((p->marks[k] & (ANCESTOR | DEPENDS)) == (ANCESTOR | DEPENDS)) {
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
            if (on_path(p, node->inputs[i]) && node->inputs[i]->value.size == 1)
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
    return oom(g);
}

/* ---- chains ---- */

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

struct cr_chain {
    cr_graph *g;
    cr_node *output, *wrt;
    double n_paths;
    size_t n_listed;
    cr_chain_path *paths;
    cr_chain_edge **edges; /* distinct edges of listed paths */
    size_t n_edges, cap_edges;
    double value, omitted_value;
    cr_tensor *gradient;
};

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
} builder;

static cr_status push_vedge(builder *b, size_t child, size_t rec)
{
    if (cr_grow((void **)&b->vedges, &b->cap_vedges, b->n_vedges + 1, sizeof *b->vedges) !=
        CR_OK)
        return oom(b->c->g);
    b->vedges[b->n_vedges++] = (view_edge){child, rec};
    return CR_OK;
}

static int is_kept(const builder *b, size_t k)
{
    const cr_node *node = b->p.g->nodes[b->p.lo + k];
    return (b->p.marks[k] & CR_ON_PATH) && (k == 0 || k == b->n - 1 || node->name);
}

static int cmp_desc(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, c = *(const size_t *)y;
    return (a < c) - (a > c);
}

/* A derivative written out while the named view collapses a region: the
 * sum over the paths it covers of the products of their local derivative
 * texts. Empty until a path reaches it; too_long once it outgrows
 * CHAIN_TEXT_MAX, when the edge falls back to "d(a)/d(b)". */
typedef struct dtext {
    cr_sink s;
    int too_long;
} dtext;

enum { CHAIN_TEXT_MAX = 120 }; /* bytes; longer ones stop being read */

static int is_one(const char *t, size_t len)
{
    return len == 1 && t[0] == '1';
}

/* Writes text, in parentheses when paren is set. */
static void put_paren(cr_sink *s, const char *text, size_t len, int paren)
{
    cr_sink_printf(s, "%s%.*s%s", paren ? "(" : "", (int)len, text, paren ? ")" : "");
}

/* Appends to d the term left * right, where left is the text of the
 * derivative reaching a node (NULL or empty: the seed, 1) and right is a
 * local derivative text. Factors of 1 are dropped, a factor of -1 becomes
 * a sign, a factor that would change meaning inside a product is
 * parenthesised, and a negative term is subtracted. */
static void dtext_add_term(dtext *d, const dtext *left, const char *right, size_t right_len)
{
    if (d->too_long || (left && left->too_long) || right_len == 0) {
        d->too_long = 1; /* or a factor without text (a custom op's) */
        return;
    }
    const char *l = left && left->s.len ? left->s.data : "1";
    const size_t l_len = left && left->s.len ? left->s.len : 1;
    cr_sink term;
    cr_sink_init(&term, NULL);
    if (is_one(right, right_len)) {
        cr_sink_put(&term, l, l_len);
    } else if (is_one(l, l_len)) {
        cr_sink_put(&term, right, right_len);
    } else if (l_len == 2 && memcmp(l, "-1", 2) == 0) {
        cr_sink_put(&term, "-", 1);
        put_paren(&term, right, right_len, needs_parens(right, right_len, 1));
    } else if (right_len == 2 && memcmp(right, "-1", 2) == 0) {
        cr_sink_put(&term, "-", 1);
        put_paren(&term, l, l_len, needs_parens(l, l_len, 1));
    } else {
        put_paren(&term, l, l_len, needs_parens(l, l_len, 1));
        cr_sink_put(&term, "*", 1);
        put_paren(&term, right, right_len, needs_parens(right, right_len, 1));
    }
    /* a conditional (relu's "x > 0 ? 1 : 0") reads wrongly inside a sum */
    const int conditional = term.status == CR_OK && strpbrk(term.data, "?<>") != NULL &&
                            needs_parens(term.data, term.len, 1);
    if (term.status != CR_OK) {
        d->s.status = term.status;
    } else if (conditional) {
        if (d->s.len)
            cr_sink_put(&d->s, " + ", 3);
        put_paren(&d->s, term.data, term.len, 1);
    } else if (d->s.len && term.data[0] == '-') {
        cr_sink_put(&d->s, " - ", 3);
        cr_sink_put(&d->s, term.data + 1, term.len - 1);
    } else {
        if (d->s.len)
            cr_sink_put(&d->s, " + ", 3);
        cr_sink_put(&d->s, term.data, term.len);
    }
    cr_sink_release(&term);
    if (d->s.len > CHAIN_TEXT_MAX)
        d->too_long = 1;
}

static void dtext_reset(dtext *d)
{
    cr_sink_release(&d->s);
    cr_sink_init(&d->s, NULL);
    d->too_long = 0;
}

/* Target of a collapse from one kept node: a kept child, its summed value
 * and how it is reached. */
typedef struct target {
    size_t child;
    double value, flow;
    int via;      /* reached through unnamed nodes */
    int n_direct; /* edges straight from the kept node */
    cr_node *sum; /* node-based: the contribution reaching child */
    dtext text;   /* all-scalar paths: the derivative written out */
} target;

/* Whether the paths from a kept node to target t become one collapsed
 * edge: they pass unnamed nodes, or several edges go straight to t (z*z).
 * A single direct edge stays as it is. */
static int target_collapses(const target *t)
{
    return t->via || t->n_direct > 1;
}

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
            if (!on_path(p, in) || !x->op->vjp ||
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
    dtext *dt = p->all_scalar ? cr_calloc(n, sizeof *dt) : NULL;
    size_t *region = NULL, n_region = 0, cap_region = 0;
    size_t *stack = NULL, cap_stack = 0;
    target *tg = NULL;
    size_t n_tg = 0, cap_tg = 0;
    cr_sink local;
    cr_sink_init(&local, NULL);
    if (!stamp || !slot || !dA || (!p->all_scalar && !racc) || (p->all_scalar && !dt)) {
        st = oom(g);
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
                if (!on_path(p, in))
                    continue;
                size_t k = in->id - p->lo;
                if (is_kept(b, k) || stamp[k] == a + 1)
                    continue;
                stamp[k] = a + 1;
                if (cr_grow((void **)&stack, &cap_stack, top + 1, sizeof *stack) != CR_OK ||
                    cr_grow((void **)&region, &cap_region, n_region + 1, sizeof *region) !=
                        CR_OK) {
                    st = oom(g);
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
                if (!on_path(p, in))
                    continue;
                size_t k = in->id - p->lo;
                double contribution = dx * p->local[p->ebase[xk] + i];
                dtext *to;
                if (!is_kept(b, k)) {
                    dA[k] += contribution;
                    to = dt ? &dt[k] : NULL;
                } else {
                    if (slot[k] == 0 || slot[k] > n_tg || tg[slot[k] - 1].child != k) {
                        if (cr_grow((void **)&tg, &cap_tg, n_tg + 1, sizeof *tg) != CR_OK) {
                            st = oom(g);
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
                    sink_local(&local, x, i, 1);
                    dtext_add_term(to, r == 0 ? NULL : &dt[xk], local.data, local.len);
                    if (local.status != CR_OK || to->s.status != CR_OK) {
                        st = oom(g);
                        goto done;
                    }
                }
            }
        }
        for (size_t r = 0; r < n_region; r++) {
            dA[region[r]] = 0.0;
            if (dt)
                dtext_reset(&dt[region[r]]);
        }
        for (size_t t = 0; t < n_tg; t++)
            tg[t].flow = fabs(p->grad[a] * tg[t].value);
        if (!p->all_scalar &&
            (st = region_nodes(b, a, region, n_region, racc, tg, n_tg, slot)) != CR_OK)
            goto done;
        for (size_t t = 0; t < n_tg && st == CR_OK; t++) {
            if (!target_collapses(&tg[t])) { /* one direct edge: keep it */
                for (size_t i = 0; i < an->n_inputs && st == CR_OK; i++)
                    if (on_path(p, an->inputs[i]) &&
                        an->inputs[i]->id - p->lo == tg[t].child)
                        st = push_vedge(b, tg[t].child, p->ebase[a] + i);
                continue;
            }
            if (cr_grow((void **)&b->coll, &b->cap_coll, b->n_coll + 1, sizeof *b->coll) !=
                CR_OK) {
                st = oom(g);
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
            dtext_reset(&tg[t].text);
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
            if (on_path(p, node->inputs[i])) {
                cr_status st = push_vedge(b, node->inputs[i]->id - p->lo, p->ebase[k] + i);
                if (st != CR_OK)
                    return st;
            }
    }
    b->vstart[b->n] = b->n_vedges;
    return CR_OK;
}

static char *sink_string(cr_sink *s)
{
    if (s->status != CR_OK || !s->data) {
        char *d = s->status == CR_OK ? cr_strdup("") : NULL;
        cr_sink_release(s);
        return d;
    }
    return s->data; /* handed over */
}

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
    e->formula = sink_string(&s);
    cr_sink_init(&s, NULL);
    cr_sink_printf(&s, "%s x %s", cr_shape_str(&e->parent->value).text,
                   cr_shape_str(&e->child->value).text);
    e->shape = sink_string(&s);
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
        return oom(c->g);
    path->edges = edges;
    path->n_edges = depth;
    c->n_listed++;
    double product = 1.0;
    for (size_t k = 0; k < depth; k++) {
        edges[k] = edge_get(b, fk[k], fe[k]);
        if (!edges[k])
            return oom(c->g);
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
        return oom(c->g);
    size_t *fk = NULL, *fnext = NULL, cap_f = 0, cap_n = 0, cap_e = 0, depth = 0;
    const view_edge **fe = NULL;
    cr_status st = CR_OK;
    if (cr_grow((void **)&fk, &cap_f, 16, sizeof *fk) != CR_OK ||
        cr_grow((void **)&fnext, &cap_n, 16, sizeof *fnext) != CR_OK ||
        cr_grow((void **)&fe, &cap_e, 16, sizeof *fe) != CR_OK) {
        st = oom(c->g);
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
                st = oom(c->g);
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
        oom(g);
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
        st = oom(g);
        goto fail;
    }
    st = (opts->flags & CR_CHAIN_NAMED_ONLY) ? build_named_view(&b) : build_full_view(&b);
    if (st != CR_OK)
        goto fail;
    /* count the view's paths, from wrt up */
    double *count = cr_calloc(b.n, sizeof *count);
    b.memo = cr_calloc(b.p.ebase[b.n] + b.n_coll + 1, sizeof *b.memo);
    if (!count || !b.memo) {
        cr_free(count);
        st = oom(g);
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

cr_node *cr_chain_output(const cr_chain *c) { return c->output; }
cr_node *cr_chain_wrt(const cr_chain *c) { return c->wrt; }
double cr_chain_num_paths(const cr_chain *c) { return c->n_paths; }
size_t cr_chain_num_listed(const cr_chain *c) { return c->n_listed; }
double cr_chain_num_omitted(const cr_chain *c) { return c->n_paths - (double)c->n_listed; }
double cr_chain_value(const cr_chain *c) { return c->value; }
double cr_chain_omitted_value(const cr_chain *c) { return c->omitted_value; }
const cr_tensor *cr_chain_gradient(const cr_chain *c) { return c->gradient; }

const cr_chain_path *cr_chain_path_at(const cr_chain *c, size_t k)
{
    return k < c->n_listed ? &c->paths[k] : NULL;
}

/* ---- printer ---- */

typedef struct style {
    const char *d, *dot, *times;
} style;

static void put_ratio(cr_sink *s, const style *st, const cr_node *top,
                      const cr_node *bottom)
{
    cr_sink_printf(s, "%s", st->d);
    cr_sink_label(s, top);
    cr_sink_printf(s, "/%s", st->d);
    cr_sink_label(s, bottom);
}

static void put_value(cr_sink *s, const cr_chain_edge *e)
{
    if (e->scalar || !isnan(e->value))
        cr_sink_printf(s, "%s", cr_number_str(e->value).text);
    else
        cr_sink_printf(s, "[%s %s]", e->jacobian, e->shape);
}

static void put_total(cr_sink *s, const cr_chain *c)
{
    if (c->wrt->value.size == 1)
        cr_sink_printf(s, "%s", cr_number_str(c->value).text);
    else
        cr_sink_printf(s, "[norm %s]", cr_number_str(cr_tensor_norm(c->gradient)).text);
}

/* The listed paths joined by " + ": each the names of its factors, or
 * their values, joined by the style's product sign. */
static void put_terms(cr_sink *s, const cr_chain *c, const style *st, int values)
{
    for (size_t k = 0; k < c->n_listed; k++) {
        const cr_chain_path *p = &c->paths[k];
        if (k)
            cr_sink_put(s, " + ", 3);
        if (p->n_edges == 0)
            cr_sink_put(s, "1", 1);
        for (size_t j = 0; j < p->n_edges; j++) {
            if (j)
                cr_sink_printf(s, "%s", values ? st->times : st->dot);
            if (values)
                put_value(s, p->edges[j]);
            else
                put_ratio(s, st, p->edges[j]->parent, p->edges[j]->child);
        }
    }
}

static void print_chain(cr_sink *s, const cr_chain *c, unsigned flags)
{
    const style st = (flags & CR_CHAIN_PRINT_UNICODE)
                         ? (style){"\xe2\x88\x82", " \xc2\xb7 ", " \xc3\x97 "}
                         : (style){"d", " * ", " * "};
    put_ratio(s, &st, c->output, c->wrt);
    cr_sink_put(s, " = ", 3);
    int omitted = (double)c->n_listed < c->n_paths;
    int trivial = c->n_listed == 1 && !omitted && c->paths[0].n_edges <= 1;
    if (c->n_listed > 0 && !trivial) {
        put_terms(s, c, &st, 0);
        if (omitted)
            cr_sink_printf(s, " + [%.0f more paths]", c->n_paths - (double)c->n_listed);
        cr_sink_put(s, " = ", 3);
        put_terms(s, c, &st, 1);
        if (omitted && !isnan(c->omitted_value))
            cr_sink_printf(s, " + %s", cr_number_str(c->omitted_value).text);
        else if (omitted)
            cr_sink_put(s, " + [...]", 8);
        cr_sink_put(s, " = ", 3);
    } else if (c->n_listed == 0) {
        cr_sink_put(s, "(no path) ", 10);
    }
    put_total(s, c);
    cr_sink_put(s, "\n", 1);
    if (!(flags & CR_CHAIN_PRINT_FORMULAS))
        return;
    for (size_t k = 0; k < c->n_edges; k++) {
        const cr_chain_edge *e = c->edges[k];
        cr_sink_put(s, "  ", 2);
        put_ratio(s, &st, e->parent, e->child);
        if (*e->formula)
            cr_sink_printf(s, " = %s", e->formula);
        if (e->scalar && strcmp(e->formula, cr_number_str(e->value).text) == 0)
            cr_sink_put(s, "\n", 1);
        else if (e->scalar)
            cr_sink_printf(s, " = %s\n", cr_number_str(e->value).text);
        else
            cr_sink_printf(s, ": %s, %s, gradient flow norm %s\n", e->jacobian, e->shape,
                           cr_number_str(e->flow_norm).text);
    }
}

static cr_status chain_print_body(const cr_chain *c, FILE *out, unsigned flags)
{
    if (!c || !out)
        return CR_EINVAL;
    cr_sink s;
    cr_sink_init(&s, out);
    print_chain(&s, c, flags);
    if (s.status == CR_OK && ferror(out))
        s.status = CR_EIO;
    return s.status;
}

cr_status cr_chain_print(const cr_chain *c, FILE *out, unsigned flags)
{
    cr_status result;
    CR_IN_C_LOCALE(result, chain_print_body(c, out, flags));
    return result;
}

static int chain_format_body(const cr_chain *c, unsigned flags, char *buf, size_t size)
{
    if (!c) {
        if (buf && size)
            buf[0] = '\0';
        return -1;
    }
    cr_sink s;
    cr_sink_init(&s, NULL);
    print_chain(&s, c, flags);
    return sink_to_buffer(&s, buf, size);
}

int cr_chain_format(const cr_chain *c, unsigned flags, char *buf, size_t size)
{
    int result;
    CR_IN_C_LOCALE(result, chain_format_body(c, flags, buf, size));
    return result;
}
