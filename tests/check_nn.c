/*
 * check_nn.c - tests of the MLP builder (names, shapes, seeded
 * initialisation, spec errors), its forward pass against hand-computed
 * values, finite-difference gradients of every loss and activation, the
 * article's second program through the MLP API, XOR, the training loop's
 * options (max_iter, target loss, early stopping, validation split,
 * callbacks, debug chains), allocation-free steps, evaluation and the
 * Fashion-MNIST data path on a small subset.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOL 1e-12

static cr_mlp *make(const cr_mlp_spec *s)
{
    cr_error err;
    cr_mlp *m = cr_mlp_new(s, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

/* A classifier spec: in inputs, one hidden layer of `hidden` units (the
 * default activation), out softmax outputs, cross-entropy loss. */
static cr_mlp_spec classifier_spec(size_t in, size_t hidden, size_t out)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, in, out);
    s.n_hidden = 1;
    s.hidden[0] = hidden;
    s.out_act = CR_ACT_SOFTMAX;
    s.loss = CR_LOSS_XENT;
    return s;
}

static const double *param_data(cr_mlp *m, const char *name)
{
    cr_node *n = cr_graph_find(cr_mlp_graph(m), name);
    ck_assert_msg(n != NULL, "no node %s", name);
    return cr_tensor_data(cr_node_value(n));
}

START_TEST(test_builder_names_and_shapes)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 3, 2);
    s.n_hidden = 2;
    s.hidden[0] = 7;
    s.hidden[1] = 5;
    cr_mlp *m = make(&s);
    cr_graph *g = cr_mlp_graph(m);
    const size_t want[3][2] = {{3, 7}, {7, 5}, {5, 2}};
    const char *wn[3] = {"W1", "W2", "W3"}, *bn[3] = {"b1", "b2", "b3"};
    ck_assert_uint_eq(cr_mlp_num_layers(m), 3);
    ck_assert_uint_eq(cr_graph_num_params(g), 6);
    for (int l = 0; l < 3; l++) {
        cr_node *w = cr_graph_find(g, wn[l]), *b = cr_graph_find(g, bn[l]);
        ck_assert_ptr_eq(w, cr_mlp_weight(m, (size_t)l + 1));
        ck_assert_ptr_eq(b, cr_mlp_bias(m, (size_t)l + 1));
        ck_assert_int_eq(cr_node_kind_of(w), CR_NODE_PARAM);
        ck_assert_uint_eq(cr_tensor_dim(cr_node_value(w), 0), want[l][0]);
        ck_assert_uint_eq(cr_tensor_dim(cr_node_value(w), 1), want[l][1]);
        ck_assert_uint_eq(cr_tensor_size(cr_node_value(b)), want[l][1]);
        ck_assert_double_eq(cr_tensor_get(cr_node_value(b), 0), 0.0);
    }
    ck_assert_uint_eq(cr_mlp_num_weights(m), 3 * 7 + 7 + 7 * 5 + 5 + 5 * 2 + 2);
    ck_assert_ptr_null(cr_mlp_weight(m, 0));
    ck_assert_ptr_null(cr_mlp_weight(m, 4));
    /* Xavier: |w| <= sqrt(6 / (fan_in + fan_out)) */
    const double *w1 = param_data(m, "W1");
    double bound = sqrt(6.0 / 10.0), maxabs = 0.0;
    for (int i = 0; i < 21; i++)
        maxabs = fmax(maxabs, fabs(w1[i]));
    ck_assert(maxabs <= bound && maxabs > 0.3 * bound);
    cr_mlp_free(m);

    s.bias = 0;
    m = make(&s);
    ck_assert_ptr_null(cr_graph_find(cr_mlp_graph(m), "b1"));
    ck_assert_ptr_null(cr_mlp_bias(m, 1));
    ck_assert_uint_eq(cr_graph_num_params(cr_mlp_graph(m)), 3);
    cr_mlp_free(m);
}
END_TEST

START_TEST(test_builder_seeded_init)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 4, 3);
    s.n_hidden = 1;
    s.hidden[0] = 6;
    for (int kind = CR_INIT_XAVIER; kind <= CR_INIT_NORMAL; kind++) {
        s.init = (cr_init_kind)kind;
        s.seed = 42;
        cr_mlp *a = make(&s), *b = make(&s);
        s.seed = 43;
        cr_mlp *c = make(&s);
        ck_assert_mem_eq(param_data(a, "W1"), param_data(b, "W1"), 24 * sizeof(double));
        ck_assert_mem_eq(param_data(a, "W2"), param_data(b, "W2"), 18 * sizeof(double));
        ck_assert(memcmp(param_data(a, "W1"), param_data(c, "W1"), 24 * sizeof(double)));
        cr_mlp_free(a);
        cr_mlp_free(b);
        cr_mlp_free(c);
    }
    /* uniform in [lo, hi) */
    s.init = CR_INIT_UNIFORM;
    s.init_lo = 0.25;
    s.init_hi = 0.5;
    cr_mlp *m = make(&s);
    const double *w = param_data(m, "W1");
    for (int i = 0; i < 24; i++)
        ck_assert(w[i] >= 0.25 && w[i] < 0.5);
    cr_mlp_free(m);
}
END_TEST

START_TEST(test_spec_errors)
{
    cr_mlp_spec s;
    cr_error err;
    cr_mlp_spec_init(&s, 3, 1);
    s.loss = CR_LOSS_XENT;
    ck_assert_ptr_null(cr_mlp_new(&s, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "the xent loss needs a softmax output with at least 2 "
                                  "classes (got sigmoid with 1 outputs)");
    s.loss = CR_LOSS_BCE;
    s.out_act = CR_ACT_LINEAR;
    ck_assert_int_eq(cr_mlp_spec_check(&s, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "the bce loss needs a sigmoid output, not linear");
    cr_mlp_spec_init(&s, 0, 1);
    ck_assert_int_eq(cr_mlp_spec_check(&s, &err), CR_EINVAL);
    cr_mlp_spec_init(&s, 2, 2);
    s.hidden_act = CR_ACT_SOFTMAX;
    ck_assert_int_eq(cr_mlp_spec_check(&s, &err), CR_EINVAL);
    s.hidden_act = CR_ACT_RELU;
    s.n_hidden = 1;
    s.hidden[0] = 0;
    ck_assert_int_eq(cr_mlp_spec_check(&s, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "hidden layer 1 has width 0 (1 to 16777216)");

    cr_activation a;
    cr_loss_kind l;
    cr_init_kind k;
    ck_assert_int_eq(cr_activation_parse("tanh", &a, &err), CR_OK);
    ck_assert_int_eq(a, CR_ACT_TANH);
    ck_assert_int_eq(cr_loss_parse("xent", &l, &err), CR_OK);
    ck_assert_int_eq(l, CR_LOSS_XENT);
    ck_assert_int_eq(cr_init_parse("glorot", &k, &err), CR_OK);
    ck_assert_int_eq(k, CR_INIT_XAVIER);
    ck_assert_int_eq(cr_activation_parse("swish", &a, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "unknown activation 'swish' (expected one of: linear, "
                                  "sigmoid, tanh, relu, softmax, leaky_relu, elu, gelu, "
                                  "silu, softplus, log_softmax)");
    /* a NULL out only checks the name (it was written through) */
    ck_assert_int_eq(cr_activation_parse("relu", NULL, &err), CR_OK);
    ck_assert_int_eq(cr_loss_parse("bce", NULL, &err), CR_OK);
    ck_assert_int_eq(cr_init_parse("he", NULL, &err), CR_OK);
    ck_assert_int_eq(cr_loss_parse("hinge", NULL, &err), CR_EINVAL);
    ck_assert_int_eq(cr_activation_parse(NULL, &a, &err), CR_EINVAL);
    ck_assert_int_eq(a, CR_ACT_TANH); /* untouched */
    ck_assert_str_eq(cr_loss_name(CR_LOSS_SQ_ERROR), "sq_error");
    ck_assert_str_eq(cr_init_name(CR_INIT_HE), "he");
}
END_TEST

/* A 2-2-1 net with fixed weights, checked against values computed by hand:
 * s1 = x W1 + b1, a1 = tanh(s1), s2 = a1 W2 + b2, out = sigmoid(s2). */
START_TEST(test_forward_by_hand)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 1);
    s.n_hidden = 1;
    s.hidden[0] = 2;
    s.hidden_act = CR_ACT_TANH;
    cr_mlp *m = make(&s);
    const double W1[4] = {0.35, -0.72, 1.15, 0.26}, b1[2] = {0.1, -0.3};
    const double W2[2] = {-1.3, 0.85}, b2[1] = {0.45};
    cr_graph *g = cr_mlp_graph(m);
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "W1"), W1, 4), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "b1"), b1, 2), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "W2"), W2, 2), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "b2"), b2, 1), CR_OK);
    const double x[4] = {0.2, -1.7, 2.385, 0.5};
    double out[2];
    cr_error err;
    ck_assert_int_eq(cr_mlp_predict(m, x, 2, out, &err), CR_OK);
    for (int r = 0; r < 2; r++) {
        double h0 = tanh(x[2 * r] * W1[0] + x[2 * r + 1] * W1[2] + b1[0]);
        double h1 = tanh(x[2 * r] * W1[1] + x[2 * r + 1] * W1[3] + b1[1]);
        double want = 1.0 / (1.0 + exp(-(h0 * W2[0] + h1 * W2[1] + b2[0])));
        ck_assert_double_eq_tol(out[r], want, TOL);
    }
    /* standardisation applies (x - mean) / std before the first layer */
    const double mean[2] = {1.0, -2.0}, sd[2] = {2.0, 0.0};
    ck_assert_int_eq(cr_mlp_set_input_stats(m, mean, sd, &err), CR_OK);
    ck_assert_double_eq(cr_mlp_input_std(m)[1], 1.0);
    const double raw[2] = {1.0 + 2.0 * 0.2, -2.0 - 1.7};
    double o2;
    ck_assert_int_eq(cr_mlp_predict(m, raw, 1, &o2, &err), CR_OK);
    ck_assert_double_eq_tol(o2, out[0], TOL);
    ck_assert_int_eq(cr_mlp_predict(m, raw, 0, &o2, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "predict: no rows");
    cr_mlp_free(m);
}
END_TEST

/* A non-finite output is an error naming the row, never a prediction or a
 * class: a NaN input, and weights of 1e308 (finite, as a model file may
 * hold them) whose products overflow to inf - inf. */
START_TEST(test_nonfinite_outputs_are_errors)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 1);
    s.n_hidden = 1;
    s.hidden[0] = 2;
    cr_mlp *m = make(&s);
    cr_graph *g = cr_mlp_graph(m);
    const double W1[4] = {0.35, -0.72, 1.15, 0.26};
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "W1"), W1, 4), CR_OK);
    const double x[6] = {0.5, 0.25, NAN, 0.5, 1.0, 2.0};
    double out[3];
    cr_error err;
    ck_assert_int_eq(cr_mlp_predict(m, x, 1, out, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_predict(m, x, 3, out, &err), CR_EDOMAIN);
    ck_assert_str_eq(err.message, "predict: row 2 gives nan as output 1 (an input or a "
                                  "weight too large or not finite)");
    const double y[3] = {0, 1, 1};
    cr_eval_result res;
    ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 3, &res, &err), CR_EDOMAIN);
    ck_assert_ptr_null(res.confusion);
    ck_assert_uint_eq(res.rows, 0);
    ck_assert(strstr(err.message, "evaluate: row 2 gives nan") == err.message);
    ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 1, &res, &err), CR_OK);
    ck_assert_uint_eq(res.rows, 1);
    cr_eval_result_free(&res);
    /* finite but huge weights: every row's output is NaN */
    const double huge[4] = {1e308, 1e308, 1e308, 1e308};
    ck_assert_int_eq(cr_node_set_data(cr_graph_find(g, "W1"), huge, 4), CR_OK);
    const double two[2] = {2.0, -2.0};
    ck_assert_int_eq(cr_mlp_predict(m, two, 1, out, &err), CR_EDOMAIN);
    ck_assert(strstr(err.message, "predict: row 1 gives") == err.message);
    /* a NaN row has no class; a finite row still has one */
    const double nan_row[1] = {NAN}, high[1] = {0.75}, low[1] = {0.25};
    ck_assert_uint_eq(cr_mlp_output_class(m, nan_row), CR_MLP_NO_CLASS);
    ck_assert_uint_eq(cr_mlp_output_class(m, high), 1);
    ck_assert_uint_eq(cr_mlp_output_class(m, low), 0);
    ck_assert_uint_eq(cr_mlp_output_class(NULL, high), CR_MLP_NO_CLASS);
    cr_mlp_free(m);
}
END_TEST

/* Many classes: no K^2 confusion matrix, but loss and accuracy all the
 * same (65,536 classes used to ask for 32 GiB). */
START_TEST(test_evaluate_many_classes)
{
    const size_t k = CR_EVAL_CONFUSION_MAX + 1;
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, k);
    s.out_act = CR_ACT_SOFTMAX;
    s.loss = CR_LOSS_XENT;
    cr_mlp *m = make(&s);
    const double x[4] = {0.5, -0.25, 1.5, 2.0};
    double *y = calloc(2 * k, sizeof *y);
    ck_assert_ptr_nonnull(y);
    y[7] = 1.0;
    y[k + 1000] = 1.0;
    cr_eval_result res;
    cr_error err;
    ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 2, &res, &err), CR_OK);
    ck_assert_uint_eq(res.n_classes, k);
    ck_assert_ptr_null(res.confusion);
    ck_assert(isfinite(res.loss) && res.loss > 0);
    ck_assert(res.accuracy >= 0.0 && res.accuracy <= 1.0);
    cr_eval_result_free(&res);
    free(y);
    cr_mlp_free(m);
}
END_TEST

/* Finite-difference check of d(loss)/d(every parameter) for a loss and
 * output activation pairing, on a batch of 3 rows. */
static const struct {
    cr_activation hidden, out;
    cr_loss_kind loss;
    size_t n_out;
} fd_cases[] = {
    {CR_ACT_SIGMOID, CR_ACT_SIGMOID, CR_LOSS_SQ_ERROR, 2},
    {CR_ACT_TANH, CR_ACT_LINEAR, CR_LOSS_MSE, 2},
    {CR_ACT_RELU, CR_ACT_SIGMOID, CR_LOSS_BCE, 1},
    {CR_ACT_TANH, CR_ACT_SOFTMAX, CR_LOSS_XENT, 3},
    {CR_ACT_LINEAR, CR_ACT_SOFTMAX, CR_LOSS_MSE, 3},
};

START_TEST(test_gradients_fd)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 4, fd_cases[_i].n_out);
    s.n_hidden = 2;
    s.hidden[0] = 5;
    s.hidden[1] = 3;
    s.hidden_act = fd_cases[_i].hidden;
    s.out_act = fd_cases[_i].out;
    s.loss = fd_cases[_i].loss;
    s.init = CR_INIT_NORMAL;
    s.init_std = 0.8;
    s.seed = 7 + (unsigned long)_i;
    cr_mlp *m = make(&s);
    double x[12], y[9] = {0};
    test_rand_seed(11);
    for (int i = 0; i < 12; i++)
        x[i] = test_rand_uniform(-1.5, 1.5);
    for (int r = 0; r < 3; r++) {
        if (s.loss == CR_LOSS_XENT || s.loss == CR_LOSS_BCE)
            y[r * s.n_outputs + (s.n_outputs == 1 ? 0 : (size_t)r % s.n_outputs)] =
                (s.n_outputs == 1) ? (double)(r % 2) : 1.0;
        else
            for (size_t j = 0; j < s.n_outputs; j++)
                y[r * s.n_outputs + j] = test_rand_uniform(0.1, 0.9);
    }
    cr_eval_result res;
    cr_error err;
    ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 3, &res, &err), CR_OK); /* builds "loss" */
    cr_graph *g = cr_mlp_graph(m);
    cr_node *loss = cr_graph_find(g, "loss");
    ck_assert_ptr_nonnull(loss);
    ck_assert_double_eq_tol(cr_node_scalar(loss) / (s.loss == CR_LOSS_SQ_ERROR ? 3.0 : 1.0),
                            res.loss, TOL);
    cr_eval_result_free(&res);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    size_t checked = 0;
    double maxg = 0.0;
    for (size_t p = 0; p < cr_graph_num_params(g); p++) {
        cr_node *w = cr_graph_param(g, p);
        const cr_tensor *gt = cr_node_grad(w);
        const double *val = cr_tensor_data(cr_node_value(w));
        for (size_t i = 0; i < cr_tensor_size(gt); i++) {
            const double v = val[i], h = 1e-6;
            double tmp[64];
            memcpy(tmp, val, cr_tensor_size(gt) * sizeof(double));
            tmp[i] = v + h;
            cr_node_set_data(w, tmp, cr_tensor_size(gt));
            cr_graph_forward(g, loss);
            const double up = cr_node_scalar(loss);
            tmp[i] = v - h;
            cr_node_set_data(w, tmp, cr_tensor_size(gt));
            cr_graph_forward(g, loss);
            const double down = cr_node_scalar(loss);
            tmp[i] = v;
            cr_node_set_data(w, tmp, cr_tensor_size(gt));
            const double fd = (up - down) / (2 * h), an = cr_tensor_get(gt, i);
            ck_assert_msg(fabs(fd - an) <= 1e-6 * fmax(1.0, fabs(fd)),
                          "case %d param %zu[%zu]: fd %.10g vs %.10g", _i, p, i, fd, an);
            maxg = fmax(maxg, fabs(an));
            checked++;
        }
    }
    ck_assert_uint_eq(checked, cr_mlp_num_weights(m));
    ck_assert(maxg > 1e-4); /* not an all-zero gradient */
    cr_mlp_free(m);
}
END_TEST

/* The article's second program through the MLP API: 2 inputs, no hidden
 * layer, no bias, a sigmoid output, x = (0.1, 0.4), target 0.7, weights
 * drawn from U[0,1) with seed 1, 80,000 steps. The article's error
 * (p - t)^2 is twice sq_error, so its lr 0.01 is lr 0.02 here. */
START_TEST(test_article_second)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 1);
    s.bias = 0;
    s.init = CR_INIT_UNIFORM;
    cr_mlp *m = make(&s);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 0;
    o.max_iter = 80000;
    o.batch = 1;
    o.optim.lr = 0.02;
    const double x[2] = {0.1, 0.4}, y[1] = {0.7};
    cr_train_stats st;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(m, x, y, 1, &o, &st, &err), CR_OK);
    ck_assert_uint_eq(st.iterations, 80000);
    ck_assert_uint_eq(st.epochs, 80000);
    ck_assert_uint_eq(st.n_history, 80000);
    ck_assert_int_eq(st.stop, CR_STOP_MAX_ITER);
    double p;
    ck_assert_int_eq(cr_mlp_predict(m, x, 1, &p, &err), CR_OK);
    ck_assert_double_eq_tol(p, 0.7, 1e-5);
    ck_assert((p - 0.7) * (p - 0.7) < 1e-10);
    ck_assert_double_eq_tol(st.train_loss, 0.5 * (p - 0.7) * (p - 0.7), 1e-18);
    ck_assert(st.loss_history[0] > st.loss_history[79999]);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
}
END_TEST

static const double xor_x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const double xor_y[4] = {0, 1, 1, 0};

START_TEST(test_xor)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 1);
    s.n_hidden = 1;
    s.hidden[0] = 4;
    s.hidden_act = CR_ACT_TANH;
    s.loss = CR_LOSS_BCE;
    s.seed = 3;
    cr_mlp *m = make(&s);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 2000;
    o.batch = 4;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.05;
    o.target_loss = 0.01;
    cr_train_stats st;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(m, xor_x, xor_y, 4, &o, &st, &err), CR_OK);
    ck_assert_int_eq(st.stop, CR_STOP_TARGET_LOSS);
    ck_assert(st.epochs < 2000);
    ck_assert_double_eq(st.train_accuracy, 1.0);
    cr_eval_result r;
    ck_assert_int_eq(cr_mlp_evaluate(m, xor_x, xor_y, 4, &r, &err), CR_OK);
    ck_assert_double_eq(r.accuracy, 1.0);
    ck_assert_uint_eq(r.n_classes, 2);
    ck_assert_uint_eq(r.confusion[0], 2); /* true 0, predicted 0 */
    ck_assert_uint_eq(r.confusion[3], 2);
    ck_assert(r.loss <= 0.01);
    cr_eval_result_free(&r);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
}
END_TEST

/* Three blobs in the plane, labelled 0, 1, 2 (one-hot targets). */
static void blobs(double *x, double *y, size_t rows)
{
    const double cx[3] = {-2.0, 2.0, 0.0}, cy[3] = {-1.0, -1.0, 2.5};
    test_rand_seed(5);
    for (size_t r = 0; r < rows; r++) {
        size_t c = r % 3;
        x[2 * r] = cx[c] + test_rand_uniform(-1.2, 1.2);
        x[2 * r + 1] = cy[c] + test_rand_uniform(-1.2, 1.2);
        for (size_t j = 0; j < 3; j++)
            y[3 * r + j] = j == c;
    }
}

static cr_mlp *blob_model(void)
{
    cr_mlp_spec s = classifier_spec(2, 8, 3);
    s.hidden_act = CR_ACT_RELU;
    s.init = CR_INIT_HE;
    return make(&s);
}

typedef struct counter {
    size_t steps, epochs, stop_at;
    size_t alloc_at_3, alloc_at_last;
    double last_val;
} counter;

static int count_step(const cr_train_progress *p, void *ctx)
{
    counter *c = ctx;
    c->steps++;
    ck_assert_uint_eq(p->iteration, c->steps);
    if (p->iteration == 3)
        c->alloc_at_3 = test_alloc.allocations;
    c->alloc_at_last = test_alloc.allocations;
    return c->stop_at && c->steps == c->stop_at;
}

static int count_epoch(const cr_train_progress *p, void *ctx)
{
    counter *c = ctx;
    c->epochs++;
    ck_assert_uint_eq(p->epoch, c->epochs);
    c->last_val = p->val_loss;
    return 0;
}

START_TEST(test_train_validation_and_callbacks)
{
    enum { ROWS = 150 };
    double x[2 * ROWS], y[3 * ROWS];
    blobs(x, y, ROWS);
    cr_mlp *m = blob_model();
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 30;
    o.batch = 16;
    o.val_split = 0.2;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.02;
    counter c = {0};
    o.on_step = count_step;
    o.on_epoch = count_epoch;
    o.ctx = &c;
    cr_train_stats st;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
    ck_assert_uint_eq(st.train_rows, 120);
    ck_assert_uint_eq(st.val_rows, 30);
    ck_assert_uint_eq(st.epochs, 30);
    ck_assert_uint_eq(c.epochs, 30);
    ck_assert_uint_eq(st.iterations, 30 * 8); /* 7 batches of 16 and one of 8 */
    ck_assert_uint_eq(c.steps, st.iterations);
    ck_assert_int_eq(st.stop, CR_STOP_EPOCHS);
    ck_assert_double_eq_tol(c.last_val, st.val_loss_history[29], TOL);
    ck_assert_double_eq_tol(st.val_loss, st.val_loss_history[29], TOL);
    ck_assert(st.val_accuracy >= 0.9 && st.train_accuracy >= 0.9);
    ck_assert(st.loss_history[29] < st.loss_history[0]);
    ck_assert(st.seconds >= 0.0);
    cr_train_stats_free(&st);

    /* a callback stops training */
    c = (counter){.stop_at = 5};
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
    ck_assert_int_eq(st.stop, CR_STOP_CALLBACK);
    ck_assert_uint_eq(st.iterations, 5);
    ck_assert_uint_eq(st.n_history, 1);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
}
END_TEST

START_TEST(test_train_stops)
{
    enum { ROWS = 60 };
    double x[2 * ROWS], y[3 * ROWS];
    blobs(x, y, ROWS);
    cr_mlp *m = blob_model();
    cr_train_options o;
    cr_train_options_init(&o);
    cr_train_stats st;
    cr_error err;
    /* max_iter stops in the middle of an epoch: 60 rows of batch 25 = 3 steps */
    o.epochs = 0;
    o.max_iter = 7;
    o.batch = 25;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
    ck_assert_int_eq(st.stop, CR_STOP_MAX_ITER);
    ck_assert_uint_eq(st.iterations, 7);
    ck_assert_uint_eq(st.epochs, 3);
    ck_assert_uint_eq(st.n_history, 3);
    cr_train_stats_free(&st);
    /* early stopping: a learning rate too small to change the loss */
    o.epochs = 100;
    o.max_iter = 0;
    o.patience = 3;
    o.min_delta = 1e-9;
    o.optim.lr = 1e-300;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
    ck_assert_int_eq(st.stop, CR_STOP_EARLY);
    ck_assert_uint_eq(st.epochs, 4);
    ck_assert_uint_eq(st.best_epoch, 1);
    ck_assert_str_eq(cr_train_stop_name(st.stop), "early_stopping");
    cr_train_stats_free(&st);
    /* option errors */
    o.epochs = 0;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "set an epoch count or an iteration limit");
    o.epochs = 1;
    o.val_split = 1.0;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "validation split 1 is not in [0, 1)");
    o.val_split = 0.001;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "validation split 0.001 of 60 rows leaves an empty side");
    o.val_split = 0;
    o.debug = 1;
    o.debug_param = "W9";
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "debug parameter 'W9' is not in the model");
    o.debug = 0;
    o.optim.lr = -1;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EINVAL);
    cr_mlp_free(m);
}
END_TEST

/* After the first step, steps allocate nothing: the last one, of 2 rows,
 * runs the graph shrunk to another size. */
START_TEST(test_train_steps_allocate_nothing)
{
    enum { ROWS = 62 };
    double x[2 * ROWS], y[3 * ROWS];
    blobs(x, y, ROWS);
    test_alloc_install(0);
    cr_mlp *m = blob_model();
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 1;
    o.batch = 4;
    o.debug = 1;
    counter c = {0};
    o.on_step = count_step;
    o.ctx = &c;
    cr_train_stats st;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
    ck_assert_uint_eq(c.steps, 16);
    ck_assert_uint_eq(c.alloc_at_3, c.alloc_at_last);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

/* Out of memory at every allocation of building, training (with
 * validation, debug and early stopping), evaluating and saving: each call
 * fails with CR_ENOMEM and a message, or succeeds; nothing leaks. */
START_TEST(test_out_of_memory_everywhere)
{
    enum { ROWS = 30 };
    double x[2 * ROWS], y[3 * ROWS];
    blobs(x, y, ROWS);
    size_t failures = 0;
    int done = 0;
    for (size_t k = 1; k < 5000 && !done; k++) {
        test_alloc_install(k);
        cr_error err;
        cr_mlp_spec s = classifier_spec(2, 4, 3);
        cr_mlp *m = cr_mlp_new(&s, &err);
        cr_status st = m ? CR_OK : err.status;
        cr_train_stats stats = {0};
        cr_eval_result r = {0};
        if (m) {
            cr_train_options o;
            cr_train_options_init(&o);
            o.epochs = 3;
            o.batch = 8;
            o.val_split = 0.2;
            o.patience = 2;
            o.debug = 1;
            st = cr_mlp_train(m, x, y, ROWS, &o, &stats, &err);
            if (st == CR_OK)
                st = cr_mlp_evaluate(m, x, y, ROWS, &r, &err);
        }
        if (st != CR_OK) {
            ck_assert_int_eq(st, CR_ENOMEM);
            ck_assert(err.message[0] != '\0');
            failures++;
        } else {
            ck_assert_uint_eq(r.rows, ROWS);
            done = test_alloc.failures == 0; /* every allocation succeeded */
        }
        cr_eval_result_free(&r);
        cr_train_stats_free(&stats);
        cr_mlp_free(m);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
    }
    ck_assert(done);
    ck_assert_uint_gt(failures, 20);
}
END_TEST

/* Debug records: layer gradient norms and the chain a3, s3, a2, s2, a1,
 * s1, W1 for a sigmoid stack under sq_error; for batch 1 the chain's
 * scalars multiply like the article's: dE/ds3 = dE/da3 * a3 (1 - a3). */
START_TEST(test_train_debug_chain)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 3, 1);
    s.n_hidden = 2;
    s.hidden[0] = 4;
    s.hidden[1] = 3;
    cr_mlp *m = make(&s);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 3;
    o.batch = 1;
    o.debug = 1;
    o.optim.lr = 0.5;
    const double x[3] = {0.1, 0.4, 4.1}, y[1] = {0.2};
    cr_train_stats st;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(m, x, y, 1, &o, &st, &err), CR_OK);
    ck_assert_uint_eq(st.n_debug, 3);
    const cr_train_debug *d = &st.debug[2];
    ck_assert_uint_eq(d->epoch, 3);
    ck_assert_uint_eq(d->n_layers, 3);
    ck_assert_uint_eq(d->n_links, 7);
    const char *labels[7] = {"a3", "s3", "a2", "s2", "a1", "s1", "W1"};
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(d->chain[i].label, labels[i]);
    ck_assert_double_eq_tol(d->chain[6].norm, d->layer_grad_norm[0], TOL);
    /* replay the last step's forward pass on the pre-update weights is not
     * possible any more; check the chain's internal consistency instead:
     * dE/da3 = a3 - y (sq_error), dE/ds3 = dE/da3 * a3 * (1 - a3) */
    const double g_a3 = d->chain[0].first, g_s3 = d->chain[1].first;
    const double a3 = g_a3 + 0.2;
    ck_assert_double_eq_tol(g_s3, g_a3 * a3 * (1 - a3), 1e-12);
    ck_assert(d->layer_grad_norm[0] > 0 && d->layer_grad_norm[2] > 0);
    /* the chain API's text of the same chain, as the article writes it */
    ck_assert_ptr_nonnull(d->chain_text);
    const char *head = "dloss/dW1 = dloss/da3 * da3/ds3 * ds3/da2 * da2/ds2 * ds2/da1 * "
                       "da1/ds1 * ds1/dW1 = ";
    ck_assert_msg(strncmp(d->chain_text, head, strlen(head)) == 0, "%s", d->chain_text);
    ck_assert(strstr(d->chain_text, "\n  da3/ds3 = a3*(1-a3) = "));
    /* recording changes nothing: the same training without debug */
    cr_mlp *m2 = make(&s);
    o.debug = 0;
    cr_train_stats st2;
    ck_assert_int_eq(cr_mlp_train(m2, x, y, 1, &o, &st2, &err), CR_OK);
    ck_assert_mem_eq(st.loss_history, st2.loss_history, 3 * sizeof(double));
    ck_assert_mem_eq(cr_tensor_data(cr_node_value(cr_mlp_weight(m, 1))),
                     cr_tensor_data(cr_node_value(cr_mlp_weight(m2, 1))),
                     12 * sizeof(double));
    cr_train_stats_free(&st2);
    cr_mlp_free(m2);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
}
END_TEST

START_TEST(test_evaluate_regression)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 1, 1);
    s.out_act = CR_ACT_LINEAR;
    s.loss = CR_LOSS_MSE;
    cr_mlp *m = make(&s);
    cr_graph *g = cr_mlp_graph(m);
    cr_node_set_scalar(cr_graph_find(g, "W1"), 2.0);
    cr_node_set_scalar(cr_graph_find(g, "b1"), 0.5);
    double x[300], y[300];
    for (int i = 0; i < 300; i++) { /* 300 rows: one chunk of 256 and a tail */
        x[i] = 0.01 * i;
        y[i] = 2.0 * x[i] + 0.5 + (i % 2 ? 0.1 : -0.1);
    }
    cr_eval_result r;
    cr_error err;
    ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 300, &r, &err), CR_OK);
    ck_assert_double_eq_tol(r.loss, 0.01, 1e-12);
    ck_assert_uint_eq(r.n_classes, 0);
    ck_assert_ptr_null(r.confusion);
    ck_assert(isnan(r.accuracy));
    cr_eval_result_free(&r);
    /* one graph of 256 rows runs the chunk, the tail of 44 and 3 rows */
    double out[300];
    ck_assert_int_eq(cr_mlp_predict(m, x, 300, out, &err), CR_OK);
    for (int i = 0; i < 300; i++)
        ck_assert_double_eq_tol(out[i], 2.0 * x[i] + 0.5, 1e-12);
    ck_assert_int_eq(cr_mlp_predict(m, x + 7, 3, out, &err), CR_OK);
    ck_assert_double_eq_tol(out[2], 2.0 * x[9] + 0.5, 1e-12);
    ck_assert_uint_eq(cr_graph_rows(g), 3);
    ck_assert_uint_eq(cr_graph_max_rows(g), 256);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(cr_graph_find(g, "x")), 0), 3);
    ck_assert_ptr_null(cr_graph_find(g, "x@256"));
    cr_mlp_free(m);
}
END_TEST

/* Rows for the one-graph tests: x in [-1, 1.5], y one-hot (xent) or in
 * (0.1, 0.9) (sq_error). */
static void wave_rows(double *x, double *y, int rows, int in, int out, int onehot)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int j = 0; j < in; j++) {
            x[r * in + j] = sin(0.7 * r + 1.3 * j) + 0.1 * j;
            s += x[r * in + j] * (j + 1);
        }
        for (int k = 0; k < out; k++)
            y[r * out + k] =
                onehot ? (k == ((int)floor(fabs(s) * 3)) % out) : 0.5 + 0.4 * sin(s + k);
    }
}

/* The numbers one graph gives for 8-row batches, their 2-row tail, 5
 * validation rows, 7 evaluation rows and 3 prediction rows are those the
 * MLP gave when it built a copy of its nodes for each of these sizes
 * (recorded from that code, printed with %a): exactly. Both rows were
 * re-recorded when sigmoid and tanh became the vectorised kernels
 * (kernels.c), from the per-size-copy code (9cb1f1f's parent) with those
 * kernels: the same bits as one graph gives. */
START_TEST(test_one_graph_matches_per_size_copies)
{
    static const double want[2][19] = {
        {0x1.6511f71e12882p+0, 0x1.60dec099981d8p+0, 0x1.1e5d5624abd6ep+0,
         0x1.1db7288193634p+0, 0x1.5e03e1a687b22p+0, 0x1.1db7288193634p+0,
         0x1.33a23368a1577p+0, 0x1.8eead6392fb89p-3, 0x1.157798ae154e9p-1,
         0x1.0d9b63873d86bp-2, 0x1.b161ea3605e2p-3, 0x1.396ccce71de55p-1,
         0x1.68eae22d8289p-3, 0x1.29fd958600db6p-2, 0x1.15b53e102c59dp-1,
         0x1.552fdcb34ce22p-3, -0x1.0d8567de75665p-3, 0x1.4ec99c228c6aap-2,
         0x1.49b814e39b733p-10},
        {0x1.b30f9c20a3331p-4, 0x1.6c6b56d8b14a6p-4, 0x1.821d9ba68c192p-3,
         0x1.80e2e4bcf73b6p-3, 0x1.66951ea6d4fc4p-4, 0x1.80e2e4bcf73b6p-3,
         0x1.d737b9d16cea9p-4, 0x1.3b5d8c570ea4ap-2, 0x1.140d1fc3da8b2p-1,
         0x1.659bc907bf0a5p-1, 0x1.44a5312fb31e1p-2, 0x1.190936f9038bp-1,
         0x1.637f85c7c92b7p-1, 0x1.4d6212db560a5p-2, 0x1.1846008962e7ep-1,
         0x1.62957aeedc0c3p-1, -0x1.0e1ab2cda0f14p-3, 0x1.0e317ce64bf93p-1,
         0x1.6e26f7bd5efc6p-2}};
    enum { ROWS = 23, IN = 4, OUT = 3 };
    for (int xent = 1; xent >= 0; xent--) {
        double x[ROWS * IN], y[ROWS * OUT], got[19];
        wave_rows(x, y, ROWS, IN, OUT, xent);
        cr_mlp_spec s;
        cr_mlp_spec_init(&s, IN, OUT);
        s.n_hidden = 2;
        s.hidden[0] = 6;
        s.hidden[1] = 5;
        s.hidden_act = xent ? CR_ACT_TANH : CR_ACT_SIGMOID;
        s.out_act = xent ? CR_ACT_SOFTMAX : CR_ACT_SIGMOID;
        s.loss = xent ? CR_LOSS_XENT : CR_LOSS_SQ_ERROR;
        cr_mlp *m = make(&s);
        cr_train_options o;
        cr_train_options_init(&o);
        o.epochs = 2;
        o.batch = 8; /* 18 training rows: 8, 8, 2 */
        o.val_split = 0.2;
        o.optim = cr_optim_defaults(xent ? CR_OPTIM_ADAM : CR_OPTIM_SGD);
        if (!xent)
            o.optim.lr = 0.5;
        cr_train_stats st;
        cr_eval_result r;
        cr_error err;
        ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_OK);
        got[0] = st.loss_history[0];
        got[1] = st.loss_history[1];
        got[2] = st.val_loss_history[0];
        got[3] = st.val_loss_history[1];
        got[4] = st.train_loss;
        got[5] = st.val_loss;
        ck_assert_int_eq(cr_mlp_evaluate(m, x + 3 * IN, y + 3 * OUT, 7, &r, &err), CR_OK);
        got[6] = r.loss;
        ck_assert_int_eq(cr_mlp_predict(m, x + 10 * IN, 3, got + 7, &err), CR_OK);
        got[16] = cr_tensor_get(cr_node_value(cr_mlp_weight(m, 1)), 0);
        got[17] = cr_tensor_get(cr_node_value(cr_mlp_weight(m, 3)), 14);
        got[18] = cr_tensor_get(cr_node_value(cr_mlp_bias(m, 3)), 2);
        for (int i = 0; i < 19; i++)
            ck_assert_msg(got[i] == want[1 - xent][i], "%s: figure %d is %a, not %a",
                          xent ? "xent" : "sq_error", i, got[i], want[1 - xent][i]);
        if (xent) {
            ck_assert_double_eq(st.train_accuracy, 3.0 / 18.0);
            ck_assert_double_eq(r.accuracy, 1.0 / 7.0);
        }
        cr_graph *g = cr_mlp_graph(m);
        ck_assert_uint_eq(cr_graph_max_rows(g), 256); /* one evaluation chunk */
        ck_assert_ptr_null(cr_graph_find(g, "x@8"));
        cr_eval_result_free(&r);
        cr_train_stats_free(&st);
        cr_mlp_free(m);
    }
}
END_TEST

/* A training batch larger than the graph was built for builds the nodes
 * again for it (the old ones renamed NAME@ROWS, the parameters the same
 * nodes) and trains as a fresh model does; smaller sizes still shrink. */
START_TEST(test_one_graph_grows)
{
    enum { ROWS = 600, IN = 3, OUT = 2 };
    double *x = malloc(ROWS * IN * sizeof *x), *y = malloc(ROWS * OUT * sizeof *y);
    wave_rows(x, y, ROWS, IN, OUT, 1);
    cr_mlp_spec s = classifier_spec(IN, 4, OUT);
    cr_mlp *a = make(&s), *b = make(&s);
    cr_node *w1 = cr_mlp_weight(a, 1);
    cr_eval_result r;
    cr_error err;
    ck_assert_int_eq(cr_mlp_evaluate(a, x, y, 10, &r, &err), CR_OK); /* 256 rows */
    cr_eval_result_free(&r);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 2;
    o.batch = 400; /* 400 and a tail of 200 */
    o.debug = 1;
    o.optim.lr = 0.3;
    cr_train_stats sa, sb;
    ck_assert_int_eq(cr_mlp_train(a, x, y, ROWS, &o, &sa, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_train(b, x, y, ROWS, &o, &sb, &err), CR_OK);
    ck_assert_double_eq(sa.train_loss, sb.train_loss);
    ck_assert_double_eq(sa.debug[1].layer_grad_norm[0], sb.debug[1].layer_grad_norm[0]);
    ck_assert_ptr_nonnull(sa.debug[1].chain_text);
    ck_assert_ptr_eq(cr_mlp_weight(a, 1), w1);
    cr_graph *g = cr_mlp_graph(a);
    ck_assert_uint_eq(cr_graph_max_rows(g), 400);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(cr_graph_find(g, "x@256")), 0), 256);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(cr_graph_find(g, "x")), 0),
                      cr_graph_rows(g));
    ck_assert_ptr_nonnull(cr_graph_find(g, "loss@256"));
    ck_assert_ptr_null(cr_graph_find(cr_mlp_graph(b), "x@256"));
    double pa[2 * OUT], pb[2 * OUT];
    ck_assert_int_eq(cr_mlp_predict(a, x, 2, pa, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_predict(b, x, 2, pb, &err), CR_OK);
    for (int i = 0; i < 2 * OUT; i++)
        ck_assert_double_eq(pa[i], pb[i]);
    ck_assert_uint_eq(cr_graph_rows(g), 2);
    cr_train_stats_free(&sa);
    cr_train_stats_free(&sb);
    cr_mlp_free(a);
    cr_mlp_free(b);
    free(x);
    free(y);
}
END_TEST

/* Out of memory at every allocation of a model outgrowing its graph
 * (evaluated at 256 rows, then trained with batches of 300): CR_ENOMEM
 * with a message or success, nothing leaks, and the model trains after a
 * failure. */
START_TEST(test_one_graph_grows_out_of_memory)
{
    enum { ROWS = 400, IN = 2, OUT = 2 };
    double *x = malloc(ROWS * IN * sizeof *x), *y = malloc(ROWS * OUT * sizeof *y);
    wave_rows(x, y, ROWS, IN, OUT, 1);
    cr_mlp_spec s = classifier_spec(IN, 3, OUT);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 1;
    o.batch = 300;
    o.debug = 1;
    size_t failures = 0;
    int done = 0;
    for (size_t k = 1; k < 5000 && !done; k++) {
        test_alloc_install(0);
        cr_error err;
        cr_mlp *m = make(&s);
        cr_eval_result r;
        ck_assert_int_eq(cr_mlp_evaluate(m, x, y, 10, &r, &err), CR_OK);
        cr_eval_result_free(&r);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_train_stats st;
        cr_status rc = cr_mlp_train(m, x, y, ROWS, &o, &st, &err);
        done = test_alloc.failures == 0;
        test_alloc.fail_at = 0;
        if (rc != CR_OK) {
            ck_assert_int_eq(rc, CR_ENOMEM);
            ck_assert(err.message[0] != '\0');
            failures++;
            cr_train_stats_free(&st); /* what the failed call filled */
            rc = cr_mlp_train(m, x, y, ROWS, &o, &st, &err);
            ck_assert_msg(rc == CR_OK, "after failure %zu: %s", k, err.message);
        }
        ck_assert_uint_eq(cr_graph_max_rows(cr_mlp_graph(m)), 300);
        cr_train_stats_free(&st);
        cr_mlp_free(m);
        ck_assert_msg(test_alloc.live == 0, "failure %zu leaks %d blocks", k,
                      (int)test_alloc.live);
        test_alloc_uninstall();
    }
    ck_assert(done);
    ck_assert_uint_gt(failures, 10);
    free(x);
    free(y);
}
END_TEST

#define FASHION "/usr/share/datasets/fashion-mnist/"

/* Training on bytes scaled as they are loaded gives exactly the numbers of
 * training on the same values as doubles (shuffled batches, a validation
 * split, ragged last batch); a scale that is not finite and NULL rows are
 * refused. */
START_TEST(test_train_bytes_matches_doubles)
{
    enum { ROWS = 45, IN = 6 };
    unsigned char xb[ROWS * IN];
    double xd[ROWS * IN], y[ROWS * 3] = {0};
    for (size_t i = 0; i < ROWS * IN; i++) {
        xb[i] = (unsigned char)((i * 37 + 11) % 256);
        xd[i] = (double)xb[i] * (1.0 / 255.0); /* as cr_idx_read scales */
    }
    for (size_t r = 0; r < ROWS; r++)
        y[r * 3 + (xb[r * IN] + xb[r * IN + 1]) % 3] = 1.0;
    cr_mlp_spec s = classifier_spec(IN, 5, 3);
    s.hidden_act = CR_ACT_RELU;
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 3;
    o.batch = 8;
    o.val_split = 0.2;
    o.optim = cr_optim_defaults(CR_OPTIM_SGD);
    o.optim.lr = 0.5;
    cr_mlp *a = make(&s), *b = make(&s);
    cr_train_stats sa, sb;
    cr_error err;
    ck_assert_int_eq(cr_mlp_train(a, xd, y, ROWS, &o, &sa, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_train_bytes(b, xb, 1.0 / 255.0, y, ROWS, &o, &sb, &err), CR_OK);
    ck_assert_double_eq(sa.train_loss, sb.train_loss);
    ck_assert_double_eq(sa.val_loss, sb.val_loss);
    ck_assert_uint_eq(sa.iterations, sb.iterations);
    for (size_t e = 0; e < sa.n_history; e++)
        ck_assert_double_eq(sa.loss_history[e], sb.loss_history[e]);
    for (size_t l = 1; l <= 2; l++) {
        const cr_tensor *wa = cr_node_value(cr_mlp_weight(a, l)),
                        *wb = cr_node_value(cr_mlp_weight(b, l));
        for (size_t i = 0; i < cr_tensor_size(wa); i++)
            ck_assert_double_eq(cr_tensor_data(wa)[i], cr_tensor_data(wb)[i]);
    }
    cr_train_stats_free(&sa);
    cr_train_stats_free(&sb);
    ck_assert_int_eq(cr_mlp_train_bytes(b, xb, NAN, y, ROWS, &o, &sb, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "the byte scale is nan");
    ck_assert_int_eq(cr_mlp_train_bytes(b, NULL, 1.0, y, ROWS, &o, &sb, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "the model or the data is NULL");
    cr_mlp_free(a);
    cr_mlp_free(b);
}
END_TEST

/* The Fashion-MNIST data path on 2,000 training images, 1 epoch; skipped,
 * and said so, when the data set is not installed. */
START_TEST(test_fashion_subset)
{
    if (access(FASHION "train-images-idx3-ubyte.gz", R_OK) != 0 ||
        access(FASHION "t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "fashion_subset: skipped, %s not installed\n", FASHION);
        return;
    }
    cr_error err;
    cr_idx_options io = {.max_rows = 2000, .scale = 1, .one_hot = 1, .num_classes = 10};
    cr_dataset *train = cr_idx_load(FASHION "train-images-idx3-ubyte.gz",
                                    FASHION "train-labels-idx1-ubyte.gz", &io, &err);
    ck_assert_msg(train != NULL, "%s", err.message);
    io.max_rows = 1000;
    cr_dataset *test = cr_idx_load(FASHION "t10k-images-idx3-ubyte.gz",
                                   FASHION "t10k-labels-idx1-ubyte.gz", &io, &err);
    ck_assert_msg(test != NULL, "%s", err.message);
    cr_mlp_spec s = classifier_spec(784, 64, 10);
    s.hidden_act = CR_ACT_RELU;
    s.init = CR_INIT_HE;
    cr_mlp *m = make(&s);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 1;
    o.batch = 32;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    cr_train_stats st;
    ck_assert_int_eq(cr_mlp_train(m, cr_tensor_data(cr_dataset_features(train)),
                                  cr_tensor_data(cr_dataset_targets(train)), 2000, &o, &st,
                                  &err),
                     CR_OK);
    cr_eval_result r;
    ck_assert_int_eq(cr_mlp_evaluate(m, cr_tensor_data(cr_dataset_features(test)),
                                     cr_tensor_data(cr_dataset_targets(test)), 1000, &r,
                                     &err),
                     CR_OK);
    ck_assert_msg(r.accuracy >= 0.6, "accuracy %g", r.accuracy);
    ck_assert_uint_eq(r.n_classes, 10);
    size_t total = 0;
    for (size_t i = 0; i < 100; i++)
        total += r.confusion[i];
    ck_assert_uint_eq(total, 1000);
    cr_eval_result_free(&r);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    cr_dataset_free(train);
    cr_dataset_free(test);
}
END_TEST

Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("builder");
    tcase_add_test(tc, test_builder_names_and_shapes);
    tcase_add_test(tc, test_builder_seeded_init);
    tcase_add_test(tc, test_spec_errors);
    tcase_add_test(tc, test_forward_by_hand);
    tcase_add_loop_test(tc, test_gradients_fd, 0,
                        (int)(sizeof fd_cases / sizeof *fd_cases));
    suite_add_tcase(s, tc);
    tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_article_second);
    tcase_add_test(tc, test_xor);
    tcase_add_test(tc, test_train_validation_and_callbacks);
    tcase_add_test(tc, test_train_stops);
    tcase_add_test(tc, test_train_steps_allocate_nothing);
    tcase_add_test(tc, test_one_graph_matches_per_size_copies);
    tcase_add_test(tc, test_one_graph_grows);
    tcase_add_test(tc, test_one_graph_grows_out_of_memory);
    tcase_add_test(tc, test_out_of_memory_everywhere);
    tcase_add_test(tc, test_train_debug_chain);
    tcase_add_test(tc, test_evaluate_regression);
    tcase_add_test(tc, test_nonfinite_outputs_are_errors);
    tcase_add_test(tc, test_evaluate_many_classes);
    tcase_add_test(tc, test_train_bytes_matches_doubles);
    tcase_add_test(tc, test_fashion_subset);
    suite_add_tcase(s, tc);
    return s;
}
