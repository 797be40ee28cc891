/*
 * w4_scalar_graph.c - benchmark W4: a scalar MLP built micrograd-style from
 * scalar nodes (every weight its own parameter; each neuron
 * sigmoid(sop(inputs, weights, bias))), 100 inputs, hidden layers 300 and
 * 200, one output, about 91,000 nodes. Times build + forward, and backward,
 * and prints nodes/s for each (compare bench/peers/w4_scalar_graph.py).
 */
#include <chainrule.h>

#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(void)
{
    const size_t sizes[] = {100, 300, 200, 1};
    const int layers = 3;
    double t0 = bench_now();
    cr_graph *g = cr_graph_new();
    cr_node **prev = malloc(300 * sizeof *prev), **next = malloc(300 * sizeof *next);
    cr_node **ws = malloc(300 * sizeof *ws);
    for (size_t i = 0; i < sizes[0]; i++)
        prev[i] = cr_input_scalar(g, NULL, bench_weight(1000000 + (long)i));
    long k = 0;
    for (int l = 0; l < layers; l++) {
        for (size_t j = 0; j < sizes[l + 1]; j++) {
            for (size_t i = 0; i < sizes[l]; i++)
                ws[i] = cr_param_scalar(g, NULL, bench_weight(k++));
            cr_node *b = cr_param_scalar(g, NULL, bench_weight(k++));
            next[j] = cr_sigmoid(g, cr_sop(g, sizes[l], prev, ws, b));
        }
        cr_node **t = prev;
        prev = next;
        next = t;
    }
    cr_node *out = prev[0];
    if (!out) {
        fprintf(stderr, "w4: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    double t1 = bench_now();
    size_t nodes = cr_graph_size(g);
    cr_graph_backward(g, out, 0);
    double t2 = bench_now();
    /* steady state: re-run forward and backward on the built graph */
    cr_graph_forward(g, out);
    double t3 = bench_now();
    cr_graph_backward(g, out, 0);
    double t4 = bench_now();
    double gsum = 0;
    for (size_t p = 0; p < cr_graph_num_params(g); p++)
        gsum += cr_tensor_scalar(cr_node_grad(cr_graph_param(g, p)));
    printf("{\"bench\": \"W4\", \"side\": \"chainrule\", \"nodes\": %zu, "
           "\"build_forward_s\": %.6f, \"backward_s\": %.6f, \"rerun_forward_s\": %.6f, "
           "\"rerun_backward_s\": %.6f, \"output\": %.17g, \"grad_sum\": %.17g}\n",
           nodes, t1 - t0, t2 - t1, t3 - t2, t4 - t3, cr_node_scalar(out), gsum);
    cr_graph_free(g);
    free(prev);
    free(next);
    free(ws);
    return 0;
}
