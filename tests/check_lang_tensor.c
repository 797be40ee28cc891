/*
 * check_lang_tensor.c - tests of tensors in the expression language
 * (chainrule/expr.h): value literals (cr_expr_parse_value) with their
 * shapes, values and every error with its message and column, seeded
 * random values, and allocation failures; programs over tensors (@,
 * indexing, lists, keyword arguments, the functions of vectors and
 * matrices) with their values, gradients and errors.
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

/* A program over X = [[1,2],[3,4]] and w = [1,-1] bound to input nodes
 * built in C: its output's value (all elements into out, n of them). */
static void run_program(const char *text, double *out, size_t n, double *dx)
{
    cr_graph *g = cr_graph_new();
    const size_t s2[2] = {2, 2}, s1[1] = {2};
    const double xv[4] = {1, 2, 3, 4}, wv[2] = {1, -1};
    cr_node *x = cr_input(g, "X", 2, s2), *w = cr_input(g, "w", 1, s1);
    ck_assert_int_eq(cr_node_set_data(x, xv, 4), CR_OK);
    ck_assert_int_eq(cr_node_set_data(w, wv, 2), CR_OK);
    cr_expr_program *p = NULL;
    cr_error err;
    cr_status st = cr_expr_parse(g, text, strlen(text), &p, &err);
    ck_assert_msg(st == CR_OK, "'%s': %s", text, err.message);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    const cr_tensor *v = cr_node_value(cr_expr_output(p)->node);
    ck_assert_msg(cr_tensor_size(v) == n, "'%s': %zu elements", text, cr_tensor_size(v));
    for (size_t i = 0; i < n; i++)
        out[i] = cr_tensor_get(v, i);
    if (dx) {
        cr_node_require_grad(x, 1);
        ck_assert_int_eq(cr_graph_backward(g, cr_expr_output(p)->node, 0), CR_OK);
        for (size_t i = 0; i < 4; i++)
            dx[i] = cr_tensor_get(cr_node_grad(x), i);
    }
    cr_expr_free(p);
    cr_graph_free(g);
}

START_TEST(test_tensor_programs)
{
    const struct {
        const char *text;
        size_t n;
        double v[4];
    } cases[] = {
        {"y = X @ w", 2, {-1, -1}},
        {"y = w @ X", 2, {-2, -2}},
        {"y = 2 * X @ w + 1", 2, {-1, -1}}, /* @ at the precedence of * */
        {"y = X[1]", 2, {3, 4}},
        {"y = X[-1, 0]", 1, {3}},
        {"y = X[:, 1]", 2, {2, 4}},
        {"y = X[0:1]", 2, {1, 2}},
        {"y = X[::2]", 2, {1, 2}},
        {"y = X[0]^2", 2, {1, 4}}, /* indexing binds tighter than ^ */
        {"y = [1, 2.5] * w", 2, {1, -2.5}},
        {"y = [[1, 0], [0, 2]] @ X", 4, {1, 2, 6, 8}},
        {"y = [w, 2*w]", 4, {1, -1, 2, -2}},
        {"y = sum(X, 1, keepdims=1)", 2, {3, 7}},
        {"y = sum(X, axis=0)", 2, {4, 6}},
        {"y = sum(X, keepdims=1)", 1, {10}},
        {"y = softmax(w)", 2, {0.8807970779778823, 0.11920292202211755}},
        {"y = log_softmax(X, 0)",
         4,
         {-2.1269280110429727, -2.1269280110429727, -0.12692801104297263,
          -0.12692801104297263}},
        {"y = reshape(X, [4])", 4, {1, 2, 3, 4}},
        {"y = concat([w, w], 0)", 4, {1, -1, 1, -1}},
        /* concat's list items may differ in length along the axis */
        {"y = concat([w, [7]])", 3, {1, -1, 7}},
        {"y = concat([[5], X[1]], 0)", 3, {5, 3, 4}},
        {"y = stack([w, w], axis=1)", 4, {1, 1, -1, -1}},
        {"y = norm(X)", 1, {5.477225575051661}},
        {"y = dot(w, w)", 1, {2}},
        {"y = outer(w, [2, 3])", 4, {2, 3, -2, -3}},
        {"y = trace(X)", 1, {5}},
        {"y = diag(X)", 2, {1, 4}},
        {"y = diag(w)", 4, {1, 0, 0, -1}},
        {"y = transpose(X)", 4, {1, 3, 2, 4}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double out[4];
        run_program(cases[c].text, out, cases[c].n, NULL);
        for (size_t i = 0; i < cases[c].n; i++)
            ck_assert_msg(fabs(out[i] - cases[c].v[i]) <= 1e-12 * (1 + fabs(cases[c].v[i])),
                          "'%s' [%zu]: %.17g, expected %.17g", cases[c].text, i, out[i],
                          cases[c].v[i]);
    }
}
END_TEST

/* Gradients through @, indexing, lists and the new functions. */
START_TEST(test_tensor_gradients)
{
    const struct {
        const char *text;
        double dx[4];
    } cases[] = {
        {"r = X @ w - [0.5, 2]; L = sum(r^2)", {-3, 3, -6, 6}},
        {"L = 3*X[1, 0] + sum(X[:, 1]^2)", {0, 4, 3, 8}},
        {"L = trace(X) + dot(diag(X), [2, 5])", {3, 0, 0, 6}},
        {"L = sum(stack([X[0], X[1]]) * [[1, 2], [3, 4]])", {1, 2, 3, 4}},
        {"L = sum(concat([X[0], [7], X[1, 1:]]) * [1, 2, 3, 4])", {1, 2, 0, 4}},
        {"L = norm(X)",
         {0.18257418583505536, 0.3651483716701107, 0.5477225575051661, 0.7302967433402214}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double out[1], dx[4];
        run_program(cases[c].text, out, 1, dx);
        for (size_t i = 0; i < 4; i++)
            ck_assert_msg(fabs(dx[i] - cases[c].dx[i]) <=
                              1e-12 * (1 + fabs(cases[c].dx[i])),
                          "'%s' dX[%zu]: %.17g, expected %.17g", cases[c].text, i, dx[i],
                          cases[c].dx[i]);
    }
}
END_TEST

/* Every new parse error, with its status, position and message. */
static const struct value_error program_errors[] = {
    {"y = X[2]", CR_ESHAPE, 6,
     "index 2 is out of range for axis 0 of length 2 (shape [2,2])"},
    {"y = X[-3]", CR_ESHAPE, 6,
     "index -3 is out of range for axis 0 of length 2 (shape [2,2])"},
    {"y = X[0, 0, 0]", CR_ESHAPE, 6, "3 indices for a value of shape [2,2] (rank 2)"},
    {"y = X[i]", CR_ESYNTAX, 7,
     "an index is a whole number written in the program, got 'i'"},
    {"y = X[0:2:0]", CR_ESYNTAX, 11, "a slice's step must be at least 1, got 0"},
    {"y = X[0; 1]", CR_ESYNTAX, 8,
     "expected ',', ':' or ']' in the index opened at column 6, got ';'"},
    {"y = X @ [1, 2, 3]", CR_ESHAPE, 7,
     "matmul: [2,2] x [3]: inner dimensions 2 and 3 differ"},
    {"y = []", CR_ESHAPE, 6, "an empty list (a tensor has at least one element)"},
    {"y = [1, [2]]", CR_ESHAPE, 5, "list: item 1 has the shape [1], item 0 has []"},
    {"y = [1, 2)", CR_ESYNTAX, 10,
     "expected ']' to close the list opened at column 5, got ')'"},
    {"y = [1, 2", CR_ESYNTAX, 5, "unmatched '['"},
    {"y = w]", CR_ESYNTAX, 6, "unmatched ']'"},
    {"y = sum(X, keepdim=1)", CR_ESYNTAX, 12,
     "sum() has no argument 'keepdim' (its arguments: x, axis, keepdims)"},
    {"y = exp(x=1)", CR_ESYNTAX, 9, "exp() takes no keyword arguments"},
    {"y = sum(X, 0, axis=1)", CR_ESYNTAX, 15, "sum(): the argument 'axis' is given twice"},
    {"y = sum(X, axis=1, 0)", CR_ESYNTAX, 5,
     "sum(): a positional argument after the keyword argument 'axis'"},
    {"y = dot(X, w)", CR_ESHAPE, 5, "dot: [2,2] is not a vector"},
    {"y = trace(w)", CR_ESHAPE, 5, "trace: [2] is not a matrix"},
    {"y = concat(w)", CR_EINVAL, 5,
     "concat(): the first argument must be a list [a, b, ...]"},
    {"y = concat([X, w])", CR_ESHAPE, 5,
     "concat: input 2 is [2] but input 1 is [2,2] (only the concatenated axis may differ)"},
    /* a list of items of different lengths is concat's alone */
    {"y = stack([w, [7]])", CR_ESHAPE, 11,
     "list: item 1 has the shape [1], item 0 has [2]"},
    {"y = concat([w, [7]] * 2)", CR_ESHAPE, 21,
     "list: item 1 has the shape [1], item 0 has [2]"},
    {"y = concat(-[w, [7]])", CR_ESHAPE, 13,
     "list: item 1 has the shape [1], item 0 has [2]"},
    /* messages for common mistakes */
    {"y = w**2", CR_ESYNTAX, 6, "'**' is not an operator: use ^ for powers (x^2)"},
    {"y = 2w + 1", CR_ESYNTAX, 5,
     "'2w' is not a name or a number: write 2*w for a product"},
    {"y = 2.5e3X", CR_ESYNTAX, 5,
     "'2.5e3X' is not a name or a number: write 2.5e3*X for a product"},
    {"y = 2\xc3\x97w", CR_ESYNTAX, 6,
     "unexpected character '\xc3\x97': write * for a product"},
    {"y = w\xc2\xb2", CR_ESYNTAX, 6,
     "unexpected character '\xc2\xb2': write ^2 for a square"},
    {"y = w \xe2\x88\x92 1", CR_ESYNTAX, 7,
     "unexpected character '\xe2\x88\x92': write - (the ASCII minus)"},
    {"y = w \xe2\x82\xac 1", CR_ESYNTAX, 7,
     "unexpected character '\xe2\x82\xac': only ASCII operators and names are allowed"},
    {"y = sigmoud(w)", CR_ESYNTAX, 5, "unknown function 'sigmoud'; did you mean sigmoid?"},
    {"y = ln(w)", CR_ESYNTAX, 5, "unknown function 'ln'; did you mean log?"},
    {"y = sofmax(w)", CR_ESYNTAX, 5, "unknown function 'sofmax'; did you mean softmax?"},
    {"y = frobnicate(w)", CR_ESYNTAX, 5,
     "unknown function 'frobnicate' (the functions are listed in "
     "docs/expression-language.md and by cr_expr_functions())"},
    {"y = reshape(X, [2, 0.5])", CR_EINVAL, 5,
     "reshape(): the shape must be whole numbers, not 0.5"},
};

START_TEST(test_program_errors)
{
    const struct value_error *c = &program_errors[_i];
    cr_graph *g = cr_graph_new();
    const size_t s2[2] = {2, 2}, s1[1] = {2};
    cr_input(g, "X", 2, s2);
    cr_input(g, "w", 1, s1);
    cr_expr_program *p = NULL;
    cr_error err;
    cr_status st = cr_expr_parse(g, c->text, strlen(c->text), &p, &err);
    ck_assert_ptr_null(p);
    ck_assert_msg(st == c->status, "'%s': status %d, expected %d (%s)", c->text, st,
                  c->status, err.message);
    ck_assert_str_eq(err.message, c->message);
    ck_assert_int_eq(err.column, c->col);
    ck_assert_uint_eq(cr_graph_size(g), 2); /* the failed parse left nothing */
    cr_graph_free(g);
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
    tcase_add_test(tc, test_tensor_programs);
    tcase_add_test(tc, test_tensor_gradients);
    tcase_add_loop_test(tc, test_program_errors, 0,
                        (int)(sizeof program_errors / sizeof program_errors[0]));
    suite_add_tcase(s, tc);
    return s;
}
