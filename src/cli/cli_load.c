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

const char *cli_pair_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '[' || *p == '(')
            depth++;
        else if ((*p == ']' || *p == ')') && depth > 0)
            depth--;
        else if (*p == ',' && depth == 0)
            break;
    }
    return p;
}

/* Adds the pairs of one --at value "a=1,X=[[1,2],[3,4]]"; a name given
 * again takes its new value. The values are read by read_at_values. */
static int add_at(cli *c, const char *list)
{
    const char *p = list;
    for (;;) {
        const char *end = cli_pair_end(p);
        size_t n = (size_t)(end - p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at: expected NAME=VALUE, got '%.*s'",
                            (int)n, p);
        char *name = cli_strndup(p, (size_t)(eq - p));
        char *text = cli_strndup(eq + 1, n - (size_t)(eq + 1 - p));
        size_t i = 0;
        while (name && i < c->n_at && strcmp(c->at[i].name, name) != 0)
            i++;
        if (!name || !text ||
            (i == c->n_at && cli_grow((void **)&c->at, &c->cap_at, i + 1, sizeof *c->at))) {
            free(name);
            free(text);
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        }
        if (i == c->n_at) {
            c->at[c->n_at++] = (cli_at){name, text, NULL};
        } else {
            free(name);
            free(c->at[i].text);
            c->at[i].text = text;
        }
        if (!*end)
            return CLI_OK;
        p = end + 1;
    }
}

/* Reads the matrix of a CSV file's rows (a header line is skipped) into
 * at->value. Returns an exit status (the error reported). */
static int read_at_csv(cli *c, cli_at *at, const char *path)
{
    cr_csv_options opts = {.no_targets = 1};
    cr_error err;
    cr_dataset *ds = cr_csv_load(cli_input_path(path), &opts, &err);
    if (!ds)
        return cli_fail(c, CLI_USAGE, 0, 0, "--at %s: %s", at->name, err.message);
    at->value = cr_tensor_copy(cr_dataset_features(ds), &err);
    cr_dataset_free(ds);
    return at->value ? CLI_OK : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
}

/* Reads the value of one --at pair into at->value: a number, a list, rand
 * or randn (cr_expr_parse_value, drawing with seed), @FILE.csv or
 * @FILE.json. A
 * number keeps the messages of a number: nan, inf and overflowing numbers
 * are not finite, one with a digit other than 0 before its exponent that
 * reads as 0 underflows. Returns an exit status (the error reported). */
static int read_at_value(cli *c, cli_at *at, unsigned long seed)
{
    const char *text = at->text;
    const size_t len = strlen(text);
    if (text[0] == '@') {
        const char *dot = strrchr(text, '.');
        if (dot && strcmp(dot, ".csv") == 0)
            return read_at_csv(c, at, text + 1);
        if (dot && strcmp(dot, ".json") == 0) {
            char why[512];
            at->value = cli_json_read_value(cli_input_path(text + 1), why, sizeof why);
            return at->value ? CLI_OK
                             : cli_fail(c, CLI_USAGE, 0, 0, "--at %s: %s", at->name, why);
        }
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--at %s: '%s': a file of values must end in .csv or .json",
                        at->name, text);
    }
    const int number = text[0] != '[' && strncmp(text, "rand", 4) != 0;
    char *end;
    const double any = strtod(text, &end);
    const char *why = NULL;
    cr_error err;
    if (number && text[0] != '\0' && !isspace((unsigned char)text[0]) && *end == '\0' &&
        !isfinite(any))
        why = "is not a finite number";
    else if (cr_expr_parse_value(text, len, seed, &at->value, &err) != CR_OK) {
        if (err.status == CR_ENOMEM)
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        if (!number)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at %s: %s (column %d of '%s')", at->name,
                            err.message, err.column, text);
        why = "is not a number";
    } else if (number && cr_tensor_scalar(at->value) == 0) {
        for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++)
            if (*p >= '1' && *p <= '9')
                why = "underflows to 0";
    }
    if (why)
        return cli_fail(c, CLI_USAGE, 0, 0, "--at: '%s' %s (in '%s=%s')", text, why,
                        at->name, text);
    return CLI_OK;
}

/* Reads every --at value, once the options (and --seed) are known: the
 * k-th rand or randn value draws with the seed N + k - 1. */
static int read_at_values(cli *c)
{
    unsigned long seed = c->seed;
    for (size_t i = 0; i < c->n_at; i++) {
        int rc = read_at_value(c, &c->at[i], seed);
        if (rc != CLI_OK)
            return rc;
        if (strncmp(c->at[i].text, "rand", 4) == 0)
            seed++;
    }
    return CLI_OK;
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
    case CLI_OPT_HTML:
        c->html = value;
        break;
    case CLI_OPT_SEED: {
        size_t seed;
        if (cli_option_size(c, id, value, 0, &seed))
            return CLI_USAGE;
        c->seed = (unsigned long)seed;
        break;
    }
    default: /* a picture option, or one the program subcommands do not use */
        return cli_picture_option(c, id, value);
    }
    return CLI_OK;
}

static int parse(cli *c, const cli_spec *spec, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    int rc = cli_options_parse(c, spec, argc, argv, program_option, NULL);
    if (rc != CLI_OK || (rc = read_at_values(c)) != CLI_OK)
        return rc;
    if (c->render && !cli_render_format(c->render))
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: '%s' must end in .svg, .png or .pdf",
                        c->render);
    if (c->file && c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "give the program either with -f FILE or as an argument, not both");
    if (c->model_path && (c->file || c->arg))
        return cli_fail(c, CLI_USAGE, 0, 0, "give either a program or --model, not both");
    if (!c->file && !c->arg && !c->model_path)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "no program: give it as the last argument or with -f FILE "
                        "(see 'chainrule help %s')",
                        c->cmd);
    return CLI_OK;
}

static void program_free(cli *c)
{
    cli_model_picture_free(c);
    for (size_t i = 0; i < c->n_at; i++) {
        free(c->at[i].name);
        free(c->at[i].text);
        cr_tensor_free(c->at[i].value);
    }
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

int cli_bind_tensors(cli *c, cr_graph *g)
{
    for (size_t i = 0; i < c->n_at; i++) {
        const cli_at *at = &c->at[i];
        if (cr_tensor_rank(at->value) == 0)
            continue;
        cr_node *n =
            cr_input(g, at->name, cr_tensor_rank(at->value), cr_tensor_shape(at->value));
        if (!n || cr_node_set_value(n, at->value) != CR_OK)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at %s: %s", at->name,
                            cr_graph_error(g)->message);
    }
    return CLI_OK;
}

/* Reports a parse error. The only nodes in the graph before the parse are
 * the --at tensors, so a statement name taken by a node (CR_ENAME) is one
 * of them, given a value it cannot take. */
static int parse_failed(cli *c, const cr_error *err)
{
    for (size_t i = 0; err->status == CR_ENAME && i < c->n_at; i++) {
        char quoted[300];
        snprintf(quoted, sizeof quoted, "'%s'", c->at[i].name);
        if (cr_tensor_rank(c->at[i].value) > 0 &&
            strstr(err->message, quoted) == err->message)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--at: '%s' is computed by its statement on line %d; only "
                            "inputs take values",
                            c->at[i].name, err->line);
    }
    return cli_fail_error(c, CLI_USAGE, err);
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
    if ((rc = cli_bind_tensors(c, c->g)) != CLI_OK)
        return rc;
    if (cr_expr_parse(c->g, c->text, c->len, &c->prog, &err) != CR_OK)
        return parse_failed(c, &err);
    cr_expr_program *p = c->prog;
    if (c->of && cr_expr_set_output(p, c->of, &err) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--of: %s", err.message);
    for (size_t i = 0; i < c->n_at; i++) {
        const cli_at *at = &c->at[i];
        const cr_expr_symbol *s = cr_expr_lookup(p, at->name);
        if (cr_tensor_rank(at->value) == 0 &&
            cr_expr_set(p, at->name, cr_tensor_scalar(at->value), &err) == CR_OK)
            continue;
        if (s && cr_tensor_rank(at->value) > 0)
            continue; /* bound before the parse */
        if (!s) {
            char list[512];
            list_inputs(p, list, sizeof list);
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--at: '%s' is not a variable of the program (inputs: %s)",
                            at->name, list);
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
        rc = c.model_path ? cli_model_picture_load(&c) : load(&c);
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
    if (c->model) { /* its parameters are the variables */
        if (cr_graph_backward(c->g, cli_output_node(c), 0) != CR_OK)
            return cli_fail(c, CLI_EVAL, 0, 0, "%s", cr_graph_error(c->g)->message);
        return CLI_OK;
    }
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    const cr_tensor *v = cr_node_value(out->node);
    if (cr_tensor_size(v) != 1) {
        char shape[128];
        cr_shape_format(shape, sizeof shape, cr_tensor_rank(v), cr_tensor_shape(v));
        return cli_fail(c, CLI_USAGE, out->line, out->column,
                        "the output '%s' has the shape %s; a gradient needs a scalar "
                        "output (take sum(%s) or mean(%s), or choose one with --of)",
                        out->name, shape, out->name, out->name);
    }
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        cr_node_require_grad(c->wrt_syms[i]->node, 1);
    if (cr_graph_backward(c->g, cr_expr_output(c->prog)->node, 0) != CR_OK)
        return cli_fail(c, CLI_EVAL, 0, 0, "%s", cr_graph_error(c->g)->message);
    return CLI_OK;
}
