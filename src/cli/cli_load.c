/*
 * cli_load.c - the life of the program subcommands (eval, grad, chain,
 * dot, check): their options (--at, --wrt, --claim, -f, ...), reading and
 * parsing the program, giving the inputs their values, evaluating it and
 * reverse mode (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROGRAM_BYTES ((size_t)64 << 20)

/* ---- options ---- */

/* What an --at value is. */
typedef enum at_kind {
    AT_NUMBER,
    AT_NOT_A_NUMBER,
    AT_NOT_FINITE,
    AT_UNDERFLOW,
    AT_NOMEM
} at_kind;

/* Reads text as a number the way the expression language writes one
 * (12, 0.5, .5, 7., 1e-3, 2.5E+4), with an optional '-' in front: the
 * language's own parser decides, on the program "v=TEXT", so --at and a
 * program cannot disagree about what a number is (strtod alone would take
 * 0x10, +1, nan...). Returns AT_NUMBER with *v, or why not. */
static at_kind language_number(const char *text, double *v)
{
    const size_t len = strlen(text);
    for (size_t i = 0; i < len; i++) { /* a number, not an expression */
        const char ch = text[i];
        const int after_e = i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E');
        if (!strchr("0123456789.eE+-", ch) || (ch == '-' && i > 0 && !after_e) ||
            (ch == '+' && !after_e))
            return AT_NOT_A_NUMBER;
    }
    char *program = malloc(len + 3);
    cr_graph *g = cr_graph_new();
    if (!program || !g) {
        free(program);
        cr_graph_free(g);
        return AT_NOMEM;
    }
    memcpy(program, "v=", 2);
    memcpy(program + 2, text, len + 1);
    cr_expr_program *p = NULL;
    at_kind kind = AT_NOT_A_NUMBER;
    if (cr_expr_parse(g, program, len + 2, &p, NULL) == CR_OK &&
        cr_expr_num_inputs(p) == 0 && cr_expr_eval(p, NULL) == CR_OK) {
        *v = cr_node_scalar(cr_expr_statement(p, 0)->node);
        kind = AT_NUMBER;
    }
    cr_expr_free(p);
    cr_graph_free(g);
    free(program);
    return kind;
}

/* Reads one --at value: nan, inf and overflowing numbers are not finite; a
 * number the language does not write is not a number; one with a digit
 * other than 0 before its exponent that reads as 0 underflows. */
static at_kind at_value(const char *text, double *v)
{
    char *end;
    const double any = strtod(text, &end);
    if (text[0] != '\0' && !isspace((unsigned char)text[0]) && *end == '\0' &&
        !isfinite(any))
        return AT_NOT_FINITE;
    const at_kind kind = language_number(text, v);
    if (kind != AT_NUMBER || *v != 0)
        return kind;
    for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '1' && *p <= '9')
            return AT_UNDERFLOW;
    return AT_NUMBER;
}

/* Adds the pairs of one --at value "a=1,b=2". */
static int add_at(cli *c, const char *list)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at: expected NAME=VALUE, got '%.*s'",
                            (int)n, p);
        size_t vlen = n - (size_t)(eq + 1 - p);
        char *value = cli_strndup(eq + 1, vlen);
        if (!value)
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        double v = 0;
        const at_kind kind = at_value(value, &v);
        free(value);
        static const char *const why[] = {
            [AT_NOT_A_NUMBER] = "is not a number",
            [AT_NOT_FINITE] = "is not a finite number",
            [AT_UNDERFLOW] = "underflows to 0",
        };
        if (kind == AT_NOMEM)
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        if (kind != AT_NUMBER)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at: '%.*s' %s (in '%.*s')", (int)vlen,
                            eq + 1, why[kind], (int)n, p);
        if (cli_grow((void **)&c->at, &c->cap_at, c->n_at + 1, sizeof *c->at) != 0 ||
            !(c->at[c->n_at].name = cli_strndup(p, (size_t)(eq - p))))
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        c->at[c->n_at++].value = v;
        if (!comma)
            return CLI_OK;
        p = comma + 1;
    }
}

/* Adds the comma-separated items of one --wrt or --claim value. */
static int add_list(cli *c, const char *option, const char *list, char ***items, size_t *n,
                    size_t *cap)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return cli_fail(c, CLI_USAGE, 0, 0, "%s: empty item in '%s'", option, list);
        if (cli_grow((void **)items, cap, *n + 1, sizeof **items) != 0 ||
            !((*items)[*n] = cli_strndup(p, len)))
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        (*n)++;
        if (!comma)
            return CLI_OK;
        p = comma + 1;
    }
}

static int program_option(cli *c, void *ctx, cli_opt id, const char *value)
{
    (void)ctx;
    switch (id) {
    case CLI_OPT_AT:
        return add_at(c, value);
    case CLI_OPT_WRT:
        return add_list(c, "--wrt", value, &c->wrt, &c->n_wrt, &c->cap_wrt);
    case CLI_OPT_CLAIM:
        return add_list(c, "--claim", value, &c->claims, &c->n_claims, &c->cap_claims);
    case CLI_OPT_OF:
        c->of = value;
        break;
    case CLI_OPT_CHAIN:
        c->chain = 1;
        break;
    case CLI_OPT_CHECK:
        c->check = 1;
        break;
    case CLI_OPT_UNICODE:
        c->unicode = 1;
        break;
    case CLI_OPT_TRAP:
        c->trap = 1;
        break;
    case CLI_OPT_DOT:
        c->dot = value;
        break;
    case CLI_OPT_RENDER:
        c->render = value;
        break;
    case CLI_OPT_OUTPUT:
        c->output = value;
        break;
    case CLI_OPT_FILE:
        c->file = value;
        break;
    default: /* a picture option, or one the program subcommands do not use */
        return cli_picture_option(c, id, value);
    }
    return CLI_OK;
}

static int parse(cli *c, const cli_spec *spec, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    int rc = cli_options_parse(c, spec, argc, argv, program_option, NULL);
    if (rc != CLI_OK)
        return rc;
    if (c->render && !cli_render_format(c->render))
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: '%s' must end in .svg, .png or .pdf",
                        c->render);
    if (c->file && c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "give the program either with -f FILE or as an argument, not both");
    if (!c->file && !c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "no program: give it as the last argument or with -f FILE "
                        "(see 'chainrule help %s')",
                        c->cmd);
    return CLI_OK;
}

static void program_free(cli *c)
{
    for (size_t i = 0; i < c->n_at; i++)
        free(c->at[i].name);
    free(c->at);
    for (size_t i = 0; i < c->n_wrt; i++)
        free(c->wrt[i]);
    free(c->wrt);
    for (size_t i = 0; i < c->n_claims; i++)
        free(c->claims[i]);
    free(c->claims);
    free(c->wrt_syms);
    free(c->text);
    cr_expr_free(c->prog);
    cr_graph_free(c->g);
    memset(c, 0, sizeof *c);
}

/* ---- loading ---- */

static int read_text(cli *c)
{
    if (c->arg) {
        c->source = "<program>";
        c->len = strlen(c->arg);
        c->text = cli_strndup(c->arg, c->len);
        return c->text ? CLI_OK : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    c->source = cli_input_name(c->file);
    return cli_input_read(c, c->file, MAX_PROGRAM_BYTES, &c->text, &c->len);
}

/* "x1, x2, d" into buf: the program's inputs. */
static void list_inputs(const cr_expr_program *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cr_expr_num_inputs(p); i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                         cr_expr_input(p, i)->name);
        if (n < 0 || (size_t)n >= size - used) {
            snprintf(buf + (size > 4 ? size - 4 : 0), 4, "...");
            return;
        }
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "none");
}

static int resolve_wrt(cli *c)
{
    const cr_expr_program *p = c->prog;
    size_t n = c->n_wrt ? c->n_wrt : cr_expr_num_inputs(p);
    c->wrt_syms = calloc(n ? n : 1, sizeof *c->wrt_syms);
    if (!c->wrt_syms)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const cr_expr_symbol *s =
            c->n_wrt ? cr_expr_lookup(p, c->wrt[i]) : cr_expr_input(p, i);
        if (!s) {
            char list[512];
            list_inputs(p, list, sizeof list);
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--wrt: '%s' is not a name in the program (inputs: %s)",
                            c->wrt[i], list);
        }
        c->wrt_syms[c->n_wrt_syms++] = s;
    }
    return CLI_OK;
}

/* Reads and parses the program, chooses the output (--of), gives the inputs
 * their --at values, resolves --wrt and evaluates every statement. Prints
 * any problem and returns its exit status (CLI_OK when all went well). */
static int load(cli *c)
{
    int rc = read_text(c);
    if (rc != CLI_OK)
        return rc;
    cr_error err;
    if (!(c->g = cr_graph_new()))
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    if (c->trap)
        cr_graph_set_flags(c->g, cr_graph_flags(c->g) | CR_GRAPH_TRAP_NONFINITE);
    if (cr_expr_parse(c->g, c->text, c->len, &c->prog, &err) != CR_OK)
        return cli_fail_error(c, CLI_USAGE, &err);
    cr_expr_program *p = c->prog;
    if (c->of && cr_expr_set_output(p, c->of, &err) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--of: %s", err.message);
    for (size_t i = 0; i < c->n_at; i++) {
        if (cr_expr_set(p, c->at[i].name, c->at[i].value, &err) == CR_OK)
            continue;
        if (err.status == CR_ENOTFOUND) {
            char list[512];
            list_inputs(p, list, sizeof list);
            return cli_fail(c, CLI_USAGE, 0, 0, "--at: %s (inputs: %s)", err.message, list);
        }
        return cli_fail(c, CLI_USAGE, 0, 0, "--at: %s", err.message);
    }
    rc = CLI_OK;
    for (size_t i = 0; i < cr_expr_num_inputs(p); i++) {
        const cr_expr_symbol *in = cr_expr_input(p, i);
        if (!in->has_value)
            rc = cli_fail(c, CLI_USAGE, in->line, in->column,
                          "variable '%s' has no value; give it with --at %s=VALUE",
                          in->name, in->name);
    }
    if (rc != CLI_OK || (rc = resolve_wrt(c)) != CLI_OK)
        return rc;
    if ((c->spec->flags & CLI_SPEC_WARN_UNUSED) && !c->of) {
        const cr_expr_symbol *out = cr_expr_output(p);
        for (size_t i = 0; i < cr_expr_num_statements(p); i++) {
            const cr_expr_symbol *s = cr_expr_statement(p, i);
            if (!s->used)
                cli_warn_at(c, s->line, s->column,
                            "statement '%s' is not used by the output '%s'", s->name,
                            out->name);
        }
    }
    if (cr_expr_eval(p, &err) != CR_OK)
        return cli_fail_error(c, err.status == CR_EDOMAIN ? CLI_EVAL : CLI_USAGE, &err);
    return CLI_OK;
}

int cli_run(const cli_spec *spec, int argc, char **argv, int (*body)(cli *c))
{
    cli c;
    int rc = parse(&c, spec, argc, argv);
    if (rc == CLI_OK)
        rc = load(&c);
    /* --trap-nonfinite covers the gradients too, wherever they are used */
    if (rc == CLI_OK && c.trap && cli_spec_has(spec, CLI_OPT_WRT))
        rc = cli_backward(&c);
    if (rc == CLI_OK)
        rc = body(&c);
    rc = cli_finish(&c, rc < 0 ? CLI_OK : rc);
    program_free(&c);
    return rc;
}

int cli_backward(cli *c)
{
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        cr_node_require_grad(c->wrt_syms[i]->node, 1);
    if (cr_graph_backward(c->g, cr_expr_output(c->prog)->node, 0) != CR_OK)
        return cli_fail(c, CLI_EVAL, 0, 0, "%s", cr_graph_error(c->g)->message);
    return CLI_OK;
}
