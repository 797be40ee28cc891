/*
 * check_higher.c - the higher-order API (chainrule/higher.h): Jacobian-
 * and Hessian-vector products, Jacobians and Hessians against closed forms
 * (the Rosenbrock Hessian, log-sum-exp's diag(p) - p p^T) and central
 * differences, forward mode composed with reverse mode, re-evaluation
 * without allocation, errors and out-of-memory.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cr_node *input_vec(cr_graph *g, const char *name, size_t n, const double *data)
{
    cr_node *x = cr_input(g, name, 1, &n);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(cr_node_set_data(x, data, n), CR_OK);
    return x;
}

/* f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, i = 0..n-2 */
static cr_node *rosenbrock(cr_graph *g, cr_node *x, size_t n)
{
    cr_node *head = cr_slice(g, x, 0, 0, (long)n - 1, 1);
    cr_node *tail = cr_slice(g, x, 0, 1, (long)n, 1);
    cr_node *a = cr_scale(g, cr_square(g, cr_sub(g, tail, cr_square(g, head))), 100.0);
    cr_node *b = cr_square(g, cr_sub(g, cr_scalar(g, 1.0), head));
    return cr_sum(g, cr_add(g, a, b));
}

/* The Rosenbrock Hessian in closed form, row-major n x n. */
static void rosenbrock_hessian(const double *x, size_t n, double *h)
{
    memset(h, 0, n * n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        double d = 0.0;
        if (i + 1 < n)
            d += 1200 * x[i] * x[i] - 400 * x[i + 1] + 2;
        if (i > 0)
            d += 200;
        h[i * n + i] = d;
        if (i + 1 < n)
            h[i * n + i + 1] = h[(i + 1) * n + i] = -400 * x[i];
    }
}

static void assert_close(const cr_tensor *t, const double *want, size_t count, double tol,
                         const char *what)
{
    ck_assert_uint_eq(cr_tensor_size(t), count);
    for (size_t k = 0; k < count; k++) {
        const double got = cr_tensor_get(t, k);
        ck_assert_msg(fabs(got - want[k]) <= tol * (1.0 + fabs(want[k])),
                      "%s[%zu] = %.17g, expected %.17g", what, k, got, want[k]);
    }
}

/* The Rosenbrock Hessian, built once, matches the closed form at several
 * points, each a cr_node_set_data and a forward that allocate nothing; so
 * do its Hessian-vector products. */
START_TEST(test_rosenbrock_hessian)
{
    enum { N = 4 };
    cr_graph *g = cr_graph_new();
    const double x0[N] = {-1.2, 1.0, 0.7, 2.385};
    cr_node *x = input_vec(g, "x", N, x0);
    cr_node *f = rosenbrock(g, x, N);
    cr_node *v = input_vec(g, "v", N, (const double[N]){1, 0, 0, 0});
    cr_node *H = cr_hessian(g, f, x), *Hv = cr_hvp(g, f, x, v);
    ck_assert_ptr_nonnull(H);
    ck_assert_ptr_nonnull(Hv);
    ck_assert_int_eq(cr_tensor_rank(cr_node_value(H)), 2);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(H))[0], N);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(H))[1], N);
    double want[N * N];
    rosenbrock_hessian(x0, N, want);
    assert_close(cr_node_value(H), want, N * N, 1e-13, "H");
    /* plan both evaluations before counting */
    ck_assert_int_eq(cr_graph_forward(g, H), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, Hv), CR_OK);
    const size_t size = cr_graph_size(g);
    test_rand_seed(15);
    test_alloc_install(0);
    for (int k = 0; k < 20; k++) {
        double p[N], d[N], hv[N] = {0};
        for (size_t i = 0; i < N; i++) {
            p[i] = test_rand_uniform(-2, 2);
            d[i] = test_rand_uniform(-1, 1);
        }
        ck_assert_int_eq(cr_node_set_data(x, p, N), CR_OK);
        ck_assert_int_eq(cr_node_set_data(v, d, N), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, H), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, Hv), CR_OK);
        rosenbrock_hessian(p, N, want);
        assert_close(cr_node_value(H), want, N * N, 1e-12, "H");
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                hv[i] += want[i * N + j] * d[j];
        assert_close(cr_node_value(Hv), hv, N, 1e-12, "Hv");
    }
    ck_assert_uint_eq(test_alloc.allocations, 0);
    test_alloc_uninstall();
    ck_assert_uint_eq(cr_graph_size(g), size);
    cr_graph_free(g);
}
END_TEST

/* log-sum-exp: the gradient is p = softmax(x), the Hessian diag(p) - p p^T. */
START_TEST(test_logsumexp_hessian)
{
    enum { N = 5 };
    cr_graph *g = cr_graph_new();
    const double x0[N] = {0.3, -1.7, 2.385, 0.0, 1.1};
    cr_node *x = input_vec(g, "x", N, x0);
    cr_node *y = cr_logsumexp(g, x);
    cr_node *H = cr_hessian(g, y, x);
    ck_assert_ptr_nonnull(H);
    double p[N], s = 0.0, want[N * N];
    for (size_t i = 0; i < N; i++)
        s += exp(x0[i]);
    for (size_t i = 0; i < N; i++)
        p[i] = exp(x0[i]) / s;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            want[i * N + j] = (i == j ? p[i] : 0.0) - p[i] * p[j];
    assert_close(cr_node_value(H), want, N * N, 1e-14, "H");
    /* the rows sum to zero: adding a constant to x changes nothing */
    for (size_t i = 0; i < N; i++) {
        double r = 0.0;
        for (size_t j = 0; j < N; j++)
            r += cr_tensor_get(cr_node_value(H), i * N + j);
        ck_assert_double_eq_tol(r, 0.0, 1e-15);
    }
    cr_graph_free(g);
}
END_TEST

/* y = tanh(W x) * x[0] (a vector): the Jacobian against central
 * differences, the Jacobian-vector product against J v, and forward mode
 * composed with reverse mode: the jvp of the gradient is the Hessian-vector
 * product. */
START_TEST(test_jacobian_jvp)
{
    enum { M = 3, N = 4 };
    cr_graph *g = cr_graph_new();
    const double w0[M * N] = {0.2,  -0.5, 1.1, 0.3,  -0.7, 0.4,
                              0.05, 0.9,  1.3, -0.2, -0.6, 0.1};
    const double x0[N] = {0.8, -0.35, 1.2, 0.45}, v0[N] = {0.6, -1.1, 0.25, 2.0};
    cr_tensor *wt = cr_tensor_new(2, (const size_t[]){M, N}, NULL);
    memcpy(cr_tensor_data_mut(wt), w0, sizeof w0);
    cr_node *W = cr_constant(g, wt);
    cr_tensor_free(wt);
    cr_node *x = input_vec(g, "x", N, x0), *v = input_vec(g, "v", N, v0);
    cr_node *Wx =
        cr_reshape(g, cr_matmul(g, W, cr_reshape(g, x, 2, (const long[]){N, 1}), 0), 1,
                   (const long[]){M});
    cr_node *y = cr_mul(g, cr_tanh(g, Wx), cr_slice(g, x, 0, 0, 1, 1));
    cr_node *J = cr_jacobian(g, y, x), *Jv = cr_jvp(g, y, x, v);
    ck_assert_ptr_nonnull(J);
    ck_assert_ptr_nonnull(Jv);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(J))[0], M);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(J))[1], N);
    /* central differences, column by column */
    double fd[M * N], xp[N];
    for (size_t j = 0; j < N; j++) {
        const double h = 1e-6;
        double plus[M];
        memcpy(xp, x0, sizeof xp);
        xp[j] += h;
        cr_node_set_data(x, xp, N);
        ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        for (size_t i = 0; i < M; i++)
            plus[i] = cr_tensor_get(cr_node_value(y), i);
        xp[j] -= 2 * h;
        cr_node_set_data(x, xp, N);
        ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        for (size_t i = 0; i < M; i++)
            fd[i * N + j] = (plus[i] - cr_tensor_get(cr_node_value(y), i)) / (2 * h);
    }
    cr_node_set_data(x, x0, N);
    ck_assert_int_eq(cr_graph_forward(g, J), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, Jv), CR_OK);
    assert_close(cr_node_value(J), fd, M * N, 1e-8, "J");
    double jv[M] = {0};
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            jv[i] += cr_tensor_get(cr_node_value(J), i * N + j) * v0[j];
    assert_close(cr_node_value(Jv), jv, M, 1e-14, "Jv");
    /* forward over reverse equals reverse over reverse */
    cr_node *L = cr_sum(g, cr_square(g, y));
    cr_node *Hv = cr_hvp(g, L, x, v), *JvGrad = cr_jvp(g, cr_grad(g, L, x), x, v);
    ck_assert_ptr_nonnull(Hv);
    ck_assert_ptr_nonnull(JvGrad);
    ck_assert(test_max_abs(cr_node_value(Hv)) > 0.1);
    for (size_t i = 0; i < N; i++)
        test_assert_rel(cr_tensor_get(cr_node_value(JvGrad), i),
                        cr_tensor_get(cr_node_value(Hv), i), 1e-13);
    /* a jvp is a node like any other: its gradient against differences */
    cr_node *s = cr_sum(g, cr_mul(g, Jv, Jv));
    cr_node *ds = cr_grad(g, s, x);
    ck_assert_ptr_nonnull(ds);
    test_assert_fd(g, s, x, cr_tensor_data(cr_node_value(ds)), 1e-7, "d|Jv|^2/dx");
    cr_graph_free(g);
}
END_TEST

/* No dependence gives zeros; scalar y gives one Jacobian row. */
START_TEST(test_no_path_and_scalar)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = input_vec(g, "x", 2, (const double[]){1.5, -0.5});
    cr_node *z = input_vec(g, "z", 3, (const double[]){1, 2, 3});
    cr_node *y = cr_sum(g, cr_exp(g, x));
    cr_node *J = cr_jacobian(g, y, x), *Z = cr_jacobian(g, cr_exp(g, z), x);
    ck_assert_ptr_nonnull(J);
    ck_assert_ptr_nonnull(Z);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(J))[0], 1);
    assert_close(cr_node_value(J), (const double[]){exp(1.5), exp(-0.5)}, 2, 1e-15, "J");
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(Z)), 6);
    ck_assert_double_eq(test_max_abs(cr_node_value(Z)), 0.0);
    cr_node *Jv = cr_jvp(g, cr_exp(g, z), x, x);
    ck_assert_ptr_nonnull(Jv);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(Jv)), 3);
    ck_assert_double_eq(test_max_abs(cr_node_value(Jv)), 0.0);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_errors)
{
    cr_graph *g = cr_graph_new(), *other = cr_graph_new();
    cr_node *x = input_vec(g, "x", 2, (const double[]){1, 2});
    cr_node *y = cr_exp(g, x), *v3 = input_vec(g, "v", 3, (const double[]){1, 2, 3});
    cr_node *o = cr_scalar(other, 1.0);
    const size_t size = cr_graph_size(g);
    ck_assert_ptr_null(cr_hessian(g, y, x));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "hessian: exp#1 must be a scalar, got [2]");
    ck_assert_ptr_null(cr_hvp(g, y, x, x));
    ck_assert_str_eq(cr_graph_error(g)->message, "hvp: exp#1 must be a scalar, got [2]");
    ck_assert_ptr_null(cr_jvp(g, y, x, v3));
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "jvp: the direction's shape [3] is not x's [2]");
    ck_assert_ptr_null(cr_jacobian(g, o, x));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message, "jacobian: nodes belong to another graph");
    /* a NULL input keeps the error that made it */
    cr_graph_clear_error(g);
    ck_assert_ptr_null(cr_jvp(g, NULL, x, x));
    ck_assert_str_eq(cr_graph_error(g)->message, "jvp: y is NULL");
    cr_node *bad = cr_reshape(g, x, 1, (const long[]){5});
    ck_assert_ptr_null(bad);
    char kept[sizeof cr_graph_error(g)->message];
    strcpy(kept, cr_graph_error(g)->message);
    ck_assert_ptr_null(cr_jacobian(g, bad, x));
    ck_assert_str_eq(cr_graph_error(g)->message, kept);
    ck_assert(strstr(kept, "reshape") != NULL);
    ck_assert_ptr_null(cr_jacobian(NULL, y, x));
    ck_assert_uint_eq(cr_graph_size(g), size);
    cr_graph_free(other);
    cr_graph_free(g);
}
END_TEST

/* Failing each allocation of a build in turn: NULL with CR_ENOMEM, the
 * graph as it was, nothing leaked; then the build succeeds. */
START_TEST(test_out_of_memory)
{
    for (int which = 0; which < 4; which++) {
        size_t k = 1;
        for (;; k++) {
            /* the graph is made under the counting allocator, which
             * must also free it */
            test_alloc_install(0);
            cr_graph *g = cr_graph_new();
            cr_node *x = input_vec(g, "x", 3, (const double[]){0.5, -1, 2});
            cr_node *y = cr_mul(g, cr_tanh(g, x), x), *L = cr_sum(g, cr_square(g, y));
            const size_t size = cr_graph_size(g);
            test_alloc.fail_at = test_alloc.allocations + k;
            cr_node *r = which == 0   ? cr_jvp(g, y, x, x)
                         : which == 1 ? cr_hvp(g, L, x, x)
                         : which == 2 ? cr_jacobian(g, y, x)
                                      : cr_hessian(g, L, x);
            const size_t failures = test_alloc.failures;
            if (failures == 0) {
                ck_assert_ptr_nonnull(r);
            } else {
                ck_assert_ptr_null(r);
                ck_assert_int_eq(cr_graph_error(g)->status, CR_ENOMEM);
                ck_assert_uint_eq(cr_graph_size(g), size);
            }
            cr_graph_free(g);
            ck_assert_uint_eq(test_alloc.live, 0);
            test_alloc_uninstall();
            if (failures == 0)
                break;
        }
        ck_assert_uint_gt(k, 1);
    }
}
END_TEST

Suite *higher_suite(void)
{
    Suite *s = suite_create("higher");
    TCase *tc = tcase_create("closed forms");
    tcase_add_test(tc, test_rosenbrock_hessian);
    tcase_add_test(tc, test_logsumexp_hessian);
    tcase_add_test(tc, test_jacobian_jvp);
    tcase_add_test(tc, test_no_path_and_scalar);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
