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
 * The convolutions' rows also print how close they come to their own
 * matrix products: their kernels (the conv node and its gradient nodes
 * conv_weight_grad, the bias's channel_sum and, with an input gradient,
 * conv_input_grad, evaluated one after the other as the backward does, the
 * loss left out; the program links the library's internals for that) are
 * timed in turn with the very cblas_dgemm calls those kernels make, on
 * buffers of the sizes they use (conv_products below). pct_of_dgemm is the
 * products' time over the kernels' time: 100% would mean everything the
 * convolution does besides its products (im2col, col2im, the bias) is free.
 * gflops and dgemm_gflops count the products' useful flops, 2 O L 9C per
 * sample and product, over each time; kernel_ms and dgemm_ms split the
 * times by kernel and by product (medians over the steps).
 *
 * Usage: w6_ops [SECONDS_PER_ROW] [ROW]   (threads from CR_NUM_THREADS)
 * ROW variants_1x32 or variants_32x64: the ways of making the products
 * that were compared (below), never run by default.
 */
#include "core/internal.h"

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

/* One step's products of a 3x3, padding-1, stride-1 convolution with a
 * bias, exactly as src/ops/conv.c calls cr_gemm (so the same cblas_dgemm
 * calls: shapes, transposes, betas, order), on buffers of the sizes it
 * really uses: the output Y and the gradient dY each [N,O,L] for the whole
 * batch (dY apart from Y, as in the graph), one sample's im2col columns
 * (the conv's scratch, reused for every sample), the weights. Per sample,
 * in the order the graph evaluates them:
 *   forward        Y[s] += W cols (beta 1)          O x L x 9C
 *   weight grad    dW += dY[s] cols^T               O x 9C x L, or
 *                  dW^T += cols dY[s]^T             9C x O x L when 9C < O
 *   input grad     cols = W^T dY[s]                 9C x L x O (with
 *                  input_grad; col2im then scatters cols into dX)
 * What the convolution does besides these products (im2col, col2im,
 * filling Y[s] with the bias before its product, the transpose of dW^T,
 * the bias gradient's channel sum) is what it costs over this baseline,
 * which is the convolution as if all that were free. The bias column and
 * the row of ones (wb, the last row of cols) serve the variants below. */
typedef struct conv_products {
    int n, c, o, l, input_grad;
    double *wb, *w, *cols, *y, *dy, *dw;
} conv_products;

static int products_new(conv_products *p, int n, int c, int o, int l, int input_grad)
{
    const size_t k = 9 * (size_t)c, big = (size_t)n * o * l;
    *p = (conv_products){.n = n, .c = c, .o = o, .l = l, .input_grad = input_grad};
    p->wb = malloc((size_t)o * (k + 1) * sizeof(double));
    p->w = malloc((size_t)o * k * sizeof(double));
    p->cols = malloc((k + 1) * l * sizeof(double));
    p->y = malloc(big * sizeof(double));
    p->dy = malloc(big * sizeof(double));
    p->dw = malloc((size_t)o * k * sizeof(double));
    if (!p->wb || !p->w || !p->cols || !p->y || !p->dy || !p->dw)
        return -1;
    /* huge pages, as the library's tensors get (src/core/tensor.c) */
    cr_advise_huge(p->y, big * sizeof(double));
    cr_advise_huge(p->dy, big * sizeof(double));
    for (size_t i = 0; i < (size_t)o * (k + 1); i++)
        p->wb[i] = bench_weight((long)i);
    for (size_t i = 0; i < (size_t)o * k; i++)
        p->w[i] = bench_weight((long)i + 1);
    for (size_t i = 0; i < (k + 1) * l; i++)
        p->cols[i] = i >= k * l ? 1.0 : bench_weight((long)i + 3);
    for (size_t i = 0; i < big; i++) {
        p->y[i] = 0.0;
        p->dy[i] = bench_weight((long)i + 5);
    }
    return 0;
}

static void products_free(conv_products *p)
{
    free(p->wb);
    free(p->w);
    free(p->cols);
    free(p->y);
    free(p->dy);
    free(p->dw);
}

/* Runs product `which` (0 forward, 1 weight grad, 2 input grad) for every
 * sample. */
static void products_run(conv_products *p, int which)
{
    const size_t k = 9 * (size_t)p->c, step = (size_t)p->o * p->l;
    for (int s = 0; s < p->n; s++) {
        double *dys = p->dy + s * step;
        if (which == 0) /* into Y[s] holding the bias */
            cr_gemm(0, p->o, p->l, k, 1.0, p->w, p->cols, 1.0, p->y + s * step);
        else if (which == 1 && k < (size_t)p->o) /* conv.c's weight_grad_transposed */
            cr_gemm(CR_TRANS_B, k, p->o, p->l, 1.0, p->cols, dys, s ? 1.0 : 0.0, p->dw);
        else if (which == 1)
            cr_gemm(CR_TRANS_B, p->o, k, p->l, 1.0, dys, p->cols, s ? 1.0 : 0.0, p->dw);
        else
            cr_gemm(CR_TRANS_A, k, p->l, p->o, 1.0, p->w, dys, 0.0, p->cols);
    }
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times of `count` (at most 8) functions fn(ctx, i), each run once per step
 * in order, for about `seconds` (at most 4096 steps): the median seconds of
 * each in t[i] (the median, so that the steps on which the machine's load
 * took the core weigh nothing). */
static void time_each(void (*fn)(void *ctx, int i), void *ctx, int count, double seconds,
                      double *t)
{
    enum { MAX_STEPS = 4096 };
    double *each = malloc(sizeof(double) * 8 * MAX_STEPS);
    long steps = 0;
    const double t0 = bench_now();
    double now = t0;
    while (steps < MAX_STEPS && (now - t0 < seconds || steps < 3)) {
        for (int i = 0; i < count; i++) {
            const double a = bench_now();
            fn(ctx, i);
            now = bench_now();
            each[i * MAX_STEPS + steps] = now - a;
        }
        steps++;
    }
    for (int i = 0; i < count; i++) {
        qsort(each + i * MAX_STEPS, (size_t)steps, sizeof *each, compare_doubles);
        t[i] = each[i * MAX_STEPS + steps / 2];
    }
    free(each);
}

/* The conv's kernel nodes and its products, timed in turn within each step
 * so that a change of load on the machine hits both alike. */
typedef struct conv_timing {
    cr_node *const *kernels;
    int n_kernels;
    conv_products *products;
} conv_timing;

/* Step i: kernel node i (evaluated as cr_graph_forward does), then the
 * products in the order of the kernels. */
static void run_conv_part(void *ctx, int i)
{
    const conv_timing *t = ctx;
    if (i < t->n_kernels)
        t->kernels[i]->op->forward(t->kernels[i]);
    else
        products_run(t->products, i - t->n_kernels);
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
    /* the conv's kernels, in the order the graph evaluates them */
    cr_node *kernels[4] = {y, cr_node_grad_node(w), cr_node_grad_node(b),
                           input_grad ? cr_node_grad_node(x) : NULL};
    const int n_kernels = input_grad ? 4 : 3, n_products = input_grad ? 3 : 2;
    double t[7] = {0};
    conv_products p = {0};
    if (per_second >= 0 && products_new(&p, n, c, o, hw * hw, input_grad) == 0) {
        conv_timing ct = {kernels, n_kernels, &p};
        time_each(run_conv_part, &ct, n_kernels + n_products, seconds, t);
    }
    products_free(&p);
    cr_graph_free(g);
    /* seconds per step of each kernel (conv, weight grad, bias grad, input
     * grad) and product (forward, weight grad, input grad); 0 for those a
     * row without an input gradient does not have */
    const double kt[4] = {t[0], t[1], t[2], input_grad ? t[3] : 0.0};
    const double pt[3] = {t[n_kernels], t[n_kernels + 1],
                          input_grad ? t[n_kernels + 2] : 0.0};
    /* useful flops: 2 O L 9C per sample and product (the bias column's
     * are not counted, on either side) */
    const double flops = 2.0 * n * o * (hw * hw) * (9.0 * c) * (input_grad ? 3 : 2);
    const double conv_s = kt[0] + kt[1] + kt[2] + kt[3], dgemm_s = pt[0] + pt[1] + pt[2];
    char extra[400];
    snprintf(extra, sizeof extra,
             ", \"gflops\": %.3f, \"dgemm_gflops\": %.3f, \"pct_of_dgemm\": %.1f, "
             "\"kernel_ms\": {\"conv\": %.3f, \"weight_grad\": %.3f, \"bias_grad\": %.3f, "
             "\"input_grad\": %.3f}, \"dgemm_ms\": {\"forward\": %.3f, \"weight_grad\": "
             "%.3f, \"input_grad\": %.3f}",
             flops / conv_s * 1e-9, flops / dgemm_s * 1e-9, 100.0 * dgemm_s / conv_s,
             1e3 * kt[0], 1e3 * kt[1], 1e3 * kt[2], 1e3 * kt[3], 1e3 * pt[0], 1e3 * pt[1],
             1e3 * pt[2]);
    report(row, per_second, per_second >= 0 ? extra : "");
}

/* ---- the ways of making a convolution's products that were compared ----
 * Not part of the table (run.py runs the rows above): `w6_ops SECONDS
 * variants_1x32` (or variants_32x64) times the 64 samples' products of
 * one step each way, on the buffers of conv_products, in turn within each
 * step, and prints the median ms of each. docs/performance.md quotes them. */

enum {
    FWD_BIAS_COLUMN, /* Y = [W | b] [cols; ones], beta 0 (conv.c until 2026-12-04) */
    FWD_BIAS_FILL,   /* Y = b, then Y += W cols (beta 1): what conv.c does */
    FWD_BIAS_AFTER,  /* Y = W cols (beta 0), then a pass adding b */
    WG_DY_COLS,      /* dW += dY cols^T (conv.c when 9C >= O) */
    WG_COLS_DY,      /* dW^T += cols dY^T (conv.c when 9C < O) */
    WG_ONES_ROW,     /* [dW | db] += dY [cols; ones]^T: db folded in */
    N_VARIANTS
};
static const char *const variant_names[N_VARIANTS] = {"fwd_bias_column", "fwd_bias_fill",
                                                      "fwd_bias_after",  "wgrad_dy_cols",
                                                      "wgrad_cols_dy",   "wgrad_ones_row"};

static void run_variant(void *ctx, int v)
{
    conv_products *p = ctx;
    const size_t k = 9 * (size_t)p->c, step = (size_t)p->o * p->l, l = (size_t)p->l;
    for (int s = 0; s < p->n; s++) {
        double *ys = p->y + s * step, *dys = p->dy + s * step;
        const double beta = s ? 1.0 : 0.0;
        switch (v) {
        case FWD_BIAS_COLUMN:
            cr_gemm(0, p->o, l, k + 1, 1.0, p->wb, p->cols, 0.0, ys);
            break;
        case FWD_BIAS_FILL: /* as conv_part fills it */
            for (int o = 0; o < p->o; o++) {
                double *restrict r = ys + o * l;
                const double bias = p->wb[o];
                CR_FOR_BLOCKED(i, l, r[i] = bias;);
            }
            cr_gemm(0, p->o, l, k, 1.0, p->w, p->cols, 1.0, ys);
            break;
        case FWD_BIAS_AFTER:
            cr_gemm(0, p->o, l, k, 1.0, p->w, p->cols, 0.0, ys);
            for (int o = 0; o < p->o; o++)
                for (size_t i = 0; i < l; i++)
                    ys[o * l + i] += p->wb[o];
            break;
        case WG_DY_COLS:
            cr_gemm(CR_TRANS_B, p->o, k, l, 1.0, dys, p->cols, beta, p->dw);
            break;
        case WG_COLS_DY:
            cr_gemm(CR_TRANS_B, k, p->o, l, 1.0, p->cols, dys, beta, p->dw);
            break;
        default: /* WG_ONES_ROW: O x (9C+1) into the weights' room */
            cr_gemm(CR_TRANS_B, p->o, k + 1, l, 1.0, dys, p->cols, beta, p->wb);
            break;
        }
    }
}

static void variants_row(const char *row, int c, int o, int hw, double seconds)
{
    conv_products p = {0};
    double t[N_VARIANTS] = {0};
    if (products_new(&p, 64, c, o, hw * hw, 0) == 0)
        time_each(run_variant, &p, N_VARIANTS, seconds, t);
    products_free(&p);
    char extra[400];
    size_t at = 0;
    for (int v = 0; v < N_VARIANTS && at < sizeof extra; v++)
        at += (size_t)snprintf(extra + at, sizeof extra - at, ", \"%s_ms\": %.3f",
                               variant_names[v], 1e3 * t[v]);
    printf("{\"bench\": \"W6\", \"row\": \"%s\", \"side\": \"chainrule\", \"threads\": "
           "%d%s}\n",
           row, cr_num_threads(), extra);
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
    if (only && strcmp(only, "variants_1x32") == 0)
        variants_row(only, 1, 32, 28, seconds);
    if (only && strcmp(only, "variants_32x64") == 0)
        variants_row(only, 32, 64, 14, seconds);
#undef ROW
    return 0;
}
