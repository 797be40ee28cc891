/*
 * model_io.c - MLP model files (format in docs/model-format.md): encoding
 * to little-endian bytes with a zlib CRC-32, the atomic save (temporary
 * file in the same directory, fflush, fsync, rename, fsync of the
 * directory), and the checked load.
 */
#include "nn/nn_internal.h"
#include "chainrule/io.h"
#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char magic[8] = {'C', 'R', 'M', 'L', 'P', '\r', '\n', 0x1a};
enum {
    HEADER_SIZE = 24, /* magic, version, flags, body size */
    CRC_SIZE = 4,
    MAX_FILE = 1 << 30 /* refuse anything larger than 1 GiB */
};

/* ---- little-endian encoding ---- */

typedef struct writer {
    unsigned char *p;
} writer;

static void put_u32(writer *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *w->p++ = (unsigned char)(v >> (8 * i));
}

static void put_u64(writer *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *w->p++ = (unsigned char)(v >> (8 * i));
}

static void put_f64(writer *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_u64(w, bits);
}

static void put_f64s(writer *w, const double *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f64(w, d[i]);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static double get_f64(const unsigned char *p)
{
    uint64_t bits = get_u64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

/* Size of the body for an architecture (without the parameters' doubles
 * when n_weights is counted separately). */
static size_t body_size(const cr_mlp_spec *s, size_t n_weights, int has_stats)
{
    return 4 * (3 + s->n_hidden + 5) + 8 * n_weights + (has_stats ? 16 * s->n_inputs : 0);
}

/* ---- encoding ---- */

/* A file with a NaN or infinite parameter would be refused by the loader:
 * never write one (training that diverged keeps the previous file). */
static cr_status check_finite(const cr_mlp *m, cr_error *err)
{
    for (size_t l = 0; l < m->n_layers; l++) {
        const cr_node *p[2] = {m->W[l], m->b[l]};
        for (int k = 0; k < 2; k++) {
            if (!p[k])
                continue;
            const cr_tensor *t = cr_node_value(p[k]);
            const size_t i = cr_first_nonfinite(t->data, t->size);
            if (i < t->size)
                return cr_error_set(err, CR_EDOMAIN, "save",
                                    "save: parameter %s element %zu is %g; a model with "
                                    "non-finite parameters is not saved",
                                    cr_node_name(p[k]), i, t->data[i]);
        }
    }
    return CR_OK;
}

static cr_status encode(const cr_mlp *m, unsigned char **out, size_t *size, cr_error *err)
{
    const cr_mlp_spec *s = &m->spec;
    const size_t nw = cr_mlp_num_weights(m);
    const int has_stats = m->mean != NULL;
    const size_t body = body_size(s, nw, has_stats);
    const size_t total = HEADER_SIZE + body + CRC_SIZE;
    cr_status st = check_finite(m, err);
    if (st != CR_OK)
        return st;
    if (total > MAX_FILE)
        return cr_error_set(err, CR_ERANGE, "save",
                            "the model needs %zu bytes; the limit is %d", total, MAX_FILE);
    unsigned char *buf = cr_malloc(total);
    if (!buf)
        return cr_error_set(err, CR_ENOMEM, "save", "out of memory for %zu bytes", total);
    writer w = {buf};
    memcpy(w.p, magic, sizeof magic);
    w.p += sizeof magic;
    put_u32(&w, CR_MODEL_VERSION);
    put_u32(&w, 0);
    put_u64(&w, body);
    put_u32(&w, (uint32_t)s->n_inputs);
    put_u32(&w, (uint32_t)s->n_outputs);
    put_u32(&w, (uint32_t)s->n_hidden);
    for (size_t l = 0; l < s->n_hidden; l++)
        put_u32(&w, (uint32_t)s->hidden[l]);
    put_u32(&w, (uint32_t)s->hidden_act);
    put_u32(&w, (uint32_t)s->out_act);
    put_u32(&w, (uint32_t)s->loss);
    put_u32(&w, s->bias ? 1 : 0);
    put_u32(&w, has_stats ? 1 : 0);
    for (size_t l = 0; l < m->n_layers; l++) {
        const cr_tensor *t = cr_node_value(m->W[l]);
        put_f64s(&w, cr_tensor_data(t), cr_tensor_size(t));
        if (m->b[l]) {
            t = cr_node_value(m->b[l]);
            put_f64s(&w, cr_tensor_data(t), cr_tensor_size(t));
        }
    }
    if (has_stats) {
        put_f64s(&w, m->mean, s->n_inputs);
        put_f64s(&w, m->std, s->n_inputs);
    }
    put_u32(&w, crc_of(buf, HEADER_SIZE + body));
    *out = buf;
    *size = total;
    return CR_OK;
}

/* ---- saving (atomic: fileio.c) ---- */

cr_status cr_mlp_save(const cr_mlp *m, const char *path, cr_error *err)
{
    if (!m || !path || !*path)
        return cr_error_set(err, CR_EINVAL, "save", "save: the model or path is missing");
    unsigned char *buf = NULL;
    size_t size = 0;
    cr_status st = encode(m, &buf, &size, err);
    if (st == CR_OK)
        st = cr_io_write_atomic(path, buf, size, err);
    cr_free(buf);
    return st;
}

/* ---- loading ---- */

static cr_status bad(cr_error *err, cr_status st, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static cr_status bad(cr_error *err, cr_status st, const char *name, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cr_error_set(err, st, name, "%s: %s", name, msg);
}

static int same_arch(const cr_mlp_spec *a, const cr_mlp_spec *b)
{
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
        a->n_hidden != b->n_hidden || a->hidden_act != b->hidden_act ||
        a->out_act != b->out_act || a->loss != b->loss || !a->bias != !b->bias)
        return 0;
    for (size_t l = 0; l < a->n_hidden && l < CR_MLP_MAX_HIDDEN; l++)
        if (a->hidden[l] != b->hidden[l])
            return 0;
    return 1;
}

/* Reads the architecture from the body at p (body bytes). */
static cr_status parse_arch(const unsigned char *p, size_t body, const char *name,
                            cr_mlp_spec *s, int *has_stats, size_t *offset, cr_error *err)
{
    if (body < 12)
        return bad(err, CR_EFORMAT, name, "body of %zu bytes is too short", body);
    cr_mlp_spec_init(s, get_u32(p), get_u32(p + 4));
    const uint32_t n_hidden = get_u32(p + 8);
    if (n_hidden > CR_MLP_MAX_HIDDEN)
        return bad(err, CR_EFORMAT, name, "%u hidden layers; at most %d", n_hidden,
                   CR_MLP_MAX_HIDDEN);
    const size_t fixed = 4 * (3 + (size_t)n_hidden + 5);
    if (body < fixed)
        return bad(err, CR_EFORMAT, name, "body of %zu bytes is too short", body);
    s->n_hidden = n_hidden;
    size_t o = 12;
    for (size_t l = 0; l < n_hidden; l++, o += 4)
        s->hidden[l] = get_u32(p + o);
    const uint32_t hact = get_u32(p + o), oact = get_u32(p + o + 4),
                   loss = get_u32(p + o + 8);
    const uint32_t bias = get_u32(p + o + 12), stats = get_u32(p + o + 16);
    if (hact > CR_ACT_SOFTMAX || oact > CR_ACT_SOFTMAX || loss > CR_LOSS_XENT || bias > 1 ||
        stats > 1)
        return bad(err, CR_EFORMAT, name,
                   "invalid architecture codes (activations %u/%u, loss %u, flags %u/%u)",
                   hact, oact, loss, bias, stats);
    s->hidden_act = (cr_activation)hact;
    s->out_act = (cr_activation)oact;
    s->loss = (cr_loss_kind)loss;
    s->bias = (int)bias;
    *has_stats = (int)stats;
    *offset = o + 20;
    cr_error why;
    if (cr_mlp_spec_check(s, &why) != CR_OK)
        return bad(err, CR_EFORMAT, name, "invalid architecture: %s", why.message);
    return CR_OK;
}

cr_mlp *cr_mlp_load_mem(const void *data, size_t size, const char *name,
                        const cr_mlp_spec *expect, cr_error *err)
{
    const unsigned char *p = data;
    if (!name)
        name = "<memory>";
    if (!data && size) {
        cr_error_set(err, CR_EINVAL, name, "%s: data is NULL", name);
        return NULL;
    }
    const size_t head = size < sizeof magic ? size : sizeof magic;
    if (head > 0 && memcmp(p, magic, head) != 0) {
        bad(err, CR_EFORMAT, name, "not a chainrule model file (bad magic)");
        return NULL;
    }
    if (size < HEADER_SIZE + CRC_SIZE) {
        bad(err, CR_EFORMAT, name, "truncated: %zu bytes, a model file has at least %d",
            size, HEADER_SIZE + CRC_SIZE);
        return NULL;
    }
    const uint32_t version = get_u32(p + 8), flags = get_u32(p + 12);
    if (version != CR_MODEL_VERSION) {
        bad(err, CR_ENOTSUP, name,
            "format version %u is not supported (this build reads %d)", version,
            CR_MODEL_VERSION);
        return NULL;
    }
    const uint64_t body = get_u64(p + 16);
    if (body > MAX_FILE || HEADER_SIZE + body + CRC_SIZE > size) {
        bad(err, CR_EFORMAT, name, "truncated: %zu bytes, the header announces %llu", size,
            (unsigned long long)(HEADER_SIZE + body + CRC_SIZE));
        return NULL;
    }
    if (HEADER_SIZE + body + CRC_SIZE < size) {
        bad(err, CR_EFORMAT, name, "%llu unexpected bytes after the checksum",
            (unsigned long long)(size - (HEADER_SIZE + body + CRC_SIZE)));
        return NULL;
    }
    const uint32_t stored = get_u32(p + HEADER_SIZE + body);
    const uint32_t computed = crc_of(p, HEADER_SIZE + (size_t)body);
    if (stored != computed) {
        bad(err, CR_EFORMAT, name,
            "checksum mismatch (stored 0x%08x, computed 0x%08x): the "
            "file is corrupted",
            stored, computed);
        return NULL;
    }
    if (flags != 0) {
        bad(err, CR_EFORMAT, name, "unknown flags 0x%08x", flags);
        return NULL;
    }
    cr_mlp_spec s;
    int has_stats = 0;
    size_t o = 0;
    const unsigned char *b = p + HEADER_SIZE;
    if (parse_arch(b, (size_t)body, name, &s, &has_stats, &o, err) != CR_OK)
        return NULL;
    char have[256], want[256];
    if (expect && !same_arch(&s, expect)) {
        cr_mlp_spec_format(&s, have, sizeof have);
        cr_mlp_spec_format(expect, want, sizeof want);
        bad(err, CR_ESHAPE, name, "architecture %s differs from the expected %s", have,
            want);
        return NULL;
    }
    /* count the weights of the architecture without building it */
    size_t nw = 0;
    for (size_t l = 0; l <= s.n_hidden; l++) {
        size_t in = l == 0 ? s.n_inputs : s.hidden[l - 1];
        size_t out = l == s.n_hidden ? s.n_outputs : s.hidden[l];
        nw += in * out + (s.bias ? out : 0);
        if (nw > MAX_FILE)
            break;
    }
    if (nw > MAX_FILE || body_size(&s, nw, has_stats) != body) {
        cr_mlp_spec_format(&s, have, sizeof have);
        bad(err, CR_EFORMAT, name, "body is %llu bytes, but architecture %s needs %zu",
            (unsigned long long)body, have,
            nw > MAX_FILE ? (size_t)-1 : body_size(&s, nw, has_stats));
        return NULL;
    }
    const size_t extra = has_stats ? 2 * s.n_inputs : 0;
    double *vals = cr_malloc((nw + extra) * sizeof *vals);
    if (!vals) {
        cr_error_set(err, CR_ENOMEM, name, "%s: out of memory", name);
        return NULL;
    }
    for (size_t i = 0; i < nw + extra; i++, o += 8) {
        vals[i] = get_f64(b + o);
        if (!isfinite(vals[i])) {
            bad(err, CR_EFORMAT, name, "value %zu of the %s is not finite",
                i < nw ? i + 1 : i - nw + 1, i < nw ? "parameters" : "input statistics");
            cr_free(vals);
            return NULL;
        }
        /* a saved deviation is one the saver kept: at least DBL_MIN */
        if (i >= nw + s.n_inputs && !(vals[i] >= DBL_MIN)) {
            bad(err, CR_EFORMAT, name,
                "input %zu's standard deviation is %g: it must be above 0 and not "
                "subnormal",
                i - nw - s.n_inputs + 1, vals[i]);
            cr_free(vals);
            return NULL;
        }
    }
    cr_mlp *m = cr_mlp_build(&s, vals, err);
    if (m && has_stats &&
        cr_mlp_set_input_stats(m, vals + nw, vals + nw + s.n_inputs, err) != CR_OK) {
        cr_mlp_free(m);
        m = NULL;
    }
    cr_free(vals);
    return m;
}

cr_mlp *cr_mlp_load(const char *path, const cr_mlp_spec *expect, cr_error *err)
{
    if (!path) {
        cr_error_set(err, CR_EINVAL, "load", "load: the path is NULL");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cr_file_fail(err, path, "");
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        cr_file_fail(err, path, "");
        fclose(f);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        bad(err, CR_EIO, path, "not a regular file");
        fclose(f);
        return NULL;
    }
    if (sb.st_size > MAX_FILE) {
        bad(err, CR_EFORMAT, path, "%lld bytes is too large for a model file",
            (long long)sb.st_size);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = cr_malloc(size ? size : 1);
    if (!buf) {
        cr_error_set(err, CR_ENOMEM, path, "%s: out of memory", path);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    int read_error = ferror(f);
    fclose(f);
    cr_mlp *m = NULL;
    if (read_error)
        cr_file_fail(err, path, "reading: ");
    else
        m = cr_mlp_load_mem(buf, got, path, expect, err);
    cr_free(buf);
    return m;
}
