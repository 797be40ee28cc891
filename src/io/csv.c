/*
 * csv.c - the streaming CSV loader (cr_csv_load, cr_csv_load_mem): lines
 * from a byte source, split into fields (quotes, blanks, a delimiter),
 * numbers read the C way, target columns resolved by name or index, and
 * the rows gathered into a new data set.
 */
#include "io/data_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    cr_source r;
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
            long long k = cr_source_read(&s->r, s->chunk, CR_DATA_CHUNK, err);
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
            return cr_data_fail(err, CR_ERANGE, s->name, s->lineno + 1, 0,
                                "line longer than %zu bytes", s->max_line);
        if (cr_grow((void **)&s->line, &s->line_cap, s->line_len + seg + 1, 1) != CR_OK)
            return cr_data_fail(err, CR_ENOMEM, s->name, s->lineno + 1, 0, "out of memory");
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

static int is_blank(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

static cr_status add_field(csv_state *s, char *p, size_t len, cr_error *err)
{
    if (cr_grow((void **)&s->fields, &s->cap_fields, s->n_fields + 1, sizeof *s->fields) !=
        CR_OK)
        return cr_data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
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
                return cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, col,
                                    "unterminated quote");
            end = out;
            while (i < n && is_blank(l[i], d))
                i++;
            if (i < n && l[i] != d)
                return cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, col,
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
                return cr_data_fail(err, CR_ENOTFOUND, s->name, 0, 0,
                                    "target column %s does not exist (the file has %zu "
                                    "columns)",
                                    spec, ncols);
        }
        if (!col)
            return cr_data_fail(
                err, CR_ENOTFOUND, s->name, 0, 0, "no column named '%.64s'%s", spec,
                header ? "" : " (the file has no header; give a 1-based index)");
        if (roles[col - 1].is_target)
            return cr_data_fail(err, CR_EINVAL, s->name, 0, 0,
                                "target column %zu is given twice", col);
        roles[col - 1] = (column_role){1, t};
        nt++;
    }
    if (nt == ncols)
        return cr_data_fail(err, CR_EINVAL, s->name, 0, 0,
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

/* Fills *hi with how the first line (in s->fields) is read. */
static void header_report(const csv_state *s, int header, int detected,
                          cr_csv_header_info *hi)
{
    *hi = (cr_csv_header_info){.is_header = header,
                               .detected = detected,
                               .line = s->lineno,
                               .fields = s->n_fields};
    for (size_t j = 0; j < s->n_fields; j++) {
        const field *f = &s->fields[j];
        double v;
        if (f->len && parse_number(f->p, f->len, &v)) {
            hi->numbers++;
        } else if (f->len && !hi->text_column) {
            hi->text_column = j + 1;
            size_t n = f->len < sizeof hi->text - 1 ? f->len : sizeof hi->text - 1;
            memcpy(hi->text, f->p, n);
            hi->text[n] = '\0';
        }
    }
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
    s->chunk = cr_malloc(CR_DATA_CHUNK);
    if (!s->chunk) {
        cr_data_fail(err, CR_ENOMEM, s->name, 0, 0, "out of memory");
        goto done;
    }
    int k = csv_next_row(s, err);
    if (k < 0)
        goto done;
    if (k == 0) {
        cr_data_fail(err, CR_EFORMAT, s->name, 0, 0, "empty file");
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
    if (o.header_info)
        header_report(s, header, o.header == CR_CSV_HEADER_AUTO, o.header_info);
    roles = cr_calloc(ncols, sizeof *roles);
    if (!roles) {
        cr_data_fail(err, CR_ENOMEM, s->name, 0, 0, "out of memory");
        goto done;
    }
    if (csv_roles(s, &o, header, roles, &nf, &nt, err) != CR_OK)
        goto done;
    if (header)
        k = csv_next_row(s, err);
    while (k == 1) {
        if (s->n_fields != ncols) {
            cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, 0, "%zu fields, expected %zu",
                         s->n_fields, ncols);
            goto done;
        }
        for (size_t j = 0; j < ncols; j++) {
            const field *f = &s->fields[j];
            double v;
            if (f->len == 0) {
                cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1, "empty field");
                goto done;
            }
            if (!parse_number(f->p, f->len, &v)) {
                cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1,
                             "'%.*s%s' is not a number", SHOWN(f), f->p,
                             f->len > 40 ? "..." : "");
                goto done;
            }
            if (!isfinite(v)) {
                cr_data_fail(err, CR_EDOMAIN, s->name, s->lineno, j + 1,
                             "'%.*s' is not a finite number", SHOWN(f), f->p);
                goto done;
            }
            if (roles[j].is_target && o.one_hot && !cr_label_ok(v, o.num_classes)) {
                cr_data_fail(err, CR_EFORMAT, s->name, s->lineno, j + 1,
                             "label '%.*s' is not an integer in 0..%zu", SHOWN(f), f->p,
                             (o.num_classes ? o.num_classes : CR_DATA_MAX_CLASSES) - 1);
                goto done;
            }
            if (!roles[j].is_target && numbers_add(&xs, v) != CR_OK) {
                cr_data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
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
                cr_data_fail(err, CR_ENOMEM, s->name, s->lineno, 0, "out of memory");
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
        cr_data_fail(err, CR_EFORMAT, s->name, 0, 0, "no data rows");
        goto done;
    }
    size_t num_classes = o.num_classes;
    cr_tensor *x = numbers_to_tensor(&xs, rows, nf, err), *y = NULL;
    if (x && nt) {
        if (o.one_hot)
            y = cr_labels_one_hot(ys.v, rows, &num_classes, err);
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
    cr_source_close(&s->r);
    return ds;
}

static cr_dataset *csv_load_body(const char *path, const cr_csv_options *opts,
                                 cr_error *err)
{
    if (opts && opts->header_info)
        memset(opts->header_info, 0, sizeof *opts->header_info);
    if (!path) {
        cr_error_set(err, CR_EINVAL, "csv", "path is NULL");
        return NULL;
    }
    if (opts && csv_check_options(opts, err) != CR_OK)
        return NULL;
    csv_state s = {0};
    if (cr_source_open_file(&s.r, path, opts ? opts->max_input : 0, err) != CR_OK)
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
    if (opts && opts->header_info)
        memset(opts->header_info, 0, sizeof *opts->header_info);
    if (opts && csv_check_options(opts, err) != CR_OK)
        return NULL;
    csv_state s = {0};
    if (cr_source_open_mem(&s.r, data, size, name, opts ? opts->max_input : 0, err) !=
        CR_OK)
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
