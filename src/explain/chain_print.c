/*
 * chain_print.c - the article-style printer of a derivative chain
 * (cr_chain_print to a stream, cr_chain_format into a buffer): the sum of
 * the paths' products as ratios, as values and as the total, and with
 * CR_CHAIN_PRINT_FORMULAS each edge's formula, value or Jacobian.
 */
#include "explain/chain_private.h"

#include <math.h>
#include <string.h>

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
    if (!c)
        return cr_text_none(buf, size);
    cr_sink s;
    cr_sink_init(&s, NULL);
    print_chain(&s, c, flags);
    return cr_sink_to_buffer(&s, buf, size);
}

int cr_chain_format(const cr_chain *c, unsigned flags, char *buf, size_t size)
{
    int result;
    CR_IN_C_LOCALE(result, chain_format_body(c, flags, buf, size));
    return result;
}
