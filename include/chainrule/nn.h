/*
 * chainrule/nn.h - multilayer perceptrons built from the graph's ops: the
 * builder (architecture, activations, initialisation, loss), prediction,
 * evaluation (loss, accuracy, confusion matrix) and the training loop.
 *
 * An MLP is a cr_graph whose parameters are the layers' weights "W1",
 * "W2", ... ([fan_in, fan_out]) and biases "b1", "b2", ... ([fan_out]),
 * found with cr_graph_find(cr_mlp_graph(m), "W1"). Layer l computes
 * s_l = sop(a_{l-1}, W_l, b_l) = a_{l-1} W_l + b_l and a_l = act(s_l), with
 * a_0 the input rows [batch, n_inputs].
 *
 * Batches: one set of batch nodes (input "x", targets "y", layer values
 * "s1", "a1", ..., "sL", "aL", "loss") serves every batch size. It is built
 * at the first use for the larger of that batch and the evaluation chunk
 * of 256 rows; a smaller batch (the shorter last batch of an epoch, an
 * evaluation tail, a prediction) shrinks its leading axis
 * (cr_graph_set_rows, chainrule/graph.h), so after the first step a
 * training step allocates nothing at any size. Only a training batch
 * larger than any before builds the nodes again for it: the old ones stay
 * in the graph, unused, renamed "x@ROWS", ..., "loss@ROWS"; the parameter
 * nodes stay the same.
 *
 * Inputs are raw features: when input statistics are set
 * (cr_mlp_set_input_stats), every call standardises rows on the fly with
 * (x - mean) / std, and model files keep the statistics.
 *
 * Ownership: cr_mlp_new and cr_mlp_load return a new model freed with
 * cr_mlp_free; the graph and nodes it returns are borrowed.
 */
#ifndef CHAINRULE_NN_H
#define CHAINRULE_NN_H

#include "chainrule/graph.h"
#include "chainrule/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most hidden layers an MLP may have. */
#define CR_MLP_MAX_HIDDEN 16

/* Activation functions (numbers are stored in model files: never change). */
typedef enum cr_activation {
    CR_ACT_LINEAR = 0,       /* a = s */
    CR_ACT_SIGMOID = 1,      /* a = 1/(1+exp(-s)) */
    CR_ACT_TANH = 2,         /* a = tanh(s) */
    CR_ACT_RELU = 3,         /* a = max(s, 0) */
    CR_ACT_SOFTMAX = 4,      /* a = softmax(s) per row; output layer only */
    CR_ACT_LEAKY_RELU = 5,   /* a = s if s > 0 else slope*s (CR_LEAKY_RELU_SLOPE) */
    CR_ACT_ELU = 6,          /* a = s if s > 0 else alpha*(exp(s)-1) (CR_ELU_ALPHA) */
    CR_ACT_GELU = 7,         /* a = s*Phi(s) */
    CR_ACT_SILU = 8,         /* a = s*sigmoid(s) */
    CR_ACT_SOFTPLUS = 9,     /* a = log(1+exp(s)) */
    CR_ACT_LOG_SOFTMAX = 10, /* a = log softmax(s) per row; output layer only */
    CR_ACT_COUNT             /* how many there are (not an activation) */
} cr_activation;

/* Weight initialisation: cr_init_kind (chainrule/graph.h); an MLP's
 * biases start at 0, its fan_in and fan_out are a layer's input and output
 * widths, uniform draws from [init_lo, init_hi) and normal from
 * N(0, init_std^2). */

/* Losses, on the output a_L and the targets t (numbers stored in files). */
typedef enum cr_loss_kind {
    CR_LOSS_SQ_ERROR = 0,   /* 1/2 sum (t - a)^2: the article's, summed over the batch */
    CR_LOSS_MSE = 1,        /* mean (a - t)^2 over every element */
    CR_LOSS_BCE = 2,        /* binary cross-entropy; needs a sigmoid output, and is
                               computed stably from the logits (cr_bce_logits) */
    CR_LOSS_XENT = 3,       /* softmax cross-entropy; needs a softmax output, fused
                               with it on the logits (cr_softmax_xent) */
    CR_LOSS_XENT_INDEX = 4, /* the same with one class number per position as
                               the target (cr_cross_entropy); models only
                               (chainrule/model.h), not an MLP */
    CR_LOSS_COUNT           /* how many there are (not a loss) */
} cr_loss_kind;

/* The architecture and initialisation of an MLP. Fill it with
 * cr_mlp_spec_init, then change fields. */
typedef struct cr_mlp_spec {
    size_t n_inputs;                  /* width of an input row, >= 1 */
    size_t n_outputs;                 /* width of an output row, >= 1 */
    size_t n_hidden;                  /* hidden layers, 0..CR_MLP_MAX_HIDDEN */
    size_t hidden[CR_MLP_MAX_HIDDEN]; /* their widths, each >= 1 */
    cr_activation hidden_act;         /* any but (log_)softmax; default sigmoid */
    cr_activation out_act;            /* default sigmoid */
    cr_loss_kind loss;                /* default sq_error */
    int bias;                         /* 1: layers have biases b1..; 0: none */
    cr_init_kind init;                /* default Xavier */
    double init_lo, init_hi;          /* CR_INIT_UNIFORM range; default [0, 1) */
    double init_std;                  /* CR_INIT_NORMAL deviation; default 0.1 */
    unsigned long seed;               /* seeds the gsl_rng (mt19937); default 1 */
} cr_mlp_spec;

typedef struct cr_mlp cr_mlp;

/* Fills spec with n_inputs and n_outputs and the defaults above: no hidden
 * layers, sigmoid activations, sq_error, biases, Xavier, seed 1. Does
 * nothing for a NULL spec. */
CR_API void cr_mlp_spec_init(cr_mlp_spec *spec, size_t n_inputs, size_t n_outputs);

/* Checks a spec: widths, counts, enum values, the activation/loss pairing
 * (bce needs a sigmoid output, xent a softmax output with at least 2
 * classes; softmax only on the output). CR_OK, or CR_EINVAL with the
 * reason in err (may be NULL). */
CR_API cr_status cr_mlp_spec_check(const cr_mlp_spec *spec, cr_error *err);

/* Names of the enums ("sigmoid", "xavier", "sq_error", ...) as static
 * strings ("?" for an unknown value), and the reverse lookups: they set
 * *out (out may be NULL: the name is only checked) and return CR_OK, or
 * return CR_EINVAL (also for a NULL name) with the accepted names in err.
 * Loss names: sq_error, mse, bce, xent, xent_index. Activation names:
 * linear, sigmoid, tanh, relu, softmax, leaky_relu, elu, gelu, silu,
 * softplus, log_softmax. Init names: xavier (or glorot), he,
 * uniform, normal. */
CR_API const char *cr_activation_name(cr_activation a);
CR_API const char *cr_init_name(cr_init_kind k);
CR_API const char *cr_loss_name(cr_loss_kind k);
CR_API cr_status cr_activation_parse(const char *name, cr_activation *out, cr_error *err);
CR_API cr_status cr_init_parse(const char *name, cr_init_kind *out, cr_error *err);
CR_API cr_status cr_loss_parse(const char *name, cr_loss_kind *out, cr_error *err);

/* Writes the architecture of spec as text into buf, like snprintf (returns
 * the length it needs; buf may be NULL: only the length is wanted): the
 * widths, then the activations, loss and biases, e.g. "3-7-5-4-1
 * sigmoid/sigmoid sq_error bias". -1 (and "") for a NULL spec. */
CR_API int cr_mlp_spec_format(const cr_mlp_spec *spec, char *buf, size_t size);

/* Builds a new MLP from spec (copied), with weights drawn from a gsl_rng
 * seeded with spec->seed (same seed, same weights). Returns a new model
 * (free with cr_mlp_free), or NULL with err set: CR_EINVAL for a bad spec,
 * CR_ENOMEM. */
CR_API cr_mlp *cr_mlp_new(const cr_mlp_spec *spec, cr_error *err);

/* Frees the model, its graph and its statistics. NULL is accepted. */
CR_API void cr_mlp_free(cr_mlp *m);

/* The model's spec (borrowed); NULL for a NULL m. */
CR_API const cr_mlp_spec *cr_mlp_get_spec(const cr_mlp *m);

/* The graph holding the parameters and the batch nodes (borrowed, owned by m);
 * NULL for a NULL m. */
CR_API cr_graph *cr_mlp_graph(cr_mlp *m);

/* Number of layers with weights (n_hidden + 1); 0 for a NULL m. */
CR_API size_t cr_mlp_num_layers(const cr_mlp *m);

/* The weight and bias nodes of layer 1..num_layers (borrowed); NULL if the
 * layer is out of range, (bias) the model has no biases, or m is NULL. */
CR_API cr_node *cr_mlp_weight(const cr_mlp *m, size_t layer);
CR_API cr_node *cr_mlp_bias(const cr_mlp *m, size_t layer);

/* Total number of trainable scalars; 0 for a NULL m. */
CR_API size_t cr_mlp_num_weights(const cr_mlp *m);

/* Whether the model is a classifier: a softmax output with K >= 2 classes
 * (targets are one-hot rows), or a sigmoid output with one unit (targets
 * are 0/1, the predicted class is output >= 0.5). Returns the number of
 * classes (K, or 2), or 0 for a regressor (and for a NULL m). */
CR_API size_t cr_mlp_num_classes(const cr_mlp *m);

/* What cr_mlp_output_class returns for a row that stands for no class. */
#define CR_MLP_NO_CLASS ((size_t)-1)

/* The class a classifier's output row (n_outputs values, as cr_mlp_predict
 * writes them) stands for: the index of the largest value, or 1 if the
 * single sigmoid unit is >= 0.5. 0 for a regressor. CR_MLP_NO_CLASS if a
 * value of the row is NaN or infinite (or m or row is NULL): such a row has
 * no class, never class 0. */
CR_API size_t cr_mlp_output_class(const cr_mlp *m, const double *row);

/* Sets the per-feature input statistics (n_inputs values each, copied):
 * every later call standardises an input row as (x - mean) / std. A std
 * that is 0 or not finite is stored as 1 (a constant feature); a negative
 * or subnormal one is CR_EDOMAIN. mean == NULL removes them; a NULL m is
 * CR_EINVAL.
 * CR_OK, CR_EDOMAIN (a non-finite mean) or CR_ENOMEM, with err set. */
CR_API cr_status cr_mlp_set_input_stats(cr_mlp *m, const double *mean, const double *std,
                                        cr_error *err);

/* The stored statistics (borrowed, n_inputs values), or NULL if unset (or m
 * is NULL). */
CR_API const double *cr_mlp_input_mean(const cr_mlp *m);
CR_API const double *cr_mlp_input_std(const cr_mlp *m);

/* Predicts rows input rows x (rows * n_inputs values, row-major) into out
 * (rows * n_outputs values, caller-allocated): the activated output a_L.
 * Runs in chunks of up to 256 rows. CR_OK, or CR_EINVAL (NULL pointer or
 * rows == 0) / CR_ENOMEM with err set, or CR_EDOMAIN when a row's output is
 * NaN or infinite (the message names the row, numbered from 1; out is then
 * filled up to the chunk before it). Not read-only: it runs the model's
 * graph (and builds its batch nodes at the first use), so do not call it
 * on one model from several threads at once. */
CR_API cr_status cr_mlp_predict(cr_mlp *m, const double *x, size_t rows, double *out,
                                cr_error *err);

/* Classifiers with more classes than this get no confusion matrix (it
 * needs n_classes^2 counts: 65,536 classes would take 32 GiB). */
#define CR_EVAL_CONFUSION_MAX 1024

/* The result of an evaluation. For classifiers of at most
 * CR_EVAL_CONFUSION_MAX classes, confusion holds n_classes * n_classes
 * counts, row = true class, column = predicted class (new: free with
 * cr_eval_result_free); with more classes it is NULL (loss and accuracy
 * are still given). For regressors it is NULL, n_classes is 0 and
 * accuracy is NaN. */
typedef struct cr_eval_result {
    size_t rows;
    double loss;     /* the model's loss per row (sq_error: summed over a row) */
    double accuracy; /* fraction of rows classified correctly */
    size_t n_classes;
    size_t *confusion;
} cr_eval_result;

/* Evaluates the model on rows rows of x and targets y (rows * n_outputs
 * values; one-hot rows for a softmax classifier). Fills *res (its previous
 * contents are ignored; free it with cr_eval_result_free). CR_OK, or
 * CR_EINVAL / CR_ENOMEM with err set, or CR_EDOMAIN when a row's output
 * or the loss is NaN or infinite (the message names the row; no result is
 * given: *res is cleared). Like cr_mlp_predict, it runs the model's
 * graph. */
CR_API cr_status cr_mlp_evaluate(cr_mlp *m, const double *x, const double *y, size_t rows,
                                 cr_eval_result *res, cr_error *err);

/* Frees the confusion matrix of res and clears it. NULL is accepted. */
CR_API void cr_eval_result_free(cr_eval_result *res);

/* ---- training ---- */

/* Why training stopped (cr_train_stats.stop). */
typedef enum cr_train_stop {
    CR_STOP_EPOCHS = 0,      /* the epoch count was reached */
    CR_STOP_MAX_ITER = 1,    /* the iteration limit was reached */
    CR_STOP_TARGET_LOSS = 2, /* the epoch's training loss reached target_loss */
    CR_STOP_EARLY = 3,       /* patience ran out (early stopping) */
    CR_STOP_CALLBACK = 4,    /* a callback asked to stop */
    CR_STOP_COUNT            /* how many there are (not a reason) */
} cr_train_stop;

/* Static name of a stop reason ("epochs", "max_iter", "target_loss",
 * "early_stopping", "callback"). */
CR_API const char *cr_train_stop_name(cr_train_stop stop);

/* One factor of a derivative chain as recorded by debug training: the
 * gradient of the loss with respect to a node on the path from the loss to
 * the debugged parameter, given by its Frobenius norm and its first
 * element (for the article's batch-1 scalars, the chain value itself). */
typedef struct cr_train_link {
    char label[24]; /* "a3", "s3", ..., "W1" */
    double norm;
    double first;
} cr_train_link;

#define CR_TRAIN_MAX_LINKS (2 * (CR_MLP_MAX_HIDDEN + 1) + 1)

/* What debug training records at the end of each epoch, from the last
 * step's backward pass: the gradient norm ||dE/dW_l|| of every layer (the
 * vanishing and exploding gradients of deep sigmoid stacks show up here),
 * and the derivative chain of the debugged parameter: dE/da_L, dE/ds_L,
 * dE/da_{L-1}, ..., dE/ds_k, dE/dP for P = W_k or b_k. (When the loss is
 * fused with the output activation the chain starts at s_L.) chain_text is
 * the chain written by the chain API (cr_chain_format with the formulas,
 * chainrule/chain.h) as the article writes it, "dloss/dW1 = dloss/da3 *
 * da3/ds3 * ... = ...", then one line per local derivative, for the
 * epoch's last batch at the parameters the epoch ends with; NULL if it
 * could not be made (out of memory). It belongs to the stats
 * (cr_train_stats_free). */
typedef struct cr_train_debug {
    size_t epoch;
    size_t iteration;
    size_t n_layers;
    double layer_grad_norm[CR_MLP_MAX_HIDDEN + 1];
    size_t n_links;
    cr_train_link chain[CR_TRAIN_MAX_LINKS];
    char *chain_text;
} cr_train_debug;

/* Where training is, passed to the callbacks (borrowed, valid during the
 * call). Losses are per row (see cr_eval_result); accuracies are NaN for
 * regressors, validation figures NaN without validation rows or before the
 * epoch ends. */
typedef struct cr_train_progress {
    size_t epoch;     /* 1-based */
    size_t iteration; /* steps taken so far, this one included */
    size_t rows_done; /* training rows seen in this epoch */
    size_t train_rows;
    double batch_loss; /* the last step's loss (before its update) */
    double epoch_loss; /* mean of the epoch's batch losses so far */
    double epoch_accuracy;
    double val_loss, val_accuracy;
    double seconds;              /* since training started */
    const cr_train_debug *debug; /* on_epoch with debug on; else NULL */
} cr_train_progress;

/* A callback: return 0 to continue, non-zero to stop training. */
typedef int (*cr_train_callback)(const cr_train_progress *p, void *ctx);

/* Training options. Fill with cr_train_options_init, then change fields. */
typedef struct cr_train_options {
    size_t epochs;              /* passes over the training rows; default 10; 0 = no
                                   limit (max_iter must then be set) */
    size_t max_iter;            /* stop after this many steps; 0 = no limit */
    size_t batch;               /* rows per step, default 32 (capped at the rows) */
    int shuffle;                /* 1 (default): shuffle the rows every epoch */
    unsigned long seed;         /* shuffling and validation split; default 1 */
    double val_split;           /* fraction of rows held out, [0, 1); default 0 */
    size_t patience;            /* early stopping: stop after this many epochs
                                   without improvement (of the validation loss, or
                                   of the training loss without validation rows);
                                   0 (default) = off */
    double min_delta;           /* the improvement that counts; default 0 */
    int restore_best;           /* with patience: end with the best epoch's
                                   parameters; default 1 */
    double target_loss;         /* stop once an epoch's training loss <= this;
                                   default -1 (off) */
    cr_optim_options optim;     /* default cr_optim_defaults(CR_OPTIM_SGD) */
    cr_train_callback on_step;  /* after every step, or NULL */
    cr_train_callback on_epoch; /* after every epoch, or NULL */
    void *ctx;                  /* passed to the callbacks */
    int debug;                  /* 1: record a cr_train_debug per epoch */
    const char *debug_param;    /* its parameter ("W1", "b2"...); NULL: "W1" */
    int trap_nonfinite;         /* 1 (default): training runs with
                                   CR_GRAPH_TRAP_NONFINITE and stops at the first
                                   NaN or infinity of a forward value or gradient
                                   with CR_EDOMAIN, naming the node, its op, the
                                   element and its inputs; 0: off */
} cr_train_options;

/* Fills o with the defaults above. Does nothing for a NULL o. */
CR_API void cr_train_options_init(cr_train_options *o);

/* The result of cr_mlp_train. History arrays hold one entry per epoch
 * (the last one possibly partial), NaN where a figure does not apply; they
 * and debug (n_debug records) are new: free with cr_train_stats_free. */
typedef struct cr_train_stats {
    double seconds;    /* wall time (monotonic clock) */
    size_t iterations; /* steps taken */
    size_t epochs;     /* epochs begun */
    cr_train_stop stop;
    size_t train_rows, val_rows;
    size_t n_history;
    double *loss_history, *accuracy_history;
    double *val_loss_history, *val_accuracy_history;
    double train_loss, train_accuracy; /* of the final parameters, on the
                                          training rows */
    double val_loss, val_accuracy;     /* same on the validation rows */
    size_t best_epoch; /* with patience: the epoch whose parameters are kept */
    size_t n_debug;
    cr_train_debug *debug;
} cr_train_stats;

/* Trains m on rows rows of x (rows * n_inputs) and y (rows * n_outputs;
 * one-hot rows for a softmax classifier) with mini-batch gradient descent:
 * each step evaluates the loss of a batch (forward), its gradients
 * (cr_graph_backward) and updates the parameters (cr_optim_step). With
 * val_split, round(val_split * rows) rows, picked by a shuffle seeded with
 * seed, are held out and evaluated after every epoch. Steps after the
 * first allocate nothing, at any batch size. o may be NULL (defaults).
 * Fills *stats (may be NULL; free with cr_train_stats_free). Returns CR_OK,
 * or with err set: CR_EINVAL (bad options, no rows, no epoch or iteration
 * limit, an unknown debug parameter), CR_EDOMAIN (a value or gradient
 * became NaN or infinite: "epoch 3, step 41: s2 (op add) produced nan at
 * element 5; inputs: ..." with trap_nonfinite, else the message names the
 * parameter whose gradient is not finite), CR_ENOMEM. On error the
 * parameters are those of the last successful step. */
CR_API cr_status cr_mlp_train(cr_mlp *m, const double *x, const double *y, size_t rows,
                              const cr_train_options *o, cr_train_stats *stats,
                              cr_error *err);

/* cr_mlp_train on input rows kept as bytes: row r's value j is
 * (double)x[r * n_inputs + j] * scale (scale 1/255 gives the [0, 1] pixels
 * cr_idx_read makes with opts->scale, so the two train identically), made
 * as each batch is loaded; the rows take an eighth of the memory of
 * doubles (cr_idx_read_bytes reads them). Same ownership, statistics and
 * errors as cr_mlp_train, plus CR_EINVAL for a scale that is not finite. */
CR_API cr_status cr_mlp_train_bytes(cr_mlp *m, const unsigned char *x, double scale,
                                    const double *y, size_t rows, const cr_train_options *o,
                                    cr_train_stats *stats, cr_error *err);

/* Frees the arrays of stats and clears it. NULL is accepted. */
CR_API void cr_train_stats_free(cr_train_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
