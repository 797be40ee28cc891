/*
 * check_recurrent.c - tests of the recurrent layers (src/nn/recurrent.c):
 * a one-unit RNN, GRU and LSTM against values worked out by hand, every
 * cell's gradients (weights, biases, inputs, initial state) against finite
 * differences inside a small model, for the last state and every step,
 * orthogonal recurrent blocks, truncated BPTT's carried state equal to one
 * long unrolling, truncated BPTT inside a window against the sum of its
 * chunks' gradients, and the shape errors.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-12

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Sets every parameter of p to the values in order w_ih, w_hh, b_ih, b_hh. */
static void set_params(const cr_rnn_params *p, const double *v)
{
    cr_node *n[4] = {p->w_ih, p->w_hh, p->b_ih, p->b_hh};
    for (int k = 0; k < 4; k++) {
        size_t size = cr_tensor_size(cr_node_value(n[k]));
        ck_assert_int_eq(cr_node_set_data(n[k], v, size), CR_OK);
        v += size;
    }
}

START_TEST(one_unit_by_hand)
{
    /* x = (0.5, -1.25) over two steps, one input, one unit, h0 = 0 */
    const double xs[2] = {0.5, -1.25};
    for (int cell = 0; cell < CR_RNN_COUNT; cell++) {
        cr_graph *g = cr_graph_new();
        cr_rnn_params p;
        ck_assert_int_eq(cr_rnn_params_new(g, "r", (cr_rnn_cell)cell, 1, 1, 1, &p), CR_OK);
        /* weights per gate: w_ih 0.7, 0.3, ...; w_hh -0.4, 0.9, ...; biases */
        const double wi[4] = {0.7, 0.3, -0.6, 1.1}, wh[4] = {-0.4, 0.9, 0.25, -0.8};
        const double bi[4] = {0.1, -0.2, 0.05, 0.3}, bh[4] = {0.15, 0.4, -0.35, 0.2};
        size_t G = cr_rnn_gates((cr_rnn_cell)cell);
        double v[16];
        memcpy(v, wi, G * sizeof *v);
        memcpy(v + G, wh, G * sizeof *v);
        memcpy(v + 2 * G, bi, G * sizeof *v);
        memcpy(v + 3 * G, bh, G * sizeof *v);
        set_params(&p, v);
        cr_node *x = cr_input(g, "x", 2, (size_t[]){1, 2});
        ck_assert_int_eq(cr_node_set_data(x, xs, 2), CR_OK);
        cr_rnn_state last;
        cr_node *y = cr_rnn(g, &p, x, NULL, 1, &last);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
        double h = 0, c = 0, want[2];
        for (int t = 0; t < 2; t++) {
            double a[4];
            for (size_t k = 0; k < G; k++)
                a[k] = xs[t] * wi[k] + bi[k] + h * wh[k] + bh[k];
            if (cell == CR_RNN_TANH) {
                h = tanh(a[0]);
            } else if (cell == CR_RNN_GRU) {
                double r = sig(a[0]), z = sig(a[1]);
                double n = tanh(xs[t] * wi[2] + bi[2] + r * (h * wh[2] + bh[2]));
                h = (1 - z) * n + z * h;
            } else {
                c = sig(a[1]) * c + sig(a[0]) * tanh(a[2]);
                h = sig(a[3]) * tanh(c);
            }
            want[t] = h;
        }
        ck_assert_uint_eq(cr_tensor_size(cr_node_value(y)), 2);
        for (int t = 0; t < 2; t++)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), (size_t)t), want[t],
                                    TOL);
        ck_assert_double_eq_tol(cr_node_scalar(last.h), want[1], TOL);
        if (cell == CR_RNN_LSTM)
            ck_assert_double_eq_tol(cr_node_scalar(last.c), c, TOL);
        else
            ck_assert_ptr_null(last.c);
        cr_graph_free(g);
    }
}
END_TEST

/* A small model: x [2,4,3] -> cell with 3 units -> (last h, or the mean
 * over steps) -> x W + b -> mse against fixed targets. Every parameter,
 * x and the initial state checked against finite differences. */
START_TEST(gradients_in_a_model)
{
    const cr_rnn_cell cell = (cr_rnn_cell)(_i / 2);
    const int every = _i % 2;
    cr_graph *g = cr_graph_new();
    cr_graph_set_seed(g, 7);
    cr_rnn_params p;
    ck_assert_int_eq(cr_rnn_params_new(g, "l1", cell, 3, 3, 1, &p), CR_OK);
    /* biases away from 0, so their gradients are checked at a general point */
    test_rand_seed(11 + (unsigned long)_i);
    cr_node *bias[2] = {p.b_ih, p.b_hh};
    for (int k = 0; k < 2; k++) {
        double b[12];
        size_t n = cr_tensor_size(cr_node_value(bias[k]));
        for (size_t j = 0; j < n; j++)
            b[j] = test_rand_uniform(-0.5, 0.5);
        cr_node_set_data(bias[k], b, n);
    }
    cr_node *x = cr_input(g, "x", 3, (size_t[]){2, 4, 3});
    cr_node *h0 = cr_input(g, "h0", 2, (size_t[]){2, 3});
    cr_node *c0 = cell == CR_RNN_LSTM ? cr_input(g, "c0", 2, (size_t[]){2, 3}) : NULL;
    cr_node *ins[3] = {x, h0, c0};
    for (int k = 0; k < 3 && ins[k]; k++) {
        double v[24];
        size_t n = cr_tensor_size(cr_node_value(ins[k]));
        for (size_t j = 0; j < n; j++)
            v[j] = test_rand_uniform(-1.5, 1.5);
        cr_node_set_data(ins[k], v, n);
        cr_node_require_grad(ins[k], 1);
    }
    cr_rnn_state init = {h0, c0};
    cr_node *y = cr_rnn(g, &p, x, &init, every, NULL);
    ck_assert_msg(y != NULL, "%s", cr_graph_error(g)->message);
    if (every)
        y = cr_mean_dim(g, y, 1, 0);
    cr_node *w = cr_param_init(g, "w", 2, (size_t[]){3, 2}, CR_INIT_XAVIER, 0, 0);
    cr_node *b = cr_param_scalar(g, "b", 0.25);
    cr_node *out = cr_sop(g, 1, &y, &w, b);
    const double tv[4] = {0.3, -0.7, 1.2, 0.1};
    cr_tensor *tt = cr_tensor_new_from(2, (size_t[]){2, 2}, tv, NULL);
    cr_node *target = cr_constant(g, tt);
    cr_tensor_free(tt);
    cr_node *loss = cr_mse(g, out, target);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    cr_node *check[8] = {p.w_ih, p.w_hh, p.b_ih, p.b_hh, x, h0, c0};
    for (int k = 0; k < 7 && check[k]; k++) {
        const cr_tensor *gr = cr_node_grad(check[k]);
        ck_assert_ptr_nonnull(gr);
        ck_assert_double_gt(test_max_abs(gr), 1e-6); /* not all zero */
        size_t n = cr_tensor_size(gr);
        double *copy = malloc(n * sizeof *copy);
        memcpy(copy, cr_tensor_data(gr), n * sizeof *copy);
        char what[64];
        snprintf(what, sizeof what, "%s every=%d %s", cr_rnn_cell_name(cell), every,
                 cr_node_name(check[k]));
        test_assert_fd(g, loss, check[k], copy, 1e-6, what);
        free(copy);
    }
    cr_graph_free(g);
}
END_TEST

START_TEST(orthogonal_blocks)
{
    cr_graph *g = cr_graph_new();
    cr_graph_set_seed(g, 3);
    cr_rnn_params p;
    const size_t h = 9;
    ck_assert_int_eq(cr_rnn_params_new(g, "lstm", CR_RNN_LSTM, 5, h, 1, &p), CR_OK);
    const double *w = cr_tensor_data(cr_node_value(p.w_hh));
    for (size_t k = 0; k < 4; k++)
        for (size_t a = 0; a < h; a++)
            for (size_t b = 0; b < h; b++) {
                double dot = 0;
                for (size_t r = 0; r < h; r++)
                    dot += w[r * 4 * h + k * h + a] * w[r * 4 * h + k * h + b];
                ck_assert_double_eq_tol(dot, a == b ? 1.0 : 0.0, 1e-12);
            }
    /* Glorot bound of the input weights, forget bias 1, other biases 0 */
    const double r = sqrt(6.0 / 14.0);
    ck_assert_double_le(test_max_abs(cr_node_value(p.w_ih)), r);
    ck_assert_double_gt(test_max_abs(cr_node_value(p.w_ih)), 0.5 * r);
    for (size_t j = 0; j < 4 * h; j++) {
        ck_assert_double_eq(cr_tensor_get(cr_node_value(p.b_ih), j),
                            j / h == 1 ? 1.0 : 0.0);
        ck_assert_double_eq(cr_tensor_get(cr_node_value(p.b_hh), j), 0.0);
    }
    ck_assert_ptr_eq(cr_graph_find(g, "lstm.w_hh"), p.w_hh);
    /* the same seed gives the same weights */
    cr_graph *g2 = cr_graph_new();
    cr_graph_set_seed(g2, 3);
    cr_rnn_params q;
    ck_assert_int_eq(cr_rnn_params_new(g2, "lstm", CR_RNN_LSTM, 5, h, 1, &q), CR_OK);
    ck_assert_mem_eq(cr_tensor_data(cr_node_value(q.w_hh)), w, 36 * h * sizeof(double));
    cr_graph_free(g2);
    cr_graph_free(g);
}
END_TEST

START_TEST(truncated_bptt_carries_state)
{
    /* Two windows of 3 steps with the state carried equal one unrolling of
     * 6 steps; no gradient reaches the carried state's input. */
    for (int cell = 0; cell < CR_RNN_COUNT; cell++) {
        cr_graph *g = cr_graph_new();
        cr_graph_set_seed(g, 5);
        cr_rnn_params p;
        ck_assert_int_eq(cr_rnn_params_new(g, "r", (cr_rnn_cell)cell, 2, 4, 1, &p), CR_OK);
        double xv[24];
        test_rand_seed(2);
        for (int j = 0; j < 24; j++)
            xv[j] = test_rand_uniform(-1, 1);
        cr_node *xl = cr_input(g, "xl", 3, (size_t[]){2, 6, 2});
        cr_node_set_data(xl, xv, 24);
        cr_node *long_h = cr_rnn(g, &p, xl, NULL, 0, NULL);
        cr_node *xw = cr_input(g, "xw", 3, (size_t[]){2, 3, 2});
        cr_rnn_state init = {cr_input(g, "h0", 2, (size_t[]){2, 4}),
                             cell == CR_RNN_LSTM ? cr_input(g, "c0", 2, (size_t[]){2, 4})
                                                 : NULL};
        cr_rnn_state last;
        cr_node *win_h = cr_rnn(g, &p, xw, &init, 0, &last);
        ck_assert_ptr_nonnull(win_h);
        for (int w = 0; w < 2; w++) {
            double part[12];
            for (int b = 0; b < 2; b++)
                memcpy(part + b * 6, xv + b * 12 + w * 6, 6 * sizeof *part);
            cr_node_set_data(xw, part, 12);
            ck_assert_int_eq(cr_graph_forward(g, win_h), CR_OK);
            if (w == 0) {
                cr_node_set_value(init.h, cr_node_value(last.h));
                if (init.c)
                    cr_node_set_value(init.c, cr_node_value(last.c));
            }
        }
        ck_assert_int_eq(cr_graph_forward(g, long_h), CR_OK);
        for (size_t j = 0; j < 8; j++)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(win_h), j),
                                    cr_tensor_get(cr_node_value(long_h), j), TOL);
        ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, win_h), 0), CR_OK);
        ck_assert_ptr_null(cr_node_grad(init.h));
        ck_assert_ptr_nonnull(cr_node_grad(p.w_hh));
        cr_graph_free(g);
    }
}
END_TEST

/* The gradients of a weighted sum of every step's h under bptt N, for the
 * parameters and the inputs, against a reference built apart: each chunk
 * of N steps unrolled from an input holding the state the whole window
 * reaches there (an input carries no gradient), the chunks' losses
 * summed. The values are those of bptt 0; a loss on the last step gives
 * no gradient to the inputs of the chunks before its own. */
START_TEST(truncated_bptt_inside_window)
{
    enum { B = 2, T = 5, F = 2, H = 3, N = 2 };
    for (int cell = 0; cell < CR_RNN_COUNT; cell++) {
        cr_graph *g = cr_graph_new();
        cr_graph_set_seed(g, 8);
        cr_rnn_params p;
        ck_assert_int_eq(cr_rnn_params_new(g, "r", (cr_rnn_cell)cell, F, H, 1, &p), CR_OK);
        cr_rnn_params q = p;
        q.bptt = N;
        double xv[B * T * F], wv[B * T * H];
        test_rand_seed(3);
        for (int j = 0; j < B * T * F; j++)
            xv[j] = test_rand_uniform(-1, 1);
        for (int j = 0; j < B * T * H; j++)
            wv[j] = test_rand_uniform(-1, 1);
        cr_tensor *xt = cr_tensor_new(3, (size_t[]){B, T, F}, NULL);
        memcpy(cr_tensor_data_mut(xt), xv, sizeof xv);
        cr_node *x = cr_param(g, "x", xt);
        cr_tensor_free(xt);
        cr_node *w = cr_input(g, "w", 3, (size_t[]){B, T, H});
        cr_node_set_data(w, wv, B * T * H);
        cr_node *full = cr_rnn(g, &p, x, NULL, 1, NULL);
        cr_node *cut = cr_rnn(g, &q, x, NULL, 1, NULL);
        ck_assert_ptr_nonnull(cut);
        cr_node *loss = cr_sum(g, cr_mul(g, cut, w));
        /* the reference: chunks [0, 2), [2, 4), [4, 5) */
        cr_node *ref = NULL;
        for (int a = 0; a < T; a += N) {
            const int b = a + N < T ? a + N : T;
            cr_rnn_state init = {NULL, NULL}, last;
            if (a > 0) {
                cr_node *prefix = cr_slice(g, x, 1, 0, a, 1);
                ck_assert_ptr_nonnull(cr_rnn(g, &p, prefix, NULL, 0, &last));
                ck_assert_int_eq(cr_graph_forward(g, last.h), CR_OK);
                init.h = cr_input(g, NULL, 2, (size_t[]){B, H});
                cr_node_set_value(init.h, cr_node_value(last.h));
                if (last.c) {
                    ck_assert_int_eq(cr_graph_forward(g, last.c), CR_OK);
                    init.c = cr_input(g, NULL, 2, (size_t[]){B, H});
                    cr_node_set_value(init.c, cr_node_value(last.c));
                }
            }
            cr_node *yc = cr_rnn(g, &p, cr_slice(g, x, 1, a, b, 1), &init, 1, NULL);
            cr_node *part = cr_sum(g, cr_mul(g, yc, cr_slice(g, w, 1, a, b, 1)));
            ref = ref ? cr_add(g, ref, part) : part;
        }
        ck_assert_ptr_nonnull(ref);
        /* forward: bit for bit the whole window's values */
        ck_assert_int_eq(cr_graph_forward(g, full), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, cut), CR_OK);
        for (size_t j = 0; j < B * T * H; j++)
            ck_assert_double_eq(cr_tensor_get(cr_node_value(cut), j),
                                cr_tensor_get(cr_node_value(full), j));
        ck_assert_int_eq(cr_graph_forward(g, ref), CR_OK);
        ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
        ck_assert_double_eq_tol(cr_node_scalar(loss), cr_node_scalar(ref), TOL);
        /* backward: the chunks' gradients */
        cr_node *wrt[5] = {p.w_ih, p.w_hh, p.b_ih, p.b_hh, x};
        cr_tensor *want[5];
        ck_assert_int_eq(cr_graph_backward(g, ref, 0), CR_OK);
        for (int k = 0; k < 5; k++)
            want[k] = cr_tensor_copy(cr_node_grad(wrt[k]), NULL);
        ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
        for (int k = 0; k < 5; k++) {
            const cr_tensor *got = cr_node_grad(wrt[k]);
            for (size_t j = 0; j < cr_tensor_size(got); j++)
                ck_assert_msg(fabs(cr_tensor_get(got, j) - cr_tensor_get(want[k], j)) < TOL,
                              "%s: d/d%s[%zu] = %.17g, chunks give %.17g",
                              cr_rnn_cell_name((cr_rnn_cell)cell), cr_node_name(wrt[k]), j,
                              cr_tensor_get(got, j), cr_tensor_get(want[k], j));
        }
        /* not the whole window's gradient */
        ck_assert_int_eq(cr_graph_backward(g, cr_sum(g, cr_mul(g, full, w)), 0), CR_OK);
        double diff = 0;
        for (size_t j = 0; j < cr_tensor_size(want[1]); j++)
            diff +=
                fabs(cr_tensor_get(cr_node_grad(p.w_hh), j) - cr_tensor_get(want[1], j));
        ck_assert_double_gt(diff, 1e-6);
        for (int k = 0; k < 5; k++)
            cr_tensor_free(want[k]);
        /* a loss on the last step: no gradient to steps 0..3, some to 4;
         * the whole window's reaches step 0 */
        for (int truncated = 1; truncated >= 0; truncated--) {
            cr_node *late = cr_sum(g, cr_slice(g, truncated ? cut : full, 1, T - 1, T, 1));
            ck_assert_int_eq(cr_graph_backward(g, late, 0), CR_OK);
            const double *dx = cr_tensor_data(cr_node_grad(x));
            double before = 0, last = 0, first = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    for (int f = 0; f < F; f++) {
                        const double v = fabs(dx[(b * T + t) * F + f]);
                        before += t < T - 1 ? v : 0;
                        last += t == T - 1 ? v : 0;
                        first += t == 0 ? v : 0;
                    }
            ck_assert_double_gt(last, 1e-6);
            if (truncated)
                ck_assert_double_eq(before, 0.0);
            else
                ck_assert_double_gt(first, 1e-9);
        }
        cr_graph_free(g);
    }
}
END_TEST

/* A model's recurrent layer with bptt shorter than its window builds (it
 * was refused before): same loss as bptt 0, another gradient. */
START_TEST(model_bptt_inside_window)
{
    double grad[2];
    double loss[2];
    for (int k = 0; k < 2; k++) {
        cr_model_options o;
        cr_model_options_init(&o);
        o.batch = 2;
        o.seed = 4;
        o.loss = CR_LOSS_XENT_INDEX;
        cr_error err;
        const size_t steps = 6;
        cr_model *m = cr_model_new_from_spec(k ? "embed:3 lstm:4,seq,bptt=2 dense:V"
                                               : "embed:3 lstm:4,seq dense:V",
                                             5, 1, &steps, &o, &err);
        ck_assert_msg(m != NULL, "%s", err.message);
        cr_node *x = cr_model_input(m), *t = cr_model_target(m);
        double *xd = cr_tensor_data_mut((cr_tensor *)cr_node_value(x));
        double *td = cr_tensor_data_mut((cr_tensor *)cr_node_value(t));
        for (size_t j = 0; j < 12; j++) {
            xd[j] = (double)((j * 7 + 3) % 5);
            td[j] = (double)((j * 3 + 1) % 5);
        }
        cr_graph *g = cr_model_graph(m);
        ck_assert_int_eq(cr_graph_forward(g, cr_model_loss(m)), CR_OK);
        ck_assert_int_eq(cr_graph_backward(g, cr_model_loss(m), 0), CR_OK);
        loss[k] = cr_node_scalar(cr_model_loss(m));
        const cr_tensor *gw = cr_node_grad(cr_graph_find(g, "L2.W_hh"));
        grad[k] = 0;
        for (size_t j = 0; j < cr_tensor_size(gw); j++)
            grad[k] += fabs(cr_tensor_get(gw, j));
        cr_model_free(m);
    }
    ck_assert_double_eq(loss[0], loss[1]);
    ck_assert_double_gt(fabs(grad[0] - grad[1]), 1e-9);
}
END_TEST

START_TEST(errors)
{
    cr_graph *g = cr_graph_new();
    cr_rnn_params p;
    ck_assert_int_eq(cr_rnn_params_new(g, "a", CR_RNN_COUNT, 2, 3, 1, &p), CR_EINVAL);
    ck_assert_int_eq(cr_rnn_params_new(g, "a", CR_RNN_GRU, 0, 3, 1, &p), CR_EINVAL);
    ck_assert_int_eq(cr_rnn_params_new(g, "a", CR_RNN_GRU, 2, 3, 0, &p), CR_OK);
    ck_assert_ptr_null(p.b_ih);
    cr_rnn_params q;
    ck_assert_int_eq(cr_rnn_params_new(g, "a", CR_RNN_GRU, 2, 3, 0, &q), CR_ENAME);
    cr_node *x = cr_input(g, "x", 3, (size_t[]){4, 5, 3});
    ck_assert_ptr_null(cr_rnn(g, &p, x, NULL, 0, NULL));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "rnn gru: input [4,5,3] is not [batch, steps, 2]");
    cr_node *x2 = cr_input(g, "x2", 3, (size_t[]){4, 5, 2});
    cr_rnn_state bad = {cr_input(g, "h", 2, (size_t[]){3, 3}), NULL};
    ck_assert_ptr_null(cr_rnn(g, &p, x2, &bad, 0, NULL));
    ck_assert_str_eq(cr_graph_error(g)->message, "rnn gru: initial h is [3,3], not [4,3]");
    cr_rnn_params w = p;
    w.w_hh = p.w_ih;
    ck_assert_ptr_null(cr_rnn(g, &w, x2, NULL, 0, NULL));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    cr_node *y = cr_rnn(g, &p, x2, NULL, 1, NULL);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(cr_tensor_rank(cr_node_value(y)), 3);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(y), 1), 5);
    cr_rnn_cell c;
    ck_assert_int_eq(cr_rnn_cell_parse("lstm", &c, NULL), CR_OK);
    ck_assert_int_eq(c, CR_RNN_LSTM);
    cr_error err;
    ck_assert_int_eq(cr_rnn_cell_parse("lstn", &c, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "unknown recurrent cell 'lstn' (rnn, gru, lstm)");
    ck_assert_str_eq(cr_rnn_cell_name(CR_RNN_GRU), "gru");
    ck_assert_uint_eq(cr_rnn_gates(CR_RNN_COUNT), 0);
    cr_graph_free(g);
}
END_TEST

/* The layer kinds of the model builder: embed -> cell (every step) ->
 * dense, a next-symbol model on [T] indices with xent_index; and a
 * regressor cell (last state) -> dense on [T, 2] sequences with mse.
 * Parameter gradients of the model's loss against finite differences. */
/* The gradients of layer i's parameters after the last backward of m's
 * loss: not all zero, and equal to finite differences of the loss. */
static void assert_layer_fd(cr_model *m, size_t i)
{
    for (size_t j = 0; j < cr_model_layer_num_params(m, i); j++) {
        cr_node *p = cr_model_layer_param(m, i, j);
        const cr_tensor *gr = cr_node_grad(p);
        ck_assert_double_gt(test_max_abs(gr), 1e-8);
        size_t k = cr_tensor_size(gr);
        double *copy = malloc(k * sizeof *copy);
        memcpy(copy, cr_tensor_data(gr), k * sizeof *copy);
        test_assert_fd(cr_model_graph(m), cr_model_loss(m), p, copy, 1e-6, cr_node_name(p));
        free(copy);
    }
}

START_TEST(model_layers)
{
    const cr_rnn_cell cell = (cr_rnn_cell)(_i % CR_RNN_COUNT);
    const int text = _i < CR_RNN_COUNT;
    const cr_layer_kind kinds[3] = {CR_LAYER_RNN, CR_LAYER_GRU, CR_LAYER_LSTM};
    cr_layer_spec l[3];
    size_t n = 0, in_shape[2] = {4, 2};
    int in_rank = 2;
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = 3;
    o.seed = 9;
    if (text) {
        cr_layer_spec_init(&l[n], CR_LAYER_EMBED);
        l[n].vocab = 5;
        l[n++].units = 3;
        in_rank = 1;
        o.loss = CR_LOSS_XENT_INDEX;
    } else {
        o.loss = CR_LOSS_MSE;
    }
    cr_layer_spec_init(&l[n], kinds[cell]);
    l[n].units = 4;
    l[n++].sequences = text;
    cr_layer_spec_init(&l[n], CR_LAYER_DENSE);
    l[n++].units = text ? 5 : 1;
    cr_error err;
    cr_model *m = cr_model_new(l, n, in_rank, in_shape, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    size_t shape[CR_MAX_RANK];
    ck_assert_int_eq(cr_model_layer_shape(m, n - 2, shape), text ? 2 : 1);
    ck_assert_uint_eq(shape[0], text ? 4 : 4); /* [T, units] or [units] */
    ck_assert_uint_eq(cr_model_layer_num_params(m, n - 2), 4);
    /* the recurrent blocks start orthogonal: column 0 of W_hh has norm 1 */
    const cr_tensor *whh = cr_node_value(cr_model_layer_param(m, n - 2, 1));
    double norm = 0;
    for (size_t r = 0; r < 4; r++)
        norm += pow(cr_tensor_get(whh, r * cr_tensor_dim(whh, 1)), 2);
    ck_assert_double_eq_tol(norm, 1.0, 1e-12);
    test_rand_seed(40 + (unsigned long)_i);
    cr_node *x = cr_model_input(m), *t = cr_model_target(m);
    double *xd = cr_tensor_data_mut((cr_tensor *)cr_node_value(x));
    double *td = cr_tensor_data_mut((cr_tensor *)cr_node_value(t));
    for (size_t j = 0; j < cr_tensor_size(cr_node_value(x)); j++)
        xd[j] = text ? (double)((j * 7 + 3) % 5) : test_rand_uniform(-1, 1);
    for (size_t j = 0; j < cr_tensor_size(cr_node_value(t)); j++)
        td[j] = text ? (double)((j * 3 + 1) % 5) : test_rand_uniform(-1, 1);
    cr_graph *g = cr_model_graph(m);
    cr_node *loss = cr_model_loss(m);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    assert_layer_fd(m, n - 2);
    cr_model_free(m);
}
END_TEST

/* ---- carried state (cr_model_options.carry_state) ---- */

typedef struct carry_check {
    cr_model *m;
    const double *x; /* the windows, 3 ids each */
    size_t checked;
} carry_check;

/* After each step: its batch rows read windows r K + k (K = 2), and the
 * carried state h0 holds the step's last state, value for value. */
static int carry_on_step(const cr_train_progress *p, void *ctx)
{
    carry_check *c = ctx;
    cr_graph *g = cr_model_graph(c->m);
    const double *x = cr_tensor_data(cr_node_value(cr_model_input(c->m)));
    const size_t step = (p->iteration - 1) % 2;
    for (size_t r = 0; r < 2; r++)
        for (size_t j = 0; j < 3; j++)
            ck_assert_double_eq(x[r * 3 + j], c->x[(r * 2 + step) * 3 + j]);
    const double *h0 = cr_tensor_data(cr_node_value(cr_graph_find(g, "L2.h0")));
    const double *out = cr_tensor_data(cr_node_value(cr_model_layer_output(c->m, 1)));
    for (size_t r = 0; r < 2; r++)
        for (size_t k = 0; k < 4; k++)
            ck_assert_double_eq(h0[r * 4 + k], out[(r * 3 + 2) * 4 + k]);
    ck_assert_double_gt(fabs(h0[0]) + fabs(h0[5]), 1e-3);
    c->checked++;
    return 0;
}

START_TEST(model_carries_state)
{
    const cr_layer_kind kinds[3] = {CR_LAYER_RNN, CR_LAYER_GRU, CR_LAYER_LSTM};
    cr_layer_spec l[3];
    cr_layer_spec_init(&l[0], CR_LAYER_EMBED);
    l[0].vocab = 5;
    l[0].units = 3;
    cr_layer_spec_init(&l[1], kinds[_i]);
    l[1].units = 4;
    l[1].sequences = 1;
    cr_layer_spec_init(&l[2], CR_LAYER_DENSE);
    l[2].units = 5;
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = 2;
    o.loss = CR_LOSS_XENT_INDEX;
    o.carry_state = 1;
    const size_t steps = 3;
    cr_error err;
    cr_model *m = cr_model_new(l, 3, 1, &steps, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    cr_graph *g = cr_model_graph(m);
    cr_node *h0 = cr_graph_find(g, "L2.h0"), *c0 = cr_graph_find(g, "L2.c0");
    ck_assert_ptr_nonnull(h0);
    ck_assert(_i == 2 ? c0 != NULL : c0 == NULL);
    /* 4 consecutive windows of a 13-symbol sequence */
    double seq[13], x[12], y[12];
    for (size_t j = 0; j < 13; j++)
        seq[j] = (double)((j * 3 + 1) % 5);
    memcpy(x, seq, sizeof x);
    memcpy(y, seq + 1, sizeof y);
    cr_train_options to;
    cr_train_options_init(&to);
    to.batch = 2;
    to.epochs = 2;
    to.optim.lr = 0.1;
    to.shuffle = 1;
    ck_assert_int_eq(cr_model_train(m, x, y, 4, &to, NULL, &err), CR_EINVAL);
    ck_assert_str_eq(err.message,
                     "carry_state: the rows are consecutive windows: shuffle must be 0");
    to.shuffle = 0;
    to.batch = 1;
    ck_assert_int_eq(cr_model_train(m, x, y, 4, &to, NULL, &err), CR_EINVAL);
    ck_assert_str_eq(err.message,
                     "carry_state: batch 1: training batches must be the model's 2 rows");
    to.batch = 2;
    ck_assert_int_eq(cr_model_train(m, x, y, 1, &to, NULL, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "carry_state: 1 training rows, fewer than a batch of 2");
    carry_check cc = {m, x, 0};
    to.on_step = carry_on_step;
    to.ctx = &cc;
    ck_assert_int_eq(cr_model_train(m, x, y, 4, &to, NULL, &err), CR_OK);
    ck_assert_uint_eq(cc.checked, 4);
    /* evaluation ran from zeros, and left zeros */
    ck_assert_double_eq(test_max_abs(cr_node_value(h0)), 0.0);

    /* Within a window the gradient is exact with the carried state as a
     * constant, and none reaches the state (nor the previous window). */
    double hv[8], cv[8];
    for (size_t j = 0; j < 8; j++) {
        hv[j] = 0.5 * sin((double)j + 0.3);
        cv[j] = 0.4 * cos((double)j);
    }
    cr_node_set_data(h0, hv, 8);
    if (c0)
        cr_node_set_data(c0, cv, 8);
    cr_node *xi = cr_model_input(m), *ti = cr_model_target(m), *loss = cr_model_loss(m);
    cr_node_set_data(xi, x + 6, 6);
    cr_node_set_data(ti, y + 6, 6);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    const double with_state = cr_node_scalar(loss);
    ck_assert_int_eq(cr_graph_backward(g, loss, 0), CR_OK);
    ck_assert_ptr_null(cr_node_grad(h0));
    assert_layer_fd(m, 1);
    /* the state is an input of the window: zeros give another loss */
    cr_model_reset_state(m);
    ck_assert_double_eq(test_max_abs(cr_node_value(h0)), 0.0);
    ck_assert_int_eq(cr_graph_forward(g, loss), CR_OK);
    ck_assert_double_gt(fabs(cr_node_scalar(loss) - with_state), 1e-6);
    cr_model_free(m);
    cr_model_reset_state(NULL);
}
END_TEST

/* A next-symbol model over "abc\n": embed -> lstm (every step) -> dense. */
static cr_model *text_model(size_t batch, int softmax)
{
    cr_layer_spec l[4];
    cr_layer_spec_init(&l[0], CR_LAYER_EMBED);
    l[0].vocab = 4;
    l[0].units = 3;
    cr_layer_spec_init(&l[1], CR_LAYER_LSTM);
    l[1].units = 5;
    l[1].sequences = 1;
    cr_layer_spec_init(&l[2], CR_LAYER_DENSE);
    l[2].units = 4;
    cr_layer_spec_init(&l[3], CR_LAYER_ACTIVATION);
    l[3].act = CR_ACT_SOFTMAX;
    cr_model_options o;
    cr_model_options_init(&o);
    o.batch = batch;
    o.seed = 4;
    o.loss = CR_LOSS_XENT_INDEX;
    const size_t steps = 6;
    cr_error err;
    cr_model *m = cr_model_new(l, softmax ? 4 : 3, 1, &steps, &o, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    /* larger output weights, so that the distribution is far from uniform */
    cr_node *w = cr_model_layer_param(m, 2, 0);
    double v[20];
    for (size_t j = 0; j < 20; j++)
        v[j] = 3.0 * sin(1.7 * (double)j + 0.4);
    cr_node_set_data(w, v, 20);
    return m;
}

START_TEST(generate_text)
{
    cr_error err;
    cr_model *m = text_model(1, 0);
    unsigned char out[40], again[40];
    cr_generate_options o = {.prime = "ab", .prime_len = 2, .seed = 5};
    ck_assert_int_eq(cr_model_generate(m, 40, &o, out, &err), CR_EINVAL);
    ck_assert_str_eq(err.message,
                     "the model has no vocabulary: it was not trained on text");
    ck_assert_int_eq(cr_model_set_vocab(m, (const unsigned char *)"\nabc", 4, &err), CR_OK);
    ck_assert_int_eq(cr_model_generate(m, 40, &o, out, &err), CR_OK);
    for (int k = 0; k < 40; k++)
        ck_assert_ptr_nonnull(memchr("\nabc", out[k], 4));
    /* the same seed, the same text; another seed, another text */
    ck_assert_int_eq(cr_model_generate(m, 40, &o, again, &err), CR_OK);
    ck_assert_mem_eq(out, again, 40);
    o.seed = 6;
    ck_assert_int_eq(cr_model_generate(m, 40, &o, again, &err), CR_OK);
    ck_assert_int_ne(memcmp(out, again, 40), 0);
    /* a model built for 3 rows samples the same text through its one-row
     * copy; a softmax output (probabilities) the same as its logits */
    cr_model *m3 = text_model(3, 1);
    cr_model_set_vocab(m3, (const unsigned char *)"\nabc", 4, &err);
    o.seed = 5;
    ck_assert_int_eq(cr_model_generate(m3, 40, &o, again, &err), CR_OK);
    ck_assert_mem_eq(out, again, 40);
    /* a temperature near 0 takes the most likely symbol: the argmax of the
     * model's prediction for the window "\n\n\n\nab" */
    o.temperature = 1e-3;
    ck_assert_int_eq(cr_model_generate(m, 1, &o, again, &err), CR_OK);
    const double win[6] = {0, 0, 0, 0, 1, 2};
    double pred[24];
    ck_assert_int_eq(cr_model_predict(m3, win, 1, pred, &err), CR_OK);
    size_t best = 0;
    for (size_t k = 1; k < 4; k++)
        best = pred[20 + k] > pred[20 + best] ? k : best;
    ck_assert_int_eq(again[0], "\nabc"[best]);
    /* errors */
    o.prime = "abz";
    o.prime_len = 3;
    ck_assert_int_eq(cr_model_generate(m, 4, &o, out, &err), CR_ENOTFOUND);
    ck_assert_str_eq(err.message,
                     "prime text: byte 0x7a ('z') at offset 2 is not in the vocabulary");
    o.prime_len = 0;
    o.temperature = -1;
    ck_assert_int_eq(cr_model_generate(m, 4, &o, out, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, "temperature -1: must be > 0 and finite");
    ck_assert_int_eq(cr_model_generate(m, 4, NULL, NULL, &err), CR_EINVAL);
    cr_model_free(m3);
    cr_model_free(m);
}
END_TEST

Suite *recurrent_suite(void)
{
    Suite *s = suite_create("recurrent");
    TCase *tc = tcase_create("cells");
    tcase_add_test(tc, one_unit_by_hand);
    tcase_add_loop_test(tc, gradients_in_a_model, 0, 2 * CR_RNN_COUNT);
    tcase_add_test(tc, orthogonal_blocks);
    tcase_add_test(tc, truncated_bptt_carries_state);
    tcase_add_test(tc, truncated_bptt_inside_window);
    tcase_add_test(tc, model_bptt_inside_window);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_add_loop_test(tc, model_layers, 0, 2 * CR_RNN_COUNT);
    tcase_add_test(tc, generate_text);
    tcase_add_loop_test(tc, model_carries_state, 0, CR_RNN_COUNT);
    suite_add_tcase(s, tc);
    return s;
}
