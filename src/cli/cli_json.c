/*
 * cli_json.c - the JSON output of the `chainrule` subcommands: numbers
 * that round-trip (non-finite ones as strings), escaped strings, the
 * members and the opening and closing of a subcommand's one object, and
 * the error object (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <math.h>
#include <stdio.h>

void cli_json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fprintf(out, "\"%s\"", cli_nonfinite_name(v));
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

void cli_json_maybe(FILE *out, double v)
{
    if (isnan(v))
        fputs("null", out);
    else
        cli_json_number(out, v);
}

void cli_json_maybe_member(FILE *out, const char *name, double v)
{
    fprintf(out, ", \"%s\": ", name);
    cli_json_maybe(out, v);
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

void cli_json_error(cli *c, int code, int line, int col, const char *msg)
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
