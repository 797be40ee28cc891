/*
 * nn_internal.h - what nn.c (the MLP builder, predict, evaluate), train.c
 * (the training loop) and model_io.c (model files) share: the model
 * struct, its batch nodes (cr_mlp_batch_nodes) and the row loader.
 */
#ifndef CR_NN_INTERNAL_H
#define CR_NN_INTERNAL_H

#include "core/internal.h"
#include "chainrule/nn.h"

#define CR_MLP_MAX_LAYERS (CR_MLP_MAX_HIDDEN + 1)
#define CR_MLP_EVAL_CHUNK 256

/* The nodes computing a batch (rows: the rows they run now, up to the graph's
 * cr_graph_max_rows: x and t are its batch leaves). s[l] and a[l] are layer l+1's sum of
 * products and activation (a[L-1] == out; for a linear layer a[l] == s[l]).
 * score is the node accuracy is read from, on the loss's path: out, or the
 * logits s[L-1] when the loss is fused with the output activation;
 * threshold is the binary decision point of score (0.5 or 0). */
typedef struct cr_mlp_batch_nodes {
    size_t rows;
    cr_node *x, *t;
    cr_node *s[CR_MLP_MAX_LAYERS], *a[CR_MLP_MAX_LAYERS];
    cr_node *out, *loss, *score;
    double threshold;
} cr_mlp_batch_nodes;

struct cr_mlp {
    cr_mlp_spec spec;
    cr_graph *g;
    size_t n_layers;
    cr_node *W[CR_MLP_MAX_LAYERS], *b[CR_MLP_MAX_LAYERS];
    cr_mlp_batch_nodes *head; /* the batch nodes, or NULL before the first use */
    int grads_built;          /* head's gradient nodes are made (at full batch) */
    double *mean, *std;       /* input statistics, or NULL */
};

/* The batch nodes, set to run this many rows (borrowed). They are built on
 * first use for max(rows, CR_MLP_EVAL_CHUNK) rows, and built again for rows
 * when more rows are asked for (the old ones stay in the graph, unused);
 * smaller batches shrink them (cr_graph_set_rows), allocating nothing once
 * the gradient nodes are made. NULL with the error in err on failure (the
 * nodes that ran before still do). */
cr_mlp_batch_nodes *cr_mlp_batch_nodes_get(cr_mlp *m, size_t rows, cr_error *err);

/* The graph's error in err (CR_ENOMEM if the graph has none); its status. */
cr_status cr_mlp_graph_error(cr_mlp *m, cr_error *err);

/* Builds (or runs) the gradient nodes of loss for the graph's current set
 * of wanted gradients at the full batch, since cr_graph_set_rows wants
 * every node made there, then returns to the batch the graph ran. A
 * backward without a forward evaluates only gradient nodes: nothing a
 * forward keeps (batch norm's statistics, dropout's masks) changes; the
 * gradients are overwritten by the next backward. For graphs without batch
 * leaves (rows 0) it is a plain backward. A graph error status. */
cr_status cr_nn_build_grads(cr_graph *g, cr_node *loss);

/* Input rows: doubles (f64), or bytes (u8) that become (double)byte *
 * scale as they are loaded: the very doubles cr_idx_read makes of them. */
typedef struct cr_mlp_rows {
    const double *f64;
    const unsigned char *u8;
    double scale;
} cr_mlp_rows;

/* Copies count <= cap_rows rows idx[first..first+count-1] (or
 * first..first+count-1 when idx is NULL) of x (ni values a row,
 * standardised with mean and std when mean is not NULL) into dx and of y
 * (no values a row, when not NULL) into dt; rows count..cap_rows-1 of both
 * are zeroed. Allocates nothing. */
void cr_nn_load_rows(const cr_mlp_rows *x, const double *y, const size_t *idx, size_t first,
                     size_t count, size_t ni, size_t no, const double *mean,
                     const double *std, double *dx, double *dt, size_t cap_rows);

/* The class of one output row of n values: the index of the largest, or
 * row[0] >= threshold for one unit. */
size_t cr_nn_row_class(const double *row, size_t n, double threshold);

/* Copies count <= h->rows rows idx[first..first+count-1] (or
 * first..first+count-1 when idx is NULL) of x (standardised when stats are
 * set) and of y (when not NULL) into the batch nodes' input and target nodes;
 * input rows past count are zeroed. Allocates nothing. */
void cr_mlp_batch_nodes_load(cr_mlp *m, cr_mlp_batch_nodes *h, const cr_mlp_rows *x,
                             const double *y, const size_t *idx, size_t first,
                             size_t count);

/* The batch nodes' loss per row: the loss value divided by rows for sq_error
 * (which sums over the batch), the value itself for the mean losses. */
double cr_mlp_batch_nodes_loss_per_row(const cr_mlp *m, const cr_mlp_batch_nodes *h);

/* Counts the batch nodes' rows whose predicted class (from score) matches the
 * target; when confusion is not NULL, adds each row to it (K x K). */
size_t cr_mlp_batch_nodes_correct(const cr_mlp *m, const cr_mlp_batch_nodes *h,
                                  size_t *confusion);

/* Whether a is softmax or log_softmax (an output-only activation). */
int cr_activation_is_softmax(cr_activation a);

/* The node of activation a on s (s itself for linear); alpha is leaky_relu's
 * slope or elu's alpha (cr_activation_default_alpha gives the ops'
 * defaults). NULL with the error in g. */
cr_node *cr_nn_activate(cr_graph *g, cr_activation a, double alpha, cr_node *s);
double cr_activation_default_alpha(cr_activation a);

/* Checks input statistics (n values each; std may be NULL): CR_EDOMAIN for
 * a mean that is not finite or a std that is negative or subnormal. */
cr_status cr_nn_check_stats(const double *mean, const double *std, size_t n, cr_error *err);
/* Copies checked statistics, a std of 0 or not finite (or none) becoming 1. */
void cr_nn_copy_stats(const double *mean, const double *std, size_t n, double *to_mean,
                      double *to_std);

/* CR_EDOMAIN naming the first of rows output rows (numbered from first + 1)
 * that holds a NaN or an infinity, or CR_OK. */
cr_status cr_nn_check_outputs(const char *what, const double *out, size_t first,
                              size_t rows, size_t n_outputs, cr_error *err);

/* CR_EINVAL when x or out is NULL or rows is 0 (what names the call). */
cr_status cr_nn_check_data(const char *what, const void *x, const void *out, size_t rows,
                           cr_error *err);

/* ---- what training and evaluation need from a network ----
 *
 * The training loop (train.c) and evaluation (cr_learner_eval_rows) run on
 * any network through this table: an MLP (cr_mlp_learner) or a model
 * (cr_model_learner, model_train.c). A "batch" is the network's nodes set to
 * run a batch size (cr_mlp_batch_nodes, cr_model_head): one graph serves
 * every size up to the one it was built for (cr_graph_set_rows). */
typedef struct cr_learner {
    void *net;
    cr_graph *g;
    size_t n_classes;  /* 0 for a regressor */
    size_t n_outputs;  /* values in an output row */
    size_t positions;  /* classified positions in an output row */
    size_t eval_chunk; /* rows per evaluation and prediction batch */
    size_t max_batch;  /* largest training batch; 0: no limit */
    size_t n_weights;  /* trainable scalars */
    void *(*batch)(void *net, size_t rows, cr_error *err);
    void (*load)(void *net, void *b, const cr_mlp_rows *x, const double *y,
                 const size_t *idx, size_t first, size_t count);
    cr_node *(*loss)(const void *b);
    cr_node *(*output)(const void *b);
    double (*loss_per_row)(const void *net, const void *b);
    size_t (*correct)(const void *net, const void *b, size_t *confusion);
    /* debug training: is param a parameter the network can debug (CR_OK or
     * CR_EINVAL); ask batch b's nodes on the chain for their gradients
     * (CR_OK, or an error in err: the requests are withdrawn); fill the
     * record from the last backward of b */
    cr_status (*debug_check)(void *net, const char *param);
    cr_status (*debug_request)(void *net, void *b, const char *param, cr_error *err);
    void (*debug_record)(void *net, void *b, const char *param, cr_train_debug *d);
    /* after backward, before the optimizer's step (NULL: nothing) */
    void (*before_step)(void *net);
    /* carry: batches are consecutive windows of a sequence whose state the
     * network carries between steps (cr_model_options.carry_state);
     * reset_state zeros it (NULL: nothing), at each epoch's start and
     * before evaluation and prediction */
    int carry;
    void (*reset_state)(void *net);
} cr_learner;

/* The learner of an MLP. */
void cr_mlp_learner(cr_mlp *m, cr_learner *l);

/* Evaluation over rows idx[0..rows-1] (all rows in order when idx is NULL)
 * in evaluation mode (the mode is restored after): as cr_mlp_evaluate. */
cr_status cr_learner_eval_rows(const cr_learner *l, const cr_mlp_rows *x, const double *y,
                               const size_t *idx, size_t rows, cr_eval_result *res,
                               cr_error *err);

/* cr_mlp_predict on a learner, in evaluation mode (restored after). */
cr_status cr_learner_predict(const cr_learner *l, const double *x, size_t rows, double *out,
                             cr_error *err);

/* The training loop of cr_mlp_train on a learner. */
cr_status cr_learner_train(const cr_learner *l, const cr_mlp_rows *x, const double *y,
                           size_t rows, const cr_train_options *o, cr_train_stats *stats,
                           cr_error *err);

/* Debug helpers shared by the learners: a link from a node's gradient g
 * (norm and first element; NULL: 0 and NaN), and the chain API's text of
 * d(loss)/d(param) through the named nodes, in a new string (cr_free), or
 * NULL if it cannot be made. */
void cr_train_link_set(cr_train_link *l, const char *label, const cr_tensor *g);
char *cr_train_chain_text(cr_graph *g, cr_node *loss, cr_node *param);

/* Builds an MLP around an already-checked spec, taking the parameter
 * values from params (cr_mlp_num_weights values in the order W1, b1, W2,
 * b2, ...) instead of drawing them when params is not NULL. */
cr_mlp *cr_mlp_build(const cr_mlp_spec *spec, const double *params, cr_error *err);

#endif
