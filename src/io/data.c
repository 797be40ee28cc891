/*
 * data.c - data sets: the cr_dataset object, the streaming CSV loader, the
 * IDX (MNIST format) reader, plain or gzip'd, from files (zlib's gzread,
 * which reads both) or memory (zlib's inflate), shuffling with a seeded
 * generator (rng.h), batch gathering, train/validation split and
 * per-column feature standardisation.
 */
#include "core/internal.h"
#include "core/rng.h"

#include <gsl/gsl_randist.h>
#include <zlib.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest class count a label column may imply (one-hot rows are K wide). */
#define CR_DATA_MAX_CLASSES 65536
#define CHUNK ((size_t)1 << 16)

struct cr_dataset {
    cr_tensor *x, *y;
    size_t num_classes;
};

struct cr_standardizer {
    size_t cols;
    double *mean, *std;
};

/* ---- errors about a file's content ---- */

/* "NAME:ROW:COL: text", "NAME:ROW: text" (col 0) or "NAME: text" (row 0);
 * where = NAME, line/column = row/col. */
static cr_status data_fail(cr_error *err, cr_status st, const char *name, size_t row,
                           size_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static cr_status data_fail(cr_error *err, cr_status st, const char *name, size_t row,
                           size_t col, const char *fmt, ...)
{
    if (!err)
        return st;
    char text[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (row && col)
        cr_error_set(err, st, name, "%s:%zu:%zu: %s", name, row, col, text);
    else if (row)
        cr_error_set(err, st, name, "%s:%zu: %s", name, row, text);
    else
        cr_error_set(err, st, name, "%s: %s", name, text);
    err->line = row > INT_MAX ? INT_MAX : (int)row;
    err->column = col > INT_MAX ? INT_MAX : (int)col;
    return st;
}

/* ---- data sets ---- */

cr_dataset *cr_dataset_new(cr_tensor *features, cr_tensor *targets, size_t num_classes,
                           cr_error *err)
{
    cr_status st = CR_OK;
    if (!features)
        st = cr_error_set(err, CR_EINVAL, "dataset", "features are NULL");
    else if (features->rank != 2 || (targets && targets->rank != 2))
        st = cr_error_set(err, CR_ESHAPE, "dataset",
                          "features and targets must be matrices, got %s and %s",
                          cr_shape_str(features).text,
                          targets ? cr_shape_str(targets).text : "none");
    else if (targets && targets->shape[0] != features->shape[0])
        st = cr_error_set(err, CR_ESHAPE, "dataset",
                          "features %s and targets %s have different row counts",
                          cr_shape_str(features).text, cr_shape_str(targets).text);
    cr_dataset *ds = st == CR_OK ? cr_calloc(1, sizeof *ds) : NULL;
    if (!ds) {
        if (st == CR_OK)
            cr_error_set(err, CR_ENOMEM, "dataset", "out of memory");
        cr_tensor_free(features);
        cr_tensor_free(targets);
        return NULL;
    }
    ds->x = features;
    ds->y = targets;
    ds->num_classes = num_classes;
    return ds;
}

void cr_dataset_free(cr_dataset *ds)
{
    if (!ds)
        return;
    cr_tensor_free(ds->x);
    cr_tensor_free(ds->y);
    cr_free(ds);
}

size_t cr_dataset_rows(const cr_dataset *ds)
{
    return ds->x->shape[0];
}
size_t cr_dataset_cols(const cr_dataset *ds)
{
    return ds->x->shape[1];
}
size_t cr_dataset_target_cols(const cr_dataset *ds)
{
    return ds->y ? ds->y->shape[1] : 0;
}
size_t cr_dataset_num_classes(const cr_dataset *ds)
{
    return ds->num_classes;
}
cr_tensor *cr_dataset_features(cr_dataset *ds)
{
    return ds->x;
}
cr_tensor *cr_dataset_targets(cr_dataset *ds)
{
    return ds->y;
}

/* ---- byte sources: a file through gzread (plain or gzip), or memory ---- */

typedef struct reader {
    const char *name;
    gzFile gz;
    const unsigned char *mem; /* memory source, or NULL */
    size_t mem_size, mem_pos;
    z_stream zs; /* inflating a gzip'd memory source */
    int inflating, inflate_done;
} reader;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    CR_UNUSED(opaque);
    return cr_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    CR_UNUSED(opaque);
    cr_free(p);
}

static cr_status reader_open_file(reader *r, const char *path, cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = path;
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        int e = errno;
        return data_fail(err, e == ENOENT ? CR_ENOTFOUND : CR_EIO, path, 0, 0, "%s",
                         e ? strerror(e) : "cannot open");
    }
    gzbuffer(r->gz, 1u << 17);
    return CR_OK;
}

static cr_status reader_open_mem(reader *r, const void *data, size_t size, const char *name,
                                 cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = name ? name : "<memory>";
    r->mem = data ? data : (const unsigned char *)"";
    r->mem_size = data ? size : 0;
    if (r->mem_size >= 2 && r->mem[0] == 0x1f && r->mem[1] == 0x8b) {
        r->zs.zalloc = z_alloc;
        r->zs.zfree = z_free;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
            return data_fail(err, CR_ENOMEM, r->name, 0, 0, "out of memory starting zlib");
        r->inflating = 1;
    }
    return CR_OK;
}

static void reader_close(reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    if (r->inflating)
        inflateEnd(&r->zs);
    r->gz = NULL;
    r->inflating = 0;
}

/* Reads up to n bytes into buf: the count read (0 at the end), or -1 with
 * err set. A short count is only returned at the end of the data. */
static long long reader_read(reader *r, void *buf, size_t n, cr_error *err)
{
    if (n > (1u << 30))
        n = 1u << 30;
    if (r->gz) {
        int got = gzread(r->gz, buf, (unsigned)n);
        int errnum = Z_OK;
        const char *msg = gzerror(r->gz, &errnum);
        if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            if (errnum == Z_BUF_ERROR)
                data_fail(err, CR_EFORMAT, r->name, 0, 0,
                          "truncated gzip data (unexpected end of file)");
            else if (errnum == Z_ERRNO)
                data_fail(err, CR_EIO, r->name, 0, 0, "%s", strerror(errno));
            else
                cr_error_set(err, errnum == Z_DATA_ERROR ? CR_EFORMAT : CR_EIO, r->name,
                             "%s", msg);
            return -1;
        }
        return got;
    }
    if (!r->inflating) {
        size_t left = r->mem_size - r->mem_pos, k = n < left ? n : left;
        memcpy(buf, r->mem + r->mem_pos, k);
        r->mem_pos += k;
        return (long long)k;
    }
    r->zs.next_out = buf;
    r->zs.avail_out = (uInt)n;
    while (r->zs.avail_out > 0 && !r->inflate_done) {
        if (r->zs.avail_in == 0) {
            size_t left = r->mem_size - r->mem_pos;
            if (left == 0) {
                data_fail(err, CR_EFORMAT, r->name, 0, 0,
                          "truncated gzip data (unexpected end of file)");
                return -1;
            }
            r->zs.next_in = (Bytef *)(r->mem + r->mem_pos);
            r->zs.avail_in = left < UINT_MAX ? (uInt)left : UINT_MAX;
            r->mem_pos += r->zs.avail_in;
        }
        int z = inflate(&r->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END)
            r->inflate_done = 1;
        else if (z == Z_MEM_ERROR) {
            data_fail(err, CR_ENOMEM, r->name, 0, 0, "out of memory in zlib");
            return -1;
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            data_fail(err, CR_EFORMAT, r->name, 0, 0, "corrupt gzip data (%s)",
                      r->zs.msg ? r->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (long long)(n - r->zs.avail_out);
}

/* Reads exactly n bytes unless the data ends: the count read, or -1. */
static long long reader_fill(reader *r, void *buf, size_t n, cr_error *err)
{
    size_t got = 0;
    while (got < n) {
        long long k = reader_read(r, (unsigned char *)buf + got, n - got, err);
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long long)got;
}

/* ---- numbers in text ---- */

/* Parses a whole field as a double: 1 if it is a number (possibly NaN or
 * infinite), 0 otherwise. */
static int parse_number(const char *p, size_t len, double *out)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (memchr(p, '\0', len))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len)
        return 0;
    *out = v; /* ERANGE: overflow gives ±HUGE_VAL (refused later), underflow ~0 */
    return 1;
}

/* ---- CSV ---- */

typedef struct field {
    char *p;
    size_t len;
} field;

typedef struct csv_state {
    reader r;
    const char *name;
    char delim;
    size_t max_line;
    unsigned char *chunk;
    size_t chunk_pos, chunk_len;
    int eof;
    char *line;
    size_t line_len, line_cap;
    size_t lineno;
    field *fields;
    size_t n_fields, cap_fields;
} csv_state;

/* Next line into s->line (NUL-terminated, without CR/LF): 1, 0 at the end
 * of the data, or a negative status with err set. */
static int csv_next_line(csv_state *s, cr_error *err)
{
    s->line_len = 0;
    int any = 0;
    for (;;) {
        if (s->chunk_pos == s->chunk_len) {
            if (s->eof)
                break;
            long long k = reader_read(&s->r, s->chunk, CHUNK, err);
            if (k < 0)
                return CR_EIO;
            if (k == 0) {
                s->eof = 1;
                break;
            }
            s->chunk_pos = 0;
            s->chunk_len = (size_t)k;
        }
        any = 1;
        unsigned char *start = s->chunk + s->chunk_pos;
        size_t avail = s->chunk_len - s->chunk_pos;
        unsigned char *nl = memchr(start, '\n', avail);
        size_t seg = nl ? (size_t)(nl - start) : avail;
        if (seg > s->max_line - s->line_len)
            return data_fail(err, CR_ERANGE, s->name, s->lineno + 1, 0,
                             "line longer than %zu bytes", s->max_line);
        if (cr_grow((void **)&s->line, &s->line_cap, s->line_len + seg + 1, 1) != CR_OK)
            return data_fail(err, CR_ENOMEM, s->name, s->lineno + 1, 0, "out of memory");
        memcpy(s->line + s->line_len, start, seg);
        s->line_len += seg;
        s->chunk_pos += seg + (nl ? 1 : 0);
        if (nl)
            break;
    }
    if (!any)
        return 0;
    if (s->lineno++ == 0 && s->line_len >= 3 && memcmp(s->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(s->line, s->line + 3, s->line_len - 3); /* a UTF-8 byte order mark */
        s->line_len -= 3;
    }
    if (s->line_len && s->line[s->line_len - 1] == '\r')
        s->line_len--;
    s->line[s->line_len] = '\0';
    return 1;
}

static int is_blank(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

static cr_status add_field(csv_state *s, char *p, size_t len, cr_error *err)
{
    if (cr_grow((void **)&s->fields, &s->cap_fields, s->n_fields + 1, sizeof *s->fields) !=
        CR_OK)
        return data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
    s->fields[s->n_fields++] = (field){p, len};
    return CR_OK;
}

/* Splits s->line into s->fields (in place: quotes are removed). */
static cr_status csv_split(csv_state *s, cr_error *err)
{
    char *l = s->line, d = s->delim;
    size_t n = s->line_len, i = 0;
    s->n_fields = 0;
    for (;;) {
        size_t col = s->n_fields + 1;
        while (i < n && is_blank(l[i], d))
            i++;
        size_t start = i, end;
        if (i < n && l[i] == '"') {
            size_t out = i;
            int closed = 0;
            start = out;
            for (i++; i < n;) {
                if (l[i] == '"' && i + 1 < n && l[i + 1] == '"') {
                    l[out++] = '"';
                    i += 2;
                } else if (l[i] == '"') {
                    closed = 1;
                    i++;
                    break;
                } else {
                    l[out++] = l[i++];
                }
            }
            if (!closed)
                return data_fail(err, CR_EFORMAT, s->name, s->lineno, col,
                                 "unterminated quote");
            end = out;
            while (i < n && is_blank(l[i], d))
                i++;
            if (i < n && l[i] != d)
                return data_fail(err, CR_EFORMAT, s->name, s->lineno, col,
                                 "text after a closing quote");
        } else {
            while (i < n && l[i] != d)
                i++;
            end = i;
            while (end > start && is_blank(l[end - 1], d))
                end--;
        }
        cr_status st = add_field(s, l + start, end - start, err);
        if (st != CR_OK)
            return st;
        if (i >= n)
            return CR_OK;
        i++; /* the delimiter */
    }
}

/* Next non-blank line, split: 1, 0 at the end, or a negative status. */
static int csv_next_row(csv_state *s, cr_error *err)
{
    for (;;) {
        int k = csv_next_line(s, err);
        if (k <= 0)
            return k;
        size_t i = 0;
        while (i < s->line_len && (s->line[i] == ' ' || s->line[i] == '\t'))
            i++;
        if (i == s->line_len)
            continue;
        cr_status st = csv_split(s, err);
        return st == CR_OK ? 1 : st;
    }
}

/* How much of a field a message quotes (at most 40 bytes). */
#define SHOWN(f) ((int)((f)->len < 40 ? (f)->len : 40))

/* Column j's role: a feature (its index) or a target. */
typedef struct column_role {
    int is_target;
    size_t index;
} column_role;

/* Resolves target specifications into roles of the ncols columns. */
static cr_status csv_roles(csv_state *s, const cr_csv_options *o, int header,
                           column_role *roles, size_t *n_feat, size_t *n_targ,
                           cr_error *err)
{
    size_t ncols = s->n_fields, nt = 0;
    for (size_t j = 0; j < ncols; j++)
        roles[j] = (column_role){0, 0};
    if (!o->no_targets && o->num_targets == 0) {
        roles[ncols - 1] = (column_role){1, 0};
        nt = 1;
    }
    for (size_t t = 0; !o->no_targets && t < o->num_targets; t++) {
        const char *spec = o->targets[t];
        size_t len = strlen(spec), col = 0;
        for (size_t j = 0; header && j < ncols && !col; j++)
            if (s->fields[j].len == len && memcmp(s->fields[j].p, spec, len) == 0)
                col = j + 1;
        if (!col && len > 0 && len < 20 && strspn(spec, "0123456789") == len) {
            col = (size_t)strtoull(spec, NULL, 10);
            if (col < 1 || col > ncols)
                return data_fail(err, CR_ENOTFOUND, s->name, 0, 0,
                                 "target column %s does not exist (the file has %zu "
                                 "columns)",
                                 spec, ncols);
        }
        if (!col)
            return data_fail(
                err, CR_ENOTFOUND, s->name, 0, 0, "no column named '%.64s'%s", spec,
                header ? "" : " (the file has no header; give a 1-based index)");
        if (roles[col - 1].is_target)
            return data_fail(err, CR_EINVAL, s->name, 0, 0,
                             "target column %zu is given twice", col);
        roles[col - 1] = (column_role){1, t};
        nt++;
    }
    if (nt == ncols)
        return data_fail(err, CR_EINVAL, s->name, 0, 0,
                         "every column is a target; no feature columns are left");
    size_t nf = 0;
    for (size_t j = 0; j < ncols; j++)
        if (!roles[j].is_target)
            roles[j].index = nf++;
    *n_feat = nf;
    *n_targ = nt;
    return CR_OK;
}

static cr_status csv_check_options(const cr_csv_options *o, cr_error *err)
{
    const char *w = "csv";
    char d = o->delimiter;
    if (d == '"' || d == '\r' || d == '\n')
        return cr_error_set(err, CR_EINVAL, w,
                            "the delimiter cannot be a quote or line end");
    if ((unsigned)o->header > CR_CSV_HEADER_NO)
        return cr_error_set(err, CR_EINVAL, w, "unknown header mode %d", (int)o->header);
    if (o->num_targets && !o->targets)
        return cr_error_set(err, CR_EINVAL, w, "num_targets is %zu but targets is NULL",
                            o->num_targets);
    for (size_t t = 0; t < o->num_targets; t++)
        if (!o->targets[t])
            return cr_error_set(err, CR_EINVAL, w, "target %zu is NULL", t + 1);
    if (o->one_hot && (o->no_targets || o->num_targets > 1))
        return cr_error_set(err, CR_EINVAL, w, "one_hot needs exactly one target column");
    if (o->num_classes > CR_DATA_MAX_CLASSES)
        return cr_error_set(err, CR_EINVAL, w, "num_classes %zu exceeds the limit %d",
                            o->num_classes, CR_DATA_MAX_CLASSES);
    return CR_OK;
}

/* Growing arrays of numbers. */
typedef struct numbers {
    double *v;
    size_t n, cap;
} numbers;

static cr_status numbers_add(numbers *a, double x)
{
    if (a->n == a->cap && cr_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v) != CR_OK)
        return CR_ENOMEM;
    a->v[a->n++] = x;
    return CR_OK;
}

/* Moves the numbers (rows * cols of them) into a new [rows, cols] tensor
 * that adopts their buffer, shrunk to fit: no copy. On failure the numbers
 * stay with the caller. */
static cr_tensor *numbers_to_tensor(numbers *a, size_t rows, size_t cols, cr_error *err)
{
    size_t shape[2] = {rows, cols};
    cr_tensor *t = cr_malloc(sizeof *t);
    if (!t) {
        cr_error_set(err, CR_ENOMEM, "csv", "out of memory");
        return NULL;
    }
    if (cr_tensor_set_shape(t, 2, shape, err) != CR_OK) {
        cr_free(t);
        return NULL;
    }
    double *fit = cr_realloc(a->v, a->n * sizeof *a->v);
    t->data = fit ? fit : a->v; /* a failed shrink keeps the larger buffer */
    t->flags = CR_TENSOR_OWNS_DATA;
    *a = (numbers){0};
    return t;
}

/* Labels [rows, 1] into a new one-hot [rows, K] tensor (K = num_classes or
 * max + 1); labels were checked to be integers in range while reading. */
static cr_tensor *one_hot(const double *labels, size_t rows, size_t *num_classes,
                          cr_error *err)
{
    size_t k = *num_classes;
    if (k == 0)
        for (size_t i = 0; i < rows; i++)
            if ((size_t)labels[i] + 1 > k)
                k = (size_t)labels[i] + 1;
    size_t shape[2] = {rows, k};
    cr_tensor *t = cr_tensor_new(2, shape, err);
    if (!t)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        t->data[i * k + (size_t)labels[i]] = 1.0;
    *num_classes = k;
    return t;
}

/* A label must be an integer in 0..K-1 (K given, or the limit). */
static int label_ok(double v, size_t k)
{
    size_t limit = k ? k : CR_DATA_MAX_CLASSES;
    return v >= 0 && v < (double)limit && v == floor(v);
}

static cr_dataset *csv_load(csv_state *s, const cr_csv_options *opts, cr_error *err)
{
    cr_csv_options o = {0};
    if (opts)
        o = *opts;
    if (o.delimiter == 0)
        o.delimiter = ',';
    if (o.max_line == 0)
        o.max_line = CR_CSV_MAX_LINE;
    s->name = s->r.name;
    s->delim = o.delimiter;
    s->max_line = o.max_line;
    numbers xs = {0}, ys = {0};
    column_role *roles = NULL;
    cr_dataset *ds = NULL;
    size_t ncols = 0, nf = 0, nt = 0, rows = 0;
    int header = 0;
    s->chunk = cr_malloc(CHUNK);
    if (!s->chunk) {
        data_fail(err, CR_ENOMEM, s->name, 0, 0, "out of memory");
        goto done;
    }
    int k = csv_next_row(s, err);
    if (k < 0)
        goto done;
    if (k == 0) {
        data_fail(err, CR_EFORMAT, s->name, 0, 0, "empty file");
        goto done;
    }
    ncols = s->n_fields;
    header = o.header == CR_CSV_HEADER_YES;
    if (o.header == CR_CSV_HEADER_AUTO) {
        double v;
        for (size_t j = 0; j < ncols && !header; j++)
            header =
                s->fields[j].len && !parse_number(s->fields[j].p, s->fields[j].len, &v);
    }
    roles = cr_calloc(ncols, sizeof *roles);
    if (!roles) {
        data_fail(err, CR_ENOMEM, s->name, 0, 0, "out of memory");
        goto done;
    }
    if (csv_roles(s, &o, header, roles, &nf, &nt, err) != CR_OK)
        goto done;
    if (header)
        k = csv_next_row(s, err);
    while (k == 1) {
        if (s->n_fields != ncols) {
            data_fail(err, CR_EFORMAT, s->name, s->lineno, 0, "%zu fields, expected %zu",
                      s->n_fields, ncols);
            goto done;
        }
        for (size_t j = 0; j < ncols; j++) {
            const field *f = &s->fields[j];
            double v;
            if (f->len == 0) {
                data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1, "empty field");
                goto done;
            }
            if (!parse_number(f->p, f->len, &v)) {
                data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1,
                          "'%.*s%s' is not a number", SHOWN(f), f->p,
                          f->len > 40 ? "..." : "");
                goto done;
            }
            if (!isfinite(v)) {
                data_fail(err, CR_EDOMAIN, s->name, s->lineno, j + 1,
                          "'%.*s' is not a finite number", SHOWN(f), f->p);
                goto done;
            }
            if (roles[j].is_target && o.one_hot && !label_ok(v, o.num_classes)) {
                data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1,
                          "label '%.*s' is not an integer in 0..%zu", SHOWN(f), f->p,
                          (o.num_classes ? o.num_classes : CR_DATA_MAX_CLASSES) - 1);
                goto done;
            }
            if (!roles[j].is_target && numbers_add(&xs, v) != CR_OK) {
                data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
                goto done;
            }
        }
        /* targets in the order the options give them */
        for (size_t t = 0; t < nt; t++) {
            size_t j = 0;
            while (!(roles[j].is_target && roles[j].index == t))
                j++;
            double v;
            parse_number(s->fields[j].p, s->fields[j].len, &v);
            if (numbers_add(&ys, v) != CR_OK) {
                data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
                goto done;
            }
        }
        if (++rows == o.max_rows)
            break;
        k = csv_next_row(s, err);
    }
    if (k < 0)
        goto done;
    if (rows == 0) {
        data_fail(err, CR_EFORMAT, s->name, 0, 0, "no data rows");
        goto done;
    }
    size_t num_classes = o.num_classes;
    cr_tensor *x = numbers_to_tensor(&xs, rows, nf, err), *y = NULL;
    if (x && nt) {
        if (o.one_hot)
            y = one_hot(ys.v, rows, &num_classes, err);
        else
            y = numbers_to_tensor(&ys, rows, nt, err);
        if (!y) {
            cr_tensor_free(x);
            goto done;
        }
    }
    if (x)
        ds = cr_dataset_new(x, y, o.one_hot ? num_classes : 0, err);
done:
    cr_free(xs.v);
    cr_free(ys.v);
    cr_free(roles);
    cr_free(s->chunk);
    cr_free(s->line);
    cr_free(s->fields);
    reader_close(&s->r);
    return ds;
}

static cr_dataset *csv_load_body(const char *path, const cr_csv_options *opts,
                                 cr_error *err)
{
    if (!path) {
        cr_error_set(err, CR_EINVAL, "csv", "path is NULL");
        return NULL;
    }
    if (opts && csv_check_options(opts, err) != CR_OK)
        return NULL;
    csv_state s = {0};
    if (reader_open_file(&s.r, path, err) != CR_OK)
        return NULL;
    return csv_load(&s, opts, err);
}

cr_dataset *cr_csv_load(const char *path, const cr_csv_options *opts, cr_error *err)
{
    cr_dataset *result;
    CR_IN_C_LOCALE(result, csv_load_body(path, opts, err));
    return result;
}

static cr_dataset *csv_load_mem_body(const void *data, size_t size, const char *name,
                                     const cr_csv_options *opts, cr_error *err)
{
    if (opts && csv_check_options(opts, err) != CR_OK)
        return NULL;
    csv_state s = {0};
    if (reader_open_mem(&s.r, data, size, name, err) != CR_OK)
        return NULL;
    return csv_load(&s, opts, err);
}

cr_dataset *cr_csv_load_mem(const void *data, size_t size, const char *name,
                            const cr_csv_options *opts, cr_error *err)
{
    cr_dataset *result;
    CR_IN_C_LOCALE(result, csv_load_mem_body(data, size, name, opts, err));
    return result;
}

/* ---- IDX ---- */

/* Element type codes of the IDX format and their sizes in bytes. */
static size_t idx_type_size(unsigned char type)
{
    switch (type) {
    case 0x08: /* unsigned byte */
    case 0x09: /* signed byte */
        return 1;
    case 0x0B: /* short */
        return 2;
    case 0x0C: /* int */
    case 0x0D: /* float */
        return 4;
    case 0x0E: /* double */
        return 8;
    default:
        return 0;
    }
}

/* Big-endian element i of the raw data as a double. */
static double idx_value(const unsigned char *p, unsigned char type)
{
    uint64_t u = 0;
    size_t size = idx_type_size(type);
    for (size_t b = 0; b < size; b++)
        u = (u << 8) | p[b];
    switch (type) {
    case 0x08:
        return (double)u;
    case 0x09:
        return (double)(int8_t)u;
    case 0x0B:
        return (double)(int16_t)(uint16_t)u;
    case 0x0C:
        return (double)(int32_t)(uint32_t)u;
    case 0x0D: {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof f);
        return (double)f;
    }
    default: {
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    }
}

/* What the header of an IDX source says, and its raw (big-endian) data. */
typedef struct idx_raw {
    unsigned char type;
    size_t ndims;
    size_t n, row, count, esize; /* items kept, values per item, n * row */
    unsigned char *raw;          /* count * esize bytes (cr_free) */
} idx_raw;

/* Reads and validates an IDX source's header and the data of its first
 * max_rows items (all when 0) into *out. Does not close the reader. */
static cr_status idx_read_raw(reader *r, size_t max_rows, idx_raw *out, cr_error *err)
{
    const char *name = r->name;
    unsigned char head[4 + 4 * 4], *raw = NULL;
    size_t raw_cap = 0;
    cr_status status = CR_EFORMAT;
    long long got = reader_fill(r, head, 4, err);
    if (got < 0)
        goto done;
    if (got < 4) {
        status = data_fail(err, CR_EFORMAT, name, 0, 0,
                           "truncated header (%lld of 4 bytes)", got);
        goto done;
    }
    if (head[0] || head[1]) {
        status = data_fail(err, CR_EFORMAT, name, 0, 0,
                           "bad magic 0x%02x%02x%02x%02x: not an IDX file", head[0],
                           head[1], head[2], head[3]);
        goto done;
    }
    unsigned char type = head[2];
    size_t esize = idx_type_size(type), ndims = head[3];
    if (!esize) {
        status =
            data_fail(err, CR_EFORMAT, name, 0, 0, "unknown element type 0x%02x", type);
        goto done;
    }
    if (ndims < 1 || ndims > 4) {
        status = data_fail(err, CR_EFORMAT, name, 0, 0,
                           "%zu dimensions; IDX files with 1 to 4 are supported", ndims);
        goto done;
    }
    got = reader_fill(r, head + 4, 4 * ndims, err);
    if (got < 0)
        goto done;
    if ((size_t)got < 4 * ndims) {
        status =
            data_fail(err, CR_EFORMAT, name, 0, 0, "truncated header (%zu of %zu bytes)",
                      4 + (size_t)got, 4 + 4 * ndims);
        goto done;
    }
    size_t dims[4], items = 0, row = 1;
    for (size_t i = 0; i < ndims; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        dims[i] = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
        if (dims[i] == 0) {
            status = data_fail(err, CR_EFORMAT, name, 0, 0, "dimension %zu is 0", i + 1);
            goto done;
        }
        if (i == 0) {
            items = dims[0];
        } else {
            if (row > SIZE_MAX / dims[i]) {
                status = data_fail(err, CR_ERANGE, name, 0, 0, "dimensions overflow");
                goto done;
            }
            row *= dims[i];
        }
    }
    size_t n = max_rows && max_rows < items ? max_rows : items;
    size_t shape[2] = {n, row}, count;
    if (cr_shape_count(2, shape, &count) != CR_OK || count > SIZE_MAX / esize) {
        status = data_fail(err, CR_ERANGE, name, 0, 0, "dimensions overflow");
        goto done;
    }
    /* Read the raw bytes first, growing as they arrive, so a header that
     * promises more than the file holds costs no more than the file. */
    size_t want = count * esize, have = 0;
    while (have < want) {
        size_t step = want - have < CHUNK * 16 ? want - have : CHUNK * 16;
        if (cr_grow((void **)&raw, &raw_cap, have + step, 1) != CR_OK) {
            status = data_fail(err, CR_ENOMEM, name, 0, 0, "out of memory");
            goto done;
        }
        long long k = reader_fill(r, raw + have, step, err);
        if (k < 0)
            goto done;
        have += (size_t)k;
        if ((size_t)k < step)
            break;
    }
    if (have < want) {
        status = data_fail(err, CR_EFORMAT, name, 0, 0,
                           "truncated: %zu bytes of data expected, %zu found", want, have);
        goto done;
    }
    if (n == items) {
        size_t extra = 0;
        unsigned char buf[4096];
        long long k;
        while ((k = reader_read(r, buf, sizeof buf, err)) > 0)
            extra += (size_t)k;
        if (k < 0)
            goto done;
        if (extra) {
            status =
                data_fail(err, CR_EFORMAT, name, 0, 0, "%zu bytes after the data", extra);
            goto done;
        }
    }
    *out = (idx_raw){.type = type,
                     .ndims = ndims,
                     .n = n,
                     .row = row,
                     .count = count,
                     .esize = esize,
                     .raw = raw};
    return CR_OK;
done:
    cr_free(raw);
    return err ? err->status : status;
}

/* Reads an IDX source into a new tensor, as cr_idx_read documents; *rank1
 * tells whether the file was 1-D. Closes the reader. */
static cr_tensor *idx_read(reader *r, const cr_idx_options *opts, int *rank1,
                           size_t *classes, cr_error *err)
{
    cr_idx_options o = {0};
    if (opts)
        o = *opts;
    const char *name = r->name;
    cr_tensor *t = NULL;
    idx_raw x = {0};
    if (o.num_classes > CR_DATA_MAX_CLASSES) {
        cr_error_set(err, CR_EINVAL, "idx", "num_classes %zu exceeds the limit %d",
                     o.num_classes, CR_DATA_MAX_CLASSES);
        goto done;
    }
    if (idx_read_raw(r, o.max_rows, &x, err) != CR_OK)
        goto done;
    const unsigned char type = x.type, *raw = x.raw;
    const size_t ndims = x.ndims, n = x.n, row = x.row, count = x.count, esize = x.esize;
    size_t shape[2] = {n, row};
    t = cr_tensor_new(2, shape, err);
    if (!t)
        goto done;
    double scale = o.scale && type == 0x08 && ndims > 1 ? 1.0 / 255.0 : 1.0;
    if (type == 0x08) /* unsigned bytes: always finite, one vectorisable loop */
        for (size_t i = 0; i < count; i++)
            t->data[i] = (double)raw[i] * scale;
    for (size_t i = type == 0x08 ? count : 0; i < count; i++) {
        double v = idx_value(raw + i * esize, type);
        if (!isfinite(v)) {
            data_fail(err, CR_EDOMAIN, name, 0, 0, "item %zu, value %zu is %g", i / row + 1,
                      i % row + 1, v);
            goto fail;
        }
        t->data[i] = v * scale;
    }
    *rank1 = ndims == 1;
    *classes = 0;
    if (ndims == 1) {
        /* Labels: checked when they are to be classes; otherwise K is
         * inferred only if every value is a valid label. */
        int check = o.one_hot || o.num_classes, valid = 1;
        size_t k = o.num_classes;
        for (size_t i = 0; i < n && valid; i++) {
            if (label_ok(t->data[i], o.num_classes)) {
                if (!o.num_classes && (size_t)t->data[i] + 1 > k)
                    k = (size_t)t->data[i] + 1;
            } else if (check) {
                data_fail(err, CR_EFORMAT, name, 0, 0,
                          "item %zu: label %g is not an integer "
                          "in 0..%zu",
                          i + 1, t->data[i],
                          (o.num_classes ? o.num_classes : CR_DATA_MAX_CLASSES) - 1);
                goto fail;
            } else {
                valid = 0;
                k = 0;
            }
        }
        if (o.one_hot) {
            cr_tensor *h = one_hot(t->data, n, &k, err);
            cr_tensor_free(t);
            t = h;
        }
        *classes = k;
    }
    goto done;
fail:
    cr_tensor_free(t);
    t = NULL;
done:
    cr_free(x.raw);
    reader_close(r);
    return t;
}

cr_status cr_idx_read_bytes(const char *path, size_t max_rows, cr_idx_bytes *out,
                            cr_error *err)
{
    if (!out)
        return cr_error_set(err, CR_EINVAL, "idx", "the result is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return cr_error_set(err, CR_EINVAL, "idx", "path is NULL");
    reader r;
    cr_status st = reader_open_file(&r, path, err);
    if (st != CR_OK)
        return st;
    idx_raw x = {0};
    st = idx_read_raw(&r, max_rows, &x, err);
    reader_close(&r);
    if (st != CR_OK)
        return st;
    if (x.type != 0x08) {
        cr_free(x.raw);
        return data_fail(err, CR_EFORMAT, path, 0, 0,
                         "element type 0x%02x: only unsigned bytes (0x08) can be kept as "
                         "bytes",
                         x.type);
    }
    *out = (cr_idx_bytes){.items = x.n, .item_size = x.row, .data = x.raw};
    return CR_OK;
}

void cr_idx_bytes_free(cr_idx_bytes *b)
{
    if (!b)
        return;
    cr_free(b->data);
    memset(b, 0, sizeof *b);
}

cr_tensor *cr_idx_read(const char *path, const cr_idx_options *opts, cr_error *err)
{
    reader r;
    int rank1;
    size_t classes;
    if (!path) {
        cr_error_set(err, CR_EINVAL, "idx", "path is NULL");
        return NULL;
    }
    if (reader_open_file(&r, path, err) != CR_OK)
        return NULL;
    return idx_read(&r, opts, &rank1, &classes, err);
}

cr_tensor *cr_idx_read_mem(const void *data, size_t size, const char *name,
                           const cr_idx_options *opts, cr_error *err)
{
    reader r;
    int rank1;
    size_t classes;
    if (reader_open_mem(&r, data, size, name, err) != CR_OK)
        return NULL;
    return idx_read(&r, opts, &rank1, &classes, err);
}

cr_dataset *cr_idx_load(const char *images_path, const char *labels_path,
                        const cr_idx_options *opts, cr_error *err)
{
    if (!images_path || !labels_path) {
        cr_error_set(err, CR_EINVAL, "idx", "a path is NULL");
        return NULL;
    }
    reader r;
    int rank1 = 0, labels_rank1 = 0;
    size_t classes = 0;
    if (reader_open_file(&r, images_path, err) != CR_OK)
        return NULL;
    cr_tensor *x = idx_read(&r, opts, &rank1, &classes, err), *y = NULL;
    if (!x)
        return NULL;
    if (reader_open_file(&r, labels_path, err) == CR_OK)
        y = idx_read(&r, opts, &labels_rank1, &classes, err);
    if (y && !labels_rank1) {
        data_fail(err, CR_ESHAPE, labels_path, 0, 0,
                  "a labels file must have 1 dimension, this one has items of %zu values",
                  y->shape[1]);
    } else if (y && y->shape[0] != x->shape[0]) {
        data_fail(err, CR_ESHAPE, labels_path, 0, 0, "%zu labels for %zu images in %s",
                  y->shape[0], x->shape[0], images_path);
    } else if (y) {
        return cr_dataset_new(x, y, classes, err);
    }
    cr_tensor_free(x);
    cr_tensor_free(y);
    return NULL;
}

/* ---- batching ---- */

cr_status cr_data_shuffle(size_t *indices, size_t n, unsigned long seed, cr_error *err)
{
    if (!indices && n > 0)
        return cr_error_set(err, CR_EINVAL, "shuffle", "indices are NULL");
    if (n < 2)
        return CR_OK;
    gsl_rng rng;
    if (cr_rng_open(&rng, seed) != CR_OK)
        return cr_error_set(err, CR_ENOMEM, "shuffle", "out of memory for the generator");
    gsl_ran_shuffle(&rng, indices, n, sizeof *indices);
    cr_rng_close(&rng);
    return CR_OK;
}

cr_status cr_data_gather(const cr_tensor *src, const size_t *rows, size_t n, cr_tensor *dst,
                         cr_error *err)
{
    const char *w = "gather";
    if (!src || !dst || (!rows && n > 0))
        return cr_error_set(err, CR_EINVAL, w, "an argument is NULL");
    if (src == dst)
        return cr_error_set(err, CR_EINVAL, w,
                            "source and destination are the same tensor");
    if (src->rank < 1 || dst->rank < 1)
        return cr_error_set(err, CR_ESHAPE, w, "source %s and destination %s need rows",
                            cr_shape_str(src).text, cr_shape_str(dst).text);
    size_t src_rows = src->shape[0], width = src->size / src_rows;
    if (dst->size / dst->shape[0] != width || dst->shape[0] < n)
        return cr_error_set(err, CR_ESHAPE, w, "cannot copy %zu rows of %s into %s", n,
                            cr_shape_str(src).text, cr_shape_str(dst).text);
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= src_rows)
            return cr_error_set(err, CR_ERANGE, w,
                                "row index %zu at position %zu is out of range (%zu rows)",
                                rows[i], i, src_rows);
    for (size_t i = 0; i < n; i++)
        memcpy(dst->data + i * width, src->data + rows[i] * width, width * sizeof(double));
    return CR_OK;
}

cr_status cr_dataset_batch(const cr_dataset *ds, const size_t *rows, size_t n, cr_tensor *x,
                           cr_tensor *y, cr_error *err)
{
    if (!ds)
        return cr_error_set(err, CR_EINVAL, "gather", "data set is NULL");
    cr_status st = cr_data_gather(ds->x, rows, n, x, err);
    if (st == CR_OK && ds->y && y)
        st = cr_data_gather(ds->y, rows, n, y, err);
    return st;
}

/* New [n, cols of src] tensor holding src's rows rows[0..n). */
static cr_tensor *take_rows(const cr_tensor *src, const size_t *rows, size_t n,
                            cr_error *err)
{
    size_t shape[2] = {n, src->shape[1]};
    cr_tensor *t = cr_tensor_new(2, shape, err);
    if (t && cr_data_gather(src, rows, n, t, err) != CR_OK) {
        cr_tensor_free(t);
        t = NULL;
    }
    return t;
}

cr_status cr_dataset_split(const cr_dataset *ds, double val_fraction, unsigned long seed,
                           cr_dataset **train, cr_dataset **val, cr_error *err)
{
    if (train)
        *train = NULL;
    if (val)
        *val = NULL;
    if (!ds || !train || !val)
        return cr_error_set(err, CR_EINVAL, "split", "an argument is NULL");
    size_t rows = ds->x->shape[0];
    double nv = isfinite(val_fraction) ? floor(val_fraction * (double)rows + 0.5) : 0;
    if (!(val_fraction > 0 && val_fraction < 1) || nv < 1 || nv > (double)rows - 1)
        return cr_error_set(
            err, CR_EINVAL, "split",
            "validation fraction %g of %zu rows must leave at least one row "
            "on each side",
            val_fraction, rows);
    size_t n_val = (size_t)nv, *perm = cr_malloc(rows * sizeof *perm);
    if (!perm)
        return cr_error_set(err, CR_ENOMEM, "split", "out of memory");
    for (size_t i = 0; i < rows; i++)
        perm[i] = i;
    cr_status st = cr_data_shuffle(perm, rows, seed, err);
    cr_dataset *parts[2] = {NULL, NULL};
    const size_t *start[2] = {perm + n_val, perm};
    size_t count[2] = {rows - n_val, n_val};
    for (int p = 0; p < 2 && st == CR_OK; p++) {
        cr_tensor *x = take_rows(ds->x, start[p], count[p], err), *y = NULL;
        if (x && ds->y)
            y = take_rows(ds->y, start[p], count[p], err);
        if (!x || (ds->y && !y)) {
            cr_tensor_free(x);
            st = CR_ENOMEM;
            break;
        }
        parts[p] = cr_dataset_new(x, y, ds->num_classes, err);
        if (!parts[p])
            st = CR_ENOMEM;
    }
    cr_free(perm);
    if (st != CR_OK) {
        cr_dataset_free(parts[0]);
        cr_dataset_free(parts[1]);
        return st;
    }
    *train = parts[0];
    *val = parts[1];
    return CR_OK;
}

/* ---- standardisation ---- */

static cr_standardizer *standardizer_alloc(size_t cols, cr_error *err)
{
    cr_standardizer *s = cr_calloc(1, sizeof *s);
    if (s) {
        s->cols = cols;
        s->mean = cr_calloc(cols, sizeof *s->mean);
        s->std = cr_calloc(cols, sizeof *s->std);
        if (s->mean && s->std)
            return s;
        cr_standardizer_free(s);
    }
    cr_error_set(err, CR_ENOMEM, "standardize", "out of memory");
    return NULL;
}

cr_standardizer *cr_standardizer_fit(const cr_tensor *x, cr_error *err)
{
    if (!x || x->rank != 2) {
        cr_error_set(err, CR_EINVAL, "standardize", "features must be a matrix, got %s",
                     x ? cr_shape_str(x).text : "NULL");
        return NULL;
    }
    size_t rows = x->shape[0], cols = x->shape[1];
    cr_standardizer *s = standardizer_alloc(cols, err);
    if (!s)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            s->mean[j] += x->data[i * cols + j];
    for (size_t j = 0; j < cols; j++)
        s->mean[j] /= (double)rows;
    /* two passes: the sum of squared deviations, not E[x^2] - E[x]^2 */
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double d = x->data[i * cols + j] - s->mean[j];
            s->std[j] += d * d;
        }
    for (size_t j = 0; j < cols; j++) {
        double sd = sqrt(s->std[j] / (double)rows);
        s->std[j] = sd > 0 && isfinite(sd) ? sd : 1.0;
    }
    return s;
}

cr_standardizer *cr_standardizer_new(size_t cols, const double *mean, const double *std,
                                     cr_error *err)
{
    if (cols == 0 || !mean || !std) {
        cr_error_set(err, CR_EINVAL, "standardize",
                     "need at least one column and two arrays");
        return NULL;
    }
    for (size_t j = 0; j < cols; j++) {
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0)) {
            cr_error_set(err, CR_EDOMAIN, "standardize",
                         "column %zu: mean %g and std %g must be finite, std above 0",
                         j + 1, mean[j], std[j]);
            return NULL;
        }
    }
    cr_standardizer *s = standardizer_alloc(cols, err);
    if (s) {
        memcpy(s->mean, mean, cols * sizeof *mean);
        memcpy(s->std, std, cols * sizeof *std);
    }
    return s;
}

void cr_standardizer_free(cr_standardizer *s)
{
    if (!s)
        return;
    cr_free(s->mean);
    cr_free(s->std);
    cr_free(s);
}

size_t cr_standardizer_cols(const cr_standardizer *s)
{
    return s->cols;
}
const double *cr_standardizer_mean(const cr_standardizer *s)
{
    return s->mean;
}
const double *cr_standardizer_std(const cr_standardizer *s)
{
    return s->std;
}

cr_status cr_standardizer_apply(const cr_standardizer *s, cr_tensor *x, cr_error *err)
{
    if (!s || !x)
        return cr_error_set(err, CR_EINVAL, "standardize", "an argument is NULL");
    if (x->rank != 2 || x->shape[1] != s->cols)
        return cr_error_set(err, CR_ESHAPE, "standardize",
                            "features %s do not have the %zu columns the statistics have",
                            cr_shape_str(x).text, s->cols);
    size_t rows = x->shape[0], cols = s->cols;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            x->data[i * cols + j] = (x->data[i * cols + j] - s->mean[j]) / s->std[j];
    return CR_OK;
}
