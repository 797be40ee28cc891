/*
 * deriv_text.c - derivative text: node labels as formulas write them, an
 * op's local derivative template with its role letters (x, a, b, y, c)
 * replaced by the inputs' labels or by what unnamed inputs compute, the
 * public cr_chain_local_text, and the composed formulas of the edges the
 * named-only view collapses (sums of products of local derivative texts).
 */
#include "explain/chain_private.h"

#include <string.h>

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

void cr_sink_definition(cr_sink *s, const cr_node *n)
{
    if (n->name && n->kind == CR_NODE_OP && n->op->expr) {
        cr_sink_label(s, n);
        cr_sink_printf(s, " = ");
        sink_template(s, n, n->op->expr, 1, 0);
    } else {
        sink_expr(s, n, 0);
    }
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
    else if ((t = op->tensor_text[i == 0 ? 0 : 1]))
        cr_sink_put(s, t, strlen(t));
}

/* Writes the op's derivative text for input i with the role letters
 * replaced by the nodes' labels. */
void cr_sink_local_text(cr_sink *s, const cr_node *p, size_t i) { sink_local(s, p, i, 0); }

/* The same with unnamed inputs written as what they compute. */
void cr_sink_local_expr(cr_sink *s, const cr_node *p, size_t i) { sink_local(s, p, i, 1); }

static int chain_local_text_body(const cr_node *parent, size_t input, char *buf,
                                 size_t size)
{
    if (!parent)
        return cr_text_none(buf, size);
    cr_sink s;
    cr_sink_init(&s, NULL);
    cr_sink_local_text(&s, parent, input);
    return cr_sink_to_buffer(&s, buf, size);
}

int cr_chain_local_text(const cr_node *parent, size_t input, char *buf, size_t size)
{
    int result;
    CR_IN_C_LOCALE(result, chain_local_text_body(parent, input, buf, size));
    return result;
}

/* ---- composed formulas of collapsed edges ---- */

enum { CHAIN_TEXT_MAX = 120 }; /* bytes; longer ones stop being read */

static int is_one(const char *t, size_t len) { return len == 1 && t[0] == '1'; }

/* Writes text, in parentheses when paren is set. */
static void put_paren(cr_sink *s, const char *text, size_t len, int paren)
{
    cr_sink_printf(s, "%s%.*s%s", paren ? "(" : "", (int)len, text, paren ? ")" : "");
}

/* Appends to d the term left * right, where left is the text of the
 * derivative reaching a node (NULL or empty: the seed, 1) and right is a
 * local derivative text. Factors of 1 are dropped, a factor of -1 becomes
 * a sign (of 0: none), a factor that would change meaning inside a product is
 * parenthesised, and a negative term is subtracted. */
void cr_dtext_add_term(cr_dtext *d, const cr_dtext *left, const char *right,
                       size_t right_len)
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
    } else if ((l_len == 2 && memcmp(l, "-1", 2) == 0 && right_len == 1 &&
                right[0] == '0') ||
               (right_len == 2 && memcmp(right, "-1", 2) == 0 && l_len == 1 &&
                l[0] == '0')) {
        cr_sink_put(&term, "0", 1); /* -1 * 0: "0", not "-0" */
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

void cr_dtext_reset(cr_dtext *d)
{
    cr_sink_release(&d->s);
    cr_sink_init(&d->s, NULL);
    d->too_long = 0;
}
