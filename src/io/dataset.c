/*
 * dataset.c - the cr_dataset object, class labels made one-hot (for the
 * CSV and IDX readers), shuffling with a seeded generator (rng.h), batch
 * gathering, the train/validation split and per-column feature
 * standardisation.
 */
#include "io/data_internal.h"
#include "core/rng.h"

#include <gsl/gsl_randist.h>

#include <math.h>
#include <string.h>

struct cr_dataset {
    cr_tensor *x, *y;
    size_t num_classes;
};

struct cr_standardizer {
    size_t cols;
    double *mean, *std;
};

/* ---- data sets ---- */

cr_dataset *cr_dataset_new(cr_tensor *features, cr_tensor *targets, size_t num_classes,
                           cr_error *err)
{
    cr_status st = CR_OK;
    if (!features)
        st = cr_error_set(err, CR_EINVAL, "dataset", "features are NULL");
    else if (targets == features)
        st = cr_error_set(err, CR_EINVAL, "dataset",
                          "features and targets are the same tensor");
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
        if (targets != features)
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

size_t cr_dataset_rows(const cr_dataset *ds) { return ds ? ds->x->shape[0] : 0; }
size_t cr_dataset_cols(const cr_dataset *ds) { return ds ? ds->x->shape[1] : 0; }
size_t cr_dataset_target_cols(const cr_dataset *ds)
{
    return ds && ds->y ? ds->y->shape[1] : 0;
}
size_t cr_dataset_num_classes(const cr_dataset *ds) { return ds ? ds->num_classes : 0; }
cr_tensor *cr_dataset_features(cr_dataset *ds) { return ds ? ds->x : NULL; }
cr_tensor *cr_dataset_targets(cr_dataset *ds) { return ds ? ds->y : NULL; }

/* ---- class labels ---- */

/* Labels [rows, 1] into a new one-hot [rows, K] tensor (K = num_classes or
 * max + 1); labels were checked to be integers in range while reading. */
cr_tensor *cr_labels_one_hot(const double *labels, size_t rows, size_t *num_classes,
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
int cr_label_ok(double v, size_t k)
{
    size_t limit = k ? k : CR_DATA_MAX_CLASSES;
    return v >= 0 && v < (double)limit && v == floor(v);
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

size_t cr_standardizer_cols(const cr_standardizer *s) { return s ? s->cols : 0; }
const double *cr_standardizer_mean(const cr_standardizer *s) { return s ? s->mean : NULL; }
const double *cr_standardizer_std(const cr_standardizer *s) { return s ? s->std : NULL; }

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
