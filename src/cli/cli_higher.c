/*
 * cli_higher.c - what the higher-order subcommands (jacobian, hessian,
 * hvp, jvp and check --order 2) share: element labels of the --wrt
 * variables, labelled matrices for people and as JSON, the direction
 * --v, and the derivative blocks across several variables (see
 * cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cli_element_label(char *buf, size_t size, const char *name, const cr_tensor *t,
                       size_t k)
{
    const int rank = cr_tensor_rank(t);
    if (cr_tensor_size(t) == 1) {
        snprintf(buf, size, "%s", name);
        return;
    }
    size_t idx[4] = {0}, rest = k;
    const size_t *shape = cr_tensor_shape(t);
    for (int d = rank; d-- > 0;) {
        idx[d] = rest % shape[d];
        rest /= shape[d];
    }
    int n = snprintf(buf, size, "%s[", name);
    for (int d = 0; d < rank && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%zu", d ? "," : "", idx[d]);
    if (n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "]");
}

size_t cli_wrt_size(const cli *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        n += cr_tensor_size(cr_node_value(c->wrt_syms[i]->node));
    return n;
}

/* ---- labelled matrices ---- */

static int label_node(char **labels, size_t at, const char *name, const cr_node *n)
{
    char buf[600];
    const cr_tensor *t = cr_node_value(n);
    for (size_t k = 0; k < cr_tensor_size(t); k++) {
        cli_element_label(buf, sizeof buf, name, t, k);
        if (!(labels[at + k] = cli_strndup(buf, strlen(buf))))
            return -1;
    }
    return 0;
}

int cli_matrix_new(cli *c, cli_matrix *m, const char *name, const cr_node *rows,
                   int wrt_rows)
{
    memset(m, 0, sizeof *m);
    m->nc = cli_wrt_size(c);
    m->nr = wrt_rows ? m->nc : cr_tensor_size(cr_node_value(rows));
    m->rows = calloc(m->nr, sizeof *m->rows);
    m->cols = calloc(m->nc, sizeof *m->cols);
    m->v = calloc(m->nr * m->nc, sizeof *m->v);
    int bad = !m->rows || !m->cols || !m->v;
    for (size_t i = 0, at = 0; i < c->n_wrt_syms && !bad; i++) {
        const cr_expr_symbol *s = c->wrt_syms[i];
        bad = label_node(m->cols, at, s->name, s->node) ||
              (wrt_rows && label_node(m->rows, at, s->name, s->node));
        at += cr_tensor_size(cr_node_value(s->node));
    }
    if (!bad && !wrt_rows)
        bad = label_node(m->rows, 0, name, rows);
    if (bad) {
        cli_matrix_free(m);
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    return CLI_OK;
}

void cli_matrix_free(cli_matrix *m)
{
    for (size_t i = 0; m->rows && i < m->nr; i++)
        free(m->rows[i]);
    for (size_t j = 0; m->cols && j < m->nc; j++)
        free(m->cols[j]);
    free(m->rows);
    free(m->cols);
    free(m->v);
    memset(m, 0, sizeof *m);
}

void cli_matrix_print(const cli_matrix *m, FILE *out)
{
    char num[CLI_NUMBER_TEXT];
    size_t first = 0; /* width of the row labels */
    for (size_t i = 0; i < m->nr; i++)
        if (strlen(m->rows[i]) > first)
            first = strlen(m->rows[i]);
    size_t *width = calloc(m->nc ? m->nc : 1, sizeof *width);
    for (size_t j = 0; width && j < m->nc; j++) {
        width[j] = strlen(m->cols[j]);
        for (size_t i = 0; i < m->nr; i++) {
            const size_t w = (size_t)cli_number_text(num, m->v[i * m->nc + j]);
            if (w > width[j])
                width[j] = w;
        }
    }
    fprintf(out, "%*s", (int)first, "");
    for (size_t j = 0; j < m->nc; j++)
        fprintf(out, "  %*s", width ? (int)width[j] : 0, m->cols[j]);
    fputc('\n', out);
    for (size_t i = 0; i < m->nr; i++) {
        fprintf(out, "%-*s", (int)first, m->rows[i]);
        for (size_t j = 0; j < m->nc; j++) {
            cli_number_text(num, m->v[i * m->nc + j]);
            fprintf(out, "  %*s", width ? (int)width[j] : 0, num);
        }
        fputc('\n', out);
    }
    free(width);
}

static void labels_json(const char *key, char *const *labels, size_t n)
{
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, labels[i]);
    }
    printf("]");
}

void cli_matrix_json(const char *key, const cli_matrix *m)
{
    printf(", \"%s\": {", key);
    labels_json("rows", m->rows, m->nr);
    printf(", ");
    labels_json("columns", m->cols, m->nc);
    printf(", \"values\": [");
    for (size_t i = 0; i < m->nr; i++) {
        printf("%s[", i ? ", " : "");
        for (size_t j = 0; j < m->nc; j++) {
            printf("%s", j ? ", " : "");
            cli_json_number(stdout, m->v[i * m->nc + j]);
        }
        printf("]");
    }
    printf("]}");
}

/* ---- derivatives across the --wrt variables ---- */

int cli_higher_fail(cli *c, const char *what)
{
    return cli_fail(c, CLI_EVAL, 0, 0, "%s: %s", what, cr_graph_error(c->g)->message);
}

int cli_require_scalar_output(cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    const cr_tensor *t = cr_node_value(out->node);
    if (cr_tensor_size(t) == 1)
        return CLI_OK;
    char shape[64] = "[";
    for (int d = 0; d < cr_tensor_rank(t); d++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", d ? "," : "",
                 cr_tensor_shape(t)[d]);
    strcat(shape, "]");
    return cli_fail(c, CLI_USAGE, 0, 0,
                    "the output %s is %s, not a scalar: choose one with --of, or make one "
                    "(sum(%s))",
                    out->name, shape, out->name);
}

/* Copies block (an [nr, n] matrix node, n the size of --wrt variable j)
 * into the columns of variable j, rows from row0 on. */
static void copy_block(const cli *c, cli_matrix *m, const cr_node *block, size_t row0,
                       size_t j)
{
    size_t col0 = 0;
    for (size_t k = 0; k < j; k++)
        col0 += cr_tensor_size(cr_node_value(c->wrt_syms[k]->node));
    const cr_tensor *t = cr_node_value(block);
    const size_t n = cr_tensor_size(cr_node_value(c->wrt_syms[j]->node));
    const size_t nr = cr_tensor_size(t) / n;
    for (size_t r = 0; r < nr; r++)
        for (size_t k = 0; k < n; k++)
            m->v[(row0 + r) * m->nc + col0 + k] = cr_tensor_get(t, r * n + k);
}

int cli_jacobian_fill(cli *c, cr_node *y, cli_matrix *m, size_t row0)
{
    for (size_t j = 0; j < c->n_wrt_syms; j++) {
        cr_node *block = cr_jacobian(c->g, y, c->wrt_syms[j]->node);
        if (!block)
            return cli_higher_fail(c, "jacobian");
        copy_block(c, m, block, row0, j);
    }
    return CLI_OK;
}

/* Reads "NAME=VALUE[,...]" of --v into value[i], one per named --wrt
 * variable (a number, a list, rand or randn: cr_expr_parse_value), a
 * number filling the variable's shape. */
static int direction_values(cli *c, const char *text, cr_tensor **value)
{
    const char *p = text;
    unsigned long seed = c->seed;
    for (;;) {
        const char *end = cli_pair_end(p);
        const size_t n = (size_t)(end - p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p)
            return cli_fail(c, CLI_USAGE, 0, 0, "--v: expected NAME=VALUE, got '%.*s'",
                            (int)n, p);
        const size_t len = (size_t)(eq - p);
        size_t i = 0;
        while (i < c->n_wrt_syms && (strlen(c->wrt_syms[i]->name) != len ||
                                     strncmp(c->wrt_syms[i]->name, p, len) != 0))
            i++;
        if (i == c->n_wrt_syms)
            return cli_fail(c, CLI_USAGE, 0, 0, "--v: '%.*s' is not a --wrt variable",
                            (int)len, p);
        if (value[i])
            return cli_fail(c, CLI_USAGE, 0, 0, "--v: '%.*s' is given twice", (int)len, p);
        const char *v = eq + 1;
        const size_t vlen = n - len - 1;
        cr_error err;
        if (cr_expr_parse_value(v, vlen, seed, &value[i], &err) != CR_OK)
            return err.status == CR_ENOMEM
                       ? cli_fail(c, CLI_USAGE, 0, 0, "out of memory")
                       : cli_fail(c, CLI_USAGE, 0, 0, "--v %.*s: %s (column %d of '%.*s')",
                                  (int)len, p, err.message, err.column, (int)vlen, v);
        if (strncmp(v, "rand", 4) == 0)
            seed++;
        const cr_tensor *x = cr_node_value(c->wrt_syms[i]->node);
        const cr_tensor *d = value[i];
        if (cr_tensor_rank(d) > 0 && !cr_tensor_same_shape(d, x)) {
            char want[64], got[64];
            cr_shape_format(want, sizeof want, cr_tensor_rank(x), cr_tensor_shape(x));
            cr_shape_format(got, sizeof got, cr_tensor_rank(d), cr_tensor_shape(d));
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--v %.*s: a value of shape %s, %.*s has %s", (int)len, p, got,
                            (int)len, p, want);
        }
        if (!*end)
            return CLI_OK;
        p = end + 1;
    }
}

int cli_direction(cli *c, cr_node **v)
{
    const char *text = c->kept[CLI_OPT_V];
    if (!text)
        return cli_fail(c, CLI_USAGE, 0, 0, "give the direction with --v NAME=VALUE[,...]");
    cr_tensor **value = calloc(c->n_wrt_syms, sizeof *value);
    int rc = value ? direction_values(c, text, value)
                   : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_wrt_syms && rc == CLI_OK; i++) {
        const cr_tensor *x = cr_node_value(c->wrt_syms[i]->node);
        cr_tensor *t = value[i];
        if (!t || cr_tensor_rank(t) == 0) {
            t = cr_tensor_new(cr_tensor_rank(x), cr_tensor_shape(x), NULL);
            if (t)
                cr_tensor_fill(t, value[i] ? cr_tensor_scalar(value[i]) : 0.0);
        }
        v[i] = t ? cr_constant(c->g, t) : NULL;
        if (t != value[i])
            cr_tensor_free(t);
        if (!v[i])
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    for (size_t i = 0; value && i < c->n_wrt_syms; i++)
        cr_tensor_free(value[i]);
    free(value);
    return rc;
}

cr_node *cli_jvp_sum(cli *c, cr_node *y, cr_node *const *v)
{
    cr_node *sum = NULL;
    for (size_t j = 0; j < c->n_wrt_syms; j++) {
        cr_node *part = cr_jvp(c->g, y, c->wrt_syms[j]->node, v[j]);
        if (!part || !(sum = sum ? cr_add(c->g, sum, part) : part)) {
            cli_higher_fail(c, "jvp");
            return NULL;
        }
    }
    return sum;
}

void cli_node_json(size_t *member, const char *name, const cr_node *n)
{
    cli_json_member_tensor((*member)++, name, cr_node_value(n));
}

void cli_wrt_json(const cli *c, const char *key, cr_node *const *nodes)
{
    size_t member = 0;
    printf(", \"%s\": {", key);
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        cli_node_json(&member, c->wrt_syms[i]->name, nodes[i]);
    printf("}");
}

int cli_node_rows(cli_rows *rows, const char *prefix, const char *name, const cr_node *n)
{
    char label[600], full[700];
    const cr_tensor *t = cr_node_value(n);
    for (size_t k = 0; k < cr_tensor_size(t); k++) {
        cli_element_label(label, sizeof label, name, t, k);
        snprintf(full, sizeof full, "%s%s", prefix, label);
        if (cli_rows_add(rows, full, cr_tensor_get(t, k)) != 0)
            return -1;
    }
    return 0;
}

int cli_matrix_report(cli *c, const char *key, const char *title, const cli_matrix *m)
{
    if (c->json) {
        cli_json_begin(c);
        cli_matrix_json(key, m);
        cli_json_end(c);
        return CLI_OK;
    }
    printf("%s of %s, %zu x %zu:\n", title, cr_expr_output(c->prog)->name, m->nr, m->nc);
    cli_matrix_print(m, stdout);
    return CLI_OK;
}

int cli_product_report(cli *c, const char *key, const char *prefix, cr_node *const *v,
                       size_t n, const char *const *names, cr_node *const *result)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    if (c->json) {
        size_t member = 0;
        cli_json_begin(c);
        cli_wrt_json(c, "v", v);
        printf(", \"%s\": {", key);
        for (size_t i = 0; i < n; i++)
            cli_node_json(&member, names[i], result[i]);
        printf("}");
        cli_json_end(c);
        return CLI_OK;
    }
    cli_rows rows = {0};
    /* the output whole: every element of a tensor (jvp's output) */
    int bad = cli_node_rows(&rows, "", out->name, out->node);
    for (size_t i = 0; i < n && !bad; i++)
        bad = cli_node_rows(&rows, prefix, names[i], result[i]);
    if (!bad)
        cli_rows_print(&rows, stdout);
    cli_rows_free(&rows);
    return bad ? cli_fail(c, CLI_USAGE, 0, 0, "out of memory") : CLI_OK;
}
