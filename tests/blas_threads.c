/*
 * blas_threads.c - with one thread (the default), chainrule leaves no idle
 * OpenBLAS worker behind: OpenBLAS starts its workers when it loads and an
 * idle worker spins for about 0.1 s, taking a core from short runs. Counts
 * the process's threads in /proc/self/task before and after the first
 * chainrule call. Exits 77 (skipped) when OpenBLAS started no worker (a
 * one-core machine, another BLAS, OPENBLAS_NUM_THREADS=1) or when
 * CR_NUM_THREADS asks for more than one thread.
 */
#include <chainrule.h>

#include <dirent.h>
#include <stdio.h>

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

int main(void)
{
    const int before = count_threads();
    if (before <= 1) {
        printf("blas_threads: %d thread(s) at start, no BLAS worker to stop: skipped\n",
               before);
        return 77;
    }
    cr_graph *g = cr_graph_new();
    const int after = count_threads();
    cr_graph_free(g);
    printf("blas_threads: %d threads at start, %d after cr_graph_new with %d thread(s)\n",
           before, after, cr_num_threads());
    if (cr_num_threads() != 1)
        return 77; /* CR_NUM_THREADS asks for the workers */
    return after == 1 ? 0 : 1;
}
