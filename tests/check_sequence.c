/*
 * check_sequence.c - tests of the sequence readers: vocabularies (from a
 * text and from stored symbols, encoding), text windows for
 * next-character prediction (values, strides, gzip'd and real files), the
 * errors for empty, too-short and non-text files, numeric sequences from
 * CSV (one per row, one value per row cut into windows) and their errors,
 * and every allocation failure of a text load.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOL 1e-12

static void expect_row(const cr_tensor *t, size_t row, const double *v, size_t n)
{
    ck_assert_uint_eq(cr_tensor_dim(t, 1), n);
    for (size_t j = 0; j < n; j++)
        ck_assert_double_eq_tol(cr_tensor_get(t, row * n + j), v[j], TOL);
}

START_TEST(vocab_from_text)
{
    const char *s = "hello, world\n";
    cr_error err;
    cr_text *t = cr_text_load_mem(s, strlen(s), "h.txt", NULL, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(cr_text_length(t), 13);
    ck_assert_mem_eq(cr_text_bytes(t), s, 13);
    const cr_vocab *v = cr_text_vocab(t);
    /* distinct bytes in increasing order: \n space , d e h l o r w */
    ck_assert_uint_eq(cr_vocab_size(v), 10);
    ck_assert_mem_eq(cr_vocab_symbols(v), "\n ,dehlorw", 10);
    ck_assert_int_eq(cr_vocab_id(v, 'h'), 5);
    ck_assert_int_eq(cr_vocab_id(v, '\n'), 0);
    ck_assert_int_eq(cr_vocab_id(v, 'z'), -1);
    double ids[5];
    ck_assert_int_eq(cr_vocab_encode(v, "world", 5, ids, &err), CR_OK);
    const double want[5] = {9, 7, 8, 6, 3};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(ids[i], want[i]);
    ck_assert_int_eq(cr_vocab_encode(v, "wo~", 3, ids, &err), CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "byte 0x7e ('~') at offset 2 is not in the vocabulary");
    cr_text_free(t);
}
END_TEST

START_TEST(vocab_stored)
{
    cr_error err;
    const unsigned char sym[3] = {'b', 'a', '\n'};
    cr_vocab *v = cr_vocab_new(sym, 3, &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(cr_vocab_id(v, 'b'), 0); /* the order given is kept */
    ck_assert_int_eq(cr_vocab_id(v, '\n'), 2);
    cr_vocab_free(v);
    const unsigned char twice[3] = {'x', 'y', 'x'};
    ck_assert_ptr_null(cr_vocab_new(twice, 3, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "byte 0x78 is repeated (ids 0 and 2)");
    ck_assert_ptr_null(cr_vocab_new(sym, 0, &err));
    ck_assert_str_eq(err.message, "0 symbols: a vocabulary has 1 to 256");
    ck_assert_ptr_null(cr_vocab_new(sym, 257, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
}
END_TEST

START_TEST(text_windows)
{
    const char *s = "abcabcabcab"; /* 11 bytes, ids a=0 b=1 c=2 */
    cr_error err;
    cr_text *t = cr_text_load_mem(s, strlen(s), "abc.txt", NULL, &err);
    ck_assert_ptr_nonnull(t);
    /* windows that follow each other: (11 - 4 - 1) / 4 + 1 = 2 rows */
    cr_dataset *ds = cr_text_windows(t, 4, 0, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_rows(ds), 2);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
    const double x0[4] = {0, 1, 2, 0}, y0[4] = {1, 2, 0, 1};
    const double x1[4] = {1, 2, 0, 1}, y1[4] = {2, 0, 1, 2};
    expect_row(cr_dataset_features(ds), 0, x0, 4);
    expect_row(cr_dataset_targets(ds), 0, y0, 4);
    expect_row(cr_dataset_features(ds), 1, x1, 4);
    expect_row(cr_dataset_targets(ds), 1, y1, 4);
    cr_dataset_free(ds);
    /* stride 3: rows start at 0, 3, 6; (11 - 5) / 3 + 1 = 3 */
    ds = cr_text_windows(t, 4, 3, &err);
    ck_assert_uint_eq(cr_dataset_rows(ds), 3);
    const double x2[4] = {0, 1, 2, 0}, y2[4] = {1, 2, 0, 1};
    expect_row(cr_dataset_features(ds), 2, x2, 4);
    expect_row(cr_dataset_targets(ds), 2, y2, 4);
    cr_dataset_free(ds);
    /* the longest window: 10 steps of 11 bytes */
    ds = cr_text_windows(t, 10, 0, &err);
    ck_assert_uint_eq(cr_dataset_rows(ds), 1);
    cr_dataset_free(ds);
    ck_assert_ptr_null(cr_text_windows(t, 11, 0, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_str_eq(err.message,
                     "abc.txt: 11 bytes: a window of 11 and its next byte need 12");
    ck_assert_ptr_null(cr_text_windows(t, 0, 0, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    /* another vocabulary's ids (c=0 a=1 b=2 z=3), one target per window */
    cr_vocab *v = cr_vocab_new((const unsigned char *)"cabz", 4, &err);
    ck_assert_ptr_nonnull(v);
    ds = cr_text_windows_vocab(t, v, 4, 3, 0, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_rows(ds), 3);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 4);
    ck_assert_uint_eq(cr_dataset_cols(ds), 4);
    ck_assert_uint_eq(cr_tensor_dim(cr_dataset_targets(ds), 1), 1);
    const double x3[4] = {1, 2, 0, 1}, y3[1] = {2};
    expect_row(cr_dataset_features(ds), 1, x3, 4);
    expect_row(cr_dataset_targets(ds), 1, y3, 1);
    cr_dataset_free(ds);
    cr_vocab_free(v);
    v = cr_vocab_new((const unsigned char *)"ab", 2, &err);
    ck_assert_ptr_null(cr_text_windows_vocab(t, v, 4, 0, 1, &err));
    ck_assert_int_eq(err.status, CR_ENOTFOUND);
    ck_assert_str_eq(err.message,
                     "abc.txt: byte 0x63 ('c') at offset 2 is not in the vocabulary");
    cr_vocab_free(v);
    cr_text_free(t);
}
END_TEST

START_TEST(text_errors)
{
    cr_error err;
    ck_assert_ptr_null(cr_text_load_mem("", 0, "empty.txt", NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_str_eq(err.message, "empty.txt: empty file");
    const char bin[] = "line one\nab\0cd";
    ck_assert_ptr_null(cr_text_load_mem(bin, sizeof bin - 1, "a.out", NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_str_eq(err.message, "a.out:2:3: a NUL byte: not a text file");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 3);
    cr_text_options o = {.max_input = 4};
    ck_assert_ptr_null(cr_text_load_mem("abcdef", 6, "big.txt", &o, &err));
    ck_assert_int_eq(err.status, CR_ERANGE);
    ck_assert_ptr_null(cr_text_load("/nonexistent/t.txt", NULL, &err));
    ck_assert_int_eq(err.status, CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "/nonexistent/t.txt: No such file or directory");
}
END_TEST

START_TEST(text_file)
{
    /* A text that Debian ships, read whole: its vocabulary covers every byte. */
    const char *path = "/usr/share/common-licenses/GPL-3";
    if (access(path, R_OK) != 0)
        return;
    cr_error err;
    cr_text *t = cr_text_load(path, NULL, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    size_t n = cr_text_length(t);
    ck_assert_uint_gt(n, 30000);
    const cr_vocab *v = cr_text_vocab(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ge(cr_vocab_id(v, cr_text_bytes(t)[i]), 0);
    cr_dataset *ds = cr_text_windows(t, 64, 0, &err);
    ck_assert_uint_eq(cr_dataset_rows(ds), (n - 65) / 64 + 1);
    cr_dataset_free(ds);
    cr_text_free(t);
}
END_TEST

START_TEST(text_out_of_memory)
{
    const char *s = "to be or not to be";
    size_t k;
    for (k = 1; k < 40; k++) {
        test_alloc_install(k);
        cr_error err;
        cr_text *t = cr_text_load_mem(s, strlen(s), "t.txt", NULL, &err);
        cr_dataset *ds = t ? cr_text_windows(t, 5, 0, &err) : NULL;
        size_t failures = test_alloc.failures;
        cr_dataset_free(ds);
        cr_text_free(t);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (failures == 0) {
            ck_assert_ptr_nonnull(ds);
            break;
        }
        ck_assert_ptr_null(ds);
        ck_assert_int_eq(err.status, CR_ENOMEM);
    }
    ck_assert_uint_lt(k, 40);
}
END_TEST

static cr_dataset *seq_text(const char *text, const cr_sequence_options *o, cr_error *err)
{
    cr_error_clear(err);
    return cr_sequence_load_mem(text, strlen(text), "seq.csv", o, err);
}

START_TEST(sequence_rows)
{
    cr_error err;
    cr_dataset *ds = seq_text("0.5,1.25,2\n3,4.5,-6\n", NULL, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_rows(ds), 2);
    const double x1[2] = {3, 4.5}, y1[1] = {-6};
    expect_row(cr_dataset_features(ds), 1, x1, 2);
    expect_row(cr_dataset_targets(ds), 1, y1, 1);
    cr_dataset_free(ds);
    ck_assert_ptr_null(seq_text("1\n2\n", NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_str_eq(err.message, "seq.csv: rows of 1 value: a sequence needs at least 2");
    ck_assert_ptr_null(seq_text("1,2\n3\n", NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_int_eq(err.line, 2);
}
END_TEST

START_TEST(sequence_windows)
{
    cr_error err;
    const char *series = "value\n0.25\n1.5\n2.75\n4\n5.25\n6.5\n";
    cr_sequence_options o = {.window = 3};
    cr_dataset *ds = seq_text(series, &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_rows(ds), 3);
    const double x2[3] = {2.75, 4, 5.25}, y2[1] = {6.5};
    expect_row(cr_dataset_features(ds), 2, x2, 3);
    expect_row(cr_dataset_targets(ds), 2, y2, 1);
    cr_dataset_free(ds);
    o.every_step = 1;
    o.stride = 2;
    ds = seq_text(series, &o, &err);
    ck_assert_uint_eq(cr_dataset_rows(ds), 2);
    const double x1[3] = {2.75, 4, 5.25}, y1[3] = {4, 5.25, 6.5};
    expect_row(cr_dataset_features(ds), 1, x1, 3);
    expect_row(cr_dataset_targets(ds), 1, y1, 3);
    cr_dataset_free(ds);
    o = (cr_sequence_options){.window = 6};
    ck_assert_ptr_null(seq_text(series, &o, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_str_eq(err.message, "seq.csv: 6 values: a window of 6 and its target need 7");
    ck_assert_ptr_null(seq_text("1,2\n3,4\n5,6\n", &o, &err));
    ck_assert_str_eq(err.message,
                     "seq.csv: 2 columns: a series cut into windows has one value per row");
    ck_assert_ptr_null(seq_text("", &o, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
}
END_TEST

Suite *sequence_suite(void)
{
    Suite *s = suite_create("sequence");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, vocab_from_text);
    tcase_add_test(tc, vocab_stored);
    tcase_add_test(tc, text_windows);
    tcase_add_test(tc, text_errors);
    tcase_add_test(tc, text_file);
    tcase_add_test(tc, text_out_of_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("numbers");
    tcase_add_test(tc, sequence_rows);
    tcase_add_test(tc, sequence_windows);
    suite_add_tcase(s, tc);
    return s;
}
