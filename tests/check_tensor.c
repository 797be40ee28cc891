/*
 * check_tensor.c - tests of caller-owned tensors: creation, copy, fill,
 * assign, reshape, shape queries, NULL tensors, overflow-checked sizes,
 * rejected shapes, shape formatting, and status texts.
 */
#include <config.h>

#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

START_TEST(test_new_zero_filled)
{
    cr_error err;
    size_t shape[3] = {2, 3, 4};
    cr_tensor *t = cr_tensor_new(3, shape, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cr_tensor_rank(t), 3);
    ck_assert_uint_eq(cr_tensor_size(t), 24);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 2);
    ck_assert_uint_eq(cr_tensor_dim(t, 1), 3);
    ck_assert_uint_eq(cr_tensor_dim(t, 2), 4);
    ck_assert_uint_eq(cr_tensor_dim(t, 3), 0);
    ck_assert_uint_eq(cr_tensor_dim(t, -1), 0);
    const size_t *s = cr_tensor_shape(t);
    ck_assert_uint_eq(s[0], 2);
    ck_assert_uint_eq(s[2], 4);
    for (size_t i = 0; i < 24; i++)
        ck_assert_double_eq(cr_tensor_get(t, i), 0.0);
    ck_assert(isnan(cr_tensor_get(t, 24)));
    cr_tensor_free(t);
}
END_TEST

START_TEST(test_scalar_and_from)
{
    cr_error err;
    cr_tensor *s = cr_tensor_new_scalar(2.385, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(cr_tensor_rank(s), 0);
    ck_assert_uint_eq(cr_tensor_size(s), 1);
    ck_assert_double_eq(cr_tensor_scalar(s), 2.385);

    const double data[6] = {1.5, -2.25, 3.125, 4.0, -5.5, 6.75};
    size_t shape[2] = {2, 3};
    cr_tensor *m = cr_tensor_new_from(2, shape, data, &err);
    ck_assert_ptr_nonnull(m);
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_data(m)[i], data[i]);
    ck_assert_double_eq(cr_tensor_get(m, 4), -5.5);

    ck_assert_ptr_null(cr_tensor_new_from(2, shape, NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "data is NULL");
    cr_tensor_free(s);
    cr_tensor_free(m);
}
END_TEST

START_TEST(test_copy_fill_assign)
{
    cr_error err;
    const double data[4] = {0.5, 1.5, 2.5, 3.5};
    size_t shape[2] = {2, 2};
    cr_tensor *a = cr_tensor_new_from(2, shape, data, &err);
    cr_tensor *b = cr_tensor_copy(a, &err);
    ck_assert_ptr_nonnull(b);
    ck_assert(cr_tensor_same_shape(a, b));
    ck_assert_ptr_ne(cr_tensor_data(a), cr_tensor_data(b));
    cr_tensor_fill(a, -7.25);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq(cr_tensor_get(a, i), -7.25);
        ck_assert_double_eq(cr_tensor_get(b, i), data[i]); /* deep copy */
    }
    ck_assert_int_eq(cr_tensor_assign(a, b, &err), CR_OK);
    ck_assert_double_eq(cr_tensor_get(a, 3), 3.5);

    size_t vshape[1] = {4};
    cr_tensor *v = cr_tensor_new(1, vshape, &err);
    ck_assert_int_eq(cr_tensor_assign(v, a, &err), CR_ESHAPE);
    ck_assert_str_eq(err.message, "cannot assign [2,2] to [4]");
    ck_assert_ptr_null(cr_tensor_copy(NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    cr_tensor_free(a);
    cr_tensor_free(b);
    cr_tensor_free(v);
}
END_TEST

START_TEST(test_reshape)
{
    cr_error err;
    const double data[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    cr_tensor *t = cr_tensor_new_from(2, shape, data, &err);
    size_t s32[2] = {3, 2};
    ck_assert_int_eq(cr_tensor_reshape(t, 2, s32, &err), CR_OK);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 3);
    ck_assert_uint_eq(cr_tensor_dim(t, 1), 2);
    ck_assert_double_eq(cr_tensor_get(t, 5), 6.0); /* row-major order kept */
    size_t s6[1] = {6};
    ck_assert_int_eq(cr_tensor_reshape(t, 1, s6, &err), CR_OK);
    ck_assert_int_eq(cr_tensor_rank(t), 1);
    size_t s4[1] = {4};
    ck_assert_int_eq(cr_tensor_reshape(t, 1, s4, &err), CR_ESHAPE);
    ck_assert_str_eq(err.message, "cannot reshape [6] (6 elements) to [4] (4 elements)");
    ck_assert_int_eq(cr_tensor_rank(t), 1); /* unchanged */
    size_t s0[2] = {6, 0};
    ck_assert_int_eq(cr_tensor_reshape(t, 2, s0, &err), CR_EINVAL);
    ck_assert_int_eq(cr_tensor_reshape(t, 1, NULL, &err), CR_EINVAL);
    ck_assert_int_eq(cr_tensor_rank(t), 1); /* unchanged */
    /* a NULL tensor: CR_EINVAL with a message, not a crash */
    ck_assert_int_eq(cr_tensor_reshape(NULL, 1, s6, &err), CR_EINVAL);
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "tensor is NULL");
    ck_assert_int_eq(cr_tensor_reshape(NULL, 1, s6, NULL), CR_EINVAL);
    cr_tensor_free(t);
}
END_TEST

/* Getters given a NULL tensor return the policy's "nothing". */
START_TEST(test_null_tensor)
{
    cr_tensor_fill(NULL, 2.5);
    ck_assert_int_eq(cr_tensor_rank(NULL), -1);
    ck_assert_uint_eq(cr_tensor_dim(NULL, 0), 0);
    ck_assert_ptr_null(cr_tensor_shape(NULL));
    ck_assert_uint_eq(cr_tensor_size(NULL), 0);
    ck_assert_ptr_null(cr_tensor_data(NULL));
    ck_assert_ptr_null(cr_tensor_data_mut(NULL));
    ck_assert(isnan(cr_tensor_get(NULL, 0)));
    ck_assert(isnan(cr_tensor_scalar(NULL)));
    cr_tensor *t = cr_tensor_new_scalar(-0.75, NULL);
    ck_assert_int_eq(cr_tensor_same_shape(t, t), 1);
    ck_assert_int_eq(cr_tensor_same_shape(t, NULL), 0);
    ck_assert_int_eq(cr_tensor_same_shape(NULL, t), 0);
    ck_assert_int_eq(cr_tensor_same_shape(NULL, NULL), 0);
    ck_assert_double_eq(cr_tensor_scalar(t), -0.75);
    cr_tensor_free(t);
}
END_TEST

START_TEST(test_bad_shapes)
{
    cr_error err;
    size_t zero[2] = {3, 0};
    ck_assert_ptr_null(cr_tensor_new(2, zero, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "rank must be 0..4 and every dimension at least 1");
    size_t five[5] = {1, 1, 1, 1, 1};
    ck_assert_ptr_null(cr_tensor_new(5, five, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_ptr_null(cr_tensor_new(-1, five, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_ptr_null(cr_tensor_new(2, NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);

    /* element count overflows size_t */
    size_t huge[2] = {SIZE_MAX / 2, 3};
    ck_assert_ptr_null(cr_tensor_new(2, huge, &err));
    ck_assert_int_eq(err.status, CR_ERANGE);
    ck_assert_str_eq(err.message, "element count overflows");
    /* element count fits but its byte size does not */
    size_t bytes[1] = {SIZE_MAX / 4};
    ck_assert_ptr_null(cr_tensor_new(1, bytes, &err));
    ck_assert_int_eq(err.status, CR_ERANGE);
    size_t count = 0;
    size_t four[4] = {1u << 16, 1u << 16, 1u << 16, 1u << 16};
    ck_assert_int_eq(cr_shape_count(4, four, &count), CR_ERANGE);
    size_t ok[3] = {7, 11, 13};
    ck_assert_int_eq(cr_shape_count(3, ok, &count), CR_OK);
    ck_assert_uint_eq(count, 1001);
    ck_assert_int_eq(cr_shape_count(0, NULL, &count), CR_OK);
    ck_assert_uint_eq(count, 1);
    /* the error struct is optional */
    ck_assert_ptr_null(cr_tensor_new(2, zero, NULL));
}
END_TEST

START_TEST(test_shape_format)
{
    char buf[64];
    size_t shape[4] = {2, 3, 40, 5};
    ck_assert_int_eq(cr_shape_format(buf, sizeof buf, 2, shape), 5);
    ck_assert_str_eq(buf, "[2,3]");
    ck_assert_int_eq(cr_shape_format(buf, sizeof buf, 0, NULL), 2);
    ck_assert_str_eq(buf, "[]");
    ck_assert_int_eq(cr_shape_format(buf, sizeof buf, 4, shape), 10);
    ck_assert_str_eq(buf, "[2,3,40,5]");
    /* truncated, always terminated, returns the needed length */
    ck_assert_int_eq(cr_shape_format(buf, 4, 4, shape), 10);
    ck_assert_str_eq(buf, "[2,");
    size_t big[1] = {SIZE_MAX};
    cr_shape_format(buf, sizeof buf, 1, big);
    ck_assert_str_eq(buf, "[18446744073709551615]");
    /* a NULL buf asks for the length; a NULL shape of rank > 0 is -1 */
    ck_assert_int_eq(cr_shape_format(NULL, 0, 2, shape), 5);
    ck_assert_int_eq(cr_shape_format(NULL, sizeof buf, 2, shape), 5);
    ck_assert_int_eq(cr_shape_format(buf, sizeof buf, 2, NULL), -1);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_strerror_and_error)
{
    ck_assert_str_eq(cr_strerror(CR_OK), "success");
    ck_assert_str_eq(cr_strerror(CR_ENOMEM), "out of memory");
    ck_assert_str_eq(cr_strerror(CR_ESHAPE), "shape mismatch");
    ck_assert_str_eq(cr_strerror(CR_ERANGE), "size out of range");
    ck_assert_str_eq(cr_strerror((cr_status)-999), "unknown status");
    for (int s = CR_OK; s >= CR_ECHECK; s--)
        ck_assert_str_ne(cr_strerror((cr_status)s), "unknown status");
    cr_error err;
    size_t zero[1] = {0};
    cr_tensor_new(1, zero, &err);
    ck_assert_int_ne(err.status, CR_OK);
    cr_error_clear(&err);
    ck_assert_int_eq(err.status, CR_OK);
    ck_assert_str_eq(err.message, "");
    ck_assert_str_eq(err.where, "");
    cr_error_clear(NULL);
    ck_assert_str_eq(cr_version(), PACKAGE_VERSION);
}
END_TEST

Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_test(tc, test_new_zero_filled);
    tcase_add_test(tc, test_scalar_and_from);
    tcase_add_test(tc, test_copy_fill_assign);
    tcase_add_test(tc, test_reshape);
    tcase_add_test(tc, test_null_tensor);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_shape_format);
    tcase_add_test(tc, test_strerror_and_error);
    suite_add_tcase(s, tc);
    return s;
}
