/*
 * check_layers.c - tests of the model builder (chainrule/model.h): layer
 * kind names and specs, the shapes a model infers, a model built from an
 * MLP spec predicting exactly as the MLP, bad specs naming their layer.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

START_TEST(test_kind_names)
{
    for (int k = 0; k < CR_LAYER_COUNT; k++) {
        cr_layer_kind back = CR_LAYER_COUNT;
        ck_assert_int_eq(
            cr_layer_kind_parse(cr_layer_kind_name((cr_layer_kind)k), &back, NULL), CR_OK);
        ck_assert_int_eq(back, k);
    }
    ck_assert_str_eq(cr_layer_kind_name(CR_LAYER_CONV2D), "conv2d");
    ck_assert_str_eq(cr_layer_kind_name(CR_LAYER_COUNT), "?");
    cr_error err;
    ck_assert_int_eq(cr_layer_kind_parse("conv3d", NULL, &err), CR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "'conv3d'"));
    ck_assert_ptr_nonnull(strstr(err.message, "lstm"));
}
END_TEST

START_TEST(test_spec_format)
{
    cr_layer_spec s;
    char buf[128];
    cr_layer_spec_init(&s, CR_LAYER_CONV2D);
    s.units = 32;
    s.kernel[0] = s.kernel[1] = 3;
    s.pad[0] = s.pad[1] = 1;
    ck_assert_int_eq(cr_layer_spec_format(&s, buf, sizeof buf), (int)strlen(buf));
    ck_assert_str_eq(buf, "conv2d:32,3x3,stride=1x1,pad=1x1");
    cr_layer_spec_init(&s, CR_LAYER_ACTIVATION);
    s.act = CR_ACT_GELU;
    cr_layer_spec_format(&s, buf, sizeof buf);
    ck_assert_str_eq(buf, "gelu");
    cr_layer_spec_init(&s, CR_LAYER_MAXPOOL2D);
    ck_assert_int_eq(s.stride[0], 0);
    s.kernel[0] = s.kernel[1] = 2;
    cr_layer_spec_format(&s, buf, sizeof buf);
    ck_assert_str_eq(buf, "maxpool2d:2x2,stride=0x0,pad=0x0");
}
END_TEST

/* 3-5-4-2 tanh/softmax xent as an MLP and as a model: same weights, same
 * predictions, bit for bit. */
START_TEST(test_from_mlp_predicts_as_mlp)
{
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 3, 2);
    spec.n_hidden = 2;
    spec.hidden[0] = 5;
    spec.hidden[1] = 4;
    spec.hidden_act = CR_ACT_TANH;
    spec.out_act = CR_ACT_SOFTMAX;
    spec.loss = CR_LOSS_XENT;
    spec.seed = 7;
    cr_error err;
    cr_mlp *mlp = cr_mlp_new(&spec, &err);
    ck_assert_ptr_nonnull(mlp);
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = 4;
    cr_model *m = cr_model_from_mlp(&spec, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    ck_assert_int_eq(cr_model_num_layers(m), 6); /* dense tanh dense tanh dense softmax */
    ck_assert_int_eq(cr_model_num_weights(m), cr_mlp_num_weights(mlp));
    ck_assert_int_eq(cr_model_num_classes(m), 2);
    double x[7 * 3], a[7 * 2], b[7 * 2];
    test_rand_seed(3);
    for (size_t i = 0; i < 21; i++)
        x[i] = test_rand_uniform(-2.0, 2.0);
    ck_assert_int_eq(cr_mlp_predict(mlp, x, 7, a, &err), CR_OK);
    ck_assert_int_eq(cr_model_predict(m, x, 7, b, &err), CR_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    /* the same loss and accuracy */
    double y[7 * 2];
    for (size_t r = 0; r < 7; r++)
        y[2 * r] = 1.0 - (y[2 * r + 1] = (double)(r % 2));
    cr_eval_result ra, rb;
    ck_assert_int_eq(cr_mlp_evaluate(mlp, x, y, 7, &ra, &err), CR_OK);
    ck_assert_int_eq(cr_model_evaluate(m, x, y, 7, &rb, &err), CR_OK);
    ck_assert_double_eq_tol(ra.loss, rb.loss, 1e-14);
    ck_assert_double_eq(ra.accuracy, rb.accuracy);
    ck_assert_mem_eq(ra.confusion, rb.confusion, 4 * sizeof(size_t));
    cr_eval_result_free(&ra);
    cr_eval_result_free(&rb);
    ck_assert_ptr_eq(cr_graph_find(cr_model_graph(m), "L1.W"),
                     cr_model_layer_param(m, 0, 0));
    ck_assert_ptr_null(cr_model_layer_param(m, 1, 0)); /* tanh has none */
    cr_model_free(m);
    cr_mlp_free(mlp);
}
END_TEST

/* Every initialisation of an MLP spec draws the same weights as a model. */
START_TEST(test_from_mlp_inits)
{
    for (int k = 0; k < CR_INIT_COUNT; k++) {
        cr_mlp_spec spec;
        cr_mlp_spec_init(&spec, 4, 3);
        spec.n_hidden = 1;
        spec.hidden[0] = 5;
        spec.init = (cr_init_kind)k;
        spec.init_lo = -0.25, spec.init_hi = 0.75, spec.init_std = 0.3;
        cr_error err;
        cr_mlp *mlp = cr_mlp_new(&spec, &err);
        cr_model *m = cr_model_from_mlp(&spec, NULL, &err);
        ck_assert_msg(m != NULL, "%s", err.message);
        for (size_t l = 0; l < 2; l++)
            ck_assert_mem_eq(
                cr_tensor_data(cr_node_value(cr_mlp_weight(mlp, l + 1))),
                cr_tensor_data(cr_node_value(cr_model_layer_param(m, 2 * l, 0))),
                (l ? 15 : 20) * sizeof(double));
        cr_model_free(m);
        cr_mlp_free(mlp);
    }
}
END_TEST

START_TEST(test_bad_spec_names_layer)
{
    cr_layer_spec l[3];
    cr_layer_spec_init(&l[0], CR_LAYER_DENSE);
    l[0].units = 4;
    cr_layer_spec_init(&l[1], CR_LAYER_CONV2D); /* needs [C,H,W], gets [4] */
    l[1].units = 2;
    cr_layer_spec_init(&l[2], CR_LAYER_DENSE);
    const size_t in = 3;
    cr_error err;
    ck_assert_ptr_null(cr_model_new(l, 3, 1, &in, NULL, &err));
    ck_assert_int_eq(err.status, CR_ESHAPE);
    ck_assert_msg(strstr(err.message, "layer 2 (conv2d)") != NULL, "%s", err.message);
    l[1] = l[0];
    l[1].units = 0;
    ck_assert_ptr_null(cr_model_new(l, 3, 1, &in, NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_msg(strstr(err.message, "layer 2 (dense)") && strstr(err.message, "units 0"),
                  "%s", err.message);
    /* softmax in the middle */
    cr_layer_spec_init(&l[1], CR_LAYER_ACTIVATION);
    l[1].act = CR_ACT_SOFTMAX;
    ck_assert_ptr_null(cr_model_new(l, 3, 1, &in, NULL, &err));
    ck_assert_msg(strstr(err.message, "layer 2 (activation)") != NULL, "%s", err.message);
    /* a recurrent layer without units */
    cr_layer_spec_init(&l[1], CR_LAYER_LSTM);
    l[1].units = 0;
    ck_assert_ptr_null(cr_model_new(l, 2, 1, &in, NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_msg(strstr(err.message, "layer 2 (lstm)") && strstr(err.message, "units 0"),
                  "%s", err.message);
}
END_TEST

/* Every activation, as the last hidden layer of a small regressor: the
 * model builds and predicts finite numbers. */
START_TEST(test_every_activation)
{
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        cr_layer_spec l[3];
        cr_layer_spec_init(&l[0], CR_LAYER_DENSE);
        l[0].units = 3;
        cr_layer_spec_init(&l[1], CR_LAYER_ACTIVATION);
        l[1].act = (cr_activation)a;
        cr_layer_spec_init(&l[2], CR_LAYER_DENSE);
        l[2].units = 2;
        cr_model_options o;
        cr_model_options_init(&o);
        o.loss = CR_LOSS_MSE;
        const size_t in = 2;
        cr_error err;
        const int softmax = a == CR_ACT_SOFTMAX || a == CR_ACT_LOG_SOFTMAX;
        cr_model *m = cr_model_new(l, softmax ? 2 : 3, 1, &in, &o, &err);
        ck_assert_msg(m != NULL, "%s: %s", cr_activation_name((cr_activation)a),
                      err.message);
        const double x[4] = {0.3, -1.2, 2.5, 0.7};
        double out[2 * 3];
        ck_assert_int_eq(cr_model_predict(m, x, 2, out, &err), CR_OK);
        ck_assert_int_eq(cr_model_output_size(m), softmax ? 3 : 2);
        cr_model_free(m);
    }
}
END_TEST

/* The MLP and its model train identically: same steps, same parameters. */
START_TEST(test_train_as_mlp)
{
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 2, 1);
    spec.n_hidden = 1;
    spec.hidden[0] = 3;
    spec.hidden_act = CR_ACT_TANH;
    spec.loss = CR_LOSS_BCE;
    spec.seed = 5;
    cr_error err;
    cr_mlp *mlp = cr_mlp_new(&spec, &err);
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.batch = 4;
    cr_model *m = cr_model_from_mlp(&spec, &mo, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    double x[10 * 2], y[10];
    test_rand_seed(11);
    for (size_t r = 0; r < 10; r++) {
        x[2 * r] = test_rand_uniform(-1, 1);
        x[2 * r + 1] = test_rand_uniform(-1, 1);
        y[r] = x[2 * r] * x[2 * r + 1] > 0;
    }
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 5;
    o.batch = 4; /* 4, 4, then 2 */
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.05;
    cr_train_stats sa, sb;
    ck_assert_int_eq(cr_mlp_train(mlp, x, y, 10, &o, &sa, &err), CR_OK);
    ck_assert_msg(cr_model_train(m, x, y, 10, &o, &sb, &err) == CR_OK, "%s", err.message);
    ck_assert_int_eq(sa.iterations, 15);
    ck_assert_int_eq(sb.iterations, 15);
    ck_assert_mem_eq(sa.loss_history, sb.loss_history, 5 * sizeof(double));
    ck_assert_mem_eq(sa.accuracy_history, sb.accuracy_history, 5 * sizeof(double));
    for (size_t l = 0; l < 2; l++)
        ck_assert_mem_eq(cr_tensor_data(cr_node_value(cr_mlp_weight(mlp, l + 1))),
                         cr_tensor_data(cr_node_value(cr_model_layer_param(m, 2 * l, 0))),
                         (l ? 3 : 6) * sizeof(double));
    ck_assert_double_eq_tol(sa.train_loss, sb.train_loss, 1e-13);
    /* a batch larger than the model's is refused */
    o.batch = 5;
    ck_assert_int_eq(cr_model_train(m, x, y, 10, &o, NULL, &err), CR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "built for"));
    cr_train_stats_free(&sa);
    cr_train_stats_free(&sb);
    cr_model_free(m);
    cr_mlp_free(mlp);
}
END_TEST

/* Images of a bright left or right half: a small CNN with every image
 * layer learns them, the debug record names its layers. */
START_TEST(test_cnn_learns)
{
    enum { N = 24, H = 6, W = 6 };
    double x[N * H * W], y[N * 2];
    test_rand_seed(4);
    for (size_t r = 0; r < N; r++) {
        const int right = r % 2;
        for (size_t i = 0; i < H * W; i++)
            x[r * H * W + i] =
                test_rand_uniform(0, 0.3) + ((i % W >= W / 2) == right ? 0.7 : 0.0);
        y[2 * r] = !right;
        y[2 * r + 1] = right;
    }
    cr_layer_spec l[9];
    cr_layer_spec_init(&l[0], CR_LAYER_CONV2D);
    l[0].units = 3;
    l[0].kernel[0] = l[0].kernel[1] = 3;
    l[0].pad[0] = l[0].pad[1] = 1;
    l[0].init = CR_INIT_HE;
    cr_layer_spec_init(&l[1], CR_LAYER_BATCHNORM);
    cr_layer_spec_init(&l[2], CR_LAYER_ACTIVATION);
    cr_layer_spec_init(&l[3], CR_LAYER_MAXPOOL2D);
    l[3].kernel[0] = l[3].kernel[1] = 2;
    cr_layer_spec_init(&l[4], CR_LAYER_FLATTEN);
    cr_layer_spec_init(&l[5], CR_LAYER_DROPOUT);
    l[5].rate = 0.1;
    cr_layer_spec_init(&l[6], CR_LAYER_DENSE);
    l[6].units = 2;
    l[6].clip = 10.0;
    cr_layer_spec_init(&l[7], CR_LAYER_ACTIVATION);
    l[7].act = CR_ACT_SOFTMAX;
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.batch = 8;
    const size_t in[3] = {1, H, W};
    cr_error err;
    cr_model *m = cr_model_new(l, 8, 3, in, &mo, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    size_t shape[CR_MAX_RANK];
    ck_assert_int_eq(cr_model_layer_shape(m, 3, shape), 3);
    ck_assert_int_eq(shape[0], 3);
    ck_assert_int_eq(shape[1], 3);
    ck_assert_int_eq(shape[2], 3);
    ck_assert_int_eq(cr_model_layer_shape(m, 4, shape), 1);
    ck_assert_int_eq(shape[0], 27);
    ck_assert_int_eq(cr_model_num_weights(m), 3 * 9 + 3 + 3 + 3 + 27 * 2 + 2);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 30;
    o.batch = 8;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.02;
    o.debug = 1;
    o.debug_param = "L1.W";
    cr_train_stats st;
    ck_assert_msg(cr_model_train(m, x, y, N, &o, &st, &err) == CR_OK, "%s", err.message);
    ck_assert_double_gt(st.loss_history[0], st.loss_history[29]);
    ck_assert_double_ge(st.train_accuracy, 0.95);
    const cr_train_debug *d = &st.debug[st.n_debug - 1];
    ck_assert_int_eq(d->n_layers, 3); /* conv, batch norm, dense */
    ck_assert_double_gt(d->layer_grad_norm[0], 0.0);
    ck_assert_str_eq(d->chain[d->n_links - 1].label, "L1.W");
    ck_assert_str_eq(d->chain[0].label, "L7"); /* fused softmax: the logits */
    ck_assert_ptr_nonnull(d->chain_text);
    /* evaluation mode: predictions repeat despite dropout */
    double p1[N * 2], p2[N * 2];
    ck_assert_int_eq(cr_model_predict(m, x, N, p1, &err), CR_OK);
    ck_assert_int_eq(cr_model_predict(m, x, N, p2, &err), CR_OK);
    ck_assert_mem_eq(p1, p2, sizeof p1);
    ck_assert_int_eq(cr_graph_training(cr_model_graph(m)), 1); /* restored */
    cr_train_stats_free(&st);
    cr_model_free(m);
}
END_TEST

static double norm2(const cr_tensor *t)
{
    double s = 0.0;
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        s += cr_tensor_get(t, i) * cr_tensor_get(t, i);
    return s;
}

/* A layer's clip bounds its gradient norm before the step. */
START_TEST(test_grad_norms_and_clip)
{
    cr_layer_spec l[2];
    cr_layer_spec_init(&l[0], CR_LAYER_DENSE);
    l[0].units = 3;
    cr_layer_spec_init(&l[1], CR_LAYER_DENSE);
    l[1].units = 1;
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.loss = CR_LOSS_SQ_ERROR;
    mo.batch = 2;
    const size_t in = 2;
    cr_error err;
    cr_model *m = cr_model_new(l, 2, 1, &in, &mo, &err);
    double *x = cr_tensor_data_mut((cr_tensor *)cr_node_value(cr_model_input(m)));
    double *t = cr_tensor_data_mut((cr_tensor *)cr_node_value(cr_model_target(m)));
    x[0] = 3.5, x[1] = -2.25, x[2] = 1.5, x[3] = 4.0, t[0] = 40.0, t[1] = -30.0;
    cr_graph *g = cr_model_graph(m);
    ck_assert_int_eq(cr_graph_forward(g, cr_model_loss(m)), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, cr_model_loss(m), 0), CR_OK);
    double norms[2];
    ck_assert_int_eq(cr_model_grad_norms(m, norms, 2, &err), CR_OK);
    const cr_tensor *gw = cr_node_grad(cr_model_layer_param(m, 1, 0));
    const cr_tensor *gb = cr_node_grad(cr_model_layer_param(m, 1, 1));
    const double expect = sqrt(norm2(gw) + norm2(gb));
    ck_assert_double_eq_tol(norms[1], expect, 1e-12);
    ck_assert_double_gt(norms[1], 1.0);
    ck_assert_int_eq(cr_model_grad_norms(m, norms, 1, &err), CR_EINVAL);
    ck_assert_int_eq(cr_model_set_rows(m, 2, &err), CR_OK);
    ck_assert_int_eq(cr_model_set_rows(m, 3, &err), CR_EINVAL);
    ck_assert_int_eq(cr_model_set_rows(m, 1, &err), CR_OK); /* the graph shrinks */
    ck_assert_uint_eq(cr_tensor_shape(cr_node_value(cr_model_input(m)))[0], 1);
    cr_model_free(m);
    /* clipped to 0.5: one SGD step moves layer 2 by at most lr * 0.5 */
    l[1].clip = 0.5;
    m = cr_model_new(l, 2, 1, &in, &mo, &err);
    double before[4];
    memcpy(before, cr_tensor_data(cr_node_value(cr_model_layer_param(m, 1, 0))),
           3 * sizeof(double));
    before[3] = cr_tensor_data(cr_node_value(cr_model_layer_param(m, 1, 1)))[0];
    const double xs[4] = {3.5, -2.25, 1.5, 4.0}, ys[2] = {40.0, -30.0};
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 1;
    o.batch = 2;
    o.shuffle = 0;
    o.optim.lr = 1.0;
    ck_assert_int_eq(cr_model_train(m, xs, ys, 2, &o, NULL, &err), CR_OK);
    double moved = 0.0;
    for (size_t i = 0; i < 3; i++)
        moved += pow(
            cr_tensor_data(cr_node_value(cr_model_layer_param(m, 1, 0)))[i] - before[i], 2);
    moved +=
        pow(cr_tensor_data(cr_node_value(cr_model_layer_param(m, 1, 1)))[0] - before[3], 2);
    ck_assert_double_eq_tol(sqrt(moved), 0.5, 1e-12);
    cr_model_free(m);
}
END_TEST

/* ---- model files ---- */

/* An MLP file written by cr_mlp_save before layered models existed
 * (tests/data/mlp_v1.crm: 3-4-2 tanh/softmax xent, seed 3, with input
 * statistics) loads as a model and as an MLP, predicting what it did. */
START_TEST(test_v1_file_loads)
{
    char path[512];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/tests/data/mlp_v1.crm", top ? top : ".");
    cr_error err;
    cr_model *m = cr_model_load(path, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    cr_mlp *mlp = cr_mlp_load(path, NULL, &err);
    ck_assert_ptr_nonnull(mlp);
    const double x[6] = {0.25, -1.0, 3.5, 1.75, 0.5, -2.0};
    const double want[4] = {0.57516355925877938, 0.42483644074122057, 0.37158969980940199,
                            0.62841030019059807};
    double a[4], b[4];
    ck_assert_int_eq(cr_model_predict(m, x, 2, a, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_predict(mlp, x, 2, b, &err), CR_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(a[i], want[i], 1e-15);
    ck_assert_ptr_nonnull(cr_model_input_mean(m));
    ck_assert_double_eq(cr_model_input_std(m)[1], 0.75);
    cr_model_free(m);
    cr_mlp_free(mlp);
}
END_TEST

enum { N_FILE_MODELS = 3 };

/* Three small models that hold every non-recurrent layer kind between
 * them: k = 0 images, 1 sequences of channels, 2 indices (embed). */
static cr_model *file_model(int k, double *x, double *y, size_t rows)
{
    cr_layer_spec l[12];
    size_t n = 0, in[3] = {0};
    int rank = 0;
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = 4;
    o.seed = 21 + (unsigned long)k;
#define ADD(kind) cr_layer_spec_init(&l[n++], kind)
    if (k == 0) {
        rank = 3, in[0] = 2, in[1] = 5, in[2] = 5;
        ADD(CR_LAYER_CONV2D), l[n - 1].units = 3, l[n - 1].kernel[0] = 3,
                                    l[n - 1].kernel[1] = 2, l[n - 1].pad[0] = 1;
        ADD(CR_LAYER_BATCHNORM);
        ADD(CR_LAYER_ACTIVATION), l[n - 1].act = CR_ACT_ELU;
        ADD(CR_LAYER_MAXPOOL2D), l[n - 1].kernel[0] = l[n - 1].kernel[1] = 2;
        ADD(CR_LAYER_AVGPOOL2D), l[n - 1].kernel[0] = 2, l[n - 1].stride[0] = 1;
        ADD(CR_LAYER_FLATTEN);
        ADD(CR_LAYER_DROPOUT), l[n - 1].rate = 0.25;
        ADD(CR_LAYER_LAYERNORM);
        ADD(CR_LAYER_DENSE), l[n - 1].units = 3;
        ADD(CR_LAYER_ACTIVATION), l[n - 1].act = CR_ACT_SOFTMAX;
    } else if (k == 1) {
        rank = 2, in[0] = 2, in[1] = 9;
        o.loss = CR_LOSS_MSE;
        ADD(CR_LAYER_CONV1D), l[n - 1].units = 4, l[n - 1].kernel[0] = 3,
                                    l[n - 1].stride[0] = 2, l[n - 1].bias = 0;
        ADD(CR_LAYER_ACTIVATION), l[n - 1].act = CR_ACT_LEAKY_RELU, l[n - 1].alpha = 0.2;
        ADD(CR_LAYER_MAXPOOL1D), l[n - 1].kernel[0] = 2, l[n - 1].stride[0] = 1;
        ADD(CR_LAYER_AVGPOOL1D), l[n - 1].kernel[0] = 2, l[n - 1].pad[0] = 1;
        ADD(CR_LAYER_BATCHNORM);
        ADD(CR_LAYER_FLATTEN);
        ADD(CR_LAYER_DENSE), l[n - 1].units = 3, l[n - 1].clip = 2.0;
    } else {
        rank = 1, in[0] = 3;
        o.loss = CR_LOSS_XENT_INDEX;
        ADD(CR_LAYER_EMBED), l[n - 1].units = 2, l[n - 1].vocab = 5;
        ADD(CR_LAYER_FLATTEN);
        ADD(CR_LAYER_DENSE), l[n - 1].units = 5, l[n - 1].init = CR_INIT_HE;
        ADD(CR_LAYER_ACTIVATION), l[n - 1].act = CR_ACT_GELU;
        ADD(CR_LAYER_DENSE), l[n - 1].units = 5;
    }
#undef ADD
    cr_error err;
    cr_model *m = cr_model_new(l, n, rank, in, &o, &err);
    ck_assert_msg(m != NULL, "model %d: %s", k, err.message);
    const size_t ni = cr_model_input_size(m), nt = cr_model_target_size(m);
    test_rand_seed(100 + (unsigned long)k);
    for (size_t i = 0; i < rows * ni; i++)
        x[i] = k == 2 ? (double)(i * 7 % 5) : test_rand_uniform(-1.5, 1.5);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < nt; j++)
            y[r * nt + j] = k == 0   ? (double)(j == r % 3)
                            : k == 1 ? x[r * ni + j] - x[r * ni + j + 1]
                                     : (double)((r + j) % 5);
    cr_train_options t;
    cr_train_options_init(&t);
    t.epochs = 2;
    t.batch = 4;
    t.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    ck_assert_msg(cr_model_train(m, x, y, rows, &t, NULL, &err) == CR_OK, "model %d: %s", k,
                  err.message);
    if (k == 1) {
        double mean[18], sd[18];
        for (size_t j = 0; j < 18; j++)
            mean[j] = 0.125 * (double)j, sd[j] = 1.0 + 0.5 * (double)j;
        ck_assert_int_eq(cr_model_set_input_stats(m, mean, sd, &err), CR_OK);
    }
    if (k == 2)
        ck_assert_int_eq(cr_model_set_vocab(m, (const unsigned char *)"abcde", 5, &err),
                         CR_OK);
    return m;
}

static void file_path(char *path, size_t size, int k)
{
    snprintf(path, size, "/tmp/cr-layers-%d-%d.crm", (int)getpid(), k);
}

START_TEST(test_save_load_identical)
{
    enum { ROWS = 10 };
    for (int k = 0; k < N_FILE_MODELS; k++) {
        double x[ROWS * 50], y[ROWS * 9], a[ROWS * 9], b[ROWS * 9];
        cr_model *m = file_model(k, x, y, ROWS);
        char path[128];
        file_path(path, sizeof path, k);
        cr_error err;
        ck_assert_msg(cr_model_save(m, path, &err) == CR_OK, "%s", err.message);
        cr_model *back = cr_model_load(path, &err);
        ck_assert_msg(back != NULL, "model %d: %s", k, err.message);
        unlink(path);
        ck_assert_int_eq(cr_model_num_layers(back), cr_model_num_layers(m));
        for (size_t i = 0; i < cr_model_num_layers(m); i++)
            ck_assert_mem_eq(cr_model_layer(back, i), cr_model_layer(m, i),
                             sizeof(cr_layer_spec));
        ck_assert_int_eq(cr_model_predict(m, x, ROWS, a, &err), CR_OK);
        ck_assert_int_eq(cr_model_predict(back, x, ROWS, b, &err), CR_OK);
        ck_assert_mem_eq(a, b, ROWS * cr_model_output_size(m) * sizeof(double));
        cr_eval_result ra, rb;
        ck_assert_int_eq(cr_model_evaluate(m, x, y, ROWS, &ra, &err), CR_OK);
        ck_assert_int_eq(cr_model_evaluate(back, x, y, ROWS, &rb, &err), CR_OK);
        ck_assert_double_eq(ra.loss, rb.loss);
        cr_eval_result_free(&ra);
        cr_eval_result_free(&rb);
        size_t nv;
        if (k == 2)
            ck_assert_mem_eq(cr_model_vocab(back, &nv), "abcde", 5);
        else
            ck_assert_ptr_null(cr_model_vocab(back, &nv));
        /* an MLP loader is told what the file is */
        ck_assert_ptr_null(cr_mlp_load(path, NULL, &err));
        cr_model_free(back);
        cr_model_free(m);
    }
}
END_TEST

static unsigned char *saved(int k, size_t *size)
{
    double x[8 * 50], y[8 * 9];
    cr_model *m = file_model(k, x, y, 8);
    char path[128];
    file_path(path, sizeof path, k);
    cr_error err;
    ck_assert_int_eq(cr_model_save(m, path, &err), CR_OK);
    unsigned char *buf = test_slurp(path, size);
    cr_model_free(m);
    return buf;
}

/* Loads buf after fixing its checksum; the load must fail with status and
 * a message containing text. */
static void refuse_fixed(unsigned char *buf, size_t size, int k, cr_status status,
                         const char *text)
{
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        buf[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    char path[128];
    file_path(path, sizeof path, k);
    FILE *f = fopen(path, "wb");
    ck_assert_int_eq(fwrite(buf, 1, size, f), size);
    fclose(f);
    cr_error err;
    cr_model *m = cr_model_load(path, &err);
    ck_assert_msg(m == NULL, "model %d loaded; wanted '%s'", k, text);
    ck_assert_int_eq(err.status, status);
    ck_assert_msg(strstr(err.message, text) != NULL, "model %d: '%s' lacks '%s'", k,
                  err.message, text);
    ck_assert_ptr_nonnull(strstr(err.message, path));
}

/* Corrupted files of every layer kind: each byte flipped (checksum), each
 * layer's kind, a count and a real made invalid behind a valid checksum. */
START_TEST(test_corrupt_files)
{
    char path[128], want[128];
    for (int k = 0; k < N_FILE_MODELS; k++) {
        size_t size;
        unsigned char *buf = saved(k, &size);
        file_path(path, sizeof path, k);
        cr_error err;
        for (size_t i = 0; i < size; i += 1 + i / 64) {
            buf[i] ^= 0x10;
            FILE *f = fopen(path, "wb");
            ck_assert_int_eq(fwrite(buf, 1, size, f), size);
            fclose(f);
            ck_assert_msg(cr_model_load(path, &err) == NULL, "byte %zu", i);
            ck_assert_int_ne(err.status, CR_OK);
            buf[i] ^= 0x10;
        }
        const size_t n_layers = buf[24 + 16];
        for (size_t i = 0; i < n_layers; i++) {
            unsigned char *rec = buf + 24 + 20 + 112 * i;
            const unsigned char kind = rec[0];
            rec[0] = 99;
            snprintf(want, sizeof want, "layer %zu: kind 99 is unknown", i + 1);
            refuse_fixed(buf, size, k, CR_EFORMAT, want);
            rec[0] = kind;
            /* rate: not finite */
            unsigned char rate[8];
            memcpy(rate, rec + 64, 8);
            memset(rec + 64, 0xff, 8);
            snprintf(want, sizeof want, "layer %zu (%s): field rate is not finite", i + 1,
                     cr_layer_kind_name((cr_layer_kind)kind));
            refuse_fixed(buf, size, k, CR_EFORMAT, want);
            memcpy(rec + 64, rate, 8);
            /* units 0: only kinds that have units notice */
            const cr_layer_kind kk = (cr_layer_kind)kind;
            if (kk == CR_LAYER_DENSE || kk == CR_LAYER_CONV1D || kk == CR_LAYER_CONV2D ||
                kk == CR_LAYER_EMBED) {
                unsigned char units[4];
                memcpy(units, rec + 4, 4);
                memset(rec + 4, 0, 4);
                snprintf(want, sizeof want, "invalid model: layer %zu (%s)", i + 1,
                         cr_layer_kind_name(kk));
                refuse_fixed(buf, size, k, CR_EFORMAT, want);
                memcpy(rec + 4, units, 4);
            }
        }
        /* one parameter too many announced */
        unsigned char *np = buf + 24 + 20 + 112 * n_layers + 24;
        np[0]++;
        refuse_fixed(buf, size, k, CR_EFORMAT, "but the layers need");
        np[0]--;
        /* truncated */
        refuse_fixed(buf, size - 12, k, CR_EFORMAT, "truncated");
        unlink(path);
        free(buf);
    }
}
END_TEST

/* Every layer kind gradchecked inside a model: the loss of a batch against
 * every parameter (and the input, except indices), by central differences
 * (chainrule/check.h). Model 0 runs in evaluation mode, where dropout is
 * the identity and batch norm uses its running statistics (a dropout mask
 * redrawn at every forward has no finite difference); model 1 checks
 * batch norm on batch statistics. */
START_TEST(test_gradcheck_every_kind)
{
    for (int k = 0; k < N_FILE_MODELS; k++) {
        double x[8 * 50], y[8 * 9];
        cr_model *m = file_model(k, x, y, 8);
        cr_graph *g = cr_model_graph(m);
        cr_model_set_training(m, k != 0);
        const size_t ni = cr_model_input_size(m), nt = cr_model_target_size(m);
        memcpy(cr_tensor_data_mut((cr_tensor *)cr_node_value(cr_model_input(m))), x,
               4 * ni * sizeof(double));
        memcpy(cr_tensor_data_mut((cr_tensor *)cr_node_value(cr_model_target(m))), y,
               4 * nt * sizeof(double));
        cr_node *nodes[32];
        size_t n = 0;
        for (size_t i = 0; i < cr_model_num_layers(m); i++)
            for (size_t j = 0; j < cr_model_layer_num_params(m, i); j++)
                nodes[n++] = cr_model_layer_param(m, i, j);
        if (k != 2)
            nodes[n++] = cr_model_input(m);
        cr_gradcheck_options o = cr_gradcheck_defaults();
        o.atol = 1e-6;
        o.rtol = 1e-4;
        cr_gradcheck_report *r = NULL;
        const cr_status st = cr_gradcheck(g, cr_model_loss(m), nodes, n, &o, &r);
        ck_assert_msg(st == CR_OK, "model %d: %s (worst %s)", k,
                      st == CR_ECHECK ? "gradient check failed"
                                      : cr_graph_error(g)->message,
                      r ? cr_gradcheck_report_worst(r)->reason : "");
        ck_assert_int_gt(cr_gradcheck_report_count(r, CR_CHECK_PASS), 20);
        cr_gradcheck_report_free(r);
        cr_model_free(m);
    }
}
END_TEST

Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("builder");
    tcase_set_timeout(tc, 120); /* a loaded machine; the work is small */
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_spec_format);
    tcase_add_test(tc, test_from_mlp_predicts_as_mlp);
    tcase_add_test(tc, test_from_mlp_inits);
    tcase_add_test(tc, test_bad_spec_names_layer);
    tcase_add_test(tc, test_every_activation);
    tcase_add_test(tc, test_train_as_mlp);
    tcase_add_test(tc, test_cnn_learns);
    tcase_add_test(tc, test_grad_norms_and_clip);
    tcase_add_test(tc, test_v1_file_loads);
    tcase_add_test(tc, test_save_load_identical);
    tcase_add_test(tc, test_corrupt_files);
    tcase_add_test(tc, test_gradcheck_every_kind);
    suite_add_tcase(s, tc);
    return s;
}
