/*
 * sequence.c - sequences for recurrent networks: a series cut into
 * windows (the one place that does it, for numbers and for text), a
 * text's windows of symbol ids for next-character prediction, and numeric
 * sequences read from CSV (one sequence per row, or one value per row cut
 * into windows). The CSV itself is read by csv.c, the text by text.c.
 */
#include "io/data_internal.h"

#include <string.h>

/* New features [rows, xcols] and targets [rows, ycols] for a data set;
 * both or neither (CR_ENOMEM, err set). */
static cr_status new_pair(size_t rows, size_t xcols, size_t ycols, cr_tensor **x,
                          cr_tensor **y, cr_error *err)
{
    size_t xshape[2] = {rows, xcols}, yshape[2] = {rows, ycols};
    *x = cr_tensor_new(2, xshape, err);
    *y = *x ? cr_tensor_new(2, yshape, err) : NULL;
    if (*y)
        return CR_OK;
    cr_tensor_free(*x);
    return err ? err->status : CR_ENOMEM;
}

cr_dataset *cr_series_windows(const double *v, size_t n, size_t window, size_t stride,
                              int every_step, size_t num_classes, const char *name,
                              const char *unit, const char *next, cr_error *err)
{
    if (window == 0 || n < 2 || n - 1 < window) {
        cr_data_fail(err, CR_EFORMAT, name, 0, 0, "%zu %s: a window of %zu and %s need %zu",
                     n, unit, window, next, window + 1);
        return NULL;
    }
    if (stride == 0)
        stride = 1;
    size_t rows = (n - 1 - window) / stride + 1;
    cr_tensor *x, *y;
    if (new_pair(rows, window, every_step ? window : 1, &x, &y, err) != CR_OK)
        return NULL;
    for (size_t i = 0; i < rows; i++) {
        const double *src = v + i * stride;
        memcpy(x->data + i * window, src, window * sizeof *src);
        if (every_step)
            memcpy(y->data + i * window, src + 1, window * sizeof *src);
        else
            y->data[i] = src[window];
    }
    return cr_dataset_new(x, y, num_classes, err);
}

cr_dataset *cr_text_windows(const cr_text *t, size_t seq, size_t stride, cr_error *err)
{
    return cr_text_windows_vocab(t, NULL, seq, stride, 1, err);
}

cr_dataset *cr_text_windows_vocab(const cr_text *t, const cr_vocab *v, size_t seq,
                                  size_t stride, int every_step, cr_error *err)
{
    if (!t || seq == 0) {
        cr_error_set(err, CR_EINVAL, "text", t ? "the window length is 0" : "text is NULL");
        return NULL;
    }
    size_t n = cr_text_length(t);
    double *ids = cr_calloc(n, sizeof *ids);
    if (!ids) {
        cr_error_set(err, CR_ENOMEM, "text", "out of memory");
        return NULL;
    }
    if (!v)
        v = cr_text_vocab(t);
    cr_dataset *ds = NULL;
    cr_status st = cr_vocab_encode(v, cr_text_bytes(t), n, ids, err);
    if (st == CR_OK)
        ds = cr_series_windows(ids, n, seq, stride ? stride : seq, every_step != 0,
                               cr_vocab_size(v), cr_text_name(t), "bytes", "its next byte",
                               err);
    else if (err) { /* the file's name in front of the byte that is not known */
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        cr_error_set(err, st, "text", "%s: %s", cr_text_name(t), msg);
    }
    cr_free(ids);
    return ds;
}

/* ---- numeric sequences from CSV ---- */

/* The features of one sequence per row: all columns but the last, whose
 * value is the target. */
static cr_dataset *sequence_rows(const cr_tensor *all, const char *name, cr_error *err)
{
    size_t rows = all->shape[0], cols = all->shape[1];
    if (cols < 2) {
        cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                     "rows of 1 value: a sequence needs at least 2");
        return NULL;
    }
    cr_tensor *x, *y;
    if (new_pair(rows, cols - 1, 1, &x, &y, err) != CR_OK)
        return NULL;
    for (size_t i = 0; i < rows; i++) {
        memcpy(x->data + i * (cols - 1), all->data + i * cols, (cols - 1) * sizeof(double));
        y->data[i] = all->data[i * cols + cols - 1];
    }
    return cr_dataset_new(x, y, 0, err);
}

/* The data set opts asks for, from a CSV read without targets. */
static cr_dataset *sequence_from(cr_dataset *all, const char *name,
                                 const cr_sequence_options *opts, cr_error *err)
{
    if (!all)
        return NULL;
    cr_tensor *t = cr_dataset_features(all);
    cr_dataset *ds = NULL;
    if (!opts || opts->window == 0)
        ds = sequence_rows(t, name, err);
    else if (t->shape[1] != 1)
        cr_data_fail(err, CR_EFORMAT, name, 0, 0,
                     "%zu columns: a series cut into windows has one value per row",
                     t->shape[1]);
    else
        ds = cr_series_windows(t->data, t->shape[0], opts->window, opts->stride,
                               opts->every_step, 0, name, "values", "its target", err);
    cr_dataset_free(all);
    return ds;
}

/* The CSV loader's options for a sequence file: every column a feature. */
static cr_csv_options sequence_csv(const cr_sequence_options *opts)
{
    cr_csv_options c = {0};
    c.no_targets = 1;
    if (opts) {
        c.header = opts->header;
        c.delimiter = opts->delimiter;
        c.max_input = opts->max_input;
    }
    return c;
}

cr_dataset *cr_sequence_load(const char *path, const cr_sequence_options *opts,
                             cr_error *err)
{
    cr_csv_options c = sequence_csv(opts);
    return sequence_from(cr_csv_load(path, &c, err), path, opts, err);
}

cr_dataset *cr_sequence_load_mem(const void *data, size_t size, const char *name,
                                 const cr_sequence_options *opts, cr_error *err)
{
    cr_csv_options c = sequence_csv(opts);
    return sequence_from(cr_csv_load_mem(data, size, name, &c, err),
                         name ? name : "<memory>", opts, err);
}
