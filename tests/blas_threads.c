/*
 * blas_threads.c - with one thread (the default), chainrule leaves no idle
 * OpenBLAS worker behind: OpenBLAS starts its workers when it loads and an
 * idle worker spins for about 0.1 s, taking a core from short runs. Counts
 * the process's threads in /proc/self/task: the first cr_graph_new must
 * stop the workers started at load, and going back to one thread after a
 * threaded product must stop them again. Exits 77 (skipped) when the
 * library is not linked with OpenBLAS, on one core, or when CR_NUM_THREADS
 * asks for more than one thread. Sanitizers may add threads of their own,
 * so counts are compared, never fixed.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <chainrule.h>

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A 256 x 256 x 256 product, large enough for OpenBLAS to use its threads. */
static int threaded_product(void)
{
    cr_graph *g = cr_graph_new();
    const size_t shape[2] = {256, 256};
    cr_node *a = cr_input(g, "a", 2, shape), *b = cr_input(g, "b", 2, shape);
    cr_node *p = cr_matmul(g, a, b, 0);
    const int ok = p && cr_graph_forward(g, p) == CR_OK;
    cr_graph_free(g);
    return ok;
}

int main(void)
{
#ifndef CR_HAVE_OPENBLAS
    printf("blas_threads: not linked with OpenBLAS: skipped\n");
    return 77;
#endif
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        printf("blas_threads: one core, no workers: skipped\n");
        return 77;
    }
    const int at_load = count_threads();
    cr_graph *g = cr_graph_new();
    const int first = count_threads();
    cr_graph_free(g);
    if (cr_num_threads() != 1) {
        printf("blas_threads: CR_NUM_THREADS asks for %d threads: skipped\n",
               cr_num_threads());
        return 77;
    }
    cr_set_num_threads(2);
    if (!threaded_product())
        return 99;
    const int threaded = count_threads();
    cr_set_num_threads(1);
    const int back = count_threads();
    printf("blas_threads: %d threads at load, %d after cr_graph_new, %d with 2 threads, "
           "%d back on 1\n",
           at_load, first, threaded, back);
    /* Two threads need a worker, one needs none; OPENBLAS_NUM_THREADS=1
     * starts none at load, so first may equal at_load. */
    return first <= at_load && threaded > back && back == first ? 0 : 1;
}
