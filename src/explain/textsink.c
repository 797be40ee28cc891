/*
 * textsink.c - the text sink of the explain layer: text written to a FILE *
 * or into a growable buffer with the first error kept, the buffer copied
 * into a caller's array (snprintf-style) or handed over, and numbers
 * formatted the way chain and DOT text show them.
 */
#include "explain/chain_private.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

void cr_sink_init(cr_sink *s, FILE *out)
{
    memset(s, 0, sizeof *s);
    s->out = out;
}

void cr_sink_put(cr_sink *s, const char *text, size_t len)
{
    if (s->status != CR_OK || len == 0)
        return;
    if (s->out) {
        if (fwrite(text, 1, len, s->out) != len)
            s->status = CR_EIO;
        return;
    }
    if (len >= SIZE_MAX - s->len ||
        cr_grow((void **)&s->data, &s->cap, s->len + len + 1, 1) != CR_OK) {
        s->status = CR_ENOMEM;
        return;
    }
    memcpy(s->data + s->len, text, len);
    s->len += len;
    s->data[s->len] = '\0';
}

void cr_sink_printf(cr_sink *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->status = s->status != CR_OK ? s->status : CR_EIO;
        return;
    }
    if ((size_t)n < sizeof small) {
        cr_sink_put(s, small, (size_t)n);
        return;
    }
    char *big = cr_malloc((size_t)n + 1);
    if (!big) {
        s->status = s->status != CR_OK ? s->status : CR_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cr_sink_put(s, big, (size_t)n);
    cr_free(big);
}

void cr_sink_release(cr_sink *s)
{
    cr_free(s->data);
    s->data = NULL;
    s->len = s->cap = 0;
}

cr_number_text cr_number_str(double v)
{
    cr_number_text t;
    double m = fabs(v);
    if (v == 0.0) {
        snprintf(t.text, sizeof t.text, "0");
    } else if (isfinite(v) && m >= 1e-4 && m < 1e9) {
        snprintf(t.text, sizeof t.text, "%.9f", v);
        char *end = t.text + strlen(t.text);
        while (end[-1] == '0')
            *--end = '\0';
        if (end[-1] == '.')
            end[-1] = '\0';
    } else {
        snprintf(t.text, sizeof t.text, "%.9g", v);
    }
    return t;
}

/* Copies a memory sink into the caller's buffer, snprintf-style. */
int cr_sink_to_buffer(cr_sink *s, char *buf, size_t size)
{
    if (s->status != CR_OK) {
        cr_sink_release(s);
        return cr_text_none(buf, size);
    }
    if (buf && size) {
        size_t n = s->len < size - 1 ? s->len : size - 1;
        if (n)
            memcpy(buf, s->data, n);
        buf[n] = '\0';
    }
    int len = s->len > INT32_MAX ? -1 : (int)s->len;
    cr_sink_release(s);
    return len;
}

/* Hands the buffer of a memory sink to the caller. */
char *cr_sink_string(cr_sink *s)
{
    if (s->status != CR_OK || !s->data) {
        char *d = s->status == CR_OK ? cr_strdup("") : NULL;
        cr_sink_release(s);
        return d;
    }
    return s->data; /* handed over */
}
