/*
 * check_layers.c - tests of the model builder (chainrule/model.h): layer
 * kind names and specs, the shapes a model infers, a model built from an
 * MLP spec predicting exactly as the MLP, bad specs naming their layer.
 */
#include "testutil.h"

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

Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("builder");
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_spec_format);
    tcase_add_test(tc, test_from_mlp_predicts_as_mlp);
    tcase_add_test(tc, test_bad_spec_names_layer);
    tcase_add_test(tc, test_every_activation);
    suite_add_tcase(s, tc);
    return s;
}
