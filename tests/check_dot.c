/*
 * check_dot.c - tests of the DOT writer and the renderer: the seed graph's
 * nodes, edges and labels, hostile names, determinism, options (backward
 * nodes, rankdir, node cap, highlight), atomic files and failures; every
 * DOT file written is parsed by `dot -Tsvg` when /usr/bin/dot exists.
 * The rendering tests (libgvc in process) are a TCase of their own,
 * "render", so that valgrind's Graphviz suppressions (tests/graphviz.supp)
 * apply to them only:
 *   CK_FORK=no CK_RUN_CASE=render libtool --mode=execute valgrind \
 *       --suppressions=tests/graphviz.supp tests/check_chainrule
 */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOT_PROGRAM "/usr/bin/dot"

/* LeakSanitizer's counterpart of tests/graphviz.supp: leaks allocated
 * inside Graphviz and the font stack it loads (only the render TCase gets
 * there) are not chainrule's. Read by the sanitizer runtime at start-up;
 * unused in builds without sanitizers. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libgvc.so\nleak:libcgraph.so\nleak:libcdt.so\nleak:libgvplugin_\n"
           "leak:libfontconfig.so\nleak:libfreetype.so\nleak:libpango\nleak:libcairo.so\n"
           "leak:libharfbuzz.so\nleak:libglib-2.0.so\nleak:libgobject-2.0.so\n"
           "leak:libexpat.so\nleak:libltdl.so\n";
}

/* ...without listing them after every forked test. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

/* A fresh temporary directory per test, removed with its files. */
static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cr_dot_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static size_t dir_count(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void tmp_teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (remove(path) != 0)
            rmdir(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

static char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}

/* dot must accept the file without a single warning. */
static void assert_dot_parses(const char *path)
{
    if (access(DOT_PROGRAM, X_OK) != 0)
        return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, DOT_PROGRAM " -Tsvg '%s' -o /dev/null 2>'%s.err'", path,
             path);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.err", path);
    size_t len = 0;
    char *err = slurp(cmd, &len);
    ck_assert_msg(len == 0, "dot said: %s", err);
    free(err);
    remove(cmd);
}

/* Writes g with opts to name in the temp dir, checks that the graph is
 * unchanged and that dot parses the file, and returns the text (caller
 * frees). */
static char *dot_text(cr_graph *g, const cr_dot_options *opts, const char *name)
{
    char *path = tmp_path(name);
    size_t size = cr_graph_size(g);
    ck_assert_int_eq(cr_dot_write_file(g, path, opts), CR_OK);
    ck_assert_uint_eq(cr_graph_size(g), size);
    char *text = slurp(path, NULL);
    assert_dot_parses(path);
    return text;
}

/* The number of graph nodes drawn: lines "  n<id> [label=". */
static size_t count_nodes(const char *text)
{
    size_t n = 0;
    for (const char *p = strstr(text, "\n  n"); p; p = strstr(p + 1, "\n  n")) {
        const char *q = p + 4;
        while (*q >= '0' && *q <= '9')
            q++;
        n += strncmp(q, " [label=", 8) == 0;
    }
    return n;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

typedef struct seed {
    cr_graph *g;
    cr_node *w1, *E;
} seed;

static seed seed_build(void)
{
    seed n;
    n.g = cr_graph_new();
    cr_node *x1 = cr_input_scalar(n.g, "x1", 0.1), *x2 = cr_input_scalar(n.g, "x2", 0.3);
    cr_node *desired = cr_input_scalar(n.g, "desired", 0.03);
    n.w1 = cr_param_scalar(n.g, "w1", 0.5);
    cr_node *w2 = cr_param_scalar(n.g, "w2", 0.2), *b = cr_param_scalar(n.g, "b", 1.83);
    cr_node *s = cr_sop(n.g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){n.w1, w2}, b);
    cr_node *predicted = cr_sigmoid(n.g, s);
    n.E = cr_sq_error(n.g, predicted, desired);
    ck_assert_ptr_nonnull(n.E);
    cr_node_set_name(s, "s");
    cr_node_set_name(predicted, "predicted");
    cr_node_set_name(n.E, "E");
    return n;
}

START_TEST(test_seed_dot)
{
    seed n = seed_build();
    ck_assert_int_eq(cr_graph_backward(n.g, n.E, 0), CR_OK);
    size_t size = cr_graph_size(n.g);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = n.E;
    opts.highlight = n.w1;
    char *text = dot_text(n.g, &opts, "seed.dot");
    ck_assert_uint_eq(cr_graph_size(n.g), size);
    ck_assert_int_eq(strncmp(text, "digraph chainrule {\n  graph [rankdir=LR", 39), 0);
    /* 9 forward nodes, 8 edges, no gradient nodes */
    ck_assert_uint_eq(count(text, " [label="), 17);
    ck_assert_uint_eq(count(text, " -> "), 8);
    ck_assert_ptr_nonnull(strstr(text, "  n0 [label=\"x1\\ninput\\n= 0.1\", shape=box, "
                                       "style=filled, fillcolor=\"#fff3bf\"];\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  n3 [label=\"w1\\nparameter\\n= 0.5\\ngrad = "
                                 "0.009276093\", shape=box, style=\"rounded,filled\", "
                                 "fillcolor=\"#cfe2ff\", color=\"#d62728\", "
                                 "penwidth=2.5];\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "  n7 [label=\"predicted\\nsigmoid\\n= 0.874352143\""));
    ck_assert_ptr_nonnull(strstr(text, "  n8 [label=\"E\\nsq_error\\n= 0.356465271\", "
                                       "shape=doubleoctagon"));
    ck_assert_ptr_nonnull(strstr(text, "  n6 -> n7 [label=\"∂predicted/∂s = "
                                       "predicted*(1-predicted)\\n= 0.109860473\\ngradient "
                                       "flow 0.092760926\", color=\"#d62728\""));
    ck_assert_ptr_nonnull(strstr(text, "  n3 -> n6 [label=\"∂s/∂w1 = x1\\n= 0.1\\ngradient "
                                       "flow 0.009276093\""));
    ck_assert_ptr_nonnull(strstr(text, "  n4 -> n6 [label=\"∂s/∂w2 = x2\\n= 0.3\"];\n"));
    ck_assert_ptr_nonnull(strstr(text, "  n5 -> n6 [label=\"∂s/∂b = 1\"];\n"));
    ck_assert_ptr_nonnull(strstr(text, "  n2 -> n8 [label=\"∂E/∂desired = desired-predicted"
                                       "\\n= -0.844352143\"];\n"));
    ck_assert_uint_eq(count(text, ", color=\"#d62728\""), 3 + 4); /* edges, nodes */
    free(text);

    /* options: backward nodes, top to bottom, no values */
    opts.highlight = NULL;
    opts.include_backward = 1;
    opts.rankdir = CR_DOT_TB;
    opts.edge_values = 0;
    text = dot_text(n.g, &opts, "seed_bwd.dot");
    ck_assert_ptr_nonnull(strstr(text, "rankdir=TB"));
    ck_assert_uint_eq(count_nodes(text), cr_graph_size(n.g));
    ck_assert_ptr_nonnull(strstr(text, "style=dashed, color=\"#888888\""));
    ck_assert_ptr_null(strstr(text, "\\n= 0.109860473\"")); /* no edge values */
    ck_assert_ptr_nonnull(strstr(text, "sigmoid_bwd"));
    free(text);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_determinism)
{
    seed n = seed_build();
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.title = "the \"seed\"";
    char *a = dot_text(n.g, &opts, "a.dot");
    char *b = dot_text(n.g, &opts, "b.dot");
    ck_assert_str_eq(a, b);
    /* the stream and the file give the same bytes */
    FILE *f = tmpfile();
    ck_assert_int_eq(cr_dot_write(n.g, f, &opts), CR_OK);
    long len = ftell(f);
    ck_assert_int_eq(len, (long)strlen(a));
    rewind(f);
    char *c = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(c, 1, (size_t)len, f), (size_t)len);
    c[len] = '\0';
    ck_assert_str_eq(a, c);
    ck_assert_ptr_nonnull(strstr(a, "label=\"the \\\"seed\\\"\""));
    fclose(f);
    free(a);
    free(b);
    free(c);
    /* no loss given: the unconsumed scalar op is styled as the loss */
    a = dot_text(n.g, NULL, "defaults.dot");
    ck_assert_uint_eq(count(a, "doubleoctagon"), 1);
    ck_assert_ptr_nonnull(strstr(a, "n8 [label=\"E\\nsq_error\\n= 0.356465271\", "
                                    "shape=doubleoctagon"));
    free(a);
    cr_graph_free(n.g);
}
END_TEST

/* Parameters named with everything dot could choke on, multiplied into
 * a loss that is itself badly named; opts highlight the first one. */
static cr_graph *hostile_graph(cr_dot_options *opts)
{
    static const char *const names[] = {
        "quote\"d",
        "back\\slash",
        "new\nline",
        "tab\there",
        "∂é→ünïcødé",
        "bad\xff\xfeutf8",
        "trunc\xe2\x88",
        "amp&amp;",
        "}; digraph x {",
        "\\N\\G\\L",
        "ends\\",
        "bell\x07",
        "surrogate\xed\xa0\x80",
        "del\x7f",
    };
    cr_graph *g = cr_graph_new();
    cr_node *product = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cr_node *x = cr_param_scalar(g, names[i], 0.5 + (double)i);
        ck_assert_ptr_nonnull(x);
        product = product ? cr_mul(g, product, x) : x;
    }
    ck_assert_int_eq(cr_node_set_name(product, "E \"loss\"\n"), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, product, 0), CR_OK);
    cr_dot_options_init(opts);
    opts->loss = product;
    opts->highlight = cr_graph_find(g, names[0]);
    opts->title = "title\nwith \"everything\" \\ \xff";
    return g;
}

START_TEST(test_hostile_names)
{
    cr_dot_options opts;
    cr_graph *g = hostile_graph(&opts);
    char *text = dot_text(g, &opts, "hostile.dot");
    ck_assert_ptr_nonnull(strstr(text, "label=\"(quote\\\"d)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(back\\\\slash)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(new\\nline)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(tab\\\\x09here)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"∂é→ünïcødé\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"bad\\\\xFF\\\\xFEutf8\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"trunc\\\\xE2\\\\x88\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(amp&amp;amp;)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(}; digraph x {)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(\\\\N\\\\G\\\\L)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(ends\\\\)\\nparameter"));
    ck_assert_ptr_nonnull(
        strstr(text, "label=\"surrogate\\\\xED\\\\xA0\\\\x80\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(del\\\\x7F)\\nparameter"));
    ck_assert_ptr_nonnull(strstr(text, "label=\"title\\nwith \\\"everything\\\" \\\\ "
                                       "\\\\xFF\""));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(E \\\"loss\\\"\\n)\\nmul"));
    free(text);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_max_nodes)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.25);
    cr_node *acc = x, *late = NULL;
    for (int i = 0; i < 300; i++) {
        acc = cr_add(g, cr_sin(g, acc), cr_scalar(g, 0.01 * i));
        late = i == 297 ? acc : late; /* add#894 */
    }
    cr_node_set_name(acc, "E");
    ck_assert_ptr_nonnull(acc);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = acc;
    opts.highlight = late;
    opts.max_nodes = 10;
    char *text = dot_text(g, &opts, "capped.dot");
    /* 10 nodes and the summary node: the path E -> add#894 first, then
     * the latest created; E is the only named statement, so every hidden
     * node is in its group */
    ck_assert_uint_eq(count_nodes(text), 10);
    ck_assert_uint_eq(count(text, "not drawn"), 1);
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 [label=\"E: 891 nodes not drawn\\n"
                                       "297 constants\\n1 parameter\\n593 ops\""));
    ck_assert_ptr_nonnull(strstr(text, "  n900 [label=\"E\\nadd"));
    ck_assert_ptr_nonnull(strstr(text, "  n894 -> n896 [label="));
    ck_assert_ptr_nonnull(strstr(text, "  n899 -> n900 [label="));
    ck_assert_ptr_nonnull(strstr(text, "  n891 [label=\"add#891"));
    ck_assert_ptr_null(strstr(text, "  n890 [label="));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n891 [style=dashed"));
    free(text);

    /* the strongest path stays whole beyond the cap: x is not left
     * floating beside the summary (no dot run: 601 nodes) */
    opts.highlight = x;
    FILE *f = tmpfile();
    ck_assert_int_eq(cr_dot_write(g, f, &opts), CR_OK);
    long len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    ck_assert_uint_eq(count_nodes(text), 601);
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 [label=\"E: 300 nodes not drawn\\n"
                                       "300 constants\""));
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n2 [label="));
    ck_assert_uint_eq(count(text, "penwidth=2.5]"), 601 + 600);
    free(text);
    opts.max_nodes = 0;
    opts.highlight = NULL;
    text = dot_text(g, &opts, "full.dot");
    ck_assert_uint_eq(count_nodes(text), cr_graph_size(g));
    ck_assert_ptr_null(strstr(text, "collapsed"));
    free(text);
    cr_graph_free(g);
}
END_TEST

/* sigmoid(X W) of an input X [4,2] and a parameter W [2,3] (0.125
 * everywhere, returned in *W): nodes 0 to 3. */
static cr_node *tensor_layer(cr_graph *g, cr_node **W)
{
    cr_tensor *w = cr_tensor_new(2, (size_t[]){2, 3}, NULL);
    cr_tensor_fill(w, 0.125);
    cr_node *X = cr_input(g, "X", 2, (size_t[]){4, 2});
    *W = cr_param(g, "W", w);
    cr_tensor_free(w);
    cr_node *H = cr_sigmoid(g, cr_matmul(g, X, *W, 0));
    ck_assert_ptr_nonnull(H);
    return H;
}

START_TEST(test_tensor_dot)
{
    cr_graph *g = cr_graph_new();
    cr_node *W = NULL;
    cr_node *E = cr_sum(g, tensor_layer(g, &W));
    ck_assert_ptr_nonnull(E);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = E;
    opts.highlight = W;
    size_t size = cr_graph_size(g);
    char *text = dot_text(g, &opts, "tensor.dot");
    ck_assert_uint_eq(cr_graph_size(g), size);
    ck_assert_ptr_nonnull(strstr(text, "W\\nparameter\\n[2,3]\\ngrad norm = "));
    ck_assert_ptr_nonnull(strstr(text, "∂matmul#2/∂W = A^T dY\\nlinear: dB = op(A)^T dY, "
                                       "[4,3] x [2,3]\\ngradient flow norm "));
    ck_assert_ptr_nonnull(strstr(text, "diagonal, [4,3] x [4,3]"));
    free(text);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_write_failures)
{
    seed n = seed_build();
    ck_assert_int_eq(cr_dot_write(NULL, stdout, NULL), CR_EINVAL);
    ck_assert_int_eq(cr_dot_write(n.g, NULL, NULL), CR_EINVAL);
    ck_assert_int_eq(cr_dot_write_file(n.g, NULL, NULL), CR_EINVAL);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.highlight = n.w1;
    ck_assert_int_eq(cr_dot_write(n.g, stdout, &opts), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "dot: highlighting a chain needs the loss");
    cr_tensor *t = cr_tensor_new(1, (size_t[]){2}, NULL);
    opts.loss = cr_param(n.g, "v", t);
    ck_assert_int_eq(cr_dot_write(n.g, stdout, &opts), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "dot: the loss v must be a scalar, got [2]");
    cr_tensor_free(t);

    /* a directory that does not exist */
    char *path = tmp_path("missing/seed.dot");
    ck_assert_int_eq(cr_dot_write_file(n.g, path, NULL), CR_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(cr_graph_error(n.g)->message,
                                 "missing/seed.dot: cannot create a temporary "
                                 "file next to it: No such file or directory"));
    /* the target is a directory: refused before anything is written; it
     * stays and no temporary file is left */
    ck_assert_int_eq(mkdir(tmp_path("taken.dot"), 0755), 0);
    ck_assert_int_eq(cr_dot_write_file(n.g, tmp_path("taken.dot"), NULL), CR_EIO);
    ck_assert_ptr_nonnull(
        strstr(cr_graph_error(n.g)->message, "taken.dot: is a directory"));
    ck_assert_uint_eq(dir_count(tmpdir), 1);
    /* replacing a file is atomic and complete */
    FILE *f = fopen(tmp_path("old.dot"), "w");
    fputs("old", f);
    fclose(f);
    ck_assert_int_eq(cr_dot_write_file(n.g, tmp_path("old.dot"), NULL), CR_OK);
    char *text = slurp(tmp_path("old.dot"), NULL);
    ck_assert_int_eq(strncmp(text, "digraph", 7), 0);
    free(text);
    assert_dot_parses(tmp_path("old.dot"));
    ck_assert_uint_eq(dir_count(tmpdir), 2);
    /* a full device */
    if (access("/dev/full", W_OK) == 0) {
        FILE *full = fopen("/dev/full", "w");
        ck_assert_int_eq(cr_dot_write(n.g, full, NULL), CR_EIO);
        fclose(full);
    }
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_out_of_memory)
{
    const cr_dot_view view = _i ? CR_DOT_VIEW_STATEMENTS : CR_DOT_VIEW_OPS;
    for (size_t k = 1;; k++) {
        test_alloc_install(0);
        seed n = seed_build();
        cr_dot_options opts;
        cr_dot_options_init(&opts);
        opts.loss = n.E;
        opts.highlight = n.w1;
        opts.view = view;
        size_t size = cr_graph_size(n.g);
        test_alloc.fail_at = test_alloc.allocations + k;
        FILE *f = tmpfile();
        cr_status st = cr_dot_write(n.g, f, &opts);
        int failed = test_alloc.failures > 0;
        fclose(f);
        if (failed)
            ck_assert_int_eq(st, CR_ENOMEM);
        else
            ck_assert_int_eq(st, CR_OK);
        ck_assert_uint_eq(cr_graph_size(n.g), size);
        cr_graph_free(n.g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (!failed)
            break;
    }
}
END_TEST

/* ---- the statements view ---- */

/* The program text parsed into g, the seed neuron's inputs at the
 * article's values, evaluated. */
static cr_expr_program *seed_program_text(cr_graph *g, const char *text)
{
    static const struct {
        const char *name;
        double value;
    } at[] = {{"x1", 0.1}, {"x2", 0.3}, {"d", 0.03}, {"w1", 0.5}, {"w2", 0.2}, {"b", 1.83}};
    cr_expr_program *p = NULL;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_OK);
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        ck_assert_int_eq(cr_expr_set(p, at[i].name, at[i].value, &err), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    return p;
}

/* The seed neuron built by the expression language, as the CLI builds it:
 * unnamed constants and ops between the statements. */
static cr_expr_program *seed_program(cr_graph *g)
{
    return seed_program_text(
        g, "s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2");
}

/* The seed neuron with statement group markers (and comments that are
 * not markers). */
static cr_expr_program *grouped_seed(cr_graph *g)
{
    return seed_program_text(g, "# the seed neuron: u comes before any marker\n"
                                "u = 2*d\n"
                                "  # layer 1\n"
                                "s = x1*w1 + x2*w2 + b # layer 9: after code, a comment\n"
                                "#layer\n"
                                "# layers 2\n"
                                "predicted = sigmoid(s)\n"
                                "#\tgroup:   loss \"q\"\\  \r\n"
                                "E = 0.5*(d - predicted)^2\n");
}

/* Options with p's output as the loss and p's statement groups. */
static void group_options(cr_expr_program *p, cr_dot_options *opts)
{
    cr_dot_options_init(opts);
    opts->loss = cr_expr_output(p)->node;
    opts->group_of = cr_expr_node_group;
    opts->group_ctx = p;
}

START_TEST(test_group_markers)
{
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = grouped_seed(g);
    ck_assert_ptr_null(cr_expr_lookup(p, "u")->group);
    ck_assert_str_eq(cr_expr_lookup(p, "s")->group, "layer 1");
    ck_assert_ptr_eq(cr_expr_lookup(p, "predicted")->group, cr_expr_lookup(p, "s")->group);
    ck_assert_str_eq(cr_expr_lookup(p, "E")->group, "loss \"q\"\\");
    ck_assert_ptr_null(cr_expr_lookup(p, "x1")->group); /* inputs have none */
    ck_assert_str_eq(cr_expr_node_group(cr_expr_lookup(p, "E")->node, p), "loss \"q\"\\");
    ck_assert_ptr_null(cr_expr_node_group(cr_expr_lookup(p, "w1")->node, p));
    ck_assert_ptr_null(cr_expr_node_group(NULL, p));
    ck_assert_ptr_null(cr_expr_node_group(cr_expr_lookup(p, "E")->node, NULL));
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 0.356465271, 1e-9);
    cr_expr_free(p);

    /* a name met again continues its group; a marker at the end is unused */
    static const char again[] = "# layer 1\na = x\n# group: two\nb = a\n"
                                "# layer 1\nc = b\n# group: unused\n";
    cr_error err;
    cr_graph_free(g);
    g = cr_graph_new();
    ck_assert_int_eq(cr_expr_parse(g, again, strlen(again), &p, &err), CR_OK);
    ck_assert_ptr_eq(cr_expr_lookup(p, "a")->group, cr_expr_lookup(p, "c")->group);
    ck_assert_str_eq(cr_expr_lookup(p, "b")->group, "two");
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_group_clusters)
{
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = grouped_seed(g);
    cr_dot_options opts;
    group_options(p, &opts);
    opts.clusters = 1;
    /* ops view: a box per group with the ops of its statements and the
     * inputs they use first (d is used first by u, which has no group) */
    char *text = dot_text(g, &opts, "groups_ops.dot");
    ck_assert_uint_eq(count(text, "  subgraph cluster_"), 2);
    ck_assert_ptr_nonnull(strstr(text, "  subgraph cluster_2 {\n    label=\"layer 1\"; "
                                       "style=\"rounded,dashed\"; color=\"#888888\";\n"
                                       "    n3; n4; n5; n6; n7; n8; n9; n10; n11; n12;\n"
                                       "  }\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  subgraph cluster_3 {\n    label=\"loss \\\"q\\\""
                                 "\\\\\"; style=\"rounded,dashed\"; color=\"#888888\";\n"
                                 "    n13; n14; n15; n16;\n  }\n"));
    ck_assert_ptr_nonnull(strstr(text, "  n0 [label=\"d\\ninput"));
    ck_assert_ptr_nonnull(strstr(text, "  n12 [label=\"predicted\\nsigmoid"));
    free(text);
    /* statements view: the statements and inputs of each group */
    opts.view = CR_DOT_VIEW_STATEMENTS;
    text = dot_text(g, &opts, "groups_statements.dot");
    ck_assert_ptr_nonnull(
        strstr(text, "label=\"layer 1\"; style=\"rounded,dashed\"; color=\"#888888\";\n"
                     "    n3; n4; n6; n7; n10; n11; n12;\n  }\n"));
    ck_assert_ptr_nonnull(strstr(text, "color=\"#888888\";\n    n16;\n  }\n"));
    free(text);
    /* the layers view draws one node per group */
    opts.view = CR_DOT_VIEW_LAYERS;
    text = dot_text(g, &opts, "groups_layers.dot");
    ck_assert_uint_eq(count_nodes(text), 3); /* d, layer 1, the loss group */
    ck_assert_ptr_nonnull(strstr(text, "  n3 [label=\"layer 1\\nx1 = 0.1, grad = "));
    ck_assert_ptr_nonnull(
        strstr(text, "  n16 [label=\"loss \\\"q\\\"\\\\\\nE = 0.356465271"));
    free(text);
    /* a group_of that names no group: numbered layers as before */
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.group_ctx = NULL;
    text = dot_text(g, &opts, "groups_none.dot");
    ck_assert_ptr_nonnull(strstr(text, "label=\"layer 1\"; style=\"rounded,dashed\"; "
                                       "color=\"#888888\";\n    n3; n4;\n  }\n"));
    free(text);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

/* Summaries per group under a cap: one per group with its counts, joined
 * to the drawn nodes and other summaries by dashed edges in the direction
 * of the data. */
START_TEST(test_group_summaries)
{
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = grouped_seed(g);
    cr_dot_options opts;
    group_options(p, &opts);
    opts.highlight = cr_expr_lookup(p, "predicted")->node;
    opts.max_nodes = 5;
    char *text = dot_text(g, &opts, "groups_capped.dot");
    /* E, predicted and the path between them, then the latest */
    ck_assert_uint_eq(count_nodes(text), 5);
    ck_assert_uint_eq(count(text, "not drawn"), 2);
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 [label=\"u: 3 nodes not drawn\\n"
                                       "1 constant\\n1 input\\n1 op\""));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  collapsed_2 [label=\"layer 1: 9 nodes not drawn\\n"
                                 "5 inputs\\n4 ops\""));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n13 [style=dashed")); /* d */
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_2 -> n12 [style=dashed")); /* s */
    ck_assert_uint_eq(count(text, "[style=dashed"), 2);
    free(text);
    /* a drawn node that feeds hidden ones, and hidden groups feeding each
     * other: predicted drawn, s hidden behind it */
    opts.highlight = cr_expr_lookup(p, "w1")->node;
    opts.max_nodes = 1;
    opts.view = CR_DOT_VIEW_STATEMENTS;
    text = dot_text(g, &opts, "groups_capped_statements.dot");
    ck_assert_uint_eq(count_nodes(text), 4); /* w1, s, predicted, E */
    ck_assert_ptr_nonnull(strstr(text,
                                 "  collapsed_2 [label=\"layer 1: 4 nodes not drawn\\n"
                                 "4 inputs\""));
    ck_assert_ptr_nonnull(
        strstr(text, "  collapsed_1 [label=\"u: 1 node not drawn\\n1 input\""));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n16 [style=dashed"));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_2 -> n11 [style=dashed"));
    ck_assert_uint_eq(count(text, "[style=dashed"), 2);
    free(text);

    /* without groups, a graph built in C: the named ops are the groups;
     * a hidden node feeding a hidden one of another group links the two
     * summaries, a drawn node feeding a hidden one points at its summary */
    cr_graph *h = cr_graph_new();
    cr_node *x = cr_input_scalar(h, "x", 0.5);
    cr_node *a = cr_sin(h, cr_mul(h, x, x));
    cr_node *b = cr_exp(h, cr_neg(h, a));
    cr_node *c = cr_add(h, cr_mul(h, b, a), x);
    ck_assert_int_eq(cr_node_set_name(a, "a"), CR_OK);
    ck_assert_int_eq(cr_node_set_name(b, "b"), CR_OK);
    ck_assert_int_eq(cr_node_set_name(c, "c"), CR_OK);
    cr_dot_options_init(&opts);
    opts.loss = c;
    opts.highlight = a;
    opts.max_nodes = 3;
    text = dot_text(h, &opts, "c_groups.dot");
    ck_assert_uint_eq(count_nodes(text), 3); /* c, add's mul, a */
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 [label=\"a: 2 nodes not drawn\\n"
                                       "1 input\\n1 op\""));
    ck_assert_ptr_nonnull(
        strstr(text, "  collapsed_2 [label=\"b: 2 nodes not drawn\\n2 ops\""));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n2 [style=dashed"));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n6 [style=dashed")); /* x -> c */
    ck_assert_ptr_nonnull(strstr(text, "  n2 -> collapsed_2 [style=dashed"));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_2 -> n5 [style=dashed"));
    free(text);
    cr_graph_free(h);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

/* Running out of memory at every allocation of parsing a program with
 * group markers and writing it capped, in boxes, per group: CR_ENOMEM,
 * nothing leaks. */
START_TEST(test_group_out_of_memory)
{
    static const char text[] = "# layer 1\ns = x1*w1 + x2*w2 + b\n# group: out\n"
                               "predicted = sigmoid(s)\n# layer 1\nE = (d - predicted)^2\n";
    for (size_t k = 1;; k++) {
        test_alloc_install(0);
        cr_graph *g = cr_graph_new();
        ck_assert_ptr_nonnull(g);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_expr_program *p = NULL;
        cr_error err;
        cr_status st = cr_expr_parse(g, text, strlen(text), &p, &err);
        if (st == CR_OK) {
            cr_dot_options opts;
            group_options(p, &opts);
            opts.view = _i ? CR_DOT_VIEW_STATEMENTS : CR_DOT_VIEW_OPS;
            opts.highlight = cr_expr_lookup(p, "w1")->node;
            opts.max_nodes = 2;
            opts.clusters = 1;
            FILE *f = tmpfile();
            st = cr_dot_write(g, f, &opts);
            fclose(f);
        }
        int failed = test_alloc.failures > 0;
        ck_assert_int_eq(st, failed ? CR_ENOMEM : CR_OK);
        cr_expr_free(p);
        cr_graph_free(g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (!failed)
            break;
    }
}
END_TEST

START_TEST(test_statements_seed)
{
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = seed_program(g);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.loss = cr_expr_output(p)->node;
    opts.highlight = cr_expr_lookup(p, "w1")->node;
    char *text = dot_text(g, &opts, "statements.dot");
    /* 6 inputs and 3 statements; no constant, no unnamed op */
    ck_assert_uint_eq(count_nodes(text), 9);
    ck_assert_uint_eq(count(text, " -> "), 8);
    ck_assert_ptr_null(strstr(text, "const"));
    ck_assert_ptr_null(strstr(text, "mul#"));
    ck_assert_ptr_null(strstr(text, "powc#"));
    /* micrograd-style: the value and d(E)/d(node) on every node, no
     * backward run */
    ck_assert_ptr_nonnull(strstr(text, "  n1 [label=\"w1\\n= 0.5\\ngrad = 0.009276093\", "
                                       "shape=box, style=filled, fillcolor=\"#fff3bf\", "
                                       "color=\"#d62728\", penwidth=2.5];\n"));
    ck_assert_ptr_nonnull(strstr(text, "[label=\"s\\n= 1.94\\ngrad = 0.092760926\""));
    ck_assert_ptr_nonnull(
        strstr(text, "[label=\"predicted\\n= 0.874352143\\ngrad = 0.844352143\""));
    ck_assert_ptr_nonnull(strstr(text, "[label=\"d\\n= 0.03\\ngrad = -0.844352143\""));
    ck_assert_ptr_nonnull(strstr(text, "[label=\"E\\n= 0.356465271\\ngrad = 1\", "
                                       "shape=doubleoctagon"));
    /* edges: the composed local derivatives, through the unnamed ops */
    ck_assert_ptr_nonnull(strstr(text, "  n8 -> n9 [label=\"∂predicted/∂s\\n= "
                                       "predicted*(1-predicted)\\n= 0.109860473\\ngradient "
                                       "flow 0.092760926\", color=\"#d62728\""));
    ck_assert_ptr_nonnull(strstr(text, "  n9 -> n14 [label=\"∂E/∂predicted\\n= "
                                       "-0.5*2*(d - predicted)^(2-1)\\n= 0.844352143\\n"
                                       "gradient flow 0.844352143\""));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  n10 -> n14 [label=\"∂E/∂d\\n= "
                                 "0.5*2*(d - predicted)^(2-1)\\n= -0.844352143\"];\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  n1 -> n8 [label=\"∂s/∂w1\\n= x1\\n= 0.1\\ngradient "
                                 "flow 0.009276093\""));
    ck_assert_ptr_nonnull(strstr(text, "  n7 -> n8 [label=\"∂s/∂b\\n= 1\"];\n"));
    /* edges come by consumer, then input */
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n8 [label=\"∂s/∂x1\\n= w1\\n= 0.5\"];\n"));
    ck_assert(strstr(text, "  n0 -> n8") < strstr(text, "  n1 -> n8"));
    ck_assert(strstr(text, "  n7 -> n8") < strstr(text, "  n8 -> n9"));
    ck_assert_uint_eq(count(text, ", color=\"#d62728\""), 3 + 4);
    free(text);

    /* values only, gradients only */
    opts.highlight = NULL;
    opts.grads = 0;
    text = dot_text(g, &opts, "values.dot");
    ck_assert_ptr_nonnull(strstr(text, "[label=\"predicted\\n= 0.874352143\", shape"));
    ck_assert_ptr_null(strstr(text, "grad"));
    free(text);
    opts.grads = 1;
    opts.values = 0;
    text = dot_text(g, &opts, "grads.dot");
    ck_assert_ptr_nonnull(strstr(text, "[label=\"predicted\\ngrad = 0.844352143\", shape"));
    free(text);

    /* a cap keeps the highlighted chain and counts the rest */
    opts.values = 1;
    opts.highlight = cr_expr_lookup(p, "w1")->node;
    opts.max_nodes = 4;
    text = dot_text(g, &opts, "capped.dot");
    ck_assert_uint_eq(count_nodes(text), 4);
    /* one summary per statement, with the inputs it uses first */
    ck_assert_ptr_nonnull(
        strstr(text, "  collapsed_1 [label=\"s: 4 nodes not drawn\\n4 inputs\""));
    ck_assert_ptr_nonnull(
        strstr(text, "  collapsed_3 [label=\"E: 1 node not drawn\\n1 input\""));
    ck_assert_ptr_nonnull(strstr(text, "  n1 -> n8 [label="));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_1 -> n8 [style=dashed"));
    ck_assert_ptr_nonnull(strstr(text, "  collapsed_3 -> n14 [style=dashed"));
    ck_assert_uint_eq(count(text, " [style=dashed"), 2);
    free(text);

    /* errors */
    opts.max_nodes = 0;
    opts.loss = NULL;
    opts.highlight = NULL;
    ck_assert_int_eq(cr_dot_write(g, stdout, &opts), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message, "dot: the statements view needs the loss");
    opts.view = (cr_dot_view)7;
    ck_assert_int_eq(cr_dot_write(g, stdout, &opts), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message, "dot: unknown view 7");
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_statements_tensor_and_hostile)
{
    /* tensors: a composed Jacobian is described, not formed */
    cr_graph *g = cr_graph_new();
    cr_node *W = NULL;
    cr_node *H = tensor_layer(g, &W);
    cr_node *E = cr_sum(g, cr_mul(g, H, H));
    ck_assert_int_eq(cr_node_set_name(H, "H"), CR_OK);
    ck_assert_int_eq(cr_node_set_name(E, "E"), CR_OK);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.loss = E;
    opts.highlight = W;
    char *text = dot_text(g, &opts, "tensor.dot");
    ck_assert_uint_eq(count_nodes(text), 4);
    ck_assert_ptr_nonnull(strstr(text, "[label=\"W\\n[2,3]\\ngrad norm = "));
    ck_assert_ptr_nonnull(strstr(text, "∂H/∂W\\n= d(H)/d(W)\\ncomposite, [4,3] x [2,3]"));
    ck_assert_ptr_nonnull(strstr(text, "∂E/∂H\\n= d(E)/d(H)\\ncomposite, [] x [4,3]"));
    ck_assert_ptr_nonnull(strstr(text, "gradient flow norm "));
    free(text);
    cr_graph_free(g);

    /* hostile names stay escaped in the composed formulas */
    g = hostile_graph(&opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    text = dot_text(g, &opts, "hostile.dot");
    ck_assert_ptr_nonnull(strstr(text, "label=\"(quote\\\"d)\\n= 0.5\\ngrad = "));
    ck_assert_ptr_nonnull(strstr(text, "label=\"bad\\\\xFF\\\\xFEutf8\\n= "));
    ck_assert_ptr_nonnull(strstr(text, "label=\"(}; digraph x {)\\n= "));
    ck_assert_ptr_nonnull(strstr(text, "∂(E \\\"loss\\\"\\n)/∂(del\\\\x7F)\\n= "));
    free(text);
    cr_graph_free(g);
}
END_TEST

/* E = a + b with a = 10 w and b = 0.1 w: two paths from E to w, the one
 * through a carrying 100 times the other's share. The strongest is drawn
 * bold, the other thin, in the ops and the statements view. */
START_TEST(test_highlight_strongest)
{
    cr_graph *g = cr_graph_new();
    cr_node *w = cr_param_scalar(g, "w", 0.5);
    cr_node *a = cr_mul(g, cr_scalar(g, 10.0), w);
    cr_node *b = cr_mul(g, cr_scalar(g, 0.1), w);
    cr_node *E = cr_add(g, a, b);
    ck_assert_ptr_nonnull(E);
    cr_node_set_name(a, "a");
    cr_node_set_name(b, "b");
    cr_node_set_name(E, "E");
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = E;
    opts.highlight = w;
    static const char bold[] = "color=\"#d62728\", fontcolor=\"#d62728\", penwidth=2.5]";
    static const char thin[] = "color=\"#f08c8c\", fontcolor=\"#c0504d\", penwidth=1.2]";
    char *text = dot_text(g, &opts, "paths.dot");
    ck_assert_uint_eq(count(text, bold), 2);
    ck_assert_uint_eq(count(text, thin), 2);
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n2 [label=\"∂a/∂w = const#1\\n= 10\\n"
                                       "gradient flow 10\", color=\"#d62728\""));
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n4 [label=\"∂b/∂w = const#3\\n= 0.1\\n"
                                       "gradient flow 0.1\", color=\"#f08c8c\""));
    ck_assert_ptr_nonnull(strstr(text, "  n4 [label=\"b\\nmul\\n= 0.05\", shape=ellipse, "
                                       "color=\"#f08c8c\", penwidth=1.2];"));
    ck_assert_ptr_nonnull(strstr(text, "  n2 [label=\"a\\nmul\\n= 5\", shape=ellipse, "
                                       "color=\"#d62728\", penwidth=2.5];"));
    free(text);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    text = dot_text(g, &opts, "paths_statements.dot");
    ck_assert_uint_eq(count_nodes(text), 4);
    ck_assert_uint_eq(count(text, bold), 2);
    ck_assert_uint_eq(count(text, thin), 2);
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n2 [label=\"∂a/∂w\\n= 10\\n"
                                       "gradient flow 10\", color=\"#d62728\""));
    ck_assert_ptr_nonnull(strstr(text, "  n4 -> n5 [label=\"∂E/∂b\\n= 1\\n"
                                       "gradient flow 1\", color=\"#f08c8c\""));
    free(text);
    cr_graph_free(g);
}
END_TEST

/* The article's 3-7-5-4-1 sigmoid network as chainrule's MLP builds it
 * (seed 1), evaluated on the article's sample: its graph holds the
 * batch-1 head x, s1, a1, ..., a4, loss. The caller frees *m. */
static cr_graph *article_mlp(cr_mlp **m)
{
    const double x[3] = {0.1, 0.4, 4.1}, y[1] = {0.2};
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 3, 1);
    spec.n_hidden = 3;
    spec.hidden[0] = 7;
    spec.hidden[1] = 5;
    spec.hidden[2] = 4;
    cr_error err;
    *m = cr_mlp_new(&spec, &err);
    ck_assert_ptr_nonnull(*m);
    cr_eval_result r;
    ck_assert_int_eq(cr_mlp_evaluate(*m, x, y, 1, &r, &err), CR_OK);
    cr_eval_result_free(&r);
    return cr_mlp_graph(*m);
}

START_TEST(test_layers_and_clusters)
{
    cr_mlp *m = NULL;
    cr_graph *g = article_mlp(&m);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_LAYERS;
    opts.loss = cr_graph_find(g, "loss");
    opts.highlight = cr_graph_find(g, "W1");
    opts.rankdir = CR_DOT_TB;
    char *text = dot_text(g, &opts, "layers.dot");
    /* x, y, loss and four layers, drawn as the first node of each */
    ck_assert_uint_eq(count_nodes(text), 7);
    ck_assert_uint_eq(count(text, " -> "), 6);
    ck_assert_ptr_nonnull(strstr(text, "  n0 [label=\"layer 1\\nW1 [3,7], grad norm = "));
    ck_assert_ptr_nonnull(strstr(text, "\\nb1 [7], grad norm = "));
    ck_assert_ptr_nonnull(strstr(text, "\\na1 [1,7], grad norm = "));
    ck_assert_ptr_nonnull(strstr(text, "\\na4 = 0.379071718, grad = 0.179071718\", "
                                       "shape=box, style=\"rounded,filled\""));
    /* between layers: the Jacobian's kind and the gradient flowing */
    ck_assert_ptr_nonnull(strstr(text, "  n0 -> n2 [label=\"∂s2/∂a1\\n= W2\\nlinear: dX = "
                                       "dS W^T (matrix product), [1,5] x [1,7]\\ngradient "
                                       "flow norm "));
    ck_assert_ptr_nonnull(strstr(text, "  n6 -> n18 [label=\"∂loss/∂a4\\n= a4-y\\n= "
                                       "0.179071718\\ngradient flow 0.179071718\""));
    ck_assert_ptr_null(strstr(text, "∂a1/∂s1")); /* inside a layer */
    ck_assert_ptr_null(strstr(text, "subgraph"));
    free(text);

    /* the statements view with a box per layer */
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.clusters = 1;
    text = dot_text(g, &opts, "clusters.dot");
    ck_assert_uint_eq(count_nodes(text), 19);
    ck_assert_uint_eq(count(text, "  subgraph cluster_"), 4);
    ck_assert_ptr_nonnull(strstr(text, "  subgraph cluster_1 {\n    label=\"layer 1\"; "
                                       "style=\"rounded,dashed\"; color=\"#888888\";\n"
                                       "    n0; n1; n10; n11;\n  }\n"));
    ck_assert_ptr_nonnull(strstr(text, "∂a1/∂s1\\n= a1*(1-a1)\\ndiagonal, [1,7] x [1,7]"));
    free(text);
    opts.view = CR_DOT_VIEW_LAYERS;
    opts.loss = NULL;
    opts.highlight = NULL;
    ck_assert_int_eq(cr_dot_write(g, stdout, &opts), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message, "dot: the layers view needs the loss");
    cr_mlp_free(m);
}
END_TEST

/* ---- rendering (libgvc), a TCase of its own ---- */

/* The size in pixels (at 96 per inch, as Graphviz renders PNG) of an SVG
 * that Graphviz wrote, read from its width and height in points. */
static void svg_size_px(const char *path, double *width, double *height)
{
    char *svg = slurp(path, NULL);
    const char *tag = strstr(svg, "<svg width=\"");
    ck_assert_ptr_nonnull(tag);
    double w = 0.0, h = 0.0;
    ck_assert_int_eq(sscanf(tag, "<svg width=\"%lfpt\" height=\"%lfpt\"", &w, &h), 2);
    free(svg);
    *width = w * 96.0 / 72.0;
    *height = h * 96.0 / 72.0;
}

static void assert_magic(const char *path, const char *magic)
{
    size_t len = 0;
    char *data = slurp(path, &len);
    ck_assert_uint_gt(len, 100);
    ck_assert_msg(strstr(data, magic) != NULL && (size_t)(strstr(data, magic) - data) < 64,
                  "%s does not start with %s", path, magic);
    free(data);
}

START_TEST(test_render_formats)
{
    seed n = seed_build();
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = n.E;
    opts.highlight = n.w1;
    if (!cr_dot_can_render()) {
        ck_assert_int_eq(cr_dot_render(n.g, &opts, tmp_path("x.svg"), "svg"), CR_ENOTSUP);
        ck_assert_str_eq(cr_graph_error(n.g)->message, "built without Graphviz rendering");
        ck_assert_uint_eq(dir_count(tmpdir), 0);
        cr_graph_free(n.g);
        return;
    }
    ck_assert_int_eq(cr_dot_render(n.g, &opts, tmp_path("seed.svg"), "svg"), CR_OK);
    assert_magic(tmp_path("seed.svg"), "<?xml");
    char *svg = slurp(tmp_path("seed.svg"), NULL);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "predicted*(1&#45;predicted)"));
    free(svg);
    ck_assert_int_eq(cr_dot_render(n.g, &opts, tmp_path("seed.png"), "png"), CR_OK);
    assert_magic(tmp_path("seed.png"), "\x89PNG\r\n");
    ck_assert_int_eq(cr_dot_render(n.g, &opts, tmp_path("seed.pdf"), "pdf"), CR_OK);
    assert_magic(tmp_path("seed.pdf"), "%PDF-");
    ck_assert_uint_eq(dir_count(tmpdir), 3);
    cr_graph_free(n.g);
}
END_TEST

/* The issue's sizes: the seed neuron's statements view fits a 16:9 slide
 * at 1600 px wide (the ops view of the same program does not), the
 * article's network in the layers view is under 2000 px on its long side,
 * and the text stays at 11 and 9 points. */
START_TEST(test_render_sizes)
{
    if (!cr_dot_can_render())
        return;
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = seed_program(g);
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.loss = cr_expr_output(p)->node;
    opts.highlight = cr_expr_lookup(p, "w1")->node;
    double w = 0.0, h = 0.0;
    ck_assert_int_eq(cr_dot_render(g, &opts, tmp_path("statements.svg"), "svg"), CR_OK);
    svg_size_px(tmp_path("statements.svg"), &w, &h);
    ck_assert_msg(w <= 1600.0 && h <= 900.0, "statements view: %.0f x %.0f px", w, h);
    ck_assert_msg(w >= 800.0, "statements view: %.0f px wide, text too small?", w);
    opts.view = CR_DOT_VIEW_OPS;
    ck_assert_int_eq(cr_dot_render(g, &opts, tmp_path("ops.svg"), "svg"), CR_OK);
    svg_size_px(tmp_path("ops.svg"), &w, &h);
    ck_assert_msg(w > 1600.0, "ops view: %.0f x %.0f px", w, h);
    char *text = dot_text(g, &opts, "fonts.dot");
    ck_assert_ptr_nonnull(strstr(text, "node [fontname=\"Helvetica\", fontsize=11];"));
    ck_assert_ptr_nonnull(strstr(text, "edge [fontname=\"Helvetica\", fontsize=9];"));
    free(text);
    cr_expr_free(p);
    cr_graph_free(g);

    cr_mlp *m = NULL;
    g = article_mlp(&m);
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_LAYERS;
    opts.loss = cr_graph_find(g, "loss");
    opts.highlight = cr_graph_find(g, "W1");
    opts.rankdir = CR_DOT_TB;
    ck_assert_int_eq(cr_dot_render(g, &opts, tmp_path("layers.svg"), "svg"), CR_OK);
    svg_size_px(tmp_path("layers.svg"), &w, &h);
    ck_assert_msg(w < 2000.0 && h < 2000.0, "layers view: %.0f x %.0f px", w, h);
    cr_mlp_free(m);
}
END_TEST

/* 1 if the solid (not summary) edges of the DOT text lead from node
 * from to node to: the highlighted weight stays connected to the loss by
 * drawn edges. */
static int drawn_path(const char *text, size_t from, size_t to)
{
    enum { MAX = 4096 };
    static unsigned char reached[MAX];
    memset(reached, 0, sizeof reached);
    reached[from] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (const char *p = strstr(text, "\n  n"); p; p = strstr(p + 1, "\n  n")) {
            size_t a = 0, b = 0;
            int used = 0;
            if (sscanf(p, "\n  n%zu -> n%zu [label=%n", &a, &b, &used) == 2 && used > 0 &&
                a < MAX && b < MAX && reached[a] && !reached[b])
                reached[b] = changed = 1;
        }
    }
    return reached[to];
}

/* The DOT identifier's number of the drawn node labelled name. */
static size_t drawn_id(const char *text, const char *name)
{
    char label[128];
    snprintf(label, sizeof label, " [label=\"%s\\n", name);
    const char *at = strstr(text, label);
    ck_assert_ptr_nonnull(at);
    while (at > text && at[-1] != 'n')
        at--;
    return (size_t)strtoul(at, NULL, 10);
}

/* The article's 3-7-5-4-1 network built from scalars with a group marker
 * per layer (tests/cli/article_scalars.cr, one statement per weight): 136
 * statements, 12617 x 1851 px in the ops view (issue 16's 12703 x 1844),
 * 4555 x 5640 in the statements view uncapped. Capped at
 * 12 statements, top to bottom, it keeps the chain from w1_1_1 to E whole
 * and drawn, summarises the rest per layer and is 1167 x 1955 px. */
START_TEST(test_render_article_scalars)
{
    char path[512];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/tests/cli/article_scalars.cr", top ? top : ".");
    size_t len = 0;
    char *program = slurp(path, &len);
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = NULL;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, program, len, &p, &err), CR_OK);
    free(program);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    ck_assert_uint_eq(cr_expr_num_statements(p),
                      3 + 1 + 21 + 7 * 3 + 35 + 5 * 3 + 20 + 4 * 3 + 4 + 1 * 3 + 1);
    cr_dot_options opts;
    group_options(p, &opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.highlight = cr_expr_lookup(p, "w1_1_1")->node;
    opts.max_nodes = 12;
    opts.rankdir = CR_DOT_TB;
    char *text = dot_text(g, &opts, "article.dot");
    ck_assert_uint_le(count_nodes(text), 20);
    ck_assert_uint_eq(count(text, " nodes not drawn"), 5);
    ck_assert_ptr_nonnull(strstr(text, "label=\"data: 4 nodes not drawn\\n4 constants\""));
    ck_assert_ptr_nonnull(strstr(text, "label=\"layer 1: 39 nodes not drawn\\n27 constants"
                                       "\\n12 ops\""));
    ck_assert_ptr_nonnull(
        strstr(text, "label=\"layer 4: 5 nodes not drawn\\n5 constants\""));
    size_t weight = drawn_id(text, "w1_1_1"), loss = drawn_id(text, "E");
    ck_assert(drawn_path(text, weight, loss));
    ck_assert(!drawn_path(text, loss, weight));
    free(text);
    if (cr_dot_can_render()) {
        double w = 0.0, h = 0.0;
        ck_assert_int_eq(cr_dot_render(g, &opts, tmp_path("article.svg"), "svg"), CR_OK);
        svg_size_px(tmp_path("article.svg"), &w, &h);
        /* 1167 x 1955 here: the margin is for other fonts */
        ck_assert_msg(w < 2200.0 && h < 2200.0, "article, capped: %.0f x %.0f px", w, h);
        ck_assert_msg(w > 600.0 && h > 1000.0, "article, capped: %.0f x %.0f px", w, h);
    }
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_render_failures)
{
    seed n = seed_build();
    ck_assert_int_eq(cr_dot_render(n.g, NULL, tmp_path("x.gif"), "gif"), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "render: format 'gif' is not svg, png or pdf");
    ck_assert_int_eq(cr_dot_render(n.g, NULL, NULL, "svg"), CR_EINVAL);
    ck_assert_int_eq(cr_dot_render(n.g, NULL, tmp_path("x.svg"), NULL), CR_EINVAL);
    cr_status expected = cr_dot_can_render() ? CR_ENOTFOUND : CR_ENOTSUP;
    ck_assert_int_eq(cr_dot_render(n.g, NULL, tmp_path("missing/x.svg"), "svg"), expected);
    ck_assert_uint_eq(dir_count(tmpdir), 0);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_render_hostile)
{
    if (!cr_dot_can_render())
        return;
    cr_dot_options opts;
    cr_graph *g = hostile_graph(&opts);
    ck_assert_int_eq(cr_dot_render(g, &opts, tmp_path("hostile.svg"), "svg"), CR_OK);
    char *svg = slurp(tmp_path("hostile.svg"), NULL);
    ck_assert_ptr_nonnull(strstr(svg, ">∂é→ünïcødé<"));
    ck_assert_ptr_nonnull(strstr(svg, ">(quote&quot;d)<"));
    free(svg);
    cr_graph_free(g);
}
END_TEST

Suite *dot_suite(void)
{
    Suite *s = suite_create("dot");
    TCase *tc = tcase_create("dot");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seed_dot);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_max_nodes);
    tcase_add_test(tc, test_tensor_dot);
    tcase_add_test(tc, test_write_failures);
    tcase_add_loop_test(tc, test_out_of_memory, 0, 2); /* ops, statements */
    tcase_add_test(tc, test_statements_seed);
    tcase_add_test(tc, test_statements_tensor_and_hostile);
    tcase_add_test(tc, test_layers_and_clusters);
    tcase_add_test(tc, test_highlight_strongest);
    tcase_add_test(tc, test_group_markers);
    tcase_add_test(tc, test_group_clusters);
    tcase_add_test(tc, test_group_summaries);
    tcase_add_loop_test(tc, test_group_out_of_memory, 0, 2); /* ops, statements */
    suite_add_tcase(s, tc);
    TCase *render = tcase_create("render");
    tcase_add_checked_fixture(render, tmp_setup, tmp_teardown);
    tcase_set_timeout(render, 60);
    tcase_add_test(render, test_render_formats);
    tcase_add_test(render, test_render_sizes);
    tcase_add_test(render, test_render_failures);
    tcase_add_test(render, test_render_article_scalars);
    tcase_add_test(render, test_render_hostile);
    suite_add_tcase(s, render);
    return s;
}
