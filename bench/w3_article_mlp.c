/*
 * w3_article_mlp.c - benchmark W3: the article's 3-7-5-4-1 sigmoid network,
 * batch 1, x = [0.1, 0.4, 4.1], y = [0.2], 500 SGD steps with lr 0.7 on the
 * squared error. Measures per-op overhead: prints iterations/s and the final
 * loss (for comparison with bench/peers/w3_article_mlp.py).
 */
#include <chainrule.h>

#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 500;
    const size_t sizes[] = {3, 7, 5, 4, 1};
    const int layers = 4;
    cr_graph *g = cr_graph_new();
    size_t xshape[1] = {3};
    cr_node *x = cr_input(g, "x", 1, xshape);
    cr_node_set_data(x, (double[]){0.1, 0.4, 4.1}, 3);
    size_t yshape[1] = {1};
    cr_node *y = cr_input(g, "y", 1, yshape);
    cr_node_set_data(y, (double[]){0.2}, 1);
    cr_node *h = x;
    long k = 0;
    double scratch[64];
    for (int l = 0; l < layers; l++) {
        size_t wshape[2] = {sizes[l], sizes[l + 1]};
        cr_tensor *w = cr_tensor_new(2, wshape, NULL);
        cr_tensor *b = cr_tensor_new(1, &sizes[l + 1], NULL);
        for (size_t i = 0; i < cr_tensor_size(w); i++)
            cr_tensor_data_mut(w)[i] = bench_weight(k++);
        for (size_t i = 0; i < cr_tensor_size(b); i++)
            cr_tensor_data_mut(b)[i] = bench_weight(k++);
        cr_node *W = cr_param(g, NULL, w), *B = cr_param(g, NULL, b);
        h = cr_sigmoid(g, cr_sop(g, 1, &h, &W, B));
        cr_tensor_free(w);
        cr_tensor_free(b);
    }
    cr_node *E = cr_sq_error(g, h, y);
    if (!E) {
        fprintf(stderr, "w3: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    const double lr = 0.7;
    double t0 = bench_now();
    for (int it = 0; it < iters; it++) {
        cr_graph_forward(g, E);
        cr_graph_backward(g, E, 0);
        for (size_t p = 0; p < cr_graph_num_params(g); p++) {
            cr_node *P = cr_graph_param(g, p);
            const cr_tensor *v = cr_node_value(P), *gr = cr_node_grad(P);
            size_t n = cr_tensor_size(v);
            for (size_t i = 0; i < n; i++)
                scratch[i] = cr_tensor_data(v)[i] - lr * cr_tensor_data(gr)[i];
            cr_node_set_data(P, scratch, n);
        }
    }
    double t1 = bench_now();
    cr_graph_forward(g, E);
    printf("{\"bench\": \"W3\", \"side\": \"chainrule\", \"iterations\": %d, \"seconds\": "
           "%.6f, "
           "\"per_second\": %.1f, \"final_loss\": %.17g}\n",
           iters, t1 - t0, iters / (t1 - t0), cr_node_scalar(E));
    cr_graph_free(g);
    return 0;
}
