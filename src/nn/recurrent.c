/*
 * recurrent.c - recurrent layers as graph builders (chainrule/recurrent.h):
 * the cell names, the parameters of a layer with their initialisation
 * (Glorot input weights, orthogonal recurrent blocks), and the unrolling of
 * an RNN, GRU or LSTM over the steps of a sequence out of ordinary graph
 * ops, one step after the other, so that the graph's reverse mode is
 * backpropagation through time; and the builders of the rnn, gru and lstm
 * kinds of the model builder's layer table (CR_LAYER_LIST, model.h), with
 * the state they carry across windows (cr_model_reset_state).
 */
#include "nn/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- cells ---- */

static const struct {
    const char *name;
    size_t gates;
} cells[CR_RNN_COUNT] = {
    [CR_RNN_TANH] = {"rnn", 1},
    [CR_RNN_GRU] = {"gru", 3},
    [CR_RNN_LSTM] = {"lstm", 4},
};

static int cell_ok(cr_rnn_cell cell) { return (unsigned)cell < CR_RNN_COUNT; }

size_t cr_rnn_gates(cr_rnn_cell cell) { return cell_ok(cell) ? cells[cell].gates : 0; }

const char *cr_rnn_cell_name(cr_rnn_cell cell)
{
    return cell_ok(cell) ? cells[cell].name : "?";
}

cr_status cr_rnn_cell_parse(const char *name, cr_rnn_cell *out, cr_error *err)
{
    for (int c = 0; name && c < CR_RNN_COUNT; c++)
        if (strcmp(name, cells[c].name) == 0) {
            if (out)
                *out = (cr_rnn_cell)c;
            return CR_OK;
        }
    return cr_error_set(err, CR_EINVAL, "rnn",
                        "unknown recurrent cell '%s' (rnn, gru, lstm)",
                        name ? name : "(null)");
}

/* ---- parameters ---- */

/* Makes the columns [col, col + n) of the row-major [n, cols] matrix a
 * orthonormal, in place: modified Gram-Schmidt, twice (one pass loses
 * orthogonality in floating point when the draws are nearly dependent).
 * A column that vanishes is replaced by a unit vector. */
static void orthonormalise(double *a, size_t n, size_t cols, size_t col)
{
    for (size_t j = 0; j < n; j++) {
        double *cj = a + col + j;
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = 0; k < j; k++) {
                const double *ck = a + col + k;
                double dot = 0;
                for (size_t r = 0; r < n; r++)
                    dot += ck[r * cols] * cj[r * cols];
                for (size_t r = 0; r < n; r++)
                    cj[r * cols] -= dot * ck[r * cols];
            }
        double norm = 0;
        for (size_t r = 0; r < n; r++)
            norm += cj[r * cols] * cj[r * cols];
        norm = sqrt(norm);
        for (size_t r = 0; r < n; r++)
            cj[r * cols] = norm > 1e-12 ? cj[r * cols] / norm : (r == j);
    }
}

/* What freshly drawn parameters become: every gate block of W_hh (drawn
 * from N(0, 1)) orthonormal, and the LSTM's forget-gate bias b_ih 1. */
static void fresh_init(const cr_rnn_params *p)
{
    const size_t h = p->hidden, gh = cells[p->cell].gates * h;
    for (size_t k = 0; k < cells[p->cell].gates; k++)
        orthonormalise(p->w_hh->value.data, h, gh, k * h);
    if (p->cell == CR_RNN_LSTM && p->b_ih)
        for (size_t j = h; j < 2 * h; j++)
            p->b_ih->value.data[j] = 1.0;
}

/* One named parameter PREFIX.SUFFIX. */
static cr_node *rnn_param(cr_graph *g, const char *prefix, const char *suffix, int rank,
                          const size_t *shape, cr_init_kind init, double a, double b)
{
    char name[256];
    if (snprintf(name, sizeof name, "%s.%s", prefix, suffix) >= (int)sizeof name) {
        cr_graph_fail(g, CR_ENAME, "rnn: the name %s.%s is too long", prefix, suffix);
        return NULL;
    }
    return cr_param_init(g, name, rank, shape, init, a, b);
}

cr_status cr_rnn_params_new(cr_graph *g, const char *prefix, cr_rnn_cell cell, size_t n_in,
                            size_t hidden, int bias, cr_rnn_params *out)
{
    if (!g || !prefix || !out)
        return g ? cr_graph_fail(g, CR_EINVAL, "rnn: %s is NULL", prefix ? "out" : "prefix")
                 : CR_EINVAL;
    if (!cell_ok(cell) || n_in == 0 || hidden == 0)
        return cr_graph_fail(g, CR_EINVAL,
                             "rnn %s: cell %d, %zu inputs, %zu hidden: an unknown cell or "
                             "a size of 0",
                             prefix, (int)cell, n_in, hidden);
    memset(out, 0, sizeof *out);
    const size_t gh = cells[cell].gates * hidden;
    const double r = sqrt(6.0 / (double)(n_in + hidden));
    cr_rnn_params p = {.cell = cell, .n_in = n_in, .hidden = hidden};
    p.w_ih = rnn_param(g, prefix, "w_ih", 2, (size_t[]){n_in, gh}, CR_INIT_UNIFORM, -r, r);
    p.w_hh = p.w_ih ? rnn_param(g, prefix, "w_hh", 2, (size_t[]){hidden, gh},
                                CR_INIT_NORMAL, 0, 1)
                    : NULL;
    if (p.w_hh && bias) {
        p.b_ih = rnn_param(g, prefix, "b_ih", 1, &gh, CR_INIT_UNIFORM, 0, 0);
        p.b_hh =
            p.b_ih ? rnn_param(g, prefix, "b_hh", 1, &gh, CR_INIT_UNIFORM, 0, 0) : NULL;
    }
    if (!p.w_hh || (bias && !p.b_hh))
        return g->err.status;
    fresh_init(&p);
    *out = p;
    return CR_OK;
}

/* ---- unrolling ---- */

/* Whether node n is a matrix [rows, cols]. */
static int is_matrix(const cr_node *n, size_t rows, size_t cols)
{
    return n->value.rank == 2 && n->value.shape[0] == rows && n->value.shape[1] == cols;
}

/* Checks p's nodes against its sizes, x and the initial state. */
static cr_status rnn_check(cr_graph *g, const cr_rnn_params *p, const cr_node *x,
                           const cr_rnn_state *init)
{
    const size_t h = p->hidden, gh = cr_rnn_gates(p->cell) * h;
    if (!p->w_ih || !p->w_hh || !is_matrix(p->w_ih, p->n_in, gh) ||
        !is_matrix(p->w_hh, h, gh))
        return cr_graph_fail(g, CR_ESHAPE,
                             "rnn %s: weights must be [%zu,%zu] and [%zu,%zu] (%zu inputs, "
                             "%zu hidden)",
                             cr_rnn_cell_name(p->cell), p->n_in, gh, h, gh, p->n_in, h);
    for (int k = 0; k < 2; k++) {
        const cr_node *b = k ? p->b_hh : p->b_ih;
        if (b && (b->value.rank != 1 || b->value.shape[0] != gh))
            return cr_graph_fail(g, CR_ESHAPE, "rnn %s: bias %s must be [%zu]",
                                 cr_rnn_cell_name(p->cell), k ? "b_hh" : "b_ih", gh);
    }
    const cr_tensor *xt = &x->value;
    const int rank_ok = xt->rank == 3 || (xt->rank == 2 && p->n_in == 1);
    if (!rank_ok || (xt->rank == 3 && xt->shape[2] != p->n_in))
        return cr_graph_fail(g, CR_ESHAPE, "rnn %s: input %s is not [batch, steps, %zu]",
                             cr_rnn_cell_name(p->cell), cr_shape_str(xt).text, p->n_in);
    for (int k = 0; init && k < 2; k++) {
        const cr_node *s = k ? init->c : init->h;
        if (s && !is_matrix(s, xt->shape[0], h))
            return cr_graph_fail(g, CR_ESHAPE, "rnn %s: initial %s is %s, not [%zu,%zu]",
                                 cr_rnn_cell_name(p->cell), k ? "c" : "h",
                                 cr_shape_str(&s->value).text, xt->shape[0], h);
    }
    return CR_OK;
}

/* The bias b_ih + b_hh (or whichever exists, or NULL) over columns
 * [from, to) of the gate blocks; *failed set on error. */
static cr_node *bias_sum(cr_graph *g, const cr_rnn_params *p, size_t from, size_t to,
                         int *failed)
{
    cr_node *b[2] = {p->b_ih, p->b_hh}, *sum = NULL;
    const size_t gh = cr_rnn_gates(p->cell) * p->hidden;
    for (int k = 0; k < 2; k++) {
        if (!b[k])
            continue;
        cr_node *part =
            from == 0 && to == gh ? b[k] : cr_slice(g, b[k], 0, (long)from, (long)to, 1);
        sum = sum ? cr_add(g, sum, part) : part;
        *failed |= !sum;
    }
    return sum;
}

/* Columns [from, to) of a weight matrix (the matrix itself for all). */
static cr_node *columns(cr_graph *g, const cr_rnn_params *p, cr_node *w, size_t from,
                        size_t to)
{
    const size_t gh = cr_rnn_gates(p->cell) * p->hidden;
    return from == 0 && to == gh ? w : cr_slice(g, w, 1, (long)from, (long)to, 1);
}

/* What the steps share: per-gate weight slices and summed biases, and the
 * input and hidden weights of the gates every step computes from x_t and h
 * together stacked into one matrix [W_ih; W_hh] (one product per step). */
typedef struct rnn_setup {
    cr_node *w, *b;                     /* RNN, LSTM: every gate; GRU: the r and z blocks */
    cr_node *w_in, *w_hn, *b_in, *b_hn; /* GRU: the n block, input and hidden sides */
} rnn_setup;

static cr_status rnn_prepare(cr_graph *g, const cr_rnn_params *p, rnn_setup *s)
{
    const size_t h = p->hidden, gh = cr_rnn_gates(p->cell) * h;
    int failed = 0;
    /* RNN and LSTM: every gate block; GRU: r and z (n has its own products) */
    const size_t shared = p->cell == CR_RNN_GRU ? 2 * h : gh;
    cr_node *w[2] = {columns(g, p, p->w_ih, 0, shared), columns(g, p, p->w_hh, 0, shared)};
    s->w = w[0] && w[1] ? cr_concat(g, 2, w, 0) : NULL;
    s->b = bias_sum(g, p, 0, shared, &failed);
    if (p->cell != CR_RNN_GRU)
        return failed || !s->w ? g->err.status : CR_OK;
    s->w_in = columns(g, p, p->w_ih, 2 * h, gh);
    s->w_hn = columns(g, p, p->w_hh, 2 * h, gh);
    s->b = bias_sum(g, p, 0, 2 * h, &failed);
    if (p->b_ih)
        failed |= !(s->b_in = cr_slice(g, p->b_ih, 0, (long)(2 * h), (long)gh, 1));
    if (p->b_hh)
        failed |= !(s->b_hn = cr_slice(g, p->b_hh, 0, (long)(2 * h), (long)gh, 1));
    failed |= !s->w || !s->w_in || !s->w_hn;
    return failed ? g->err.status : CR_OK;
}

/* Columns [from, to) of a [B, G*H] node. */
static cr_node *block(cr_graph *g, cr_node *a, size_t from, size_t to)
{
    return cr_slice(g, a, 1, (long)from, (long)to, 1);
}

/* One step of the cell from x_t [B, n_in] and the state s, into s. */
static cr_status rnn_step(cr_graph *g, const cr_rnn_params *p, const rnn_setup *s,
                          cr_node *xt, cr_rnn_state *st)
{
    const size_t h = p->hidden;
    /* [x_t, h] [W_ih; W_hh] + b: one product of the joined inputs */
    cr_node *xs[2] = {xt, st->h};
    cr_node *xh = cr_concat(g, 2, xs, 1);
    cr_node *pre = cr_sop(g, 1, &xh, &s->w, s->b);
    switch (p->cell) {
    case CR_RNN_TANH:
        st->h = cr_tanh(g, pre);
        break;
    case CR_RNN_GRU: {
        cr_node *rz = cr_sigmoid(g, pre);
        cr_node *r = block(g, rz, 0, h), *z = block(g, rz, h, 2 * h);
        cr_node *hn = cr_sop(g, 1, &st->h, &s->w_hn, s->b_hn);
        cr_node *xn = cr_sop(g, 1, &xt, &s->w_in, s->b_in);
        cr_node *n = cr_tanh(g, cr_add(g, xn, cr_mul(g, r, hn)));
        /* (1 - z) n + z h = n + z (h - n) */
        st->h = cr_add(g, n, cr_mul(g, z, cr_sub(g, st->h, n)));
        break;
    }
    case CR_RNN_LSTM: {
        /* the sigmoid of the i, f and o blocks only: the slices of pre and
         * of i|f tile their axes, so their gradients are joined (cr_add_n) */
        cr_node *ifs = cr_sigmoid(g, block(g, pre, 0, 2 * h));
        cr_node *i = block(g, ifs, 0, h), *f = block(g, ifs, h, 2 * h);
        cr_node *gg = cr_tanh(g, block(g, pre, 2 * h, 3 * h));
        cr_node *o = cr_sigmoid(g, block(g, pre, 3 * h, 4 * h));
        st->c = cr_add(g, cr_mul(g, f, st->c), cr_mul(g, i, gg));
        st->h = cr_mul(g, o, cr_tanh(g, st->c));
        break;
    }
    default:
        break;
    }
    return st->h ? CR_OK : g->err.status;
}

cr_node *cr_rnn(cr_graph *g, const cr_rnn_params *p, cr_node *x, const cr_rnn_state *init,
                int every_step, cr_rnn_state *last)
{
    if (!g)
        return NULL;
    if (!p || !x || !cell_ok(p->cell)) {
        cr_graph_fail(g, CR_EINVAL, "rnn: %s",
                      !p   ? "params are NULL"
                      : !x ? "input is NULL"
                           : "unknown cell");
        return NULL;
    }
    if (rnn_check(g, p, x, init) != CR_OK)
        return NULL;
    const size_t batch = x->value.shape[0], steps = x->value.shape[1];
    const size_t state_shape[2] = {batch, p->hidden};
    rnn_setup s = {0};
    if (rnn_prepare(g, p, &s) != CR_OK)
        return NULL;
    cr_rnn_state st = {init ? init->h : NULL, init ? init->c : NULL};
    if (!st.h)
        st.h = cr_constant_fill(g, 2, state_shape, 0.0);
    if (p->cell == CR_RNN_LSTM && !st.c)
        st.c = cr_constant_fill(g, 2, state_shape, 0.0);
    if (p->cell != CR_RNN_LSTM)
        st.c = NULL;
    /* zero states of a graph whose batch can shrink (rows.c) shrink with it */
    if (cr_graph_max_rows(g) == batch && cr_graph_rows(g) == batch) {
        if (st.h && !init)
            cr_node_mark_batch(st.h);
        if (st.c && !(init && init->c))
            cr_node_mark_batch(st.c);
    }
    cr_node **outs = every_step ? cr_calloc(steps, sizeof *outs) : NULL;
    if (!st.h || (p->cell == CR_RNN_LSTM && !st.c) || (every_step && !outs)) {
        if (every_step && !outs)
            cr_graph_fail(g, CR_ENOMEM, "rnn: out of memory");
        return NULL;
    }
    cr_node *xr = x;
    if (x->value.rank == 2)
        xr = cr_reshape(g, x, 3, (long[]){(long)batch, (long)steps, 1});
    cr_node *result = NULL;
    for (size_t t = 0; xr && t < steps; t++) {
        if (p->bptt && t && t % p->bptt == 0) { /* no gradient into the chunk before */
            st.h = cr_detach(g, st.h);
            st.c = st.c ? cr_detach(g, st.c) : NULL;
            if (!st.h || (p->cell == CR_RNN_LSTM && !st.c))
                goto done;
        }
        cr_node *idx = cr_scalar(g, (double)t);
        cr_node *xt = idx ? cr_index_select(g, xr, 1, idx) : NULL;
        if (!xt || rnn_step(g, p, &s, xt, &st) != CR_OK)
            goto done;
        if (outs)
            outs[t] = st.h;
    }
    result = outs ? cr_stack(g, steps, outs, 1) : st.h;
    if (result && last)
        *last = st;
done:
    cr_free(outs);
    return result;
}

/* ---- the model builder's layer kinds ---- */

/* A recurrent layer's carried state (cr_model_options.carry_state), made
 * with the head of the model's batch: the initial state is two inputs
 * (h0, and c0 for an LSTM) and after each training step the last state's
 * values are copied into them, so the next window starts where this one
 * ended while no gradient reaches the previous window (an input has
 * none). */
typedef struct carry {
    cr_rnn_state init, last;
} carry;

/* on_step: the state of the step that ran becomes the next one's. */
static void carry_step(cr_model *m, size_t i, cr_model_head *h)
{
    carry *c = m->layers[i].priv;
    /* only full training batches carry (a shrunk graph's rows are others) */
    if (!c || !h || cr_graph_rows(m->g) != m->opts.batch)
        return;
    for (int k = 0; k < 2; k++) {
        cr_node *to = k ? c->init.c : c->init.h, *from = k ? c->last.c : c->last.h;
        if (to)
            memcpy(to->value.data, from->value.data, to->value.size * sizeof(double));
    }
}

void cr_model_reset_state(cr_model *m)
{
    for (size_t i = 0; m && i < m->n_layers; i++) {
        carry *c = m->layers[i].on_step == carry_step ? m->layers[i].priv : NULL;
        for (int k = 0; c && k < 2; k++) {
            cr_node *s = k ? c->init.c : c->init.h;
            if (s)
                memset(s->value.data, 0, s->value.size * sizeof(double));
        }
    }
}

/* Layer i's carried state on the head of the model's batch (rows x
 * hidden), as *c's initial state; other heads start from zeros. */
static cr_status carry_new(cr_model *m, size_t i, cr_rnn_cell cell, size_t rows,
                           size_t hidden, carry **out, cr_error *err)
{
    *out = NULL;
    if (!m->opts.carry_state || rows != m->opts.batch || m->layers[i].priv)
        return CR_OK;
    carry *c = cr_calloc(1, sizeof *c);
    if (!c)
        return cr_error_set(err, CR_ENOMEM, "model", "out of memory for a carried state");
    const size_t shape[2] = {rows, hidden};
    char name[32];
    snprintf(name, sizeof name, "L%zu.h0", i + 1);
    c->init.h = cr_input(m->g, name, 2, shape);
    if (c->init.h && cell == CR_RNN_LSTM) {
        snprintf(name, sizeof name, "L%zu.c0", i + 1);
        c->init.c = cr_input(m->g, name, 2, shape);
    }
    if (!c->init.h || (cell == CR_RNN_LSTM && !c->init.c)) {
        cr_free(c);
        return cr_model_graph_error(m, err);
    }
    /* the state shrinks with the batch (rows.c) for evaluation's tails */
    cr_node_mark_batch(c->init.h);
    if (c->init.c)
        cr_node_mark_batch(c->init.c);
    m->layers[i].priv = c;
    m->layers[i].priv_free = cr_free;
    m->layers[i].on_step = carry_step;
    *out = c;
    return CR_OK;
}

/* Layer i of m as a recurrent layer of the given cell: its input [B, T, F]
 * (or [B, T], F = 1), parameters L<i+1>.W_ih, W_hh, b_ih, b_hh drawn as
 * cr_rnn_params_new draws them (W_ih by the spec's init), its output the
 * last state or every step (spec.sequences). */
static cr_status build_layer(cr_model *m, size_t i, cr_node *in, cr_node **out,
                             cr_rnn_cell cell, cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    const cr_tensor *x = cr_node_value(in);
    const size_t h = s->units, gh = cells[cell].gates * h;
    if (h < 1 || h > ((size_t)1 << 20))
        return cr_error_set(err, CR_EINVAL, "model", "units %zu: must be 1 to 2^20", h);
    if (x->rank != 2 && x->rank != 3)
        return cr_error_set(err, CR_ESHAPE, "model",
                            "%s needs a [steps, features] or [steps] input",
                            cells[cell].name);
    const size_t f = x->rank == 3 ? x->shape[2] : 1;
    const int fresh = !m->head && !m->load;
    cr_rnn_params p = {.cell = cell, .n_in = f, .hidden = h, .bptt = s->bptt};
    p.w_ih =
        cr_model_param(m, i, 0, "W_ih", 2, (size_t[]){f, gh}, s->init, f, h, 0, 0, err);
    p.w_hh = p.w_ih ? cr_model_param(m, i, 1, "W_hh", 2, (size_t[]){h, gh}, CR_INIT_NORMAL,
                                     h, h, 0, 1, err)
                    : NULL;
    if (p.w_hh && s->bias) {
        p.b_ih = cr_model_param(m, i, 2, "b_ih", 1, &gh, CR_INIT_CONST, 1, 1, 0, 0, err);
        p.b_hh =
            p.b_ih ? cr_model_param(m, i, 3, "b_hh", 1, &gh, CR_INIT_CONST, 1, 1, 0, 0, err)
                   : NULL;
    }
    if (!p.w_hh || (s->bias && !p.b_hh))
        return err->status;
    if (fresh)
        fresh_init(&p);
    carry *c;
    if (carry_new(m, i, cell, x->shape[0], h, &c, err) != CR_OK)
        return err->status;
    cr_node *y =
        cr_rnn(m->g, &p, in, c ? &c->init : NULL, s->sequences, c ? &c->last : NULL);
    if (!y)
        return cr_model_graph_error(m, err);
    *out = y;
    return CR_OK;
}

cr_status cr_layer_build_rnn(cr_model *m, size_t i, cr_node *in, cr_node **out,
                             cr_error *err)
{
    return build_layer(m, i, in, out, CR_RNN_TANH, err);
}

cr_status cr_layer_build_gru(cr_model *m, size_t i, cr_node *in, cr_node **out,
                             cr_error *err)
{
    return build_layer(m, i, in, out, CR_RNN_GRU, err);
}

cr_status cr_layer_build_lstm(cr_model *m, size_t i, cr_node *in, cr_node **out,
                              cr_error *err)
{
    return build_layer(m, i, in, out, CR_RNN_LSTM, err);
}
