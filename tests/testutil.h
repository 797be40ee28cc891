/*
 * testutil.h - helpers shared by chainrule's Check suites: the suite
 * constructors, a counting/failing allocator, a deterministic random
 * source, and finite-difference helpers.
 */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H

#include <check.h>
#include <chainrule.h>

#include <math.h>
#include <stddef.h>

/* One constructor per suite, listed in check_main.c. */
Suite *tensor_suite(void);
Suite *graph_suite(void);
Suite *ops_suite(void);
Suite *nnops_suite(void);
Suite *autodiff_suite(void);
Suite *alloc_suite(void);
Suite *threads_suite(void);
Suite *optim_suite(void);
Suite *data_suite(void);
Suite *nn_suite(void);
Suite *model_suite(void);
Suite *expr_suite(void);
Suite *chain_suite(void);
Suite *dot_suite(void);
Suite *gradcheck_suite(void);
Suite *custom_suite(void);
Suite *reliability_suite(void);
Suite *oplist_suite(void);
Suite *html_suite(void);
Suite *higher_suite(void);
Suite *sequence_suite(void);
Suite *recurrent_suite(void);
Suite *layers_suite(void);
Suite *model_spec_suite(void);
Suite *lang_tensor_suite(void);
Suite *rows_suite(void);

/* The counting allocator: installed by test_alloc_install(); counts every
 * allocation and fails the k-th one (1-based) when fail_at is k (0: never).
 * live is the number of blocks not yet freed; failed_shrink is 1 when the
 * failure was a cr_realloc to a smaller size (the one failure the library
 * may survive, docs/reliability.md). */
typedef struct test_alloc_stats {
    size_t allocations;
    size_t frees;
    long live;
    size_t fail_at;
    size_t failures;
    int failed_shrink;
} test_alloc_stats;
extern test_alloc_stats test_alloc;
void test_alloc_install(size_t fail_at);
void test_alloc_uninstall(void);

/* The failure points of the run: every failure the counting allocator
 * injects is counted, in every suite, also in Check's forked test
 * processes once test_oom_points_open has run (check_main.c, before the
 * suites; it prints the total as "oom-points: total: N"). */
void test_oom_points_open(void);
size_t test_oom_points(void);

/* The whole file at path in a new buffer (free it), its length in *size;
 * fails the test if it cannot be read. */
unsigned char *test_slurp(const char *path, size_t *size);

/* A fresh temporary directory for the tests of a fixture:
 * test_tmpdir_make in its setup, test_tmpdir_remove (the directory and the
 * files in it) in its teardown. test_tmp_path is the path of a file in it
 * (static storage, overwritten by the next call); test_tmpdir_count the
 * number of files in it. */
void test_tmpdir_make(void);
void test_tmpdir_remove(void);
const char *test_tmp_path(const char *name);
size_t test_tmpdir_count(void);

/* Deterministic uniform numbers in [lo, hi) from a fixed-seed generator. */
void test_rand_seed(unsigned long seed);
double test_rand_uniform(double lo, double hi);

/* Checks analytic (count elements, shaped like x) against central finite
 * differences of the scalar node f with respect to every element of x, an
 * input or a parameter: step 1e-6 * max(1, |x_j|), failing the test where
 * |analytic - fd| > tol * (1 + |fd|). Restores x and re-runs forward on f
 * before returning. what names the check in failure messages. */
void test_assert_fd(cr_graph *g, cr_node *f, cr_node *x, const double *analytic, double tol,
                    const char *what);
/* The largest absolute element of t (0 for all zeros). */
double test_max_abs(const cr_tensor *t);

/* Relative comparison |a - b| <= rel * |b| with a readable message. */
#define test_assert_rel(a, b, rel)                                                         \
    do {                                                                                   \
        const double ta_ = (a), tb_ = (b);                                                 \
        ck_assert_msg(fabs(ta_ - tb_) <= (rel)*fabs(tb_),                                  \
                      "%s = %.17g, expected %.17g (relative %g)", #a, ta_, tb_,            \
                      (double)(rel));                                                      \
    } while (0)

#endif
