/*
 * chainrule/recurrent.h - recurrent layers as graph builders: an Elman RNN
 * (tanh), a GRU and an LSTM, unrolled over a sequence whose length is
 * fixed when the graph is built, out of the graph's ordinary ops (sop,
 * sigmoid, tanh, mul, add, slice, stack), so that backpropagation through
 * time is the graph's reverse mode and second derivatives work as for any
 * other node. The formulas are PyTorch's (torch.nn.RNN, GRU, LSTM), with
 * the weights stored transposed, as the x W of cr_sop:
 *
 *   RNN   h' = tanh(x W_ih + b_ih + h W_hh + b_hh)
 *   GRU   [r z] = sigmoid(x W_ih[:, :2H] + b_ih[:2H] + h W_hh[:, :2H] + b_hh[:2H])
 *         n = tanh(x W_ih[:, 2H:] + b_ih[2H:] + r * (h W_hh[:, 2H:] + b_hh[2H:]))
 *         h' = (1 - z) * n + z * h
 *   LSTM  [i f g o] = x W_ih + b_ih + h W_hh + b_hh,  i f o through sigmoid,
 *         g through tanh;  c' = f * c + i * g,  h' = o * tanh(c')
 *
 * The GRU is PyTorch's (and cuDNN's) variant: the reset gate multiplies
 * the hidden state's product h W_hn + b_hn, after the matrix product, not
 * h before it as in Cho et al. (2014). W_ih is [in, G*H] and W_hh
 * [H, G*H] for G gates (1, 3, 4), gate blocks of H columns in the order
 * above; the transpose of PyTorch's weight_ih_l0 and weight_hh_l0.
 *
 * Sampling text from a trained next-symbol model is cr_model_generate.
 *
 * Ownership: the nodes belong to the graph (borrowed); the structs are the
 * caller's.
 */
#ifndef CHAINRULE_RECURRENT_H
#define CHAINRULE_RECURRENT_H

#include "chainrule/graph.h"
#include "chainrule/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kinds of recurrent cell (numbers may be stored in model files:
 * never change them). */
typedef enum cr_rnn_cell {
    CR_RNN_TANH = 0, /* Elman RNN with tanh, one gate block */
    CR_RNN_GRU = 1,  /* gated recurrent unit, 3 blocks: r, z, n */
    CR_RNN_LSTM = 2, /* long short-term memory, 4 blocks: i, f, g, o */
    CR_RNN_COUNT     /* how many there are (not a cell) */
} cr_rnn_cell;

/* The number of gate blocks G of a cell (1, 3, 4; 0 for an unknown
 * cell), its name ("rnn", "gru", "lstm"; "?" if unknown), and the reverse
 * lookup: sets *out (out may be NULL) and returns CR_OK, or CR_EINVAL
 * (also for a NULL name) with the accepted names in err. */
CR_API size_t cr_rnn_gates(cr_rnn_cell cell);
CR_API const char *cr_rnn_cell_name(cr_rnn_cell cell);
CR_API cr_status cr_rnn_cell_parse(const char *name, cr_rnn_cell *out, cr_error *err);

/* The parameters of one recurrent layer (borrowed nodes). The biases may
 * be NULL (none). */
typedef struct cr_rnn_params {
    cr_rnn_cell cell;
    size_t n_in, hidden;
    cr_node *w_ih; /* [n_in, G*hidden] */
    cr_node *w_hh; /* [hidden, G*hidden] */
    cr_node *b_ih; /* [G*hidden] */
    cr_node *b_hh; /* [G*hidden] */
    size_t bptt;   /* truncated backpropagation through time inside the
                      window: 0 (the whole window), or N: the state passes
                      through cr_detach before steps N, 2N, ..., so each
                      gradient flows back within its chunk of N steps only;
                      the values are those of 0 */
} cr_rnn_params;

/* Creates the parameters of a layer in g, named PREFIX.w_ih, PREFIX.w_hh,
 * PREFIX.b_ih and PREFIX.b_hh (without biases when bias is 0), drawn from
 * the graph's generator (cr_graph_set_seed): W_ih Glorot uniform per gate
 * block (U(-r, r), r = sqrt(6 / (n_in + hidden))), every H x H gate block
 * of W_hh orthogonal (Gram-Schmidt on normal draws), biases 0 except the
 * LSTM's forget gate, whose b_ih starts at 1. Fills *out. CR_OK, or the
 * error (also in g): CR_EINVAL (NULL argument, unknown cell, n_in or
 * hidden 0), CR_ENAME (a name taken), CR_ENOMEM. */
CR_API cr_status cr_rnn_params_new(cr_graph *g, const char *prefix, cr_rnn_cell cell,
                                   size_t n_in, size_t hidden, int bias,
                                   cr_rnn_params *out);

/* A recurrent state: h [B, H], and for an LSTM the cell c [B, H] (NULL for
 * the others). */
typedef struct cr_rnn_state {
    cr_node *h;
    cr_node *c;
} cr_rnn_state;

/* Unrolls the layer p over the steps of x [B, T, n_in] (x [B, T] is read
 * as [B, T, 1]), from the state init (NULL, or NULL members: zeros). For
 * truncated backpropagation through time across windows, make init's
 * nodes inputs and copy the values of *last into them between windows:
 * the state is carried, its gradient is not; inside the window, set
 * p->bptt. Returns the output, a borrowed node: every
 * step's h stacked, [B, T, H], when every_step is 1; the last h, [B, H],
 * otherwise. *last (may be NULL) gets the last state. NULL with the error
 * in g: CR_EINVAL (NULL p or x, an unknown cell), CR_ESHAPE (x or a state
 * of the wrong shape, parameters not of p's sizes; the graph is then
 * unchanged), CR_ENOMEM (the steps built before it stay in the graph,
 * unused). The steps' input products are made one per step from x: when x
 * needs a gradient (an embedding, a recurrent layer below), each step's
 * gradient is x's size, so the backward pass does O(T^2 B n_in) work. */
CR_API cr_node *cr_rnn(cr_graph *g, const cr_rnn_params *p, cr_node *x,
                       const cr_rnn_state *init, int every_step, cr_rnn_state *last);

/* ---- sampling text from a next-symbol model ---- */

/* Options of cr_model_generate. A zeroed struct is valid: no prime text,
 * temperature 1, seed 0. */
typedef struct cr_generate_options {
    const char *prime;  /* text the sample continues (bytes of the model's
                           vocabulary), or NULL */
    size_t prime_len;   /* its length in bytes */
    double temperature; /* > 0: the logits are divided by it before the
                           softmax (below 1: safer, above 1: more varied);
                           0 means 1 */
    unsigned long seed; /* the sampler's generator (mt19937): the same seed,
                           model and options give the same text */
} cr_generate_options;

/* Samples length bytes from m into out (caller-allocated, not
 * NUL-terminated), one symbol at a time: the model reads the last T
 * symbols (its input is T symbol indices, [T] with an embedding first;
 * when fewer than T are known yet, the window starts with newlines, or
 * the vocabulary's first symbol when it has no newline), and the next
 * symbol is drawn from the softmax of its output at the last position
 * divided by the temperature (an output of [T, V] or [V] for a vocabulary
 * of V symbols, logits, or probabilities when the last layer is a softmax
 * activation). The prime text fills the window first and is not copied to
 * out. Runs in evaluation mode (dropout off), on a copy of the model built
 * for one row when m's batch is larger and it has no batch norm. o may
 * be NULL (defaults). CR_OK, or with err set: CR_EINVAL (NULL m, NULL out
 * with length > 0, a model without a vocabulary (cr_model_set_vocab), an
 * input that is not [T], an output whose last axis is not V, a
 * temperature < 0 or not finite), CR_ENOTFOUND (a byte of the prime text
 * that is not in the vocabulary, with its offset), CR_ENOMEM; the model's
 * own errors (CR_EDOMAIN for a non-finite output). */
CR_API cr_status cr_model_generate(cr_model *m, size_t length, const cr_generate_options *o,
                                   unsigned char *out, cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
