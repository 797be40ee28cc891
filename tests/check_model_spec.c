/*
 * check_model_spec.c - tests of layer lists as text (cr_model_spec_parse,
 * cr_model_new_from_spec): the CNN and character model read into
 * the right specs, every argument form, the He default before ReLU, a
 * round trip through cr_layer_spec_format, and bad SPECs: unknown layers,
 * missing and bad numbers, a bad kernel, trailing junk, repeated
 * arguments, V without a vocabulary, and a shape mismatch found by the
 * builder, each naming the layer and the column.
 */
#include "testutil.h"

#include <string.h>

#define CNN                                                                                \
    "conv2d:32,3x3,pad=1 relu maxpool:2 conv2d:64,3x3,pad=1 relu maxpool:2 flatten "       \
    "dense:128 relu dropout:0.3 dense:10"

static cr_layer_spec L[CR_MODEL_MAX_LAYERS];
static size_t offs[CR_MODEL_MAX_LAYERS];

static size_t parse_ok(const char *text, size_t vocab)
{
    size_t n = 99;
    cr_error err;
    cr_status st = cr_model_spec_parse(text, vocab, L, CR_MODEL_MAX_LAYERS, &n, offs, &err);
    ck_assert_msg(st == CR_OK, "'%s': %s", text, err.message);
    return n;
}

/* Parses text expecting an error at column col whose message holds want. */
static void parse_bad(const char *text, size_t vocab, int col, const char *want)
{
    size_t n = 99;
    cr_error err;
    cr_error_clear(&err);
    cr_status st = cr_model_spec_parse(text, vocab, L, CR_MODEL_MAX_LAYERS, &n, NULL, &err);
    ck_assert_int_eq(st, CR_EINVAL);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(err.message, want) != NULL, "'%s': message '%s' lacks '%s'", text,
                  err.message, want);
    ck_assert_msg(err.column == col, "'%s': column %d, expected %d (%s)", text, err.column,
                  col, err.message);
}

START_TEST(test_cnn)
{
    ck_assert_uint_eq(parse_ok(CNN, 0), 11);
    const cr_layer_kind kinds[11] = {
        CR_LAYER_CONV2D,     CR_LAYER_ACTIVATION, CR_LAYER_MAXPOOL2D, CR_LAYER_CONV2D,
        CR_LAYER_ACTIVATION, CR_LAYER_MAXPOOL2D,  CR_LAYER_FLATTEN,   CR_LAYER_DENSE,
        CR_LAYER_ACTIVATION, CR_LAYER_DROPOUT,    CR_LAYER_DENSE};
    const size_t starts[11] = {0, 20, 25, 35, 55, 60, 70, 78, 88, 93, 105};
    for (size_t i = 0; i < 11; i++) {
        ck_assert_int_eq(L[i].kind, kinds[i]);
        ck_assert_uint_eq(offs[i], starts[i]);
    }
    ck_assert_uint_eq(L[0].units, 32);
    ck_assert_uint_eq(L[0].kernel[0], 3);
    ck_assert_uint_eq(L[0].kernel[1], 3);
    ck_assert_uint_eq(L[0].pad[0], 1);
    ck_assert_uint_eq(L[0].pad[1], 1);
    ck_assert_uint_eq(L[0].stride[0], 1);
    ck_assert_int_eq(L[0].bias, 1);
    ck_assert_int_eq(L[0].init, CR_INIT_HE); /* feeds relu */
    ck_assert_int_eq(L[1].act, CR_ACT_RELU);
    ck_assert_uint_eq(L[2].kernel[0], 2);
    ck_assert_uint_eq(L[2].kernel[1], 2);
    ck_assert_uint_eq(L[2].stride[0], 0); /* the kernel */
    ck_assert_uint_eq(L[3].units, 64);
    ck_assert_uint_eq(L[7].units, 128);
    ck_assert_int_eq(L[7].init, CR_INIT_HE);
    ck_assert_double_eq(L[9].rate, 0.3);
    ck_assert_uint_eq(L[10].units, 10);
    ck_assert_int_eq(L[10].init, CR_INIT_XAVIER); /* the output: no relu after it */
}
END_TEST

START_TEST(test_char_model)
{
    ck_assert_uint_eq(parse_ok("  embed:32\tlstm:128,seq,bptt=16,clip=2.5\n dense:V ", 67),
                      3);
    ck_assert_int_eq(L[0].kind, CR_LAYER_EMBED);
    ck_assert_uint_eq(L[0].units, 32);
    ck_assert_uint_eq(L[0].vocab, 67);
    ck_assert_int_eq(L[1].kind, CR_LAYER_LSTM);
    ck_assert_uint_eq(L[1].units, 128);
    ck_assert_int_eq(L[1].sequences, 1);
    ck_assert_uint_eq(L[1].bptt, 16);
    ck_assert_double_eq(L[1].clip, 2.5);
    ck_assert_int_eq(L[2].kind, CR_LAYER_DENSE);
    ck_assert_uint_eq(L[2].units, 67);
    ck_assert_uint_eq(offs[0], 2);
    ck_assert_uint_eq(offs[1], 11);
    ck_assert_uint_eq(offs[2], 42);
    /* an explicit vocabulary wins over V's */
    ck_assert_uint_eq(parse_ok("embed:8,vocab=300 gru:4 dense:7", 0), 3);
    ck_assert_uint_eq(L[0].vocab, 300);
    ck_assert_int_eq(L[1].kind, CR_LAYER_GRU);
    ck_assert_int_eq(L[1].sequences, 0);
}
END_TEST

START_TEST(test_arguments)
{
    ck_assert_uint_eq(
        parse_ok("conv1d:5,7,stride=2,pad=3,nobias,init=uniform batchnorm:eps=0.001,"
                 "momentum=0.2 leaky_relu:0.2 avgpool1d:3,stride=1 conv2d:4,3x5,stride=1x2 "
                 "elu layernorm tanh maxpool2d:2x3,pad=1x0 softmax",
                 0),
        10);
    ck_assert_int_eq(L[0].kind, CR_LAYER_CONV1D);
    ck_assert_uint_eq(L[0].kernel[0], 7);
    ck_assert_uint_eq(L[0].stride[0], 2);
    ck_assert_uint_eq(L[0].pad[0], 3);
    ck_assert_int_eq(L[0].bias, 0);
    ck_assert_int_eq(L[0].init, CR_INIT_UNIFORM); /* given: no He */
    ck_assert_double_eq(L[1].eps, 0.001);
    ck_assert_double_eq(L[1].momentum, 0.2);
    ck_assert_int_eq(L[2].act, CR_ACT_LEAKY_RELU);
    ck_assert_double_eq(L[2].alpha, 0.2);
    ck_assert_int_eq(L[3].kind, CR_LAYER_AVGPOOL1D);
    ck_assert_uint_eq(L[3].stride[0], 1);
    ck_assert_uint_eq(L[4].kernel[0], 3);
    ck_assert_uint_eq(L[4].kernel[1], 5);
    ck_assert_uint_eq(L[4].stride[0], 1);
    ck_assert_uint_eq(L[4].stride[1], 2);
    ck_assert_int_eq(L[4].init, CR_INIT_XAVIER); /* feeds elu, not relu */
    ck_assert_int_eq(L[5].act, CR_ACT_ELU);
    ck_assert_double_eq(L[5].alpha, CR_ELU_ALPHA);
    ck_assert_int_eq(L[6].kind, CR_LAYER_LAYERNORM);
    ck_assert_uint_eq(L[8].kernel[0], 2);
    ck_assert_uint_eq(L[8].kernel[1], 3);
    ck_assert_uint_eq(L[8].pad[0], 1);
    ck_assert_uint_eq(L[8].pad[1], 0);
    ck_assert_int_eq(L[9].act, CR_ACT_SOFTMAX);
    /* He is looked for past a norm layer; units by name */
    ck_assert_uint_eq(parse_ok("dense:units=6 batchnorm relu", 0), 3);
    ck_assert_uint_eq(L[0].units, 6);
    ck_assert_int_eq(L[0].init, CR_INIT_HE);
}
END_TEST

/* What cr_layer_spec_format writes reads back as the same layer. */
START_TEST(test_round_trip)
{
    const size_t n = parse_ok(CNN " lstm:5,seq,nobias conv1d:3,2,stride=2 leaky_relu:0.25 "
                                  "embed:4,vocab=9 avgpool2d:3x2,stride=1x2,pad=1x1",
                              0);
    cr_layer_spec first[CR_MODEL_MAX_LAYERS];
    memcpy(first, L, n * sizeof *L);
    char text[2048] = "";
    for (size_t i = 0; i < n; i++) {
        char one[128];
        ck_assert_int_lt(cr_layer_spec_format(&first[i], one, sizeof one), (int)sizeof one);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", i ? " " : "",
                 one);
    }
    ck_assert_uint_eq(parse_ok(text, 0), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(L[i].kind, first[i].kind);
        ck_assert_uint_eq(L[i].units, first[i].units);
        ck_assert_uint_eq(L[i].kernel[0], first[i].kernel[0]);
        ck_assert_uint_eq(L[i].kernel[1], first[i].kernel[1]);
        ck_assert_uint_eq(L[i].stride[0], first[i].stride[0]);
        ck_assert_uint_eq(L[i].stride[1], first[i].stride[1]);
        ck_assert_uint_eq(L[i].pad[0], first[i].pad[0]);
        ck_assert_uint_eq(L[i].pad[1], first[i].pad[1]);
        ck_assert_uint_eq(L[i].vocab, first[i].vocab);
        ck_assert_int_eq(L[i].act, first[i].act);
        ck_assert_double_eq(L[i].alpha, first[i].alpha);
        ck_assert_double_eq(L[i].rate, first[i].rate);
        ck_assert_int_eq(L[i].bias, first[i].bias);
        ck_assert_int_eq(L[i].sequences, first[i].sequences);
    }
}
END_TEST

START_TEST(test_bad_specs)
{
    parse_bad("conv3d:32,3 relu", 0, 1,
              "layer 1 'conv3d:32,3' at column 1: unknown layer "
              "'conv3d'");
    parse_bad("dense:128 relu conv2d:32,3y3", 0, 26,
              "layer 3 'conv2d:32,3y3' at column 26: kernel '3y3' is not N or HxW");
    parse_bad("dense", 0, 6, "dense needs its units, e.g. dense:128");
    parse_bad("relu conv2d:8", 0, 14, "conv2d needs its kernel, e.g. conv2d:32,3");
    parse_bad("dense:", 0, 6, "nothing after ':'");
    parse_bad("dense:12a", 0, 7, "units '12a' is not a whole number");
    parse_bad("dense:-3", 0, 7, "units '-3' is not a whole number");
    parse_bad("dense:99999999999999999999999", 0, 7, "is not a whole number");
    parse_bad("dense:10,5", 0, 10, "unexpected '5' (dense takes: units");
    parse_bad("relu:3", 0, 6, "unexpected '3' (relu takes: nothing)");
    parse_bad("flatten:1", 0, 9, "unexpected '1'");
    parse_bad("dropout:abc", 0, 9, "rate 'abc' is not a number");
    parse_bad("dropout:0.3x", 0, 9, "rate '0.3x' is not a number");
    parse_bad("dropout:inf", 0, 9, "rate 'inf' is not a number");
    parse_bad("maxpool:2,stride=2x", 0, 18, "stride '2x' is not N or HxW");
    parse_bad("conv1d:4,3x3", 0, 10, "kernel '3x3': a 1-D layer takes one number");
    parse_bad("dense:10,pad=1", 0, 10, "dense takes no argument 'pad'");
    parse_bad("dense:10,units=5", 0, 10, "units is given twice");
    parse_bad("dense:10,,relu", 0, 10, "an empty argument");
    parse_bad("dense:10,", 0, 9, "an empty argument");
    parse_bad("dense:10,init=bogus", 0, 15, "initialisation");
    parse_bad("conv2d:4,3,stride=", 0, 19, "stride has no value");
    parse_bad("dense:10,pad=1", 0, 10, "(it takes: units, init=..., clip=..., nobias)");
    parse_bad("dense:V", 0, 7, "V stands for the vocabulary size");
    parse_bad("embed:16 lstm:8", 0, 9, "embed needs the vocabulary size");
    parse_bad(":3", 0, 1, "no layer name");
    parse_bad("activation", 0, 1, "unknown layer 'activation'");
    parse_bad("dense:4\n  dense:x", 0, 9, "layer 2 'dense:x' at column 9 of its line");
    size_t n = 7;
    cr_error err;
    ck_assert_int_eq(cr_model_spec_parse("   ", 0, L, CR_MODEL_MAX_LAYERS, &n, NULL, &err),
                     CR_EINVAL);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "no layers"));
    ck_assert_int_eq(cr_model_spec_parse("relu relu relu", 0, L, 2, &n, NULL, &err),
                     CR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "layer 3 'relu' at column 11: more than 2"));
    ck_assert_int_eq(cr_model_spec_parse(NULL, 0, L, 2, &n, NULL, &err), CR_EINVAL);
    ck_assert_int_eq(cr_model_spec_parse("relu", 0, NULL, 2, &n, NULL, &err), CR_EINVAL);
    ck_assert_int_eq(cr_model_spec_parse("relu", 0, L, 2, NULL, NULL, NULL), CR_EINVAL);
}
END_TEST

START_TEST(test_new_from_spec)
{
    cr_error err;
    const size_t img[3] = {1, 8, 8};
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = 4;
    cr_model *m = cr_model_new_from_spec(
        "conv2d:3,3x3,pad=1 relu maxpool:2 flatten dense:5", 0, 3, img, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_model_num_layers(m), 5);
    ck_assert_uint_eq(cr_model_output_size(m), 5);
    /* conv 3*1*3*3 + 3, dense 3*4*4*5 + 5 */
    ck_assert_uint_eq(cr_model_num_weights(m), 30 + 245);
    cr_model_free(m);
    /* the builder finds the shape mismatch: its layer and column are named */
    cr_error_clear(&err);
    m = cr_model_new_from_spec("flatten dense:10 conv2d:4,3", 0, 3, img, &o, &err);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(err.message, "'conv2d:4,3' at column 18: layer 3 (conv2d)", 43) ==
                      0,
                  "%s", err.message);
    ck_assert_int_eq(err.column, 18);
    ck_assert_int_eq(err.line, 1);
    /* a text error is the parser's */
    m = cr_model_new_from_spec("flatten dense:1O", 0, 3, img, &o, &err);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_int_eq(err.column, 15);
}
END_TEST

Suite *model_spec_suite(void)
{
    Suite *s = suite_create("model_spec");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_cnn);
    tcase_add_test(tc, test_char_model);
    tcase_add_test(tc, test_arguments);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_bad_specs);
    tcase_add_test(tc, test_new_from_spec);
    suite_add_tcase(s, tc);
    return s;
}
