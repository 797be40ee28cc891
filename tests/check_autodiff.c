/*
 * check_autodiff.c - tests of reverse mode: the seed article's worked
 * example to its printed digits, fan-out, broadcasting gradients, re-runs
 * with new inputs, accumulate/zero-grad semantics, gradients requested for
 * inputs and intermediate nodes, nodes with no path to the loss, second
 * derivatives through cr_grad, a 1,000,000-node chain, and backward errors.
 */
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* v printed with `decimals` decimals is exactly `text`, and v is within
 * half a unit of the last printed digit of it. */
static void assert_digits(const char *what, double v, const char *text, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    ck_assert_msg(strcmp(buf, text) == 0, "%s = %.17g prints as %s, expected %s", what, v,
                  buf, text);
    const double expected = strtod(text, NULL);
    ck_assert_msg(fabs(v - expected) <= 0.5 * pow(10.0, -decimals) * (1 + 1e-9),
                  "%s = %.17g, expected %s", what, v, text);
}

/* ---- the seed article's neuron ---- */

typedef struct seed {
    cr_graph *g;
    cr_node *x1, *x2, *desired, *w1, *w2, *b, *s, *predicted, *E;
} seed;

static void seed_build(seed *n)
{
    n->g = cr_graph_new();
    ck_assert_ptr_nonnull(n->g);
    n->x1 = cr_input_scalar(n->g, "x1", 0.1);
    n->x2 = cr_input_scalar(n->g, "x2", 0.3);
    n->desired = cr_input_scalar(n->g, "desired", 0.03);
    n->w1 = cr_param_scalar(n->g, "w1", 0.5);
    n->w2 = cr_param_scalar(n->g, "w2", 0.2);
    n->b = cr_param_scalar(n->g, "b", 1.83);
    n->s = cr_sop(n->g, 2, (cr_node *[]){n->x1, n->x2}, (cr_node *[]){n->w1, n->w2}, n->b);
    n->predicted = cr_sigmoid(n->g, n->s);
    n->E = cr_sq_error(n->g, n->predicted, n->desired);
    ck_assert_msg(n->E != NULL, "%s", cr_graph_error(n->g)->message);
}

START_TEST(test_seed_example)
{
    seed n;
    seed_build(&n);
    cr_node *dE_dpredicted = cr_grad(n.g, n.E, n.predicted);
    cr_node *dpredicted_ds = cr_grad(n.g, n.predicted, n.s);
    ck_assert_ptr_nonnull(dpredicted_ds);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);

    assert_digits("s", cr_node_scalar(n.s), "1.94", 2);
    ck_assert_double_eq_tol(cr_node_scalar(n.s), 1.94, 1e-15);
    assert_digits("predicted", cr_node_scalar(n.predicted), "0.874352143", 9);
    assert_digits("E", cr_node_scalar(n.E), "0.356465271", 9);
    assert_digits("dE/dpredicted", cr_node_scalar(dE_dpredicted), "0.844352143", 9);
    assert_digits("dpredicted/ds", cr_node_scalar(dpredicted_ds), "0.109860473", 9);
    assert_digits("dE/dw1", cr_tensor_scalar(cr_node_grad(n.w1)), "0.009276093", 9);
    assert_digits("dE/dw2", cr_tensor_scalar(cr_node_grad(n.w2)), "0.027828278", 9);
    assert_digits("dE/db", cr_tensor_scalar(cr_node_grad(n.b)), "0.0927609256", 10);

    /* the same numbers from closed forms, to double precision */
    const double s = 0.1 * 0.5 + 0.3 * 0.2 + 1.83, p = 1.0 / (1.0 + exp(-s));
    test_assert_rel(cr_node_scalar(n.predicted), p, 1e-15);
    test_assert_rel(cr_node_scalar(n.E), 0.5 * (0.03 - p) * (0.03 - p), 1e-14);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.w1)), (p - 0.03) * p * (1 - p) * 0.1,
                    1e-14);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.b)), (p - 0.03) * p * (1 - p), 1e-14);
    /* the chain: dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 */
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.w1)),
                    cr_node_scalar(dE_dpredicted) * cr_node_scalar(dpredicted_ds) * 0.1,
                    1e-15);

    /* the article's update, then forward */
    ck_assert_int_eq(cr_node_set_scalar(n.w1, 0.49990723907), CR_OK);
    ck_assert_int_eq(cr_node_set_scalar(n.w2, 0.1997217172), CR_OK);
    ck_assert_int_eq(cr_node_set_scalar(n.b, 1.821556479), CR_OK);
    ck_assert_int_eq(cr_graph_forward(n.g, n.E), CR_OK);
    test_assert_rel(cr_node_scalar(n.E), 0.35567134660719907, 1e-15);
    cr_graph_free(n.g);
}
END_TEST

/* Gradients requested for an input and an intermediate node; withdrawing
 * a parameter's request is refused. */
START_TEST(test_require_grad)
{
    seed n;
    seed_build(&n);
    ck_assert_int_eq(cr_node_require_grad(n.x1, 1), CR_OK);
    ck_assert_int_eq(cr_node_require_grad(n.s, 1), CR_OK);
    ck_assert_int_eq(cr_node_require_grad(n.w1, 0), CR_OK); /* params always get one */
    ck_assert_int_eq(cr_node_require_grad(NULL, 1), CR_EINVAL);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    const double p = cr_node_scalar(n.predicted), dEds = (p - 0.03) * p * (1 - p);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.s)), dEds, 1e-14);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.x1)), dEds * 0.5, 1e-14);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(n.w1)), dEds * 0.1, 1e-14);
    ck_assert_ptr_null(cr_node_grad(n.x2)); /* not asked for */
    ck_assert_ptr_null(cr_node_grad(n.desired));
    /* the gradient node is an ordinary node whose value is the gradient */
    cr_node *gn = cr_node_grad_node(n.s);
    ck_assert_ptr_nonnull(gn);
    ck_assert_double_eq(cr_node_scalar(gn), cr_tensor_scalar(cr_node_grad(n.s)));
    ck_assert_int_eq(cr_node_set_name(gn, "dE/ds"), CR_OK);
    ck_assert_ptr_eq(cr_graph_find(n.g, "dE/ds"), gn);

    /* withdrawing drops the gradient: no stale value after new inputs */
    ck_assert_int_eq(cr_node_require_grad(n.x1, 0), CR_OK);
    ck_assert_ptr_null(cr_node_grad(n.x1));
    cr_node_set_scalar(n.x1, 0.9);
    cr_graph_forward(n.g, n.E);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    ck_assert_ptr_null(cr_node_grad(n.x1));
    ck_assert_ptr_nonnull(cr_node_grad(n.s));
    ck_assert_ptr_nonnull(cr_node_grad(n.w1));

    /* toggling a request back and forth reuses the earlier builds: the
     * graph stops growing, and the gradients follow the request */
    ck_assert_int_eq(cr_node_require_grad(n.x1, 1), CR_OK);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    const size_t size = cr_graph_size(n.g);
    for (int k = 0; k < 6; k++) {
        cr_node_require_grad(n.x1, k % 2);
        cr_node_set_scalar(n.x1, 0.2 + 0.1 * k);
        cr_graph_forward(n.g, n.E);
        ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
        const double pk = cr_node_scalar(n.predicted);
        const double dEds_k = (pk - 0.03) * pk * (1 - pk);
        test_assert_rel(cr_tensor_scalar(cr_node_grad(n.w1)), dEds_k * (0.2 + 0.1 * k),
                        1e-13);
        if (k % 2)
            test_assert_rel(cr_tensor_scalar(cr_node_grad(n.x1)), dEds_k * 0.5, 1e-13);
        else
            ck_assert_ptr_null(cr_node_grad(n.x1));
    }
    ck_assert_uint_eq(cr_graph_size(n.g), size);
    cr_graph_free(n.g);
}
END_TEST

/* x feeds several nodes: contributions are summed. */
START_TEST(test_fan_out)
{
    cr_graph *g = cr_graph_new();
    const double xv = 0.6180339887;
    cr_node *x = cr_param_scalar(g, "x", xv);
    /* f = x*x + sin(x) + exp(x) * x */
    cr_node *f =
        cr_add(g, cr_add(g, cr_mul(g, x, x), cr_sin(g, x)), cr_mul(g, cr_exp(g, x), x));
    ck_assert_int_eq(cr_graph_backward(g, f, 0), CR_OK);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(x)),
                    2 * xv + cos(xv) + exp(xv) * xv + exp(xv), 1e-14);

    /* a vector used by three branches, one of them broadcast */
    size_t s3[1] = {3};
    const double vv[3] = {0.5, -1.25, 2.0};
    cr_error e;
    cr_tensor *t = cr_tensor_new_from(1, s3, vv, &e);
    cr_node *v = cr_param(g, "v", t);
    cr_node *loss = cr_add(g, cr_sum(g, cr_mul(g, v, v)),
                           cr_add(g, cr_mean(g, v), cr_sum(g, cr_scale(g, v, 3.0))));
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    for (size_t i = 0; i < 3; i++)
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(v), i), 2 * vv[i] + 1.0 / 3 + 3,
                                1e-14);
    test_assert_fd(g, loss, v, cr_tensor_data(cr_node_grad(v)), 1e-7, "fan-out");
    cr_tensor_free(t);
    cr_graph_free(g);
}
END_TEST

/* A row vector over the rows of a matrix and a scalar over a matrix: the
 * gradient is summed back to the operand's shape. */
START_TEST(test_broadcast_gradients)
{
    cr_graph *g = cr_graph_new();
    cr_error e;
    size_t s34[2] = {3, 4}, s4[1] = {4};
    double xd[12], cd[12];
    const double bd[4] = {0.25, -0.5, 1.5, 2.0};
    test_rand_seed(7);
    for (int i = 0; i < 12; i++) {
        xd[i] = test_rand_uniform(-2, 2);
        cd[i] = test_rand_uniform(-2, 2);
    }
    cr_tensor *tx = cr_tensor_new_from(2, s34, xd, &e);
    cr_tensor *tc = cr_tensor_new_from(2, s34, cd, &e);
    cr_tensor *tb = cr_tensor_new_from(1, s4, bd, &e);
    cr_node *X = cr_param(g, "X", tx);
    cr_node *C = cr_constant(g, tc);
    cr_node *b = cr_param(g, "b", tb);
    cr_node *k = cr_param_scalar(g, "k", 0.75);
    /* loss = sum(((X + b) * b * k) * C) */
    cr_node *loss = cr_sum(g, cr_mul(g, cr_mul(g, cr_mul(g, cr_add(g, X, b), b), k), C));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    const cr_tensor *gb = cr_node_grad(b), *gk = cr_node_grad(k), *gX = cr_node_grad(X);
    ck_assert_int_eq(cr_tensor_rank(gb), 1);
    ck_assert_uint_eq(cr_tensor_dim(gb, 0), 4);
    ck_assert_int_eq(cr_tensor_rank(gk), 0);
    double want_k = 0.0;
    for (int j = 0; j < 4; j++) {
        double want_b = 0.0;
        for (int i = 0; i < 3; i++) {
            const double xij = xd[i * 4 + j], cij = cd[i * 4 + j];
            want_b += (xij + 2 * bd[j]) * 0.75 * cij;
            want_k += (xij + bd[j]) * bd[j] * cij;
            ck_assert_double_eq_tol(cr_tensor_get(gX, (size_t)(i * 4 + j)),
                                    bd[j] * 0.75 * cij, 1e-14);
        }
        ck_assert_double_eq_tol(cr_tensor_get(gb, (size_t)j), want_b, 1e-13);
    }
    ck_assert_double_eq_tol(cr_tensor_scalar(gk), want_k, 1e-13);
    test_assert_fd(g, loss, b, cr_tensor_data(gb), 1e-7, "row-vector broadcast");
    test_assert_fd(g, loss, k, cr_tensor_data(gk), 1e-7, "scalar broadcast");
    cr_tensor_free(tx);
    cr_tensor_free(tc);
    cr_tensor_free(tb);
    cr_graph_free(g);
}
END_TEST

/* New inputs and parameters, forward, backward: the new gradient, with no
 * rebuilding (the graph does not grow). */
START_TEST(test_rerun_new_inputs)
{
    seed n;
    seed_build(&n);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    const size_t size = cr_graph_size(n.g);
    const cr_node *grad_w1 = cr_node_grad_node(n.w1);
    test_rand_seed(11);
    for (int run = 0; run < 5; run++) {
        const double x1 = test_rand_uniform(-1, 1), x2 = test_rand_uniform(-1, 1),
                     d = test_rand_uniform(0, 1), w1 = test_rand_uniform(-1, 1),
                     w2 = test_rand_uniform(-1, 1), b = test_rand_uniform(-1, 1);
        cr_node_set_scalar(n.x1, x1);
        cr_node_set_scalar(n.x2, x2);
        cr_node_set_scalar(n.desired, d);
        cr_node_set_scalar(n.w1, w1);
        cr_node_set_scalar(n.w2, w2);
        cr_node_set_scalar(n.b, b);
        ck_assert_int_eq(cr_graph_forward(n.g, n.E), CR_OK);
        ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
        const double p = 1.0 / (1.0 + exp(-(x1 * w1 + x2 * w2 + b)));
        const double dEds = (p - d) * p * (1 - p);
        test_assert_rel(cr_node_scalar(n.E), 0.5 * (d - p) * (d - p), 1e-13);
        ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), dEds * x1, 1e-15);
        ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w2)), dEds * x2, 1e-15);
        ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.b)), dEds, 1e-15);
    }
    ck_assert_uint_eq(cr_graph_size(n.g), size);
    ck_assert_ptr_eq(cr_node_grad_node(n.w1), grad_w1);
    cr_graph_free(n.g);
}
END_TEST

/* The case: L = p*p at p = 3, gradient 6. */
START_TEST(test_accumulate_like_pytorch)
{
    cr_graph *g = cr_graph_new();
    cr_node *p = cr_param_scalar(g, "p", 3.0);
    cr_node *L = cr_mul(g, p, p);
    ck_assert_int_eq(cr_graph_backward(g, L, 0), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(p)), 6.0);
    ck_assert_int_eq(cr_graph_backward(g, L, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, L, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(p)), 18.0);
    ck_assert_int_eq(cr_graph_backward(g, L, 0), CR_OK);
    ck_assert_int_eq(cr_graph_zero_grad(g), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(p)), 0.0);
    /* the gradient node is still the one backward built */
    ck_assert_ptr_nonnull(cr_node_grad_node(p));
    ck_assert_int_eq(cr_graph_backward(g, L, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(p)), 6.0);
    /* a first, accumulating backward starts from zero */
    cr_graph *h = cr_graph_new();
    cr_node *q = cr_param_scalar(h, "q", 3.0);
    ck_assert_int_eq(cr_graph_backward(h, cr_mul(h, q, q), CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(q)), 6.0);
    cr_graph_free(h);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_accumulate_and_zero)
{
    seed n;
    seed_build(&n);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    const double g1 = cr_tensor_scalar(cr_node_grad(n.w1));
    const double gb = cr_tensor_scalar(cr_node_grad(n.b));
    /* PyTorch's semantics: accumulating adds to what is held, so backward
     * and then two accumulating backwards hold three times the gradient */
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), 2 * g1, 1e-17);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), 3 * g1, 1e-17);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.b)), 3 * gb, 1e-17);
    /* a replacing backward holds only its own gradient; accumulating then
     * adds to that one, not to an accumulator of earlier calls */
    cr_node_set_scalar(n.x1, 0.7);
    cr_graph_forward(n.g, n.E);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    const double g1b = cr_tensor_scalar(cr_node_grad(n.w1)); /* replace mode: this one */
    ck_assert_double_ne(g1b, g1);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), 2 * g1b, 1e-16);
    /* zero_grad zeroes what cr_node_grad returns */
    ck_assert_int_eq(cr_graph_zero_grad(n.g), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(n.w1)), 0.0);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(n.w2)), 0.0);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, CR_BACKWARD_ACCUMULATE), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), g1b, 1e-17);
    /* zero_grad after a replacing backward zeroes that gradient too */
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    ck_assert_int_eq(cr_graph_zero_grad(n.g), CR_OK);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(n.w1)), 0.0);
    ck_assert_int_eq(cr_graph_zero_grad(NULL), CR_EINVAL);
    /* a replacing backward shows the fresh gradient again */
    cr_node_set_scalar(n.x1, 0.1);
    cr_graph_forward(n.g, n.E);
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(n.w1)), g1, 1e-17);
    cr_graph_free(n.g);
}
END_TEST

/* Parameters without a path to the loss get a zero gradient of their own
 * shape, including one created after the loss. */
START_TEST(test_no_path)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 1.5);
    size_t s23[2] = {2, 3};
    cr_error e;
    cr_tensor *t = cr_tensor_new(2, s23, &e);
    cr_tensor_fill(t, 0.5);
    cr_node *unused = cr_param(g, "unused", t);
    cr_node *other = cr_sum(g, cr_exp(g, unused)); /* depends on unused, not on loss */
    cr_node *loss = cr_mul(g, x, cr_sin(g, x));
    cr_node *late = cr_param_scalar(g, "late", 2.0);
    ck_assert_ptr_nonnull(other);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(x)), sin(1.5) + 1.5 * cos(1.5), 1e-15);
    const cr_tensor *gu = cr_node_grad(unused);
    ck_assert_ptr_nonnull(gu);
    ck_assert(cr_tensor_same_shape(gu, t));
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(cr_tensor_get(gu, i), 0.0);
    ck_assert_double_eq(cr_tensor_scalar(cr_node_grad(late)), 0.0);
    /* cr_grad with no dependence is a zero constant */
    cr_node *z = cr_grad(g, loss, unused);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(cr_node_kind_of(z), CR_NODE_CONSTANT);
    ck_assert_double_eq(test_max_abs(cr_node_value(z)), 0.0);
    cr_tensor_free(t);
    cr_graph_free(g);
}
END_TEST

/* cr_grad(g, y, x) twice gives the same node and adds none, so it can be
 * called in a loop; the node's value follows the inputs; other pairs,
 * second derivatives and backward keep working beside it. */
START_TEST(test_grad_idempotent)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.7), *w = cr_param_scalar(g, "w", -1.3);
    cr_node *y = cr_add(g, cr_mul(g, cr_sin(g, x), w), cr_powc(g, cr_mul(g, x, w), 2.0));
    cr_node *d = cr_grad(g, y, x);
    ck_assert_ptr_nonnull(d);
    const size_t size = cr_graph_size(g);
    /* plans y's forward before counting (blocks allocated under the
     * counting allocator must be freed under it) */
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    test_alloc_install(0);
    const size_t allocations = test_alloc.allocations;
    for (int k = 0; k < 50; k++) {
        const double xv = 0.1 * k - 2.0;
        ck_assert_int_eq(cr_node_set_scalar(x, xv), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        ck_assert_ptr_eq(cr_grad(g, y, x), d);
        ck_assert_uint_eq(cr_graph_size(g), size);
        test_assert_rel(cr_node_scalar(d), cos(xv) * -1.3 + 2 * xv * 1.3 * 1.3, 1e-14);
    }
    ck_assert_uint_eq(test_alloc.allocations, allocations); /* a hit allocates nothing */
    test_alloc_uninstall();
    /* another pair is another node, cached in turn */
    cr_node *dw = cr_grad(g, y, w);
    ck_assert_ptr_ne(dw, d);
    const size_t size2 = cr_graph_size(g);
    ck_assert_uint_gt(size2, size);
    ck_assert_ptr_eq(cr_grad(g, y, w), dw);
    ck_assert_ptr_eq(cr_grad(g, y, x), d);
    /* a second derivative of the cached node, itself cached */
    cr_node *dd = cr_grad(g, d, x);
    ck_assert_ptr_eq(cr_grad(g, d, x), dd);
    const double xv = cr_node_scalar(x);
    test_assert_rel(cr_node_scalar(dd), -sin(xv) * -1.3 + 2 * 1.3 * 1.3, 1e-14);
    /* no dependence: the same zero constant each time */
    cr_node *u = cr_param_scalar(g, "u", 3.0);
    cr_node *z = cr_grad(g, y, u);
    ck_assert_ptr_eq(cr_grad(g, y, u), z);
    ck_assert_double_eq(cr_node_scalar(z), 0.0);
    /* backward on the same loss has gradients of its own and leaves the
     * cached ones alone (on this scalar graph it computes them directly,
     * and builds its nodes when they are asked for) */
    const size_t before_backward = cr_graph_size(g);
    ck_assert_int_eq(cr_graph_backward(g, y, 0), CR_OK);
    ck_assert_uint_eq(cr_graph_size(g), before_backward);
    ck_assert_ptr_nonnull(cr_node_grad_node(x));
    ck_assert_ptr_ne(cr_node_grad_node(x), d);
    ck_assert_uint_gt(cr_graph_size(g), before_backward);
    test_assert_rel(cr_tensor_get(cr_node_grad(x), 0), cr_node_scalar(d), 1e-15);
    const size_t after_backward = cr_graph_size(g);
    ck_assert_int_eq(cr_graph_backward(g, y, 0), CR_OK);
    ck_assert_ptr_eq(cr_grad(g, y, x), d);
    ck_assert_uint_eq(cr_graph_size(g), after_backward);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_second_derivatives)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 2.385);
    /* d2/dx2 x^3 = 6x = 14.31, through powc and through products */
    cr_node *f = cr_powc(g, x, 3.0);
    cr_node *d1 = cr_grad(g, f, x);
    cr_node *d2 = cr_grad(g, d1, x);
    ck_assert_ptr_nonnull(d2);
    test_assert_rel(cr_node_scalar(d1), 3 * 2.385 * 2.385, 1e-15);
    test_assert_rel(cr_node_scalar(d2), 14.31, 1e-14);
    ck_assert_double_eq(cr_node_scalar(cr_grad(g, f, f)), 1.0); /* dy/dy */
    ck_assert_double_eq(cr_node_scalar(cr_grad(g, x, x)), 1.0);
    cr_node *d3 = cr_grad(g, d2, x);
    test_assert_rel(cr_node_scalar(d3), 6.0, 1e-15);
    cr_node *f2 = cr_mul(g, cr_mul(g, x, x), x);
    cr_node *e2 = cr_grad(g, cr_grad(g, f2, x), x);
    test_assert_rel(cr_node_scalar(e2), 14.31, 1e-14);
    /* gradient nodes re-evaluate with forward */
    cr_node_set_scalar(x, -1.25);
    ck_assert_int_eq(cr_graph_forward(g, d2), CR_OK);
    test_assert_rel(cr_node_scalar(d2), -7.5, 1e-15);

    /* mixed: f = x^2 y + sin(x y) */
    const double xv = 0.8, yv = -1.3;
    cr_node_set_scalar(x, xv);
    cr_node *y = cr_param_scalar(g, "y", yv);
    cr_node *xy = cr_mul(g, x, y);
    cr_node *h = cr_add(g, cr_mul(g, cr_mul(g, x, x), y), cr_sin(g, xy));
    cr_node *hx = cr_grad(g, h, x);
    cr_node *hxy = cr_grad(g, hx, y);
    cr_node *hxx = cr_grad(g, hx, x);
    cr_node *hyx = cr_grad(g, cr_grad(g, h, y), x);
    ck_assert_ptr_nonnull(hyx);
    test_assert_rel(cr_node_scalar(hx), 2 * xv * yv + yv * cos(xv * yv), 1e-14);
    const double mixed = 2 * xv + cos(xv * yv) - xv * yv * sin(xv * yv);
    test_assert_rel(cr_node_scalar(hxy), mixed, 1e-14);
    test_assert_rel(cr_node_scalar(hyx), mixed, 1e-14);
    test_assert_rel(cr_node_scalar(hxx), 2 * yv - yv * yv * sin(xv * yv), 1e-14);
    cr_graph_free(g);
}
END_TEST

/* A 1,000,000-node chain x -> sin -> scale -> sin -> ... builds, runs
 * forward and backward (twice) without recursion, with the right value and
 * derivative. */
START_TEST(test_million_node_chain)
{
    enum { STEPS = 500000 }; /* two nodes per step */
    const double c = -0.9999999;
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 1.2);
    cr_node *y = x;
    for (int k = 0; k < STEPS; k++)
        y = cr_scale(g, cr_sin(g, y), c);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(cr_graph_size(g), 1 + 2 * STEPS);
    for (int run = 0; run < 2; run++) {
        const double x0 = run == 0 ? 1.2 : -0.4;
        ck_assert_int_eq(cr_node_set_scalar(x, x0), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        ck_assert_int_eq(cr_graph_backward(g, y, 0), CR_OK);
        double v = x0, d = 1.0;
        for (int k = 0; k < STEPS; k++) {
            d *= cos(v) * c;
            v = c * sin(v);
        }
        test_assert_rel(cr_node_scalar(y), v, 1e-12);
        test_assert_rel(cr_tensor_scalar(cr_node_grad(x)), d, 1e-9);
        ck_assert_double_ne(d, 0.0);
    }
    cr_graph_free(g);
}
END_TEST

START_TEST(test_backward_errors)
{
    cr_graph *g = cr_graph_new();
    size_t s3[1] = {3};
    cr_node *v = cr_input(g, "v", 1, s3);
    cr_node *sv = cr_sigmoid(g, v);
    ck_assert_int_eq(cr_graph_backward(g, sv, 0), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "backward: sigmoid#1 must be a scalar, got [3]");
    ck_assert_ptr_null(cr_grad(g, sv, v));
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "grad: sigmoid#1 must be a scalar, got [3]");
    ck_assert_int_eq(cr_graph_backward(g, NULL, 0), CR_EINVAL);
    cr_graph *h = cr_graph_new();
    cr_node *w = cr_param_scalar(h, "w", 1.0);
    ck_assert_int_eq(cr_graph_backward(g, w, 0), CR_EINVAL);
    ck_assert_ptr_null(cr_grad(g, cr_sum(g, v), w));
    ck_assert_str_eq(cr_graph_error(g)->message, "grad: nodes belong to another graph");
    cr_graph_free(h);
    cr_graph_free(g);
}
END_TEST

/* A saturated sigmoid gives p exactly 1 (or 0): bce's value is clamped and
 * its gradient must stay finite, and the gradient through the sigmoid is 0. */
START_TEST(test_bce_saturated)
{
    cr_graph *g = cr_graph_new();
    size_t shape[1] = {2};
    cr_node *z = cr_input(g, "z", 1, shape);
    cr_node_set_data(z, (double[]){40.0, -800.0}, 2);
    cr_node_require_grad(z, 1);
    cr_node *t = cr_input(g, "t", 1, shape);
    cr_node_set_data(t, (double[]){1.0, 1.0}, 2);
    cr_node *p = cr_sigmoid(g, z);
    cr_node_require_grad(p, 1);
    cr_node *E = cr_bce(g, p, t);
    ck_assert_ptr_nonnull(E);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(p), 0), 1.0);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(p), 1), 0.0);
    /* -(log(1 - 1e-12) + log(1e-12)) / 2 */
    ck_assert_double_eq_tol(cr_node_scalar(E), -(log1p(-1e-12) + log(1e-12)) / 2, 1e-12);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    const cr_tensor *dp = cr_node_grad(p), *dz = cr_node_grad(z);
    /* dE/dp = (p - t) / (q (1 - q) n): 0 for the first, -1/(1e-12 * 2) for the second */
    ck_assert_double_eq(cr_tensor_get(dp, 0), 0.0);
    ck_assert_double_eq_tol(cr_tensor_get(dp, 1), -0.5 / (1e-12 * (1 - 1e-12)), 1e-3);
    ck_assert(isfinite(cr_tensor_get(dz, 0)) && isfinite(cr_tensor_get(dz, 1)));
    ck_assert_double_eq(cr_tensor_get(dz, 1), 0.0);
    cr_graph_free(g);
}
END_TEST

/* ---- the direct backward of scalar graphs ---- */

enum { SCALAR_PARAMS = 6, SCALAR_INPUTS = 2, SCALAR_OPS = 400 };

typedef struct scalar_net {
    cr_graph *g;
    cr_node *leaves[SCALAR_PARAMS + SCALAR_INPUTS]; /* parameters first */
    cr_node *loss;
} scalar_net;

/* A random scalar graph of SCALAR_OPS nodes, each of the ops that have a
 * scalar_vjp (and sign, detach, powc with exponents 0 and 1: no
 * contribution or dy itself; sop with and without a bias, an input used
 * twice) on earlier nodes: most on the last few, some on any, so
 * nodes fan out. Each op's input goes through tanh first where its domain
 * or size needs it. Identical for equal seeds. */
static void scalar_net_build(scalar_net *s, unsigned long net_seed)
{
    test_rand_seed(net_seed);
    cr_graph *g = s->g = cr_graph_new();
    ck_assert_ptr_nonnull(g);
    cr_node *pool[SCALAR_PARAMS + SCALAR_INPUTS + SCALAR_OPS];
    size_t n = 0;
    for (size_t k = 0; k < SCALAR_PARAMS; k++)
        pool[n++] = s->leaves[k] = cr_param_scalar(g, NULL, test_rand_uniform(-1.5, 1.5));
    for (size_t k = 0; k < SCALAR_INPUTS; k++)
        pool[n++] = s->leaves[SCALAR_PARAMS + k] =
            cr_input_scalar(g, NULL, test_rand_uniform(-1.5, 1.5));
    while (n < SCALAR_PARAMS + SCALAR_INPUTS + SCALAR_OPS) {
        const size_t near = n < 4 ? n : 4;
        const int far = test_rand_uniform(0, 1) < 0.3;
        cr_node *a = pool[far ? (size_t)test_rand_uniform(0, (double)n)
                              : n - 1 - (size_t)test_rand_uniform(0, (double)near)];
        cr_node *b = pool[(size_t)test_rand_uniform(0, (double)n)];
        /* unary ops on a, unary ops on t = tanh(a), binary ops on (a, b) */
        static cr_node *(*const on_a[])(cr_graph *, cr_node *) = {
            cr_neg, cr_abs, cr_sin, cr_cos, cr_tanh, cr_sigmoid, cr_relu};
        static cr_node *(*const on_t[])(cr_graph *, cr_node *) = {cr_exp, cr_softplus,
                                                                  cr_square};
        static cr_node *(*const on_ab[])(cr_graph *, cr_node *,
                                         cr_node *) = {cr_add, cr_sub, cr_mul};
        enum { N_A = 7, N_T = 3, N_AB = 3 };
        cr_node *t = cr_tanh(g, a), *y;
        const int op = (int)test_rand_uniform(0, N_A + N_T + N_AB + 12);
        if (op < N_A)
            y = on_a[op](g, a);
        else if (op < N_A + N_T)
            y = on_t[op - N_A](g, t);
        else if (op < N_A + N_T + N_AB)
            y = on_ab[op - N_A - N_T](g, a, b);
        else if (op == N_A + N_T + N_AB)
            y = cr_div(g, b, cr_add(g, cr_square(g, t), cr_scalar(g, 0.5)));
        else if (op == N_A + N_T + N_AB + 1)
            y = cr_scale(g, a, -0.37);
        else if (op == N_A + N_T + N_AB + 2)
            y = cr_powc(g, t, 3.0);
        else if (op == N_A + N_T + N_AB + 3) /* exponents 0 and 1 */
            y = cr_powc(g, a, (double)(int)test_rand_uniform(0, 3));
        else if (op == N_A + N_T + N_AB + 4)
            y = cr_log(g, cr_add(g, cr_abs(g, a), cr_scalar(g, 0.25)));
        else if (op == N_A + N_T + N_AB + 5)
            y = cr_sqrt(g, cr_add(g, cr_square(g, t), cr_scalar(g, 0.1)));
        else if (op == N_A + N_T + N_AB + 6)
            y = cr_mul(g, cr_sign(g, a), b);
        else if (op == N_A + N_T + N_AB + 7)
            y = cr_log1p(g, cr_abs(g, t));
        else if (op == N_A + N_T + N_AB + 8) /* sop with a bias */
            y = cr_sop(g, 2, (cr_node *[]){a, t}, (cr_node *[]){b, t}, a);
        else if (op == N_A + N_T + N_AB + 9) /* sop without one */
            y = cr_sop(g, 3, (cr_node *[]){t, b, a}, (cr_node *[]){a, t, b}, NULL);
        else if (op == N_A + N_T + N_AB + 10) /* no contribution through detach */
            y = cr_add(g, cr_detach(g, a), cr_mul(g, a, b));
        else /* micrograd's neuron */
            y = cr_add(g, cr_mul(g, a, t), b);
        ck_assert_ptr_nonnull(y);
        pool[n++] = y;
    }
    /* every leaf reaches the loss directly too, and through the graph */
    s->loss = cr_add(g, pool[n - 1], cr_mul(g, pool[n - 2], pool[n - 7]));
    for (size_t k = 0; k < SCALAR_PARAMS + SCALAR_INPUTS; k++)
        s->loss = cr_add(g, s->loss, cr_mul(g, s->leaves[k], pool[n - 3 - k]));
    ck_assert_ptr_nonnull(s->loss);
    ck_assert_int_eq(cr_node_require_grad(s->leaves[SCALAR_PARAMS], 1), CR_OK);
}

/* The gradient that backward left in w, as bits. */
static uint64_t grad_bits(const cr_node *w)
{
    const double v = cr_tensor_scalar(cr_node_grad(w));
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

/* Asserts that leaves 0..n-1 of d and t hold bit-identical gradients,
 * naming the round (what, round) and the leaf that differs. */
static void assert_same_grads(const scalar_net *d, const scalar_net *t, size_t n,
                              const char *what, long round)
{
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(grad_bits(d->leaves[k]) == grad_bits(t->leaves[k]),
                      "%s %ld, leaf %zu: %.17g against %.17g", what, round, k,
                      cr_tensor_scalar(cr_node_grad(d->leaves[k])),
                      cr_tensor_scalar(cr_node_grad(t->leaves[k])));
}

/* A scalar graph's backward computes its gradients directly (no node
 * added), bit for bit what the gradient nodes compute: on the same graph
 * (whose gradient nodes cr_node_grad_node then builds), and through
 * re-runs with new values against a twin graph that backward differentiates
 * with gradient nodes. The direct re-runs allocate nothing. */
START_TEST(test_direct_scalar_backward)
{
    for (unsigned long net = 1; net <= 4; net++) {
        scalar_net d, t;
        scalar_net_build(&d, net);
        scalar_net_build(&t, net);
        const size_t size = cr_graph_size(d.g);
        ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK);
        ck_assert_uint_eq(cr_graph_size(d.g), size); /* direct: nothing built */
        ck_assert_ptr_nonnull(cr_node_grad(d.leaves[0]));
        ck_assert_int_eq(cr_tensor_rank(cr_node_grad(d.leaves[0])), 0);
        uint64_t direct[SCALAR_PARAMS + 1];
        for (size_t k = 0; k <= SCALAR_PARAMS; k++)
            direct[k] = grad_bits(d.leaves[k]);
        /* the twin builds its gradient nodes (asked for, as a drawing
         * would), from the same values */
        ck_assert_int_eq(cr_graph_backward(t.g, t.loss, 0), CR_OK);
        ck_assert_ptr_nonnull(cr_node_grad_node(t.leaves[0]));
        ck_assert_uint_gt(cr_graph_size(t.g), size);
        int nonzero = 0;
        for (size_t k = 0; k <= SCALAR_PARAMS; k++) {
            ck_assert_msg(grad_bits(t.leaves[k]) == direct[k],
                          "graph %lu, leaf %zu: direct %.17g, nodes %.17g", net, k,
                          cr_tensor_scalar(cr_node_grad(d.leaves[k])),
                          cr_tensor_scalar(cr_node_grad(t.leaves[k])));
            nonzero += cr_tensor_scalar(cr_node_grad(t.leaves[k])) != 0.0;
        }
        ck_assert_int_eq(nonzero, SCALAR_PARAMS + 1); /* no leaf left out */

        /* re-runs with new values: forward and backward on both graphs */
        ck_assert_int_eq(cr_graph_forward(d.g, d.loss), CR_OK); /* plans them */
        ck_assert_int_eq(cr_graph_forward(t.g, t.loss), CR_OK);
        test_alloc_install(0);
        for (int run = 0; run < 5; run++) {
            for (size_t k = 0; k < SCALAR_PARAMS + SCALAR_INPUTS; k++) {
                const double v = test_rand_uniform(-2, 2);
                ck_assert_int_eq(cr_node_set_scalar(d.leaves[k], v), CR_OK);
                ck_assert_int_eq(cr_node_set_scalar(t.leaves[k], v), CR_OK);
            }
            ck_assert_int_eq(cr_graph_forward(d.g, d.loss), CR_OK);
            ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK);
            ck_assert_int_eq(cr_graph_forward(t.g, t.loss), CR_OK);
            ck_assert_int_eq(cr_graph_backward(t.g, t.loss, 0), CR_OK);
            for (size_t k = 0; k <= SCALAR_PARAMS; k++)
                ck_assert_msg(grad_bits(t.leaves[k]) == grad_bits(d.leaves[k]),
                              "graph %lu, run %d, leaf %zu: direct %.17g, nodes %.17g", net,
                              run, k, cr_tensor_scalar(cr_node_grad(d.leaves[k])),
                              cr_tensor_scalar(cr_node_grad(t.leaves[k])));
        }
        ck_assert_uint_eq(test_alloc.allocations, 0);
        test_alloc_uninstall();
        ck_assert_uint_eq(cr_graph_size(d.g), size);

        /* asking for the nodes afterwards builds them from the values now */
        cr_node *gn = cr_node_grad_node(d.leaves[1]);
        ck_assert_ptr_nonnull(gn);
        ck_assert_uint_gt(cr_graph_size(d.g), size);
        ck_assert_ptr_eq(cr_node_value(gn), cr_node_grad(d.leaves[1]));
        ck_assert_msg(grad_bits(d.leaves[1]) == grad_bits(t.leaves[1]), "graph %lu", net);
        cr_graph_free(d.g);
        cr_graph_free(t.g);
    }
}
END_TEST

/* When only the parameters want gradients, backward takes them as the
 * wanted list without visiting every node (the graph counts the other
 * nodes that want one): withdrawing the input's request, twice, after
 * cr_graph_zero_grad left flags on it, then asking for the other input's
 * (a set not seen before) give the gradients of the node road bit for
 * bit, an input's only when asked for. */
START_TEST(test_wanted_params_only)
{
    scalar_net d, t;
    scalar_net_build(&d, 5);
    scalar_net_build(&t, 5);
    cr_node *x = d.leaves[SCALAR_PARAMS], *tx = t.leaves[SCALAR_PARAMS];
    cr_node *y = d.leaves[SCALAR_PARAMS + 1], *ty = t.leaves[SCALAR_PARAMS + 1];
    ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK);
    ck_assert_int_eq(cr_graph_zero_grad(d.g), CR_OK);
    for (int round = 0; round < 3; round++) {
        if (round == 1) /* x, wanting none now, gets an accumulator's flag */
            ck_assert_int_eq(cr_graph_zero_grad(d.g), CR_OK);
        for (int twice = 0; twice < 2; twice++) {
            ck_assert_int_eq(cr_node_require_grad(x, 0), CR_OK);
            ck_assert_int_eq(cr_node_require_grad(tx, 0), CR_OK);
            ck_assert_int_eq(cr_node_require_grad(y, round == 2), CR_OK);
            ck_assert_int_eq(cr_node_require_grad(ty, round == 2), CR_OK);
        }
        const double v = 0.3 + 0.2 * round;
        cr_node_set_scalar(x, v);
        cr_node_set_scalar(tx, v);
        ck_assert_int_eq(cr_graph_forward(d.g, d.loss), CR_OK);
        ck_assert_int_eq(cr_graph_forward(t.g, t.loss), CR_OK);
        ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK);
        ck_assert_int_eq(cr_graph_backward(t.g, t.loss, 0), CR_OK);
        ck_assert_ptr_nonnull(cr_node_grad_node(t.leaves[0])); /* the node road */
        assert_same_grads(&d, &t, SCALAR_PARAMS, "round", round);
        ck_assert_ptr_null(cr_node_grad(x));
        if (round == 2) {
            ck_assert_ptr_nonnull(cr_node_grad(y));
            ck_assert(grad_bits(y) == grad_bits(ty));
            ck_assert(cr_tensor_scalar(cr_node_grad(y)) != 0.0);
        } else {
            ck_assert_ptr_null(cr_node_grad(y));
        }
    }
    cr_graph_free(d.g);
    cr_graph_free(t.g);
}
END_TEST

/* A direct re-run that finds the gradients as it left them does not set
 * them again; whatever changed them in between (an accumulating backward,
 * cr_graph_zero_grad, another loss's backward, withdrawing a request)
 * makes the next re-run set them: each backward leaves the gradients of
 * its loss, bit for bit those of a twin graph that only ever runs that
 * backward. */
START_TEST(test_direct_rerun_settles)
{
    scalar_net d, t;
    scalar_net_build(&d, 6);
    scalar_net_build(&t, 6);
    cr_node *other = cr_square(d.g, d.loss);
    ck_assert_ptr_nonnull(other);
    cr_node *x = d.leaves[SCALAR_PARAMS];
    ck_assert_int_eq(cr_graph_backward(t.g, t.loss, 0), CR_OK);
    for (int step = 0; step < 7; step++) {
        ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK);
        ck_assert_int_eq(cr_graph_backward(d.g, d.loss, 0), CR_OK); /* settled */
        assert_same_grads(&d, &t, SCALAR_PARAMS + 1, "step", step);
        switch (step) { /* what changes the gradients before the next round */
        case 0:
            ck_assert_int_eq(cr_graph_backward(d.g, d.loss, CR_BACKWARD_ACCUMULATE), CR_OK);
            ck_assert(cr_tensor_scalar(cr_node_grad(d.leaves[0])) ==
                      2 * cr_tensor_scalar(cr_node_grad(t.leaves[0])));
            break;
        case 1:
            ck_assert_int_eq(cr_graph_zero_grad(d.g), CR_OK);
            ck_assert(cr_tensor_scalar(cr_node_grad(d.leaves[0])) == 0.0);
            break;
        case 2:
        case 3:
            ck_assert_int_eq(cr_graph_backward(d.g, other, 0), CR_OK);
            ck_assert(grad_bits(d.leaves[0]) != grad_bits(t.leaves[0]));
            break;
        case 4:
            ck_assert_int_eq(cr_node_require_grad(x, 0), CR_OK);
            ck_assert_ptr_null(cr_node_grad(x));
            ck_assert_int_eq(cr_node_require_grad(x, 1), CR_OK);
            break;
        default:
            ck_assert_ptr_nonnull(cr_node_grad_node(d.leaves[1]));
            break;
        }
    }
    cr_graph_free(d.g);
    cr_graph_free(t.g);
}
END_TEST

/* A scalar loss whose path reaches a vector, or an op without a
 * scalar_vjp, below scalar ops takes the node road, with right values. */
START_TEST(test_direct_falls_back)
{
    cr_graph *g = cr_graph_new();
    cr_node *p = cr_param_scalar(g, "p", 1.7);
    const size_t shape[1] = {3};
    cr_node *v = cr_input(g, "v", 1, shape);
    ck_assert_int_eq(cr_node_set_data(v, (const double[]){0.5, -2.25, 4.0}, 3), CR_OK);
    cr_node *q = cr_param_scalar(g, "q", -0.6);
    /* L = (p * sum(p v)) * sigmoid(q) + erf(q) */
    cr_node *sig = cr_sigmoid(g, q);
    cr_node *L =
        cr_add(g, cr_mul(g, cr_mul(g, p, cr_sum(g, cr_mul(g, p, v))), sig), cr_erf(g, q));
    ck_assert_ptr_nonnull(L);
    const size_t size = cr_graph_size(g);
    ck_assert_int_eq(cr_graph_backward(g, L, 0), CR_OK);
    ck_assert_uint_gt(cr_graph_size(g), size); /* nodes built */
    const double s = 0.5 - 2.25 + 4.0, sq = 1.0 / (1.0 + exp(0.6));
    test_assert_rel(cr_tensor_scalar(cr_node_grad(p)), 2 * 1.7 * s * sq, 1e-14);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(q)),
                    1.7 * 1.7 * s * sq * (1 - sq) + 1.1283791670955126 * exp(-0.36), 1e-14);
    /* without the vector, erf alone sends q's gradient down the node road */
    cr_node *L2 = cr_add(g, cr_mul(g, p, sig), cr_erf(g, q));
    const size_t size2 = cr_graph_size(g);
    ck_assert_int_eq(cr_graph_backward(g, L2, 0), CR_OK);
    ck_assert_uint_gt(cr_graph_size(g), size2);
    test_assert_rel(cr_tensor_scalar(cr_node_grad(p)), sq, 1e-15);
    cr_graph_free(g);
}
END_TEST

/* The direct backward fails the k-th allocation of its first call with
 * CR_ENOMEM, leaking nothing, and then succeeds. */
START_TEST(test_direct_backward_oom)
{
    scalar_net ref;
    scalar_net_build(&ref, 9);
    ck_assert_int_eq(cr_graph_backward(ref.g, ref.loss, 0), CR_OK);
    const uint64_t expected = grad_bits(ref.leaves[0]);
    cr_graph_free(ref.g);
    size_t k = 1;
    for (;; k++) {
        test_alloc_install(0);
        scalar_net s;
        scalar_net_build(&s, 9);
        test_alloc.fail_at = test_alloc.allocations + 1 + (k - 1);
        const cr_status st = cr_graph_backward(s.g, s.loss, 0);
        const size_t failures = test_alloc.failures;
        if (st == CR_OK) {
            ck_assert_uint_eq(failures, 0);
        } else {
            ck_assert_int_eq(st, CR_ENOMEM);
            ck_assert_ptr_null(cr_node_grad(s.leaves[0]));
            test_alloc.fail_at = 0;
            ck_assert_int_eq(cr_graph_backward(s.g, s.loss, 0), CR_OK);
        }
        ck_assert(grad_bits(s.leaves[0]) == expected);
        cr_graph_free(s.g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (st == CR_OK)
            break;
    }
    ck_assert_uint_ge(k, 4); /* the direct build's allocations were failed */
}
END_TEST

Suite *autodiff_suite(void)
{
    Suite *s = suite_create("autodiff");
    TCase *tc = tcase_create("seed");
    tcase_add_test(tc, test_seed_example);
    tcase_add_test(tc, test_require_grad);
    suite_add_tcase(s, tc);
    tc = tcase_create("reverse");
    tcase_add_test(tc, test_fan_out);
    tcase_add_test(tc, test_broadcast_gradients);
    tcase_add_test(tc, test_rerun_new_inputs);
    tcase_add_test(tc, test_accumulate_and_zero);
    tcase_add_test(tc, test_accumulate_like_pytorch);
    tcase_add_test(tc, test_no_path);
    tcase_add_test(tc, test_second_derivatives);
    tcase_add_test(tc, test_grad_idempotent);
    tcase_add_test(tc, test_backward_errors);
    tcase_add_test(tc, test_bce_saturated);
    tcase_add_test(tc, test_direct_scalar_backward);
    tcase_add_test(tc, test_wanted_params_only);
    tcase_add_test(tc, test_direct_rerun_settles);
    tcase_add_test(tc, test_direct_falls_back);
    tcase_add_test(tc, test_direct_backward_oom);
    suite_add_tcase(s, tc);
    tc = tcase_create("large");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_million_node_chain);
    suite_add_tcase(s, tc);
    return s;
}
