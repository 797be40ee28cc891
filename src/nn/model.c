/*
 * model.c - the model builder: layer kind names and specs, building a
 * model (its parameters, then the nodes of each batch size through the
 * layer table), the loss on the output, the accessors, input statistics
 * and vocabulary, prediction and evaluation.
 */
#include "nn/model_internal.h"
#include "core/rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the layer table ---- */

#define CR_LAYER_NAME_(E, name, num) [num] = #name,
static const char *const kind_names[] = {CR_LAYER_LIST(CR_LAYER_NAME_)};
#undef CR_LAYER_NAME_
#define CR_LAYER_FN_(E, name, num) [num] = cr_layer_build_##name,
static const cr_layer_build_fn builders[] = {CR_LAYER_LIST(CR_LAYER_FN_)};
#undef CR_LAYER_FN_
#define COUNT(a) (sizeof(a) / sizeof *(a))
_Static_assert(COUNT(kind_names) == CR_LAYER_COUNT, "CR_LAYER_LIST numbers have a gap");

const char *cr_layer_kind_name(cr_layer_kind kind)
{
    return (unsigned)kind < COUNT(kind_names) ? kind_names[kind] : "?";
}

cr_status cr_layer_kind_parse(const char *name, cr_layer_kind *out, cr_error *err)
{
    for (size_t i = 0; name && i < COUNT(kind_names); i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            if (out)
                *out = (cr_layer_kind)i;
            return CR_OK;
        }
    }
    char list[256] = "";
    for (size_t i = 0; i < COUNT(kind_names); i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 kind_names[i]);
    return cr_error_set(err, CR_EINVAL, "layer",
                        "unknown layer kind '%s' (expected one of: %s)",
                        name ? name : "(null)", list);
}

static int is_pool(cr_layer_kind k)
{
    return k == CR_LAYER_MAXPOOL1D || k == CR_LAYER_AVGPOOL1D || k == CR_LAYER_MAXPOOL2D ||
           k == CR_LAYER_AVGPOOL2D;
}

static int is_2d(cr_layer_kind k)
{
    return k == CR_LAYER_CONV2D || k == CR_LAYER_MAXPOOL2D || k == CR_LAYER_AVGPOOL2D;
}

void cr_layer_spec_init(cr_layer_spec *spec, cr_layer_kind kind)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof *spec);
    spec->kind = kind;
    spec->units = 1;
    spec->kernel[0] = spec->kernel[1] = 1;
    spec->stride[0] = spec->stride[1] = is_pool(kind) ? 0 : 1;
    spec->act = CR_ACT_RELU;
    spec->rate = 0.5;
    spec->eps = CR_NORM_EPS;
    spec->momentum = CR_BATCH_NORM_MOMENTUM;
    spec->bias = 1;
    spec->init = CR_INIT_XAVIER;
    spec->init_b = 1.0;
}

int cr_layer_spec_format(const cr_layer_spec *s, char *buf, size_t size)
{
    if (!s)
        return cr_text_none(buf, size);
    if (!buf)
        size = 0;
    const char *name = cr_layer_kind_name(s->kind);
    char win[96] = "";
    if (is_2d(s->kind))
        snprintf(win, sizeof win, "%zux%zu,stride=%zux%zu,pad=%zux%zu", s->kernel[0],
                 s->kernel[1], s->stride[0], s->stride[1], s->pad[0], s->pad[1]);
    else
        snprintf(win, sizeof win, "%zu,stride=%zu,pad=%zu", s->kernel[0], s->stride[0],
                 s->pad[0]);
    switch (s->kind) {
    case CR_LAYER_DENSE:
        return snprintf(buf, size, "%s:%zu%s", name, s->units, s->bias ? "" : ",nobias");
    case CR_LAYER_CONV1D:
    case CR_LAYER_CONV2D:
        return snprintf(buf, size, "%s:%zu,%s%s", name, s->units, win,
                        s->bias ? "" : ",nobias");
    case CR_LAYER_MAXPOOL1D:
    case CR_LAYER_AVGPOOL1D:
    case CR_LAYER_MAXPOOL2D:
    case CR_LAYER_AVGPOOL2D:
        return snprintf(buf, size, "%s:%s", name, win);
    case CR_LAYER_DROPOUT:
        return snprintf(buf, size, "%s:%g", name, s->rate);
    case CR_LAYER_EMBED:
        return snprintf(buf, size, "%s:%zu,vocab=%zu", name, s->units, s->vocab);
    case CR_LAYER_ACTIVATION:
        if (s->act == CR_ACT_LEAKY_RELU || s->act == CR_ACT_ELU)
            return snprintf(buf, size, "%s:%g", cr_activation_name(s->act), s->alpha);
        return snprintf(buf, size, "%s", cr_activation_name(s->act));
    case CR_LAYER_RNN:
    case CR_LAYER_GRU:
    case CR_LAYER_LSTM:
        return snprintf(buf, size, "%s:%zu%s%s", name, s->units, s->sequences ? ",seq" : "",
                        s->bias ? "" : ",nobias");
    default:
        return snprintf(buf, size, "%s", name);
    }
}

void cr_model_options_init(cr_model_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->loss = CR_LOSS_XENT;
    o->batch = 32;
    o->seed = 1;
}

/* ---- parameters ---- */

cr_status cr_model_graph_error(cr_model *m, cr_error *err)
{
    const cr_error *ge = cr_graph_error(m->g);
    return cr_error_set(err, ge->status != CR_OK ? ge->status : CR_ENOMEM, "model", "%s",
                        ge->message);
}

cr_node *cr_model_param(cr_model *m, size_t i, size_t j, const char *what, int rank,
                        const size_t *shape, cr_init_kind init, size_t fan_in,
                        size_t fan_out, double a, double b, cr_error *err)
{
    cr_layer_state *L = &m->layers[i];
    if (m->head)
        return j < L->n_params ? m->params[L->first_param + j] : NULL;
    if (j == 0)
        L->first_param = m->n_params;
    if (cr_grow((void **)&m->params, &m->cap_params, m->n_params + 1, sizeof *m->params) !=
        CR_OK) {
        cr_error_set(err, CR_ENOMEM, "model", "out of memory for parameters");
        return NULL;
    }
    cr_tensor *t = cr_tensor_new(rank, shape, err);
    if (!t)
        return NULL;
    double *d = cr_tensor_data_mut(t);
    const size_t n = cr_tensor_size(t);
    if (m->load) {
        memcpy(d, m->load, n * sizeof *d);
        m->load += n;
    } else if (init == CR_INIT_CONST) {
        for (size_t k = 0; k < n; k++)
            d[k] = a;
    } else {
        cr_init_draw(m->rng, init, fan_in, fan_out, a, b, d, n);
    }
    char name[48];
    snprintf(name, sizeof name, "L%zu.%s", i + 1, what);
    cr_node *p = cr_param(m->g, name, t);
    cr_tensor_free(t);
    if (!p) {
        cr_model_graph_error(m, err);
        return NULL;
    }
    m->params[m->n_params++] = p;
    L->n_params = m->n_params - L->first_param;
    return p;
}

/* ---- the loss ---- */

static const cr_layer_spec *last_spec(const cr_model *m)
{
    return &m->layers[m->n_layers - 1].spec;
}

/* Whether the loss is fused with the last layer (a sigmoid for bce, a
 * softmax for xent): the logits are then the last layer's input. */
static int fused_last(const cr_model *m)
{
    const cr_layer_spec *s = last_spec(m);
    if (s->kind != CR_LAYER_ACTIVATION)
        return 0;
    switch (m->opts.loss) {
    case CR_LOSS_BCE:
        return s->act == CR_ACT_SIGMOID;
    case CR_LOSS_XENT:
    case CR_LOSS_XENT_INDEX:
        return s->act == CR_ACT_SOFTMAX;
    default:
        return 0;
    }
}

size_t cr_model_output_size(const cr_model *m)
{
    if (!m)
        return 0;
    const cr_layer_state *L = &m->layers[m->n_layers - 1];
    size_t n = 1;
    for (int d = 0; d < L->out_rank; d++)
        n *= L->out_shape[d];
    return n;
}

/* Positions of an output row: its size without the class axis (the last). */
size_t cr_model_positions(const cr_model *m)
{
    const cr_layer_state *L = &m->layers[m->n_layers - 1];
    return cr_model_output_size(m) / L->out_shape[L->out_rank - 1];
}

size_t cr_model_target_size(const cr_model *m)
{
    if (!m)
        return 0;
    return m->opts.loss == CR_LOSS_XENT_INDEX ? cr_model_positions(m)
                                              : cr_model_output_size(m);
}

static cr_status make_loss(cr_model *m, cr_model_head *h, cr_error *err)
{
    cr_graph *g = m->g;
    const cr_layer_state *L = &m->layers[m->n_layers - 1];
    const int fused = fused_last(m);
    h->output = h->out[m->n_layers - 1];
    h->logits = fused ? (m->n_layers > 1 ? h->out[m->n_layers - 2] : h->x)
                      : h->out[m->n_layers - 1];
    cr_node *out = h->out[m->n_layers - 1];
    switch (m->opts.loss) {
    case CR_LOSS_SQ_ERROR:
        h->loss = cr_sq_error(g, out, h->t);
        break;
    case CR_LOSS_MSE:
        h->loss = cr_mse(g, out, h->t);
        break;
    case CR_LOSS_BCE:
        h->loss = cr_bce_logits(g, h->logits, h->t);
        break;
    case CR_LOSS_XENT:
        h->loss = cr_softmax_xent(g, h->logits, h->t);
        break;
    case CR_LOSS_XENT_INDEX: {
        /* cr_cross_entropy wants [P, C] logits and [P] classes */
        const long pos = (long)(h->rows * cr_model_positions(m));
        const long lshape[2] = {pos, (long)L->out_shape[L->out_rank - 1]};
        cr_node *z = L->out_rank > 1 ? cr_reshape(g, h->logits, 2, lshape) : h->logits;
        cr_node *t = L->out_rank > 1 ? cr_reshape(g, h->t, 1, &pos) : h->t;
        h->loss = cr_cross_entropy(g, z, t);
        break;
    }
    default:
        return cr_error_set(err, CR_EINVAL, "model", "loss %d is unknown",
                            (int)m->opts.loss);
    }
    if (!h->loss)
        return cr_model_graph_error(m, err);
    /* accuracy reads the logits when the loss is fused or works on them */
    const int on_logits = m->opts.loss == CR_LOSS_BCE || m->opts.loss == CR_LOSS_XENT ||
                          m->opts.loss == CR_LOSS_XENT_INDEX;
    h->score = on_logits ? h->logits : out;
    h->threshold = on_logits ? 0.0 : 0.5;
    return CR_OK;
}

/* ---- heads ---- */

static cr_status build_head(cr_model *m, cr_model_head *h, size_t rows, cr_error *err)
{
    cr_graph *g = m->g;
    size_t shape[CR_MAX_RANK];
    h->rows = rows;
    shape[0] = rows;
    memcpy(shape + 1, m->in_shape, (size_t)m->in_rank * sizeof *shape);
    h->x = cr_input(g, NULL, m->in_rank + 1, shape);
    if (!h->x || cr_node_mark_batch(h->x) != CR_OK)
        return cr_model_graph_error(m, err);
    cr_node *in = h->x;
    for (size_t i = 0; i < m->n_layers; i++) {
        cr_layer_state *L = &m->layers[i];
        const cr_tensor *v = cr_node_value(in);
        L->in_rank = cr_tensor_rank(v) - 1;
        memcpy(L->in_shape, cr_tensor_shape(v) + 1, (size_t)L->in_rank * sizeof(size_t));
        cr_graph_clear_error(g);
        cr_error lerr;
        cr_error_clear(&lerr);
        cr_status st = (unsigned)L->spec.kind < COUNT(builders)
                           ? builders[L->spec.kind](m, i, in, &h->out[i], &lerr)
                           : cr_error_set(&lerr, CR_EINVAL, "model", "unknown kind %d",
                                          (int)L->spec.kind);
        if (st != CR_OK) {
            char shape_text[96];
            cr_shape_format(shape_text, sizeof shape_text, L->in_rank, L->in_shape);
            return cr_error_set(err, st, "model", "layer %zu (%s) on input %s: %s", i + 1,
                                cr_layer_kind_name(L->spec.kind), shape_text, lerr.message);
        }
        in = h->out[i];
        v = cr_node_value(in);
        L->out_rank = cr_tensor_rank(v) - 1;
        memcpy(L->out_shape, cr_tensor_shape(v) + 1, (size_t)L->out_rank * sizeof(size_t));
        if (L->out_rank < 1 && m->opts.loss != CR_LOSS_XENT_INDEX) {
            L->out_rank = 1; /* a scalar per sample is a row of one */
            L->out_shape[0] = 1;
        }
    }
    const cr_layer_state *L = &m->layers[m->n_layers - 1];
    if (L->out_rank < 1)
        return cr_error_set(err, CR_ESHAPE, "model", "the output has no class axis");
    const size_t tsize = cr_model_target_size(m);
    size_t tshape[CR_MAX_RANK] = {rows, tsize};
    if (m->opts.loss != CR_LOSS_XENT_INDEX) {
        memcpy(tshape + 1, L->out_shape, (size_t)L->out_rank * sizeof *tshape);
        h->t = cr_input(g, NULL, L->out_rank + 1, tshape);
    } else {
        memcpy(tshape + 1, L->out_shape, (size_t)(L->out_rank - 1) * sizeof *tshape);
        h->t = cr_input(g, NULL, L->out_rank, tshape);
        /* class 0 everywhere: a valid placeholder for cr_cross_entropy */
    }
    if (!h->t || cr_node_mark_batch(h->t) != CR_OK)
        return cr_model_graph_error(m, err);
    cr_status st = make_loss(m, h, err);
    if (st != CR_OK)
        return st;
    /* Names help debugging (chains, DOT); failing to name is not fatal. */
    char name[48];
    for (size_t i = 0; i < m->n_layers; i++) {
        snprintf(name, sizeof name, "L%zu", i + 1);
        if (!cr_node_name(h->out[i]))
            cr_node_set_name(h->out[i], name);
    }
    cr_node_set_name(h->x, "x");
    cr_node_set_name(h->t, "y");
    cr_node_set_name(h->loss, "loss");
    cr_graph_clear_error(g);
    return CR_OK;
}

/* The gradient nodes are made at the full batch, before the first smaller
 * one (cr_nn_build_grads). */
static cr_status build_gradients(cr_model *m, cr_error *err)
{
    if (m->grads_built)
        return CR_OK;
    if (cr_nn_build_grads(m->g, m->head->loss) != CR_OK)
        return cr_model_graph_error(m, err);
    m->grads_built = 1;
    return CR_OK;
}

cr_model_head *cr_model_head_get(cr_model *m, size_t rows, cr_error *err)
{
    cr_model_head *h = m->head;
    if (!h) {
        if (!(h = cr_calloc(1, sizeof *h + m->n_layers * sizeof(cr_node *)))) {
            cr_error_set(err, CR_ENOMEM, "model", "out of memory for a batch of %zu rows",
                         rows);
            return NULL;
        }
        if (build_head(m, h, m->opts.batch, err) != CR_OK) {
            cr_free(h);
            return NULL;
        }
        m->head = h;
    }
    if (rows != h->rows) {
        if (rows < m->opts.batch && build_gradients(m, err) != CR_OK)
            return NULL;
        if (cr_graph_set_rows(m->g, rows) != CR_OK) {
            cr_model_graph_error(m, err);
            return NULL;
        }
        h->rows = rows;
    }
    return h;
}

void cr_model_head_load(cr_model *m, cr_model_head *h, const cr_mlp_rows *x,
                        const double *y, const size_t *idx, size_t first, size_t count)
{
    cr_nn_load_rows(x, y, idx, first, count, cr_model_input_size(m),
                    cr_model_target_size(m), m->mean, m->std, h->x->value.data,
                    h->t->value.data, h->rows);
}

double cr_model_head_loss_per_row(const cr_model *m, const cr_model_head *h)
{
    const double v = cr_node_scalar(h->loss);
    return m->opts.loss == CR_LOSS_SQ_ERROR ? v / (double)h->rows : v;
}

size_t cr_model_head_correct(const cr_model *m, const cr_model_head *h, size_t *confusion)
{
    const size_t k = cr_model_num_classes(m);
    if (k == 0)
        return 0;
    const size_t pos = h->rows * cr_model_positions(m);
    const size_t c = cr_model_output_size(m) / cr_model_positions(m);
    const double *score = h->score->value.data, *t = h->t->value.data;
    const int index = m->opts.loss == CR_LOSS_XENT_INDEX;
    size_t correct = 0;
    for (size_t p = 0; p < pos; p++) {
        const size_t truth = index ? (size_t)t[p] : cr_nn_row_class(t + p * c, c, 0.5);
        const size_t pred = cr_nn_row_class(score + p * c, c, h->threshold);
        correct += truth == pred;
        if (confusion && truth < k)
            confusion[truth * k + pred]++;
    }
    return correct;
}

/* ---- building ---- */

static cr_status check_args(const cr_layer_spec *layers, size_t n_layers, int in_rank,
                            const size_t *in_shape, const cr_model_options *o,
                            cr_error *err)
{
    const char *w = "model";
    if (!layers || !in_shape)
        return cr_error_set(err, CR_EINVAL, w, "the layers or the input shape is NULL");
    if (n_layers < 1 || n_layers > CR_MODEL_MAX_LAYERS)
        return cr_error_set(err, CR_EINVAL, w, "%zu layers: a model has 1 to %d", n_layers,
                            CR_MODEL_MAX_LAYERS);
    if (in_rank < 1 || in_rank >= CR_MAX_RANK)
        return cr_error_set(err, CR_EINVAL, w, "input rank %d: a sample has rank 1 to %d",
                            in_rank, CR_MAX_RANK - 1);
    for (int d = 0; d < in_rank; d++)
        if (in_shape[d] < 1)
            return cr_error_set(err, CR_EINVAL, w, "input dimension %d is 0", d + 1);
    if ((unsigned)o->loss >= CR_LOSS_COUNT)
        return cr_error_set(err, CR_EINVAL, w, "loss %d is unknown", (int)o->loss);
    if (o->batch < 1 || o->batch > ((size_t)1 << 24))
        return cr_error_set(err, CR_EINVAL, w, "batch %zu: 1 to %zu rows", o->batch,
                            (size_t)1 << 24);
    if (o->carry_state != 0 && o->carry_state != 1)
        return cr_error_set(err, CR_EINVAL, w, "carry_state %d: 0 or 1", o->carry_state);
    for (size_t i = 0; i < n_layers; i++) {
        const cr_layer_spec *s = &layers[i];
        if ((unsigned)s->kind >= CR_LAYER_COUNT)
            return cr_error_set(err, CR_EINVAL, w, "layer %zu: kind %d is unknown", i + 1,
                                (int)s->kind);
        if ((unsigned)s->init >= CR_INIT_COUNT)
            return cr_error_set(err, CR_EINVAL, w,
                                "layer %zu (%s): initialisation %d is unknown", i + 1,
                                cr_layer_kind_name(s->kind), (int)s->init);
        if (!isfinite(s->init_a) || !isfinite(s->init_b) ||
            (s->init == CR_INIT_UNIFORM && s->init_a > s->init_b) ||
            (s->init == CR_INIT_NORMAL && s->init_b < 0))
            return cr_error_set(err, CR_EINVAL, w,
                                "layer %zu (%s): initialisation parameters %g and %g are "
                                "invalid",
                                i + 1, cr_layer_kind_name(s->kind), s->init_a, s->init_b);
        if (!(s->clip >= 0.0) || !isfinite(s->clip))
            return cr_error_set(err, CR_EINVAL, w, "layer %zu (%s): clip %g must be >= 0",
                                i + 1, cr_layer_kind_name(s->kind), s->clip);
        if (s->kind == CR_LAYER_ACTIVATION && cr_activation_is_softmax(s->act) &&
            i + 1 != n_layers)
            return cr_error_set(err, CR_EINVAL, w,
                                "layer %zu (%s): %s is for the last layer only", i + 1,
                                cr_layer_kind_name(s->kind), cr_activation_name(s->act));
    }
    const cr_layer_spec *last = &layers[n_layers - 1];
    const int act_last = last->kind == CR_LAYER_ACTIVATION;
    if (o->loss == CR_LOSS_BCE && act_last && last->act != CR_ACT_SIGMOID)
        return cr_error_set(err, CR_EINVAL, w,
                            "the bce loss works on logits or a sigmoid output, not %s",
                            cr_activation_name(last->act));
    if ((o->loss == CR_LOSS_XENT || o->loss == CR_LOSS_XENT_INDEX) && act_last &&
        last->act != CR_ACT_SOFTMAX)
        return cr_error_set(err, CR_EINVAL, w,
                            "the %s loss works on logits or a softmax output, not %s",
                            cr_loss_name(o->loss), cr_activation_name(last->act));
    return CR_OK;
}

cr_model *cr_model_build(const cr_layer_spec *layers, size_t n_layers, int in_rank,
                         const size_t *in_shape, const cr_model_options *opts,
                         const double *params, cr_error *err)
{
    cr_model *m = cr_calloc(1, sizeof *m);
    if (!m || !(m->layers = cr_calloc(n_layers, sizeof *m->layers)) ||
        !(m->g = cr_graph_new())) {
        cr_error_set(err, CR_ENOMEM, "model", "out of memory");
        cr_model_free(m);
        return NULL;
    }
    m->opts = *opts;
    m->in_rank = in_rank;
    memcpy(m->in_shape, in_shape, (size_t)in_rank * sizeof *in_shape);
    m->n_layers = n_layers;
    for (size_t i = 0; i < n_layers; i++)
        m->layers[i].spec = layers[i];
    cr_graph_set_seed(m->g, opts->seed);
    gsl_rng rng = {0};
    cr_error local;
    if (!err)
        err = &local;
    if (!params && cr_rng_open(&rng, opts->seed) != CR_OK) {
        cr_error_set(err, CR_ENOMEM, "model", "out of memory for the random generator");
        cr_model_free(m);
        return NULL;
    }
    m->rng = params ? NULL : &rng;
    m->load = params;
    cr_model_head *h = cr_model_head_get(m, opts->batch, err);
    m->rng = NULL;
    m->load = NULL;
    cr_rng_close(&rng);
    if (!h) {
        cr_model_free(m);
        return NULL;
    }
    m->active_rows = opts->batch;
    return m;
}

cr_model *cr_model_new(const cr_layer_spec *layers, size_t n_layers, int in_rank,
                       const size_t *in_shape, const cr_model_options *opts, cr_error *err)
{
    cr_model_options defaults;
    if (!opts) {
        cr_model_options_init(&defaults);
        opts = &defaults;
    }
    if (check_args(layers, n_layers, in_rank, in_shape, opts, err) != CR_OK)
        return NULL;
    return cr_model_build(layers, n_layers, in_rank, in_shape, opts, NULL, err);
}

cr_model *cr_model_from_mlp(const cr_mlp_spec *spec, const cr_model_options *opts,
                            cr_error *err)
{
    if (cr_mlp_spec_check(spec, err) != CR_OK)
        return NULL;
    cr_layer_spec layers[2 * CR_MLP_MAX_LAYERS];
    size_t n = 0;
    for (size_t l = 0; l <= spec->n_hidden; l++) {
        const int last = l == spec->n_hidden;
        cr_layer_spec_init(&layers[n], CR_LAYER_DENSE);
        layers[n].units = last ? spec->n_outputs : spec->hidden[l];
        layers[n].bias = spec->bias;
        layers[n].init_a = spec->init == CR_INIT_NORMAL ? 0.0 : spec->init_lo;
        layers[n].init_b = spec->init == CR_INIT_NORMAL ? spec->init_std : spec->init_hi;
        layers[n++].init = spec->init;
        const cr_activation act = last ? spec->out_act : spec->hidden_act;
        if (act != CR_ACT_LINEAR) {
            cr_layer_spec_init(&layers[n], CR_LAYER_ACTIVATION);
            layers[n++].act = act;
        }
    }
    cr_model_options o;
    cr_model_options_init(&o);
    if (opts)
        o.batch = opts->batch;
    o.loss = spec->loss;
    o.seed = spec->seed;
    const size_t in = spec->n_inputs;
    return cr_model_new(layers, n, 1, &in, &o, err);
}

void cr_model_free(cr_model *m)
{
    if (!m)
        return;
    cr_free(m->head);
    for (size_t i = 0; m->layers && i < m->n_layers; i++)
        if (m->layers[i].priv_free)
            m->layers[i].priv_free(m->layers[i].priv);
    cr_free(m->layers);
    cr_free(m->params);
    cr_free(m->mean);
    cr_free(m->std);
    cr_graph_free(m->g);
    cr_free(m);
}

/* ---- accessors ---- */

cr_graph *cr_model_graph(cr_model *m) { return m ? m->g : NULL; }
const cr_model_options *cr_model_get_options(const cr_model *m)
{
    return m ? &m->opts : NULL;
}
size_t cr_model_num_layers(const cr_model *m) { return m ? m->n_layers : 0; }
size_t cr_model_batch(const cr_model *m) { return m ? m->opts.batch : 0; }

const cr_layer_spec *cr_model_layer(const cr_model *m, size_t i)
{
    return m && i < m->n_layers ? &m->layers[i].spec : NULL;
}

int cr_model_layer_shape(const cr_model *m, size_t i, size_t *shape)
{
    if (!m || (i >= m->n_layers && i != (size_t)-1))
        return -1;
    const int rank = i == (size_t)-1 ? m->in_rank : m->layers[i].out_rank;
    const size_t *s = i == (size_t)-1 ? m->in_shape : m->layers[i].out_shape;
    if (shape)
        memcpy(shape, s, (size_t)rank * sizeof *s);
    return rank;
}

/* The model's nodes, built with the model. */
static cr_model_head *main_head(const cr_model *m) { return m->head; }

cr_node *cr_model_layer_output(const cr_model *m, size_t i)
{
    return m && i < m->n_layers ? main_head(m)->out[i] : NULL;
}

size_t cr_model_layer_num_params(const cr_model *m, size_t i)
{
    return m && i < m->n_layers ? m->layers[i].n_params : 0;
}

cr_node *cr_model_layer_param(const cr_model *m, size_t i, size_t j)
{
    return m && i < m->n_layers && j < m->layers[i].n_params
               ? m->params[m->layers[i].first_param + j]
               : NULL;
}

size_t cr_model_num_weights(const cr_model *m)
{
    size_t n = 0;
    for (size_t i = 0; m && i < m->n_params; i++)
        n += m->params[i]->value.size;
    return n;
}

size_t cr_model_input_size(const cr_model *m)
{
    size_t n = m ? 1 : 0;
    for (int d = 0; m && d < m->in_rank; d++)
        n *= m->in_shape[d];
    return n;
}

size_t cr_model_num_classes(const cr_model *m)
{
    if (!m)
        return 0;
    const cr_layer_state *L = &m->layers[m->n_layers - 1];
    const size_t c = L->out_shape[L->out_rank - 1];
    const cr_loss_kind loss = m->opts.loss;
    if (loss == CR_LOSS_XENT || loss == CR_LOSS_XENT_INDEX)
        return c >= 2 ? c : 0;
    if (loss == CR_LOSS_BCE)
        return c == 1 ? 2 : 0;
    if (L->spec.kind == CR_LAYER_ACTIVATION && L->spec.act == CR_ACT_SOFTMAX && c >= 2)
        return c;
    if (L->spec.kind == CR_LAYER_ACTIVATION && L->spec.act == CR_ACT_SIGMOID && c == 1)
        return 2;
    return 0;
}

cr_node *cr_model_input(const cr_model *m) { return m ? main_head(m)->x : NULL; }
cr_node *cr_model_target(const cr_model *m) { return m ? main_head(m)->t : NULL; }
cr_node *cr_model_loss(const cr_model *m) { return m ? main_head(m)->loss : NULL; }

cr_node *cr_model_output(const cr_model *m)
{
    return m ? main_head(m)->out[m->n_layers - 1] : NULL;
}

cr_status cr_model_set_rows(cr_model *m, size_t rows, cr_error *err)
{
    if (!m)
        return cr_error_set(err, CR_EINVAL, "model", "set_rows: the model is NULL");
    if (rows < 1 || rows > m->opts.batch)
        return cr_error_set(err, CR_EINVAL, "model",
                            "set_rows: %zu rows, the model has 1 to %zu", rows,
                            m->opts.batch);
    if (!cr_model_head_get(m, rows, err))
        return err ? err->status : CR_ENOMEM;
    m->active_rows = rows;
    return CR_OK;
}

void cr_model_set_training(cr_model *m, int on)
{
    if (m)
        cr_graph_set_training(m->g, on);
}

/* ---- input statistics and vocabulary ---- */

cr_status cr_model_set_input_stats(cr_model *m, const double *mean, const double *std,
                                   cr_error *err)
{
    if (!m)
        return cr_error_set(err, CR_EINVAL, "model", "set_input_stats: the model is NULL");
    double *nm = NULL, *ns = NULL;
    if (mean) {
        const size_t n = cr_model_input_size(m);
        cr_status st = cr_nn_check_stats(mean, std, n, err);
        if (st != CR_OK)
            return st;
        if (!(nm = cr_malloc(n * sizeof *nm)) || !(ns = cr_malloc(n * sizeof *ns))) {
            cr_free(nm);
            return cr_error_set(err, CR_ENOMEM, "model",
                                "out of memory for input statistics");
        }
        cr_nn_copy_stats(mean, std, n, nm, ns);
    }
    cr_free(m->mean);
    cr_free(m->std);
    m->mean = nm;
    m->std = ns;
    return CR_OK;
}

const double *cr_model_input_mean(const cr_model *m) { return m ? m->mean : NULL; }
const double *cr_model_input_std(const cr_model *m) { return m ? m->std : NULL; }

cr_status cr_model_set_vocab(cr_model *m, const unsigned char *symbols, size_t n,
                             cr_error *err)
{
    if (!m || (!symbols && n > 0) || n > sizeof m->vocab)
        return cr_error_set(
            err, CR_EINVAL, "model",
            "set_vocab: NULL model or symbols, or %zu symbols (at most 256)", n);
    if (n)
        memcpy(m->vocab, symbols, n);
    m->n_vocab = n;
    return CR_OK;
}

const unsigned char *cr_model_vocab(const cr_model *m, size_t *n)
{
    if (n)
        *n = m ? m->n_vocab : 0;
    return m && m->n_vocab ? m->vocab : NULL;
}

/* ---- gradient norms ---- */

cr_status cr_model_grad_norms(const cr_model *m, double *norms, size_t n, cr_error *err)
{
    if (!m || !norms || n != m->n_layers)
        return cr_error_set(err, CR_EINVAL, "model",
                            "grad_norms: NULL argument, or %zu norms for %zu layers", n,
                            m ? m->n_layers : 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < m->layers[i].n_params; j++) {
            const cr_tensor *gt = cr_node_grad(m->params[m->layers[i].first_param + j]);
            const double v = gt ? cr_tensor_norm(gt) : 0.0;
            s += v * v;
        }
        norms[i] = sqrt(s);
    }
    return CR_OK;
}

/* ---- predict and evaluate ---- */

cr_status cr_model_predict(cr_model *m, const double *x, size_t rows, double *out,
                           cr_error *err)
{
    if (!m)
        return cr_error_set(err, CR_EINVAL, "predict", "predict: the model is NULL");
    cr_learner l;
    cr_model_learner(m, &l);
    return cr_learner_predict(&l, x, rows, out, err);
}

cr_status cr_model_evaluate(cr_model *m, const double *x, const double *y, size_t rows,
                            cr_eval_result *res, cr_error *err)
{
    if (!m || !res)
        return cr_error_set(err, CR_EINVAL, "evaluate",
                            "evaluate: the model or result is NULL");
    cr_learner l;
    cr_model_learner(m, &l);
    return cr_learner_eval_rows(&l, &(cr_mlp_rows){.f64 = x}, y, NULL, rows, res, err);
}
