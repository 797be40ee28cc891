/*
 * dot_bench.c - writes the DOT text of a 100,000-node graph (an unrolled
 * recurrence x = tanh(x*w_i + c_i) with a parameter and a constant per
 * step, so every op has scalar edges whose local derivatives are
 * evaluated) and reports the peak resident set size before and after
 * writing (getrusage), the file's size and the time taken. Not part of
 * make check; run as: bench/dot_bench [nodes] [output.dot]
 */
#include <chainrule.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t target = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100000;
    const char *path = argc > 2 ? argv[2] : "dot_bench.dot";
    cr_graph *g = cr_graph_new();
    if (!g)
        return 1;
    cr_node *x = cr_param_scalar(g, "x0", 0.3);
    char name[32];
    for (size_t i = 0; x && cr_graph_size(g) + 1 < target; i++) {
        snprintf(name, sizeof name, "w%zu", i);
        cr_node *w = cr_param_scalar(g, name, 0.9 + 0.1 * (double)(i % 3));
        x = cr_tanh(g, cr_add(g, cr_mul(g, x, w), cr_scalar(g, 0.01 * (double)(i % 7))));
    }
    cr_node *E = x ? cr_mul(g, x, x) : NULL;
    if (!E || cr_node_set_name(E, "E") != CR_OK) {
        fprintf(stderr, "dot_bench: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    long rss_graph = peak_rss_kib();
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = E;
    double t0 = now();
    if (cr_dot_write_file(g, path, &opts) != CR_OK) {
        fprintf(stderr, "dot_bench: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    double t1 = now();
    long rss_dot = peak_rss_kib();
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    printf("nodes %zu, DOT %lld bytes in %.3f s\n", cr_graph_size(g), bytes, t1 - t0);
    printf("peak RSS: %ld KiB after building the graph, %ld KiB after writing DOT "
           "(+%ld KiB)\n",
           rss_graph, rss_dot, rss_dot - rss_graph);
    cr_graph_free(g);
    return 0;
}
