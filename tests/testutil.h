/*
 * testutil.h - helpers shared by chainrule's Check suites: the suite
 * constructors, a counting/failing allocator, a deterministic random
 * source, and finite-difference helpers.
 */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H

#include <check.h>
#include <chainrule.h>

#include <stddef.h>

/* One constructor per suite, listed in check_main.c. */
Suite *tensor_suite(void);
Suite *graph_suite(void);
Suite *ops_suite(void);
Suite *autodiff_suite(void);
Suite *alloc_suite(void);
Suite *nn_suite(void);
Suite *model_suite(void);
Suite *optim_suite(void);
Suite *data_suite(void);
Suite *expr_suite(void);

/* The counting allocator: installed by test_alloc_install(); counts every
 * allocation and fails the k-th one (1-based) when fail_at is k (0: never).
 * live is the number of blocks not yet freed. */
typedef struct test_alloc_stats {
    size_t allocations;
    size_t frees;
    long live;
    size_t fail_at;
    size_t failures;
} test_alloc_stats;
extern test_alloc_stats test_alloc;
void test_alloc_install(size_t fail_at);
void test_alloc_uninstall(void);

/* Deterministic uniform numbers in [lo, hi) from a fixed-seed generator. */
void test_rand_seed(unsigned long seed);
double test_rand_uniform(double lo, double hi);

#endif
