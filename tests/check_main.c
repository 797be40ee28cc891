/*
 * check_main.c - the one Check test program: runs every module's suite.
 * CK_FORK=no (for valgrind) and CK_RUN_SUITE/CK_RUN_CASE work as usual.
 * Prints the number of allocation failures the suites injected
 * ("oom-points: total: N", on stderr: in tests/check_chainrule.log).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    test_oom_points_open();
    SRunner *sr = srunner_create(tensor_suite());
    srunner_add_suite(sr, graph_suite());
    srunner_add_suite(sr, ops_suite());
    srunner_add_suite(sr, nnops_suite());
    srunner_add_suite(sr, autodiff_suite());
    srunner_add_suite(sr, alloc_suite());
    srunner_add_suite(sr, threads_suite());
    srunner_add_suite(sr, optim_suite());
    srunner_add_suite(sr, data_suite());
    srunner_add_suite(sr, nn_suite());
    srunner_add_suite(sr, model_suite());
    srunner_add_suite(sr, expr_suite());
    srunner_add_suite(sr, chain_suite());
    srunner_add_suite(sr, dot_suite());
    srunner_add_suite(sr, gradcheck_suite());
    srunner_add_suite(sr, custom_suite());
    srunner_add_suite(sr, reliability_suite());
    srunner_add_suite(sr, oplist_suite());
    srunner_add_suite(sr, html_suite());
    srunner_add_suite(sr, higher_suite());
    srunner_add_suite(sr, sequence_suite());
    srunner_add_suite(sr, recurrent_suite());
    srunner_add_suite(sr, layers_suite());
    srunner_add_suite(sr, model_spec_suite());
    srunner_add_suite(sr, lang_tensor_suite());
    srunner_add_suite(sr, rows_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* every allocation failure injected by the tests (docs/reliability.md) */
    fprintf(stderr, "oom-points: total: %zu\n", test_oom_points());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
