/*
 * idx.c - the IDX (MNIST format) cr_source: the header validated, the data
 * read from a byte source (plain or gzip'd, file or memory) into a tensor
 * of doubles (cr_idx_read*), kept as bytes (cr_idx_read_bytes), or two
 * files, images and labels, into a data set (cr_idx_load).
 */
#include "io/data_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The options' input limit (0, or no options: the default). */
static size_t input_limit(const cr_idx_options *opts) { return opts ? opts->max_input : 0; }

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
 * max_rows items (all when 0) into *out. Does not close the cr_source. */
static cr_status idx_read_raw(cr_source *r, size_t max_rows, idx_raw *out, cr_error *err)
{
    const char *name = r->name;
    unsigned char head[4 + 4 * 4], *raw = NULL;
    size_t raw_cap = 0;
    cr_status status = CR_EFORMAT;
    long long got = cr_source_fill(r, head, 4, err);
    if (got < 0)
        goto done;
    if (got < 4) {
        status = cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                              "truncated header (%lld of 4 bytes)", got);
        goto done;
    }
    if (head[0] || head[1]) {
        status = cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                              "bad magic 0x%02x%02x%02x%02x: not an IDX file", head[0],
                              head[1], head[2], head[3]);
        goto done;
    }
    unsigned char type = head[2];
    size_t esize = idx_type_size(type), ndims = head[3];
    if (!esize) {
        status =
            cr_data_fail(err, CR_EFORMAT, name, 0, 0, "unknown element type 0x%02x", type);
        goto done;
    }
    if (ndims < 1 || ndims > 4) {
        status = cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                              "%zu dimensions; IDX files with 1 to 4 are supported", ndims);
        goto done;
    }
    got = cr_source_fill(r, head + 4, 4 * ndims, err);
    if (got < 0)
        goto done;
    if ((size_t)got < 4 * ndims) {
        status =
            cr_data_fail(err, CR_EFORMAT, name, 0, 0, "truncated header (%zu of %zu bytes)",
                         4 + (size_t)got, 4 + 4 * ndims);
        goto done;
    }
    size_t dims[4], items = 0, row = 1;
    for (size_t i = 0; i < ndims; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        dims[i] = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
        if (dims[i] == 0) {
            status = cr_data_fail(err, CR_EFORMAT, name, 0, 0, "dimension %zu is 0", i + 1);
            goto done;
        }
        if (i == 0) {
            items = dims[0];
        } else {
            if (row > SIZE_MAX / dims[i]) {
                status = cr_data_fail(err, CR_ERANGE, name, 0, 0, "dimensions overflow");
                goto done;
            }
            row *= dims[i];
        }
    }
    size_t n = max_rows && max_rows < items ? max_rows : items;
    size_t shape[2] = {n, row}, count;
    if (cr_shape_count(2, shape, &count) != CR_OK || count > SIZE_MAX / esize) {
        status = cr_data_fail(err, CR_ERANGE, name, 0, 0, "dimensions overflow");
        goto done;
    }
    /* Before anything is allocated: the data must fit in what is left of
     * the source (plain), or in what that can inflate to (gzip'd), and in
     * the input limit. */
    size_t want = count * esize, have = 0;
    if (want > cr_source_bound(r)) {
        if (r->inflating)
            status = cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                                  "the header promises %zu bytes of data, more than the "
                                  "%zu gzip'd bytes left can hold (deflate expands at most "
                                  "%d times)",
                                  want, cr_source_raw_left(r), CR_DEFLATE_MAX_RATIO);
        else
            status = cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                                  "truncated: %zu bytes of data expected, %zu found", want,
                                  cr_source_raw_left(r));
        goto done;
    }
    if (want > r->max_input - r->out_total) {
        status = cr_data_fail(err, CR_ERANGE, name, 0, 0,
                              "the header promises %zu bytes of data, past the input limit "
                              "of %zu bytes (max_input)",
                              want, r->max_input);
        goto done;
    }
    /* Read the raw bytes, growing as they arrive (from a pipe, a header
     * that promises more than the data holds costs no more than it). */
    while (have < want) {
        size_t step = want - have < CR_DATA_CHUNK * 16 ? want - have : CR_DATA_CHUNK * 16;
        if (cr_grow((void **)&raw, &raw_cap, have + step, 1) != CR_OK) {
            status = cr_data_fail(err, CR_ENOMEM, name, 0, 0, "out of memory");
            goto done;
        }
        long long k = cr_source_fill(r, raw + have, step, err);
        if (k < 0)
            goto done;
        have += (size_t)k;
        if ((size_t)k < step)
            break;
    }
    if (have < want) {
        status =
            cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                         "truncated: %zu bytes of data expected, %zu found", want, have);
        goto done;
    }
    if (n == items) {
        size_t extra = 0;
        unsigned char buf[4096];
        long long k;
        while ((k = cr_source_read(r, buf, sizeof buf, err)) > 0)
            extra += (size_t)k;
        if (k < 0)
            goto done;
        if (extra) {
            status = cr_data_fail(err, CR_EFORMAT, name, 0, 0, "%zu bytes after the data",
                                  extra);
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
 * tells whether the file was 1-D. Closes the cr_source. */
static cr_tensor *idx_read(cr_source *r, const cr_idx_options *opts, int *rank1,
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
            cr_data_fail(err, CR_EDOMAIN, name, 0, 0, "item %zu, value %zu is %g",
                         i / row + 1, i % row + 1, v);
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
            if (cr_label_ok(t->data[i], o.num_classes)) {
                if (!o.num_classes && (size_t)t->data[i] + 1 > k)
                    k = (size_t)t->data[i] + 1;
            } else if (check) {
                cr_data_fail(err, CR_EFORMAT, name, 0, 0,
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
            cr_tensor *h = cr_labels_one_hot(t->data, n, &k, err);
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
    cr_source_close(r);
    return t;
}

cr_status cr_idx_read_bytes(const char *path, const cr_idx_options *opts, cr_idx_bytes *out,
                            cr_error *err)
{
    if (!out)
        return cr_error_set(err, CR_EINVAL, "idx", "the result is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return cr_error_set(err, CR_EINVAL, "idx", "path is NULL");
    cr_source r;
    cr_status st = cr_source_open_file(&r, path, input_limit(opts), err);
    if (st != CR_OK)
        return st;
    idx_raw x = {0};
    st = idx_read_raw(&r, opts ? opts->max_rows : 0, &x, err);
    cr_source_close(&r);
    if (st != CR_OK)
        return st;
    if (x.type != 0x08) {
        cr_free(x.raw);
        return cr_data_fail(
            err, CR_EFORMAT, path, 0, 0,
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
    cr_source r;
    int rank1;
    size_t classes;
    if (!path) {
        cr_error_set(err, CR_EINVAL, "idx", "path is NULL");
        return NULL;
    }
    if (cr_source_open_file(&r, path, input_limit(opts), err) != CR_OK)
        return NULL;
    return idx_read(&r, opts, &rank1, &classes, err);
}

cr_tensor *cr_idx_read_mem(const void *data, size_t size, const char *name,
                           const cr_idx_options *opts, cr_error *err)
{
    cr_source r;
    int rank1;
    size_t classes;
    if (cr_source_open_mem(&r, data, size, name, input_limit(opts), err) != CR_OK)
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
    cr_source r;
    int rank1 = 0, labels_rank1 = 0;
    size_t classes = 0;
    if (cr_source_open_file(&r, images_path, input_limit(opts), err) != CR_OK)
        return NULL;
    cr_tensor *x = idx_read(&r, opts, &rank1, &classes, err), *y = NULL;
    if (!x)
        return NULL;
    if (cr_source_open_file(&r, labels_path, input_limit(opts), err) == CR_OK)
        y = idx_read(&r, opts, &labels_rank1, &classes, err);
    if (y && !labels_rank1) {
        cr_data_fail(
            err, CR_ESHAPE, labels_path, 0, 0,
            "a labels file must have 1 dimension, this one has items of %zu values",
            y->shape[1]);
    } else if (y && y->shape[0] != x->shape[0]) {
        cr_data_fail(err, CR_ESHAPE, labels_path, 0, 0, "%zu labels for %zu images in %s",
                     y->shape[0], x->shape[0], images_path);
    } else if (y) {
        return cr_dataset_new(x, y, classes, err);
    }
    cr_tensor_free(x);
    cr_tensor_free(y);
    return NULL;
}
