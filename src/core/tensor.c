/*
 * tensor.c - caller-owned dense tensors: creation with overflow-checked
 * sizes, copy, fill, reshape, shape queries and shape formatting. Node
 * values use the same struct with storage in their graph's arena.
 */
#include "core/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

cr_status cr_shape_count(int rank, const size_t *shape, size_t *count)
{
    if (rank < 0 || rank > CR_MAX_RANK || (rank > 0 && !shape))
        return CR_EINVAL;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] == 0)
            return CR_EINVAL;
        if (n > SIZE_MAX / shape[i])
            return CR_ERANGE;
        n *= shape[i];
    }
    if (n > SIZE_MAX / sizeof(double))
        return CR_ERANGE;
    if (count)
        *count = n;
    return CR_OK;
}

int cr_shape_format(char *buf, size_t size, int rank, const size_t *shape)
{
    if (!shape && rank > 0)
        return cr_text_none(buf, size);
    if (!buf)
        size = 0; /* only the length is wanted */
    char text[CR_MAX_RANK * 24 + 4];
    size_t len = 0;
    text[len++] = '[';
    for (int i = 0; i < rank && i < CR_MAX_RANK; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%zu", i ? "," : "",
                                shape[i]);
    text[len++] = ']';
    text[len] = '\0';
    return snprintf(buf, size, "%s", text);
}

cr_shape_text cr_shape_str(const cr_tensor *t)
{
    cr_shape_text s;
    cr_shape_format(s.text, sizeof s.text, t->rank, t->shape);
    return s;
}

cr_status cr_tensor_set_shape(cr_tensor *t, int rank, const size_t *shape, cr_error *err)
{
    if (rank == 0) { /* a scalar graph's every node */
        t->rank = 0;
        for (int i = 0; i < CR_MAX_RANK; i++)
            t->shape[i] = 1;
        t->size = 1;
        return CR_OK;
    }
    size_t n;
    cr_status st = cr_shape_count(rank, shape, &n);
    if (st == CR_EINVAL)
        return cr_error_set(err, st, "tensor",
                            "rank must be 0..%d and every dimension at least 1",
                            CR_MAX_RANK);
    if (st == CR_ERANGE)
        return cr_error_set(err, st, "tensor", "element count overflows");
    t->rank = rank;
    for (int i = 0; i < CR_MAX_RANK; i++)
        t->shape[i] = i < rank ? shape[i] : 1;
    t->size = n;
    return CR_OK;
}

cr_tensor *cr_tensor_new(int rank, const size_t *shape, cr_error *err)
{
    cr_tensor tmp;
    if (cr_tensor_set_shape(&tmp, rank, shape, err) != CR_OK)
        return NULL;
    cr_tensor *t = cr_malloc(sizeof *t);
    double *data = t ? cr_calloc(tmp.size, sizeof(double)) : NULL;
    if (!data) {
        cr_free(t);
        cr_error_set(err, CR_ENOMEM, "tensor", "out of memory allocating %zu elements",
                     tmp.size);
        return NULL;
    }
    cr_advise_huge(data, tmp.size * sizeof(double));
    *t = tmp;
    t->data = data;
    t->flags = CR_TENSOR_OWNS_DATA;
    return t;
}

cr_tensor *cr_tensor_new_scalar(double value, cr_error *err)
{
    cr_tensor *t = cr_tensor_new(0, NULL, err);
    if (t)
        t->data[0] = value;
    return t;
}

cr_tensor *cr_tensor_new_from(int rank, const size_t *shape, const double *data,
                              cr_error *err)
{
    if (!data) {
        cr_error_set(err, CR_EINVAL, "tensor", "data is NULL");
        return NULL;
    }
    cr_tensor *t = cr_tensor_new(rank, shape, err);
    if (t)
        memcpy(t->data, data, t->size * sizeof(double));
    return t;
}

cr_tensor *cr_tensor_copy(const cr_tensor *src, cr_error *err)
{
    if (!src) {
        cr_error_set(err, CR_EINVAL, "tensor", "source tensor is NULL");
        return NULL;
    }
    return cr_tensor_new_from(src->rank, src->shape, src->data, err);
}

void cr_tensor_free(cr_tensor *t)
{
    if (!t)
        return;
    if (t->flags & CR_TENSOR_OWNS_DATA)
        cr_free(t->data);
    cr_free(t);
}

void cr_tensor_fill(cr_tensor *t, double value)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = value;
}

cr_status cr_tensor_assign(cr_tensor *dst, const cr_tensor *src, cr_error *err)
{
    if (!dst || !src)
        return cr_error_set(err, CR_EINVAL, "tensor", "tensor is NULL");
    if (!cr_tensor_same_shape(dst, src))
        return cr_error_set(err, CR_ESHAPE, "tensor", "cannot assign %s to %s",
                            cr_shape_str(src).text, cr_shape_str(dst).text);
    if (dst->data != src->data)
        memmove(dst->data, src->data, src->size * sizeof(double));
    return CR_OK;
}

cr_status cr_tensor_reshape(cr_tensor *t, int rank, const size_t *shape, cr_error *err)
{
    if (!t)
        return cr_error_set(err, CR_EINVAL, "tensor", "tensor is NULL");
    cr_tensor tmp;
    cr_status st = cr_tensor_set_shape(&tmp, rank, shape, err);
    if (st != CR_OK)
        return st;
    if (tmp.size != t->size) {
        char want[96];
        cr_shape_format(want, sizeof want, rank, shape);
        return cr_error_set(err, CR_ESHAPE, "tensor",
                            "cannot reshape %s (%zu elements) to %s (%zu elements)",
                            cr_shape_str(t).text, t->size, want, tmp.size);
    }
    t->rank = tmp.rank;
    memcpy(t->shape, tmp.shape, sizeof t->shape);
    return CR_OK;
}

int cr_tensor_rank(const cr_tensor *t) { return t ? t->rank : -1; }

size_t cr_tensor_dim(const cr_tensor *t, int axis)
{
    return t && axis >= 0 && axis < t->rank ? t->shape[axis] : 0;
}

const size_t *cr_tensor_shape(const cr_tensor *t) { return t ? t->shape : NULL; }
size_t cr_tensor_size(const cr_tensor *t) { return t ? t->size : 0; }

int cr_tensor_same_shape(const cr_tensor *a, const cr_tensor *b)
{
    if (!a || !b || a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const double *cr_tensor_data(const cr_tensor *t) { return t ? t->data : NULL; }
double *cr_tensor_data_mut(cr_tensor *t) { return t ? t->data : NULL; }

double cr_tensor_get(const cr_tensor *t, size_t i)
{
    return t && i < t->size ? t->data[i] : NAN;
}

double cr_tensor_scalar(const cr_tensor *t) { return t ? t->data[0] : NAN; }
