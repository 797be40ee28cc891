/*
 * cli_common.c - option parsing, program loading and evaluation, error
 * reports with a caret, aligned output and JSON for the `chainrule`
 * subcommands (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROGRAM_BYTES ((size_t)64 << 20)

/* ---- reports ---- */

/* Prints the line `line` of the program with a caret under column col
 * (characters, as the parser counts them). Long lines show a window around
 * the column; bytes that are not printable ASCII show as '?'. */
static void show_line(const cli *c, int line, int col)
{
    if (!c->text || line <= 0 || col <= 0)
        return;
    const char *s = c->text, *end = c->text + c->len;
    for (int l = 1; l < line && s < end; s++)
        if (*s == '\n')
            l++;
    const char *e = s;
    while (e < end && *e != '\n')
        e++;
    enum { BEFORE = 50, WIDTH = 100 };
    int first = col > BEFORE + 10 ? col - BEFORE : 1; /* first column shown */
    char text[WIDTH + 1], caret[WIDTH + 2];
    int n = 0, k = 0, column = 0, more = 0;
    for (const char *p = s; p < e; p++) {
        unsigned char b = (unsigned char)*p;
        if ((b & 0xC0) == 0x80)
            continue; /* continuation byte: same character */
        column++;
        if (column < first)
            continue;
        if (n == WIDTH) {
            more = 1;
            break;
        }
        char shown = (b >= 0x80 || (b < 0x20 && b != '\t') || b == 0x7F) ? '?' : (char)b;
        text[n++] = shown;
        if (column < col)
            caret[k++] = shown == '\t' ? '\t' : ' ';
    }
    text[n] = '\0';
    if (col >= first && col - first <= WIDTH) {
        while (column < col - 1 && k < WIDTH) { /* caret past the end of the line */
            caret[k++] = ' ';
            column++;
        }
        caret[k++] = '^';
    }
    caret[k] = '\0';
    fprintf(stderr, "  %s%s%s\n  %s%s\n", first > 1 ? "..." : "", text, more ? "..." : "",
            first > 1 ? "   " : "", caret);
}

static void json_error(cli *c, int code, int line, int col, const char *msg)
{
    if (!c->json || c->json_done)
        return;
    printf("{\"error\": {\"message\": ");
    cli_json_string(stdout, msg);
    printf(", \"exit\": %d", code);
    if (c->source) {
        printf(", \"source\": ");
        cli_json_string(stdout, c->source);
    }
    if (line > 0)
        printf(", \"line\": %d, \"column\": %d", line, col);
    printf("}}\n");
    c->json_done = 1;
}

static int vfail(cli *c, int code, int line, int col, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line > 0) {
        fprintf(stderr, "%s:%d:%d: %s\n", c->source, line, col, msg);
        show_line(c, line, col);
    } else if (line < 0 && c->source) {
        fprintf(stderr, "%s: %s\n", c->source, msg);
    } else {
        fprintf(stderr, "chainrule %s: %s\n", c->cmd, msg);
    }
    json_error(c, code, line, col, msg);
    return code;
}

int cli_fail(cli *c, int code, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, code, line, col, fmt, ap);
    va_end(ap);
    return code;
}

int cli_fail_error(cli *c, int code, const cr_error *err)
{
    return cli_fail(c, code, err->line > 0 ? err->line : -1, err->column, "%s",
                    err->message);
}

static void warn_at(const cli *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn_at(const cli *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d:%d: warning: ", c->source, line, col);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- options ---- */

/* The format of a --render file from its extension, or NULL. */
static const char *render_format(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcmp(dot, ".svg") == 0)
        return "svg";
    if (strcmp(dot, ".png") == 0)
        return "png";
    if (strcmp(dot, ".pdf") == 0)
        return "pdf";
    return NULL;
}

static const struct opt_def {
    const char *name;
    char short_name;
    unsigned flag; /* 0: every subcommand */
    int takes_value;
} opt_defs[] = {
    {"at", 0, CLI_OPT_AT, 1},
    {"wrt", 0, CLI_OPT_WRT, 1},
    {"of", 0, CLI_OPT_OF, 1},
    {"json", 0, CLI_OPT_JSON, 0},
    {"chain", 0, CLI_OPT_CHAIN, 0},
    {"check", 0, CLI_OPT_CHECK, 0},
    {"dot", 0, CLI_OPT_DOT, 1},
    {"render", 0, CLI_OPT_RENDER, 1},
    {"output", 'o', CLI_OPT_OUTPUT, 1},
    {"claim", 0, CLI_OPT_CLAIM, 1},
    {"unicode", 0, CLI_OPT_UNICODE, 0},
    {"trap-nonfinite", 0, CLI_OPT_TRAP, 0},
    {"file", 'f', 0, 1},
    {"help", 'h', 0, 0},
};
enum { N_OPT_DEFS = sizeof opt_defs / sizeof opt_defs[0] };

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 8;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*arr, cap2 * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = cap2;
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
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
        char *value = dup_n(eq + 1, vlen);
        if (!value)
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        char *endp = NULL;
        errno = 0;
        double v = vlen ? strtod(value, &endp) : 0.0;
        int bad = vlen == 0 || *endp != '\0' || value[0] == ' ' || value[0] == '\t';
        free(value);
        if (bad)
            return cli_fail(c, CLI_USAGE, 0, 0, "--at: '%.*s' is not a number (in '%.*s')",
                            (int)vlen, eq + 1, (int)n, p);
        if (!isfinite(v))
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--at: '%.*s' is not a finite number (in '%.*s')", (int)vlen,
                            eq + 1, (int)n, p);
        if (grow((void **)&c->at, &c->cap_at, c->n_at + 1, sizeof *c->at) != 0 ||
            !(c->at[c->n_at].name = dup_n(p, (size_t)(eq - p))))
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
        if (grow((void **)items, cap, *n + 1, sizeof **items) != 0 ||
            !((*items)[*n] = dup_n(p, len)))
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        (*n)++;
        if (!comma)
            return CLI_OK;
        p = comma + 1;
    }
}

static int set_option(cli *c, const struct opt_def *d, const char *value)
{
    switch (d->flag) {
    case CLI_OPT_AT:
        return add_at(c, value);
    case CLI_OPT_WRT:
        return add_list(c, "--wrt", value, &c->wrt, &c->n_wrt, &c->cap_wrt);
    case CLI_OPT_CLAIM:
        return add_list(c, "--claim", value, &c->claims, &c->n_claims, &c->cap_claims);
    case CLI_OPT_OF:
        c->of = value;
        break;
    case CLI_OPT_JSON:
        c->json = 1;
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
    default:
        if (d->short_name == 'f')
            c->file = value;
        else
            return -1; /* --help */
    }
    return CLI_OK;
}

int cli_parse(cli *c, const char *cmd, const char *help, unsigned allowed, int argc,
              char **argv)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->help = help;
    c->warn_unused = (allowed & CLI_WARN_UNUSED) != 0;
    /* Know --json before the first error, which it formats. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0 && (allowed & CLI_OPT_JSON))
            c->json = 1;
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (c->arg)
                return cli_fail(c, CLI_USAGE, 0, 0,
                                "unexpected argument '%s' (the program is one argument: "
                                "quote it)",
                                a);
            c->arg = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        const struct opt_def *d = NULL;
        const char *value = NULL;
        size_t nlen = 0;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            value = eq ? eq + 1 : NULL;
            for (int k = 0; k < N_OPT_DEFS; k++)
                if (strlen(opt_defs[k].name) == nlen &&
                    strncmp(opt_defs[k].name, a + 2, nlen) == 0)
                    d = &opt_defs[k];
        } else if (a[2] == '\0') {
            for (int k = 0; k < N_OPT_DEFS; k++)
                if (opt_defs[k].short_name == a[1])
                    d = &opt_defs[k];
        }
        if (!d || (d->flag && !(allowed & d->flag)))
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "unknown option '%s' (see 'chainrule help %s')", a, cmd);
        if (d->takes_value && !value) {
            if (i + 1 >= argc)
                return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' needs a value", a);
            value = argv[++i];
        } else if (!d->takes_value && value) {
            return cli_fail(c, CLI_USAGE, 0, 0, "option '--%s' takes no value", d->name);
        }
        int rc = set_option(c, d, value);
        if (rc < 0) {
            fputs(help, stdout);
            return -1;
        }
        if (rc != CLI_OK)
            return rc;
    }
    if (c->render && !render_format(c->render))
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: '%s' must end in .svg, .png or .pdf",
                        c->render);
    if (c->file && c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "give the program either with -f FILE or as an argument, not both");
    if (!c->file && !c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "no program: give it as the last argument or with -f FILE "
                        "(see 'chainrule help %s')",
                        cmd);
    return CLI_OK;
}

void cli_free(cli *c)
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
        c->text = dup_n(c->arg, c->len);
        return c->text ? CLI_OK : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    int is_stdin = strcmp(c->file, "-") == 0;
    c->source = is_stdin ? "<stdin>" : c->file;
    FILE *f = is_stdin ? stdin : fopen(c->file, "rb");
    if (!f)
        return cli_fail(c, CLI_USAGE, 0, 0, "cannot open '%s': %s", c->file,
                        strerror(errno));
    size_t cap = 0;
    int rc = CLI_OK;
    for (;;) {
        if (grow((void **)&c->text, &cap, c->len + 65536, 1) != 0) {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory reading '%s'", c->source);
            break;
        }
        size_t got = fread(c->text + c->len, 1, cap - c->len, f);
        c->len += got;
        if (c->len > MAX_PROGRAM_BYTES) {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "'%s' is too large (over %zu bytes)",
                          c->source, MAX_PROGRAM_BYTES);
            break;
        }
        if (got == 0) {
            if (ferror(f))
                rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot read '%s': %s", c->source,
                              strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    return rc;
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

int cli_load(cli *c)
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
    if (c->warn_unused && !c->of) {
        const cr_expr_symbol *out = cr_expr_output(p);
        for (size_t i = 0; i < cr_expr_num_statements(p); i++) {
            const cr_expr_symbol *s = cr_expr_statement(p, i);
            if (!s->used)
                warn_at(c, s->line, s->column,
                        "statement '%s' is not used by the output '%s'", s->name,
                        out->name);
        }
    }
    if (cr_expr_eval(p, &err) != CR_OK)
        return cli_fail_error(c, err.status == CR_EDOMAIN ? CLI_EVAL : CLI_USAGE, &err);
    return CLI_OK;
}

int cli_run(const char *cmd, const char *help, unsigned allowed, int argc, char **argv,
            int (*body)(cli *c))
{
    cli c;
    int rc = cli_parse(&c, cmd, help, allowed, argc, argv);
    if (rc == CLI_OK)
        rc = cli_load(&c);
    /* --trap-nonfinite covers the gradients too, wherever they are used */
    if (rc == CLI_OK && c.trap && (allowed & CLI_OPT_WRT))
        rc = cli_backward(&c);
    if (rc == CLI_OK)
        rc = body(&c);
    rc = cli_finish(&c, rc < 0 ? CLI_OK : rc);
    cli_free(&c);
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

/* ---- output ---- */

int cli_rows_add(cli_rows *r, const char *label, double value)
{
    if (grow((void **)&r->rows, &r->cap, r->n + 1, sizeof *r->rows) != 0)
        return -1;
    if (!(r->rows[r->n].label = dup_n(label, strlen(label))))
        return -1;
    r->rows[r->n++].value = value;
    return 0;
}

void cli_rows_print(const cli_rows *r, FILE *out)
{
    size_t width = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->rows[i].label) > width)
            width = strlen(r->rows[i].label);
    for (size_t i = 0; i < r->n; i++) {
        fprintf(out, "%-*s = ", (int)width, r->rows[i].label);
        cli_print_number(out, r->rows[i].value);
        fputc('\n', out);
    }
}

void cli_rows_free(cli_rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rows[i].label);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

static const char *nonfinite(double v)
{
    return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

void cli_print_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.15g", v);
    else
        fputs(nonfinite(v), out);
}

void cli_json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fprintf(out, "\"%s\"", nonfinite(v));
}

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void cli_json_field(const char *key, double v)
{
    printf(", \"%s\": ", key);
    cli_json_number(stdout, v);
}

void cli_json_member(size_t i, const char *name, double v)
{
    printf("%s", i ? ", " : "");
    cli_json_string(stdout, name);
    printf(": ");
    cli_json_number(stdout, v);
}

void cli_json_begin(const cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    printf("{\"output\": ");
    cli_json_string(stdout, out->name);
    cli_json_field("value", cr_node_scalar(out->node));
}

void cli_json_end(cli *c)
{
    printf("}\n");
    c->json_done = 1;
}

void cli_grad_label(char *buf, size_t size, const char *out, const char *var)
{
    snprintf(buf, size, "d%s/d%s", out, var);
}

int cli_finish(cli *c, int code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (code == CLI_OK) /* else the failure was reported already */
            fprintf(stderr, "chainrule %s: error writing the output: %s\n", c->cmd,
                    strerror(errno));
        return CLI_USAGE;
    }
    return code;
}

/* ---- chains ---- */

cr_chain **cli_chains_new(cli *c)
{
    cr_chain **chains = calloc(c->n_wrt_syms ? c->n_wrt_syms : 1, sizeof *chains);
    if (!chains) {
        cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        return NULL;
    }
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags |= CR_CHAIN_NAMED_ONLY;
    cr_node *out = cr_expr_output(c->prog)->node;
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        chains[i] = cr_chain_new(c->g, out, c->wrt_syms[i]->node, &opts);
        if (!chains[i]) {
            cli_fail(c, CLI_EVAL, 0, 0, "%s", cr_graph_error(c->g)->message);
            cli_chains_free(c, chains);
            return NULL;
        }
    }
    return chains;
}

void cli_chains_free(const cli *c, cr_chain **chains)
{
    if (!chains)
        return;
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        cr_chain_free(chains[i]);
    free(chains);
}

int cli_chains_print(cli *c, cr_chain **chains, unsigned flags)
{
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        if (cr_chain_print(chains[i], stdout, flags) != CR_OK)
            return cli_fail(c, CLI_USAGE, 0, 0, "cannot write the chains");
    return CLI_OK;
}

static void json_label(FILE *out, const cr_node *n)
{
    char label[300];
    cr_node_label(n, label, sizeof label);
    cli_json_string(out, label);
}

void cli_chains_json(const cli *c, cr_chain **chains)
{
    printf("\"chains\": {");
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        const cr_chain *ch = chains[i];
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, c->wrt_syms[i]->name);
        printf(": {\"text\": ");
        int need = cr_chain_format(ch, 0, NULL, 0);
        char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
        if (text && cr_chain_format(ch, 0, text, (size_t)need + 1) >= 0) {
            if (need > 0 && text[need - 1] == '\n')
                text[need - 1] = '\0';
            cli_json_string(stdout, text);
        } else {
            printf("null");
        }
        free(text);
        cli_json_field("derivative", cr_chain_value(ch));
        cli_json_field("paths", cr_chain_num_paths(ch));
        cli_json_field("omitted", cr_chain_num_omitted(ch));
        printf(", \"listed\": [");
        for (size_t k = 0; k < cr_chain_num_listed(ch); k++) {
            const cr_chain_path *path = cr_chain_path_at(ch, k);
            printf("%s{\"product\": ", k ? ", " : "");
            cli_json_number(stdout, path->product);
            printf(", \"edges\": [");
            for (size_t e = 0; e < path->n_edges; e++) {
                const cr_chain_edge *edge = path->edges[e];
                printf("%s{\"of\": ", e ? ", " : "");
                json_label(stdout, edge->parent);
                printf(", \"wrt\": ");
                json_label(stdout, edge->child);
                printf(", \"formula\": ");
                cli_json_string(stdout, edge->formula);
                cli_json_field("value", edge->value);
                printf("}");
            }
            printf("]}");
        }
        printf("]}");
    }
    printf("}");
}

/* ---- the numerical check ---- */

int cli_check_run(cli *c, cr_gradcheck_report **report)
{
    *report = NULL;
    cr_node **nodes = calloc(c->n_wrt_syms ? c->n_wrt_syms : 1, sizeof *nodes);
    if (!nodes)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        if (c->wrt_syms[i]->kind != CR_EXPR_INPUT) {
            free(nodes);
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--wrt: '%s' is a statement; the check perturbs inputs only",
                            c->wrt_syms[i]->name);
        }
        nodes[i] = c->wrt_syms[i]->node;
    }
    if (c->n_wrt_syms == 0) {
        free(nodes);
        return cli_fail(c, CLI_USAGE, 0, 0, "the program has no inputs to check");
    }
    cr_gradcheck_options opts = cr_gradcheck_defaults();
    cr_status st = cr_gradcheck(c->g, cr_expr_output(c->prog)->node, nodes, c->n_wrt_syms,
                                &opts, report);
    free(nodes);
    if (st != CR_OK && st != CR_ECHECK)
        return cli_fail(c, st == CR_EDOMAIN ? CLI_EVAL : CLI_USAGE, 0, 0, "%s",
                        cr_graph_error(c->g)->message);
    return CLI_OK;
}

static const char *check_result_text(cr_check_result r)
{
    return r == CR_CHECK_PASS ? "pass" : r == CR_CHECK_FAIL ? "fail" : "skip";
}

void cli_check_json(const cr_gradcheck_report *r)
{
    size_t failed = cr_gradcheck_report_count(r, CR_CHECK_FAIL);
    printf(
        "\"check\": {\"passed\": %s, \"checked\": %zu, \"failed\": %zu, \"skipped\": %zu",
        failed ? "false" : "true", cr_gradcheck_report_size(r), failed,
        cr_gradcheck_report_count(r, CR_CHECK_SKIP));
    printf(", \"entries\": [");
    for (size_t i = 0; i < cr_gradcheck_report_size(r); i++) {
        const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, i);
        printf("%s{\"node\": ", i ? ", " : "");
        if (e->node)
            json_label(stdout, e->node);
        else
            printf("null");
        printf(", \"index\": %zu", e->index);
        cli_json_field("analytic", e->analytic);
        cli_json_field("numerical", e->numerical);
        cli_json_field("error_estimate", e->error_estimate);
        cli_json_field("abs_err", e->abs_err);
        cli_json_field("rel_err", e->rel_err);
        cli_json_field("tolerance", e->tolerance);
        printf(", \"result\": \"%s\", \"reason\": ", check_result_text(e->result));
        cli_json_string(stdout, e->reason);
        printf("}");
    }
    printf("]}");
}

/* ---- pictures ---- */

void cli_dot_options(const cli *c, cr_dot_options *opts)
{
    cr_dot_options_init(opts);
    opts->loss = cr_expr_output(c->prog)->node;
    if (c->n_wrt == 1 && c->n_wrt_syms == 1)
        opts->highlight = c->wrt_syms[0]->node;
}

int cli_write_pictures(cli *c)
{
    cr_dot_options opts;
    cli_dot_options(c, &opts);
    if (c->dot && cr_dot_write_file(c->g, c->dot, &opts) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--dot: %s", cr_graph_error(c->g)->message);
    if (!c->render)
        return CLI_OK;
    const char *format = render_format(c->render);
    if (!cr_dot_can_render())
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--render: this chainrule was built without Graphviz rendering; "
                        "use --dot FILE and run dot(1)");
    if (cr_dot_render(c->g, &opts, c->render, format) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: %s", cr_graph_error(c->g)->message);
    return CLI_OK;
}
