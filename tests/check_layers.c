/*
 * check_layers.c - tests of the model builder (chainrule/model.h): layer
 * kind names and specs, the shapes a model infers, a model built from an
 * MLP spec predicting exactly as the MLP, bad specs naming their layer.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("builder");
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_spec_format);
    tcase_add_test(tc, test_from_mlp_predicts_as_mlp);
    tcase_add_test(tc, test_bad_spec_names_layer);
    tcase_add_test(tc, test_every_activation);
    tcase_add_test(tc, test_train_as_mlp);
    tcase_add_test(tc, test_cnn_learns);
    tcase_add_test(tc, test_grad_norms_and_clip);
    suite_add_tcase(s, tc);
    return s;
}
