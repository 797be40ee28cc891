/*
 * text.c - text read as bytes for next-character prediction: the
 * vocabulary (the distinct bytes of a text, id = position in the list),
 * encoding bytes into ids, and the text reader (a file or memory, plain or
 * gzip'd, through the byte sources of source.c). Cutting a text into
 * windows is sequence.c's job (cr_text_windows).
 */
#include "io/data_internal.h"

#include <stdint.h>
#include <string.h>

struct cr_vocab {
    size_t n;
    unsigned char symbols[CR_VOCAB_MAX];
    short id[256]; /* byte -> id, -1 when absent */
};

struct cr_text {
    unsigned char *bytes;
    size_t length;
    char *name;
    cr_vocab vocab;
};

/* ---- vocabulary ---- */

/* Fills v from n distinct bytes; CR_EINVAL naming a repeated byte. */
static cr_status vocab_fill(cr_vocab *v, const unsigned char *symbols, size_t n,
                            cr_error *err)
{
    if (!symbols || n == 0 || n > CR_VOCAB_MAX)
        return cr_error_set(err, CR_EINVAL, "vocab",
                            symbols ? "%zu symbols: a vocabulary has 1 to %d"
                                    : "symbols are NULL (%zu, at most %d)",
                            n, CR_VOCAB_MAX);
    for (size_t c = 0; c < 256; c++)
        v->id[c] = -1;
    for (size_t i = 0; i < n; i++) {
        if (v->id[symbols[i]] >= 0)
            return cr_error_set(err, CR_EINVAL, "vocab",
                                "byte 0x%02x is repeated (ids %d and %zu)", symbols[i],
                                v->id[symbols[i]], i);
        v->id[symbols[i]] = (short)i;
        v->symbols[i] = symbols[i];
    }
    v->n = n;
    return CR_OK;
}

cr_vocab *cr_vocab_new(const unsigned char *symbols, size_t n, cr_error *err)
{
    cr_vocab *v = cr_malloc(sizeof *v);
    if (!v) {
        cr_error_set(err, CR_ENOMEM, "vocab", "out of memory");
        return NULL;
    }
    if (vocab_fill(v, symbols, n, err) != CR_OK) {
        cr_free(v);
        return NULL;
    }
    return v;
}

void cr_vocab_free(cr_vocab *v) { cr_free(v); }

size_t cr_vocab_size(const cr_vocab *v) { return v ? v->n : 0; }

const unsigned char *cr_vocab_symbols(const cr_vocab *v) { return v ? v->symbols : NULL; }

int cr_vocab_id(const cr_vocab *v, unsigned char c) { return v ? v->id[c] : -1; }

cr_status cr_vocab_encode(const cr_vocab *v, const void *text, size_t n, double *ids,
                          cr_error *err)
{
    if (!v || (n > 0 && (!text || !ids)))
        return cr_error_set(err, CR_EINVAL, "vocab", "%s is NULL",
                            !v      ? "the vocabulary"
                            : !text ? "text"
                                    : "ids");
    const unsigned char *p = text;
    for (size_t i = 0; i < n; i++) {
        if (v->id[p[i]] < 0)
            return cr_error_set(err, CR_ENOTFOUND, "vocab",
                                "byte 0x%02x ('%c') at offset %zu is not in the vocabulary",
                                p[i], p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?', i);
        ids[i] = v->id[p[i]];
    }
    return CR_OK;
}

/* ---- the text reader ---- */

/* Checks the bytes are text (no NUL byte, with its line and column) and
 * builds their vocabulary in increasing byte order. */
static cr_status text_finish(cr_text *t, cr_error *err)
{
    if (t->length == 0)
        return cr_data_fail(err, CR_EFORMAT, t->name, 0, 0, "empty file");
    const unsigned char *nul = memchr(t->bytes, 0, t->length);
    if (nul) {
        size_t line = 1, col = 1;
        for (const unsigned char *p = t->bytes; p < nul; p++) {
            col = *p == '\n' ? 1 : col + 1;
            line += *p == '\n';
        }
        return cr_data_fail(err, CR_EFORMAT, t->name, line, col,
                            "a NUL byte: not a text file");
    }
    unsigned char seen[256] = {0};
    for (size_t i = 0; i < t->length; i++)
        seen[t->bytes[i]] = 1;
    unsigned char symbols[CR_VOCAB_MAX];
    size_t n = 0;
    for (size_t c = 0; c < 256; c++)
        if (seen[c])
            symbols[n++] = (unsigned char)c;
    return vocab_fill(&t->vocab, symbols, n, err);
}

/* Reads the whole source into t->bytes. */
static cr_status text_read(cr_text *t, cr_source *r, cr_error *err)
{
    size_t cap = 0;
    for (;;) {
        if (t->length == cap) {
            cr_status st = cr_grow((void **)&t->bytes, &cap, t->length + CR_DATA_CHUNK, 1);
            if (st != CR_OK)
                return cr_error_set(err, st, t->name, "%s: %s", t->name,
                                    st == CR_ENOMEM ? "out of memory" : "too large");
        }
        long long k = cr_source_read(r, t->bytes + t->length, cap - t->length, err);
        if (k < 0)
            return err ? err->status : CR_EIO;
        if (k == 0)
            return CR_OK;
        t->length += (size_t)k;
    }
}

/* A new text read from the open source r (closed here) and checked. */
static cr_text *text_load(cr_source *r, cr_error *err)
{
    cr_text *t = cr_calloc(1, sizeof *t);
    if (t)
        t->name = cr_strdup(r->name);
    if (!t || !t->name) {
        cr_error_set(err, CR_ENOMEM, "text", "out of memory");
        cr_text_free(t);
        cr_source_close(r);
        return NULL;
    }
    cr_status st = text_read(t, r, err);
    cr_source_close(r);
    if (st == CR_OK)
        st = text_finish(t, err);
    if (st != CR_OK) {
        cr_text_free(t);
        return NULL;
    }
    return t;
}

cr_text *cr_text_load(const char *path, const cr_text_options *opts, cr_error *err)
{
    if (!path) {
        cr_error_set(err, CR_EINVAL, "text", "path is NULL");
        return NULL;
    }
    cr_source r;
    if (cr_source_open_file(&r, path, opts ? opts->max_input : 0, err) != CR_OK)
        return NULL;
    return text_load(&r, err);
}

cr_text *cr_text_load_mem(const void *data, size_t size, const char *name,
                          const cr_text_options *opts, cr_error *err)
{
    if (!data && size > 0) {
        cr_error_set(err, CR_EINVAL, "text", "data is NULL");
        return NULL;
    }
    cr_source r;
    if (cr_source_open_mem(&r, data ? data : "", size, name, opts ? opts->max_input : 0,
                           err) != CR_OK)
        return NULL;
    return text_load(&r, err);
}

void cr_text_free(cr_text *t)
{
    if (!t)
        return;
    cr_free(t->bytes);
    cr_free(t->name);
    cr_free(t);
}

size_t cr_text_length(const cr_text *t) { return t ? t->length : 0; }

const unsigned char *cr_text_bytes(const cr_text *t) { return t ? t->bytes : NULL; }

const cr_vocab *cr_text_vocab(const cr_text *t) { return t ? &t->vocab : NULL; }

const char *cr_text_name(const cr_text *t) { return t ? t->name : NULL; }
