/*
 * testutil.c - the counting/failing allocator and the deterministic random
 * source shared by the test suites.
 */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>

test_alloc_stats test_alloc;

/* Each block carries its size in a header so frees can be counted. */
static void *count_malloc(size_t size, void *ctx)
{
    (void)ctx;
    test_alloc.allocations++;
    if (test_alloc.fail_at && test_alloc.allocations == test_alloc.fail_at) {
        test_alloc.failures++;
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        test_alloc.live++;
    return p;
}

static void *count_realloc(void *ptr, size_t size, void *ctx)
{
    if (!ptr)
        return count_malloc(size, ctx);
    test_alloc.allocations++;
    if (test_alloc.fail_at && test_alloc.allocations == test_alloc.fail_at) {
        test_alloc.failures++;
        return NULL;
    }
    return realloc(ptr, size);
}

static void count_free(void *ptr, void *ctx)
{
    (void)ctx;
    if (!ptr)
        return;
    test_alloc.frees++;
    test_alloc.live--;
    free(ptr);
}

void test_alloc_install(size_t fail_at)
{
    test_alloc = (test_alloc_stats){.fail_at = fail_at};
    cr_allocator a = {count_malloc, count_realloc, count_free, NULL};
    cr_set_allocator(&a);
}

void test_alloc_uninstall(void)
{
    cr_set_allocator(NULL);
}

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
