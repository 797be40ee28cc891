/*
 * nn_internal.h - what nn.c (the MLP builder, predict, evaluate), train.c
 * (the training loop) and model_io.c (model files) share: the model
 * struct, its per-batch-size nodes (cr_mlp_batch_nodes) and the row loader.
 */
#ifndef CR_NN_INTERNAL_H
#define CR_NN_INTERNAL_H

#include "core/internal.h"
#include "chainrule/nn.h"

#define CR_MLP_MAX_LAYERS (CR_MLP_MAX_HIDDEN + 1)
#define CR_MLP_EVAL_CHUNK 256

/* The nodes computing one batch size. s[l] and a[l] are layer l+1's sum of
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
    cr_mlp_batch_nodes **batch_nodes;
    size_t n_batch_nodes, cap_batch_nodes;
    double *mean, *std; /* input statistics, or NULL */
};

/* The nodes for this many rows, built on first use (borrowed). NULL with
 * the error in err on failure (the graph is left as before). */
cr_mlp_batch_nodes *cr_mlp_batch_nodes_get(cr_mlp *m, size_t rows, cr_error *err);

/* Input rows: doubles (f64), or bytes (u8) that become (double)byte *
 * scale as they are loaded: the very doubles cr_idx_read makes of them. */
typedef struct cr_mlp_rows {
    const double *f64;
    const unsigned char *u8;
    double scale;
} cr_mlp_rows;

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

/* cr_mlp_evaluate over rows idx[0..rows-1] (all rows in order when idx is
 * NULL). */
cr_status cr_mlp_eval_rows(cr_mlp *m, const cr_mlp_rows *x, const double *y,
                           const size_t *idx, size_t rows, cr_eval_result *res,
                           cr_error *err);

/* Builds an MLP around an already-checked spec, taking the parameter
 * values from params (cr_mlp_num_weights values in the order W1, b1, W2,
 * b2, ...) instead of drawing them when params is not NULL. */
cr_mlp *cr_mlp_build(const cr_mlp_spec *spec, const double *params, cr_error *err);

#endif
