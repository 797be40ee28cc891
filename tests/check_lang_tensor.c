/*
 * check_lang_tensor.c - tests of tensors in the expression language
 * (chainrule/expr.h): value literals (cr_expr_parse_value) with their
 * shapes, values and every error with its message and column, seeded
 * random values, and allocation failures.
 */
#include "testutil.h"

#include <chainrule/expr.h>

#include <math.h>
#include <string.h>

/* Reads text as a value or fails the test. */
static cr_tensor *value_ok(const char *text, unsigned long seed)
{
    cr_tensor *t = NULL;
    cr_error err;
    cr_status st = cr_expr_parse_value(text, strlen(text), seed, &t, &err);
    ck_assert_msg(st == CR_OK, "value '%s': %s", text, err.message);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(test_value_numbers_and_lists)
{
    cr_tensor *t = value_ok("-2.385", 1);
    ck_assert_int_eq(cr_tensor_rank(t), 0);
    ck_assert_double_eq(cr_tensor_scalar(t), -2.385);
    cr_tensor_free(t);

    t = value_ok(" [[1.5, -2], [3e1, .25],\n [7, 0]] ", 1);
    ck_assert_int_eq(cr_tensor_rank(t), 2);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 3);
    ck_assert_uint_eq(cr_tensor_dim(t, 1), 2);
    const double want[] = {1.5, -2, 30, 0.25, 7, 0};
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(t, i), want[i]);
    cr_tensor_free(t);

    t = value_ok("[4.5]", 1);
    ck_assert_int_eq(cr_tensor_rank(t), 1);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 1);
    ck_assert_double_eq(cr_tensor_get(t, 0), 4.5);
    cr_tensor_free(t);

    t = value_ok("[[[[1, 2, 3]], [[4, 5, 6]]]]", 1); /* rank 4: 1x2x1x3 */
    ck_assert_int_eq(cr_tensor_rank(t), 4);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 1);
    ck_assert_uint_eq(cr_tensor_dim(t, 1), 2);
    ck_assert_uint_eq(cr_tensor_dim(t, 2), 1);
    ck_assert_uint_eq(cr_tensor_dim(t, 3), 3);
    ck_assert_double_eq(cr_tensor_get(t, 4), 5);
    cr_tensor_free(t);
}
END_TEST

/* Every error of a value, with its status, column and message. */
static const struct value_error {
    const char *text;
    cr_status status;
    int col;
    const char *message;
} value_errors[] = {
    {"[[1, 2], [3]]", CR_ESHAPE, 12, "a ragged list: [1] has 1 item, [0] has 2"},
    {"[[[1], [2]], [[3]]]", CR_ESHAPE, 18, "a ragged list: [1] has 1 item, [0] has 2"},
    {"[[[1, 2]], [[3]]]", CR_ESHAPE, 15, "a ragged list: [1][0] has 1 item, [0][0] has 2"},
    {"[1, [2]]", CR_ESHAPE, 5, "a list where a number belongs (at [1])"},
    {"[[1], 2]", CR_ESHAPE, 7, "a number where a list belongs (at [1])"},
    {"[[[[[1]]]]]", CR_ERANGE, 5, "more than 4 levels of brackets (the largest rank is 4)"},
    {"[]", CR_ESHAPE, 2, "an empty list (every dimension must be at least 1)"},
    {"[1, 2", CR_ESYNTAX, 6, "expected ',' or ']', got the end of the program"},
    {"[1 2]", CR_ESYNTAX, 4, "expected ',' or ']', got '2'"},
    {"[1, x]", CR_ESYNTAX, 5, "expected a number, got 'x'"},
    {"x", CR_ESYNTAX, 1,
     "expected a number, a list [...], rand(...) or randn(...), got 'x'"},
    {"", CR_ESYNTAX, 1,
     "expected a number, a list [...], rand(...) or randn(...), got the end of the "
     "program"},
    {"1 2", CR_ESYNTAX, 3, "expected the end of the value, got '2'"},
    {"[1.2.3]", CR_EFORMAT, 2, "malformed number '1.2.3'"},
    {"[1e999]", CR_ERANGE, 2, "number '1e999' is out of range"},
    {"rand(0)", CR_ESYNTAX, 6,
     "rand(): a size must be a whole number of at least 1, got '0'"},
    {"randn(2.5)", CR_ESYNTAX, 7,
     "randn(): a size must be a whole number of at least 1, got '2.5'"},
    {"rand(1, 1, 1, 1, 1)", CR_ERANGE, 18,
     "rand(): more than 4 sizes (the largest rank is 4)"},
    {"randn 3", CR_ESYNTAX, 7, "expected '(', got '3'"},
};

START_TEST(test_value_errors)
{
    const struct value_error *c = &value_errors[_i];
    cr_tensor *t = (cr_tensor *)&t; /* must become NULL */
    cr_error err;
    cr_status st = cr_expr_parse_value(c->text, strlen(c->text), 1, &t, &err);
    ck_assert_ptr_null(t);
    ck_assert_msg(st == c->status, "'%s': status %d, expected %d (%s)", c->text, st,
                  c->status, err.message);
    ck_assert_str_eq(err.message, c->message);
    ck_assert_int_eq(err.line, 1);
    ck_assert_int_eq(err.column, c->col);
}
END_TEST

START_TEST(test_value_random)
{
    cr_tensor *a = value_ok("randn(3, 4)", 7), *b = value_ok("randn(3,4)", 7);
    cr_tensor *c = value_ok("randn(3, 4)", 8);
    ck_assert_int_eq(cr_tensor_rank(a), 2);
    ck_assert_uint_eq(cr_tensor_dim(a, 0), 3);
    ck_assert_uint_eq(cr_tensor_dim(a, 1), 4);
    size_t same = 0;
    for (size_t i = 0; i < 12; i++) {
        ck_assert_double_eq(cr_tensor_get(a, i), cr_tensor_get(b, i));
        same += cr_tensor_get(a, i) == cr_tensor_get(c, i);
    }
    ck_assert_uint_eq(same, 0);
    cr_tensor_free(a);
    cr_tensor_free(b);
    cr_tensor_free(c);
    /* uniform on [0, 1): 2000 draws, all in range, mean near 1/2 */
    cr_tensor *u = value_ok("rand(2000)", 3);
    double sum = 0;
    for (size_t i = 0; i < 2000; i++) {
        const double v = cr_tensor_get(u, i);
        ck_assert(v >= 0 && v < 1);
        sum += v;
    }
    ck_assert_double_eq_tol(sum / 2000, 0.5, 0.03);
    cr_tensor_free(u);
}
END_TEST

START_TEST(test_value_null_and_alloc)
{
    cr_tensor *t;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse_value(NULL, 0, 1, &t, &err), CR_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(cr_expr_parse_value("1", 1, 1, NULL, &err), CR_EINVAL);
    const char *texts[] = {"[[1, 2, 3], [4, 5, 6]]", "randn(2, 3)", "-1.5"};
    for (size_t j = 0; j < 3; j++) {
        for (size_t k = 1; k < 100; k++) {
            test_alloc_install(k);
            cr_status st = cr_expr_parse_value(texts[j], strlen(texts[j]), 1, &t, &err);
            size_t failures = test_alloc.failures;
            cr_tensor_free(t);
            long live = test_alloc.live;
            test_alloc_uninstall();
            ck_assert_msg(st == (failures ? CR_ENOMEM : CR_OK), "%s k=%zu: %d", texts[j], k,
                          st);
            ck_assert_msg(live == 0, "%s k=%zu: %ld blocks leaked", texts[j], k, live);
            if (failures == 0)
                break;
        }
    }
}
END_TEST

Suite *lang_tensor_suite(void)
{
    Suite *s = suite_create("lang_tensor");
    TCase *tc = tcase_create("lang_tensor");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_value_numbers_and_lists);
    tcase_add_loop_test(tc, test_value_errors, 0,
                        (int)(sizeof value_errors / sizeof value_errors[0]));
    tcase_add_test(tc, test_value_random);
    tcase_add_test(tc, test_value_null_and_alloc);
    suite_add_tcase(s, tc);
    return s;
}
