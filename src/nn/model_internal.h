/*
 * model_internal.h - what the model builder's files share (model.c: the
 * model, its nodes, predict and evaluate; model_layers.c: the builders of
 * the non-recurrent layers; recurrent.c: rnn, gru, lstm; model_train.c and
 * model_file.c): the model struct, the layer table generated from
 * CR_LAYER_LIST, and the parameter helper every builder uses.
 */
#ifndef CR_MODEL_INTERNAL_H
#define CR_MODEL_INTERNAL_H

#include "nn/nn_internal.h"
#include "chainrule/model.h"

#include <gsl/gsl_rng.h>

/* The nodes that compute one batch size: the input, the targets, every
 * layer's output, the loss, and the node accuracy is read from (score:
 * the output, or the logits when the loss is fused with the output
 * activation; threshold is score's decision point for one unit). */
typedef struct cr_model_head {
    size_t rows;
    cr_node *x, *t;
    cr_node *output, *loss, *score, *logits;
    double threshold;
    cr_node *out[]; /* n_layers outputs */
} cr_model_head;

/* One layer of a built model. Shapes are per sample (no batch axis). */
typedef struct cr_layer_state {
    cr_layer_spec spec;
    size_t first_param, n_params; /* its parameters: m->params[first..] */
    int in_rank, out_rank;
    size_t in_shape[CR_MAX_RANK], out_shape[CR_MAX_RANK];
    void *priv;                 /* a builder's own data (recurrent state), or NULL */
    void (*priv_free)(void *p); /* frees priv */
    /* called after each training step's backward, before the optimizer
     * (after clipping), with the head that ran (carrying a recurrent state
     * into the next window, for example); NULL: nothing */
    void (*on_step)(cr_model *m, size_t i, cr_model_head *h);
} cr_layer_state;

struct cr_model {
    cr_model_options opts;
    cr_graph *g;
    int in_rank;
    size_t in_shape[CR_MAX_RANK];
    size_t n_layers;
    cr_layer_state *layers;
    cr_node **params;
    size_t n_params, cap_params;
    cr_model_head *head; /* the nodes, built for opts.batch rows and run on
                            head->rows of them (cr_graph_set_rows) */
    int grads_built;     /* the gradient nodes exist (built at the full batch) */
    size_t active_rows;  /* rows of the next forward (cr_model_set_rows) */
    double *mean, *std;  /* input statistics, or NULL */
    unsigned char vocab[256];
    size_t n_vocab;
    /* while the first head is built: the generator drawing the weights, or
     * the saved values taken in order (load) */
    gsl_rng *rng;
    const double *load;
};

/* A layer builder: makes layer i's nodes on input `in` (its batch axis
 * first) and sets *out, checking the spec's fields for the kind; the first
 * time (m->head == NULL) it creates the layer's parameters with
 * cr_model_param, later it gets the same ones back from it. Errors: a
 * status with the message in err (the caller prefixes "layer 3 (conv2d)"),
 * graph errors included (cr_model_graph_error). */
typedef cr_status (*cr_layer_build_fn)(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                       cr_error *err);

#define CR_LAYER_BUILD_DECL_(E, name, num)                                                 \
    cr_status cr_layer_build_##name(cr_model *m, size_t i, cr_node *in, cr_node **out,     \
                                    cr_error *err);
CR_LAYER_LIST(CR_LAYER_BUILD_DECL_)
#undef CR_LAYER_BUILD_DECL_

/* Initialisation "a constant": cr_model_param fills with its a. */
#define CR_INIT_CONST CR_INIT_COUNT

/* Parameter j of layer i, named "L<i+1>.<what>": created while the first
 * head is built (values loaded, or drawn by init from fan_in and fan_out;
 * a and b as cr_param_init's; CR_INIT_CONST fills with a), found again
 * afterwards. NULL with err set. */
cr_node *cr_model_param(cr_model *m, size_t i, size_t j, const char *what, int rank,
                        const size_t *shape, cr_init_kind init, size_t fan_in,
                        size_t fan_out, double a, double b, cr_error *err);

/* The graph's last error into err (status returned). */
cr_status cr_model_graph_error(cr_model *m, cr_error *err);

/* The model's nodes (borrowed), built on first use for opts.batch rows,
 * set to run rows rows (1..opts.batch: cr_graph_set_rows; the gradient
 * nodes are built at the full batch before the first smaller one). NULL
 * with err set. */
cr_model_head *cr_model_head_get(cr_model *m, size_t rows, cr_error *err);

/* Copies rows as cr_mlp_batch_nodes_load does, into h's input (standardised
 * when statistics are set) and targets (y may be NULL). */
void cr_model_head_load(cr_model *m, cr_model_head *h, const cr_mlp_rows *x,
                        const double *y, const size_t *idx, size_t first, size_t count);

/* The head's loss per row, and its correct predictions (per position for
 * sequences; confusion K x K may be NULL). Positions per row: *positions. */
double cr_model_head_loss_per_row(const cr_model *m, const cr_model_head *h);
size_t cr_model_head_correct(const cr_model *m, const cr_model_head *h, size_t *confusion);
size_t cr_model_positions(const cr_model *m);

/* The learner of a model (model_train.c). */
void cr_model_learner(cr_model *m, cr_learner *l);

/* Builds a model around checked arguments; params (cr_model_num_weights
 * values, in parameter order) replaces the drawing when not NULL. */
cr_model *cr_model_build(const cr_layer_spec *layers, size_t n_layers, int in_rank,
                         const size_t *in_shape, const cr_model_options *opts,
                         const double *params, cr_error *err);

#endif
