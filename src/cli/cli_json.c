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

/* The length (1 to 4) of the well-formed UTF-8 sequence s starts with, or
 * 0 (s is NUL-terminated). The library's validator is private to it. */
static size_t utf8_sequence(const unsigned char *s)
{
    const unsigned char b = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    size_t n;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) { /* no overlong forms, no surrogates */
        n = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80;
        hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) { /* nothing over U+10FFFF */
        n = 4;
        lo = b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const size_t n = utf8_sequence(p);
        if (n == 0) { /* not UTF-8 (a file name, say): JSON cannot carry it */
            fputs("\\ufffd", out);
        } else if (n > 1) {
            fwrite(p, 1, n, out);
            p += n - 1;
        } else if (*p == '"' || *p == '\\')
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

void cli_json_maybe_member(FILE *out, const char *name, double v)
{
    fprintf(out, ", \"%s\": ", name);
    if (isnan(v))
        fputs("null", out);
    else
        cli_json_number(out, v);
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
