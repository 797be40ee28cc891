/*
 * chainrule/graph.h - computational graphs: creation, leaves (constants,
 * inputs, parameters), names, forward evaluation and reverse-mode autodiff.
 *
 * Ownership: a cr_graph owns every node built in it and every tensor those
 * nodes hold; users free only the graph. Node pointers and the tensors
 * returned by cr_node_value()/cr_node_grad() are borrowed and stay valid
 * until the graph is freed (their contents change on the next forward or
 * backward). Graphs are append-only: nodes are never removed, so creation
 * order is a topological order.
 *
 * Errors: constructors return NULL and record the detail in the graph
 * (cr_graph_error()). A constructor given a NULL input returns NULL and keeps
 * the error that produced the NULL, so a whole expression can be built and
 * checked once at the end. A failed constructor leaves the graph unchanged.
 * Values: an op node's value is computed when it is built, from the values
 * its inputs have at that moment; after changing inputs or parameters, call
 * cr_graph_forward() to recompute.
 */
#ifndef CHAINRULE_GRAPH_H
#define CHAINRULE_GRAPH_H

#include "chainrule/common.h"
#include "chainrule/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cr_graph cr_graph;
typedef struct cr_node cr_node;

typedef enum cr_node_kind {
    CR_NODE_NONE = -1,    /* not a node: what cr_node_kind_of(NULL) returns */
    CR_NODE_CONSTANT = 0, /* fixed value, set when built */
    CR_NODE_INPUT = 1,    /* value set by the caller before each run */
    CR_NODE_PARAM = 2,    /* trainable; gets a gradient from cr_graph_backward */
    CR_NODE_OP = 3        /* computed from its inputs by an op */
} cr_node_kind;

/* New empty graph (caller frees with cr_graph_free). NULL on out of memory.
 * The first call in a process settles the thread count (see
 * cr_set_num_threads), which may stop OpenBLAS's idle worker threads. */
CR_API cr_graph *cr_graph_new(void);

/* Frees the graph, its nodes and all their memory. NULL is accepted. */
CR_API void cr_graph_free(cr_graph *g);

/* The graph's last error (borrowed; status CR_OK if none since the last
 * cr_graph_clear_error), NULL for a NULL graph. Clearing a NULL graph's
 * error does nothing. */
CR_API const cr_error *cr_graph_error(const cr_graph *g);
CR_API void cr_graph_clear_error(cr_graph *g);

enum {
    /* Forward and backward check every value they compute and stop at the
     * first NaN or infinity with CR_EDOMAIN; the error names the node, its
     * op, the element index and the input values that produced it. */
    CR_GRAPH_TRAP_NONFINITE = 1u << 0
};

/* Sets or reads the graph's CR_GRAPH_* flags (all off in a new graph).
 * Setting does nothing for a NULL graph; reading gives 0. */
CR_API void cr_graph_set_flags(cr_graph *g, unsigned flags);
CR_API unsigned cr_graph_flags(const cr_graph *g);

/* Training or evaluation mode (a new graph is in training mode). In
 * evaluation mode dropout is the identity and batch norm normalises with
 * its running statistics instead of the batch's; the switch takes effect at
 * the next evaluation (forward or backward), with nothing rebuilt. A NULL
 * g: nothing is done, and cr_graph_training gives 0. */
CR_API void cr_graph_set_training(cr_graph *g, int on);
CR_API int cr_graph_training(const cr_graph *g);

/* One graph for every batch size. A graph built for a batch of max rows
 * (the leading axis of its batch leaves) can run any smaller batch
 * without being built again: cr_graph_set_rows changes the leading axis of
 * every batch leaf to rows and works out again, in creation order, the
 * shape (and the sizes kept in their parameters: a mean's count, a
 * product's dimensions) of every node that depends on one, the gradient
 * nodes of backward and cr_grad included. Values keep the storage of the
 * built size: nothing is allocated, and an input's data are its first
 * rows. Values are stale after a change: run forward (and backward) again.
 *
 * cr_node_mark_batch marks an input or constant of rank >= 1 as a batch
 * leaf (its axis 0 is the batch; every batch leaf of a graph has the same
 * length there, max). A constant marked so must hold one value everywhere
 * (a zero initial state), since its first rows are read. CR_OK, CR_EINVAL
 * (NULL n), CR_ESTATE (not an input or constant, or the graph is shrunk
 * now), CR_ESHAPE (rank 0, or a leading axis other than max), with the
 * message in the graph's error.
 *
 * cr_graph_set_rows: CR_OK; CR_EINVAL for a NULL g; CR_ESTATE when there
 * is no batch leaf, or when nodes were made while the batch was shrunk
 * (make nodes at the full batch); CR_ESHAPE for rows 0 or above max ("set
 * rows: 40 rows; the graph was built for 1 to 32"); CR_ENOTSUP when a node
 * cannot change its batch size (the message names it and its op: a
 * permute or a batched matmul, for example). On error the graph keeps its
 * previous batch size. cr_graph_rows gives the current batch size and
 * cr_graph_max_rows max (0 without batch leaves or for a NULL g). */
CR_API cr_status cr_node_mark_batch(cr_node *n);
CR_API cr_status cr_graph_set_rows(cr_graph *g, size_t rows);
CR_API size_t cr_graph_rows(const cr_graph *g);
CR_API size_t cr_graph_max_rows(const cr_graph *g);

/* The seed of a new graph's generator. */
#define CR_DEFAULT_SEED 1UL

/* Seeds the graph's random generator (GSL's mt19937), which draws
 * cr_param_init's values and dropout's masks in the order they are made or
 * evaluated: the same seed and the same calls give the same numbers. A
 * NULL g: nothing is done. */
CR_API void cr_graph_set_seed(cr_graph *g, unsigned long seed);

/* Number of nodes, and the node at a creation index (NULL if out of range;
 * borrowed). Creation order is a topological order. 0 and NULL for a NULL
 * graph. */
CR_API size_t cr_graph_size(const cr_graph *g);
CR_API cr_node *cr_graph_node(const cr_graph *g, size_t index);

/* The node with this name, or NULL (also for a NULL g or name); O(1).
 * Borrowed. */
CR_API cr_node *cr_graph_find(const cr_graph *g, const char *name);

/* Trainable parameters in creation order (borrowed); 0 and NULL for a NULL
 * graph. */
CR_API size_t cr_graph_num_params(const cr_graph *g);
CR_API cr_node *cr_graph_param(const cr_graph *g, size_t index);

/* Leaves. Values are copied in; name may be NULL (unnamed) and must be
 * unique in the graph otherwise (CR_ENAME). cr_input creates a zero-filled
 * input of the given shape. Return a borrowed node, or NULL (error in g). */
CR_API cr_node *cr_constant(cr_graph *g, const cr_tensor *value);
CR_API cr_node *cr_scalar(cr_graph *g, double value);
CR_API cr_node *cr_input(cr_graph *g, const char *name, int rank, const size_t *shape);
CR_API cr_node *cr_input_scalar(cr_graph *g, const char *name, double value);
CR_API cr_node *cr_param(cr_graph *g, const char *name, const cr_tensor *init);
CR_API cr_node *cr_param_scalar(cr_graph *g, const char *name, double value);

/* Weight initialisation. For a weight of rank 2, [fan_in, fan_out] (the x W
 * of cr_sop); of rank 3 or 4, a convolution's [out, in, k...], both fans
 * times the kernel's size; of rank 0 or 1, both are its size. */
typedef enum cr_init_kind {
    CR_INIT_XAVIER = 0,  /* Glorot uniform: U(-r, r), r = sqrt(6/(fan_in+fan_out)) */
    CR_INIT_HE = 1,      /* He normal: N(0, 2/fan_in) */
    CR_INIT_UNIFORM = 2, /* U(a, b) */
    CR_INIT_NORMAL = 3,  /* N(a, b^2): mean a, deviation b */
    CR_INIT_COUNT        /* how many there are (not a kind) */
} cr_init_kind;

/* A new parameter of the given shape (name as cr_param's) whose values are
 * drawn from the graph's generator (cr_graph_set_seed) by init; a and b are
 * the bounds of CR_INIT_UNIFORM (a = b = 0 gives zeros) and the mean and
 * deviation of CR_INIT_NORMAL, unused otherwise. Returns a borrowed node,
 * or NULL with the error in g: CR_EINVAL for an unknown kind or a > b, a
 * negative deviation, a non-finite a or b; CR_ESHAPE for a bad shape;
 * CR_ENAME, CR_ENOMEM. */
CR_API cr_node *cr_param_init(cr_graph *g, const char *name, int rank, const size_t *shape,
                              cr_init_kind init, double a, double b);

/* Names a node (copied). CR_ENAME if the name is empty, too long (over 255
 * bytes) or taken by another node; renaming a named node is allowed. */
CR_API cr_status cr_node_set_name(cr_node *n, const char *name);

/* Node introspection. Strings and nodes are borrowed. cr_node_name returns
 * NULL for an unnamed node; cr_node_label writes the name or, if unnamed,
 * the op name with the index ("sigmoid#4") into a buffer the caller gives
 * and returns its length, like snprintf (buf may be NULL: only the length is
 * wanted). For a NULL node: NULL strings, nodes and graph, 0 inputs, kind
 * CR_NODE_NONE, index (size_t)-1, and a label of -1 with "" in buf. */
CR_API const char *cr_node_name(const cr_node *n);
CR_API int cr_node_label(const cr_node *n, char *buf, size_t size);
CR_API cr_node_kind cr_node_kind_of(const cr_node *n);
CR_API const char *cr_node_op_name(const cr_node *n);
CR_API size_t cr_node_index(const cr_node *n);
CR_API size_t cr_node_num_inputs(const cr_node *n);
CR_API cr_node *cr_node_input(const cr_node *n, size_t i);
CR_API cr_graph *cr_node_graph(const cr_node *n);

/* The node's current value (borrowed, never NULL for a valid node), and its
 * first element for scalars. NULL and NaN for a NULL node. */
CR_API const cr_tensor *cr_node_value(const cr_node *n);
CR_API double cr_node_scalar(const cr_node *n);

/* Sets the value of an input or parameter (copied; shapes must match, else
 * CR_ESHAPE; constants and op nodes give CR_ESTATE). cr_node_set_data takes
 * count row-major elements (CR_ESHAPE if count differs from the size). A
 * NULL node or value gives CR_EINVAL, recorded nowhere; other errors are
 * also recorded in the node's graph (cr_graph_error) with a message. */
CR_API cr_status cr_node_set_value(cr_node *n, const cr_tensor *value);
CR_API cr_status cr_node_set_data(cr_node *n, const double *data, size_t count);
CR_API cr_status cr_node_set_scalar(cr_node *n, double value);

/* The state an op node keeps between evaluations (borrowed), or NULL for
 * an op without one and for a NULL node: batch norm's running statistics,
 * a [2,C] tensor whose rows are the running mean and the running variance; dropout's mask
 * (shaped like its input: 0 or 1/(1-p) per element) from its last
 * evaluation. cr_node_set_state copies value into it (to load saved
 * running statistics): CR_EINVAL for NULL arguments, CR_ESTATE for a node
 * without state, CR_ESHAPE for another shape (recorded in the graph). */
CR_API const cr_tensor *cr_node_state(const cr_node *n);
CR_API cr_status cr_node_set_state(cr_node *n, const cr_tensor *value);

/* Asks cr_graph_backward to compute this node's gradient too (parameters
 * always get one). on = 0 withdraws the request (parameters excepted) and
 * drops the gradient the node held: cr_node_grad returns NULL for it until
 * it is requested again and a backward runs. CR_EINVAL for a NULL node. */
CR_API cr_status cr_node_require_grad(cr_node *n, int on);

/* The gradient d(loss)/d(n) from the last cr_graph_backward, shaped like
 * the node's value (borrowed), or NULL if no backward has computed it (or n
 * is NULL). */
CR_API const cr_tensor *cr_node_grad(const cr_node *n);

/* Recomputes target and every node it depends on, in creation order, from
 * the current values of inputs and parameters. The evaluation order is
 * computed on first use and cached, so repeated calls allocate nothing.
 * Returns CR_OK; CR_EINVAL for a NULL g or target (recorded nowhere) or a
 * target of another graph; CR_ENOMEM while planning the first call;
 * CR_EDOMAIN when the graph traps non-finite values and a node gives one.
 * Errors other than the NULL ones are recorded in g with a message. */
CR_API cr_status cr_graph_forward(cr_graph *g, cr_node *target);

enum {
    /* Add this backward's gradients to those held now (what cr_node_grad
     * returns: the last backward's, or the sum of the accumulating ones
     * since, or zero after cr_graph_zero_grad) instead of replacing them,
     * as PyTorch's backward adds to .grad. */
    CR_BACKWARD_ACCUMULATE = 1u << 0
};

/* Reverse mode: computes d(loss)/d(n) for every parameter and every node
 * that asked for its gradient (cr_node_require_grad), from the values of
 * the last forward. loss must be a scalar (CR_ESHAPE otherwise).
 *
 * Gradients replace the previous ones unless flags has
 * CR_BACKWARD_ACCUMULATE: backward(0) and then backward(ACCUMULATE) twice
 * hold three times the gradient. Only nodes on a path from loss to a node that
 * needs a gradient are visited; contributions of a node feeding several
 * others are summed. The first call for a loss builds the gradients as nodes
 * of this graph (see cr_grad); later calls re-evaluate them without
 * allocating. On a scalar graph (every node on the way rank 0, made of ops
 * that support it: the arithmetic and unary elementwise ops; see
 * docs/design.md) it computes the same numbers, bit for bit, directly,
 * without building nodes, until cr_node_grad_node asks for them; a graph
 * with CR_GRAPH_TRAP_NONFINITE always builds them. A node with no path to
 * loss gets a zero gradient.
 *
 * Returns CR_OK; CR_EINVAL for a NULL g or loss (recorded nowhere) or a loss
 * of another graph; CR_ESHAPE for a loss that is not a scalar; CR_ENOTSUP
 * when an op on the way has no derivative; CR_ENOMEM while building; and
 * CR_EDOMAIN when the graph traps non-finite values and a gradient node
 * gives one. Errors other than the NULL ones are recorded in g with a
 * message; a failed first build leaves the graph as it was. */
CR_API cr_status cr_graph_backward(cr_graph *g, cr_node *loss, unsigned flags);

/* Sets every held gradient to zero: cr_node_grad then returns zeros for
 * every node that wants a gradient (parameters, cr_node_require_grad) or
 * held one, and an accumulating backward adds to zero. A replacing
 * backward replaces as always. CR_OK; CR_EINVAL for a NULL g; CR_ENOMEM
 * (recorded in g) when a node's first accumulator cannot be allocated. */
CR_API cr_status cr_graph_zero_grad(cr_graph *g);

/* Builds d(y)/d(x) as a node of the graph, shaped like x, and computes its
 * value. y must be a scalar. The result is an ordinary node: it may be
 * differentiated again (second derivatives), re-evaluated with
 * cr_graph_forward, named and drawn. A zero constant if y does not depend on
 * x. Returns a borrowed node, or NULL with the error in g.
 *
 * The graph keeps the result for the pair (y, x): a later call with the
 * same y and x returns the same node, adds no node and allocates nothing,
 * only re-evaluating the gradient nodes from the current values of the
 * graph (as the first call computed them; so run cr_graph_forward on y
 * after changing inputs, as before a backward). It can therefore be called
 * in a loop. The kept result lives as long as the graph (nodes are never
 * removed); a re-evaluation traps non-finite values like forward when the
 * graph has CR_GRAPH_TRAP_NONFINITE. cr_graph_backward keeps its own
 * gradients, separately. */
CR_API cr_node *cr_grad(cr_graph *g, cr_node *y, cr_node *x);

/* The gradient node that the last cr_graph_backward built for n (borrowed),
 * or NULL (also for a NULL n). Its value is what cr_node_grad returns in
 * replace mode. When that backward computed the gradients directly (a
 * scalar graph), this call builds its gradient nodes, from the graph's
 * current values, for every node it gave a gradient, and later backward
 * calls for that loss re-evaluate them; NULL, with the error in the graph,
 * if that fails (CR_ENOMEM). */
CR_API cr_node *cr_node_grad_node(const cr_node *n);

#ifdef __cplusplus
}
#endif
#endif
