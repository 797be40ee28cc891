/*
 * chainrule/model.h - the model builder: a network given as a list of
 * layers (dense, convolution, pooling, flatten, dropout, normalisation,
 * embedding, activations, recurrent layers), built into one cr_graph with
 * seeded weights, with forward, prediction, evaluation, training (the
 * training loop of chainrule/nn.h), per-layer gradient norms and model
 * files.
 *
 * A model is built from an input shape (one sample, without the batch
 * axis: [features], [channels, length], [channels, height, width], or
 * [steps] of indices for an embedding) and a list of cr_layer_spec, each
 * filled with cr_layer_spec_init and then changed. Layer i (0-based)
 * takes the output of layer i-1 (of the input for i = 0) and its
 * parameters are named "L<i+1>.<what>" ("L1.W", "L1.b", "L3.gamma"...), so
 * cr_graph_find(cr_model_graph(m), "L1.W") finds them. Layer outputs are
 * named "L<i+1>" (the input "x", the targets "y", the loss "loss").
 *
 * Batches: the graph is built once, for `batch` rows (cr_model_options);
 * a smaller batch (the last one of an epoch, the tail of an evaluation)
 * runs on the same nodes with fewer active rows (docs/design.md, "Active
 * rows"), so no part of the model is copied per batch size. Rows are
 * copied straight into the input node's tensor (cr_model_input).
 *
 * Ownership: cr_model_new and cr_model_load return a new model freed with
 * cr_model_free; the graph, nodes and specs it returns are borrowed and
 * live as long as the model.
 */
#ifndef CHAINRULE_MODEL_H
#define CHAINRULE_MODEL_H

#include "chainrule/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* THE list of layer kinds: X(ENUM, name, number). The number is stored in
 * model files and never changes; the name is the one cr_layer_kind_name
 * gives and cr_layer_kind_parse reads. The library's table of builders is
 * generated from this list (src/nn/model_internal.h). */
#define CR_LAYER_LIST(X)                                                                   \
    X(DENSE, dense, 0)            /* y = x W + b on the last axis; W [in, units] */        \
    X(CONV1D, conv1d, 1)          /* [C,L] -> [units,L']; W [units,C,k], b [units] */      \
    X(CONV2D, conv2d, 2)          /* [C,H,W] -> [units,H',W']; W [units,C,kh,kw] */        \
    X(MAXPOOL1D, maxpool1d, 3)    /* [C,L] -> [C,L'] */                                    \
    X(AVGPOOL1D, avgpool1d, 4)    /* [C,L] -> [C,L'] */                                    \
    X(MAXPOOL2D, maxpool2d, 5)    /* [C,H,W] -> [C,H',W'] */                               \
    X(AVGPOOL2D, avgpool2d, 6)    /* [C,H,W] -> [C,H',W'] */                               \
    X(FLATTEN, flatten, 7)        /* any shape -> [size] */                                \
    X(DROPOUT, dropout, 8)        /* y = x * mask / (1-p) in training, x in evaluation */  \
    X(LAYERNORM, layernorm, 9)    /* over the sample's last axis; gamma, beta [last] */    \
    X(BATCHNORM, batchnorm, 10)   /* per channel (axis 0 of the sample); gamma, beta */    \
    X(EMBED, embed, 11)           /* indices [T] or [] -> [T,units]; E [vocab, units] */   \
    X(ACTIVATION, activation, 12) /* y = act(x), elementwise (softmax: last axis) */       \
    X(RNN, rnn, 13)               /* [T,F] -> [units] or [T,units]; tanh cell */           \
    X(GRU, gru, 14)               /* [T,F] -> [units] or [T,units] */                      \
    X(LSTM, lstm, 15)             /* [T,F] -> [units] or [T,units] */

typedef enum cr_layer_kind {
#define CR_LAYER_ENUM_(E, name, num) CR_LAYER_##E = num,
    CR_LAYER_LIST(CR_LAYER_ENUM_)
#undef CR_LAYER_ENUM_
        CR_LAYER_COUNT /* how many there are (not a kind) */
} cr_layer_kind;

/* The most layers a model may have. */
#define CR_MODEL_MAX_LAYERS 64

/* One layer. Fill it with cr_layer_spec_init(spec, kind), then change the
 * fields that apply to the kind; the others are ignored (and saved as they
 * are). "Windows" below: 1-D kinds use index 0 of kernel, stride and pad;
 * 2-D kinds use [0] for height and [1] for width. */
typedef struct cr_layer_spec {
    cr_layer_kind kind;
    size_t units;          /* dense: output width; conv: output channels; embed:
                              vector size; rnn/gru/lstm: state size. >= 1 */
    size_t kernel[2];      /* conv and pooling: window size, >= 1 */
    size_t stride[2];      /* conv: default 1; pooling: 0 (default) = the kernel */
    size_t pad[2];         /* conv and pooling: zeros on each side; default 0
                              (pooling: at most half the kernel) */
    size_t vocab;          /* embed: number of indices (inputs are 0..vocab-1) */
    cr_activation act;     /* activation: which one (any cr_activation) */
    double alpha;          /* activation: leaky_relu's slope or elu's alpha;
                              0 (default): CR_LEAKY_RELU_SLOPE, CR_ELU_ALPHA */
    double rate;           /* dropout: probability p of dropping, [0, 1) */
    double eps;            /* layernorm, batchnorm: default CR_NORM_EPS */
    double momentum;       /* batchnorm: running statistics' update rate,
                              default CR_BATCH_NORM_MOMENTUM */
    int bias;              /* dense, conv, rnn/gru/lstm: 1 (default) adds a bias */
    cr_init_kind init;     /* weights of dense, conv, embed and the input weights
                              of recurrent layers: default Xavier (use He before
                              relu); drawn from the model's seed */
    double init_a, init_b; /* CR_INIT_UNIFORM: U(a, b); CR_INIT_NORMAL:
                              N(a, b^2); default 0 and 1 */
    int sequences;         /* rnn/gru/lstm: 0 (default) outputs the last state
                              [units], 1 the state of every step [T, units] */
    size_t bptt;           /* rnn/gru/lstm: truncated backpropagation through
                              time inside the window: N cuts it into chunks of
                              N steps whose gradients stay inside them (the
                              state goes through cr_detach between chunks;
                              values unchanged); 0 (default) = the whole
                              window (cr_rnn_params.bptt) */
    double clip;           /* any layer with parameters: > 0 scales the layer's
                              parameter gradients to an L2 norm of at most clip
                              before each training step; 0 (default) = off */
} cr_layer_spec;

/* Fills spec with kind and the defaults above (units 1, kernel 1, stride 0
 * for pooling and 1 otherwise, bias 1, act relu, rate 0.5...). Does
 * nothing for a NULL spec. */
CR_API void cr_layer_spec_init(cr_layer_spec *spec, cr_layer_kind kind);

/* The kind's name ("dense", "conv2d", "lstm"...; "?" for an unknown kind,
 * static) and the reverse: CR_OK with *out set (out may be NULL), or
 * CR_EINVAL (also for a NULL name) with the accepted names in err. */
CR_API const char *cr_layer_kind_name(cr_layer_kind kind);
CR_API cr_status cr_layer_kind_parse(const char *name, cr_layer_kind *out, cr_error *err);

/* Writes one layer as text into buf, like snprintf (buf may be NULL: only
 * the length is wanted), e.g. "conv2d:32,3x3,stride=1,pad=1" or "relu":
 * the form docs/nn.md shows. -1 (and "") for a NULL spec. */
CR_API int cr_layer_spec_format(const cr_layer_spec *spec, char *buf, size_t size);

/* How a model is built, besides its layers. Fill with
 * cr_model_options_init, then change fields. */
typedef struct cr_model_options {
    cr_loss_kind loss;  /* default xent. bce and xent work on logits: when
                           the last layer is a sigmoid (bce) or softmax (xent)
                           activation the loss is fused with it, otherwise the
                           last layer's output is taken as the logits.
                           xent_index reads one class number per position. */
    size_t batch;       /* rows the graph is built for: the largest batch
                           of training, and the chunk of prediction and
                           evaluation; default 32 */
    unsigned long seed; /* weights, dropout masks; default 1 */
    int carry_state;    /* 1: truncated backpropagation through time across
                           windows: each recurrent layer starts a training
                           step from the state its previous step ended with
                           (rows of the batch read consecutive windows, see
                           cr_model_train), carried as data, so no gradient
                           crosses windows; 0 (default): every window starts
                           from zeros. Not saved in model files. */
} cr_model_options;

/* Fills o with the defaults above. Does nothing for a NULL o. */
CR_API void cr_model_options_init(cr_model_options *o);

typedef struct cr_model cr_model;

/* Builds a model of n_layers layers (the specs are copied) on inputs of
 * shape in_shape[0..in_rank-1] (in_rank 1 to 3; one sample, no batch axis),
 * with weights drawn from opts->seed (same seed, same weights); opts may be
 * NULL (the defaults). Returns a new model (cr_model_free), or NULL with
 * err set: CR_EINVAL for a bad field or a bad number of layers (the message
 * names the layer: "layer 3 (conv2d): ..."), CR_ESHAPE when a layer does
 * not fit its input's shape (same naming), CR_ENOTSUP for a kind this
 * build cannot make, CR_ENOMEM. */
CR_API cr_model *cr_model_new(const cr_layer_spec *layers, size_t n_layers, int in_rank,
                              const size_t *in_shape, const cr_model_options *opts,
                              cr_error *err);

/* Builds the MLP of an MLP spec (cr_mlp_spec) as a model: dense layers with
 * the spec's activations, widths, loss, initialisation and seed. The same
 * seed gives the same weights as cr_mlp_new. opts (may be NULL) gives only
 * the batch. NULL with err set as cr_model_new. */
CR_API cr_model *cr_model_from_mlp(const cr_mlp_spec *spec, const cr_model_options *opts,
                                   cr_error *err);

/* Frees the model and everything it owns. NULL is accepted. */
CR_API void cr_model_free(cr_model *m);

/* The graph (borrowed); NULL for a NULL m. */
CR_API cr_graph *cr_model_graph(cr_model *m);

/* The options the model was built with (borrowed); NULL for a NULL m. */
CR_API const cr_model_options *cr_model_get_options(const cr_model *m);

/* Number of layers; 0 for a NULL m. */
CR_API size_t cr_model_num_layers(const cr_model *m);

/* Layer i's spec (borrowed, 0-based); NULL out of range or for a NULL m. */
CR_API const cr_layer_spec *cr_model_layer(const cr_model *m, size_t i);

/* The shape of one sample after layer i (0-based; i == (size_t)-1: the
 * input shape) into shape[0..rank-1] (shape may be NULL: only the rank is
 * wanted; it needs room for CR_MAX_RANK values). Returns the rank, or -1
 * out of range or for a NULL m. */
CR_API int cr_model_layer_shape(const cr_model *m, size_t i, size_t *shape);

/* Layer i's output node (borrowed; its leading axis is the batch); NULL
 * out of range or for a NULL m. */
CR_API cr_node *cr_model_layer_output(const cr_model *m, size_t i);

/* Number of parameter nodes of layer i (0 for a layer without parameters,
 * out of range, or a NULL m), and parameter j of it (borrowed; NULL out of
 * range). Order: weights before biases ("L1.W", "L1.b"). */
CR_API size_t cr_model_layer_num_params(const cr_model *m, size_t i);
CR_API cr_node *cr_model_layer_param(const cr_model *m, size_t i, size_t j);

/* Total number of trainable scalars; 0 for a NULL m. */
CR_API size_t cr_model_num_weights(const cr_model *m);

/* Values in one input row (the input shape's size), output row and target
 * row (the output row's size; xent_index: the output's positions, its size
 * without the class axis); 0 for a NULL m. */
CR_API size_t cr_model_input_size(const cr_model *m);
CR_API size_t cr_model_output_size(const cr_model *m);
CR_API size_t cr_model_target_size(const cr_model *m);

/* The rows the graph was built for (cr_model_options.batch); 0 for NULL. */
CR_API size_t cr_model_batch(const cr_model *m);

/* As cr_mlp_num_classes: the number of classes of a classifier (a softmax
 * or xent output with K >= 2 classes: K; a single sigmoid or bce unit: 2),
 * 0 for a regressor or a NULL m. */
CR_API size_t cr_model_num_classes(const cr_model *m);

/* The input node [batch, input shape...], target node and output node (the
 * last layer's) and the loss node (borrowed; NULL for a NULL m). Filling
 * cr_tensor_data_mut(cr_node_value(...)) of the input's first rows and
 * calling cr_model_set_rows is the copy-free way to run a batch. */
CR_API cr_node *cr_model_input(const cr_model *m);
CR_API cr_node *cr_model_target(const cr_model *m);
CR_API cr_node *cr_model_output(const cr_model *m);
CR_API cr_node *cr_model_loss(const cr_model *m);

/* Makes the next forward and backward of the nodes above work on the
 * first rows rows of the input (1..batch): the graph's batch shrinks
 * (cr_graph_set_rows; the nodes above keep their identity, their leading
 * axis becomes rows, nothing is allocated). Call it before running them
 * yourself after training, prediction or evaluation, which leave the last
 * batch size they ran. CR_EINVAL out of range; a graph error (CR_ENOMEM)
 * otherwise, with err set. */
CR_API cr_status cr_model_set_rows(cr_model *m, size_t rows, cr_error *err);

/* Sets the carried states of a model built with carry_state to zeros (the
 * start of a text); training does it at the start of every epoch, and
 * prediction and evaluation run from zeros. Nothing happens for a NULL m
 * or a model without carried state. */
CR_API void cr_model_reset_state(cr_model *m);

/* Training mode (dropout on, batch norm on batch statistics, the default)
 * or evaluation mode (on = 0); see cr_graph_set_training. predict and
 * evaluate always run in evaluation mode and restore the mode after.
 * Nothing happens for a NULL m. */
CR_API void cr_model_set_training(cr_model *m, int on);

/* Input statistics, as cr_mlp_set_input_stats (input_size values each). */
CR_API cr_status cr_model_set_input_stats(cr_model *m, const double *mean,
                                          const double *std, cr_error *err);

/* The stored statistics (borrowed, input_size values), or NULL if unset
 * (or m is NULL). */
CR_API const double *cr_model_input_mean(const cr_model *m);
CR_API const double *cr_model_input_std(const cr_model *m);

/* A symbol table saved with the model (the vocabulary of a text model:
 * index i stands for byte symbols[i]); copied; n == 0 removes it. CR_OK,
 * CR_EINVAL (NULL m, or NULL symbols with n > 0, or n > 256), CR_ENOMEM.
 * cr_model_vocab gives it (borrowed) and its length in *n (n may be NULL),
 * or NULL when there is none. */
CR_API cr_status cr_model_set_vocab(cr_model *m, const unsigned char *symbols, size_t n,
                                    cr_error *err);
CR_API const unsigned char *cr_model_vocab(const cr_model *m, size_t *n);

/* Predicts rows rows of x (rows * input_size values) into out (rows *
 * output_size values, caller-allocated), in chunks of the model's batch,
 * in evaluation mode. Errors as cr_mlp_predict. */
CR_API cr_status cr_model_predict(cr_model *m, const double *x, size_t rows, double *out,
                                  cr_error *err);

/* Evaluates the loss (per row) and, for classifiers, accuracy and
 * confusion (per position for sequence outputs) on rows rows of x and
 * targets y (rows * target_size values), in evaluation mode. As
 * cr_mlp_evaluate. */
CR_API cr_status cr_model_evaluate(cr_model *m, const double *x, const double *y,
                                   size_t rows, cr_eval_result *res, cr_error *err);

/* Trains the model: the training loop of cr_mlp_train (options,
 * statistics, early stopping, callbacks, debug records with one gradient
 * norm per layer with parameters: at most CR_MLP_MAX_HIDDEN + 1 are kept)
 * with o->batch at most the model's batch (CR_EINVAL otherwise). Dropout
 * and batch norm run in training mode during the steps and evaluation mode
 * for the validation and final figures. Errors as cr_mlp_train.
 *
 * With carry_state, rows are consecutive windows of one sequence (row
 * i + 1 continuing row i, as cr_text_windows with stride 0 makes them):
 * of the n training rows (the first ones; a validation split holds out
 * the last rows, unshuffled), K = n / B rows for a batch of B are used,
 * batch row r of step k reading row r K + k, so that each batch row walks
 * through its own stretch of the sequence; the state is reset to zeros at
 * every epoch's start. It needs o->batch equal to the model's batch, at
 * least that many training rows, and o->shuffle 0 (CR_EINVAL otherwise). */
CR_API cr_status cr_model_train(cr_model *m, const double *x, const double *y, size_t rows,
                                const cr_train_options *o, cr_train_stats *stats,
                                cr_error *err);

/* cr_model_train on rows of bytes scaled by scale, as cr_mlp_train_bytes. */
CR_API cr_status cr_model_train_bytes(cr_model *m, const unsigned char *x, double scale,
                                      const double *y, size_t rows,
                                      const cr_train_options *o, cr_train_stats *stats,
                                      cr_error *err);

/* The L2 norm of the gradient of each layer's parameters after the last
 * backward, into norms[0..n-1] (layer i's; 0 for a layer without
 * parameters or before any backward). CR_EINVAL for NULL pointers or n
 * other than the number of layers. */
CR_API cr_status cr_model_grad_norms(const cr_model *m, double *norms, size_t n,
                                     cr_error *err);

/* Saves the model (layers, input shape, options, parameters, batch norm
 * running statistics, input statistics, vocabulary) to path, atomically,
 * in the CRC-checked format of docs/model-format.md (version 2). CR_OK,
 * or CR_EINVAL / CR_EIO / CR_ENOMEM with err set. */
CR_API cr_status cr_model_save(const cr_model *m, const char *path, cr_error *err);

/* Loads a model saved by cr_model_save, or an MLP file of format version 1
 * (cr_mlp_save: it becomes cr_model_from_mlp's model). A new model, or NULL
 * with err set: CR_ENOTFOUND, CR_EIO, CR_EFORMAT (bad magic, version, CRC,
 * or a field out of range: the message says which layer and field),
 * CR_ENOMEM. */
CR_API cr_model *cr_model_load(const char *path, cr_error *err);

/* ---- layers as text ---- */

/* Reads a layer list written as text, the SPEC of `chainrule train
 * --layers` (grammar in docs/nn.md, "Layers as text"): layers separated by
 * white space, each NAME or NAME:ARG,ARG,...; e.g. "conv2d:32,3x3,pad=1
 * relu maxpool:2 flatten dense:128 relu dropout:0.3 dense:10" or "embed:32
 * lstm:128 dense:V". vocab is the value of V (0: V is an error). A dense
 * or convolution layer feeding relu or leaky_relu (past any norm layer)
 * gets He initialisation unless init= says otherwise. Fills
 * layers[0..*n_layers) (at most max_layers) and, when offsets is not NULL,
 * offsets[i] = where layer i starts in text (0-based). Returns CR_OK, or
 * CR_EINVAL (also for NULL text, layers or n_layers; *n_layers is then 0)
 * with err's message naming the layer, its text and the column ("layer 2
 * 'conv2d:32,3y3' at column 17: kernel '3y3' is not N or HxW (3 or
 * 3x3)") and err->line and err->column set. Only the text is checked
 * here; values out of range are cr_model_new's errors. */
CR_API cr_status cr_model_spec_parse(const char *text, size_t vocab, cr_layer_spec *layers,
                                     size_t max_layers, size_t *n_layers, size_t *offsets,
                                     cr_error *err);

/* cr_model_spec_parse, then cr_model_new on its layers: a new model
 * (cr_model_free), or NULL with err set. An error of the builder about a
 * layer (a shape that does not fit, a value out of range) gets where the
 * layer is in the text in front ("'dense:10' at column 40: layer 6
 * (dense) ...") and in err->line and err->column. */
CR_API cr_model *cr_model_new_from_spec(const char *text, size_t vocab, int in_rank,
                                        const size_t *in_shape,
                                        const cr_model_options *opts, cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
