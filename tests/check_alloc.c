/*
 * check_alloc.c - allocation tests through the counting allocator: a
 * steady-state training step (forward, backward, SGD update) performs zero
 * allocations, and failing the k-th allocation, for every k, while
 * building and running a graph always ends in CR_ENOMEM with nothing
 * leaked. Also the allocator hook itself and tensor out-of-memory.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small models ---- */

enum { MAX_PARAMS = 8, BATCH = 4, IN = 3, HID = 5, OUT = 3 };

typedef struct model {
    cr_graph *g;
    cr_node *x, *t, *loss;
} model;

/* Set when a tensor the test itself makes (not the graph) runs out of
 * memory: the graph then holds no error of its own. */
static int own_oom;

static cr_tensor *random_tensor(int rank, const size_t *shape, double lo, double hi)
{
    cr_tensor *t = cr_tensor_new(rank, shape, NULL);
    if (t)
        for (size_t i = 0; i < cr_tensor_size(t); i++)
            cr_tensor_data_mut(t)[i] = test_rand_uniform(lo, hi);
    return t;
}

static cr_node *random_param(cr_graph *g, const char *name, int rank, const size_t *shape)
{
    cr_tensor *t = random_tensor(rank, shape, -0.8, 0.8);
    if (!t) { /* the test's own tensor ran out of memory */
        own_oom = 1;
        return NULL;
    }
    cr_node *p = cr_param(g, name, t);
    cr_tensor_free(t);
    return p;
}

/* X[4,3] -> sigmoid(X W1 + b1) -> sop(h, W2, b2) -> softmax_xent with T.
 * Returns CR_OK, or the status that stopped it (the graph may be NULL). */
static cr_status mlp_build(model *m)
{
    test_rand_seed(3);
    m->g = cr_graph_new();
    if (!m->g)
        return CR_ENOMEM;
    cr_graph *g = m->g;
    size_t sx[2] = {BATCH, IN}, sw1[2] = {IN, HID}, sb1[1] = {HID}, sw2[2] = {HID, OUT},
           sb2[1] = {OUT}, st[2] = {BATCH, OUT};
    cr_node *w1 = random_param(g, "W1", 2, sw1);
    cr_node *b1 = random_param(g, "b1", 1, sb1);
    cr_node *w2 = random_param(g, "W2", 2, sw2);
    cr_node *b2 = random_param(g, "b2", 1, sb2);
    if (!w1 || !b1 || !w2 || !b2) {
        ck_assert_int_eq(cr_graph_error(g)->status, own_oom ? CR_OK : CR_ENOMEM);
        return CR_ENOMEM;
    }
    m->x = cr_input(g, "X", 2, sx);
    m->t = cr_input(g, "T", 2, st);
    cr_node *h = cr_sigmoid(g, cr_add(g, cr_matmul(g, m->x, w1, 0), b1));
    cr_node *logits = cr_sop(g, 1, &h, &w2, b2);
    m->loss = cr_softmax_xent(g, logits, m->t);
    return m->loss ? CR_OK : cr_graph_error(g)->status;
}

/* The seed article's neuron. */
static cr_status seed_build(model *m)
{
    m->g = cr_graph_new();
    if (!m->g)
        return CR_ENOMEM;
    cr_graph *g = m->g;
    m->x = cr_input_scalar(g, "x1", 0.1);
    cr_node *x2 = cr_input_scalar(g, "x2", 0.3);
    m->t = cr_input_scalar(g, "desired", 0.03);
    cr_node *w1 = cr_param_scalar(g, "w1", 0.5);
    cr_node *w2 = cr_param_scalar(g, "w2", 0.2);
    cr_node *b = cr_param_scalar(g, "b", 1.83);
    cr_node *s = cr_sop(g, 2, (cr_node *[]){m->x, x2}, (cr_node *[]){w1, w2}, b);
    m->loss = cr_sq_error(g, cr_sigmoid(g, s), m->t);
    return m->loss ? CR_OK : cr_graph_error(g)->status;
}

/* Second (and, through backward, third) derivatives of
 * f = x^3 y + sin(x y), with a named gradient node. */
static cr_status second_order_build(model *m)
{
    m->g = cr_graph_new();
    if (!m->g)
        return CR_ENOMEM;
    cr_graph *g = m->g;
    m->x = cr_param_scalar(g, "x", 2.385);
    cr_node *y = cr_param_scalar(g, "y", -0.7);
    cr_node *f =
        cr_add(g, cr_mul(g, cr_powc(g, m->x, 3.0), y), cr_sin(g, cr_mul(g, m->x, y)));
    m->loss = cr_grad(g, cr_grad(g, f, m->x), y);
    if (!m->loss)
        return cr_graph_error(g)->status;
    return cr_node_set_name(m->loss, "d2f/dxdy");
}

/* One SGD step: forward, backward (replace or accumulate), and
 * p -= lr * grad for every parameter, written through cr_node_set_data
 * from the caller's buffer. Returns the loss before the update. */
static double sgd_step(model *m, double lr, double *buf, int accumulate)
{
    ck_assert_int_eq(cr_graph_forward(m->g, m->loss), CR_OK);
    if (accumulate)
        cr_graph_zero_grad(m->g);
    ck_assert_int_eq(
        cr_graph_backward(m->g, m->loss, accumulate ? CR_BACKWARD_ACCUMULATE : 0), CR_OK);
    for (size_t k = 0; k < cr_graph_num_params(m->g); k++) {
        cr_node *p = cr_graph_param(m->g, k);
        const cr_tensor *v = cr_node_value(p), *gr = cr_node_grad(p);
        const size_t n = cr_tensor_size(v);
        for (size_t i = 0; i < n; i++)
            buf[i] = cr_tensor_get(v, i) - lr * cr_tensor_get(gr, i);
        ck_assert_int_eq(cr_node_set_data(p, buf, n), CR_OK);
    }
    return cr_node_scalar(m->loss);
}

/* Two batches the MLP alternates between (targets are one-hot rows). */
static void mlp_batch(model *m, int which)
{
    double x[BATCH * IN], t[BATCH * OUT];
    for (int i = 0; i < BATCH * IN; i++)
        x[i] = sin(1.3 * i + which) * 1.5;
    memset(t, 0, sizeof t);
    for (int r = 0; r < BATCH; r++)
        t[r * OUT + (r + which) % OUT] = 1.0;
    ck_assert_int_eq(cr_node_set_data(m->x, x, BATCH * IN), CR_OK);
    ck_assert_int_eq(cr_node_set_data(m->t, t, BATCH * OUT), CR_OK);
}

static void zero_alloc_steps(int accumulate)
{
    test_alloc_install(0);
    double *buf = malloc(64 * sizeof *buf); /* the test's own, not counted */
    model m, s;
    ck_assert_int_eq(mlp_build(&m), CR_OK);
    ck_assert_int_eq(seed_build(&s), CR_OK);
    /* warm-up: the first step builds and caches the gradient graph */
    mlp_batch(&m, 0);
    const double first = sgd_step(&m, 0.5, buf, accumulate);
    const double seed_first = sgd_step(&s, 0.5, buf, accumulate);
    mlp_batch(&m, 1);
    sgd_step(&m, 0.5, buf, accumulate);

    const size_t before = test_alloc.allocations, frees = test_alloc.frees;
    double last = 0, seed_last = 0;
    for (int step = 0; step < 10; step++) {
        mlp_batch(&m, step % 2);
        last = sgd_step(&m, 0.5, buf, accumulate);
        cr_node_set_scalar(s.x, step % 2 ? 0.1 : 0.15);
        seed_last = sgd_step(&s, 0.5, buf, accumulate);
    }
    ck_assert_uint_eq(test_alloc.allocations, before);
    ck_assert_uint_eq(test_alloc.frees, frees);
    /* the steps did train */
    ck_assert_double_lt(last, first);
    ck_assert_double_lt(seed_last, seed_first);
    ck_assert(isfinite(last));
    cr_graph_free(m.g);
    cr_graph_free(s.g);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
    free(buf);
}

START_TEST(test_steady_state_zero_allocations) { zero_alloc_steps(0); }
END_TEST

START_TEST(test_steady_state_zero_allocations_accumulate) { zero_alloc_steps(1); }
END_TEST

/* Build, backward, forward (a second backward too) with the k-th
 * allocation failing. Returns the final status. */
static cr_status build_and_run(cr_status (*build)(model *), model *m)
{
    cr_status st = build(m);
    if (st != CR_OK)
        return st;
    st = cr_graph_backward(m->g, m->loss, 0);
    if (st != CR_OK)
        return st;
    st = cr_graph_forward(m->g, m->loss);
    if (st != CR_OK)
        return st;
    return cr_graph_backward(m->g, m->loss, CR_BACKWARD_ACCUMULATE);
}

static void oom_loop(cr_status (*build)(model *), size_t min_points)
{
    size_t k;
    for (k = 1; k < 100000; k++) {
        test_alloc_install(k);
        model m = {0};
        own_oom = 0;
        const cr_status st = build_and_run(build, &m);
        const size_t failures = test_alloc.failures;
        if (failures == 0) {
            /* ran to the end without reaching the k-th allocation */
            ck_assert_int_eq(st, CR_OK);
            ck_assert_ptr_nonnull(m.g);
            ck_assert(isfinite(cr_node_scalar(m.loss)));
        } else {
            ck_assert_msg(st == CR_ENOMEM, "failing allocation %zu gave status %d (%s)", k,
                          st, cr_strerror(st));
            if (m.g && !own_oom)
                ck_assert_int_eq(cr_graph_error(m.g)->status, CR_ENOMEM);
        }
        cr_graph_free(m.g);
        ck_assert_msg(test_alloc.live == 0, "failing allocation %zu leaked %ld blocks", k,
                      test_alloc.live);
        test_alloc_uninstall();
        if (failures == 0)
            break;
    }
    ck_assert_uint_ge(k - 1, min_points); /* failure points covered */
}

START_TEST(test_oom_seed) { oom_loop(seed_build, 10); }
END_TEST

START_TEST(test_oom_mlp) { oom_loop(mlp_build, 10); }
END_TEST

START_TEST(test_oom_second_order) { oom_loop(second_order_build, 10); }
END_TEST

/* After an out-of-memory failure the graph still works. */
START_TEST(test_oom_then_recover)
{
    test_alloc_install(0);
    model m;
    ck_assert_int_eq(seed_build(&m), CR_OK);
    const size_t size = cr_graph_size(m.g);
    test_alloc.fail_at = test_alloc.allocations + 1; /* the next one fails */
    ck_assert_int_eq(cr_graph_backward(m.g, m.loss, 0), CR_ENOMEM);
    ck_assert_str_eq(cr_strerror(cr_graph_error(m.g)->status), "out of memory");
    ck_assert_uint_eq(cr_graph_size(m.g), size);
    test_alloc.fail_at = 0;
    cr_graph_clear_error(m.g);
    ck_assert_int_eq(cr_graph_backward(m.g, m.loss, 0), CR_OK);
    const double p = 1.0 / (1.0 + exp(-1.94));
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(cr_graph_find(m.g, "b"))),
                            (p - 0.03) * p * (1 - p), 1e-15);
    cr_graph_free(m.g);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

START_TEST(test_tensor_oom)
{
    size_t shape[2] = {3, 4};
    cr_error err;
    for (size_t k = 1; k <= 2; k++) {
        test_alloc_install(k);
        ck_assert_ptr_null(cr_tensor_new(2, shape, &err));
        ck_assert_int_eq(err.status, CR_ENOMEM);
        ck_assert_str_eq(err.message, "out of memory allocating 12 elements");
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
    }
    test_alloc_install(0);
    cr_tensor *a = cr_tensor_new_scalar(1.5, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(test_alloc.live, 2);
    test_alloc.fail_at = test_alloc.allocations + 2;
    ck_assert_ptr_null(cr_tensor_copy(a, &err));
    ck_assert_int_eq(err.status, CR_ENOMEM);
    ck_assert_int_eq(test_alloc.live, 2);
    test_alloc.fail_at = test_alloc.allocations + 1;
    ck_assert_ptr_null(cr_tensor_new_from(2, shape, (double[12]){0}, &err));
    test_alloc.fail_at = test_alloc.allocations + 1;
    ck_assert_ptr_null(cr_tensor_new_scalar(2.0, NULL));
    cr_tensor_free(a);
    ck_assert_int_eq(test_alloc.live, 0);
    /* cr_graph_new itself */
    test_alloc.fail_at = test_alloc.allocations + 1;
    ck_assert_ptr_null(cr_graph_new());
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

/* The hook: every allocation goes through it; a hook missing a function is
 * refused; NULL restores the C library's. */
START_TEST(test_allocator_hook)
{
    cr_allocator bad = {NULL, NULL, NULL, NULL};
    ck_assert_int_eq(cr_set_allocator(&bad), CR_EINVAL);
    test_alloc_install(0);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 2.0);
    cr_node *y = cr_exp(g, cr_mul(g, x, x));
    ck_assert_int_eq(cr_graph_backward(g, y, 0), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(x)), 4.0 * exp(4.0), 1e-9);
    ck_assert_uint_gt(test_alloc.allocations, 0);
    ck_assert_int_gt(test_alloc.live, 0);
    cr_graph_free(g);
    ck_assert_int_eq(test_alloc.live, 0);
    ck_assert_uint_eq(test_alloc.failures, 0);
    test_alloc_uninstall();
    const size_t count = test_alloc.allocations;
    g = cr_graph_new();
    cr_graph_free(g);
    ck_assert_uint_eq(test_alloc.allocations, count); /* no longer counted */
}
END_TEST

Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_allocator_hook);
    tcase_add_test(tc, test_steady_state_zero_allocations);
    tcase_add_test(tc, test_steady_state_zero_allocations_accumulate);
    tcase_add_test(tc, test_oom_seed);
    tcase_add_test(tc, test_oom_mlp);
    tcase_add_test(tc, test_oom_second_order);
    tcase_add_test(tc, test_oom_then_recover);
    tcase_add_test(tc, test_tensor_oom);
    suite_add_tcase(s, tc);
    return s;
}
