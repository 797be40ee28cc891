/*
 * w12_mlp.c - benchmarks W1 and W2: one epoch of plain SGD (lr 0.01, no
 * shuffling, float64) on the 60,000 Fashion-MNIST training images, ReLU
 * hidden layers and softmax cross-entropy, from the deterministic weights of
 * bench_util.h (scaled by 1/sqrt(fan_in); biases 0), exactly as
 * bench/peers/w12_mlp.py does with PyTorch. The data is loaded before the
 * clock starts. Prints one JSON line: samples/s, the epoch's mean loss, and
 * the GFLOP/s of the matrix products (forward, weight gradients, and the
 * input gradients of every layer but the first).
 *
 * Usage: w12_mlp DATA_DIR ARCH BATCH   e.g. w12_mlp $D 784,128,10 64
 * (threads from CR_NUM_THREADS)
 */
#include <chainrule.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

static size_t parse_arch(const char *s, size_t *w, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        w[n++] = strtoul(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: w12_mlp DATA_DIR ARCH BATCH\n");
        return 2;
    }
    size_t w[CR_MLP_MAX_HIDDEN + 2];
    size_t nw = parse_arch(argv[2], w, CR_MLP_MAX_HIDDEN + 2);
    size_t batch = strtoul(argv[3], NULL, 10);
    char ipath[4096], lpath[4096];
    snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte.gz", argv[1]);
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte.gz", argv[1]);
    cr_error err = {0};
    cr_idx_options io = {.scale = 1, .one_hot = 1, .num_classes = 10};
    cr_dataset *ds = cr_idx_load(ipath, lpath, &io, &err);
    if (!ds) {
        fprintf(stderr, "w12: %s\n", err.message);
        return 1;
    }
    size_t rows = cr_dataset_rows(ds);

    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, w[0], w[nw - 1]);
    spec.n_hidden = nw - 2;
    for (size_t l = 0; l + 2 < nw; l++)
        spec.hidden[l] = w[l + 1];
    spec.hidden_act = CR_ACT_RELU;
    spec.out_act = CR_ACT_SOFTMAX;
    spec.loss = CR_LOSS_XENT;
    cr_mlp *m = cr_mlp_new(&spec, &err);
    if (!m) {
        fprintf(stderr, "w12: %s\n", err.message);
        return 1;
    }
    long k = 0;
    double flops_per_row = 0;
    for (size_t l = 1; l < nw; l++) {
        cr_node *W = cr_mlp_weight(m, l), *b = cr_mlp_bias(m, l);
        size_t n = w[l - 1] * w[l];
        double *v = malloc(n * sizeof *v), *z = calloc(w[l], sizeof *z);
        for (size_t i = 0; i < n; i++)
            v[i] = bench_weight(k++) / sqrt((double)w[l - 1]);
        cr_node_set_data(W, v, n);
        cr_node_set_data(b, z, w[l]);
        free(v);
        free(z);
        flops_per_row += 2.0 * (double)n * (l == 1 ? 2 : 3);
    }

    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 1;
    o.batch = batch;
    o.shuffle = 0;
    o.optim = cr_optim_defaults(CR_OPTIM_SGD);
    o.optim.lr = 0.01;
    cr_train_stats st;
    cr_status s = cr_mlp_train(m, cr_tensor_data(cr_dataset_features(ds)),
                               cr_tensor_data(cr_dataset_targets(ds)), rows, &o, &st, &err);
    if (s != CR_OK) {
        fprintf(stderr, "w12: %s\n", err.message);
        return 1;
    }
    /* st.seconds covers the training steps only (cr_mlp_train then also
     * evaluates the final parameters on every row, which is not timed). */
    printf("{\"bench\": \"%s\", \"side\": \"chainrule\", \"threads\": %d, \"rows\": %zu, "
           "\"seconds\": %.6f, \"per_second\": %.1f, \"gflops\": %.3f, "
           "\"epoch_loss\": %.17g}\n",
           nw == 3 ? "W1" : "W2", cr_num_threads(), rows, st.seconds, rows / st.seconds,
           flops_per_row * (double)rows / st.seconds * 1e-9, st.loss_history[0]);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    cr_dataset_free(ds);
    return 0;
}
