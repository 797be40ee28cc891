/*
 * w6_ops.c - benchmark W6: forward + backward per second of single ops on
 * Fashion-MNIST-sized batches, side by side with bench/peers/w6_ops.py
 * (PyTorch, float64, one thread), and the convolutions' GFLOP/s against
 * cblas_dgemm's on the very products their im2col makes. Each row builds
 * y = op(inputs) and the loss E = 1/2 sum (y - G)^2 for a fixed G (so
 * dE/dy = y - G; PyTorch: 0.5 mse_loss(y, G, reduction="sum")), and times
 * cr_graph_forward + cr_graph_backward once the first backward has built
 * the gradients; gradients go to the parameters and,
 * where the op sits inside a network, to its input. Values come from
 * bench_weight (bench_util.h). Prints one JSON line per row.
 *
 *   conv2d_1x32   x [64,1,28,28] (data: no input gradient), w [32,1,3,3],
 *                 b [32], padding 1
 *   conv2d_32x64  x [64,32,14,14] (input gradient too), w [64,32,3,3], b [64],
 *                 padding 1
 *   max_pool2d    x [64,32,28,28], 2x2 windows, stride 2
 *   layer_norm    x [64,49,256] over the last axis, gain and bias [256]
 *   bmm           [64,16,64] x [64,64,16], cr_matmul's batched product (a
 *                 row that cannot be built is reported as skipped)
 *
 * The convolutions' GFLOP/s count the flops of their three products per
 * step over the time of the convolution's own kernels: the conv node and
 * its gradient nodes (conv_weight_grad, conv_input_grad and the bias's
 * channel_sum), evaluated one after the other, the loss left out. The
 * program links the library's internals for that.
 *
 * Usage: w6_ops [SECONDS_PER_ROW] [ROW]   (threads from CR_NUM_THREADS)
 */
#include "core/internal.h"

#include <gsl/gsl_cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* An input or parameter of the given shape filled from bench_weight. */
static cr_node *filled(cr_graph *g, int param, int rank, const size_t *shape, long seed)
{
    cr_node *n = param ? cr_param_init(g, NULL, rank, shape, CR_INIT_UNIFORM, 0, 0)
                       : cr_input(g, NULL, rank, shape);
    if (!n)
        return NULL;
    size_t count = cr_tensor_size(cr_node_value(n));
    double *v = malloc(count * sizeof *v);
    for (size_t i = 0; i < count; i++)
        v[i] = bench_weight(seed + (long)i);
    cr_node_set_data(n, v, count);
    free(v);
    return n;
}

/* 1/2 sum (y - G)^2 for G filled from bench_weight. */
static cr_node *weighted_loss(cr_graph *g, cr_node *y)
{
    if (!y)
        return NULL;
    const cr_tensor *t = cr_node_value(y);
    cr_node *G = filled(g, 0, cr_tensor_rank(t), cr_tensor_shape(t), 99);
    return cr_sq_error(g, y, G);
}

/* Steps of forward + backward for about `seconds`, after a quarter of
 * that warming up (the first backward builds the gradients); steps per
 * second. */
static double time_steps(cr_graph *g, cr_node *loss, double seconds)
{
    const double warm = bench_now();
    do {
        if (cr_graph_forward(g, loss) != CR_OK || cr_graph_backward(g, loss, 0) != CR_OK)
            return -1;
    } while (bench_now() - warm < seconds / 4);
    long steps = 0;
    const double t0 = bench_now();
    double t = t0;
    while (t - t0 < seconds || steps < 3) {
        cr_graph_forward(g, loss);
        cr_graph_backward(g, loss, 0);
        steps++;
        t = bench_now();
    }
    return (double)steps / (t - t0);
}

/* GFLOP/s of cblas_dgemm on one step's im2col products of a 3x3,
 * padding-1 convolution: per sample Y = W cols (O x L x 9C), dW += dY
 * cols^T (O x 9C x L) and, with an input gradient, cols = W^T dY
 * (9C x L x O). Also the step's flops in *flops. */
static double conv_dgemm_gflops(int n, int c, int o, int l, int input_grad, double seconds,
                                double *flops)
{
    const int k = 9 * c;
    double *w = malloc((size_t)o * k * sizeof *w),
           *cols = malloc((size_t)k * l * sizeof *w);
    double *y = malloc((size_t)o * l * sizeof *w), *dw = malloc((size_t)o * k * sizeof *w);
    for (long i = 0; i < (long)o * k; i++)
        w[i] = bench_weight(i);
    for (long i = 0; i < (long)k * l; i++)
        cols[i] = bench_weight(i + 3);
    for (long i = 0; i < (long)o * l; i++)
        y[i] = bench_weight(i + 5);
    *flops = 2.0 * n * ((double)o * l * k * (input_grad ? 3 : 2));
    long steps = 0;
    const double t0 = bench_now();
    double t = t0;
    while (t - t0 < seconds || steps < 3) {
        for (int s = 0; s < n; s++) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o, l, k, 1.0, w, k, cols,
                        l, 0.0, y, l);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, o, k, l, 1.0, y, l, cols,
                        l, s ? 1.0 : 0.0, dw, k);
            if (input_grad)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, l, o, 1.0, w, k, y,
                            l, 0.0, cols, l);
        }
        steps++;
        t = bench_now();
    }
    free(w);
    free(cols);
    free(y);
    free(dw);
    return *flops * (double)steps / (t - t0) * 1e-9;
}

/* Evaluations per second of the kernels of nodes[0..n), in this order. */
static double time_kernels(cr_node *const *nodes, size_t n, double seconds)
{
    long steps = 0;
    const double t0 = bench_now();
    double t = t0;
    while (t - t0 < seconds || steps < 3) {
        for (size_t i = 0; i < n; i++)
            nodes[i]->op->forward(nodes[i]);
        steps++;
        t = bench_now();
    }
    return (double)steps / (t - t0);
}

static void report(const char *row, double per_second, const char *extra)
{
    if (per_second < 0)
        printf("{\"bench\": \"W6\", \"row\": \"%s\", \"side\": \"chainrule\", "
               "\"skipped\": true}\n",
               row);
    else
        printf("{\"bench\": \"W6\", \"row\": \"%s\", \"side\": \"chainrule\", \"threads\": "
               "%d, "
               "\"per_second\": %.4f%s}\n",
               row, cr_num_threads(), per_second, extra);
    fflush(stdout);
}

static void conv_row(const char *row, int c, int o, int hw, int input_grad, double seconds)
{
    const int n = 64;
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {n, c, hw, hw}, sw[4] = {o, c, 3, 3}, sb[1] = {o}, pad[2] = {1, 1};
    cr_node *x = filled(g, 0, 4, sx, 0), *w = filled(g, 1, 4, sw, 1000),
            *b = filled(g, 1, 1, sb, 2000);
    if (input_grad)
        cr_node_require_grad(x, 1);
    cr_node *y = cr_conv2d(g, x, w, b, NULL, pad, NULL, 1);
    cr_node *loss = weighted_loss(g, y);
    const double per_second = loss ? time_steps(g, loss, seconds) : -1;
    cr_node *kernels[4] = {y, cr_node_grad_node(w), cr_node_grad_node(b),
                           input_grad ? cr_node_grad_node(x) : NULL};
    const double conv_per_second = time_kernels(kernels, input_grad ? 4 : 3, seconds);
    cr_graph_free(g);
    double flops;
    const double dgemm = conv_dgemm_gflops(n, c, o, hw * hw, input_grad, seconds, &flops);
    const double gflops = flops * conv_per_second * 1e-9;
    char extra[200];
    snprintf(extra, sizeof extra,
             ", \"gflops\": %.3f, \"dgemm_gflops\": %.3f, \"pct_of_dgemm\": %.1f", gflops,
             dgemm, 100.0 * gflops / dgemm);
    report(row, per_second, extra);
}

static void pool_row(double seconds)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {64, 32, 28, 28}, k[2] = {2, 2};
    cr_node *x = filled(g, 0, 4, sx, 0);
    cr_node_require_grad(x, 1);
    cr_node *loss = weighted_loss(g, cr_max_pool2d(g, x, k, NULL, NULL));
    report("max_pool2d", loss ? time_steps(g, loss, seconds) : -1, "");
    cr_graph_free(g);
}

static void layer_norm_row(double seconds)
{
    cr_graph *g = cr_graph_new();
    const size_t sx[3] = {64, 49, 256}, sd[1] = {256};
    cr_node *x = filled(g, 0, 3, sx, 0), *gain = filled(g, 1, 1, sd, 500),
            *bias = filled(g, 1, 1, sd, 900);
    cr_node_require_grad(x, 1);
    cr_node *loss = weighted_loss(g, cr_layer_norm(g, x, 1, gain, bias, CR_NORM_EPS));
    report("layer_norm", loss ? time_steps(g, loss, seconds) : -1, "");
    cr_graph_free(g);
}

static void bmm_row(double seconds)
{
    cr_graph *g = cr_graph_new();
    const size_t sa[3] = {64, 16, 64}, sb[3] = {64, 64, 16};
    cr_node *a = filled(g, 1, 3, sa, 0), *b = filled(g, 1, 3, sb, 7000);
    cr_node *loss = weighted_loss(g, cr_matmul(g, a, b, 0));
    report("bmm", loss ? time_steps(g, loss, seconds) : -1, "");
    cr_graph_free(g);
}

int main(int argc, char **argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    const char *only = argc > 2 ? argv[2] : NULL;
#define ROW(NAME) (!only || strcmp(only, NAME) == 0)
    if (ROW("conv2d_1x32"))
        conv_row("conv2d_1x32", 1, 32, 28, 0, seconds);
    if (ROW("conv2d_32x64"))
        conv_row("conv2d_32x64", 32, 64, 14, 1, seconds);
    if (ROW("max_pool2d"))
        pool_row(seconds);
    if (ROW("layer_norm"))
        layer_norm_row(seconds);
    if (ROW("bmm"))
        bmm_row(seconds);
#undef ROW
    return 0;
}
