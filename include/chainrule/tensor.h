/*
 * chainrule/tensor.h - dense row-major tensors of doubles, rank 0 to 4.
 *
 * A scalar is a rank-0 tensor of size 1. Tensors made with cr_tensor_new*
 * belong to the caller, who frees them with cr_tensor_free(). Tensors
 * returned by graph getters (cr_node_value, cr_node_grad) are borrowed:
 * read them, never free or reshape them.
 */
#ifndef CHAINRULE_TENSOR_H
#define CHAINRULE_TENSOR_H

#include "chainrule/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_MAX_RANK 4

typedef struct cr_tensor cr_tensor;

/* New zero-filled tensor of the given rank (0..CR_MAX_RANK) and shape
 * (shape may be NULL when rank is 0). Every dimension must be at least 1.
 * Returns a new tensor (caller frees), or NULL with err set: CR_EINVAL for a
 * bad rank or zero dimension, CR_ERANGE if the element count or byte size
 * overflows, CR_ENOMEM. */
CR_API cr_tensor *cr_tensor_new(int rank, const size_t *shape, cr_error *err);

/* New rank-0 tensor holding value. Caller frees; NULL on CR_ENOMEM. */
CR_API cr_tensor *cr_tensor_new_scalar(double value, cr_error *err);

/* New tensor of the given shape with its elements copied from data (which
 * holds exactly the element count, row-major). Caller frees. Errors as
 * cr_tensor_new, plus CR_EINVAL if data is NULL. */
CR_API cr_tensor *cr_tensor_new_from(int rank, const size_t *shape, const double *data,
                                     cr_error *err);

/* New deep copy of src. Caller frees; NULL on CR_EINVAL (src NULL) or
 * CR_ENOMEM. */
CR_API cr_tensor *cr_tensor_copy(const cr_tensor *src, cr_error *err);

/* Frees a tensor made by cr_tensor_new*, cr_tensor_copy or another call that
 * says "caller frees". NULL is accepted. Never pass a borrowed tensor. */
CR_API void cr_tensor_free(cr_tensor *t);

/* Sets every element to value. Does nothing for a NULL t. */
CR_API void cr_tensor_fill(cr_tensor *t, double value);

/* Copies src's elements into dst. Both must have the same shape, else
 * CR_ESHAPE with the two shapes in err. */
CR_API cr_status cr_tensor_assign(cr_tensor *dst, const cr_tensor *src, cr_error *err);

/* Changes the shape of a caller-owned tensor in place, keeping its elements
 * in row-major order. The element count must stay the same (CR_ESHAPE
 * otherwise); rank and dimensions are checked as in cr_tensor_new. CR_EINVAL
 * for a NULL t. */
CR_API cr_status cr_tensor_reshape(cr_tensor *t, int rank, const size_t *shape,
                                   cr_error *err);

/* Shape queries. cr_tensor_shape returns a borrowed array of rank entries
 * valid while t lives; cr_tensor_dim returns 0 for an axis out of range.
 * For a NULL t: rank -1, dimension and size 0, shape NULL; same_shape is 0
 * when either tensor is NULL. */
CR_API int cr_tensor_rank(const cr_tensor *t);
CR_API size_t cr_tensor_dim(const cr_tensor *t, int axis);
CR_API const size_t *cr_tensor_shape(const cr_tensor *t);
CR_API size_t cr_tensor_size(const cr_tensor *t);
CR_API int cr_tensor_same_shape(const cr_tensor *a, const cr_tensor *b);

/* Element access. cr_tensor_data returns the borrowed, row-major elements;
 * cr_tensor_data_mut the same for writing (caller-owned tensors only).
 * cr_tensor_get returns element i in row-major order, NaN if i is out of
 * range; cr_tensor_scalar returns element 0. For a NULL t: NULL data, NaN
 * elements. */
CR_API const double *cr_tensor_data(const cr_tensor *t);
CR_API double *cr_tensor_data_mut(cr_tensor *t);
CR_API double cr_tensor_get(const cr_tensor *t, size_t i);
CR_API double cr_tensor_scalar(const cr_tensor *t);

/* Writes a shape as "[2,3]" ("[]" for a scalar) into buf (always
 * NUL-terminated when size > 0; buf may be NULL: only the length is
 * wanted; shape may be NULL when rank is 0). Returns the length it would
 * need, like snprintf; -1 (and "") for a NULL shape with rank > 0. */
CR_API int cr_shape_format(char *buf, size_t size, int rank, const size_t *shape);

/* Multiplies the dimensions of a shape into *count, checking for overflow
 * of the element count and of its size in bytes; count may be NULL (the
 * shape is only checked), shape too when rank is 0. Returns CR_OK,
 * CR_EINVAL (bad rank, zero dimension, NULL shape with rank > 0) or
 * CR_ERANGE. */
CR_API cr_status cr_shape_count(int rank, const size_t *shape, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
