/*
 * testutil.c - the counting/failing allocator (and the run's count of the
 * failures it injected) and the deterministic random source shared by the
 * test suites.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS */
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

test_alloc_stats test_alloc;

/* The count of injected failures over the whole run, in memory shared with
 * Check's forked test processes (test_oom_points_open, before the run). */
static size_t *oom_points;

void test_oom_points_open(void)
{
    void *p = mmap(NULL, sizeof *oom_points, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    oom_points = p == MAP_FAILED ? NULL : p;
}

size_t test_oom_points(void) { return oom_points ? *oom_points : 0; }

/* Each block carries its size in a header, so a failed realloc can tell a
 * shrink from a growth. */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

/* 1 if the allocation being made is the one to fail (and counts it). */
static int inject_failure(void)
{
    test_alloc.allocations++;
    if (!test_alloc.fail_at || test_alloc.allocations != test_alloc.fail_at)
        return 0;
    test_alloc.failures++;
    if (oom_points)
        __atomic_add_fetch(oom_points, 1, __ATOMIC_RELAXED);
    return 1;
}

static void *count_malloc(size_t size, void *ctx)
{
    (void)ctx;
    if (inject_failure() || size > SIZE_MAX - sizeof(block_header))
        return NULL;
    block_header *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    test_alloc.live++;
    return h + 1;
}

static void *count_realloc(void *ptr, size_t size, void *ctx)
{
    if (!ptr)
        return count_malloc(size, ctx);
    block_header *h = (block_header *)ptr - 1;
    if (inject_failure()) {
        test_alloc.failed_shrink = size < h->size;
        return NULL;
    }
    if (size > SIZE_MAX - sizeof *h)
        return NULL;
    block_header *n = realloc(h, sizeof *n + size);
    if (!n)
        return NULL;
    n->size = size;
    return n + 1;
}

static void count_free(void *ptr, void *ctx)
{
    (void)ctx;
    if (!ptr)
        return;
    test_alloc.frees++;
    test_alloc.live--;
    free((block_header *)ptr - 1);
}

void test_alloc_install(size_t fail_at)
{
    test_alloc = (test_alloc_stats){.fail_at = fail_at};
    cr_allocator a = {count_malloc, count_realloc, count_free, NULL};
    cr_set_allocator(&a);
}

void test_alloc_uninstall(void) { cr_set_allocator(NULL); }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void test_rand_seed(unsigned long seed)
{
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)seed;
}

double test_rand_uniform(double lo, double hi)
{
    /* xorshift64*: enough for test inputs, identical on every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
    return lo + (hi - lo) * (double)(r >> 11) / 9007199254740992.0;
}

void test_assert_fd(cr_graph *g, cr_node *f, cr_node *x, const double *analytic, double tol,
                    const char *what)
{
    const size_t n = cr_tensor_size(cr_node_value(x));
    double *buf = malloc(2 * n * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    double *want = buf + n;
    memcpy(buf, cr_tensor_data(cr_node_value(x)), n * sizeof *buf);
    memcpy(want, analytic, n * sizeof *want);
    for (size_t j = 0; j < n; j++) {
        const double x0 = buf[j], h = 1e-6 * fmax(1.0, fabs(x0));
        const double xp = x0 + h, xm = x0 - h;
        buf[j] = xp;
        ck_assert_int_eq(cr_node_set_data(x, buf, n), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, f), CR_OK);
        const double fp = cr_node_scalar(f);
        buf[j] = xm;
        cr_node_set_data(x, buf, n);
        cr_graph_forward(g, f);
        const double fm = cr_node_scalar(f);
        buf[j] = x0;
        const double fd = (fp - fm) / (xp - xm);
        ck_assert_msg(fabs(want[j] - fd) <= tol * (1.0 + fabs(fd)),
                      "%s: element %zu: analytic %.12g, finite difference %.12g", what, j,
                      want[j], fd);
    }
    cr_node_set_data(x, buf, n);
    cr_graph_forward(g, f);
    free(buf);
}

double test_max_abs(const cr_tensor *t)
{
    double m = 0.0;
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        m = fmax(m, fabs(cr_tensor_get(t, i)));
    return m;
}

static char test_tmpdir[64];

void test_tmpdir_make(void)
{
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/cr_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_tmpdir));
}

void test_tmpdir_remove(void)
{
    DIR *d = opendir(test_tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", test_tmpdir, e->d_name);
            remove(path);
        }
    closedir(d);
    rmdir(test_tmpdir);
}

const char *test_tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir, name);
    return path;
}

size_t test_tmpdir_count(void)
{
    DIR *d = opendir(test_tmpdir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

unsigned char *test_slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}
