/*
 * check_reliability.c - the guarantees of docs/reliability.md that need a
 * process of their own or cut across modules: out of memory at every
 * allocation of each family of public calls (CR_ENOMEM, nothing leaked,
 * the objects usable afterwards; the points covered are printed as
 * "oom-points: FAMILY: N" for the doc), a model save killed with SIGKILL
 * at random moments (the file always loads, as the old or the new model),
 * what the file writer does with what a path names (modes, symbolic
 * links, devices, FIFOs, directories, sockets, hard links, stale
 * temporary files), saves that refuse non-finite parameters, and limits:
 * absurd sizes in IDX and model files refused before any large
 * allocation, huge files, long lines, deep nesting and long expressions;
 * and numbers read and written the C way under a host locale with a
 * decimal comma.
 */
#define _DEFAULT_SOURCE 1 /* flock */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ---- */

static char tmpdir[32];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cr-rel-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static char *tmp_path(const char *name)
{
    static char path[2][320];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", tmpdir, name);
    return path[which];
}

/* Removes every file of tmpdir and tmpdir itself. */
static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(tmp_path(e->d_name));
        closedir(d);
    }
    rmdir(tmpdir);
}

/* The number of files in tmpdir whose name starts with prefix. */
static int count_files(const char *prefix)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static cr_mlp *small_mlp(unsigned long seed)
{
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 3, 2);
    s.n_hidden = 1;
    s.hidden[0] = 4;
    s.out_act = CR_ACT_SOFTMAX;
    s.loss = CR_LOSS_XENT;
    s.seed = seed;
    cr_error err;
    return cr_mlp_new(&s, &err);
}

/* ---- out of memory, family by family ---- */

/* A family of calls: setup (not failed) makes what the call needs, run is
 * the call under test (it frees what it makes), teardown frees setup's. */
typedef struct family {
    const char *name;
    void *(*setup)(void);
    cr_status (*run)(void *obj);
    void (*teardown)(void *obj);
} family;

/* Set by a run that succeeded without an optional result the library
 * documents as given up when out of memory (a debug record's chain text). */
static int optional_lost;

/* Fails the k-th allocation of run, for k = 1, 2, ... until run goes
 * through without reaching it. Each failure must give CR_ENOMEM, leak
 * nothing, and leave setup's objects usable: run again without failures
 * must succeed. The only failures that may give CR_OK are the optional
 * allocations of docs/reliability.md: a shrinking cr_realloc (the larger
 * block is kept) and a training debug record's chain text (left NULL).
 * Prints and returns the points covered. */
static size_t oom_sweep(const family *f)
{
    size_t points = 0, survived = 0;
    for (size_t k = 1;; k++) {
        test_alloc_install(0);
        void *obj = f->setup ? f->setup() : NULL;
        ck_assert(!f->setup || obj);
        test_alloc.fail_at = test_alloc.allocations + k;
        optional_lost = 0;
        cr_status st = f->run(obj);
        const size_t failures = test_alloc.failures;
        const int optional = test_alloc.failed_shrink || optional_lost;
        test_alloc.fail_at = 0;
        if (failures) {
            ck_assert_msg(st == CR_ENOMEM || (st == CR_OK && optional),
                          "%s: failing allocation %zu gave %s", f->name, k,
                          cr_strerror(st));
            points++;
            survived += st == CR_OK;
            ck_assert_msg(f->run(obj) == CR_OK, "%s: not usable after failure %zu", f->name,
                          k);
        } else {
            ck_assert_int_eq(st, CR_OK);
            ck_assert(!optional_lost);
        }
        if (f->teardown)
            f->teardown(obj);
        ck_assert_msg(test_alloc.live == 0, "%s: failing allocation %zu leaked %ld blocks",
                      f->name, k, test_alloc.live);
        test_alloc_uninstall();
        if (!failures)
            break;
    }
    fprintf(stderr, "oom-points: %s: %zu (%zu survived as optional)\n", f->name, points,
            survived);
    return points;
}

/* The seed article's neuron, forward and backward done. */
typedef struct neuron {
    cr_graph *g;
    cr_node *w1, *E;
} neuron;

static cr_status neuron_build(neuron *n)
{
    if (!(n->g = cr_graph_new()))
        return CR_ENOMEM;
    cr_graph *g = n->g;
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1), *x2 = cr_input_scalar(g, "x2", 0.3);
    n->w1 = cr_param_scalar(g, "w1", 0.5);
    cr_node *w2 = cr_param_scalar(g, "w2", 0.2), *b = cr_param_scalar(g, "b", 1.83);
    cr_node *d = cr_input_scalar(g, "d", 0.03);
    cr_node *s = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){n->w1, w2}, b);
    n->E = cr_sq_error(g, cr_sigmoid(g, s), d);
    if (!n->E)
        return cr_graph_error(g)->status;
    cr_status st = cr_graph_forward(g, n->E);
    return st != CR_OK ? st : cr_graph_backward(g, n->E, 0);
}

static cr_status run_graph(void *obj)
{
    (void)obj;
    neuron n = {0};
    cr_status st = neuron_build(&n);
    if (st == CR_OK)
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(n.w1), 0), 0.009276093, 1e-9);
    cr_graph_free(n.g);
    return st;
}

static void *setup_neuron(void)
{
    neuron *n = calloc(1, sizeof *n);
    ck_assert_int_eq(neuron_build(n), CR_OK);
    return n;
}

static void teardown_neuron(void *obj)
{
    neuron *n = obj;
    cr_graph_free(n->g);
    free(n);
}

/* Three Adam steps (forward, backward, update). */
static cr_status run_optim(void *obj)
{
    neuron *n = obj;
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_ADAM);
    cr_error err;
    cr_optim *opt = cr_optim_new(n->g, &o, &err);
    if (!opt)
        return err.status;
    cr_status st = CR_OK;
    for (int i = 0; i < 3 && st == CR_OK; i++)
        if ((st = cr_graph_forward(n->g, n->E)) == CR_OK &&
            (st = cr_graph_backward(n->g, n->E, 0)) == CR_OK)
            st = cr_optim_step(opt);
    cr_optim_free(opt);
    return st;
}

static cr_status run_dot(void *obj)
{
    neuron *n = obj;
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = n->E;
    o.highlight = n->w1;
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    cr_status st = cr_dot_write(n->g, f, &o);
    fclose(f);
    if (st == CR_OK)
        st = cr_dot_write_file(n->g, tmp_path("n.dot"), &o);
    return st;
}

static cr_status run_chain(void *obj)
{
    neuron *n = obj;
    cr_chain_options o;
    cr_chain_options_init(&o);
    cr_chain *c = cr_chain_new(n->g, n->E, n->w1, &o);
    if (!c)
        return cr_graph_error(n->g)->status;
    const int len = cr_chain_format(c, 0, NULL, 0); /* -1: out of memory */
    cr_chain_free(c);
    return len > 0 ? CR_OK : CR_ENOMEM;
}

static void *setup_mlp(void) { return small_mlp(3); }

static void teardown_mlp(void *obj) { cr_mlp_free(obj); }

/* Two epochs of mini-batch training with validation and early stopping,
 * with a debug record per epoch when debug is 1; *s to be freed. */
static cr_status train_small(void *obj, int debug, cr_train_stats *s)
{
    enum { ROWS = 12 };
    double x[3 * ROWS], y[2 * ROWS];
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < 3; j++)
            x[3 * i + j] = (double)((i * 7 + j * 3) % 5) / 5.0 - 0.4;
        y[2 * i] = i % 2;
        y[2 * i + 1] = 1 - i % 2;
    }
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 2;
    o.batch = 4;
    o.val_split = 0.25;
    o.patience = 1;
    o.debug = debug;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    cr_error err;
    return cr_mlp_train(obj, x, y, ROWS, &o, s, &err);
}

static cr_status run_train(void *obj)
{
    cr_train_stats s;
    cr_status st = train_small(obj, 0, &s);
    cr_train_stats_free(&s);
    return st;
}

/* Training with debug records: a record whose chain text could not be
 * made (NULL) is the one optional result of training. */
static cr_status run_train_debug(void *obj)
{
    cr_train_stats s;
    cr_status st = train_small(obj, 1, &s);
    if (st == CR_OK) {
        ck_assert_uint_ge(s.n_debug, 1);
        for (size_t i = 0; i < s.n_debug; i++)
            if (!s.debug[i].chain_text)
                optional_lost = 1;
            else
                ck_assert_ptr_nonnull(strstr(s.debug[i].chain_text, "/dW1 = d"));
    }
    cr_train_stats_free(&s);
    return st;
}

static cr_status run_save(void *obj)
{
    cr_error err;
    return cr_mlp_save(obj, tmp_path("m.crm"), &err);
}

static unsigned char *model_bytes;
static size_t model_size;

static cr_status run_load(void *obj)
{
    (void)obj;
    cr_error err;
    cr_mlp *m = cr_mlp_load_mem(model_bytes, model_size, "m.crm", NULL, &err);
    if (m) {
        cr_mlp_free(m);
        m = cr_mlp_load(tmp_path("m.crm"), NULL, &err);
    }
    cr_mlp_free(m);
    return m ? CR_OK : err.status;
}

static cr_status run_parse(void *obj)
{
    (void)obj;
    static const char text[] = "# the seed neuron\n"
                               "s = x1*w1 + x2*w2 + b\ny = sigmoid(s)\nE = 0.5*(y - d)^2\n";
    cr_graph *g = cr_graph_new();
    if (!g)
        return CR_ENOMEM;
    cr_expr_program *p = NULL;
    cr_error err;
    cr_status st = cr_expr_parse(g, text, strlen(text), &p, &err);
    for (size_t i = 0; st == CR_OK && i < cr_expr_num_inputs(p); i++)
        st = cr_expr_set(p, cr_expr_input(p, i)->name, 0.5, &err);
    if (st == CR_OK)
        st = cr_expr_eval(p, &err);
    cr_expr_free(p);
    cr_graph_free(g);
    return st;
}

static cr_status run_csv(void *obj)
{
    (void)obj;
    static const char text[] = "a,\"b c\",label\n1,2,0\n3,4.5,1\n-5,6e1,2\n";
    cr_csv_options o = {.one_hot = 1};
    cr_error err;
    cr_dataset *ds = cr_csv_load_mem(text, strlen(text), "t.csv", &o, &err);
    cr_dataset_free(ds);
    return ds ? CR_OK : err.status;
}

/* An IDX file: 0 0 TYPE NDIMS, big-endian dimensions, then the data. */
static size_t idx_header(unsigned char *buf, int ndims, const unsigned *dims)
{
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = 0x08; /* unsigned bytes */
    buf[n++] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++)
        for (int b = 3; b >= 0; b--)
            buf[n++] = (unsigned char)(dims[i] >> (8 * b));
    return n;
}

static cr_status run_idx(void *obj)
{
    (void)obj;
    unsigned char raw[64], z[128];
    size_t n = idx_header(raw, 3, (unsigned[]){2, 2, 3});
    for (int i = 0; i < 12; i++)
        raw[n++] = (unsigned char)(i * 20);
    z_stream zs = {0}; /* gzip'd: zlib allocates through cr_malloc too */
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    zs.next_in = raw;
    zs.avail_in = (uInt)n;
    zs.next_out = z;
    zs.avail_out = sizeof z;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    const size_t zn = zs.total_out;
    deflateEnd(&zs);
    cr_idx_options o = {.scale = 1};
    cr_error err;
    cr_tensor *t = cr_idx_read_mem(z, zn, "img.idx.gz", &o, &err);
    cr_tensor_free(t);
    return t ? CR_OK : err.status;
}

/* The CSV and IDX files the file families load, each plain and gzip'd. */
static const char oom_csv[] = "x1,x2,label\n0.5,-1.25,1\n2,3e-1,0\n\"4\",5,1\n";

static void write_plain_and_gz(const char *name, const void *data, size_t size)
{
    FILE *f = fopen(tmp_path(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    char gz_name[64];
    snprintf(gz_name, sizeof gz_name, "%s.gz", name);
    gzFile gz = gzopen(tmp_path(gz_name), "wb");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, data, (unsigned)size), (int)size);
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

static void write_oom_files(void)
{
    write_plain_and_gz("t.csv", oom_csv, strlen(oom_csv));
    unsigned char img[64], lab[16];
    size_t n = idx_header(img, 3, (unsigned[]){3, 2, 2});
    for (int i = 0; i < 12; i++)
        img[n++] = (unsigned char)(i * 21);
    write_plain_and_gz("img.idx", img, n);
    n = idx_header(lab, 1, (unsigned[]){3});
    lab[n++] = 2;
    lab[n++] = 0;
    lab[n++] = 1;
    write_plain_and_gz("lab.idx", lab, n);
}

static cr_status run_csv_files(void *obj)
{
    (void)obj;
    cr_csv_options o = {.one_hot = 1};
    cr_error err;
    const char *names[] = {"t.csv", "t.csv.gz"};
    for (int i = 0; i < 2; i++) {
        cr_dataset *ds = cr_csv_load(tmp_path(names[i]), &o, &err);
        if (!ds)
            return err.status;
        ck_assert_uint_eq(cr_dataset_rows(ds), 3);
        ck_assert_uint_eq(cr_dataset_num_classes(ds), 2);
        ck_assert_double_eq(cr_tensor_get(cr_dataset_features(ds), 4), 4.0);
        cr_dataset_free(ds);
    }
    return CR_OK;
}

static cr_status run_idx_files(void *obj)
{
    (void)obj;
    cr_idx_options o = {.scale = 1, .one_hot = 1};
    cr_error err;
    for (int gz = 0; gz < 2; gz++) {
        cr_dataset *ds = cr_idx_load(tmp_path(gz ? "img.idx.gz" : "img.idx"),
                                     tmp_path(gz ? "lab.idx.gz" : "lab.idx"), &o, &err);
        if (!ds)
            return err.status;
        ck_assert_uint_eq(cr_dataset_cols(ds), 4);
        ck_assert_uint_eq(cr_dataset_num_classes(ds), 3);
        ck_assert_double_eq_tol(cr_tensor_get(cr_dataset_features(ds), 11), 231 / 255.0,
                                1e-15);
        cr_dataset_free(ds);
    }
    cr_idx_bytes b;
    cr_idx_options two = {.max_rows = 2};
    cr_status st = cr_idx_read_bytes(tmp_path("img.idx.gz"), &two, &b, &err);
    if (st == CR_OK) {
        ck_assert_uint_eq(b.items * b.item_size, 8);
        ck_assert_uint_eq(b.data[7], 7 * 21);
    }
    cr_idx_bytes_free(&b);
    return st;
}

START_TEST(test_oom_families)
{
    make_tmpdir();
    cr_mlp *m = small_mlp(5);
    cr_error err;
    ck_assert_int_eq(cr_mlp_save(m, tmp_path("m.crm"), &err), CR_OK);
    cr_mlp_free(m);
    model_bytes = test_slurp(tmp_path("m.crm"), &model_size);
    write_oom_files();
    const family families[] = {
        {"graph build, forward, backward", NULL, run_graph, NULL},
        {"optimizer (Adam) steps", setup_neuron, run_optim, teardown_neuron},
        {"nn training (cr_mlp_train)", setup_mlp, run_train, teardown_mlp},
        {"nn training with debug records", setup_mlp, run_train_debug, teardown_mlp},
        {"model save", setup_mlp, run_save, teardown_mlp},
        {"model load", NULL, run_load, NULL},
        {"expression parse and eval", NULL, run_parse, NULL},
        {"CSV load", NULL, run_csv, NULL},
        {"IDX load", NULL, run_idx, NULL},
        {"CSV files (plain and .gz)", NULL, run_csv_files, NULL},
        {"IDX files (plain and .gz)", NULL, run_idx_files, NULL},
        {"DOT write (stream and file)", setup_neuron, run_dot, teardown_neuron},
        {"chains", setup_neuron, run_chain, teardown_neuron},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        const size_t points = oom_sweep(&families[i]);
        ck_assert_uint_ge(points, 2);
        total += points;
    }
    fprintf(stderr, "oom-points: the %zu families: %zu\n",
            sizeof families / sizeof *families, total);
    free(model_bytes);
    /* no temporary file left by any failed save or DOT write */
    ck_assert_int_eq(count_files("m.crm.tmp-") + count_files("n.dot.tmp-"), 0);
    remove_tmpdir();
}
END_TEST

/* ---- kill -9 during saves ---- */

/* A child saves two models in turn, over and over, into one file; it is
 * killed with SIGKILL at a random moment (seeded), and the file then
 * loads and is byte for byte one of the two models. At most one temporary
 * file (the one being written) is left, and the next save removes it. */
START_TEST(test_kill_during_save)
{
    make_tmpdir();
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 256, 10);
    s.n_hidden = 2;
    s.hidden[0] = 512;
    s.hidden[1] = 256; /* 265,482 weights: a 2 MB file */
    cr_error err;
    cr_mlp *models[2];
    unsigned char *bytes[2];
    size_t sizes[2];
    for (int i = 0; i < 2; i++) {
        s.seed = (unsigned long)i + 1;
        models[i] = cr_mlp_new(&s, &err);
        ck_assert_ptr_nonnull(models[i]);
        char name[16];
        snprintf(name, sizeof name, "ref%d.crm", i);
        ck_assert_int_eq(cr_mlp_save(models[i], tmp_path(name), &err), CR_OK);
        bytes[i] = test_slurp(tmp_path(name), &sizes[i]);
    }
    char path[320];
    snprintf(path, sizeof path, "%s", tmp_path("m.crm"));
    ck_assert_int_eq(cr_mlp_save(models[0], path, &err), CR_OK);
    srand(20261129);
    int mid_write = 0;
    for (int round = 0; round < 8; round++) {
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (unsigned long i = 0;; i++)
                if (cr_mlp_save(models[i % 2], path, &err) != CR_OK)
                    _exit(3);
        }
        struct timespec ts = {0, (long)(rand() % 200) * 1000000L}; /* 0-199 ms */
        nanosleep(&ts, NULL);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* the file loads, and is one of the two models, complete */
        cr_mlp *back = cr_mlp_load(path, &s, &err);
        ck_assert_msg(back != NULL, "round %d: %s", round, err.message);
        cr_mlp_free(back);
        size_t n;
        unsigned char *now = test_slurp(path, &n);
        ck_assert((n == sizes[0] && memcmp(now, bytes[0], n) == 0) ||
                  (n == sizes[1] && memcmp(now, bytes[1], n) == 0));
        free(now);
        /* at most the killed save's own temporary file: the next save
         * (the next round's child) removes it */
        int stale = count_files("m.crm.tmp-");
        ck_assert_int_le(stale, 1);
        mid_write += stale;
    }
    fprintf(stderr, "kill-during-save: 8 rounds, %d killed mid-write\n", mid_write);
    ck_assert_int_eq(cr_mlp_save(models[0], path, &err), CR_OK);
    ck_assert_int_eq(count_files("m.crm.tmp-"), 0);
    for (int i = 0; i < 2; i++) {
        cr_mlp_free(models[i]);
        free(bytes[i]);
    }
    remove_tmpdir();
}
END_TEST

/* ---- what the writer does with what a path names ---- */

static const char new_text[] = "new content\n";

static cr_status write_new(const char *path)
{
    cr_error err;
    return cr_io_write_atomic(path, new_text, strlen(new_text), &err);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void expect_text(const char *path, const char *text)
{
    size_t n;
    unsigned char *got = test_slurp(path, &n);
    ck_assert_uint_eq(n, strlen(text));
    ck_assert_mem_eq(got, text, n);
    free(got);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode;
}

/* An existing file keeps its mode; a new one gets 0666 & ~umask. */
START_TEST(test_write_modes)
{
    make_tmpdir();
    const char *path = tmp_path("private.crm");
    write_text(path, "old");
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(write_new(path), CR_OK);
    expect_text(path, new_text);
    ck_assert_uint_eq(mode_of(path) & 07777, 0600);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(write_new(path), CR_OK);
    ck_assert_uint_eq(mode_of(path) & 07777, 0640);
    const mode_t saved = umask(077);
    ck_assert_int_eq(write_new(tmp_path("new1")), CR_OK);
    umask(022);
    ck_assert_int_eq(write_new(tmp_path("new2")), CR_OK);
    umask(saved);
    ck_assert_uint_eq(mode_of(tmp_path("new1")) & 07777, 0600);
    ck_assert_uint_eq(mode_of(tmp_path("new2")) & 07777, 0644);
    ck_assert_int_eq(count_files("private.crm.tmp-") + count_files("new"), 2);
    remove_tmpdir();
}
END_TEST

/* A symbolic link is followed: its target is replaced (or created, for a
 * dangling link) and the link stays a link. */
START_TEST(test_write_follows_links)
{
    make_tmpdir();
    write_text(tmp_path("real.dot"), "old");
    ck_assert_int_eq(symlink("real.dot", tmp_path("link.dot")), 0);
    ck_assert_int_eq(symlink("link.dot", tmp_path("link2.dot")), 0); /* two hops */
    ck_assert_int_eq(write_new(tmp_path("link2.dot")), CR_OK);
    ck_assert(S_ISLNK(mode_of(tmp_path("link.dot"))));
    ck_assert(S_ISLNK(mode_of(tmp_path("link2.dot"))));
    ck_assert(S_ISREG(mode_of(tmp_path("real.dot"))));
    expect_text(tmp_path("real.dot"), new_text);
    /* a dangling link, relative, into a subdirectory */
    ck_assert_int_eq(mkdir(tmp_path("sub"), 0755), 0);
    ck_assert_int_eq(symlink("sub/later.dot", tmp_path("dangling.dot")), 0);
    ck_assert_int_eq(write_new(tmp_path("dangling.dot")), CR_OK);
    ck_assert(S_ISLNK(mode_of(tmp_path("dangling.dot"))));
    expect_text(tmp_path("sub/later.dot"), new_text);
    ck_assert_int_eq(count_files("real.dot.tmp-"), 0);
    unlink(tmp_path("sub/later.dot"));
    rmdir(tmp_path("sub"));
    remove_tmpdir();
}
END_TEST

/* A character device is written straight through and stays a device. */
START_TEST(test_write_char_device)
{
    ck_assert(S_ISCHR(mode_of("/dev/null")));
    ck_assert_int_eq(write_new("/dev/null"), CR_OK);
    ck_assert(S_ISCHR(mode_of("/dev/null")));
    DIR *d = opendir("/dev");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(strncmp(e->d_name, "null.tmp-", 9) != 0, "/dev/%s", e->d_name);
    closedir(d);
}
END_TEST

/* A FIFO is written straight through to its reader and stays a FIFO. */
START_TEST(test_write_fifo)
{
    make_tmpdir();
    const char *path = tmp_path("pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char buf[64];
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        _exit(n == strlen(new_text) && memcmp(buf, new_text, n) == 0 ? 0 : 1);
    }
    ck_assert_int_eq(write_new(path), CR_OK);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(S_ISFIFO(mode_of(path)));
    ck_assert_int_eq(count_files("pipe"), 1);
    remove_tmpdir();
}
END_TEST

/* Directories and sockets are refused, and left as they are. */
START_TEST(test_write_refuses_other_files)
{
    make_tmpdir();
    cr_error err;
    char expect[400];
    const char *dir = tmp_path("adir");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(cr_io_write_atomic(dir, "x", 1, &err), CR_EIO);
    snprintf(expect, sizeof expect,
             "%s: is a directory; chainrule writes regular files, character devices and "
             "FIFOs only",
             dir);
    ck_assert_str_eq(err.message, expect);
    ck_assert(S_ISDIR(mode_of(dir)));
    const char *sock = tmp_path("asock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(cr_io_write_atomic(sock, "x", 1, &err), CR_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "asock: is a socket;"));
    ck_assert(S_ISSOCK(mode_of(sock)));
    close(fd);
    ck_assert_int_eq(count_files("a"), 2); /* no temporary file */
    rmdir(dir);
    remove_tmpdir();
}
END_TEST

/* A file with two hard links is refused rather than split. */
START_TEST(test_write_refuses_hard_links)
{
    make_tmpdir();
    const char *a = tmp_path("a.crm");
    write_text(a, "old");
    ck_assert_int_eq(link(a, tmp_path("b.crm")), 0);
    cr_error err;
    ck_assert_int_eq(cr_io_write_atomic(a, "x", 1, &err), CR_EIO);
    char expect[400];
    snprintf(expect, sizeof expect,
             "%s: has 2 hard links; saving renames a new file over the name, which would "
             "split them: remove the other links or save under another name",
             a);
    ck_assert_str_eq(err.message, expect);
    struct stat sa, sb;
    ck_assert_int_eq(stat(a, &sa), 0);
    ck_assert_int_eq(stat(tmp_path("b.crm"), &sb), 0);
    ck_assert(sa.st_ino == sb.st_ino && sa.st_nlink == 2);
    expect_text(tmp_path("b.crm"), "old");
    remove_tmpdir();
}
END_TEST

/* A save removes the temporary files a killed save to the same path left
 * (PATH.tmp-XXXXXX that no writer holds locked), and nothing else. */
START_TEST(test_write_removes_stale_temporaries)
{
    make_tmpdir();
    write_text(tmp_path("m.crm"), "old");
    write_text(tmp_path("m.crm.tmp-AbC123"), "killed");
    write_text(tmp_path("m.crm.tmp-Busy42"), "being written");
    write_text(tmp_path("m.crm.tmp-toolong"), "not ours");
    write_text(tmp_path("n.crm.tmp-AbC123"), "another file's");
    int busy = open(tmp_path("m.crm.tmp-Busy42"), O_RDONLY);
    ck_assert_int_ge(busy, 0);
    ck_assert_int_eq(flock(busy, LOCK_EX), 0); /* as a live writer holds it */
    ck_assert_int_eq(write_new(tmp_path("m.crm")), CR_OK);
    expect_text(tmp_path("m.crm"), new_text);
    ck_assert_int_eq(access(tmp_path("m.crm.tmp-AbC123"), F_OK), -1);
    ck_assert_int_eq(access(tmp_path("m.crm.tmp-Busy42"), F_OK), 0);
    ck_assert_int_eq(access(tmp_path("m.crm.tmp-toolong"), F_OK), 0);
    ck_assert_int_eq(access(tmp_path("n.crm.tmp-AbC123"), F_OK), 0);
    ck_assert_int_eq(count_files("m.crm.tmp-"), 2);
    close(busy);
    ck_assert_int_eq(write_new(tmp_path("m.crm")), CR_OK); /* no longer locked */
    ck_assert_int_eq(count_files("m.crm.tmp-"), 1);        /* toolong */
    remove_tmpdir();
}
END_TEST

/* ---- non-finite values ---- */

/* A model with a NaN parameter is not saved: the old file stays. */
START_TEST(test_save_refuses_nonfinite)
{
    make_tmpdir();
    cr_mlp *m = small_mlp(1);
    cr_error err;
    ck_assert_int_eq(cr_mlp_save(m, tmp_path("m.crm"), &err), CR_OK);
    size_t before_size;
    unsigned char *before = test_slurp(tmp_path("m.crm"), &before_size);
    cr_node *b2 = cr_mlp_bias(m, 2);
    double v[2] = {0.5, NAN};
    ck_assert_int_eq(cr_node_set_data(b2, v, 2), CR_OK);
    ck_assert_int_eq(cr_mlp_save(m, tmp_path("m.crm"), &err), CR_EDOMAIN);
    ck_assert_str_eq(err.message, "save: parameter b2 element 1 is nan; a model with "
                                  "non-finite parameters is not saved");
    size_t after_size;
    unsigned char *after = test_slurp(tmp_path("m.crm"), &after_size);
    ck_assert_uint_eq(after_size, before_size);
    ck_assert_mem_eq(after, before, before_size);
    ck_assert_int_eq(count_files("m.crm.tmp-"), 0);
    free(before);
    free(after);
    cr_mlp_free(m);
    remove_tmpdir();
}
END_TEST

/* Training that diverges stops at the first non-finite value with the
 * trap's report, the parameters those of the last step; with the trap off
 * the optimizer's check stops it, with less detail. */
START_TEST(test_train_traps_nonfinite)
{
    enum { ROWS = 40 };
    double x[2 * ROWS], y[ROWS];
    for (int i = 0; i < ROWS; i++) {
        x[2 * i] = (i % 7) - 3;
        x[2 * i + 1] = (i % 5) - 2;
        y[i] = 3 * x[2 * i] - 2 * x[2 * i + 1] + 1;
    }
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 1);
    s.n_hidden = 1;
    s.hidden[0] = 4;
    s.hidden_act = CR_ACT_LINEAR;
    s.out_act = CR_ACT_LINEAR;
    s.loss = CR_LOSS_MSE;
    cr_error err;
    for (int trap = 1; trap >= 0; trap--) {
        cr_mlp *m = cr_mlp_new(&s, &err);
        cr_train_options o;
        cr_train_options_init(&o);
        ck_assert_int_eq(o.trap_nonfinite, 1); /* on by default */
        o.trap_nonfinite = trap;
        o.batch = 1;
        o.epochs = 3;
        o.optim.lr = 10;
        cr_train_stats st;
        ck_assert_int_eq(cr_mlp_train(m, x, y, ROWS, &o, &st, &err), CR_EDOMAIN);
        if (trap)
            ck_assert_msg(strstr(err.message, "epoch 1, step ") &&
                              strstr(err.message, " produced ") &&
                              strstr(err.message, " at element 0; inputs: "),
                          "%s", err.message);
        else
            ck_assert_msg(strstr(err.message, "optimizer step: gradient of "), "%s",
                          err.message);
        /* the trap is only on during training */
        ck_assert_uint_eq(cr_graph_flags(cr_mlp_graph(m)), 0);
        cr_train_stats_free(&st);
        cr_mlp_free(m);
    }
}
END_TEST

/* ---- limits ---- */

/* An allocator that records the largest request. */
static size_t largest;
static void *big_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (n > largest)
        largest = n;
    return malloc(n);
}
static void *big_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (n > largest)
        largest = n;
    return realloc(p, n);
}
static void big_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}
static void watch_sizes(void)
{
    static const cr_allocator a = {big_malloc, big_realloc, big_free, NULL};
    largest = 0;
    ck_assert_int_eq(cr_set_allocator(&a), CR_OK);
}

/* gzip'd bytes of data (a member of its own) in a new buffer (free it). */
static unsigned char *gzip_buffer(const unsigned char *data, size_t size, size_t *zn)
{
    z_stream zs = {0};
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t cap = deflateBound(&zs, (uLong)size);
    unsigned char *z = malloc(cap);
    ck_assert_ptr_nonnull(z);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *zn = zs.total_out;
    deflateEnd(&zs);
    return z;
}

/* IDX headers claiming absurd sizes: refused from the header, before any
 * allocation for the data. Plain, the data must fit in the bytes left; a
 * gzip'd file (here 1 MiB of zeros, 1 KB gzip'd) in 1032 times them, the
 * most deflate expands. */
START_TEST(test_idx_absurd_sizes)
{
    static const struct {
        int ndims;
        unsigned dims[4];
        const char *plain, *gzip; /* the messages after "absurd.idx: " */
    } cases[] = {
        {3,
         {60000, 28, 28}, /* 47 MB claimed */
         "truncated: 47040000 bytes of data expected, 1048576 found",
         "the header promises 47040000 bytes of data, more than the %d gzip'd bytes left "
         "can hold (deflate expands at most 1032 times)"},
        {2,
         {0xFFFFFFFFu, 268435456u}, /* 2^60 bytes: no overflow in 64 bits */
         "truncated: 1152921504338411520 bytes of data expected, 1048576 found",
         "the header promises 1152921504338411520 bytes of data, more than the %d gzip'd "
         "bytes left can hold (deflate expands at most 1032 times)"},
        {3, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "dimensions overflow", NULL},
        {4, {65536, 65536, 65536, 65536}, "dimensions overflow", NULL}, /* 2^64 */
        {1,
         {0xFFFFFFFFu},
         "truncated: 4294967295 bytes of data expected, 1048576 found",
         "the header promises 4294967295 bytes of data, more than the %d gzip'd bytes left "
         "can hold (deflate expands at most 1032 times)"},
    };
    const size_t data = (size_t)1 << 20;
    unsigned char *buf = calloc(64 + data, 1);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = idx_header(buf, cases[i].ndims, cases[i].dims);
        memset(buf + n, 0, data);
        n += data;
        size_t zn;
        unsigned char *z = gzip_buffer(buf, n, &zn);
        for (int gz = 0; gz < 2; gz++) {
            cr_error err;
            watch_sizes();
            cr_tensor *t =
                cr_idx_read_mem(gz ? z : buf, gz ? zn : n, "absurd.idx", NULL, &err);
            cr_set_allocator(NULL);
            ck_assert_ptr_null(t);
            /* the gzip message names the gzip'd bytes left: the size less the
             * few that held the header */
            const char *want = gz && cases[i].gzip ? cases[i].gzip : cases[i].plain;
            const char *pct = strchr(want, '%');
            ck_assert_msg(strncmp(err.message, "absurd.idx: ", 12) == 0, "%s", err.message);
            if (!pct) {
                ck_assert_str_eq(err.message + 12, want);
            } else {
                const size_t head = (size_t)(pct - want);
                ck_assert_int_eq(strncmp(err.message + 12, want, head), 0);
                char *end;
                unsigned long left = strtoul(err.message + 12 + head, &end, 10);
                ck_assert_uint_le(left, zn);
                ck_assert_uint_gt(left, zn - 64);
                ck_assert_str_eq(end, pct + 2);
            }
            ck_assert_int_eq(err.status, strstr(want, "overflow") ? CR_ERANGE : CR_EFORMAT);
            /* zlib's state and window at most: nothing for the data */
            ck_assert_uint_le(largest, 64 * 1024);
        }
        free(z);
    }
    free(buf);
}
END_TEST

/* The input limit: a header that promises more data than max_input allows
 * is refused before anything is allocated for it; so is one past the
 * default of 256 MiB (a sparse file). */
START_TEST(test_idx_input_limit)
{
    make_tmpdir();
    unsigned char buf[16 + 1000];
    size_t n = idx_header(buf, 3, (unsigned[]){10, 10, 10});
    for (size_t i = 0; i < 1000; i++)
        buf[n + i] = (unsigned char)(i % 251);
    n += 1000;
    cr_error err;
    cr_idx_options o = {.max_input = n};
    cr_tensor *t = cr_idx_read_mem(buf, n, "lim.idx", &o, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_double_eq(cr_tensor_get(t, 999), 999 % 251);
    cr_tensor_free(t);
    o.max_input = n - 1;
    watch_sizes();
    t = cr_idx_read_mem(buf, n, "lim.idx", &o, &err);
    cr_set_allocator(NULL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(err.status, CR_ERANGE);
    ck_assert_str_eq(err.message, "lim.idx: the header promises 1000 bytes of data, past "
                                  "the input limit of 1015 bytes (max_input)");
    ck_assert_uint_eq(largest, 0);
    /* cr_idx_read_bytes takes the same options */
    FILE *f = fopen(tmp_path("lim.idx"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    cr_idx_bytes b;
    ck_assert_int_eq(cr_idx_read_bytes(tmp_path("lim.idx"), &o, &b, &err), CR_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.message, "past the input limit of 1015 bytes"));
    o.max_input = 0;
    ck_assert_int_eq(cr_idx_read_bytes(tmp_path("lim.idx"), &o, &b, &err), CR_OK);
    ck_assert_uint_eq(b.items * b.item_size, 1000);
    cr_idx_bytes_free(&b);
    /* the default: 256 MiB; a file of 2^28 + 1 bytes of data, sparse */
    n = idx_header(buf, 1, (unsigned[]){(1u << 28) + 1});
    f = fopen(tmp_path("huge.idx"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)n + (1 << 28) + 1), 0);
    ck_assert_int_eq(fclose(f), 0);
    watch_sizes();
    t = cr_idx_read(tmp_path("huge.idx"), NULL, &err);
    cr_set_allocator(NULL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(err.status, CR_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.message, "huge.idx: the header promises 268435457 "
                                              "bytes of data, past the input limit of "
                                              "268435456 bytes (max_input)"));
    ck_assert_uint_le(largest, 1 << 17); /* the read buffer */
    remove_tmpdir();
}
END_TEST

/* Model files with absurd layer widths (checksum fixed so the check
 * behind it is reached), and a file over the 1 GiB limit. */
START_TEST(test_model_absurd_sizes)
{
    make_tmpdir();
    cr_mlp *m = small_mlp(2);
    cr_error err;
    ck_assert_int_eq(cr_mlp_save(m, tmp_path("m.crm"), &err), CR_OK);
    cr_mlp_free(m);
    size_t n;
    unsigned char *good = test_slurp(tmp_path("m.crm"), &n);
    /* offsets: 24 n_inputs, 28 n_outputs, 32 n_hidden, 36 hidden[0] */
    static const struct {
        size_t offset;
        uint32_t value;
    } cases[] = {{24, 0x7FFFFFFFu}, {28, 0xFFFFFFFFu}, {32, 0xFFFFFFFFu},
                 {36, 0x7FFFFFFFu}, {36, 0},           {24, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char *bad = malloc(n);
        memcpy(bad, good, n);
        for (int b = 0; b < 4; b++)
            bad[cases[i].offset + (size_t)b] = (unsigned char)(cases[i].value >> (8 * b));
        uint32_t crc = (uint32_t)crc32(0L, bad, (uInt)(n - 4));
        for (int b = 0; b < 4; b++)
            bad[n - 4 + (size_t)b] = (unsigned char)(crc >> (8 * b));
        watch_sizes();
        cr_mlp *back = cr_mlp_load_mem(bad, n, "absurd.crm", NULL, &err);
        cr_set_allocator(NULL);
        ck_assert_ptr_null(back);
        ck_assert_int_eq(err.status, CR_EFORMAT);
        ck_assert_msg(strncmp(err.message, "absurd.crm: ", 12) == 0, "%s", err.message);
        ck_assert_uint_le(largest, 4096);
        free(bad);
    }
    free(good);
    /* a sparse file over the limit is refused from its size */
    FILE *f = fopen(tmp_path("huge.crm"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)3 << 29), 0); /* 1.5 GiB, sparse */
    fclose(f);
    watch_sizes();
    ck_assert_ptr_null(cr_mlp_load(tmp_path("huge.crm"), NULL, &err));
    cr_set_allocator(NULL);
    ck_assert_int_eq(err.status, CR_EFORMAT);
    ck_assert_uint_le(largest, 4096);
    remove_tmpdir();
}
END_TEST

/* A CSV line over the line limit is refused without holding it whole. */
START_TEST(test_csv_long_line)
{
    const size_t n = CR_CSV_MAX_LINE + 100;
    char *text = malloc(n + 16);
    memcpy(text, "a,b\n", 4);
    memset(text + 4, '1', n);
    memcpy(text + 4 + n, ",2\n", 4);
    cr_error err;
    watch_sizes();
    cr_dataset *ds = cr_csv_load_mem(text, strlen(text), "long.csv", NULL, &err);
    cr_set_allocator(NULL);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(err.status, CR_ERANGE);
    ck_assert_uint_le(largest, 2 * CR_CSV_MAX_LINE + 4096);
    free(text);
}
END_TEST

/* Deep nesting gives a clear error, never a stack overflow; long sums,
 * products, powers and unary chains (no recursion) parse, evaluate and
 * differentiate. */
START_TEST(test_expr_extremes)
{
    enum { N = 100000 };
    char *t = malloc(6 * N + 64);
    cr_error err;
    /* a million open parentheses */
    size_t len = 0;
    len += (size_t)sprintf(t, "y = ");
    for (int i = 0; i < N; i++)
        t[len++] = '(';
    t[len++] = 'x';
    t[len] = '\0';
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = NULL;
    ck_assert_int_eq(cr_expr_parse(g, t, len, &p, &err), CR_ERANGE);
    ck_assert_str_eq(err.message,
                     "nesting too deep (more than 1000 levels of parentheses)");
    cr_graph_free(g);
    static const char *const ops[] = {"-", "^x", "+x", "*x"};
    for (int k = 0; k < 4; k++) {
        len = (size_t)sprintf(t, "y = ");
        if (k == 0) {
            for (int i = 0; i < N; i++)
                t[len++] = '-';
            t[len++] = 'x';
        } else {
            t[len++] = 'x';
            for (int i = 0; i < N; i++) {
                memcpy(t + len, ops[k], 2);
                len += 2;
            }
        }
        t[len] = '\0';
        g = cr_graph_new();
        p = NULL;
        ck_assert_int_eq(cr_expr_parse(g, t, len, &p, &err), CR_OK);
        ck_assert_int_eq(cr_expr_set(p, "x", k == 3 ? 1.0 : 0.5, &err), CR_OK);
        ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
        cr_node *x = cr_expr_input(p, 0)->node;
        cr_node_require_grad(x, 1);
        ck_assert_int_eq(cr_graph_backward(g, cr_expr_output(p)->node, 0), CR_OK);
        const double dy = cr_tensor_get(cr_node_grad(x), 0);
        if (k == 0)
            ck_assert_double_eq(dy, 1.0); /* an even number of minuses */
        else if (k == 2)
            ck_assert_double_eq(dy, N + 1.0);
        else if (k == 3)
            ck_assert_double_eq(dy, N + 1.0); /* d(x^(N+1))/dx at 1 */
        else
            ck_assert(isfinite(dy));
        cr_expr_free(p);
        cr_graph_free(g);
    }
    free(t);
}
END_TEST

/* A host program that set a locale with a decimal comma (de_DE) must still
 * get numbers read and written the C way by the expression parser, the CSV
 * reader, chains and DOT, and must find its own locale in force afterwards.
 * The locale is compiled into a scratch directory (localedef, from Debian's
 * locales package) and found through LOCPATH. */
START_TEST(test_numbers_ignore_the_locale)
{
    make_tmpdir();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 2>/dev/null",
             tmpdir);
    int rc = system(cmd);
    (void)rc; /* localedef warns with status 1 and still writes the locale */
    ck_assert_int_eq(setenv("LOCPATH", tmpdir, 1), 0);
    ck_assert_msg(setlocale(LC_ALL, "de_DE.UTF-8") != NULL,
                  "cannot build or load the de_DE.UTF-8 locale (localedef, package "
                  "locales)");
    char buf[64];
    snprintf(buf, sizeof buf, "%.2f", 1.25);
    ck_assert_str_eq(buf, "1,25"); /* the host's locale is in force */

    /* the expression parser */
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = NULL;
    cr_error err;
    const char *prog = "x = 0.5; E = 0.25*(x - 2.5e-1)^2";
    ck_assert_msg(cr_expr_parse(g, prog, strlen(prog), &p, &err) == CR_OK, "%s",
                  err.message);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 0.015625, 1e-15);

    /* a chain's formula and text */
    cr_chain_options co;
    cr_chain_options_init(&co);
    co.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c =
        cr_chain_new(g, cr_expr_output(p)->node, cr_expr_lookup(p, "x")->node, &co);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(cr_chain_path_at(c, 0)->edges[0]->formula, "0.25*2*(x - 0.25)^(2-1)");
    ck_assert_int_gt(cr_chain_format(c, 0, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "dE/dx = 0.125\n");
    cr_chain_free(c);

    /* a claim report (the claim 1.5 is wrong: dE/dx = 0.125) */
    cr_claim claim = {.wrt = "x", .value = 1.5};
    cr_claim_report *cr = NULL;
    ck_assert_int_eq(
        cr_check_claims(g, cr_expr_output(p)->node, &claim, 1, 1e-9, 1e-9, &cr), CR_ECHECK);
    char *report = NULL;
    size_t report_len = 0;
    FILE *rf = open_memstream(&report, &report_len);
    ck_assert_int_eq(cr_claim_report_print(cr, rf), CR_OK);
    fclose(rf);
    ck_assert_msg(strstr(report, "1.5") && !strstr(report, "1,5") &&
                      strstr(report, "0.125"),
                  "%s", report);
    free(report);
    cr_claim_report_free(cr);

    /* DOT */
    char *dot = NULL;
    size_t dot_len = 0;
    FILE *f = open_memstream(&dot, &dot_len);
    ck_assert_int_eq(cr_dot_write(g, f, NULL), CR_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(dot, "= 0.5\""));
    ck_assert_ptr_null(strstr(dot, "0,5"));
    free(dot);
    cr_expr_free(p);
    cr_graph_free(g);

    /* the CSV reader */
    const char csv[] = "a,b,y\n0.5,1.25,0\n-2.5e-1,3,1\n";
    cr_dataset *ds = cr_csv_load_mem(csv, strlen(csv), "comma.csv", NULL, &err);
    ck_assert_msg(ds != NULL, "%s", err.message);
    const cr_tensor *x = cr_dataset_features(ds);
    ck_assert_double_eq(cr_tensor_get(x, 0), 0.5);
    ck_assert_double_eq(cr_tensor_get(x, 1), 1.25);
    ck_assert_double_eq(cr_tensor_get(x, 2), -0.25);
    cr_dataset_free(ds);

    /* and the host's locale is back */
    snprintf(buf, sizeof buf, "%.2f", 1.25);
    ck_assert_str_eq(buf, "1,25");
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    rc = system(cmd);
    (void)rc;
}
END_TEST

Suite *reliability_suite(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_oom_families);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kill_during_save);
    tcase_add_test(tc, test_write_modes);
    tcase_add_test(tc, test_write_follows_links);
    tcase_add_test(tc, test_write_char_device);
    tcase_add_test(tc, test_write_fifo);
    tcase_add_test(tc, test_write_refuses_other_files);
    tcase_add_test(tc, test_write_refuses_hard_links);
    tcase_add_test(tc, test_write_removes_stale_temporaries);
    tcase_add_test(tc, test_save_refuses_nonfinite);
    tcase_add_test(tc, test_train_traps_nonfinite);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_idx_absurd_sizes);
    tcase_add_test(tc, test_idx_input_limit);
    tcase_add_test(tc, test_model_absurd_sizes);
    tcase_add_test(tc, test_csv_long_line);
    tcase_add_test(tc, test_expr_extremes);
    tcase_add_test(tc, test_numbers_ignore_the_locale);
    suite_add_tcase(s, tc);
    return s;
}
