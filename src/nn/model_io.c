/*
 * model_io.c - model files (format in docs/model-format.md): the MLP's
 * (version 1) and the layered model's (version 2), encoded to
 * little-endian bytes with a zlib CRC-32 in one container, saved
 * atomically (fileio.c), and the checked load of both; a version 1 file
 * also loads as a model.
 */
#include "nn/model_internal.h"
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

/* The header: magic, version, flags (0), body size. */
static void put_header(writer *w, uint32_t version, size_t body)
{
    memcpy(w->p, magic, sizeof magic);
    w->p += sizeof magic;
    put_u32(w, version);
    put_u32(w, 0);
    put_u64(w, body);
}

/* A new buffer for a file of that version and body size, its header
 * written, w at the body. CR_ERANGE past the size limit, CR_ENOMEM. */
static cr_status begin_file(uint32_t version, size_t body, unsigned char **buf, writer *w,
                            cr_error *err)
{
    const size_t total = HEADER_SIZE + body + CRC_SIZE;
    if (total > MAX_FILE)
        return cr_error_set(err, CR_ERANGE, "save",
                            "the model needs %zu bytes; the limit is %d", total, MAX_FILE);
    if (!(*buf = cr_malloc(total)))
        return cr_error_set(err, CR_ENOMEM, "save", "out of memory for %zu bytes", total);
    w->p = *buf;
    put_header(w, version, body);
    return CR_OK;
}

/* CR_EDOMAIN if parameter p holds a NaN or an infinity: a file with one
 * would be refused by the loader, so none is written (training that
 * diverged keeps the previous file). */
static cr_status check_param_finite(const cr_node *p, cr_error *err)
{
    const cr_tensor *t = cr_node_value(p);
    const size_t i = cr_first_nonfinite(t->data, t->size);
    if (i < t->size)
        return cr_error_set(err, CR_EDOMAIN, "save",
                            "save: parameter %s element %zu is %g; a model with "
                            "non-finite parameters is not saved",
                            cr_node_name(p), i, t->data[i]);
    return CR_OK;
}

/* Size of the body for an architecture (without the parameters' doubles
 * when n_weights is counted separately). */
static size_t body_size(const cr_mlp_spec *s, size_t n_weights, int has_stats)
{
    return 4 * (3 + s->n_hidden + 5) + 8 * n_weights + (has_stats ? 16 * s->n_inputs : 0);
}

/* ---- encoding ---- */

static cr_status check_finite(const cr_mlp *m, cr_error *err)
{
    cr_status st = CR_OK;
    for (size_t l = 0; l < m->n_layers && st == CR_OK; l++) {
        st = check_param_finite(m->W[l], err);
        if (st == CR_OK && m->b[l])
            st = check_param_finite(m->b[l], err);
    }
    return st;
}

static cr_status encode(const cr_mlp *m, unsigned char **out, size_t *size, cr_error *err)
{
    const cr_mlp_spec *s = &m->spec;
    const size_t nw = cr_mlp_num_weights(m);
    const int has_stats = m->mean != NULL;
    const size_t body = body_size(s, nw, has_stats);
    cr_status st = check_finite(m, err);
    unsigned char *buf;
    writer w;
    if (st != CR_OK || (st = begin_file(CR_MODEL_VERSION, body, &buf, &w, err)) != CR_OK)
        return st;
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
    *size = HEADER_SIZE + body + CRC_SIZE;
    return CR_OK;
}

/* ---- saving (atomic: fileio.c) ---- */

/* An encoder: the whole file of net in a new buffer. */
typedef cr_status (*encoder_fn)(const void *net, unsigned char **out, size_t *size,
                                cr_error *err);

static cr_status save_file(const void *net, encoder_fn encode_net, const char *path,
                           cr_error *err)
{
    if (!net || !path || !*path)
        return cr_error_set(err, CR_EINVAL, "save", "save: the model or path is missing");
    unsigned char *buf = NULL;
    size_t size = 0;
    cr_status st = encode_net(net, &buf, &size, err);
    if (st == CR_OK)
        st = cr_io_write_atomic(path, buf, size, err);
    cr_free(buf);
    return st;
}

static cr_status encode_mlp(const void *net, unsigned char **out, size_t *size,
                            cr_error *err)
{
    return encode(net, out, size, err);
}

cr_status cr_mlp_save(const cr_mlp *m, const char *path, cr_error *err)
{
    return save_file(m, encode_mlp, path, err);
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

/* Checks the container of size bytes at p: magic, length, version (1 or
 * 2), announced size, CRC, flags; sets the version and the body size. */
static cr_status open_container(const unsigned char *p, size_t size, const char *name,
                                uint32_t *version_out, uint64_t *body_out, cr_error *err)
{
    const size_t head = size < sizeof magic ? size : sizeof magic;
    if (head > 0 && memcmp(p, magic, head) != 0) {
        return bad(err, CR_EFORMAT, name, "not a chainrule model file (bad magic)");
    }
    if (size < HEADER_SIZE + CRC_SIZE) {
        return bad(err, CR_EFORMAT, name,
                   "truncated: %zu bytes, a model file has at least %d", size,
                   HEADER_SIZE + CRC_SIZE);
    }
    const uint32_t version = get_u32(p + 8), flags = get_u32(p + 12);
    if (version != CR_MODEL_VERSION && version != CR_MODEL_VERSION_LAYERS) {
        return bad(err, CR_ENOTSUP, name,
                   "format version %u is not supported (this build reads %d and %d)",
                   version, CR_MODEL_VERSION, CR_MODEL_VERSION_LAYERS);
    }
    const uint64_t body = get_u64(p + 16);
    if (body > MAX_FILE || HEADER_SIZE + body + CRC_SIZE > size) {
        return bad(err, CR_EFORMAT, name, "truncated: %zu bytes, the header announces %llu",
                   size, (unsigned long long)(HEADER_SIZE + body + CRC_SIZE));
    }
    if (HEADER_SIZE + body + CRC_SIZE < size) {
        return bad(err, CR_EFORMAT, name, "%llu unexpected bytes after the checksum",
                   (unsigned long long)(size - (HEADER_SIZE + body + CRC_SIZE)));
    }
    const uint32_t stored = get_u32(p + HEADER_SIZE + body);
    const uint32_t computed = crc_of(p, HEADER_SIZE + (size_t)body);
    if (stored != computed) {
        return bad(err, CR_EFORMAT, name,
                   "checksum mismatch (stored 0x%08x, computed 0x%08x): the "
                   "file is corrupted",
                   stored, computed);
    }
    if (flags != 0) {
        return bad(err, CR_EFORMAT, name, "unknown flags 0x%08x", flags);
    }
    *version_out = version;
    *body_out = body;
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
    uint32_t version;
    uint64_t body;
    if (open_container(p, size, name, &version, &body, err) != CR_OK)
        return NULL;
    if (version != CR_MODEL_VERSION) {
        bad(err, CR_ENOTSUP, name,
            "format version %u holds a layered model: load it with cr_model_load", version);
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

/* Reads the whole regular file at path (at most MAX_FILE bytes) into a new
 * buffer (cr_free); CR_OK or the error in err. */
static cr_status read_file(const char *path, unsigned char **buf_out, size_t *size_out,
                           cr_error *err)
{
    if (!path)
        return cr_error_set(err, CR_EINVAL, "load", "load: the path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return cr_file_fail(err, path, "");
    struct stat sb;
    cr_status st = CR_OK;
    if (fstat(fileno(f), &sb) != 0)
        st = cr_file_fail(err, path, "");
    else if (!S_ISREG(sb.st_mode))
        st = bad(err, CR_EIO, path, "not a regular file");
    else if (sb.st_size > MAX_FILE)
        st = bad(err, CR_EFORMAT, path, "%lld bytes is too large for a model file",
                 (long long)sb.st_size);
    unsigned char *buf = NULL;
    if (st == CR_OK && !(buf = cr_malloc(sb.st_size ? (size_t)sb.st_size : 1)))
        st = cr_error_set(err, CR_ENOMEM, path, "%s: out of memory", path);
    size_t got = 0;
    if (st == CR_OK) {
        got = fread(buf, 1, (size_t)sb.st_size, f);
        if (ferror(f))
            st = cr_file_fail(err, path, "reading: ");
    }
    fclose(f);
    if (st != CR_OK) {
        cr_free(buf);
        return st;
    }
    *buf_out = buf;
    *size_out = got;
    return CR_OK;
}

cr_mlp *cr_mlp_load(const char *path, const cr_mlp_spec *expect, cr_error *err)
{
    unsigned char *buf;
    size_t size;
    if (read_file(path, &buf, &size, err) != CR_OK)
        return NULL;
    cr_mlp *m = cr_mlp_load_mem(buf, size, path, expect, err);
    cr_free(buf);
    return m;
}

/* ---- layered models (version 2) ---- */

enum {
    LAYER_RECORD = 14 * 4 + 7 * 8, /* one cr_layer_spec */
    MAX_DIM = 1 << 24
};

/* Bytes of a version 2 body besides the parameter, state and statistics
 * doubles. */
static size_t layered_fixed(size_t n_layers, size_t n_vocab)
{
    return 16 + 4 + LAYER_RECORD * n_layers + 16 + 8 + 16 + n_vocab;
}

/* The batch norm layers' running statistics live in the model's
 * nodes: 2 * channels values each. */
static size_t state_count(const cr_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_layers; i++)
        if (m->layers[i].spec.kind == CR_LAYER_BATCHNORM)
            n += cr_tensor_size(cr_node_state(m->head->out[i]));
    return n;
}

static void put_layer(writer *w, const cr_layer_spec *s)
{
    const size_t u[14] = {(size_t)s->kind,
                          s->units,
                          s->kernel[0],
                          s->kernel[1],
                          s->stride[0],
                          s->stride[1],
                          s->pad[0],
                          s->pad[1],
                          s->vocab,
                          (size_t)s->act,
                          (size_t)(s->bias != 0),
                          (size_t)s->init,
                          (size_t)(s->sequences != 0),
                          s->bptt};
    for (size_t i = 0; i < 14; i++)
        put_u32(w, (uint32_t)u[i]);
    const double d[7] = {s->alpha, s->rate,   s->eps,   s->momentum,
                         s->clip,  s->init_a, s->init_b};
    put_f64s(w, d, 7);
}

static cr_status encode_layered(const void *net, unsigned char **out, size_t *size,
                                cr_error *err)
{
    const cr_model *m = net;
    const size_t np = cr_model_num_weights(m), ns = state_count(m);
    const size_t ni = cr_model_input_size(m);
    const int has_stats = m->mean != NULL;
    for (size_t i = 0; i < m->n_params; i++) {
        cr_status st = check_param_finite(m->params[i], err);
        if (st != CR_OK)
            return st;
    }
    const size_t body =
        layered_fixed(m->n_layers, m->n_vocab) + 8 * (np + ns + (has_stats ? 2 * ni : 0));
    unsigned char *buf;
    writer w;
    cr_status st = begin_file(CR_MODEL_VERSION_LAYERS, body, &buf, &w, err);
    if (st != CR_OK)
        return st;
    put_u32(&w, (uint32_t)m->in_rank);
    for (int d = 0; d < 3; d++)
        put_u32(&w, d < m->in_rank ? (uint32_t)m->in_shape[d] : 0);
    put_u32(&w, (uint32_t)m->n_layers);
    for (size_t i = 0; i < m->n_layers; i++)
        put_layer(&w, &m->layers[i].spec);
    put_u32(&w, (uint32_t)m->opts.loss);
    put_u32(&w, (uint32_t)m->opts.batch);
    put_u64(&w, (uint64_t)m->opts.seed);
    put_u32(&w, has_stats ? 1 : 0);
    put_u32(&w, (uint32_t)m->n_vocab);
    put_u64(&w, np);
    put_u64(&w, ns);
    memcpy(w.p, m->vocab, m->n_vocab);
    w.p += m->n_vocab;
    for (size_t i = 0; i < m->n_params; i++) {
        const cr_tensor *t = cr_node_value(m->params[i]);
        put_f64s(&w, t->data, t->size);
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        if (m->layers[i].spec.kind != CR_LAYER_BATCHNORM)
            continue;
        const cr_tensor *t = cr_node_state(m->head->out[i]);
        put_f64s(&w, t->data, t->size);
    }
    if (has_stats) {
        put_f64s(&w, m->mean, ni);
        put_f64s(&w, m->std, ni);
    }
    put_u32(&w, crc_of(buf, HEADER_SIZE + body));
    *out = buf;
    *size = HEADER_SIZE + body + CRC_SIZE;
    return CR_OK;
}

cr_status cr_model_save(const cr_model *m, const char *path, cr_error *err)
{
    return save_file(m, encode_layered, path, err);
}

/* Reads layer i's record at p into s; CR_EFORMAT naming the layer and the
 * field for a code out of range or a number that is not finite. */
static cr_status get_layer(const unsigned char *p, size_t i, const char *name,
                           cr_layer_spec *s, cr_error *err)
{
    uint32_t u[14];
    for (size_t k = 0; k < 14; k++)
        u[k] = get_u32(p + 4 * k);
    double d[7];
    for (size_t k = 0; k < 7; k++)
        d[k] = get_f64(p + 56 + 8 * k);
    if (u[0] >= CR_LAYER_COUNT)
        return bad(err, CR_EFORMAT, name, "layer %zu: kind %u is unknown", i + 1, u[0]);
    const char *kind = cr_layer_kind_name((cr_layer_kind)u[0]);
    static const char *const fields[] = {"act", "bias", "init", "sequences"};
    const uint32_t limit[] = {CR_ACT_COUNT, 2, CR_INIT_COUNT, 2};
    for (size_t k = 0; k < 4; k++)
        if (u[9 + k] >= limit[k])
            return bad(err, CR_EFORMAT, name,
                       "layer %zu (%s): field %s is %u, out of range", i + 1, kind,
                       fields[k], u[9 + k]);
    static const char *const reals[] = {"alpha", "rate",   "eps",   "momentum",
                                        "clip",  "init_a", "init_b"};
    for (size_t k = 0; k < 7; k++)
        if (!isfinite(d[k]))
            return bad(err, CR_EFORMAT, name, "layer %zu (%s): field %s is not finite",
                       i + 1, kind, reals[k]);
    cr_layer_spec_init(s, (cr_layer_kind)u[0]);
    s->units = u[1];
    s->kernel[0] = u[2];
    s->kernel[1] = u[3];
    s->stride[0] = u[4];
    s->stride[1] = u[5];
    s->pad[0] = u[6];
    s->pad[1] = u[7];
    s->vocab = u[8];
    s->act = (cr_activation)u[9];
    s->bias = (int)u[10];
    s->init = (cr_init_kind)u[11];
    s->sequences = (int)u[12];
    s->bptt = u[13];
    s->alpha = d[0];
    s->rate = d[1];
    s->eps = d[2];
    s->momentum = d[3];
    s->clip = d[4];
    s->init_a = d[5];
    s->init_b = d[6];
    return CR_OK;
}

/* The saved values into the built model: parameters, batch norm states,
 * input statistics; each checked finite. */
static cr_status fill_layered(cr_model *m, const unsigned char *p, size_t np, size_t ns,
                              int has_stats, const char *name, cr_error *err)
{
    const size_t ni = cr_model_input_size(m), total = np + ns + (has_stats ? 2 * ni : 0);
    for (size_t i = 0; i < total; i++) {
        const double v = get_f64(p + 8 * i);
        if (!isfinite(v))
            return bad(err, CR_EFORMAT, name, "value %zu of the %s is not finite",
                       i < np        ? i + 1
                       : i < np + ns ? i - np + 1
                                     : i - np - ns + 1,
                       i < np        ? "parameters"
                       : i < np + ns ? "batch norm statistics"
                                     : "input statistics");
        if (i >= np + ns + ni && !(v >= DBL_MIN))
            return bad(err, CR_EFORMAT, name,
                       "input %zu's standard deviation is %g: it must be above 0 and not "
                       "subnormal",
                       i - np - ns - ni + 1, v);
    }
    for (size_t i = 0; i < m->n_params; i++) {
        cr_tensor *t = &m->params[i]->value;
        for (size_t k = 0; k < t->size; k++, p += 8)
            t->data[k] = get_f64(p);
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        if (m->layers[i].spec.kind != CR_LAYER_BATCHNORM)
            continue;
        cr_tensor *t = (cr_tensor *)cr_node_state(m->head->out[i]);
        for (size_t k = 0; k < t->size; k++, p += 8)
            t->data[k] = get_f64(p);
    }
    if (!has_stats)
        return CR_OK;
    double *v = cr_malloc(2 * ni * sizeof *v);
    if (!v)
        return cr_error_set(err, CR_ENOMEM, name, "%s: out of memory", name);
    for (size_t k = 0; k < 2 * ni; k++, p += 8)
        v[k] = get_f64(p);
    cr_status st = cr_model_set_input_stats(m, v, v + ni, err);
    cr_free(v);
    return st;
}

/* A version 2 body of `body` bytes at p. */
static cr_model *load_layered(const unsigned char *p, size_t body, const char *name,
                              cr_error *err)
{
    if (body < layered_fixed(1, 0)) {
        bad(err, CR_EFORMAT, name, "body of %zu bytes is too short", body);
        return NULL;
    }
    const uint32_t in_rank = get_u32(p), n_layers = get_u32(p + 16);
    size_t in_shape[3];
    for (int d = 0; d < 3; d++)
        in_shape[d] = get_u32(p + 4 + 4 * d);
    if (in_rank < 1 || in_rank > 3 || n_layers < 1 || n_layers > CR_MODEL_MAX_LAYERS) {
        bad(err, CR_EFORMAT, name, "input rank %u or layer count %u is out of range",
            in_rank, n_layers);
        return NULL;
    }
    for (uint32_t d = 0; d < in_rank; d++)
        if (in_shape[d] < 1 || in_shape[d] > MAX_DIM) {
            bad(err, CR_EFORMAT, name, "input dimension %u is %zu", d + 1, in_shape[d]);
            return NULL;
        }
    if (body < layered_fixed(n_layers, 0)) {
        bad(err, CR_EFORMAT, name, "body of %zu bytes is too short for %u layers", body,
            n_layers);
        return NULL;
    }
    cr_layer_spec layers[CR_MODEL_MAX_LAYERS];
    size_t o = 20;
    for (size_t i = 0; i < n_layers; i++, o += LAYER_RECORD)
        if (get_layer(p + o, i, name, &layers[i], err) != CR_OK)
            return NULL;
    cr_model_options opts;
    cr_model_options_init(&opts);
    const uint32_t loss = get_u32(p + o), batch = get_u32(p + o + 4);
    opts.seed = (unsigned long)get_u64(p + o + 8);
    const uint32_t has_stats = get_u32(p + o + 16), n_vocab = get_u32(p + o + 20);
    const uint64_t np = get_u64(p + o + 24), ns = get_u64(p + o + 32);
    o += 40;
    if (loss >= CR_LOSS_COUNT || batch < 1 || batch > MAX_DIM || has_stats > 1 ||
        n_vocab > 256) {
        bad(err, CR_EFORMAT, name,
            "invalid codes (loss %u, batch %u, statistics %u, vocabulary %u)", loss, batch,
            has_stats, n_vocab);
        return NULL;
    }
    opts.loss = (cr_loss_kind)loss;
    opts.batch = batch;
    cr_error why;
    cr_model *m = cr_model_new(layers, n_layers, (int)in_rank, in_shape, &opts, &why);
    if (!m) {
        bad(err, why.status == CR_ENOMEM ? CR_ENOMEM : CR_EFORMAT, name,
            "invalid model: %s", why.message);
        return NULL;
    }
    const size_t ni = cr_model_input_size(m);
    const size_t want_p = cr_model_num_weights(m), want_s = state_count(m);
    const size_t need =
        layered_fixed(n_layers, n_vocab) + 8 * (want_p + want_s + (has_stats ? 2 * ni : 0));
    if (np != want_p || ns != want_s || need != body) {
        bad(err, CR_EFORMAT, name,
            "body is %zu bytes with %llu parameters and %llu statistics, but the layers "
            "need %zu bytes with %zu and %zu",
            body, (unsigned long long)np, (unsigned long long)ns, need, want_p, want_s);
        cr_model_free(m);
        return NULL;
    }
    if (cr_model_set_vocab(m, p + o, n_vocab, err) != CR_OK ||
        fill_layered(m, p + o + n_vocab, want_p, want_s, (int)has_stats, name, err) !=
            CR_OK) {
        cr_model_free(m);
        return NULL;
    }
    return m;
}

/* A version 1 body: the MLP as a model, with its weights and statistics. */
static cr_model *load_mlp_as_model(const unsigned char *data, size_t size, const char *name,
                                   cr_error *err)
{
    cr_mlp *mlp = cr_mlp_load_mem(data, size, name, NULL, err);
    if (!mlp)
        return NULL;
    cr_model *m = cr_model_from_mlp(&mlp->spec, NULL, err);
    size_t k = 0;
    for (size_t l = 0; m && l < mlp->n_layers; l++) {
        cr_node *p[2] = {mlp->W[l], mlp->b[l]};
        for (int j = 0; j < 2; j++)
            if (p[j]) {
                cr_tensor *t = &m->params[k++]->value;
                memcpy(t->data, p[j]->value.data, t->size * sizeof(double));
            }
    }
    if (m && mlp->mean && cr_model_set_input_stats(m, mlp->mean, mlp->std, err) != CR_OK) {
        cr_model_free(m);
        m = NULL;
    }
    cr_mlp_free(mlp);
    return m;
}

cr_model *cr_model_load(const char *path, cr_error *err)
{
    unsigned char *buf;
    size_t size;
    if (read_file(path, &buf, &size, err) != CR_OK)
        return NULL;
    uint32_t version;
    uint64_t body;
    cr_model *m = NULL;
    if (open_container(buf, size, path, &version, &body, err) == CR_OK)
        m = version == CR_MODEL_VERSION
                ? load_mlp_as_model(buf, size, path, err)
                : load_layered(buf + HEADER_SIZE, (size_t)body, path, err);
    cr_free(buf);
    return m;
}
