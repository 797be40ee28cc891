/*
 * model_train.c - a model as a learner of the shared training loop
 * (cr_learner, nn_internal.h): its batches, loss, accuracy, per-layer
 * gradient clipping and the debug record (gradient norms per layer with
 * parameters, the chain of layer outputs down to the debugged parameter);
 * cr_model_train and cr_model_train_bytes.
 */
#include "nn/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void *model_batch(void *net, size_t rows, cr_error *err)
{
    return cr_model_head_get(net, rows, err);
}

static void model_load(void *net, void *b, const cr_mlp_rows *x, const double *y,
                       const size_t *idx, size_t first, size_t count)
{
    cr_model_head_load(net, b, x, y, idx, first, count);
}

static cr_node *model_loss(const void *b) { return ((const cr_model_head *)b)->loss; }
static cr_node *model_output(const void *b) { return ((const cr_model_head *)b)->output; }

static double model_loss_per_row(const void *net, const void *b)
{
    return cr_model_head_loss_per_row(net, b);
}

static size_t model_correct(const void *net, const void *b, size_t *confusion)
{
    return cr_model_head_correct(net, b, confusion);
}

/* The layer whose parameter is named param (NULL: the first parameter),
 * or (size_t)-1. */
static size_t param_layer(const cr_model *m, const char *param, cr_node **p)
{
    *p = param ? cr_graph_find(m->g, param) : (m->n_params ? m->params[0] : NULL);
    for (size_t i = 0; *p && i < m->n_layers; i++)
        for (size_t j = 0; j < m->layers[i].n_params; j++)
            if (m->params[m->layers[i].first_param + j] == *p)
                return i;
    return (size_t)-1;
}

static cr_status model_debug_check(void *net, const char *param)
{
    cr_node *p;
    return param_layer(net, param, &p) == (size_t)-1 ? CR_EINVAL : CR_OK;
}

static cr_status model_debug_request(void *net, void *b, const char *param, cr_error *err)
{
    cr_model *m = net;
    cr_model_head *h = b;
    cr_node *p;
    const size_t first = param_layer(m, param, &p);
    for (size_t i = first; i < m->n_layers; i++)
        cr_node_require_grad(h->out[i], 1);
    /* the new gradient nodes are made at the full batch; if they cannot be,
     * the requests are withdrawn */
    if (cr_nn_build_grads(m->g, h->loss) == CR_OK)
        return CR_OK;
    for (size_t i = first; i < m->n_layers; i++)
        cr_node_require_grad(h->out[i], 0);
    return cr_model_graph_error(m, err);
}

static void model_debug_record(void *net, void *b, const char *param, cr_train_debug *d)
{
    cr_model *m = net;
    cr_model_head *h = b;
    cr_node *p;
    const size_t first = param_layer(m, param, &p);
    if (first == (size_t)-1)
        return;
    double norms[CR_MODEL_MAX_LAYERS];
    cr_model_grad_norms(m, norms, m->n_layers, NULL);
    size_t n = 0;
    for (size_t i = 0; i < m->n_layers && n < CR_MLP_MAX_HIDDEN + 1; i++)
        if (m->layers[i].n_params)
            d->layer_grad_norm[n++] = norms[i];
    d->n_layers = n;
    size_t k = 0;
    /* with the loss fused with the last layer, the chain starts at its logits */
    const size_t top = h->logits != h->output ? m->n_layers - 1 : m->n_layers;
    for (size_t i = top; i-- > first && k + 1 < CR_TRAIN_MAX_LINKS;) {
        if (i > first && h->out[i] == h->out[i - 1])
            continue; /* a layer that passes its input on (flatten, linear) */
        cr_train_link_set(&d->chain[k++], cr_node_name(h->out[i]), cr_node_grad(h->out[i]));
    }
    cr_train_link_set(&d->chain[k++], cr_node_name(p), cr_node_grad(p));
    d->n_links = k;
    d->chain_text = cr_graph_forward(m->g, h->loss) == CR_OK
                        ? cr_train_chain_text(m->g, h->loss, p)
                        : NULL;
}

/* Scales each clipped layer's parameter gradients to a norm <= clip, then
 * runs the layers' on_step hooks. */
static void model_before_step(void *net)
{
    cr_model *m = net;
    if (m->head->rows == m->opts.batch) /* a backward at the full batch built them */
        m->grads_built = 1;
    double norms[CR_MODEL_MAX_LAYERS];
    cr_model_grad_norms(m, norms, m->n_layers, NULL);
    for (size_t i = 0; i < m->n_layers; i++) {
        const double clip = m->layers[i].spec.clip;
        if (!(clip > 0.0) || !(norms[i] > clip))
            continue;
        const double f = clip / norms[i];
        for (size_t j = 0; j < m->layers[i].n_params; j++) {
            cr_tensor *gt =
                (cr_tensor *)cr_node_grad(m->params[m->layers[i].first_param + j]);
            for (size_t e = 0; gt && e < gt->size; e++)
                gt->data[e] *= f;
        }
    }
    for (size_t i = 0; i < m->n_layers; i++)
        if (m->layers[i].on_step)
            m->layers[i].on_step(m, i, m->head);
}

static void model_reset_state(void *net) { cr_model_reset_state(net); }

void cr_model_learner(cr_model *m, cr_learner *l)
{
    *l = (cr_learner){.net = m,
                      .g = m->g,
                      .n_classes = cr_model_num_classes(m),
                      .n_outputs = cr_model_output_size(m),
                      .positions = cr_model_positions(m),
                      .eval_chunk = m->opts.batch,
                      .max_batch = m->opts.batch,
                      .n_weights = cr_model_num_weights(m),
                      .batch = model_batch,
                      .load = model_load,
                      .loss = model_loss,
                      .output = model_output,
                      .loss_per_row = model_loss_per_row,
                      .correct = model_correct,
                      .debug_check = model_debug_check,
                      .debug_request = model_debug_request,
                      .debug_record = model_debug_record,
                      .before_step = model_before_step,
                      .carry = m->opts.carry_state,
                      .reset_state = model_reset_state};
}

cr_status cr_model_train(cr_model *m, const double *x, const double *y, size_t rows,
                         const cr_train_options *o, cr_train_stats *stats, cr_error *err)
{
    cr_learner l = {0};
    if (m)
        cr_model_learner(m, &l);
    return cr_learner_train(&l, &(cr_mlp_rows){.f64 = x}, y, rows, o, stats, err);
}

cr_status cr_model_train_bytes(cr_model *m, const unsigned char *x, double scale,
                               const double *y, size_t rows, const cr_train_options *o,
                               cr_train_stats *stats, cr_error *err)
{
    cr_learner l = {0};
    if (m)
        cr_model_learner(m, &l);
    return cr_learner_train(&l, &(cr_mlp_rows){.u8 = x, .scale = scale}, y, rows, o, stats,
                            err);
}
