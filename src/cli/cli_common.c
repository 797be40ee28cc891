/*
 * cli_common.c - what every `chainrule` subcommand uses: error reports
 * (with the program's line and a caret), aligned output for people, the
 * flush that ends a run, and two small allocation helpers (see
 * cli_common.h).
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

/* ---- reports ---- */

/* Prints the line `line` of the program with a caret under column col
 * (characters, as the parser counts them). Long lines show a window around
 * the column. A UTF-8 character shows as typed (2×x²); other bytes that
 * are not printable ASCII show as '?'. */
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
    char text[4 * WIDTH + 1], caret[WIDTH + 2];
    int bytes = 0; /* used in text */
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
        const int len = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 1;
        int whole = b >= 0xC2 && b <= 0xF4 && e - p >= len;
        for (int i = 1; whole && i < len; i++)
            whole = ((unsigned char)p[i] & 0xC0) == 0x80;
        char shown = (b >= 0x80 || (b < 0x20 && b != '\t') || b == 0x7F) ? '?' : (char)b;
        n++;
        if (whole) {
            memcpy(text + bytes, p, (size_t)len);
            bytes += len;
        } else {
            text[bytes++] = shown;
        }
        if (column < col)
            caret[k++] = shown == '\t' ? '\t' : ' ';
    }
    text[bytes] = '\0';
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
    cli_json_error(c, code, line, col, msg);
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

void cli_warn_at(const cli *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d:%d: warning: ", c->source, line, col);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- output for people ---- */

int cli_rows_add(cli_rows *r, const char *label, double value)
{
    if (cli_grow((void **)&r->rows, &r->cap, r->n + 1, sizeof *r->rows) != 0)
        return -1;
    if (!(r->rows[r->n].label = cli_strndup(label, strlen(label))))
        return -1;
    r->rows[r->n].tensor = NULL;
    r->rows[r->n++].value = value;
    return 0;
}

int cli_rows_add_tensor(cli_rows *r, const char *label, const cr_tensor *t)
{
    if (cr_tensor_rank(t) == 0)
        return cli_rows_add(r, label, cr_tensor_scalar(t));
    char shape[128], *text;
    cr_shape_format(shape, sizeof shape, cr_tensor_rank(t), cr_tensor_shape(t));
    const size_t n = strlen(label) + strlen(shape) + 2;
    if (!(text = malloc(n)))
        return -1;
    snprintf(text, n, "%s %s", label, shape);
    const int rc = cli_rows_add(r, text, 0);
    free(text);
    if (rc == 0)
        r->rows[r->n - 1].tensor = t;
    return rc;
}

int cli_number_text(char buf[CLI_NUMBER_TEXT], double v)
{
    if (isfinite(v)) /* v == 0 is +0 or -0: both print "0" */
        return snprintf(buf, CLI_NUMBER_TEXT, "%.15g", v == 0 ? 0.0 : v);
    return snprintf(buf, CLI_NUMBER_TEXT, "%s", cli_nonfinite_name(v));
}

void cli_brackets(const cr_tensor *t, size_t i, int *open, int *close)
{
    const int rank = cr_tensor_rank(t);
    const size_t *shape = cr_tensor_shape(t);
    *open = *close = 0;
    for (size_t rest = i; *open < rank && rest % shape[rank - 1 - *open] == 0; (*open)++)
        rest /= shape[rank - 1 - *open];
    for (size_t rest = i + 1; *close < rank && rest % shape[rank - 1 - *close] == 0;
         (*close)++)
        rest /= shape[rank - 1 - *close];
}

void cli_print_tensor(FILE *out, const cr_tensor *t, int indent)
{
    const int rank = cr_tensor_rank(t);
    const size_t n = cr_tensor_size(t);
    char buf[CLI_NUMBER_TEXT];
    int width = 0;
    for (size_t i = 0; i < n; i++) {
        const int w = cli_number_text(buf, cr_tensor_get(t, i));
        width = w > width ? w : width;
    }
    for (size_t i = 0; i < n; i++) {
        int open, close;
        cli_brackets(t, i, &open, &close);
        fprintf(out, "%.*s", open, "[[[[");
        cli_number_text(buf, cr_tensor_get(t, i));
        fprintf(out, "%*s%.*s", width, buf, close, "]]]]");
        if (i + 1 == n)
            break;
        if (close == 0) {
            fputs(", ", out);
            continue;
        }
        fputc(',', out);
        for (int k = 0; k < close; k++) /* a blank line between blocks */
            fputc('\n', out);
        fprintf(out, "%*s", indent + rank - close, "");
    }
}

void cli_rows_print(const cli_rows *r, FILE *out)
{
    size_t width = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->rows[i].label) > width)
            width = strlen(r->rows[i].label);
    for (size_t i = 0; i < r->n; i++) {
        fprintf(out, "%-*s = ", (int)width, r->rows[i].label);
        if (r->rows[i].tensor)
            cli_print_tensor(out, r->rows[i].tensor, (int)width + 3);
        else
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

const char *cli_nonfinite_name(double v)
{
    return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

void cli_print_number(FILE *out, double v)
{
    char buf[CLI_NUMBER_TEXT];
    cli_number_text(buf, v);
    fputs(buf, out);
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

/* ---- memory ---- */

int cli_grow(void **arr, size_t *cap, size_t need, size_t elem)
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

char *cli_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}
