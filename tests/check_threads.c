/*
 * check_threads.c - separate graphs used from separate threads are
 * independent: two threads each train their own small network and get
 * exactly the numbers a single thread gets, with a hand-written SGD
 * update, with the optimizer (cr_optim, Adam) and with the MLP training
 * loop (cr_mlp_train). A convolution big enough for its kernels to split
 * their work over two threads gives bit-for-bit what one thread gives.
 * test.sh also runs this suite under ThreadSanitizer (build/tsan), which
 * fails on any data race.
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct training {
    double scale;      /* makes the two threads' problems differ */
    int use_optim;     /* 1: cr_optim (Adam) instead of the SGD loop */
    double final_loss; /* result */
    double first_weight;
    cr_status status;
} training;

/* A 4-6-3 tanh/softmax network on a fixed batch, 200 SGD steps. */
static void *train(void *arg)
{
    training *t = arg;
    cr_graph *g = cr_graph_new();
    size_t xs[2] = {5, 4}, w1s[2] = {4, 6}, b1s[1] = {6}, w2s[2] = {6, 3}, b2s[1] = {3};
    size_t ys[2] = {5, 3};
    double xd[20], yd[15] = {0}, wd[24], w2d[18];
    for (int i = 0; i < 20; i++)
        xd[i] = t->scale * (double)((i * 7) % 11 - 5) / 5.0;
    for (int r = 0; r < 5; r++)
        yd[r * 3 + r % 3] = 1.0;
    for (int i = 0; i < 24; i++)
        wd[i] = 0.3 * (double)((i * 5) % 7 - 3) / 3.0;
    for (int i = 0; i < 18; i++)
        w2d[i] = 0.2 * (double)((i * 3) % 5 - 2) / 2.0;
    cr_tensor *w1 = cr_tensor_new_from(2, w1s, wd, NULL);
    cr_tensor *b1 = cr_tensor_new(1, b1s, NULL);
    cr_tensor *w2 = cr_tensor_new_from(2, w2s, w2d, NULL);
    cr_tensor *b2 = cr_tensor_new(1, b2s, NULL);
    cr_node *x = cr_input(g, "x", 2, xs), *y = cr_input(g, "y", 2, ys);
    cr_node_set_data(x, xd, 20);
    cr_node_set_data(y, yd, 15);
    cr_node *W1 = cr_param(g, "W1", w1), *B1 = cr_param(g, "b1", b1);
    cr_node *W2 = cr_param(g, "W2", w2), *B2 = cr_param(g, "b2", b2);
    cr_node *h = cr_tanh(g, cr_sop(g, 1, &x, &W1, B1));
    cr_node *E = cr_softmax_xent(g, cr_sop(g, 1, &h, &W2, B2), y);
    cr_tensor_free(w1);
    cr_tensor_free(b1);
    cr_tensor_free(w2);
    cr_tensor_free(b2);
    t->status = E ? CR_OK : cr_graph_error(g)->status;
    double buf[24];
    cr_optim *opt = NULL;
    if (t->use_optim && t->status == CR_OK) {
        cr_optim_options oo = cr_optim_defaults(CR_OPTIM_ADAM);
        oo.lr = 0.05;
        if (!(opt = cr_optim_new(g, &oo, NULL)))
            t->status = CR_ENOMEM;
    }
    for (int step = 0; step < 200 && t->status == CR_OK; step++) {
        if ((t->status = cr_graph_forward(g, E)) != CR_OK ||
            (t->status = cr_graph_backward(g, E, 0)) != CR_OK)
            break;
        if (opt) {
            t->status = cr_optim_step(opt);
            continue;
        }
        for (size_t p = 0; p < cr_graph_num_params(g); p++) {
            cr_node *P = cr_graph_param(g, p);
            const double *v = cr_tensor_data(cr_node_value(P));
            const double *d = cr_tensor_data(cr_node_grad(P));
            size_t n = cr_tensor_size(cr_node_value(P));
            for (size_t i = 0; i < n; i++)
                buf[i] = v[i] - 0.5 * d[i];
            cr_node_set_data(P, buf, n);
        }
    }
    cr_graph_forward(g, E);
    t->final_loss = cr_node_scalar(E);
    t->first_weight = cr_tensor_get(cr_node_value(W1), 0);
    cr_optim_free(opt);
    cr_graph_free(g);
    return NULL;
}

/* A 2-8-3 MLP trained by cr_mlp_train (shuffled mini-batches, Adam, a
 * validation split) on three blobs. */
static void *train_mlp(void *arg)
{
    training *t = arg;
    enum { ROWS = 60 };
    double x[2 * ROWS], y[3 * ROWS] = {0};
    for (int i = 0; i < ROWS; i++) {
        const int c = i % 3;
        x[2 * i] = t->scale * (c - 1.0) + 0.1 * (double)((i * 7) % 5 - 2);
        x[2 * i + 1] = (c == 1 ? 1.0 : -0.5) + 0.1 * (double)((i * 3) % 5 - 2);
        y[3 * i + c] = 1.0;
    }
    cr_mlp_spec s;
    cr_mlp_spec_init(&s, 2, 3);
    s.n_hidden = 1;
    s.hidden[0] = 8;
    s.hidden_act = CR_ACT_TANH;
    s.out_act = CR_ACT_SOFTMAX;
    s.loss = CR_LOSS_XENT;
    cr_error err;
    cr_mlp *m = cr_mlp_new(&s, &err);
    if (!m) {
        t->status = err.status;
        return NULL;
    }
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 40;
    o.batch = 8;
    o.val_split = 0.2;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.02;
    cr_train_stats st;
    t->status = cr_mlp_train(m, x, y, ROWS, &o, &st, &err);
    t->final_loss = st.train_loss;
    t->first_weight = cr_tensor_get(cr_node_value(cr_mlp_weight(m, 1)), 0);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    return NULL;
}

/* Runs fn alone for two problems, then 3 rounds of both at once on two
 * threads: every result must be bit-for-bit the one-thread one. */
static void two_threads(void *(*fn)(void *), int use_optim, double max_loss)
{
    training alone[2] = {{.scale = 1.0, .use_optim = use_optim},
                         {.scale = -0.7, .use_optim = use_optim}};
    fn(&alone[0]);
    fn(&alone[1]);
    ck_assert_int_eq(alone[0].status, CR_OK);
    ck_assert_int_eq(alone[1].status, CR_OK);
    /* the runs learn: the loss falls well below log(3) = 1.0986 */
    ck_assert_double_lt(alone[0].final_loss, max_loss);
    ck_assert_double_lt(alone[1].final_loss, max_loss);
    ck_assert_double_ne(alone[0].final_loss, alone[1].final_loss);

    for (int round = 0; round < 3; round++) {
        training par[2] = {{.scale = 1.0, .use_optim = use_optim},
                           {.scale = -0.7, .use_optim = use_optim}};
        pthread_t th[2];
        ck_assert_int_eq(pthread_create(&th[0], NULL, fn, &par[0]), 0);
        ck_assert_int_eq(pthread_create(&th[1], NULL, fn, &par[1]), 0);
        pthread_join(th[0], NULL);
        pthread_join(th[1], NULL);
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(par[i].status, CR_OK);
            /* bit-for-bit what one thread computes */
            ck_assert(memcmp(&par[i].final_loss, &alone[i].final_loss, sizeof(double)) ==
                      0);
            ck_assert(
                memcmp(&par[i].first_weight, &alone[i].first_weight, sizeof(double)) == 0);
        }
    }
}

START_TEST(test_two_graphs_two_threads) { two_threads(train, 0, 0.5); }
END_TEST

START_TEST(test_optimizer_two_threads) { two_threads(train, 1, 0.5); }
END_TEST

START_TEST(test_mlp_train_two_threads) { two_threads(train_mlp, 0, 0.5); }
END_TEST

/* conv2d of x [n,c,h,h] by w [o,c/groups,3,3] + b with the given stride
 * and padding 1, loss 1/2 sum (y - G)^2, on `threads` threads: writes y
 * and the gradients of x, w and b to out (at most cap numbers); returns
 * how many. */
static size_t conv_values(int threads, size_t n, size_t c, size_t o, size_t h,
                          size_t stride, size_t groups, double *out, size_t cap)
{
    ck_assert_int_eq(cr_set_num_threads(threads), CR_OK);
    cr_graph *g = cr_graph_new();
    const size_t sx[4] = {n, c, h, h}, sw[4] = {o, c / groups, 3, 3}, sb[1] = {o};
    const size_t st[2] = {stride, stride}, pad[2] = {1, 1};
    cr_node *x = cr_input(g, "x", 4, sx),
            *w = cr_param_init(g, "w", 4, sw, CR_INIT_UNIFORM, 0, 0),
            *b = cr_param_init(g, "b", 1, sb, CR_INIT_UNIFORM, 0, 0);
    cr_node *in[3] = {x, w, b};
    double *v = malloc(cap * sizeof *v);
    for (size_t k = 0; k < 3; k++) {
        const size_t size = cr_tensor_size(cr_node_value(in[k]));
        ck_assert_uint_le(size, cap);
        for (size_t i = 0; i < size; i++)
            v[i] = sin(0.7 * (double)(i + 31 * k) + 0.1);
        ck_assert_int_eq(cr_node_set_data(in[k], v, size), CR_OK);
    }
    cr_node_require_grad(x, 1);
    cr_node *y = cr_conv2d(g, x, w, b, st, pad, NULL, groups);
    ck_assert_ptr_nonnull(y);
    const cr_tensor *yt = cr_node_value(y);
    cr_node *G = cr_input(g, "G", cr_tensor_rank(yt), cr_tensor_shape(yt));
    ck_assert_uint_le(cr_tensor_size(yt), cap);
    for (size_t i = 0; i < cr_tensor_size(yt); i++)
        v[i] = cos(0.3 * (double)i);
    ck_assert_int_eq(cr_node_set_data(G, v, cr_tensor_size(yt)), CR_OK);
    free(v);
    cr_node *loss = cr_sq_error(g, y, G);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    const cr_tensor *parts[4] = {yt, cr_node_grad(x), cr_node_grad(w), cr_node_grad(b)};
    size_t count = 0;
    for (size_t k = 0; k < 4; k++) {
        const size_t size = cr_tensor_size(parts[k]);
        ck_assert_uint_le(count + size, cap);
        memcpy(out + count, cr_tensor_data(parts[k]), size * sizeof *out);
        count += size;
    }
    cr_graph_free(g);
    ck_assert_int_eq(cr_set_num_threads(1), CR_OK);
    return count;
}

/* The kernels split at 2^19 multiply-adds (n o 9c/groups OH OW): these
 * shapes are above that, with an odd batch and odd channel counts so the
 * halves differ, grouped and strided too; the last two have fewer column
 * rows than output channels (9c/groups < o/groups), where the weight
 * gradient is computed transposed. */
START_TEST(test_conv_two_threads_bit_identical)
{
    static const size_t shapes[][6] = {{5, 8, 17, 12, 1, 1},
                                       {4, 8, 16, 32, 2, 2},
                                       {3, 6, 27, 20, 1, 3},
                                       {15, 1, 33, 16, 1, 1},
                                       {8, 2, 34, 16, 1, 2}};
    enum { CAP = 150000 };
    double *one = malloc(CAP * sizeof *one), *two = malloc(CAP * sizeof *two);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const size_t *s = shapes[i];
        const size_t k1 = conv_values(1, s[0], s[1], s[2], s[3], s[4], s[5], one, CAP);
        const size_t k2 = conv_values(2, s[0], s[1], s[2], s[3], s[4], s[5], two, CAP);
        ck_assert_uint_eq(k1, k2);
        ck_assert(memcmp(one, two, k1 * sizeof *one) == 0);
    }
    free(one);
    free(two);
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_two_graphs_two_threads);
    tcase_add_test(tc, test_optimizer_two_threads);
    tcase_add_test(tc, test_mlp_train_two_threads);
    tcase_add_test(tc, test_conv_two_threads_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}
