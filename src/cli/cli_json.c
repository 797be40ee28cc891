/*
 * cli_json.c - the JSON of the `chainrule` subcommands, written with
 * jansson: numbers that round-trip (17 significant digits; whole numbers
 * as integers, non-finite ones as strings), tensors as nested arrays,
 * escaped strings, the members and the opening and closing of a
 * subcommand's one object, and the error object; and reading a JSON value
 * file for --at NAME=@FILE.json (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes j (stolen) to out: ", " and ": " between items, reals with 17
 * significant digits; "null" if j is NULL (out of memory). */
static void dump(FILE *out, json_t *j)
{
    if (!j || json_dumpf(j, out, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) != 0)
        fputs("null", out);
    json_decref(j);
}

/* A number: an integer when it is a whole number a double holds exactly
 * (5, not 5.0; negative zero as 0, as in the text output), a real
 * otherwise, a string for NaN and the infinities. New reference (NULL when
 * out of memory). */
static json_t *number_json(double v)
{
    if (!isfinite(v))
        return json_string(cli_nonfinite_name(v));
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* A tensor as nested arrays (a number for rank 0). New reference. */
static json_t *tensor_json(const cr_tensor *t)
{
    const int rank = cr_tensor_rank(t);
    if (rank == 0)
        return number_json(cr_tensor_scalar(t));
    const size_t *shape = cr_tensor_shape(t);
    json_t *stack[CR_MAX_RANK];
    int depth = 0; /* stack[depth] is the array of axis depth */
    stack[0] = json_array();
    for (size_t i = 0; stack[0] && i < cr_tensor_size(t); i++) {
        /* open the arrays of the axes that start at element i (the
         * outermost is stack[0]) */
        int open = 0;
        for (size_t rest = i; open < rank - 1 && rest % shape[rank - 1 - open] == 0; open++)
            rest /= shape[rank - 1 - open];
        for (int k = 0; k < open; k++) {
            json_t *a = json_array();
            if (json_array_append_new(stack[depth], a) != 0)
                goto fail;
            stack[++depth] = a;
        }
        if (json_array_append_new(stack[depth], number_json(cr_tensor_get(t, i))) != 0)
            goto fail;
        /* close those that end with it */
        for (size_t rest = i + 1; depth > 0 && rest % shape[depth] == 0; depth--)
            rest /= shape[depth];
    }
    return stack[0];
fail:
    json_decref(stack[0]);
    return NULL;
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

void cli_json_number(FILE *out, double v) { dump(out, number_json(v)); }

void cli_json_tensor(FILE *out, const cr_tensor *t) { dump(out, tensor_json(t)); }

void cli_json_string(FILE *out, const char *s)
{
    /* bytes that are not UTF-8 (from a file name) become U+FFFD */
    const size_t n = strlen(s);
    char *clean = malloc(3 * n + 1);
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)s; clean && *p;) {
        const size_t k = utf8_sequence(p);
        if (k == 0) {
            memcpy(clean + used, "\xef\xbf\xbd", 3);
            used += 3;
            p++;
        } else {
            memcpy(clean + used, p, k);
            used += k;
            p += k;
        }
    }
    if (clean)
        clean[used] = '\0';
    dump(out, clean ? json_stringn(clean, used) : NULL);
    free(clean);
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

void cli_json_member_tensor(size_t i, const char *name, const cr_tensor *t)
{
    printf("%s", i ? ", " : "");
    cli_json_string(stdout, name);
    printf(": ");
    cli_json_tensor(stdout, t);
}

void cli_json_begin(const cli *c)
{
    printf("{\"output\": ");
    cli_json_string(stdout, cli_output_name(c));
    printf(", \"value\": ");
    cli_json_tensor(stdout, cr_node_value(cli_output_node(c)));
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

/* Checks that j is nested arrays of numbers at most CR_MAX_RANK deep
 * (recursion bounded by that depth); else writes why, with the position
 * ("[1][0]"), into why. */
static int numbers_only(const json_t *j, int depth, char *pos, size_t used, char *why,
                        size_t size)
{
    if (json_is_number(j))
        return 1;
    if (!json_is_array(j)) {
        snprintf(why, size, "%s%s is not a number or a list",
                 used ? "the element " : "the value", pos);
        return 0;
    }
    if (depth == CR_MAX_RANK) {
        snprintf(why, size, "more than %d levels of lists (the largest rank is %d)",
                 CR_MAX_RANK, CR_MAX_RANK);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(j); i++) {
        int w = snprintf(pos + used, 96 - used, "[%zu]", i);
        if (!numbers_only(json_array_get(j, i), depth + 1, pos, used + (size_t)w, why,
                          size))
            return 0;
        pos[used] = '\0';
    }
    return 1;
}

cr_tensor *cli_json_read_value(const char *path, char *why, size_t size)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (!j) {
        if (jerr.line > 0)
            snprintf(why, size, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        else
            snprintf(why, size, "%s", jerr.text);
        return NULL;
    }
    char pos[96] = "";
    char *text = NULL;
    cr_tensor *t = NULL;
    cr_error err;
    /* the shape rules and their messages are those of a value literal */
    char what[256];
    if (!numbers_only(j, 0, pos, 0, what, sizeof what)) {
        snprintf(why, size, "%s: %s", path, what);
    } else {
        text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
        if (!text)
            snprintf(why, size, "out of memory");
        else if (cr_expr_parse_value(text, strlen(text), 0, &t, &err) != CR_OK)
            snprintf(why, size, "%s: %s", path, err.message);
    }
    free(text);
    json_decref(j);
    return t;
}
