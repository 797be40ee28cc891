/*
 * check_graph.c - tests of graphs and nodes: leaves, introspection, names
 * (uniqueness, renaming, lookup), setting values, forward re-evaluation,
 * shape errors with their exact messages (graph left unchanged), NULL-input
 * propagation, the NULL policy of the accessors, inputs from another graph,
 * and the blocked scans over doubles (kernels.c) against plain loops.
 */
#include "testutil.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_leaves_and_introspection)
{
    cr_graph *g = cr_graph_new();
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(cr_graph_size(g), 0);
    ck_assert_int_eq(cr_graph_error(g)->status, CR_OK);
    cr_node *c = cr_scalar(g, 2.385);
    cr_node *x = cr_input_scalar(g, "x", 0.75);
    size_t shape[2] = {2, 3};
    cr_node *in = cr_input(g, "batch", 2, shape);
    cr_node *w = cr_param_scalar(g, "w", -1.25);
    cr_node *y = cr_mul(g, cr_add(g, x, c), w);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(cr_graph_size(g), 6);
    ck_assert_int_eq(cr_node_kind_of(c), CR_NODE_CONSTANT);
    ck_assert_int_eq(cr_node_kind_of(x), CR_NODE_INPUT);
    ck_assert_int_eq(cr_node_kind_of(w), CR_NODE_PARAM);
    ck_assert_int_eq(cr_node_kind_of(y), CR_NODE_OP);
    ck_assert_str_eq(cr_node_op_name(y), "mul");
    ck_assert_str_eq(cr_node_op_name(c), "const");
    ck_assert_uint_eq(cr_node_index(y), 5);
    ck_assert_ptr_eq(cr_graph_node(g, 3), w);
    ck_assert_ptr_null(cr_graph_node(g, 6));
    ck_assert_uint_eq(cr_node_num_inputs(y), 2);
    ck_assert_ptr_eq(cr_node_input(y, 1), w);
    ck_assert_ptr_null(cr_node_input(y, 2));
    ck_assert_str_eq(cr_node_op_name(cr_node_input(y, 0)), "add");
    ck_assert_ptr_eq(cr_node_graph(y), g);
    ck_assert_uint_eq(cr_graph_num_params(g), 1);
    ck_assert_ptr_eq(cr_graph_param(g, 0), w);
    ck_assert_ptr_null(cr_graph_param(g, 1));
    /* value computed at build time */
    ck_assert_double_eq_tol(cr_node_scalar(y), (0.75 + 2.385) * -1.25, 1e-15);
    /* a zero-filled input */
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(in)), 6);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(in), 5), 0.0);
    /* labels */
    char buf[64];
    cr_node_label(y, buf, sizeof buf);
    ck_assert_str_eq(buf, "mul#5");
    cr_node_label(x, buf, sizeof buf);
    ck_assert_str_eq(buf, "x");
    ck_assert_ptr_null(cr_node_name(y));
    ck_assert_str_eq(cr_node_name(x), "x");
    /* no gradient before a backward */
    ck_assert_ptr_null(cr_node_grad(w));
    ck_assert_ptr_null(cr_node_grad_node(w));
    cr_graph_free(g);
    cr_graph_free(NULL);
}
END_TEST

START_TEST(test_names)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_input_scalar(g, "x", 1.0);
    size_t before = cr_graph_size(g);
    ck_assert_ptr_null(cr_input_scalar(g, "x", 2.0));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ENAME);
    ck_assert_str_eq(cr_graph_error(g)->message, "name 'x' is already used by node #0");
    ck_assert_uint_eq(cr_graph_size(g), before);
    ck_assert_ptr_null(cr_param_scalar(g, "x", 2.0));
    ck_assert_uint_eq(cr_graph_num_params(g), 0);
    ck_assert_ptr_eq(cr_graph_find(g, "x"), x);

    cr_node *s = cr_sin(g, x);
    ck_assert_int_eq(cr_node_set_name(s, "x"), CR_ENAME);
    ck_assert_int_eq(cr_node_set_name(s, ""), CR_ENAME);
    ck_assert_str_eq(cr_graph_error(g)->message, "a node name cannot be empty");
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = '\0';
    ck_assert_int_eq(cr_node_set_name(s, longname), CR_ENAME);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "node name is 256 bytes long; the limit is 255");
    longname[255] = '\0';
    ck_assert_int_eq(cr_node_set_name(s, longname), CR_OK);
    ck_assert_ptr_eq(cr_graph_find(g, longname), s);

    /* renaming frees the old name; setting the same name again is fine */
    ck_assert_int_eq(cr_node_set_name(s, "sine"), CR_OK);
    ck_assert_ptr_null(cr_graph_find(g, longname));
    ck_assert_ptr_eq(cr_graph_find(g, "sine"), s);
    ck_assert_int_eq(cr_node_set_name(s, "sine"), CR_OK);
    ck_assert_str_eq(cr_node_name(s), "sine");
    ck_assert_int_eq(cr_node_set_name(x, "x0"), CR_OK);
    ck_assert_ptr_null(cr_graph_find(g, "x"));
    cr_node *x2 = cr_input_scalar(g, "x", 3.0); /* the old name is free again */
    ck_assert_ptr_nonnull(x2);
    ck_assert_ptr_eq(cr_graph_find(g, "x"), x2);
    ck_assert_ptr_eq(cr_graph_find(g, "x0"), x);
    ck_assert_ptr_null(cr_graph_find(g, "nope"));
    ck_assert_ptr_null(cr_graph_find(g, NULL));
    ck_assert_int_eq(cr_node_set_name(NULL, "a"), CR_EINVAL);
    ck_assert_int_eq(cr_node_set_name(s, NULL), CR_EINVAL);
    cr_graph_free(g);
}
END_TEST

/* Lookup by name at scale: 20,000 named nodes (several growths of the
 * name table), every one found, created in an order unlike their names',
 * and a name one past the last not found. The test asserts what is found,
 * not how fast: its tcase's timeout only catches a hang. */
START_TEST(test_find_many)
{
    enum { N = 20000 };
    cr_graph *g = cr_graph_new();
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "v%d", (i * 7919) % N);
        ck_assert_ptr_nonnull(cr_input_scalar(g, name, (double)i));
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "v%d", (i * 7919) % N);
        cr_node *n = cr_graph_find(g, name);
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_eq(cr_node_index(n), (size_t)i);
        ck_assert_double_eq(cr_node_scalar(n), (double)i);
    }
    ck_assert_ptr_null(cr_graph_find(g, "v20000"));
    cr_graph_free(g);
}
END_TEST

START_TEST(test_shape_errors)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s41[2] = {4, 1}, s4[1] = {4}, s3[1] = {3}, s2[1] = {2};
    cr_node *a = cr_input(g, "a", 2, s23);
    cr_node *b = cr_input(g, "b", 2, s41);
    cr_node *v4 = cr_input(g, "v4", 1, s4);
    cr_node *v3 = cr_input(g, "v3", 1, s3);
    cr_node *v2 = cr_input(g, "v2", 1, s2);
    const size_t before = cr_graph_size(g);
    const cr_error *err = cr_graph_error(g);

    ck_assert_ptr_null(cr_matmul(g, a, b, 0));
    ck_assert_int_eq(err->status, CR_ESHAPE);
    ck_assert_str_eq(err->message,
                     "matmul: [2,3] x [4,1]: inner dimensions 3 and 4 differ");
    ck_assert_uint_eq(cr_graph_size(g), before);

    ck_assert_ptr_null(cr_matmul(g, a, b, CR_TRANS_A));
    ck_assert_str_eq(err->message,
                     "matmul: [2,3]^T x [4,1]: inner dimensions 2 and 4 differ");
    ck_assert_ptr_nonnull(cr_matmul(g, a, a, CR_TRANS_B)); /* [2,3] x [3,2] fits */
    const size_t mid = cr_graph_size(g);
    ck_assert_uint_eq(mid, before + 1);

    ck_assert_ptr_null(cr_add(g, a, v4));
    ck_assert_int_eq(err->status, CR_ESHAPE);
    ck_assert_str_eq(err->message, "add: [2,3] and [4] do not broadcast");
    ck_assert_ptr_null(cr_mul(g, v2, a));
    ck_assert_str_eq(err->message, "mul: [2] and [2,3] do not broadcast");
    ck_assert_ptr_null(cr_sq_error(g, v3, v4));
    ck_assert_str_eq(err->message, "sq_error: [3] and [4] differ");
    ck_assert_ptr_null(cr_transpose(g, v3));
    ck_assert_str_eq(err->message,
                     "transpose: needs a matrix or a batch of matrices, got [3]");
    ck_assert_ptr_null(cr_softmax_xent(g, a, v3));
    ck_assert_str_eq(err->message, "softmax_xent: [2,3] and [3] differ");
    ck_assert_ptr_null(cr_sop(g, 1, &v4, &a, NULL));
    ck_assert_str_eq(err->message, "sop: pair 1: [4] x [2,3] do not contract");
    ck_assert_ptr_null(cr_sop(g, 1, &a, &v3, v4));
    ck_assert_str_eq(err->message, "sop: bias [4] does not broadcast over [2]");
    ck_assert_ptr_null(cr_sum_axis(g, a, 2));
    ck_assert_int_eq(err->status, CR_EINVAL);
    ck_assert_str_eq(err->message, "sum: axis 2 out of range for [2,3]");
    ck_assert_uint_eq(cr_graph_size(g), mid);

    /* broadcasting that is allowed: row vector over rows, and a scalar */
    ck_assert_ptr_nonnull(cr_add(g, a, v3));
    ck_assert_ptr_nonnull(cr_sub(g, cr_scalar(g, 1.0), a));
    cr_graph_free(g);
}
END_TEST

START_TEST(test_null_propagation)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s41[2] = {4, 1};
    cr_node *a = cr_input(g, "a", 2, s23);
    cr_node *b = cr_input(g, "b", 2, s41);
    cr_node *x = cr_input_scalar(g, "x", 0.5);
    const size_t before = cr_graph_size(g);
    /* one expression, checked once at the end: the first error survives */
    cr_node *loss = cr_sum(g, cr_sigmoid(g, cr_add(g, cr_matmul(g, a, b, 0), x)));
    ck_assert_ptr_null(loss);
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "matmul: [2,3] x [4,1]: inner dimensions 3 and 4 differ");
    ck_assert_ptr_null(cr_mse(g, NULL, x));
    ck_assert_ptr_null(cr_sop(g, 1, (cr_node *[]){NULL}, &x, NULL));
    ck_assert_ptr_null(cr_grad(g, NULL, x));
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "matmul: [2,3] x [4,1]: inner dimensions 3 and 4 differ");
    ck_assert_uint_eq(cr_graph_size(g), before);

    /* with no earlier error, a NULL input is itself the error */
    cr_graph_clear_error(g);
    ck_assert_int_eq(cr_graph_error(g)->status, CR_OK);
    ck_assert_ptr_null(cr_add(g, x, NULL));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message, "add: input 2 is NULL");

    /* nodes of another graph are refused */
    cr_graph *h = cr_graph_new();
    cr_node *y = cr_input_scalar(h, "y", 1.0);
    ck_assert_ptr_null(cr_add(g, x, y));
    ck_assert_str_eq(cr_graph_error(g)->message, "add: input 2 belongs to another graph");
    ck_assert_uint_eq(cr_graph_size(g), before);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_EINVAL);
    cr_graph_free(h);
    /* NULL graphs give NULL, not a crash */
    ck_assert_ptr_null(cr_add(NULL, x, x));
    ck_assert_ptr_null(cr_scalar(NULL, 1.0));
    cr_graph_free(g);
}
END_TEST

/* One NULL node among valid arguments: every family of constructor
 * returns NULL and keeps the error that made the NULL (here a shape
 * error), adding no node. */
START_TEST(test_null_input_keeps_error)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3}, s41[2] = {4, 1};
    cr_node *a = cr_input(g, "a", 2, s23);
    cr_node *b = cr_input(g, "b", 2, s41);
    cr_node *bad = cr_matmul(g, a, b, 0);
    ck_assert_ptr_null(bad);
    const char *msg = "matmul: [2,3] x [4,1]: inner dimensions 3 and 4 differ";
    ck_assert_str_eq(cr_graph_error(g)->message, msg);
    const size_t before = cr_graph_size(g);
    cr_node *made[] = {
        cr_add(g, a, bad),
        cr_where(g, bad, a, a),
        cr_tanh(g, bad),
        cr_leaky_relu(g, bad, 0.01),
        cr_sum_dim(g, bad, 0, 1),
        cr_reshape(g, bad, 1, (const long[]){6}),
        cr_slice(g, bad, 0, 0, 1, 1),
        cr_concat(g, 2, (cr_node *[]){a, bad}, 0),
        cr_index_select(g, a, 0, bad),
        cr_matmul(g, bad, a, 0),
        cr_softmax_xent(g, a, bad),
        cr_grad(g, bad, a),
    };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        ck_assert_msg(made[i] == NULL, "constructor %zu made a node from NULL", i);
        ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
        ck_assert_str_eq(cr_graph_error(g)->message, msg);
    }
    ck_assert_uint_eq(cr_graph_size(g), before);
    cr_graph_free(g);
}
END_TEST

/* Getters given a NULL graph or node return the policy's "nothing". */
START_TEST(test_null_getters)
{
    char buf[8] = "xyz";
    ck_assert_ptr_null(cr_graph_error(NULL));
    cr_graph_clear_error(NULL);
    cr_graph_set_flags(NULL, CR_GRAPH_TRAP_NONFINITE);
    ck_assert_uint_eq(cr_graph_flags(NULL), 0);
    ck_assert_uint_eq(cr_graph_size(NULL), 0);
    ck_assert_ptr_null(cr_graph_node(NULL, 0));
    ck_assert_uint_eq(cr_graph_num_params(NULL), 0);
    ck_assert_ptr_null(cr_graph_param(NULL, 0));
    ck_assert_ptr_null(cr_node_name(NULL));
    ck_assert_int_eq(cr_node_label(NULL, buf, sizeof buf), -1);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(cr_node_kind_of(NULL), CR_NODE_NONE);
    ck_assert_ptr_null(cr_node_op_name(NULL));
    ck_assert_uint_eq(cr_node_index(NULL), (size_t)-1);
    ck_assert_uint_eq(cr_node_num_inputs(NULL), 0);
    ck_assert_ptr_null(cr_node_input(NULL, 0));
    ck_assert_ptr_null(cr_node_graph(NULL));
    ck_assert_ptr_null(cr_node_value(NULL));
    ck_assert(isnan(cr_node_scalar(NULL)));
    ck_assert_ptr_null(cr_node_grad(NULL));
    ck_assert_ptr_null(cr_node_grad_node(NULL));
    /* a NULL buffer asks for the length only */
    cr_graph *g = cr_graph_new();
    cr_node *s = cr_sigmoid(g, cr_input_scalar(g, NULL, 0.5));
    ck_assert_int_eq(cr_node_label(s, NULL, 0), 9); /* "sigmoid#1" */
    ck_assert_int_eq(cr_node_label(s, NULL, sizeof buf), 9);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_set_values_and_forward)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3};
    cr_node *a = cr_input(g, "a", 2, s23);
    cr_node *w = cr_param_scalar(g, "w", 2.0);
    cr_node *y = cr_sum(g, cr_mul(g, a, w));
    ck_assert_double_eq(cr_node_scalar(y), 0.0);
    const double data[6] = {1.5, -2.0, 0.25, 3.0, 4.5, -1.0};
    ck_assert_int_eq(cr_node_set_data(a, data, 6), CR_OK);
    ck_assert_double_eq(cr_node_scalar(y), 0.0); /* not recomputed yet */
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(y), 2.0 * 6.25, 1e-14);
    ck_assert_int_eq(cr_node_set_scalar(w, -0.5), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(y), -0.5 * 6.25, 1e-14);

    cr_error e;
    cr_tensor *t = cr_tensor_new_from(2, s23, data, &e);
    cr_tensor_fill(t, 1.0);
    ck_assert_int_eq(cr_node_set_value(a, t), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(y), -3.0, 1e-14);

    /* errors */
    ck_assert_int_eq(cr_node_set_data(a, data, 5), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message, "a: expected 6 values [2,3], got 5");
    ck_assert_int_eq(cr_node_set_value(w, t), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message, "w: cannot set a [] value to [2,3]");
    ck_assert_int_eq(cr_node_set_scalar(y, 1.0), CR_ESTATE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "sum#3: only inputs and parameters can be set");
    ck_assert_int_eq(cr_node_set_scalar(cr_scalar(g, 1.0), 2.0), CR_ESTATE);
    cr_graph_clear_error(g);
    ck_assert_int_eq(cr_node_set_data(a, NULL, 6), CR_EINVAL);
    ck_assert_int_eq(cr_node_set_value(a, NULL), CR_EINVAL);
    ck_assert_int_eq(cr_graph_forward(g, NULL), CR_EINVAL);
    ck_assert_int_eq(cr_graph_error(g)->status, CR_OK);           /* recorded nowhere */
    ck_assert_double_eq(cr_tensor_get(cr_node_value(a), 0), 1.0); /* unchanged */
    /* NULL data with a count of 0 is an empty array: the wrong size */
    ck_assert_int_eq(cr_node_set_data(a, NULL, 0), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message, "a: expected 6 values [2,3], got 0");
    cr_tensor_free(t);
    cr_graph_free(g);
}
END_TEST

/* Forward recomputes only what the target depends on; plans are cached
 * per target (more targets than the cache holds still evaluate right). */
START_TEST(test_forward_targets)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_input_scalar(g, "x", 0.3);
    cr_node *outs[8];
    for (int k = 0; k < 8; k++)
        outs[k] = cr_scale(g, cr_sin(g, x), (double)(k + 1));
    for (int round = 0; round < 3; round++) {
        double xv = 0.3 + 0.7 * round;
        cr_node_set_scalar(x, xv);
        for (int k = 0; k < 8; k++) {
            ck_assert_int_eq(cr_graph_forward(g, outs[k]), CR_OK);
            ck_assert_double_eq_tol(cr_node_scalar(outs[k]), (k + 1) * sin(xv), 1e-15);
        }
    }
    /* forwarding one target leaves unrelated nodes alone */
    cr_node_set_scalar(x, 2.0);
    cr_graph_forward(g, outs[0]);
    ck_assert_double_eq_tol(cr_node_scalar(outs[1]), 2 * sin(1.7), 1e-15);
    cr_graph_free(g);
}
END_TEST

/* The non-finite trap scans long values in vectorised chunks: it still
 * names the first bad element, in the first chunk, in a later one, in the
 * tail after the last whole chunk, and passes finite values. */
START_TEST(test_trap_first_nonfinite_in_chunks)
{
    const size_t len = 200, bad[] = {3, 130, 197};
    for (size_t c = 0; c <= 3; c++) {
        cr_graph *g = cr_graph_new();
        cr_graph_set_flags(g, CR_GRAPH_TRAP_NONFINITE);
        double v[200];
        for (size_t i = 0; i < len; i++)
            v[i] = 1.0 + (double)i;
        if (c < 3) {
            v[bad[c]] = 0.0;      /* log: -inf */
            v[bad[c] + 2] = -1.0; /* log: nan, later */
        }
        cr_node *x = cr_input(g, "x", 1, &len);
        cr_node *y = cr_log(g, x);
        ck_assert_int_eq(cr_node_set_data(x, v, len), CR_OK);
        if (c == 3) {
            ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        } else {
            ck_assert_int_eq(cr_graph_forward(g, y), CR_EDOMAIN);
            char want[64];
            snprintf(want, sizeof want, "produced -inf at element %zu", bad[c]);
            ck_assert_msg(strstr(cr_graph_error(g)->message, want) != NULL, "%s",
                          cr_graph_error(g)->message);
        }
        cr_graph_free(g);
    }
}
END_TEST

/* The blocked scans give what plain loops give, for every length across
 * whole blocks, whole chunks and tails: the first NaN or infinity at each
 * position (also with a later one behind it), and the sum of squares. */
START_TEST(test_blocked_scans)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    double v[150];
    for (size_t n = 0; n <= 150; n++) {
        double plain = 0;
        for (size_t i = 0; i < n; i++) {
            v[i] = 0.5 + 0.25 * sin(1.3 * (double)i);
            plain += v[i] * v[i];
        }
        ck_assert_uint_eq(cr_first_nonfinite(v, n), n);
        ck_assert_double_eq_tol(cr_sum_squares(v, n), plain, 1e-13 * (1 + plain));
        for (size_t p = 0; p < n; p++)
            for (size_t b = 0; b < 3; b++) {
                const double keep = v[p], keep_last = v[n - 1];
                v[n - 1] = NAN;
                v[p] = bad[b];
                ck_assert_uint_eq(cr_first_nonfinite(v, n), p);
                ck_assert(!isfinite(cr_sum_squares(v, n)));
                v[n - 1] = keep_last;
                v[p] = keep;
            }
    }
    /* Squares that overflow give an infinite sum but no non-finite element. */
    for (size_t i = 0; i < 20; i++)
        v[i] = 1e200;
    ck_assert(isinf(cr_sum_squares(v, 20)));
    ck_assert_uint_eq(cr_first_nonfinite(v, 20), 20);
}
END_TEST

Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    /* Check's default 4 s is too short for test_find_many and
     * test_blocked_scans on a loaded machine or in a sanitized build. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_leaves_and_introspection);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_find_many);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_test(tc, test_null_propagation);
    tcase_add_test(tc, test_null_input_keeps_error);
    tcase_add_test(tc, test_null_getters);
    tcase_add_test(tc, test_set_values_and_forward);
    tcase_add_test(tc, test_forward_targets);
    tcase_add_test(tc, test_trap_first_nonfinite_in_chunks);
    tcase_add_test(tc, test_blocked_scans);
    suite_add_tcase(s, tc);
    return s;
}
