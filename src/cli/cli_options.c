/*
 * cli_options.c - the option parser of every `chainrule` subcommand
 * (getopt_long driven by the subcommand's cli_spec), the option list of
 * its help text from the same table, and the readers of numeric option
 * values (see cli_options.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_option_def {
    const char *dashed; /* "--at": the name is dashed + 2 */
    char short_name;
    const char *value;
    cli_role role;
    const char *help;
} defs[CLI_N_OPTIONS] = {
#define CLI_OPT_DEF(id, name, short_name, value, role, help)                               \
    {"--" name, short_name, value, CLI_ROLE_##role, help},
    CLI_OPTIONS(CLI_OPT_DEF)
#undef CLI_OPT_DEF
};

/* getopt_long's value for a long option without a short name. */
enum { LONG_BASE = 256 };

const char *cli_option_name(cli_opt id) { return defs[id].dashed; }

const char *cli_option_label(cli_opt id)
{
    static char shorts[CLI_N_OPTIONS][3]; /* "-o" */
    if (!defs[id].short_name)
        return defs[id].dashed;
    shorts[id][0] = '-';
    shorts[id][1] = defs[id].short_name;
    return shorts[id];
}

cli_role cli_option_role(cli_opt id) { return defs[id].role; }

int cli_spec_has(const cli_spec *spec, cli_opt id)
{
    if (id == CLI_OPT_HELP)
        return 1;
    for (size_t i = 0; i < spec->n_options; i++)
        if (spec->options[i].id == id)
            return 1;
    return 0;
}

/* The options of spec (and --help) as getopt_long wants them. longs has
 * room for CLI_N_OPTIONS + 1 entries, shorts for 3 * CLI_N_OPTIONS + 3. */
static void getopt_tables(const cli_spec *spec, struct option *longs, char *shorts)
{
    size_t n = 0, k = 0;
    /* '-': arguments that are not options come back in order (as value
     * 1), whatever POSIXLY_CORRECT says; ':': a missing value is ':' */
    shorts[k++] = '-';
    shorts[k++] = ':';
    for (int id = 0; id < CLI_N_OPTIONS; id++) {
        if (!cli_spec_has(spec, (cli_opt)id))
            continue;
        const struct cli_option_def *d = &defs[id];
        int has_arg = d->value ? required_argument : no_argument;
        longs[n++] = (struct option){d->dashed + 2, has_arg, NULL,
                                     d->short_name ? d->short_name : LONG_BASE + id};
        if (d->short_name) {
            shorts[k++] = d->short_name;
            if (d->value)
                shorts[k++] = ':';
        }
    }
    longs[n] = (struct option){0};
    shorts[k] = '\0';
}

/* The option getopt_long answered r for. */
static cli_opt option_of(int r)
{
    if (r >= LONG_BASE)
        return (cli_opt)(r - LONG_BASE);
    for (int id = 0; id < CLI_N_OPTIONS; id++)
        if (defs[id].short_name == r)
            return (cli_opt)id;
    return CLI_N_OPTIONS;
}

/* Why getopt_long refused the argument arg: an unknown option, a flag
 * given a value, or an ambiguous abbreviation. */
static int bad_option(cli *c, const cli_spec *spec, const char *arg)
{
    if (arg[0] == '-' && arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt match[CLI_N_OPTIONS];
        size_t n = 0;
        for (int id = 0; id < CLI_N_OPTIONS; id++)
            if (cli_spec_has(spec, (cli_opt)id) &&
                strncmp(defs[id].dashed + 2, name, len) == 0) {
                if (defs[id].dashed[2 + len] == '\0') { /* exact: wins over longer ones */
                    match[0] = (cli_opt)id;
                    n = 1;
                    break;
                }
                match[n++] = (cli_opt)id;
            }
        if (n == 1 && len > 0)
            return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' takes no value",
                            cli_option_name(match[0]));
        if (n > 1 && len > 0) {
            char list[512];
            size_t used = 0;
            for (size_t i = 0; i < n && used < sizeof list; i++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s",
                                 i == 0       ? ""
                                 : i + 1 == n ? " or "
                                              : ", ",
                                 cli_option_name(match[i]));
                used += w > 0 ? (size_t)w : 0;
            }
            return cli_fail(c, CLI_USAGE, 0, 0, "option '--%.*s' is ambiguous: %s",
                            (int)len, name, list);
        }
    }
    return cli_fail(c, CLI_USAGE, 0, 0, "unknown option '%s' (see 'chainrule help %s')",
                    arg, spec->name);
}

static int positional(cli *c, const cli_spec *spec, const char *arg)
{
    if (!(spec->flags & CLI_SPEC_PROGRAM))
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "unexpected argument '%s' (see 'chainrule help %s')", arg,
                        spec->name);
    if (c->arg)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "unexpected argument '%s' (the program is one argument: quote it)",
                        arg);
    c->arg = arg;
    return CLI_OK;
}

int cli_options_parse(cli *c, const cli_spec *spec, int argc, char **argv,
                      cli_option_fn set, void *ctx)
{
    struct option longs[CLI_N_OPTIONS + 1];
    char shorts[3 * CLI_N_OPTIONS + 3];
    c->cmd = spec->name;
    c->spec = spec;
    getopt_tables(spec, longs, shorts);
    opterr = 0;
    if (cli_spec_has(spec, CLI_OPT_JSON)) { /* a first pass for --json alone */
        optind = 0;
        for (int r; (r = getopt_long(argc, argv, shorts, longs, NULL)) != -1;)
            if (r == LONG_BASE + CLI_OPT_JSON)
                c->json = 1;
    }
    optind = 0; /* 0, not 1: glibc then starts afresh */
    for (;;) {
        const int at = optind ? optind : 1; /* the argument getopt_long reads */
        const int r = getopt_long(argc, argv, shorts, longs, NULL);
        if (r == -1)
            break;
        int rc = CLI_OK;
        if (r == 1) {
            rc = positional(c, spec, optarg);
        } else if (r == ':') {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "option '%s' needs a value", argv[at]);
        } else if (r == '?') {
            rc = bad_option(c, spec, argv[at]);
        } else {
            const cli_opt id = option_of(r);
            if (id == CLI_OPT_HELP) {
                cli_help_print(spec, stdout);
                return -1;
            }
            if (defs[id].role == CLI_ROLE_IN || defs[id].role == CLI_ROLE_OUT)
                c->files[id] = optarg;
            if (defs[id].role == CLI_ROLE_KEPT)
                c->kept[id] = optarg;
            else if (id == CLI_OPT_JSON)
                c->json = 1;
            else
                rc = set(c, ctx, id, optarg);
        }
        if (rc != CLI_OK)
            return rc;
    }
    for (int i = optind; i < argc; i++) { /* after "--" */
        int rc = positional(c, spec, argv[i]);
        if (rc != CLI_OK)
            return rc;
    }
    return cli_files_check(c);
}

/* Writes text's lines, the first where the cursor is, the others from
 * column col. */
static void print_lines(FILE *out, const char *text, int col)
{
    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        fprintf(out, "%.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
        if (!nl)
            return;
        p = nl + 1;
        fprintf(out, "%*s", col, "");
    }
}

void cli_help_print(const cli_spec *spec, FILE *out)
{
    fputs(spec->usage, out);
    for (size_t i = 0; i < spec->n_options; i++) {
        const cli_option_use *u = &spec->options[i];
        if (u->id == CLI_HEADING) {
            fprintf(out, "%s\n", u->help);
            continue;
        }
        const struct cli_option_def *d = &defs[u->id];
        const char *value = u->value ? u->value : d->value;
        int width = fprintf(out, "  %s", cli_option_label(u->id));
        if (value)
            width += fprintf(out, " %s", value);
        /* the text from the column, or two spaces after a long label */
        fprintf(out, "%*s", width < spec->column ? spec->column - width : 2, "");
        print_lines(out, u->help ? u->help : d->help, spec->column);
    }
    fputs(spec->epilogue, out);
}

int cli_option_double(cli *c, cli_opt id, const char *text, double lo, double hi,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo ||
        v > hi) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is not a number in [%g, %g]",
                 cli_option_name(id), text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_option_size(cli *c, cli_opt id, const char *text, size_t lo, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || text[0] == '-' || v < lo ||
        v > (unsigned long long)SIZE_MAX) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is not a whole number >= %zu",
                 cli_option_name(id), text, lo);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}
