/*
 * check_model.c - tests of model files: a round trip that predicts
 * identically (with input statistics), the exact bytes of the header, and
 * every refused file: wrong magic, wrong version, each byte flipped
 * (checksum), truncation at several points, trailing bytes, the wrong
 * architecture; saving atomically over a previous file, with allocation
 * failures leaving it intact, and into a missing directory.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef struct tmpdir {
    char dir[64];
    char path[96];
} tmpdir;

static void tmpdir_make(tmpdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/cr-model-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/model.crm", t->dir);
}

/* Number of entries in the directory besides . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void tmpdir_remove(tmpdir *t)
{
    DIR *d = opendir(t->dir);
    if (d) {
        char p[400];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(t->dir);
}

static cr_mlp_spec small_spec(void)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 3, 2);
    s.n_hidden = 2;
    s.hidden[0] = 5;
    s.hidden[1] = 4;
    s.hidden_act = CR_ACT_TANH;
    s.out_act = CR_ACT_SOFTMAX;
    s.loss = CR_LOSS_XENT;
    s.init = CR_INIT_NORMAL;
    s.init_std = 0.7;
    s.seed = 99;
    return s;
}

static cr_mlp *small_model(void)
{
    cr_mlp_spec s = small_spec();
    cr_error err;
    cr_mlp *m = cr_mlp_new(&s, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    const double mean[3] = {0.5, -1.25, 3.0}, sd[3] = {2.0, 0.5, 1.5};
    ck_assert_int_eq(cr_mlp_set_input_stats(m, mean, sd, &err), CR_OK);
    return m;
}

static const double probe[6] = {0.3, -2.385, 4.1, 1.7, 0.2, -0.9};

START_TEST(test_round_trip)
{
    tmpdir t;
    tmpdir_make(&t);
    cr_mlp *m = small_model();
    cr_error err;
    ck_assert_int_eq(cr_mlp_save(m, t.path, &err), CR_OK);
    ck_assert_int_eq(dir_entries(t.dir), 1);
    cr_mlp_spec expect = small_spec();
    expect.seed = 12345; /* initialisation fields do not matter */
    cr_mlp *back = cr_mlp_load(t.path, &expect, &err);
    ck_assert_msg(back != NULL, "%s", err.message);
    double a[4], b[4];
    ck_assert_int_eq(cr_mlp_predict(m, probe, 2, a, &err), CR_OK);
    ck_assert_int_eq(cr_mlp_predict(back, probe, 2, b, &err), CR_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_mem_eq(cr_mlp_input_std(back), cr_mlp_input_std(m), 3 * sizeof(double));
    ck_assert_uint_eq(cr_mlp_num_weights(back), cr_mlp_num_weights(m));
    const cr_mlp_spec *s = cr_mlp_get_spec(back);
    ck_assert_int_eq(s->loss, CR_LOSS_XENT);
    ck_assert_int_eq(s->hidden_act, CR_ACT_TANH);
    /* header bytes: magic, version 1, flags 0, body size */
    size_t size;
    unsigned char *buf = test_slurp(t.path, &size);
    ck_assert_mem_eq(buf, "CRMLP\r\n\x1a\x01\x00\x00\x00\x00\x00\x00\x00", 16);
    const size_t body = 4 * (3 + 2 + 5) + 8 * cr_mlp_num_weights(m) + 16 * 3;
    ck_assert_uint_eq(size, 24 + body + 4);
    ck_assert_uint_eq(buf[16], body & 0xff);
    ck_assert_uint_eq(buf[17], (body >> 8) & 0xff);
    /* the same bytes from memory load too */
    cr_mlp *mem = cr_mlp_load_mem(buf, size, "copy", NULL, &err);
    ck_assert_msg(mem != NULL, "%s", err.message);
    cr_mlp_free(mem);
    /* saving again replaces the file atomically; no temporary file stays */
    ck_assert_int_eq(cr_mlp_save(back, t.path, &err), CR_OK);
    ck_assert_int_eq(dir_entries(t.dir), 1);
    free(buf);
    cr_mlp_free(back);
    cr_mlp_free(m);
    tmpdir_remove(&t);
}
END_TEST

/* Loads bytes, expecting failure with the given status and message. */
static void refuse(const unsigned char *buf, size_t size, const cr_mlp_spec *expect,
                   cr_status status, const char *message)
{
    cr_error err;
    cr_mlp *m = cr_mlp_load_mem(buf, size, "m.crm", expect, &err);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.status, status);
    if (message)
        ck_assert_str_eq(err.message, message);
}

static unsigned char *saved_bytes(size_t *size, tmpdir *t)
{
    tmpdir_make(t);
    cr_mlp *m = small_model();
    cr_error err;
    ck_assert_int_eq(cr_mlp_save(m, t->path, &err), CR_OK);
    cr_mlp_free(m);
    return test_slurp(t->path, size);
}

START_TEST(test_refuse_magic_version)
{
    tmpdir t;
    size_t size;
    unsigned char *buf = saved_bytes(&size, &t);
    buf[0] = 'X';
    refuse(buf, size, NULL, CR_EFORMAT, "m.crm: not a chainrule model file (bad magic)");
    buf[0] = 'C';
    buf[8] = 3; /* version 3 */
    refuse(buf, size, NULL, CR_ENOTSUP,
           "m.crm: format version 3 is not supported (this build reads 1 and 2)");
    buf[8] = 1;
    cr_error err;
    cr_mlp *m = cr_mlp_load_mem(buf, size, "m.crm", NULL, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    cr_mlp_free(m);
    free(buf);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_refuse_every_flipped_byte)
{
    tmpdir t;
    size_t size;
    unsigned char *buf = saved_bytes(&size, &t);
    for (size_t i = 0; i < size; i++) {
        buf[i] ^= 0x20;
        cr_error err;
        cr_mlp *m = cr_mlp_load_mem(buf, size, "m.crm", NULL, &err);
        ck_assert_msg(m == NULL, "byte %zu flipped was accepted", i);
        ck_assert(err.status == CR_EFORMAT || err.status == CR_ENOTSUP);
        buf[i] ^= 0x20;
    }
    buf[40] ^= 1; /* inside the body: the checksum catches it */
    cr_error err;
    ck_assert_ptr_null(cr_mlp_load_mem(buf, size, "m.crm", NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert(strstr(err.message, "m.crm: checksum mismatch (stored 0x") == err.message);
    ck_assert(strstr(err.message, "the file is corrupted"));
    free(buf);
    tmpdir_remove(&t);
}
END_TEST

/* Writes v as the last input's standard deviation (the body's last double)
 * and seals the file with a valid checksum, as a hostile writer could. */
static void patch_last_std(unsigned char *buf, size_t size, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int k = 0; k < 8; k++)
        buf[size - 12 + k] = (unsigned char)(bits >> (8 * k));
    const uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(size - 4));
    for (int k = 0; k < 4; k++)
        buf[size - 4 + k] = (unsigned char)(crc >> (8 * k));
}

/* A deviation the library would never store (negative, subnormal) is
 * refused even under a valid checksum; the setter refuses it too. */
START_TEST(test_refuse_bad_input_std)
{
    tmpdir t;
    size_t size;
    unsigned char *buf = saved_bytes(&size, &t);
    cr_error err;
    patch_last_std(buf, size, 1.5); /* the saved value: still loads */
    cr_mlp *m = cr_mlp_load_mem(buf, size, "m.crm", NULL, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    cr_mlp_free(m);
    patch_last_std(buf, size, -1.5);
    refuse(buf, size, NULL, CR_EFORMAT,
           "m.crm: input 3's standard deviation is -1.5: it must be above 0 and not "
           "subnormal");
    patch_last_std(buf, size, 1e-310);
    refuse(buf, size, NULL, CR_EFORMAT,
           "m.crm: input 3's standard deviation is 1e-310: it must be above 0 and not "
           "subnormal");
    m = small_model();
    const double mean[3] = {0, 0, 0}, neg[3] = {1, -2, 1}, sub[3] = {1, 1, 4e-320};
    ck_assert_int_eq(cr_mlp_set_input_stats(m, mean, neg, &err), CR_EDOMAIN);
    ck_assert_str_eq(err.message,
                     "input 2's standard deviation -2 is negative or subnormal");
    ck_assert_int_eq(cr_mlp_set_input_stats(m, mean, sub, &err), CR_EDOMAIN);
    ck_assert_double_eq(cr_mlp_input_std(m)[1], 0.5); /* the earlier ones stay */
    ck_assert_int_eq(cr_mlp_set_input_stats(NULL, mean, neg, &err), CR_EINVAL);
    cr_mlp_free(m);
    free(buf);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_refuse_truncated)
{
    tmpdir t;
    size_t size;
    unsigned char *buf = saved_bytes(&size, &t);
    char msg[160];
    refuse(buf, 0, NULL, CR_EFORMAT,
           "m.crm: truncated: 0 bytes, a model file has at least 28");
    refuse(buf, 5, NULL, CR_EFORMAT,
           "m.crm: truncated: 5 bytes, a model file has at least 28");
    refuse(buf, 20, NULL, CR_EFORMAT,
           "m.crm: truncated: 20 bytes, a model file has at least 28");
    const size_t cuts[] = {28, 60, size / 2, size - 8, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        snprintf(msg, sizeof msg, "m.crm: truncated: %zu bytes, the header announces %zu",
                 cuts[i], size);
        refuse(buf, cuts[i], NULL, CR_EFORMAT, msg);
    }
    /* a truncated file on disk */
    FILE *f = fopen(t.path, "wb");
    fwrite(buf, 1, size / 3, f);
    fclose(f);
    cr_error err;
    ck_assert_ptr_null(cr_mlp_load(t.path, NULL, &err));
    snprintf(msg, sizeof msg, "%s: truncated: %zu bytes, the header announces %zu", t.path,
             size / 3, size);
    ck_assert_str_eq(err.message, msg);
    /* trailing bytes */
    unsigned char *longer = malloc(size + 3);
    memcpy(longer, buf, size);
    memset(longer + size, 0, 3);
    refuse(longer, size + 3, NULL, CR_EFORMAT,
           "m.crm: 3 unexpected bytes after the checksum");
    free(longer);
    free(buf);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_refuse_wrong_architecture)
{
    tmpdir t;
    size_t size;
    unsigned char *buf = saved_bytes(&size, &t);
    cr_mlp_spec other = small_spec();
    other.hidden[1] = 6;
    refuse(buf, size, &other, CR_ESHAPE,
           "m.crm: architecture 3-5-4-2 tanh/softmax xent bias differs from the expected "
           "3-5-6-2 tanh/softmax xent bias");
    other = small_spec();
    other.hidden_act = CR_ACT_RELU;
    refuse(buf, size, &other, CR_ESHAPE, NULL);
    cr_error err;
    ck_assert_ptr_null(cr_mlp_load("/nonexistent/dir/m.crm", NULL, &err));
    ck_assert_int_eq(err.status, CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "/nonexistent/dir/m.crm: No such file or directory");
    free(buf);
    tmpdir_remove(&t);
}
END_TEST

/* A save that fails part-way (each allocation in turn failing) leaves the
 * previous file byte for byte, and no temporary file. */
START_TEST(test_save_failure_keeps_previous)
{
    tmpdir t;
    size_t size;
    unsigned char *before = saved_bytes(&size, &t);
    cr_mlp_spec s = small_spec();
    s.seed = 7;
    cr_error err;
    int failures = 0;
    for (size_t k = 1; k < 50; k++) {
        test_alloc_install(0);
        cr_mlp *m = cr_mlp_new(&s, &err);
        ck_assert_ptr_nonnull(m);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_status st = cr_mlp_save(m, t.path, &err);
        test_alloc.fail_at = 0;
        cr_mlp_free(m);
        test_alloc_uninstall();
        if (st == CR_OK)
            break;
        failures++;
        ck_assert_int_eq(st, CR_ENOMEM);
        size_t now;
        unsigned char *after = test_slurp(t.path, &now);
        ck_assert_uint_eq(now, size);
        ck_assert_mem_eq(after, before, size);
        free(after);
        ck_assert_int_eq(dir_entries(t.dir), 1);
    }
    ck_assert_int_ge(failures, 2);
    /* a missing directory */
    cr_mlp *m = cr_mlp_new(&s, &err);
    ck_assert_int_eq(cr_mlp_save(m, "/nonexistent/dir/m.crm", &err), CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "/nonexistent/dir/m.crm: cannot create a temporary file "
                                  "next to it: No such file or directory");
    cr_mlp_free(m);
    free(before);
    tmpdir_remove(&t);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refuse_magic_version);
    tcase_add_test(tc, test_refuse_every_flipped_byte);
    tcase_add_test(tc, test_refuse_bad_input_std);
    tcase_add_test(tc, test_refuse_truncated);
    tcase_add_test(tc, test_refuse_wrong_architecture);
    tcase_add_test(tc, test_save_failure_keeps_previous);
    suite_add_tcase(s, tc);
    return s;
}
