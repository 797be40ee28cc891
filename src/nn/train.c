/*
 * train.c - the training loop of every network (an MLP, a model: through
 * cr_learner, nn_internal.h): mini-batches over shuffled row indices,
 * forward / backward / optimizer step on the batch size's nodes, validation
 * split, early stopping, target loss, callbacks, the statistics and
 * history, and the debug record of gradient norms and derivative chains
 * (the MLP's own; a model's is in model_train.c).
 */
#include "nn/nn_internal.h"
#include "chainrule/data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const stop_names[] = {"epochs", "max_iter", "target_loss",
                                         "early_stopping", "callback"};
_Static_assert(sizeof stop_names / sizeof *stop_names == CR_STOP_COUNT,
               "stop_names and cr_train_stop differ");

const char *cr_train_stop_name(cr_train_stop stop)
{
    return (unsigned)stop < sizeof stop_names / sizeof *stop_names ? stop_names[stop] : "?";
}

void cr_train_options_init(cr_train_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 32;
    o->shuffle = 1;
    o->seed = 1;
    o->restore_best = 1;
    o->target_loss = -1.0;
    o->optim = cr_optim_defaults(CR_OPTIM_SGD);
    o->trap_nonfinite = 1;
}

void cr_train_stats_free(cr_train_stats *s)
{
    if (!s)
        return;
    cr_free(s->loss_history);
    cr_free(s->accuracy_history);
    cr_free(s->val_loss_history);
    cr_free(s->val_accuracy_history);
    for (size_t i = 0; i < s->n_debug; i++)
        cr_free(s->debug[i].chain_text);
    cr_free(s->debug);
    memset(s, 0, sizeof *s);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cr_status check_options(const cr_learner *l, const cr_train_options *o, size_t rows,
                               cr_error *err)
{
    const char *w = "train";
    if (o->epochs == 0 && o->max_iter == 0)
        return cr_error_set(err, CR_EINVAL, w, "set an epoch count or an iteration limit");
    if (o->batch == 0)
        return cr_error_set(err, CR_EINVAL, w, "the batch size must be at least 1");
    if (!(o->val_split >= 0.0 && o->val_split < 1.0))
        return cr_error_set(err, CR_EINVAL, w, "validation split %g is not in [0, 1)",
                            o->val_split);
    if (!(o->min_delta >= 0.0))
        return cr_error_set(err, CR_EINVAL, w, "min_delta %g must be >= 0", o->min_delta);
    size_t n_val = (size_t)llround(o->val_split * (double)rows);
    if (o->val_split > 0 && (n_val == 0 || n_val >= rows))
        return cr_error_set(err, CR_EINVAL, w,
                            "validation split %g of %zu rows leaves an empty side",
                            o->val_split, rows);
    if (o->debug && o->debug_param) {
        const cr_node *p = cr_graph_find(l->g, o->debug_param);
        if (!p || cr_node_kind_of(p) != CR_NODE_PARAM)
            return cr_error_set(err, CR_EINVAL, w,
                                "debug parameter '%s' is not in the model", o->debug_param);
    }
    if (o->debug && l->debug_check(l->net, o->debug_param) != CR_OK)
        return cr_error_set(err, CR_EINVAL, w, "debug parameter '%s' is not a layer's",
                            o->debug_param ? o->debug_param : "W1");
    if (l->max_batch && o->batch > l->max_batch)
        return cr_error_set(err, CR_EINVAL, w,
                            "batch %zu is larger than the %zu rows the model was built for",
                            o->batch, l->max_batch);
    if (l->carry && (o->shuffle || o->batch != l->max_batch || rows - n_val < o->batch))
        return cr_error_set(
            err, CR_EINVAL, w,
            o->shuffle ? "carry_state: the rows are consecutive windows: shuffle must be 0"
            : o->batch != l->max_batch
                ? "carry_state: batch %zu: training batches must be the model's %zu rows"
                : "carry_state: %zu training rows, fewer than a batch of %zu",
            o->batch != l->max_batch ? o->batch : rows - n_val, l->max_batch);
    return cr_optim_check_options(&o->optim, err);
}

/* ---- history ---- */

typedef struct history {
    cr_train_stats *s;
    size_t cap;
    size_t cap_debug;
} history;

static cr_status history_push(history *h, double loss, double acc, double vloss,
                              double vacc, cr_error *err)
{
    cr_train_stats *s = h->s;
    size_t cap = h->cap;
    cr_status st =
        cr_grow((void **)&s->loss_history, &cap, s->n_history + 1, sizeof(double));
    if (st == CR_OK) {
        cap = h->cap;
        st = cr_grow((void **)&s->accuracy_history, &cap, s->n_history + 1, sizeof(double));
    }
    if (st == CR_OK) {
        cap = h->cap;
        st = cr_grow((void **)&s->val_loss_history, &cap, s->n_history + 1, sizeof(double));
    }
    if (st == CR_OK) {
        cap = h->cap;
        st = cr_grow((void **)&s->val_accuracy_history, &cap, s->n_history + 1,
                     sizeof(double));
    }
    if (st != CR_OK)
        return cr_error_set(err, st, "train", "out of memory for the loss history");
    h->cap = cap;
    s->loss_history[s->n_history] = loss;
    s->accuracy_history[s->n_history] = acc;
    s->val_loss_history[s->n_history] = vloss;
    s->val_accuracy_history[s->n_history] = vacc;
    s->n_history++;
    return CR_OK;
}

/* ---- debug: gradient norms and the derivative chain ---- */

typedef struct debug_plan {
    size_t layer; /* 0-based layer of the parameter */
    int is_bias;
    cr_node *param;
} debug_plan;

void cr_train_link_set(cr_train_link *l, const char *label, const cr_tensor *g)
{
    snprintf(l->label, sizeof l->label, "%s", label);
    l->norm = 0.0;
    l->first = NAN;
    if (!g)
        return;
    l->norm = cr_tensor_norm(g);
    l->first = cr_tensor_data(g)[0];
}

/* The chain API's text of d(loss)/d(param) through the named layer nodes,
 * in a new string (cr_free), or NULL if it cannot be made. */
char *cr_train_chain_text(cr_graph *g, cr_node *loss, cr_node *param)
{
    cr_chain_options co;
    cr_chain_options_init(&co);
    co.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, loss, param, &co);
    if (!c) {
        cr_graph_clear_error(g);
        return NULL;
    }
    const unsigned flags = CR_CHAIN_PRINT_FORMULAS;
    int len = cr_chain_format(c, flags, NULL, 0);
    char *text = len >= 0 ? cr_malloc((size_t)len + 1) : NULL;
    if (text && cr_chain_format(c, flags, text, (size_t)len + 1) != len) {
        cr_free(text); /* out of memory the second time: no text, not "" */
        text = NULL;
    }
    cr_chain_free(c);
    return text;
}

/* ---- the MLP's debug hooks ---- */

/* Finds the layer of param (NULL: "W1"); CR_EINVAL if it is no layer's. */
static cr_status debug_plan_make(cr_mlp *m, const char *param, debug_plan *dp)
{
    dp->param = cr_graph_find(m->g, param ? param : "W1");
    for (size_t l = 0; l < m->n_layers; l++) {
        if (dp->param == m->W[l] || dp->param == m->b[l]) {
            dp->layer = l;
            dp->is_bias = dp->param == m->b[l];
            return CR_OK;
        }
    }
    return CR_EINVAL;
}

static cr_status mlp_debug_check(void *net, const char *param)
{
    debug_plan dp;
    return debug_plan_make(net, param, &dp);
}

/* Asks the layer nodes of the batch nodes for their gradients. */
static cr_status mlp_debug_request(void *net, void *b, const char *param, cr_error *err)
{
    cr_mlp *m = net;
    cr_mlp_batch_nodes *h = b;
    debug_plan dp;
    if (debug_plan_make(m, param, &dp) != CR_OK)
        return CR_OK; /* refused before training by debug_check */
    for (size_t l = dp.layer; l < m->n_layers; l++) {
        cr_node_require_grad(h->s[l], 1);
        cr_node_require_grad(h->a[l], 1);
    }
    /* the new gradient nodes are made at the full batch; if they cannot be,
     * the requests are withdrawn */
    if (cr_nn_build_grads(m->g, h->loss) == CR_OK)
        return CR_OK;
    for (size_t l = dp.layer; l < m->n_layers; l++) {
        cr_node_require_grad(h->s[l], 0);
        cr_node_require_grad(h->a[l], 0);
    }
    return cr_mlp_graph_error(m, err);
}

static void mlp_debug_record(void *net, void *b, const char *param, cr_train_debug *d)
{
    cr_mlp *m = net;
    cr_mlp_batch_nodes *h = b;
    debug_plan dp0, *dp = &dp0;
    if (debug_plan_make(m, param, dp) != CR_OK)
        return;
    char label[24];
    d->n_layers = m->n_layers;
    for (size_t l = 0; l < m->n_layers; l++) {
        cr_train_link tmp;
        cr_train_link_set(&tmp, "", cr_node_grad(m->W[l]));
        d->layer_grad_norm[l] = tmp.norm;
    }
    const int fused = m->spec.loss == CR_LOSS_BCE || m->spec.loss == CR_LOSS_XENT;
    size_t k = 0;
    for (size_t l = m->n_layers; l-- > dp->layer;) {
        const int top = l + 1 == m->n_layers;
        if (h->a[l] != h->s[l] && !(top && fused)) {
            snprintf(label, sizeof label, "a%zu", l + 1);
            cr_train_link_set(&d->chain[k++], label, cr_node_grad(h->a[l]));
        }
        snprintf(label, sizeof label, "s%zu", l + 1);
        cr_train_link_set(&d->chain[k++], label, cr_node_grad(h->s[l]));
    }
    cr_train_link_set(&d->chain[k++], cr_node_name(dp->param), cr_node_grad(dp->param));
    d->n_links = k;
    /* the written chain: at the parameters the epoch ends with */
    d->chain_text = cr_graph_forward(m->g, h->loss) == CR_OK
                        ? cr_train_chain_text(m->g, h->loss, dp->param)
                        : NULL;
}

static void *mlp_batch(void *net, size_t rows, cr_error *err)
{
    return cr_mlp_batch_nodes_get(net, rows, err);
}

static void mlp_load(void *net, void *b, const cr_mlp_rows *x, const double *y,
                     const size_t *idx, size_t first, size_t count)
{
    cr_mlp_batch_nodes_load(net, b, x, y, idx, first, count);
}

static cr_node *mlp_loss(const void *b) { return ((const cr_mlp_batch_nodes *)b)->loss; }
static cr_node *mlp_output(const void *b) { return ((const cr_mlp_batch_nodes *)b)->out; }

static double mlp_loss_per_row(const void *net, const void *b)
{
    return cr_mlp_batch_nodes_loss_per_row(net, b);
}

static size_t mlp_correct(const void *net, const void *b, size_t *confusion)
{
    return cr_mlp_batch_nodes_correct(net, b, confusion);
}

void cr_mlp_learner(cr_mlp *m, cr_learner *l)
{
    *l = (cr_learner){.net = m,
                      .g = m->g,
                      .n_classes = cr_mlp_num_classes(m),
                      .n_outputs = m->spec.n_outputs,
                      .positions = 1,
                      .eval_chunk = CR_MLP_EVAL_CHUNK,
                      .n_weights = cr_mlp_num_weights(m),
                      .batch = mlp_batch,
                      .load = mlp_load,
                      .loss = mlp_loss,
                      .output = mlp_output,
                      .loss_per_row = mlp_loss_per_row,
                      .correct = mlp_correct,
                      .debug_check = mlp_debug_check,
                      .debug_request = mlp_debug_request,
                      .debug_record = mlp_debug_record};
}

/* ---- the loop ---- */

typedef struct trainer {
    const cr_learner *l;
    const cr_train_options *o;
    cr_mlp_rows x;
    const double *y;
    size_t *order; /* all rows: training rows first, then validation */
    size_t n_train, n_val;
    size_t *steps;  /* the rows of the steps, in order (order, or with carry
                       the interleaving of cr_model_train) */
    size_t n_steps; /* rows in steps */
    cr_optim *opt;
    double *best;      /* parameters of the best epoch (patience) */
    void *debug_batch; /* the batch nodes asked for debug gradients */
} trainer;

static void params_copy(cr_graph *g, double *to, int restore)
{
    for (size_t i = 0, n = cr_graph_num_params(g); i < n; i++) {
        cr_node *p = cr_graph_param(g, i);
        const size_t len = p->value.size;
        if (restore)
            memcpy(p->value.data, to, len * sizeof(double));
        else
            memcpy(to, p->value.data, len * sizeof(double));
        to += len;
    }
}

static cr_status eval_val(trainer *t, double *loss, double *acc, cr_error *err)
{
    *loss = *acc = NAN;
    if (t->n_val == 0)
        return CR_OK;
    cr_eval_result r;
    cr_status st =
        cr_learner_eval_rows(t->l, &t->x, t->y, t->order + t->n_train, t->n_val, &r, err);
    if (st != CR_OK)
        return st;
    *loss = r.loss;
    *acc = r.accuracy;
    cr_eval_result_free(&r);
    return CR_OK;
}

static void *train_batch(trainer *t, size_t rows, cr_error *err)
{
    void *h = t->l->batch(t->l->net, rows, err);
    if (h && t->o->debug && t->debug_batch != h) {
        if (t->l->debug_request(t->l->net, h, t->o->debug_param, err) != CR_OK)
            return NULL;
        t->debug_batch = h;
    }
    return h;
}

/* The graph's error, with the epoch and step it happened at. */
static cr_status graph_status(cr_graph *g, size_t epoch, size_t step, cr_error *err)
{
    const cr_error *ge = cr_graph_error(g);
    return cr_error_set(err, ge->status != CR_OK ? ge->status : CR_ENOMEM, "train",
                        "epoch %zu, step %zu: %s", epoch, step, ge->message);
}

static cr_status run(trainer *t, cr_train_stats *s, cr_error *err)
{
    const cr_learner *l = t->l;
    cr_graph *g = l->g;
    const cr_train_options *o = t->o;
    const size_t k = l->n_classes, pos = l->positions;
    const size_t batch = o->batch < t->n_train ? o->batch : t->n_train;
    const double t0 = now_seconds();
    history hist = {.s = s};
    cr_train_debug dbg;
    double best = INFINITY;
    size_t since_best = 0;
    cr_status st = CR_OK;
    int stop = 0;
    s->stop = CR_STOP_EPOCHS;
    for (size_t epoch = 1; !stop && (o->epochs == 0 || epoch <= o->epochs); epoch++) {
        if (o->shuffle &&
            (st = cr_data_shuffle(t->order, t->n_train, o->seed + epoch, err)) != CR_OK)
            return st;
        if (l->reset_state)
            l->reset_state(l->net); /* a carried state starts from zeros */
        s->epochs = epoch;
        double sum = 0.0;
        size_t correct = 0, seen = 0;
        void *h = NULL;
        for (size_t first = 0; first < t->n_steps; first += batch) {
            const size_t n = t->n_steps - first < batch ? t->n_steps - first : batch;
            if (!(h = train_batch(t, n, err)))
                return err ? err->status : CR_ENOMEM;
            l->load(l->net, h, &t->x, t->y, t->steps, first, n);
            cr_graph_set_training(g, 1);
            if (cr_graph_forward(g, l->loss(h)) != CR_OK ||
                cr_graph_backward(g, l->loss(h), 0) != CR_OK)
                return graph_status(g, epoch, s->iterations + 1, err);
            const double bl = l->loss_per_row(l->net, h);
            sum += bl * (double)n;
            seen += n;
            correct += l->correct(l->net, h, NULL);
            if (l->before_step)
                l->before_step(l->net);
            if (cr_optim_step(t->opt) != CR_OK)
                return graph_status(g, epoch, s->iterations + 1, err);
            s->iterations++;
            if (o->on_step) {
                cr_train_progress p = {.epoch = epoch,
                                       .iteration = s->iterations,
                                       .rows_done = seen,
                                       .train_rows = t->n_steps,
                                       .batch_loss = bl,
                                       .epoch_loss = sum / (double)seen,
                                       .epoch_accuracy =
                                           k ? (double)correct / (double)(seen * pos) : NAN,
                                       .val_loss = NAN,
                                       .val_accuracy = NAN,
                                       .seconds = now_seconds() - t0};
                if (o->on_step(&p, o->ctx)) {
                    s->stop = CR_STOP_CALLBACK;
                    stop = 1;
                    break;
                }
            }
            if (o->max_iter && s->iterations >= o->max_iter) {
                s->stop = CR_STOP_MAX_ITER;
                stop = 1;
                break;
            }
        }
        const double loss = sum / (double)seen;
        const double acc = k ? (double)correct / (double)(seen * pos) : NAN;
        /* before validation, which runs the same nodes on other rows */
        if (o->debug) {
            if (cr_grow((void **)&s->debug, &hist.cap_debug, s->n_debug + 1,
                        sizeof *s->debug) != CR_OK)
                return cr_error_set(err, CR_ENOMEM, "train",
                                    "out of memory for debug records");
            memset(&dbg, 0, sizeof dbg);
            dbg.epoch = epoch;
            dbg.iteration = s->iterations;
            l->debug_record(l->net, h, o->debug_param, &dbg);
            s->debug[s->n_debug++] = dbg;
        }
        double vloss, vacc;
        if ((st = eval_val(t, &vloss, &vacc, err)) != CR_OK)
            return st;
        if ((st = history_push(&hist, loss, acc, vloss, vacc, err)) != CR_OK)
            return st;
        /* early stopping on the validation loss, else the training loss */
        const double watched = t->n_val ? vloss : loss;
        if (watched < best - o->min_delta) {
            best = watched;
            since_best = 0;
            s->best_epoch = epoch;
            if (t->best)
                params_copy(g, t->best, 0);
        } else if (o->patience && ++since_best >= o->patience && !stop) {
            s->stop = CR_STOP_EARLY;
            stop = 1;
        }
        if (!stop && o->target_loss >= 0.0 && loss <= o->target_loss) {
            s->stop = CR_STOP_TARGET_LOSS;
            stop = 1;
        }
        if (o->on_epoch) {
            cr_train_progress p = {.epoch = epoch,
                                   .iteration = s->iterations,
                                   .rows_done = seen,
                                   .train_rows = t->n_train,
                                   .batch_loss = loss,
                                   .epoch_loss = loss,
                                   .epoch_accuracy = acc,
                                   .val_loss = vloss,
                                   .val_accuracy = vacc,
                                   .seconds = now_seconds() - t0,
                                   .debug = o->debug ? &dbg : NULL};
            if (o->on_epoch(&p, o->ctx) && !stop) {
                s->stop = CR_STOP_CALLBACK;
                stop = 1;
            }
        }
    }
    if (t->best && s->best_epoch && s->best_epoch != s->epochs)
        params_copy(g, t->best, 1);
    s->seconds = now_seconds() - t0;
    return CR_OK;
}

/* The final figures, with the parameters training ends with. */
static cr_status final_figures(trainer *t, cr_train_stats *s, cr_error *err)
{
    cr_eval_result r;
    cr_status st = cr_learner_eval_rows(t->l, &t->x, t->y, t->order, t->n_train, &r, err);
    if (st != CR_OK)
        return st;
    s->train_loss = r.loss;
    s->train_accuracy = r.accuracy;
    cr_eval_result_free(&r);
    return eval_val(t, &s->val_loss, &s->val_accuracy, err);
}

cr_status cr_learner_train(const cr_learner *l, const cr_mlp_rows *x, const double *y,
                           size_t rows, const cr_train_options *o, cr_train_stats *stats,
                           cr_error *err)
{
    cr_train_options defaults;
    cr_train_stats local;
    if (!o) {
        cr_train_options_init(&defaults);
        o = &defaults;
    }
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (x->u8 && !isfinite(x->scale))
        return cr_error_set(err, CR_EINVAL, "train", "the byte scale is %g", x->scale);
    if (!l->net || !(x->f64 || x->u8) || !y)
        return cr_error_set(err, CR_EINVAL, "train", "the model or the data is NULL");
    if (rows == 0)
        return cr_error_set(err, CR_EINVAL, "train", "no training rows");
    cr_status st = check_options(l, o, rows, err);
    if (st != CR_OK)
        return st;

    trainer t = {.l = l, .o = o, .x = *x, .y = y};
    t.n_val = o->val_split > 0 ? (size_t)llround(o->val_split * (double)rows) : 0;
    t.n_train = rows - t.n_val;
    t.order = cr_malloc(rows * sizeof *t.order);
    if (!t.order)
        return cr_error_set(err, CR_ENOMEM, "train", "out of memory for %zu row indices",
                            rows);
    for (size_t i = 0; i < rows; i++)
        t.order[i] = i;
    /* The split: a seeded shuffle of all rows, the last n_val held out
     * (with carry, the last rows of the sequence, unshuffled). */
    if (t.n_val && !l->carry &&
        (st = cr_data_shuffle(t.order, rows, o->seed, err)) != CR_OK)
        goto done;
    t.steps = t.order;
    t.n_steps = t.n_train;
    if (l->carry) {
        /* batch row r of step k reads row r K + k: B stretches of K
         * consecutive windows, walked side by side (the tail is left out) */
        const size_t b = o->batch, k = t.n_train / b;
        t.n_steps = k * b;
        if (!(t.steps = cr_malloc(t.n_steps * sizeof *t.steps))) {
            st = cr_error_set(err, CR_ENOMEM, "train", "out of memory for %zu row indices",
                              t.n_steps);
            goto done;
        }
        for (size_t step = 0; step < k; step++)
            for (size_t r = 0; r < b; r++)
                t.steps[step * b + r] = r * k + step;
    }
    if (o->patience && o->restore_best) {
        t.best = cr_malloc(l->n_weights * sizeof *t.best);
        if (!t.best) {
            st = cr_error_set(err, CR_ENOMEM, "train",
                              "out of memory for the best parameters");
            goto done;
        }
    }
    if (!(t.opt = cr_optim_new(l->g, &o->optim, err))) {
        st = err ? err->status : CR_ENOMEM;
        goto done;
    }
    stats->train_rows = t.n_train;
    stats->val_rows = t.n_val;
    const unsigned flags = cr_graph_flags(l->g);
    const int training = cr_graph_training(l->g);
    if (o->trap_nonfinite)
        cr_graph_set_flags(l->g, flags | CR_GRAPH_TRAP_NONFINITE);
    if ((st = run(&t, stats, err)) == CR_OK)
        st = final_figures(&t, stats, err);
    cr_graph_set_flags(l->g, flags);
    cr_graph_set_training(l->g, training);
done:
    cr_optim_free(t.opt);
    cr_free(t.best);
    if (t.steps != t.order)
        cr_free(t.steps);
    cr_free(t.order);
    if (stats == &local)
        cr_train_stats_free(stats);
    return st;
}

cr_status cr_mlp_train(cr_mlp *m, const double *x, const double *y, size_t rows,
                       const cr_train_options *o, cr_train_stats *stats, cr_error *err)
{
    cr_learner l = {0};
    if (m)
        cr_mlp_learner(m, &l);
    return cr_learner_train(&l, &(cr_mlp_rows){.f64 = x}, y, rows, o, stats, err);
}

cr_status cr_mlp_train_bytes(cr_mlp *m, const unsigned char *x, double scale,
                             const double *y, size_t rows, const cr_train_options *o,
                             cr_train_stats *stats, cr_error *err)
{
    cr_learner l = {0};
    if (m)
        cr_mlp_learner(m, &l);
    return cr_learner_train(&l, &(cr_mlp_rows){.u8 = x, .scale = scale}, y, rows, o, stats,
                            err);
}
