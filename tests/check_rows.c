/*
 * check_rows.c - one graph for every batch size (cr_graph_set_rows): a
 * model built for 8 rows and shrunk to 3 computes bit for bit what a model
 * built for 3 rows computes (loss, outputs, every parameter's gradient) for
 * an MLP, a CNN (conv, batch norm, pooling, dropout), an LSTM and a GRU;
 * shrinking then restoring gives the full batch's numbers again; the
 * errors (0 rows, more than built, no batch leaves, an op that cannot
 * change its batch size, nodes made while shrunk) and out of memory.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* A model of spec for batch rows; vocab > 0: class indices as targets. */
static cr_model *make(const char *spec, int rank, const size_t *shape, size_t vocab,
                      size_t batch)
{
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = batch;
    o.seed = 7;
    if (vocab)
        o.loss = CR_LOSS_XENT_INDEX;
    cr_error err;
    cr_model *m = cr_model_new_from_spec(spec, vocab, rank, shape, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

/* Fills the first rows rows of the model's input and targets (sample i's
 * values depend on i only) and runs forward and backward. */
static void run(cr_model *m, size_t rows, size_t vocab)
{
    cr_error err;
    ck_assert_msg(cr_model_set_rows(m, rows, &err) == CR_OK, "%s", err.message);
    cr_node *x = cr_model_input(m), *t = cr_model_target(m), *loss = cr_model_loss(m);
    const size_t in = cr_model_input_size(m), ts = cr_model_target_size(m);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(x)), rows * in);
    double *xv = malloc(rows * in * sizeof *xv), *tv = calloc(rows * ts, sizeof *tv);
    for (size_t i = 0; i < rows * in; i++)
        xv[i] = vocab ? (double)((i * 7 + i / in) % vocab) : sin(0.3 * (double)i) + 0.1;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ts; j++)
            tv[r * ts + j] = vocab ? (double)((r + j) % vocab) : (j == r % ts);
    ck_assert_int_eq(cr_node_set_data(x, xv, rows * in), CR_OK);
    ck_assert_int_eq(cr_node_set_data(t, tv, rows * ts), CR_OK);
    free(xv);
    free(tv);
    cr_graph *g = cr_model_graph(m);
    ck_assert_msg(cr_graph_forward(g, loss) == CR_OK, "%s", cr_graph_error(g)->message);
    ck_assert_msg(cr_graph_backward(g, loss, 0) == CR_OK, "%s", cr_graph_error(g)->message);
}

static void assert_same_tensor(const cr_tensor *a, const cr_tensor *b, const char *what)
{
    ck_assert_msg(cr_tensor_same_shape(a, b), "%s: shapes differ", what);
    ck_assert_msg(memcmp(cr_tensor_data(a), cr_tensor_data(b),
                         cr_tensor_size(a) * sizeof(double)) == 0,
                  "%s: values differ", what);
}

/* Model a (built for 8, shrunk to 3) and b (built for 3) agree bit for bit. */
static void assert_same_run(cr_model *a, cr_model *b)
{
    assert_same_tensor(cr_node_value(cr_model_loss(a)), cr_node_value(cr_model_loss(b)),
                       "loss");
    assert_same_tensor(cr_node_value(cr_model_output(a)), cr_node_value(cr_model_output(b)),
                       "output");
    cr_graph *ga = cr_model_graph(a), *gb = cr_model_graph(b);
    ck_assert_uint_eq(cr_graph_num_params(ga), cr_graph_num_params(gb));
    for (size_t k = 0; k < cr_graph_num_params(ga); k++)
        assert_same_tensor(cr_node_grad(cr_graph_param(ga, k)),
                           cr_node_grad(cr_graph_param(gb, k)),
                           cr_node_name(cr_graph_param(ga, k)));
}

static void shrunk_matches_built(const char *spec, int rank, const size_t *shape,
                                 size_t vocab, int training)
{
    cr_model *a = make(spec, rank, shape, vocab, 8), *b = make(spec, rank, shape, vocab, 3);
    cr_model_set_training(a, training);
    cr_model_set_training(b, training);
    run(a, 8, vocab); /* a full batch first, as training does */
    /* the same dropout masks: the generators start alike */
    cr_graph_set_seed(cr_model_graph(a), 11);
    cr_graph_set_seed(cr_model_graph(b), 11);
    run(a, 3, vocab);
    run(b, 3, vocab);
    ck_assert_uint_eq(cr_graph_rows(cr_model_graph(a)), 3);
    ck_assert_uint_eq(cr_graph_max_rows(cr_model_graph(a)), 8);
    assert_same_run(a, b);
    cr_model_free(a);
    cr_model_free(b);
}

START_TEST(test_mlp_shrunk_matches_built)
{
    const size_t in[1] = {5};
    shrunk_matches_built("dense:6 tanh dense:4 relu dense:3", 1, in, 0, 1);
}
END_TEST

START_TEST(test_cnn_shrunk_matches_built)
{
    const size_t in[3] = {1, 6, 6};
    const char *spec = "conv2d:3,3x3,pad=1 batchnorm relu maxpool:2 conv2d:2,2x2 "
                       "avgpool:1 flatten dense:4 relu dropout:0.3 layernorm dense:3";
    shrunk_matches_built(spec, 3, in, 0, 0); /* evaluation: running statistics */
    shrunk_matches_built(spec, 3, in, 0, 1); /* training: batch statistics, masks */
}
END_TEST

START_TEST(test_lstm_shrunk_matches_built)
{
    const size_t in[1] = {5};
    shrunk_matches_built("embed:4 lstm:5 dense:V", 1, in, 6, 1);
    shrunk_matches_built("embed:4 gru:5,seq rnn:3 dense:V", 1, in, 6, 1);
    shrunk_matches_built("embed:4 lstm:5,seq dense:V", 1, in, 6, 1);
}
END_TEST

/* Shrinking and restoring gives the full batch's numbers again. */
START_TEST(test_shrink_then_restore)
{
    const size_t in[3] = {1, 6, 6};
    cr_model *m =
        make("conv2d:2,3x3 batchnorm relu maxpool:2 flatten dense:3", 3, in, 0, 8);
    cr_model_set_training(m, 0);
    run(m, 8, 0);
    cr_tensor *loss = cr_tensor_copy(cr_node_value(cr_model_loss(m)), NULL);
    cr_tensor *grad =
        cr_tensor_copy(cr_node_grad(cr_graph_param(cr_model_graph(m), 0)), NULL);
    run(m, 3, 0);
    run(m, 1, 0);
    run(m, 8, 0);
    assert_same_tensor(cr_node_value(cr_model_loss(m)), loss, "loss");
    assert_same_tensor(cr_node_grad(cr_graph_param(cr_model_graph(m), 0)), grad, "grad");
    cr_tensor_free(loss);
    cr_tensor_free(grad);
    cr_model_free(m);
}
END_TEST

START_TEST(test_rows_errors)
{
    cr_graph *g = cr_graph_new();
    const size_t s[2] = {4, 3}, w[2] = {3, 2};
    cr_node *x = cr_input(g, "x", 2, s);
    cr_node *y = cr_matmul(g, x, cr_param_init(g, "W", 2, w, CR_INIT_XAVIER, 0, 0), 0);
    ck_assert_ptr_nonnull(y);
    /* no batch leaves */
    ck_assert_int_eq(cr_graph_set_rows(g, 2), CR_ESTATE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "set rows: the graph has no batch leaves (cr_node_mark_batch)");
    ck_assert_int_eq(cr_node_mark_batch(cr_graph_find(g, "W")), CR_ESTATE);
    ck_assert_int_eq(cr_node_mark_batch(x), CR_OK);
    ck_assert_uint_eq(cr_graph_max_rows(g), 4);
    ck_assert_int_eq(cr_graph_set_rows(g, 0), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "set rows: 0 rows; the graph was built for 1 to 4");
    ck_assert_int_eq(cr_graph_set_rows(g, 5), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "set rows: 5 rows; the graph was built for 1 to 4");
    ck_assert_uint_eq(cr_graph_rows(g), 4);
    /* a product and a sum follow; a permute of the batch cannot */
    cr_node *s2 = cr_sum_axis(g, y, 1);
    ck_assert_int_eq(cr_graph_set_rows(g, 2), CR_OK);
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(y))[0], 2);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(s2)), 2);
    /* nodes made while shrunk cannot follow a change */
    cr_node *later = cr_relu(g, y);
    ck_assert_ptr_nonnull(later);
    ck_assert_int_eq(cr_graph_set_rows(g, 4), CR_ESTATE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "set rows: relu#4 was made while the graph ran 2 of its 4 rows: make "
                     "nodes at the full batch");
    ck_assert_uint_eq(cr_graph_rows(g), 2);
    cr_graph_free(g);

    g = cr_graph_new();
    x = cr_input(g, "x", 2, s);
    ck_assert_int_eq(cr_node_mark_batch(x), CR_OK);
    const int perm[2] = {1, 0};
    cr_node *p = cr_permute(g, x, 2, perm);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(cr_graph_set_rows(g, 2), CR_ENOTSUP);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "set rows: permute#1 (op permute) cannot change its batch size");
    /* the graph keeps its batch */
    ck_assert_uint_eq(cr_graph_rows(g), 4);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(x)), 12);
    const size_t other[2] = {3, 3};
    ck_assert_int_eq(cr_node_mark_batch(cr_input(g, "z", 2, other)), CR_ESHAPE);
    ck_assert_int_eq(cr_graph_set_rows(NULL, 1), CR_EINVAL);
    ck_assert_int_eq(cr_node_mark_batch(NULL), CR_EINVAL);
    ck_assert_uint_eq(cr_graph_rows(NULL), 0);
    cr_graph_free(g);

    /* a model says the same through cr_model_set_rows */
    const size_t in[1] = {3};
    cr_model *m = make("dense:2", 1, in, 0, 4);
    cr_error err;
    ck_assert_int_eq(cr_model_set_rows(m, 5, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "set_rows: 5 rows, the model has 1 to 4");
    ck_assert_int_eq(cr_model_set_rows(m, 2, &err), CR_OK);
    cr_model_free(m);
}
END_TEST

/* Each allocation of a first shrink failing in turn: CR_ENOMEM and the
 * graph at its full batch, or success; nothing leaked. */
START_TEST(test_rows_out_of_memory)
{
    for (size_t k = 1;; k++) {
        test_alloc_install(0);
        cr_graph *g = cr_graph_new();
        const size_t s[2] = {4, 3};
        cr_node *x = cr_input(g, "x", 2, s);
        cr_node *y = cr_sum_axis(g, cr_tanh(g, x), 1);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(cr_node_mark_batch(x), CR_OK);
        test_alloc.fail_at = test_alloc.allocations + k;
        const cr_status st = cr_graph_set_rows(g, 3);
        const size_t failures = test_alloc.failures;
        test_alloc.fail_at = 0;
        ck_assert(st == CR_OK || st == CR_ENOMEM);
        ck_assert_uint_eq(cr_tensor_size(cr_node_value(y)), st == CR_OK ? 3 : 4);
        cr_graph_free(g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (failures == 0)
            break;
    }
}
END_TEST

Suite *rows_suite(void)
{
    Suite *s = suite_create("rows");
    TCase *tc = tcase_create("rows");
    tcase_add_test(tc, test_mlp_shrunk_matches_built);
    tcase_add_test(tc, test_cnn_shrunk_matches_built);
    tcase_add_test(tc, test_lstm_shrunk_matches_built);
    tcase_add_test(tc, test_shrink_then_restore);
    tcase_add_test(tc, test_rows_errors);
    tcase_add_test(tc, test_rows_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
