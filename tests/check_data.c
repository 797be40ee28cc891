/*
 * check_data.c - tests of the data module: CSV happy paths and every error
 * with its exact message, gzip'd files of several members and from a pipe, IDX round trips
 * (plain and gzip, files and memory), corrupt and truncated IDX refused, Fashion-MNIST when
 * installed, shuffling, batches, the train/validation split and feature
 * standardisation.
 */
#include "testutil.h"

#include <zlib.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOL 1e-12

/* ---- helpers ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cr-check-data-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Path of a file in the test's temporary directory (static buffer). */
static const char *tmp_path(const char *file)
{
    static char path[2][128];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", tmpdir, file);
    return path[which];
}

static void write_file(const char *path, const void *data, size_t size, int gzip)
{
    if (gzip) {
        gzFile gz = gzopen(path, "wb");
        ck_assert_ptr_nonnull(gz);
        ck_assert_int_eq(gzwrite(gz, data, (unsigned)size), (int)size);
        ck_assert_int_eq(gzclose(gz), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static void remove_tmpdir(const char *const *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        unlink(tmp_path(files[i]));
    rmdir(tmpdir);
}

static cr_dataset *csv_text(const char *text, const cr_csv_options *o, cr_error *err)
{
    cr_error_clear(err);
    return cr_csv_load_mem(text, strlen(text), "data.csv", o, err);
}

static void expect_matrix(const cr_tensor *t, size_t rows, size_t cols, const double *v)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cr_tensor_rank(t), 2);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), rows);
    ck_assert_uint_eq(cr_tensor_dim(t, 1), cols);
    for (size_t i = 0; i < rows * cols; i++)
        ck_assert_double_eq_tol(cr_tensor_get(t, i), v[i], TOL);
}

/* ---- CSV: happy paths ---- */

START_TEST(csv_header_auto)
{
    cr_error err;
    cr_dataset *ds = csv_text("x1,x2,y\n1.5,2,0.25\n-3,4.75e1,1\n", NULL, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_rows(ds), 2);
    ck_assert_uint_eq(cr_dataset_cols(ds), 2);
    ck_assert_uint_eq(cr_dataset_target_cols(ds), 1);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 0);
    expect_matrix(cr_dataset_features(ds), 2, 2, (double[]){1.5, 2, -3, 47.5});
    expect_matrix(cr_dataset_targets(ds), 2, 1, (double[]){0.25, 1});
    cr_dataset_free(ds);

    /* No header: the first line is data. */
    ds = csv_text("1,2,3\n4,5,6\n", NULL, &err);
    ck_assert_ptr_nonnull(ds);
    expect_matrix(cr_dataset_features(ds), 2, 2, (double[]){1, 2, 4, 5});
    expect_matrix(cr_dataset_targets(ds), 2, 1, (double[]){3, 6});
    cr_dataset_free(ds);

    /* Header forced: a numeric first line is skipped. */
    cr_csv_options o = {.header = CR_CSV_HEADER_YES};
    ds = csv_text("1,2,3\n4,5,6\n", &o, &err);
    ck_assert_ptr_nonnull(ds);
    expect_matrix(cr_dataset_features(ds), 1, 2, (double[]){4, 5});
    cr_dataset_free(ds);
}
END_TEST

/* Checks every field of a header report. */
static void expect_header(const cr_csv_header_info *hi, int is_header, int detected,
                          size_t line, size_t fields, size_t numbers, size_t text_column,
                          const char *text)
{
    ck_assert_int_eq(hi->is_header, is_header);
    ck_assert_int_eq(hi->detected, detected);
    ck_assert_uint_eq(hi->line, line);
    ck_assert_uint_eq(hi->fields, fields);
    ck_assert_uint_eq(hi->numbers, numbers);
    ck_assert_uint_eq(hi->text_column, text_column);
    ck_assert_str_eq(hi->text, text);
}

START_TEST(csv_header_info)
{
    /* A headerless file whose first row has a typo: AUTO takes the row for
     * a header, and the report says why and how many numbers it had. */
    cr_csv_header_info hi;
    cr_csv_options o = {.header_info = &hi};
    cr_error err;
    cr_dataset *ds = csv_text("1.5,2x,3\n4,5,6\n7,8,9\n", &o, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_rows(ds), 2);
    cr_dataset_free(ds);
    expect_header(&hi, 1, 1, 1, 3, 2, 2, "2x");
    /* A real header: no numbers; after blank lines, its own line number. */
    ds = csv_text("\n  \nx1,\"x 2\",,y\n1,2,3,4\n", &o, &err);
    ck_assert_ptr_nonnull(ds);
    cr_dataset_free(ds);
    expect_header(&hi, 1, 1, 3, 4, 0, 1, "x1");
    /* No header detected: data from the first line. */
    ds = csv_text("1,2\n3,4\n", &o, &err);
    ck_assert_ptr_nonnull(ds);
    cr_dataset_free(ds);
    expect_header(&hi, 0, 1, 1, 2, 2, 0, "");
    /* Forced to data, the typo is an error; the report is still filled. */
    o.header = CR_CSV_HEADER_NO;
    ck_assert_ptr_null(csv_text("1.5,2x,3\n4,5,6\n", &o, &err));
    ck_assert_str_eq(err.message, "data.csv:1:2: '2x' is not a number");
    expect_header(&hi, 0, 0, 1, 3, 2, 2, "2x");
    /* A field longer than the report keeps is cut. */
    o.header = CR_CSV_HEADER_AUTO;
    char line[200];
    memset(line, 'a', 100);
    memcpy(line + 100, ",1\n2,3\n", 8);
    ds = csv_text(line, &o, &err);
    ck_assert_ptr_nonnull(ds);
    cr_dataset_free(ds);
    ck_assert_uint_eq(strlen(hi.text), 63);
    /* Nothing read: zeroed. */
    hi.line = 99;
    ck_assert_ptr_null(cr_csv_load("/nonexistent/x.csv", &o, &err));
    expect_header(&hi, 0, 0, 0, 0, 0, 0, "");
}
END_TEST

START_TEST(csv_input_limit)
{
    /* max_input bounds the bytes read, plain or after decompression: a
     * file of exactly the limit loads, one byte more is refused. */
    char text[256];
    size_t len = 0;
    for (int i = 0; len < 150; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%d,%d\n", i, i % 2);
    make_tmpdir();
    const char *files[] = {"lim.csv", "lim.csv.gz"};
    write_file(tmp_path(files[0]), text, len, 0);
    write_file(tmp_path(files[1]), text, len, 1);
    for (int gz = 0; gz < 2; gz++) {
        cr_error err;
        cr_csv_options o = {.max_input = len};
        cr_dataset *ds = cr_csv_load(tmp_path(files[gz]), &o, &err);
        ck_assert_msg(ds != NULL, "%s", err.message);
        cr_dataset_free(ds);
        o.max_input = len - 1;
        ck_assert_ptr_null(cr_csv_load(tmp_path(files[gz]), &o, &err));
        ck_assert_int_eq(err.status, CR_ERANGE);
        char expect[300];
        snprintf(expect, sizeof expect,
                 "%s: more than %zu bytes of input%s (the max_input limit)",
                 tmp_path(files[gz]), len - 1, gz ? " once decompressed" : "");
        ck_assert_str_eq(err.message, expect);
        ck_assert_str_eq(err.where, tmp_path(files[gz]));
        /* from memory too; max_rows stops reading before the limit */
        ck_assert_ptr_null(cr_csv_load_mem(text, len, "m.csv", &o, &err));
        snprintf(expect, sizeof expect,
                 "m.csv: more than %zu bytes of input (the max_input limit)", len - 1);
        ck_assert_str_eq(err.message, expect);
        o.max_rows = 3;
        ds = cr_csv_load(tmp_path(files[gz]), &o, &err);
        ck_assert_ptr_nonnull(ds);
        ck_assert_uint_eq(cr_dataset_rows(ds), 3);
        cr_dataset_free(ds);
    }
    remove_tmpdir(files, 2);
}
END_TEST

START_TEST(csv_delimiter_quotes_crlf)
{
    /* ';' delimiter, quoted fields (with "" inside a name), blanks around
     * fields, CRLF line ends, blank lines and no final newline. */
    const char *text = "\"a\";\"b \"\"q\"\"\";\"t\"\r\n"
                       "\r\n"
                       " 1.25 ; \"2\" ;3\r\n"
                       "   \n"
                       "4;5;\"6.5\"";
    cr_csv_options o = {.delimiter = ';'};
    const char *target = "b \"q\"";
    o.targets = &target;
    o.num_targets = 1;
    cr_error err;
    cr_dataset *ds = csv_text(text, &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 2, 2, (double[]){1.25, 3, 4, 6.5});
    expect_matrix(cr_dataset_targets(ds), 2, 1, (double[]){2, 5});
    cr_dataset_free(ds);

    /* Tab-separated, where blanks must not swallow the delimiter. */
    o = (cr_csv_options){.delimiter = '\t', .header = CR_CSV_HEADER_NO};
    ds = csv_text("1\t2\n3\t4\n", &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 2, 1, (double[]){1, 3});
    cr_dataset_free(ds);
}
END_TEST

START_TEST(csv_targets)
{
    const char *text = "price,area,rooms,age\n100,50,2,10\n250,120,4,3\n";
    cr_error err;
    /* By name. */
    const char *by_name[] = {"price"};
    cr_csv_options o = {.targets = by_name, .num_targets = 1};
    cr_dataset *ds = csv_text(text, &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 2, 3, (double[]){50, 2, 10, 120, 4, 3});
    expect_matrix(cr_dataset_targets(ds), 2, 1, (double[]){100, 250});
    cr_dataset_free(ds);
    /* By 1-based index, two targets, kept in the order given. */
    const char *by_index[] = {"4", "area"};
    o.targets = by_index;
    o.num_targets = 2;
    ds = csv_text(text, &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 2, 2, (double[]){100, 2, 250, 4});
    expect_matrix(cr_dataset_targets(ds), 2, 2, (double[]){10, 50, 3, 120});
    cr_dataset_free(ds);
    /* A column given twice. */
    const char *twice[] = {"1", "price"};
    o.targets = twice;
    ck_assert_ptr_null(csv_text(text, &o, &err));
    ck_assert_str_eq(err.message, "data.csv: target column 1 is given twice");
    /* A byte order mark before the header does not hide the first name. */
    o.num_targets = 1;
    ds = csv_text("\xEF\xBB\xBFprice,area\n1,2\n", &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_targets(ds), 1, 1, (double[]){1});
    cr_dataset_free(ds);
    /* No targets at all (data to predict on). */
    o = (cr_csv_options){.no_targets = 1};
    ds = csv_text(text, &o, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_cols(ds), 4);
    ck_assert_uint_eq(cr_dataset_target_cols(ds), 0);
    ck_assert_ptr_null(cr_dataset_targets(ds));
    cr_dataset_free(ds);
    /* The first max_rows rows only. */
    o = (cr_csv_options){.max_rows = 1};
    ds = csv_text(text, &o, &err);
    ck_assert_ptr_nonnull(ds);
    expect_matrix(cr_dataset_targets(ds), 1, 1, (double[]){10});
    cr_dataset_free(ds);
}
END_TEST

START_TEST(csv_one_hot)
{
    const char *text = "x,label\n0.5,2\n1.5,0\n2.5,1\n3.5,2\n";
    cr_csv_options o = {.one_hot = 1};
    cr_error err;
    cr_dataset *ds = csv_text(text, &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
    expect_matrix(cr_dataset_targets(ds), 4, 3,
                  (double[]){0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
    cr_dataset_free(ds);
    o.num_classes = 4;
    ds = csv_text(text, &o, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 4);
    ck_assert_uint_eq(cr_dataset_target_cols(ds), 4);
    ck_assert_double_eq(cr_tensor_get(cr_dataset_targets(ds), 2), 1.0);
    cr_dataset_free(ds);
}
END_TEST

START_TEST(csv_files_and_streaming)
{
    make_tmpdir();
    /* A file spanning many read chunks, plain and gzip'd: the loader streams
     * it line by line. Row i is "i,0.5*i,i%3". */
    size_t rows = 20000, cap = rows * 32, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text + len, cap - len, "i,half,cls\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(text + len, cap - len, "%zu,%g,%zu\n", i, 0.5 * (double)i,
                                i % 3);
    const char *files[] = {"big.csv", "big.csv.gz"};
    write_file(tmp_path(files[0]), text, len, 0);
    write_file(tmp_path(files[1]), text, len, 1);
    free(text);
    for (int f = 0; f < 2; f++) {
        cr_csv_options o = {.one_hot = 1};
        cr_error err;
        cr_dataset *ds = cr_csv_load(tmp_path(files[f]), &o, &err);
        ck_assert_msg(ds != NULL, "%s", err.message);
        ck_assert_uint_eq(cr_dataset_rows(ds), rows);
        ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
        const double *x = cr_tensor_data(cr_dataset_features(ds));
        ck_assert_double_eq(x[2 * 12345], 12345.0);
        ck_assert_double_eq(x[2 * 12345 + 1], 6172.5);
        ck_assert_double_eq(cr_tensor_get(cr_dataset_targets(ds), 3 * 19999 + 19999 % 3),
                            1);
        cr_dataset_free(ds);
    }
    remove_tmpdir(files, 2);
}
END_TEST

/* gzip'd text of len bytes into out (a member of its own); its length. */
static size_t gzip_bytes(const void *text, size_t len, unsigned char *out, size_t cap)
{
    z_stream zs = {0};
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    return n;
}

START_TEST(csv_gzip_members)
{
    /* Two gzip members one after the other (cat a.gz b.gz) are read as one
     * text, as gzip -d reads them; bytes after the last member that do not
     * start another are ignored, from a file and from memory alike. */
    unsigned char z[256];
    size_t n = gzip_bytes("a,b\n1,2\n", 8, z, sizeof z);
    n += gzip_bytes("3,4\n5,6\n", 8, z + n, sizeof z - n);
    memcpy(z + n, "junk", 4);
    n += 4;
    make_tmpdir();
    const char *files[] = {"two.csv.gz"};
    write_file(tmp_path(files[0]), z, n, 0);
    cr_error err;
    for (int mem = 0; mem < 2; mem++) {
        cr_dataset *ds = mem ? cr_csv_load_mem(z, n, "two.csv.gz", NULL, &err)
                             : cr_csv_load(tmp_path(files[0]), NULL, &err);
        ck_assert_msg(ds != NULL, "%s", err.message);
        expect_matrix(cr_dataset_features(ds), 3, 1, (double[]){1, 3, 5});
        expect_matrix(cr_dataset_targets(ds), 3, 1, (double[]){2, 4, 6});
        cr_dataset_free(ds);
    }
    remove_tmpdir(files, 1);
}
END_TEST

START_TEST(csv_from_a_pipe)
{
    /* A gzip'd file read from a FIFO whose writer sends its first byte
     * alone: the gzip magic is recognised across short reads. */
    unsigned char z[128];
    const char *text = "x,y\n0.25,1\n-2,0\n";
    size_t n = gzip_bytes(text, strlen(text), z, sizeof z);
    make_tmpdir();
    const char *files[] = {"fifo.csv"};
    ck_assert_int_eq(mkfifo(tmp_path(files[0]), 0600), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(tmp_path(files[0]), O_WRONLY);
        int ok = fd >= 0 && write(fd, z, 1) == 1;
        struct timespec ts = {0, 20000000}; /* the reader gets the first byte alone */
        nanosleep(&ts, NULL);
        ok = ok && write(fd, z + 1, n - 1) == (ssize_t)(n - 1);
        _exit(ok ? 0 : 1);
    }
    cr_error err;
    cr_dataset *ds = cr_csv_load(tmp_path(files[0]), NULL, &err);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 2, 1, (double[]){0.25, -2});
    cr_dataset_free(ds);
    remove_tmpdir(files, 1);
}
END_TEST

/* A fixture in tests/data (top_srcdir comes from make check's environment). */
static const char *fixture(const char *file)
{
    static char path[512];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/tests/data/%s", top ? top : ".", file);
    return path;
}

START_TEST(csv_fixtures)
{
    cr_error err;
    cr_dataset *ds = cr_csv_load(fixture("xor.csv"), NULL, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    expect_matrix(cr_dataset_features(ds), 4, 2, (double[]){0, 0, 0, 1, 1, 0, 1, 1});
    expect_matrix(cr_dataset_targets(ds), 4, 1, (double[]){0, 1, 1, 0});
    cr_dataset_free(ds);
    /* ';'-separated, quoted names with blanks, CRLF, the class in column 3. */
    const char *target = "species";
    cr_csv_options o = {
        .delimiter = ';', .targets = &target, .num_targets = 1, .one_hot = 1};
    ds = cr_csv_load(fixture("flowers.csv"), &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
    ck_assert_uint_eq(cr_dataset_cols(ds), 3);
    expect_matrix(cr_dataset_features(ds), 6, 3,
                  (double[]){5.1, 3.5, 1.4, 7.0, 3.2, 4.7, 6.3, 3.3, 6.0, 4.9, 3.0, 1.4,
                             6.4, 3.2, 4.5, 5.8, 2.7, 5.1});
    expect_matrix(cr_dataset_targets(ds), 6, 3,
                  (double[]){1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
    cr_dataset_free(ds);
}
END_TEST

/* ---- CSV: every error, with its exact message ---- */

typedef struct csv_bad {
    const char *text;
    cr_csv_options opts;
    const char *target;
    cr_status status;
    const char *message;
    int line, column;
} csv_bad;

/* text, options, target, status, message, err.line, err.column */
// clang-format off
static const csv_bad csv_bads[] = {
    {"a,b,c\n1,2,3\n4,abc,6\n", {0}, NULL, CR_EFORMAT,
     "data.csv:3:2: 'abc' is not a number", 3, 2},
    {"a,b,c\n1,2,3\n4,5,6\n7,8,9\n9,9,1x\n", {0}, NULL, CR_EFORMAT,
     "data.csv:5:3: '1x' is not a number", 5, 3},
    {"1,2,3\n,5,6\n", {0}, NULL, CR_EFORMAT, "data.csv:2:1: empty field", 2, 1},
    {"1,2,3\n4,5,\n", {0}, NULL, CR_EFORMAT, "data.csv:2:3: empty field", 2, 3},
    {"a,b,c\n1,2,3\n4,5\n", {0}, NULL, CR_EFORMAT,
     "data.csv:3: 2 fields, expected 3", 3, 0},
    {"a,b\n1,2\n\n3,4,5\n", {0}, NULL, CR_EFORMAT,
     "data.csv:4: 3 fields, expected 2", 4, 0},
    {"", {0}, NULL, CR_EFORMAT, "data.csv: empty file", 0, 0},
    {"\n  \r\n\n", {0}, NULL, CR_EFORMAT, "data.csv: empty file", 0, 0},
    {"a,b,c\n", {0}, NULL, CR_EFORMAT, "data.csv: no data rows", 0, 0},
    {"a,b\n1,nan\n", {0}, NULL, CR_EDOMAIN,
     "data.csv:2:2: 'nan' is not a finite number", 2, 2},
    {"a,b\n1,2\n-inf,2\n", {0}, NULL, CR_EDOMAIN,
     "data.csv:3:1: '-inf' is not a finite number", 3, 1},
    {"a,b\n1e999,2\n", {0}, NULL, CR_EDOMAIN,
     "data.csv:2:1: '1e999' is not a finite number", 2, 1},
    {"a,b\n1,2\n123456789,123456789\n", {.max_line = 16}, NULL, CR_ERANGE,
     "data.csv:3: line longer than 16 bytes", 3, 0},
    {"a,b\n\"1,2\n", {0}, NULL, CR_EFORMAT, "data.csv:2:1: unterminated quote", 2, 1},
    {"a,b\n1,\"2\"x\n", {0}, NULL, CR_EFORMAT,
     "data.csv:2:2: text after a closing quote", 2, 2},
    {"a,b,c\n1,2,3\n", {0}, "zz", CR_ENOTFOUND, "data.csv: no column named 'zz'", 0, 0},
    {"1,2,3\n", {0}, "zz", CR_ENOTFOUND,
     "data.csv: no column named 'zz' (the file has no header; give a 1-based index)", 0, 0},
    {"a,b,c\n1,2,3\n", {0}, "9", CR_ENOTFOUND,
     "data.csv: target column 9 does not exist (the file has 3 columns)", 0, 0},
    {"a,b,c\n1,2,3\n", {0}, "0", CR_ENOTFOUND,
     "data.csv: target column 0 does not exist (the file has 3 columns)", 0, 0},
    {"a\n1\n", {0}, NULL, CR_EINVAL,
     "data.csv: every column is a target; no feature columns are left", 0, 0},
    {"x,y\n1,0\n2,1.5\n", {.one_hot = 1}, NULL, CR_EFORMAT,
     "data.csv:3:2: label '1.5' is not an integer in 0..65535", 3, 2},
    {"x,y\n1,0\n2,-1\n", {.one_hot = 1}, NULL, CR_EFORMAT,
     "data.csv:3:2: label '-1' is not an integer in 0..65535", 3, 2},
    {"x,y\n1,0\n2,2\n", {.one_hot = 1, .num_classes = 2}, NULL, CR_EFORMAT,
     "data.csv:3:2: label '2' is not an integer in 0..1", 3, 2},
    {"x,y\n1,0\n", {.delimiter = '"'}, NULL, CR_EINVAL,
     "the delimiter cannot be a quote or line end", 0, 0},
    {"x,y\n1,0\n", {.one_hot = 1, .no_targets = 1}, NULL, CR_EINVAL,
     "one_hot needs exactly one target column", 0, 0},
    {"x,y\n1,0\n", {.one_hot = 1, .num_classes = 70000}, NULL, CR_EINVAL,
     "num_classes 70000 exceeds the limit 65536", 0, 0},
};
// clang-format on

START_TEST(csv_errors)
{
    const csv_bad *b = &csv_bads[_i];
    cr_csv_options o = b->opts;
    if (b->target) {
        o.targets = &b->target;
        o.num_targets = 1;
    }
    cr_error err;
    ck_assert_ptr_null(csv_text(b->text, &o, &err));
    ck_assert_str_eq(err.message, b->message);
    ck_assert_int_eq(err.status, b->status);
    ck_assert_int_eq(err.line, b->line);
    ck_assert_int_eq(err.column, b->column);
}
END_TEST

START_TEST(csv_file_errors)
{
    cr_error err;
    ck_assert_ptr_null(cr_csv_load("/nonexistent/dir/x.csv", NULL, &err));
    ck_assert_int_eq(err.status, CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "/nonexistent/dir/x.csv: No such file or directory");
    ck_assert_str_eq(err.where, "/nonexistent/dir/x.csv");
    /* A truncated gzip file: written whole, then cut short. */
    make_tmpdir();
    const char *files[] = {"cut.csv.gz"};
    unsigned char gz[128];
    const char *text = "a,b\n1,2\n3,4\n";
    write_file(tmp_path(files[0]), text, strlen(text), 1);
    FILE *f = fopen(tmp_path(files[0]), "rb");
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    write_file(tmp_path(files[0]), gz, n - 6, 0);
    ck_assert_ptr_null(cr_csv_load(tmp_path(files[0]), NULL, &err));
    ck_assert_int_eq(err.status, CR_EFORMAT);
    char expect[160];
    snprintf(expect, sizeof expect, "%s: truncated gzip data (unexpected end of file)",
             tmp_path(files[0]));
    ck_assert_str_eq(err.message, expect);
    remove_tmpdir(files, 1);
}
END_TEST

/* ---- IDX ---- */

/* Writes an IDX header for type and dims into buf; returns its length. */
static size_t idx_header(unsigned char *buf, unsigned char type, int ndims,
                         const unsigned *dims)
{
    buf[0] = buf[1] = 0;
    buf[2] = type;
    buf[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++) {
        buf[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        buf[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        buf[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        buf[7 + 4 * i] = (unsigned char)dims[i];
    }
    return 4 + 4 * (size_t)ndims;
}

/* Three 2x3 u8 images, and their three labels. */
static size_t tiny_images(unsigned char *buf)
{
    size_t n = idx_header(buf, 0x08, 3, (unsigned[]){3, 2, 3});
    for (int i = 0; i < 18; i++)
        buf[n++] = (unsigned char)(i * 15);
    return n;
}

static size_t tiny_labels(unsigned char *buf)
{
    size_t n = idx_header(buf, 0x08, 1, (unsigned[]){3});
    buf[n++] = 2;
    buf[n++] = 0;
    buf[n++] = 1;
    return n;
}

START_TEST(idx_round_trip)
{
    make_tmpdir();
    unsigned char img[64], lab[16];
    size_t ni = tiny_images(img), nl = tiny_labels(lab);
    const char *files[] = {"img.idx", "lab.idx", "img.idx.gz", "lab.idx.gz"};
    write_file(tmp_path(files[0]), img, ni, 0);
    write_file(tmp_path(files[1]), lab, nl, 0);
    write_file(tmp_path(files[2]), img, ni, 1);
    write_file(tmp_path(files[3]), lab, nl, 1);
    for (int gz = 0; gz < 2; gz++) {
        cr_idx_options o = {.scale = 1, .one_hot = 1};
        cr_error err;
        cr_dataset *ds =
            cr_idx_load(tmp_path(files[2 * gz]), tmp_path(files[2 * gz + 1]), &o, &err);
        ck_assert_msg(ds != NULL, "%s", err.message);
        ck_assert_uint_eq(cr_dataset_rows(ds), 3);
        ck_assert_uint_eq(cr_dataset_cols(ds), 6);
        ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
        const cr_tensor *x = cr_dataset_features(ds);
        for (size_t i = 0; i < 18; i++)
            ck_assert_double_eq_tol(cr_tensor_get(x, i), (double)(i * 15) / 255.0, TOL);
        expect_matrix(cr_dataset_targets(ds), 3, 3, (double[]){0, 0, 1, 1, 0, 0, 0, 1, 0});
        cr_dataset_free(ds);
    }
    /* Raw values and raw labels, the first two items only. */
    cr_idx_options o = {.max_rows = 2};
    cr_error err;
    cr_tensor *t = cr_idx_read(tmp_path(files[2]), &o, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_tensor_dim(t, 0), 2);
    ck_assert_double_eq(cr_tensor_get(t, 11), 165.0);
    cr_tensor_free(t);
    t = cr_idx_read(tmp_path(files[1]), &o, &err);
    expect_matrix(t, 2, 1, (double[]){2, 0});
    cr_tensor_free(t);
    /* From memory, gzip'd. */
    unsigned char z[256];
    FILE *f = fopen(tmp_path(files[2]), "rb");
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    t = cr_idx_read_mem(z, zn, "mem.gz", NULL, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_double_eq(cr_tensor_get(t, 17), 255.0);
    cr_tensor_free(t);
    remove_tmpdir(files, 4);
}
END_TEST

/* Unsigned-byte files kept as bytes: the values unconverted, max_rows, the
 * same from gzip; other element types, a missing file and NULLs refused. */
START_TEST(idx_bytes)
{
    make_tmpdir();
    unsigned char img[64], other[64];
    size_t ni = tiny_images(img);
    size_t no = idx_header(other, 0x0D, 1, (unsigned[]){1});
    memset(other + no, 0, 4);
    const char *files[] = {"img.idx", "img.idx.gz", "f32.idx"};
    write_file(tmp_path(files[0]), img, ni, 0);
    write_file(tmp_path(files[1]), img, ni, 1);
    write_file(tmp_path(files[2]), other, no + 4, 0);
    for (int gz = 0; gz < 2; gz++) {
        cr_idx_bytes b;
        cr_error err;
        ck_assert_int_eq(cr_idx_read_bytes(tmp_path(files[gz]), NULL, &b, &err), CR_OK);
        ck_assert_uint_eq(b.items, 3);
        ck_assert_uint_eq(b.item_size, 6);
        for (size_t i = 0; i < 18; i++)
            ck_assert_uint_eq(b.data[i], i * 15);
        cr_idx_bytes_free(&b);
        ck_assert_ptr_null(b.data);
        cr_idx_options two = {.max_rows = 2};
        ck_assert_int_eq(cr_idx_read_bytes(tmp_path(files[gz]), &two, &b, &err), CR_OK);
        ck_assert_uint_eq(b.items, 2);
        ck_assert_uint_eq(b.data[11], 165);
        cr_idx_bytes_free(&b);
    }
    cr_idx_bytes b;
    cr_error err;
    char expect[300];
    ck_assert_int_eq(cr_idx_read_bytes(tmp_path(files[2]), NULL, &b, &err), CR_EFORMAT);
    snprintf(expect, sizeof expect,
             "%s: element type 0x0d: only unsigned bytes (0x08) can be kept as bytes",
             tmp_path(files[2]));
    ck_assert_str_eq(err.message, expect);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(cr_idx_read_bytes(tmp_path("missing.idx"), NULL, &b, &err),
                     CR_ENOTFOUND);
    ck_assert_int_eq(cr_idx_read_bytes(NULL, NULL, &b, &err), CR_EINVAL);
    ck_assert_int_eq(cr_idx_read_bytes(tmp_path(files[0]), NULL, NULL, &err), CR_EINVAL);
    cr_idx_bytes_free(NULL);
    remove_tmpdir(files, 3);
}
END_TEST

START_TEST(idx_types)
{
    unsigned char buf[64];
    cr_error err;
    /* i16, 2 items of 2 values: -2, 300, 7, -32768 (big-endian). */
    size_t n = idx_header(buf, 0x0B, 2, (unsigned[]){2, 2});
    const unsigned char v16[] = {0xff, 0xfe, 0x01, 0x2c, 0x00, 0x07, 0x80, 0x00};
    memcpy(buf + n, v16, sizeof v16);
    cr_idx_options o = {.scale = 1}; /* not u8: no scaling */
    cr_tensor *t = cr_idx_read_mem(buf, n + sizeof v16, "i16", &o, &err);
    expect_matrix(t, 2, 2, (double[]){-2, 300, 7, -32768});
    cr_tensor_free(t);
    /* f32 0.75 and f64 -2.5. */
    n = idx_header(buf, 0x0D, 1, (unsigned[]){1});
    memcpy(buf + n, (unsigned char[]){0x3f, 0x40, 0, 0}, 4);
    t = cr_idx_read_mem(buf, n + 4, "f32", NULL, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    expect_matrix(t, 1, 1, (double[]){0.75});
    cr_tensor_free(t);
    n = idx_header(buf, 0x0E, 2, (unsigned[]){1, 1});
    memcpy(buf + n, (unsigned char[]){0xc0, 0x04, 0, 0, 0, 0, 0, 0}, 8);
    t = cr_idx_read_mem(buf, n + 8, "f64", NULL, &err);
    expect_matrix(t, 1, 1, (double[]){-2.5});
    cr_tensor_free(t);
    /* i32 and i8. */
    n = idx_header(buf, 0x0C, 2, (unsigned[]){1, 1});
    memcpy(buf + n, (unsigned char[]){0xff, 0xff, 0xff, 0xf6}, 4);
    t = cr_idx_read_mem(buf, n + 4, "i32", NULL, &err);
    expect_matrix(t, 1, 1, (double[]){-10});
    cr_tensor_free(t);
    n = idx_header(buf, 0x09, 2, (unsigned[]){1, 1});
    buf[n] = 0x85;
    t = cr_idx_read_mem(buf, n + 1, "i8", NULL, &err);
    expect_matrix(t, 1, 1, (double[]){-123});
    cr_tensor_free(t);
}
END_TEST

typedef struct idx_bad {
    const char *what;
    cr_status status;
    const char *message;
} idx_bad;

static const idx_bad idx_bads[] = {
    {"empty", CR_EFORMAT, "bad: truncated header (0 of 4 bytes)"},
    {"short magic", CR_EFORMAT, "bad: truncated header (2 of 4 bytes)"},
    {"magic", CR_EFORMAT, "bad: bad magic 0x1f000801: not an IDX file"},
    {"type", CR_EFORMAT, "bad: unknown element type 0x07"},
    {"0 dims", CR_EFORMAT, "bad: 0 dimensions; IDX files with 1 to 4 are supported"},
    {"5 dims", CR_EFORMAT, "bad: 5 dimensions; IDX files with 1 to 4 are supported"},
    {"short dims", CR_EFORMAT, "bad: truncated header (10 of 16 bytes)"},
    {"zero dim", CR_EFORMAT, "bad: dimension 2 is 0"},
    {"truncated", CR_EFORMAT, "bad: truncated: 18 bytes of data expected, 17 found"},
    {"huge", CR_EFORMAT, "bad: truncated: 4294967295 bytes of data expected, 3 found"},
    {"trailing", CR_EFORMAT, "bad: 2 bytes after the data"},
    {"nan", CR_EDOMAIN, "bad: item 1, value 2 is nan"},
    {"label", CR_EFORMAT, "bad: item 2: label 3 is not an integer in 0..2"},
    {"gz cut", CR_EFORMAT, "bad: truncated gzip data (unexpected end of file)"},
    {"gz corrupt", CR_EFORMAT, "bad: corrupt gzip data (invalid block type)"},
};

START_TEST(idx_errors)
{
    const idx_bad *b = &idx_bads[_i];
    unsigned char buf[256];
    size_t n = 0;
    cr_idx_options o = {0};
    const char *w = b->what;
    if (!strcmp(w, "short magic")) {
        n = 2;
        buf[0] = buf[1] = 0;
    } else if (!strcmp(w, "magic")) {
        n = tiny_images(buf);
        buf[0] = 0x1f;
        buf[2] = 0x08;
        buf[3] = 0x01;
    } else if (!strcmp(w, "type")) {
        n = tiny_images(buf);
        buf[2] = 0x07;
    } else if (!strcmp(w, "0 dims")) {
        n = tiny_images(buf);
        buf[3] = 0;
    } else if (!strcmp(w, "5 dims")) {
        n = tiny_images(buf);
        buf[3] = 5;
    } else if (!strcmp(w, "short dims")) {
        n = 10;
        tiny_images(buf);
    } else if (!strcmp(w, "zero dim")) {
        n = tiny_images(buf);
        buf[8] = buf[9] = buf[10] = buf[11] = 0;
    } else if (!strcmp(w, "truncated")) {
        n = tiny_images(buf) - 1;
    } else if (!strcmp(w, "huge")) {
        n = idx_header(buf, 0x08, 1, (unsigned[]){0xffffffffu});
        buf[n++] = 1;
        buf[n++] = 2;
        buf[n++] = 3;
    } else if (!strcmp(w, "trailing")) {
        n = tiny_labels(buf);
        buf[n++] = 9;
        buf[n++] = 9;
    } else if (!strcmp(w, "nan")) {
        n = idx_header(buf, 0x0D, 2, (unsigned[]){1, 2});
        memcpy(buf + n, (unsigned char[]){0, 0, 0, 0, 0x7f, 0xc0, 0, 0}, 8);
        n += 8;
    } else if (!strcmp(w, "label")) {
        n = tiny_labels(buf);
        buf[n - 2] = 3;
        o.num_classes = 3;
    } else if (!strcmp(w, "gz cut") || !strcmp(w, "gz corrupt")) {
        unsigned char raw[64];
        size_t nr = tiny_images(raw);
        z_stream zs = {0};
        ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                         Z_OK);
        zs.next_in = raw;
        zs.avail_in = (uInt)nr;
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
        n = zs.total_out;
        deflateEnd(&zs);
        if (!strcmp(w, "gz cut"))
            n -= 12; /* into the deflate data: the stream never ends */
        else
            buf[10] = 0xff; /* the first block header: type 3 is invalid */
    }
    cr_error err;
    cr_error_clear(&err);
    ck_assert_ptr_null(cr_idx_read_mem(buf, n, "bad", &o, &err));
    ck_assert_str_eq(err.message, b->message);
    ck_assert_int_eq(err.status, b->status);
    ck_assert_str_eq(err.where, "bad");
}
END_TEST

START_TEST(idx_load_errors)
{
    make_tmpdir();
    unsigned char img[64], lab[16];
    size_t ni = tiny_images(img), nl = tiny_labels(lab);
    const char *files[] = {"img", "lab", "lab2"};
    write_file(tmp_path(files[0]), img, ni, 0);
    write_file(tmp_path(files[1]), lab, nl - 1, 0);
    lab[7] = 2; /* 2 labels */
    write_file(tmp_path(files[2]), lab, nl - 1, 0);
    cr_error err;
    char expect[256];
    /* A truncated labels file. */
    ck_assert_ptr_null(cr_idx_load(tmp_path(files[0]), tmp_path(files[1]), NULL, &err));
    snprintf(expect, sizeof expect, "%s: truncated: 3 bytes of data expected, 2 found",
             tmp_path(files[1]));
    ck_assert_str_eq(err.message, expect);
    /* Counts differ. */
    ck_assert_ptr_null(cr_idx_load(tmp_path(files[0]), tmp_path(files[2]), NULL, &err));
    ck_assert_int_eq(err.status, CR_ESHAPE);
    snprintf(expect, sizeof expect, "%s: 2 labels for 3 images in %s", tmp_path(files[2]),
             tmp_path(files[0]));
    ck_assert_str_eq(err.message, expect);
    /* Images given as labels. */
    ck_assert_ptr_null(cr_idx_load(tmp_path(files[0]), tmp_path(files[0]), NULL, &err));
    snprintf(expect, sizeof expect,
             "%s: a labels file must have 1 dimension, this one has items of 6 values",
             tmp_path(files[0]));
    ck_assert_str_eq(err.message, expect);
    /* A missing file. */
    ck_assert_ptr_null(cr_idx_load(tmp_path("none"), tmp_path(files[1]), NULL, &err));
    ck_assert_int_eq(err.status, CR_ENOTFOUND);
    remove_tmpdir(files, 3);
}
END_TEST

#define FASHION "/usr/share/datasets/fashion-mnist/"

START_TEST(fashion_mnist_subset)
{
    if (access(FASHION "t10k-images-idx3-ubyte.gz", R_OK) != 0 ||
        access(FASHION "t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "fashion_mnist_subset: skipped, %s not installed\n", FASHION);
        return;
    }
    cr_idx_options o = {.max_rows = 1000, .scale = 1, .one_hot = 1, .num_classes = 10};
    cr_error err;
    cr_dataset *ds = cr_idx_load(FASHION "t10k-images-idx3-ubyte.gz",
                                 FASHION "t10k-labels-idx1-ubyte.gz", &o, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    ck_assert_uint_eq(cr_dataset_rows(ds), 1000);
    ck_assert_uint_eq(cr_dataset_cols(ds), 784);
    ck_assert_uint_eq(cr_dataset_target_cols(ds), 10);
    /* Class counts among the first 1000 test labels (zcat | od | sort | uniq -c). */
    static const size_t counts[10] = {107, 105, 111, 93, 115, 87, 97, 95, 95, 95};
    const double *y = cr_tensor_data(cr_dataset_targets(ds));
    for (size_t c = 0; c < 10; c++) {
        double n = 0;
        for (size_t i = 0; i < 1000; i++)
            n += y[i * 10 + c];
        ck_assert_double_eq(n, (double)counts[c]);
    }
    const double *x = cr_tensor_data(cr_dataset_features(ds));
    double lo = 1, hi = 0;
    for (size_t i = 0; i < 1000 * 784; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    ck_assert_double_eq(lo, 0.0);
    ck_assert_double_eq(hi, 1.0);
    cr_dataset_free(ds);
}
END_TEST

/* ---- batching, split, standardisation ---- */

START_TEST(shuffle_deterministic)
{
    size_t a[10], b[10], c[10];
    for (size_t i = 0; i < 10; i++)
        a[i] = b[i] = c[i] = i;
    ck_assert_int_eq(cr_data_shuffle(a, 10, 42, NULL), CR_OK);
    ck_assert_int_eq(cr_data_shuffle(b, 10, 42, NULL), CR_OK);
    ck_assert_int_eq(cr_data_shuffle(c, 10, 43, NULL), CR_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    /* A permutation: every index once. */
    int seen[10] = {0};
    for (size_t i = 0; i < 10; i++)
        seen[a[i]]++;
    for (size_t i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    /* The order mt19937 with seed 42 gives through gsl_ran_shuffle, on any
     * machine. */
    static const size_t expect42[10] = {5, 0, 6, 2, 9, 4, 1, 8, 7, 3};
    ck_assert_mem_eq(a, expect42, sizeof a);
    ck_assert_int_eq(cr_data_shuffle(NULL, 0, 1, NULL), CR_OK);
    cr_error err;
    ck_assert_int_eq(cr_data_shuffle(NULL, 3, 1, &err), CR_EINVAL);
}
END_TEST

START_TEST(gather_batches)
{
    cr_error err;
    cr_dataset *ds = csv_text("1,2,10\n3,4,20\n5,6,30\n7,8,40\n", NULL, &err);
    ck_assert_ptr_nonnull(ds);
    size_t shape[2] = {3, 2}, yshape[2] = {3, 1};
    cr_tensor *x = cr_tensor_new(2, shape, &err), *y = cr_tensor_new(2, yshape, &err);
    cr_tensor_fill(x, -1);
    size_t rows[3] = {3, 0, 2};
    test_alloc_install(0);
    ck_assert_int_eq(cr_dataset_batch(ds, rows, 2, x, y, &err), CR_OK);
    ck_assert_uint_eq(test_alloc.allocations, 0);
    test_alloc_uninstall();
    /* Two rows copied; the third row of x untouched. */
    expect_matrix(x, 3, 2, (double[]){7, 8, 1, 2, -1, -1});
    ck_assert_double_eq(cr_tensor_get(y, 0), 40);
    ck_assert_double_eq(cr_tensor_get(y, 1), 10);
    ck_assert_int_eq(cr_dataset_batch(ds, rows, 3, x, NULL, &err), CR_OK);
    ck_assert_double_eq(cr_tensor_get(x, 4), 5);
    /* Errors. */
    rows[1] = 4;
    ck_assert_int_eq(cr_data_gather(cr_dataset_features(ds), rows, 3, x, &err), CR_ERANGE);
    ck_assert_str_eq(err.message, "row index 4 at position 1 is out of range (4 rows)");
    ck_assert_int_eq(cr_data_gather(cr_dataset_features(ds), rows, 4, x, &err), CR_ESHAPE);
    ck_assert_str_eq(err.message, "cannot copy 4 rows of [4,2] into [3,2]");
    ck_assert_int_eq(cr_data_gather(cr_dataset_features(ds), rows, 1, y, &err), CR_ESHAPE);
    ck_assert_str_eq(err.message, "cannot copy 1 rows of [4,2] into [3,1]");
    ck_assert_int_eq(cr_data_gather(x, rows, 1, x, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "source and destination are the same tensor");
    cr_tensor_free(x);
    cr_tensor_free(y);
    cr_dataset_free(ds);
}
END_TEST

START_TEST(split)
{
    /* 10 rows: feature i, target 10*i. */
    char text[256];
    size_t len = 0;
    for (int i = 0; i < 10; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%d,%d\n", i, 10 * i);
    cr_error err;
    cr_dataset *ds = csv_text(text, NULL, &err), *tr, *va, *tr2, *va2;
    ck_assert_int_eq(cr_dataset_split(ds, 0.3, 7, &tr, &va, &err), CR_OK);
    ck_assert_uint_eq(cr_dataset_rows(tr), 7);
    ck_assert_uint_eq(cr_dataset_rows(va), 3);
    /* Rows stay whole, and train + validation is every row once. */
    int seen[10] = {0};
    cr_dataset *parts[2] = {tr, va};
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < cr_dataset_rows(parts[p]); i++) {
            double f = cr_tensor_get(cr_dataset_features(parts[p]), i);
            ck_assert_double_eq(cr_tensor_get(cr_dataset_targets(parts[p]), i), 10 * f);
            seen[(int)f]++;
        }
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Same seed, same split. */
    ck_assert_int_eq(cr_dataset_split(ds, 0.3, 7, &tr2, &va2, &err), CR_OK);
    ck_assert_mem_eq(cr_tensor_data(cr_dataset_features(va)),
                     cr_tensor_data(cr_dataset_features(va2)), 3 * sizeof(double));
    cr_dataset_free(tr2);
    cr_dataset_free(va2);
    cr_dataset_free(tr);
    cr_dataset_free(va);
    ck_assert_int_eq(cr_dataset_split(ds, 0.01, 7, &tr, &va, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "validation fraction 0.01 of 10 rows must leave at least "
                                  "one row on each side");
    ck_assert_ptr_null(tr);
    ck_assert_ptr_null(va);
    ck_assert_int_eq(cr_dataset_split(ds, 1.0, 7, &tr, &va, &err), CR_EINVAL);
    cr_dataset_free(ds);
}
END_TEST

START_TEST(standardize)
{
    /* Columns: [1,2,3,4] (mean 2.5, population std sqrt(1.25)),
     * [10,10,10,10] (constant: std 1), [-2,0,2,4] (mean 1, std sqrt(5)). */
    double v[12] = {1, 10, -2, 2, 10, 0, 3, 10, 2, 4, 10, 4};
    size_t shape[2] = {4, 3};
    cr_error err;
    cr_tensor *x = cr_tensor_new_from(2, shape, v, &err);
    cr_standardizer *s = cr_standardizer_fit(x, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(cr_standardizer_cols(s), 3);
    const double *mean = cr_standardizer_mean(s), *std = cr_standardizer_std(s);
    ck_assert_double_eq_tol(mean[0], 2.5, TOL);
    ck_assert_double_eq_tol(mean[1], 10, TOL);
    ck_assert_double_eq_tol(mean[2], 1, TOL);
    ck_assert_double_eq_tol(std[0], 1.118033988749895, TOL);
    ck_assert_double_eq_tol(std[1], 1, TOL);
    ck_assert_double_eq_tol(std[2], 2.23606797749979, TOL);
    ck_assert_int_eq(cr_standardizer_apply(s, x, &err), CR_OK);
    /* (1-2.5)/1.118034 = -1.3416407865, (4-1)/2.2360680 = 1.3416407865 */
    ck_assert_double_eq_tol(cr_tensor_get(x, 0), -1.3416407864998738, TOL);
    ck_assert_double_eq_tol(cr_tensor_get(x, 1), 0, TOL);
    ck_assert_double_eq_tol(cr_tensor_get(x, 11), 1.3416407864998738, TOL);
    /* Round trip through the stored numbers. */
    cr_standardizer *s2 = cr_standardizer_new(3, mean, std, &err);
    ck_assert_ptr_nonnull(s2);
    ck_assert_mem_eq(cr_standardizer_std(s2), std, 3 * sizeof(double));
    /* Errors. */
    double bad_std[3] = {1, 0, 1};
    ck_assert_ptr_null(cr_standardizer_new(3, mean, bad_std, &err));
    ck_assert_int_eq(err.status, CR_EDOMAIN);
    ck_assert_str_eq(err.message,
                     "column 2: mean 10 and std 0 must be finite, std above 0");
    size_t wrong[2] = {2, 2};
    cr_tensor *w = cr_tensor_new(2, wrong, &err);
    ck_assert_int_eq(cr_standardizer_apply(s2, w, &err), CR_ESHAPE);
    ck_assert_str_eq(err.message,
                     "features [2,2] do not have the 3 columns the statistics have");
    cr_tensor_free(w);
    cr_standardizer_free(s);
    cr_standardizer_free(s2);
    cr_tensor_free(x);
}
END_TEST

START_TEST(dataset_new_steals)
{
    cr_error err;
    size_t a[2] = {3, 2}, b[2] = {2, 1}, c[1] = {3};
    /* On success and on failure, the tensors belong to the call. */
    cr_dataset *ds =
        cr_dataset_new(cr_tensor_new(2, a, &err), cr_tensor_new(2, b, &err), 0, &err);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(err.status, CR_ESHAPE);
    ck_assert_str_eq(err.message,
                     "features [3,2] and targets [2,1] have different row counts");
    ds = cr_dataset_new(cr_tensor_new(1, c, &err), NULL, 0, &err);
    ck_assert_ptr_null(ds);
    ck_assert_str_eq(err.message,
                     "features and targets must be matrices, got [3] and none");
    ds = cr_dataset_new(cr_tensor_new(2, a, &err), NULL, 2, &err);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(cr_dataset_num_classes(ds), 2);
    cr_dataset_free(ds);
    /* The same tensor as features and targets: refused, and freed once
     * (it was stolen twice and freed twice). */
    test_alloc_install(0);
    cr_tensor *t = cr_tensor_new(2, a, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(cr_dataset_new(t, t, 0, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "features and targets are the same tensor");
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
    /* NULL data sets and standardizers: "nothing", not a crash. */
    ck_assert_uint_eq(cr_dataset_rows(NULL), 0);
    ck_assert_uint_eq(cr_dataset_cols(NULL), 0);
    ck_assert_uint_eq(cr_dataset_target_cols(NULL), 0);
    ck_assert_uint_eq(cr_dataset_num_classes(NULL), 0);
    ck_assert_ptr_null(cr_dataset_features(NULL));
    ck_assert_ptr_null(cr_dataset_targets(NULL));
    ck_assert_uint_eq(cr_standardizer_cols(NULL), 0);
    ck_assert_ptr_null(cr_standardizer_mean(NULL));
    ck_assert_ptr_null(cr_standardizer_std(NULL));
}
END_TEST

START_TEST(csv_out_of_memory)
{
    /* Failing each allocation in turn: an error, never a crash or a leak. */
    const char *text = "a,b,c\n1,2,0\n3,4,1\n5,6,2\n";
    cr_csv_options o = {.one_hot = 1};
    size_t k;
    for (k = 1; k < 40; k++) {
        test_alloc_install(k);
        cr_error err;
        cr_dataset *ds = csv_text(text, &o, &err);
        size_t failures = test_alloc.failures;
        int shrink = test_alloc.failed_shrink;
        cr_dataset_free(ds);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (failures == 0) {
            ck_assert_ptr_nonnull(ds);
            break;
        }
        /* Only a failed shrink of a buffer is survived. */
        if (ds)
            ck_assert_msg(shrink, "allocation %zu failed, yet the load succeeded", k);
        else
            ck_assert_int_eq(err.status, CR_ENOMEM);
    }
    ck_assert_uint_lt(k, 40); /* it succeeded once nothing failed */
}
END_TEST

START_TEST(idx_out_of_memory)
{
    /* The same for a gzip'd IDX file in memory (zlib allocates through the
     * chainrule allocator too). */
    unsigned char raw[64], z[128];
    size_t nr = tiny_labels(raw);
    z_stream zs = {0};
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    zs.next_in = raw;
    zs.avail_in = (uInt)nr;
    zs.next_out = z;
    zs.avail_out = sizeof z;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zn = zs.total_out;
    deflateEnd(&zs);
    cr_idx_options o = {.one_hot = 1};
    size_t k;
    for (k = 1; k < 40; k++) {
        test_alloc_install(k);
        cr_error err;
        cr_tensor *t = cr_idx_read_mem(z, zn, "labels.gz", &o, &err);
        size_t failures = test_alloc.failures;
        cr_tensor_free(t);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (failures == 0) {
            ck_assert_ptr_nonnull(t);
            break;
        }
        ck_assert_ptr_null(t);
        ck_assert_int_eq(err.status, CR_ENOMEM);
    }
    ck_assert_uint_lt(k, 40);
}
END_TEST

Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, csv_header_auto);
    tcase_add_test(tc, csv_header_info);
    tcase_add_test(tc, csv_input_limit);
    tcase_add_test(tc, csv_delimiter_quotes_crlf);
    tcase_add_test(tc, csv_targets);
    tcase_add_test(tc, csv_one_hot);
    tcase_add_test(tc, csv_files_and_streaming);
    tcase_add_test(tc, csv_gzip_members);
    tcase_add_test(tc, csv_from_a_pipe);
    tcase_add_test(tc, csv_fixtures);
    tcase_add_loop_test(tc, csv_errors, 0, (int)(sizeof csv_bads / sizeof csv_bads[0]));
    tcase_add_test(tc, csv_file_errors);
    tcase_add_test(tc, csv_out_of_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("idx");
    tcase_add_test(tc, idx_round_trip);
    tcase_add_test(tc, idx_types);
    tcase_add_test(tc, idx_bytes);
    tcase_add_loop_test(tc, idx_errors, 0, (int)(sizeof idx_bads / sizeof idx_bads[0]));
    tcase_add_test(tc, idx_load_errors);
    tcase_add_test(tc, idx_out_of_memory);
    tcase_add_test(tc, fashion_mnist_subset);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("batches");
    tcase_add_test(tc, shuffle_deterministic);
    tcase_add_test(tc, gather_batches);
    tcase_add_test(tc, split);
    tcase_add_test(tc, standardize);
    tcase_add_test(tc, dataset_new_steals);
    suite_add_tcase(s, tc);
    return s;
}
