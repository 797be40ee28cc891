/*
 * check_nnops.c - the neural-network ops beyond their gradients (which the
 * op-table tests in check_ops.c check to second order): forward values
 * against hand computation, the error messages for bad shapes and
 * parameters, the graph's seeded generator and parameters drawn from it,
 * the training/evaluation switch, dropout's masks, batch norm's running
 * statistics, and zero allocations per training step of a small CNN.
 */
#include "core/internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An input of the given shape holding data (copied). */
static cr_node *input_with(cr_graph *g, int rank, const size_t *shape, const double *data)
{
    cr_node *x = cr_input(g, NULL, rank, shape);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(cr_node_set_data(x, data, cr_tensor_size(cr_node_value(x))), CR_OK);
    return x;
}

/* Asserts that building failed with status and a message containing text,
 * and that the graph kept its size. */
static void assert_fails(cr_graph *g, cr_node *n, size_t size_before, cr_status status,
                         const char *text)
{
    ck_assert_ptr_null(n);
    const cr_error *e = cr_graph_error(g);
    ck_assert_int_eq(e->status, status);
    ck_assert_msg(strstr(e->message, text) != NULL, "message '%s' lacks '%s'", e->message,
                  text);
    ck_assert_uint_eq(cr_graph_size(g), size_before);
    cr_graph_clear_error(g);
}

/* ---- parameters from the graph's generator ---- */

START_TEST(test_param_init)
{
    const size_t s34[2] = {3, 4}, sconv[4] = {8, 2, 3, 3}, s5[1] = {5};
    double first[12];
    for (int round = 0; round < 3; round++) {
        cr_graph *g = cr_graph_new();
        cr_graph_set_seed(g, round < 2 ? 7 : 8);
        cr_node *w = cr_param_init(g, "W", 2, s34, CR_INIT_XAVIER, 0, 0);
        ck_assert_ptr_nonnull(w);
        ck_assert_uint_eq(cr_graph_num_params(g), 1);
        ck_assert_ptr_eq(cr_graph_param(g, 0), w);
        const double r = sqrt(6.0 / 7.0), *v = cr_tensor_data(cr_node_value(w));
        int same = 1;
        for (int i = 0; i < 12; i++) {
            ck_assert(fabs(v[i]) <= r && v[i] != 0.0);
            if (round == 0)
                first[i] = v[i];
            same &= v[i] == first[i];
        }
        ck_assert_int_eq(same, round < 2); /* same seed, same values */
        cr_graph_free(g);
    }
    cr_graph *g = cr_graph_new();
    /* He for a convolution's weights: fan_in = 2*3*3, deviation 1/3 */
    cr_node *w = cr_param_init(g, NULL, 4, sconv, CR_INIT_HE, 0, 0);
    const cr_tensor *v = cr_node_value(w);
    double sq = 0;
    for (size_t i = 0; i < cr_tensor_size(v); i++)
        sq += cr_tensor_get(v, i) * cr_tensor_get(v, i);
    const double dev = sqrt(sq / (double)cr_tensor_size(v));
    ck_assert_msg(dev > 0.25 && dev < 0.42, "He deviation %g, expected about 1/3", dev);
    cr_node *z = cr_param_init(g, "b", 1, s5, CR_INIT_UNIFORM, 0, 0);
    ck_assert_double_eq(test_max_abs(cr_node_value(z)), 0.0);
    cr_node *u = cr_param_init(g, NULL, 1, s5, CR_INIT_UNIFORM, 2.5, 3.0);
    cr_node *nrm = cr_param_init(g, NULL, 1, s5, CR_INIT_NORMAL, -4.0, 0.01);
    for (size_t i = 0; i < 5; i++) {
        const double a = cr_tensor_get(cr_node_value(u), i);
        ck_assert(a >= 2.5 && a < 3.0);
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(nrm), i), -4.0, 0.1);
    }
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_param_init(g, NULL, 1, s5, CR_INIT_UNIFORM, 1, 0), n, CR_EINVAL,
                 "uniform needs a <= b");
    assert_fails(g, cr_param_init(g, NULL, 1, s5, CR_INIT_NORMAL, 0, -1), n, CR_EINVAL,
                 "param: initialisation 3");
    assert_fails(g, cr_param_init(g, NULL, 1, s5, (cr_init_kind)9, 0, 0), n, CR_EINVAL,
                 "initialisation 9");
    assert_fails(g, cr_param_init(g, "b", 1, s5, CR_INIT_HE, 0, 0), n, CR_ENAME, "'b'");
    cr_graph_free(g);
}
END_TEST

START_TEST(test_training_switch_and_state)
{
    cr_graph *g = cr_graph_new();
    ck_assert_int_eq(cr_graph_training(g), 1);
    cr_graph_set_training(g, 0);
    ck_assert_int_eq(cr_graph_training(g), 0);
    cr_graph_set_training(g, 1);
    ck_assert_int_eq(cr_graph_training(g), 1);
    cr_node *s = cr_sigmoid(g, cr_scalar(g, 0.5));
    ck_assert_ptr_null(cr_node_state(s));
    cr_tensor *t = cr_tensor_new_scalar(1.0, NULL);
    ck_assert_int_eq(cr_node_set_state(s, t), CR_ESTATE);
    ck_assert_ptr_nonnull(strstr(cr_graph_error(g)->message, "keeps no state"));
    ck_assert_int_eq(cr_node_set_state(NULL, t), CR_EINVAL);
    cr_tensor_free(t);
    cr_graph_free(g);
}
END_TEST

/* ---- convolutions ---- */

START_TEST(test_conv_values)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {1, 1, 3, 3}, sw[4] = {1, 1, 2, 2}, sb[1] = {1};
    double x[9];
    for (int i = 0; i < 9; i++)
        x[i] = i + 1;
    cr_node *X = input_with(g, 4, sx, x);
    cr_node *W = input_with(g, 4, sw, (double[]){1, 0, 0, -1});
    cr_node *b = input_with(g, 1, sb, (double[]){0.5});
    /* y[i,j] = x[i,j] - x[i+1,j+1] + 0.5 = -3.5 */
    cr_node *y = cr_conv2d(g, X, W, b, NULL, NULL, NULL, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(y), 2), 2);
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(y), i), -3.5);
    /* padding 1, stride 2: positions (-1,-1), (-1,1), (1,-1), (1,1) */
    y = cr_conv2d(g, X, W, NULL, (size_t[]){2, 2}, (size_t[]){1, 1}, NULL, 1);
    const double want[4] = {-1, -3, -7, -4};
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(y), i), want[i]);
    /* 1-D: [1,2,3,4] * [1,1] with dilation 2: x[i] + x[i+2] */
    const size_t sx1[3] = {1, 1, 4}, sw1[3] = {1, 1, 2};
    cr_node *x1 = input_with(g, 3, sx1, (double[]){1, 2, 3, 4});
    cr_node *w1 = input_with(g, 3, sw1, (double[]){1, 1});
    y = cr_conv1d(g, x1, w1, NULL, 1, 0, 2, 1);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(y), 2), 2);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(y), 0), 4);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(y), 1), 6);
    cr_graph_free(g);
}
END_TEST

/* The output and gradients of a 3x3 convolution with a bias, padding
 * (dh, 1) and dilation (dh, 1) (same-size output, the block-copy form of
 * im2col and col2im) against direct sums, for the loss sum(y * G):
 *   y[n,o,oy,ox] = b[o] + sum over c, i, j of W[o,c,i,j] x[n, ch, iy, ix]
 *   dW[o,c,i,j] = sum over n, oy, ox of G[n,o,oy,ox] x[n, ch, iy, ix]
 *   dX[n,ch,iy,ix] = the same products summed over o (of ch's group), i, j
 * with ch = group(o) cg + c, iy = oy + dh (i - 1), ix = ox + j - 1 inside
 * the image. Products large enough for BLAS; fewer input channels per
 * group than output channels (9 cg < og: the transposed weight gradient)
 * with one group and two, more with one group, and dilation 2 along h. */
START_TEST(test_conv_grads_against_sums)
{
    static const size_t cases[][5] = {
        {3, 1, 16, 1, 1}, {3, 2, 32, 2, 1}, {2, 4, 3, 1, 1}, {2, 2, 8, 1, 2}};
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const size_t n = cases[t][0], c = cases[t][1], o = cases[t][2],
                     groups = cases[t][3], dh = cases[t][4];
        const size_t h = 6, cg = c / groups, og = o / groups;
        const size_t sx[4] = {n, c, h, h}, sw[4] = {o, cg, 3, 3}, sy[4] = {n, o, h, h};
        double x[3 * 4 * 36], gv[3 * 32 * 36], wv[32 * 9], dx[3 * 4 * 36] = {0};
        for (size_t i = 0; i < n * c * h * h; i++)
            x[i] = sin(0.7 * (double)i + 0.2);
        for (size_t i = 0; i < n * o * h * h; i++)
            gv[i] = cos(0.3 * (double)i);
        for (size_t i = 0; i < o * cg * 9; i++)
            wv[i] = 0.1 * (double)(i % 7) - 0.2;
        cr_graph *g = cr_graph_new();
        cr_node *X = input_with(g, 4, sx, x), *G = input_with(g, 4, sy, gv);
        cr_node *W = cr_param_init(g, "w", 4, sw, CR_INIT_UNIFORM, 0, 0);
        ck_assert_ptr_nonnull(W);
        ck_assert_int_eq(cr_node_set_data(W, wv, o * cg * 9), CR_OK);
        cr_node_require_grad(X, 1);
        double bv[32];
        for (size_t i = 0; i < o; i++)
            bv[i] = 0.25 * (double)i - 1.0;
        cr_node *B = input_with(g, 1, (size_t[]){o}, bv);
        cr_node *y =
            cr_conv2d(g, X, W, B, NULL, (size_t[]){dh, 1}, (size_t[]){dh, 1}, groups);
        ck_assert_uint_eq(cr_tensor_size(cr_node_value(y)), n * o * h * h);
        double *yv = calloc(n * o * h * h, sizeof *yv); /* y = b + the products */
        cr_node *loss = cr_sum(g, cr_mul(g, y, G));
        ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
        const cr_tensor *dw = cr_node_grad(W);
        for (size_t oo = 0; oo < o; oo++)
            for (size_t cc = 0; cc < cg; cc++)
                for (size_t i = 0; i < 3; i++)
                    for (size_t j = 0; j < 3; j++) {
                        const size_t ch = oo / og * cg + cc;
                        const double wij = wv[((oo * cg + cc) * 3 + i) * 3 + j];
                        double want = 0.0;
                        for (size_t s = 0; s < n; s++)
                            for (size_t oy = 0; oy < h; oy++)
                                for (size_t ox = 0; ox < h; ox++) {
                                    const long iy = (long)(oy + dh * i) - (long)dh,
                                               ix = (long)(ox + j) - 1;
                                    if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)h)
                                        continue;
                                    const double gy = gv[((s * o + oo) * h + oy) * h + ox];
                                    const size_t at =
                                        ((s * c + ch) * h + (size_t)iy) * h + (size_t)ix;
                                    want += gy * x[at];
                                    dx[at] += gy * wij;
                                    yv[((s * o + oo) * h + oy) * h + ox] += wij * x[at];
                                }
                        const double got =
                            cr_tensor_get(dw, ((oo * cg + cc) * 3 + i) * 3 + j);
                        ck_assert_double_eq_tol(got, want, 1e-12 * (1 + fabs(want)));
                    }
        for (size_t k = 0; k < n * c * h * h; k++)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(X), k), dx[k],
                                    1e-12 * (1 + fabs(dx[k])));
        for (size_t k = 0; k < n * o * h * h; k++) {
            const double want = yv[k] + bv[k / (h * h) % o];
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), k), want,
                                    1e-12 * (1 + fabs(want)));
        }
        free(yv);
        cr_graph_free(g);
    }
}
END_TEST

START_TEST(test_conv_errors)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {1, 3, 5, 5}, sw[4] = {4, 3, 3, 3}, sw2[4] = {4, 2, 3, 3},
                 sb[1] = {3}, s3[3] = {2, 3, 4}, sbig[4] = {1, 3, 2, 2};
    cr_node *x = cr_input(g, "x", 4, sx), *w = cr_input(g, "w", 4, sw);
    cr_node *w2 = cr_input(g, "w2", 4, sw2), *b = cr_input(g, "b", 1, sb);
    cr_node *x3 = cr_input(g, "x3", 3, s3), *small = cr_input(g, "small", 4, sbig);
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_conv2d(g, x3, w, NULL, NULL, NULL, NULL, 1), n, CR_ESHAPE,
                 "conv2d: input [2,3,4] is not [N,C,H,W]");
    assert_fails(g, cr_conv2d(g, x, w2, NULL, NULL, NULL, NULL, 1), n, CR_ESHAPE,
                 "conv2d: input [1,3,5,5] and weights [4,2,3,3] do not fit 1 group(s)");
    assert_fails(g, cr_conv2d(g, x, w, NULL, NULL, NULL, NULL, 2), n, CR_ESHAPE,
                 "do not fit 2 group(s)");
    assert_fails(g, cr_conv2d(g, x, w, b, NULL, NULL, NULL, 1), n, CR_ESHAPE,
                 "conv2d: bias [3] does not fit weights [4,3,3,3]");
    assert_fails(g, cr_conv2d(g, small, w, NULL, NULL, NULL, NULL, 1), n, CR_ESHAPE,
                 "conv2d: input [1,3,2,2] with padding is smaller");
    assert_fails(g, cr_conv2d(g, x, w, NULL, (size_t[]){0, 1}, NULL, NULL, 1), n, CR_EINVAL,
                 "conv2d: stride 0x1");
    assert_fails(g, cr_conv2d(g, x, w, NULL, NULL, NULL, NULL, 0), n, CR_EINVAL,
                 "groups 0");
    assert_fails(g, cr_conv1d(g, x, w, NULL, 1, 0, 1, 1), n, CR_ESHAPE,
                 "conv1d: input [1,3,5,5] is not [N,C,L]");
    assert_fails(g, cr_conv1d(g, x3, x3, NULL, 1, 0, 0, 1), n, CR_EINVAL, "dilation");
    /* a NULL input propagates the error that made it */
    cr_node *bad = cr_conv2d(g, x3, w, NULL, NULL, NULL, NULL, 1);
    ck_assert_ptr_null(cr_conv2d(g, bad, w, NULL, NULL, NULL, NULL, 1));
    ck_assert_ptr_nonnull(strstr(cr_graph_error(g)->message, "is not [N,C,H,W]"));
    cr_graph_free(g);
}
END_TEST

/* ---- pooling ---- */

START_TEST(test_pool_values)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {1, 1, 2, 4}, k2[2] = {2, 2}, p1[2] = {1, 1};
    /* two windows: a tie (first maximal element wins) and distinct values */
    cr_node *x = input_with(g, 4, sx, (double[]){3, 1, -2, -5, 3, 3, -1, -7});
    cr_node_require_grad(x, 1);
    cr_node *m = cr_max_pool2d(g, x, k2, NULL, NULL);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(m), 0), 3);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(m), 1), -1);
    cr_node *loss = cr_sum(
        g, cr_mul(g, m, input_with(g, 4, (size_t[]){1, 1, 1, 2}, (double[]){10, 20})));
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    const double dmax[8] = {10, 0, 0, 0, 0, 0, 20, 0};
    for (size_t i = 0; i < 8; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(x), i), dmax[i]);
    /* padding: -inf for max (negative values win), zeros counted for avg */
    cr_node *mp = cr_max_pool2d(g, x, k2, (size_t[]){2, 2}, p1);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(mp), 3), 3);
    const double want_max[6] = {3, 1, -5, 3, 3, -7};
    cr_node *ap = cr_avg_pool2d(g, x, k2, NULL, p1);
    const double want_avg[6] = {0.75, -0.25, -1.25, 0.75, 0.5, -1.75};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_value(mp), i), want_max[i]);
        ck_assert_double_eq(cr_tensor_get(cr_node_value(ap), i), want_avg[i]);
    }
    /* 1-D over the last axis of [C,L] */
    cr_node *x1 = input_with(g, 2, (size_t[]){1, 5}, (double[]){1, 4, 2, 8, 5});
    cr_node *m1 = cr_max_pool1d(g, x1, 2, 0, 0), *a1 = cr_avg_pool1d(g, x1, 3, 2, 1);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(m1), 1), 2);
    ck_assert_double_eq(cr_tensor_get(cr_node_value(m1), 1), 8);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(a1), 1), 3);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(a1), 0), 5.0 / 3.0, 1e-15);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(a1), 2), 13.0 / 3.0, 1e-15);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_pool_errors)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {1, 2, 3, 3}, s2[2] = {3, 3}, k2[2] = {2, 2}, k4[2] = {4, 4};
    cr_node *x = cr_input(g, "x", 4, sx), *m = cr_input(g, "m", 2, s2);
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_max_pool2d(g, m, k2, NULL, NULL), n, CR_ESHAPE,
                 "max_pool2d: input [3,3] is not [N,C,H,W] or [C,H,W]");
    assert_fails(g, cr_avg_pool2d(g, x, k4, NULL, NULL), n, CR_ESHAPE,
                 "avg_pool2d: input [1,2,3,3] with padding is smaller than the kernel 4x4");
    assert_fails(g, cr_max_pool2d(g, x, k2, NULL, (size_t[]){2, 0}), n, CR_EINVAL,
                 "max_pool2d: kernel 2x2, stride 2x2, padding 2x0");
    assert_fails(g, cr_max_pool2d(g, x, (size_t[]){0, 2}, NULL, NULL), n, CR_EINVAL,
                 "kernels must be at least 1");
    assert_fails(g, cr_max_pool2d(g, x, NULL, NULL, NULL), n, CR_EINVAL,
                 "max_pool2d: kernel is NULL");
    assert_fails(g, cr_avg_pool1d(g, x, 2, 0, 0), n, CR_ESHAPE,
                 "avg_pool1d: input [1,2,3,3] is not [N,C,L] or [C,L]");
    assert_fails(g, cr_max_pool1d(g, m, 3, 1, 2), n, CR_EINVAL, "max_pool1d");
    cr_graph_free(g);
}
END_TEST

/* ---- dropout ---- */

enum { DROP_N = 1000 };

/* A graph with x [DROP_N] (non-zero values), d = dropout(x, p), and
 * loss = sum(d * w); x wants its gradient. */
typedef struct drop_graph {
    cr_graph *g;
    cr_node *x, *d, *w, *loss;
} drop_graph;

static drop_graph drop_build(unsigned long seed, double p)
{
    drop_graph t;
    t.g = cr_graph_new();
    cr_graph_set_seed(t.g, seed);
    static double xs[DROP_N], ws[DROP_N];
    for (int i = 0; i < DROP_N; i++) {
        xs[i] = 0.1 * (i % 7 + 1);
        ws[i] = 0.5 + 0.01 * (i % 13);
    }
    const size_t shape[1] = {DROP_N};
    t.x = input_with(t.g, 1, shape, xs);
    t.w = input_with(t.g, 1, shape, ws);
    cr_node_require_grad(t.x, 1);
    t.d = cr_dropout(t.g, t.x, p);
    ck_assert_ptr_nonnull(t.d);
    t.loss = cr_sum(t.g, cr_mul(t.g, t.d, t.w));
    return t;
}

/* The mask is 0 or 1/(1-p) everywhere, y = x * m, the gradient is w * m,
 * and about 1 - p of the elements are kept. Returns how many. */
static size_t check_mask(const drop_graph *t, double p)
{
    const cr_tensor *m = cr_node_state(t->d), *y = cr_node_value(t->d);
    const cr_tensor *x = cr_node_value(t->x), *w = cr_node_value(t->w);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(cr_graph_backward(t->g, t->loss, 0), CR_OK);
    const cr_tensor *gx = cr_node_grad(t->x);
    size_t kept = 0;
    for (size_t i = 0; i < DROP_N; i++) {
        const double mi = cr_tensor_get(m, i);
        ck_assert(mi == 0.0 || mi == 1.0 / (1.0 - p));
        kept += mi != 0.0;
        ck_assert_double_eq(cr_tensor_get(y, i), cr_tensor_get(x, i) * mi);
        ck_assert_double_eq(cr_tensor_get(gx, i), cr_tensor_get(w, i) * mi);
    }
    ck_assert_msg(fabs((double)kept / DROP_N - (1 - p)) < 0.06, "kept %zu of %d, p = %g",
                  kept, DROP_N, p);
    return kept;
}

START_TEST(test_dropout_training)
{
    drop_graph a = drop_build(42, 0.3), b = drop_build(42, 0.3), c = drop_build(43, 0.3);
    double first[DROP_N];
    check_mask(&a, 0.3);
    memcpy(first, cr_tensor_data(cr_node_state(a.d)), sizeof first);
    /* the same seed draws the same masks, another seed others */
    ck_assert_mem_eq(cr_tensor_data(cr_node_state(b.d)), first, sizeof first);
    ck_assert(memcmp(cr_tensor_data(cr_node_state(c.d)), first, sizeof first) != 0);
    /* each forward draws a new mask; the backward after it uses that mask */
    for (int step = 0; step < 2; step++) {
        ck_assert_int_eq(cr_graph_forward(a.g, a.loss), CR_OK);
        ck_assert_int_eq(cr_graph_forward(b.g, b.loss), CR_OK);
        check_mask(&a, 0.3);
        ck_assert(memcmp(cr_tensor_data(cr_node_state(a.d)), first, sizeof first) != 0);
        ck_assert_mem_eq(cr_tensor_data(cr_node_state(a.d)),
                         cr_tensor_data(cr_node_state(b.d)), sizeof first);
    }
    /* the gradient is linear in x: the second derivative is zero */
    cr_node *gx = cr_grad(a.g, a.loss, a.x);
    cr_node *h = cr_grad(a.g, cr_sum(a.g, cr_mul(a.g, gx, a.w)), a.x);
    ck_assert_ptr_nonnull(h);
    ck_assert_double_eq(test_max_abs(cr_node_value(h)), 0.0);
    /* evaluation mode: the identity, and its gradient is w */
    cr_graph_set_training(a.g, 0);
    ck_assert_int_eq(cr_graph_forward(a.g, a.loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(a.g, a.loss, 0), CR_OK);
    for (size_t i = 0; i < DROP_N; i++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_value(a.d), i),
                            cr_tensor_get(cr_node_value(a.x), i));
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(a.x), i),
                            cr_tensor_get(cr_node_value(a.w), i));
    }
    cr_graph_free(a.g);
    cr_graph_free(b.g);
    cr_graph_free(c.g);
}
END_TEST

START_TEST(test_dropout_edges)
{
    drop_graph one = drop_build(1, 1.0), zero = drop_build(1, 0.0);
    ck_assert_double_eq(test_max_abs(cr_node_value(one.d)), 0.0);
    for (size_t i = 0; i < DROP_N; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(zero.d), i),
                            cr_tensor_get(cr_node_value(zero.x), i));
    const size_t n = cr_graph_size(one.g);
    assert_fails(one.g, cr_dropout(one.g, one.x, 1.5), n, CR_EINVAL,
                 "dropout: p = 1.5 is not in [0, 1]");
    assert_fails(one.g, cr_dropout(one.g, one.x, NAN), n, CR_EINVAL, "dropout: p = nan");
    /* a dropout node made without cr_dropout has no mask */
    assert_fails(one.g, cr_node_create(one.g, one.d->op, &one.x, 1, NULL), n, CR_EINVAL,
                 "dropout: [1000] has no mask of its shape");
    cr_graph_free(one.g);
    cr_graph_free(zero.g);
}
END_TEST

/* ---- layer norm and batch norm ---- */

START_TEST(test_layer_norm_values)
{
    cr_graph *g = cr_graph_new();
    const size_t s24[2] = {2, 4}, s4[1] = {4}, s3[1] = {3};
    cr_node *x = input_with(g, 2, s24, (double[]){1, 2, 3, 4, -1, -1, -1, 5});
    cr_node *gain = input_with(g, 1, s4, (double[]){1, 2, 3, 4});
    cr_node *bias = input_with(g, 1, s4, (double[]){0.5, 0, 0, 0});
    cr_node *y = cr_layer_norm(g, x, 1, gain, bias, CR_NORM_EPS);
    const double r0 = 1 / sqrt(1.25 + 1e-5), r1 = 1 / sqrt(6.75 + 1e-5);
    const double want[8] = {-1.5 * r0 + 0.5, -0.5 * r0 * 2, 0.5 * r0 * 3,  1.5 * r0 * 4,
                            -1.5 * r1 + 0.5, -1.5 * r1 * 2, -1.5 * r1 * 3, 4.5 * r1 * 4};
    for (size_t i = 0; i < 8; i++)
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), i), want[i], 1e-14);
    /* over both axes: one group of eight */
    cr_node *all = cr_layer_norm(g, x, 2, NULL, NULL, 0.0);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(all), 7), (5 - 1.5) / sqrt(5.0),
                            1e-14);
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_layer_norm(g, x, 3, NULL, NULL, CR_NORM_EPS), n, CR_EINVAL,
                 "layer_norm: 3 trailing axes of [2,4]");
    assert_fails(g, cr_layer_norm(g, x, 1, NULL, NULL, -1.0), n, CR_EINVAL, "eps -1");
    assert_fails(g, cr_layer_norm(g, x, 1, cr_input(g, NULL, 1, s3), NULL, CR_NORM_EPS),
                 n + 1, CR_ESHAPE, "layer_norm: gain [3] does not match [4]");
    assert_fails(g, cr_layer_norm(g, x, 2, NULL, gain, CR_NORM_EPS), n + 1, CR_ESHAPE,
                 "layer_norm: bias [4] does not match [2,4]");
    cr_graph_free(g);
}
END_TEST

START_TEST(test_batch_norm_running_statistics)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[3] = {2, 2, 2}, s2[1] = {2};
    /* channel 0: 1, 2, 5, 8 (mean 4, biased var 7.5); channel 1: 0, 0, 2, 2 */
    cr_node *x = input_with(g, 3, sx, (double[]){1, 2, 0, 0, 5, 8, 2, 2});
    cr_node *gain = input_with(g, 1, s2, (double[]){2, 1});
    cr_node *bias = input_with(g, 1, s2, (double[]){0, -1});
    cr_node *y = cr_batch_norm(g, x, gain, bias, 0.25, CR_NORM_EPS);
    ck_assert_ptr_nonnull(y);
    const cr_tensor *stats = cr_node_state(y);
    ck_assert_uint_eq(cr_tensor_dim(stats, 0), 2);
    /* building evaluates the node but leaves PyTorch's initial statistics */
    const double init[4] = {0, 0, 1, 1};
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq(cr_tensor_get(stats, i), init[i]);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), 0),
                            2 * (1 - 4) / sqrt(7.5 + 1e-5), 1e-14);
    /* each forward in training mode: running = 0.75 running + 0.25 batch,
     * with the unbiased variance (10 and 4/3) */
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    const double once[4] = {1.0, 0.25, 0.75 + 2.5, 0.75 + 1.0 / 3.0};
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq_tol(cr_tensor_get(stats, i), once[i], 1e-15);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_get(stats, 0), 0.75 * 1.0 + 1.0, 1e-15);
    ck_assert_double_eq_tol(cr_tensor_get(stats, 2), 0.75 * 3.25 + 2.5, 1e-15);
    /* evaluation mode: the running statistics normalise and stay */
    const size_t s22[2] = {2, 2};
    cr_tensor *load = cr_tensor_new_from(2, s22, (double[]){3, -1, 4, 0.25}, NULL);
    ck_assert_int_eq(cr_node_set_state(y, load), CR_OK);
    cr_graph_set_training(g, 0);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), 4),
                            2 * (5 - 3) / sqrt(4 + 1e-5), 1e-14);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), 2),
                            (0 + 1) / sqrt(0.25 + 1e-5) - 1, 1e-14);
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq(cr_tensor_get(stats, i), cr_tensor_get(load, i));
    /* the gradient in evaluation mode: dy gamma / sqrt(var + eps) */
    cr_node_require_grad(x, 1);
    ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, y), 0), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(x), 0), 2 / sqrt(4 + 1e-5), 1e-14);
    cr_tensor_free(load);
    /* a state of another shape, and the constructor's errors */
    cr_tensor *wrong = cr_tensor_new(1, s2, NULL);
    ck_assert_int_eq(cr_node_set_state(y, wrong), CR_ESHAPE);
    ck_assert_ptr_nonnull(
        strstr(cr_graph_error(g)->message, "its state is [2,2], not [2]"));
    cr_graph_clear_error(g);
    cr_tensor_free(wrong);
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_batch_norm(g, gain, NULL, NULL, 0.1, CR_NORM_EPS), n, CR_ESHAPE,
                 "batch_norm: input [2] is not [N,C]");
    assert_fails(g, cr_batch_norm(g, x, bias, cr_input(g, NULL, 2, s22), 0.1, CR_NORM_EPS),
                 n + 1, CR_ESHAPE, "batch_norm: bias [2,2] does not match [2]");
    assert_fails(g, cr_batch_norm(g, x, NULL, NULL, 1.5, CR_NORM_EPS), n + 1, CR_EINVAL,
                 "batch_norm: momentum 1.5");
    cr_graph_free(g);
}
END_TEST

/* ---- softmax along an axis, cross-entropy from class indices, huber ---- */

START_TEST(test_softmax_axis_values)
{
    cr_graph *g = cr_graph_new();
    const size_t s232[3] = {2, 3, 2};
    double v[12];
    for (int i = 0; i < 12; i++)
        v[i] = sin(1.7 * i);
    cr_node *x = input_with(g, 3, s232, v);
    cr_node *p = cr_softmax_axis(g, x, 1), *lp = cr_log_softmax(g, x, -2);
    /* along axis 1: elements o*6 + j*2 + k for j = 0..2 */
    for (size_t o = 0; o < 2; o++)
        for (size_t k = 0; k < 2; k++) {
            double sum = 0, e = 0;
            for (size_t j = 0; j < 3; j++) {
                sum += cr_tensor_get(cr_node_value(p), o * 6 + j * 2 + k);
                e += exp(v[o * 6 + j * 2 + k]);
            }
            ck_assert_double_eq_tol(sum, 1.0, 1e-15);
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(lp), o * 6 + k),
                                    v[o * 6 + k] - log(e), 1e-14);
        }
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_softmax_axis(g, x, 3), n, CR_EINVAL,
                 "softmax: axis 3 out of range for [2,3,2]");
    assert_fails(g, cr_log_softmax(g, x, -4), n, CR_EINVAL, "log_softmax: axis -4");
    assert_fails(g, cr_softmax(g, cr_scalar(g, 1.0)), n + 1, CR_ESHAPE,
                 "softmax: axis -1 out of range for []");
    cr_graph_free(g);
}
END_TEST

START_TEST(test_cross_entropy_indices)
{
    cr_graph *g = cr_graph_new();
    const size_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3};
    cr_node *z = input_with(g, 2, s23, (double[]){1, 2, 3, 0, 0, 0});
    cr_node *t = input_with(g, 1, s2, (double[]){2, 0});
    cr_node *e = cr_cross_entropy(g, z, t);
    ck_assert_ptr_nonnull(e);
    const double lse0 = log(exp(1) + exp(2) + exp(3)), lse1 = log(3.0);
    ck_assert_double_eq_tol(cr_node_scalar(e), ((lse0 - 3) + lse1) / 2, 1e-15);
    /* the same as softmax_xent with one-hot rows */
    cr_node *onehot = input_with(g, 2, s23, (double[]){0, 0, 1, 1, 0, 0});
    ck_assert_double_eq_tol(cr_node_scalar(cr_softmax_xent(g, z, onehot)),
                            cr_node_scalar(e), 1e-15);
    /* an index out of range: at build, and at an evaluation (which stops) */
    size_t n = cr_graph_size(g);
    cr_node *bad = input_with(g, 1, s2, (double[]){1, 3});
    assert_fails(
        g, cr_cross_entropy(g, z, bad), n + 1, CR_EINVAL,
        "cross_entropy: class index 3 at row 1 of [2] is out of range for 3 classes");
    ck_assert_int_eq(cr_node_set_data(t, (double[]){0, -1}, 2), CR_OK);
    const double before = cr_node_scalar(e);
    ck_assert_int_eq(cr_graph_forward(g, e), CR_EINVAL);
    ck_assert_ptr_nonnull(strstr(cr_graph_error(g)->message, "class index -1 at row 1"));
    ck_assert_double_eq(cr_node_scalar(e), before);
    cr_graph_clear_error(g);
    ck_assert_int_eq(cr_node_set_data(t, (double[]){0, 1.5}, 2), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, e), CR_EINVAL);
    ck_assert_ptr_nonnull(strstr(cr_graph_error(g)->message,
                                 "1.5 at row 1 of [2] is not an "
                                 "integer"));
    cr_graph_clear_error(g);
    ck_assert_int_eq(cr_node_set_data(t, (double[]){1, 1}, 2), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, e), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(e), ((lse0 - 2) + lse1) / 2, 1e-15);
    n = cr_graph_size(g);
    assert_fails(g, cr_cross_entropy(g, z, input_with(g, 1, s3, (double[]){0, 0, 0})),
                 n + 1, CR_ESHAPE,
                 "cross_entropy: logits [2,3] need class indices [2] (the class "
                 "axis removed), got [3]");
    cr_graph_free(g);
}
END_TEST

START_TEST(test_huber_values)
{
    cr_graph *g = cr_graph_new();
    const size_t s4[1] = {4};
    cr_node *y = input_with(g, 1, s4, (double[]){0.5, -3, 1, 2});
    cr_node *t = input_with(g, 1, s4, (double[]){0, 0, 1, -0.5});
    /* delta 1: 0.125, 3 - 0.5, 0, 2.5 - 0.5 */
    ck_assert_double_eq_tol(cr_node_scalar(cr_huber(g, y, t, 1.0)), (0.125 + 2.5 + 2) / 4,
                            1e-15);
    /* delta 3: every |d| below it but 3 itself */
    ck_assert_double_eq_tol(cr_node_scalar(cr_huber(g, y, t, 3.0)),
                            (0.125 + 3 * 1.5 + 0.5 * 6.25) / 4, 1e-15);
    const size_t n = cr_graph_size(g);
    assert_fails(g, cr_huber(g, y, t, 0.0), n, CR_EINVAL,
                 "huber: delta 0 must be positive");
    assert_fails(g, cr_huber(g, y, cr_scalar(g, 1.0), 1.0), n + 1, CR_ESHAPE,
                 "huber: [4] and [] differ");
    cr_graph_free(g);
}
END_TEST

/* ---- a small CNN: zero allocations per training step ---- */

/* conv (He) + batch norm + relu + max pool + dropout, conv + layer norm +
 * avg pool to one logit per class, cross-entropy from class indices plus
 * a tenth of a huber loss; parameters drawn by cr_param_init. */
typedef struct cnn {
    cr_graph *g;
    cr_node *x, *classes, *loss;
} cnn;

static cnn cnn_build(void)
{
    cnn m;
    m.g = cr_graph_new();
    m.loss = NULL;
    cr_graph *g = m.g;
    if (!g)
        return m;
    cr_graph_set_seed(g, 5);
    const size_t sx[4] = {4, 1, 8, 8}, sw1[4] = {4, 1, 3, 3}, s4[1] = {4};
    const size_t sw2[4] = {3, 4, 3, 3}, st[3] = {4, 1, 1}, k2[2] = {2, 2}, p1[2] = {1, 1};
    m.x = cr_input(g, "x", 4, sx);
    m.classes = cr_input(g, "classes", 3, st);
    cr_node *w1 = cr_param_init(g, "w1", 4, sw1, CR_INIT_HE, 0, 0);
    cr_node *b1 = cr_param_init(g, "b1", 1, s4, CR_INIT_UNIFORM, 0, 0);
    cr_node *gain = cr_param_init(g, "gain", 1, s4, CR_INIT_UNIFORM, 1, 1);
    cr_node *bias = cr_param_init(g, "bias", 1, s4, CR_INIT_UNIFORM, 0, 0);
    cr_node *w2 = cr_param_init(g, "w2", 4, sw2, CR_INIT_XAVIER, 0, 0);
    cr_node *h = cr_conv2d(g, m.x, w1, b1, NULL, p1, NULL, 1);
    h = cr_relu(g, cr_batch_norm(g, h, gain, bias, 0.1, CR_NORM_EPS));
    h = cr_dropout(g, cr_max_pool2d(g, h, k2, NULL, NULL), 0.25);
    h = cr_layer_norm(g, cr_conv2d(g, h, w2, NULL, NULL, NULL, NULL, 1), 2, NULL, NULL,
                      CR_NORM_EPS);
    cr_node *logits = cr_avg_pool2d(g, h, k2, NULL, NULL);
    const size_t slogits[4] = {4, 3, 1, 1};
    cr_node *zero = cr_constant_fill(g, 4, slogits, 0.0);
    m.loss = cr_add(g, cr_cross_entropy(g, logits, m.classes),
                    cr_scale(g, cr_huber(g, logits, zero, 1.0), 0.1));
    /* the batch can shrink (cr_graph_set_rows) */
    if (m.loss &&
        (cr_node_mark_batch(m.x) != CR_OK || cr_node_mark_batch(m.classes) != CR_OK ||
         cr_node_mark_batch(zero) != CR_OK))
        m.loss = NULL;
    return m;
}

static void cnn_batch(cnn *m, int which)
{
    double x[256], c[4];
    for (int i = 0; i < 256; i++)
        x[i] = sin(0.37 * i + which) + (i % 64 < 32 ? 0.5 : -0.5) * (i / 64 % 3);
    for (int i = 0; i < 4; i++)
        c[i] = (i + which) % 3;
    const size_t rows = cr_tensor_shape(cr_node_value(m->x))[0]; /* 4, or fewer */
    ck_assert_int_eq(cr_node_set_data(m->x, x, 64 * rows), CR_OK);
    ck_assert_int_eq(cr_node_set_data(m->classes, c, rows), CR_OK);
}

static double cnn_step(cnn *m, double *buf)
{
    ck_assert_int_eq(cr_graph_forward(m->g, m->loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(m->g, m->loss, 0), CR_OK);
    for (size_t k = 0; k < cr_graph_num_params(m->g); k++) {
        cr_node *p = cr_graph_param(m->g, k);
        const cr_tensor *v = cr_node_value(p), *gr = cr_node_grad(p);
        for (size_t i = 0; i < cr_tensor_size(v); i++)
            buf[i] = cr_tensor_get(v, i) - 0.05 * cr_tensor_get(gr, i);
        ck_assert_int_eq(cr_node_set_data(p, buf, cr_tensor_size(v)), CR_OK);
    }
    return cr_node_scalar(m->loss);
}

START_TEST(test_cnn_steps_allocate_nothing)
{
    test_alloc_install(0);
    double *buf = malloc(128 * sizeof *buf); /* the test's own, not counted */
    cnn m = cnn_build();
    ck_assert_msg(m.loss != NULL, "%s", cr_graph_error(m.g)->message);
    cnn_batch(&m, 0);
    cnn_step(&m, buf); /* warm-up: builds the gradients */
    cnn_batch(&m, 1);
    cnn_step(&m, buf);
    const size_t before = test_alloc.allocations, frees = test_alloc.frees;
    double loss = 0;
    for (int step = 0; step < 6; step++) {
        cnn_batch(&m, step % 2);
        cr_graph_set_training(m.g, step != 3); /* one evaluation-mode step */
        loss = cnn_step(&m, buf);
        ck_assert(isfinite(loss));
    }
    ck_assert_uint_eq(test_alloc.allocations, before);
    ck_assert_uint_eq(test_alloc.frees, frees);
    /* a smaller batch, and back: the first change keeps the built shapes,
     * later ones allocate nothing either */
    ck_assert_int_eq(cr_graph_set_rows(m.g, 3), CR_OK);
    cnn_batch(&m, 0);
    cnn_step(&m, buf);
    const size_t before_rows = test_alloc.allocations, frees_rows = test_alloc.frees;
    for (int step = 0; step < 6; step++) {
        ck_assert_int_eq(cr_graph_set_rows(m.g, step % 3 == 2 ? 4 : 3 - (size_t)step % 2),
                         CR_OK);
        cnn_batch(&m, step % 2);
        cr_graph_set_training(m.g, step != 3);
        loss = cnn_step(&m, buf);
        ck_assert(isfinite(loss));
    }
    ck_assert_uint_eq(test_alloc.allocations, before_rows);
    ck_assert_uint_eq(test_alloc.frees, frees_rows);
    cr_graph_free(m.g);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
    free(buf);
}
END_TEST

/* Failing the k-th allocation, for every k, while building the CNN and
 * running a step: CR_ENOMEM or success, and nothing leaked (the state,
 * scratch space and generator of the new ops included). */
START_TEST(test_cnn_out_of_memory)
{
    size_t k = 1;
    for (;; k++) {
        test_alloc_install(k);
        cnn m = cnn_build();
        cr_status st = CR_ENOMEM;
        if (m.g && m.loss) {
            cnn_batch(&m, 0);
            st = cr_graph_forward(m.g, m.loss);
            if (st == CR_OK)
                st = cr_graph_backward(m.g, m.loss, 0);
        } else if (m.g) {
            st = cr_graph_error(m.g)->status;
        }
        const size_t failures = test_alloc.failures;
        cr_graph_free(m.g);
        ck_assert_msg(test_alloc.live == 0, "failing allocation %zu leaked %ld blocks", k,
                      test_alloc.live);
        test_alloc_uninstall();
        if (failures == 0) {
            ck_assert_int_eq(st, CR_OK);
            break;
        }
        ck_assert_msg(st == CR_ENOMEM, "failing allocation %zu gave %s", k,
                      cr_strerror(st));
    }
    ck_assert_uint_gt(k, 10);
}
END_TEST

Suite *nnops_suite(void)
{
    Suite *s = suite_create("nnops");
    TCase *tc = tcase_create("nnops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_param_init);
    tcase_add_test(tc, test_training_switch_and_state);
    tcase_add_test(tc, test_conv_values);
    tcase_add_test(tc, test_conv_grads_against_sums);
    tcase_add_test(tc, test_conv_errors);
    tcase_add_test(tc, test_pool_values);
    tcase_add_test(tc, test_pool_errors);
    tcase_add_test(tc, test_dropout_training);
    tcase_add_test(tc, test_dropout_edges);
    tcase_add_test(tc, test_layer_norm_values);
    tcase_add_test(tc, test_batch_norm_running_statistics);
    tcase_add_test(tc, test_softmax_axis_values);
    tcase_add_test(tc, test_cross_entropy_indices);
    tcase_add_test(tc, test_huber_values);
    tcase_add_test(tc, test_cnn_steps_allocate_nothing);
    tcase_add_test(tc, test_cnn_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
