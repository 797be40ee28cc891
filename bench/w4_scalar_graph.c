/*
 * w4_scalar_graph.c - benchmark W4: a scalar MLP 128-168-168-1 built
 * micrograd-style, every input and weight its own scalar node, ending in
 * the loss (y - t)^2. Two graphs (the first argument):
 *
 *   ops  (the default) each neuron as micrograd builds it:
 *        acc = b; acc = acc + x_i * w_i for each input; sigmoid(acc):
 *        one mul and one add node per weight, 100,131 op nodes in all,
 *        the graph of bench/peers/w4_scalar_graph.py (PyTorch 0-dim
 *        tensors) and bench/peers/w4_value.py (a plain-Python Value class)
 *   sop  each neuron as one n-ary node, sigmoid(sop(x, w, b)): 676 op
 *        nodes (compared with one torch.dot per neuron)
 *
 * Times, on one thread: build + forward; the first backward (which builds
 * the gradient graph); a re-run of the backward on the same graph; and the
 * steady state, a re-run of forward + backward (mean of STEADY_RUNS). Prints
 * one JSON line with the op-node count (leaves not counted), the times, the
 * output and the sum of the parameters' gradients (the peers print the same).
 *
 * Usage: w4_scalar_graph [ops|sop] [--cpu-time]
 *
 * --cpu-time measures the process's CPU time instead of the wall clock:
 * on a machine shared with other work, a short phase's wall time is
 * mostly the time spent waiting for a core (docs/performance.md).
 *
 * Each phase is a function of its own (build, first_backward,
 * rerun_backward, steady_steps), so callgrind counts one phase's
 * instructions, load-independent figures (docs/performance.md):
 *
 *   ./libtool --mode=execute valgrind --tool=callgrind --collect-atstart=no \
 *       --toggle-collect=first_backward ./bench/w4_scalar_graph ops
 */
#include <chainrule.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

enum { LAYERS = 3, WIDEST = 168, STEADY_RUNS = 10 };

static int cpu_time; /* --cpu-time */

static double now(void)
{
    if (!cpu_time)
        return bench_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
/* Each phase a function that callgrind's --toggle-collect can name: never
 * inlined, and (GCC's noipa) never merged with one another although
 * first_backward and rerun_backward are the same code. */
#if defined(__GNUC__) && !defined(__clang__)
#define PHASE __attribute__((noipa))
#else
#define PHASE __attribute__((noinline))
#endif

static const size_t sizes[LAYERS + 1] = {128, 168, 168, 1};

/* The network's loss; its leaves (inputs, target, parameters) are counted
 * into *leaves. NULL with the error in g. */
PHASE static cr_node *build(cr_graph *g, int sop, size_t *leaves)
{
    cr_node *prev[WIDEST], *next[WIDEST], *ws[WIDEST];
    for (size_t i = 0; i < sizes[0]; i++)
        prev[i] = cr_input_scalar(g, NULL, bench_weight(1000000 + (long)i));
    *leaves = sizes[0];
    long k = 0;
    for (int l = 0; l < LAYERS; l++) {
        for (size_t j = 0; j < sizes[l + 1]; j++) {
            for (size_t i = 0; i < sizes[l]; i++)
                ws[i] = cr_param_scalar(g, NULL, bench_weight(k++));
            cr_node *acc = cr_param_scalar(g, NULL, bench_weight(k++));
            *leaves += sizes[l] + 1;
            if (sop) {
                acc = cr_sop(g, sizes[l], prev, ws, acc);
            } else {
                for (size_t i = 0; i < sizes[l]; i++)
                    acc = cr_add(g, acc, cr_mul(g, prev[i], ws[i]));
            }
            next[j] = cr_sigmoid(g, acc);
        }
        memcpy(prev, next, sizes[l + 1] * sizeof *prev);
    }
    cr_node *t = cr_input_scalar(g, NULL, 0.25);
    *leaves += 1;
    return cr_powc(g, cr_sub(g, prev[0], t), 2.0);
}

PHASE static cr_status first_backward(cr_graph *g, cr_node *loss)
{
    return cr_graph_backward(g, loss, 0);
}

PHASE static cr_status rerun_backward(cr_graph *g, cr_node *loss)
{
    return cr_graph_backward(g, loss, 0);
}

/* STEADY_RUNS re-runs of forward + backward. */
PHASE static cr_status steady_steps(cr_graph *g, cr_node *loss)
{
    cr_status s = CR_OK;
    for (int r = 0; r < STEADY_RUNS && s == CR_OK; r++) {
        s = cr_graph_forward(g, loss);
        if (s == CR_OK)
            s = cr_graph_backward(g, loss, 0);
    }
    return s;
}

int main(int argc, char **argv)
{
    cpu_time = argc > 1 && strcmp(argv[argc - 1], "--cpu-time") == 0;
    argc -= cpu_time;
    const int sop = argc > 1 && strcmp(argv[1], "sop") == 0;
    if (argc > 2 || (argc > 1 && !sop && strcmp(argv[1], "ops") != 0)) {
        fprintf(stderr, "usage: w4_scalar_graph [ops|sop] [--cpu-time]\n");
        return 2;
    }
    double t0 = now();
    cr_graph *g = cr_graph_new();
    size_t leaves;
    cr_node *loss = g ? build(g, sop, &leaves) : NULL;
    if (!loss) {
        fprintf(stderr, "w4: %s\n", g ? cr_graph_error(g)->message : "out of memory");
        return 1;
    }
    double t1 = now();
    size_t op_nodes = cr_graph_size(g) - leaves;
    cr_status s = first_backward(g, loss);
    double t2 = now();
    if (s == CR_OK)
        s = rerun_backward(g, loss);
    double t3 = now();
    if (s == CR_OK)
        s = steady_steps(g, loss);
    double t4 = now();
    if (s != CR_OK) {
        fprintf(stderr, "w4: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    double gsum = 0;
    for (size_t p = 0; p < cr_graph_num_params(g); p++)
        gsum += cr_tensor_scalar(cr_node_grad(cr_graph_param(g, p)));
    printf("{\"bench\": \"W4\", \"side\": \"chainrule\", \"graph\": \"%s\", "
           "\"op_nodes\": %zu, \"build_forward_s\": %.6f, \"backward_s\": %.6f, "
           "\"rerun_backward_s\": %.6f, \"step_s\": %.6f, \"output\": %.17g, "
           "\"grad_sum\": %.17g}\n",
           sop ? "sop" : "ops", op_nodes, t1 - t0, t2 - t1, t3 - t2,
           (t4 - t3) / STEADY_RUNS, cr_node_scalar(loss), gsum);
    cr_graph_free(g);
    return 0;
}
