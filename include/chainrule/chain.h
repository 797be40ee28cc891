/*
 * chainrule/chain.h - derivative chains: d(output)/d(wrt) written as the
 * sum, over every path output -> ... -> wrt of the graph, of the product of
 * the local derivatives along the path, as the seed article does:
 *
 *   dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1
 *          = 0.844352143 * 0.109860473 * 0.1 = 0.009276093
 *
 * A chain is computed once by cr_chain_new() and read through accessors and
 * read-only views (cr_chain_path, cr_chain_edge) that the chain owns. Paths
 * can be exponentially many: they are counted exactly (by dynamic
 * programming, without enumerating them) and only the first max_paths are
 * listed; the others are summarised by their count and summed value.
 *
 * Scalar edges (parent and child both hold one element) carry the value of
 * the local derivative. Tensor edges are Jacobians and are never formed
 * densely: an edge says what the Jacobian is (its op's structure, such as
 * "diagonal" or "linear: dA = dY op(B)^T, ..."), its shape, and the norm of
 * the gradient that flows along it.
 *
 * Ownership: a chain is owned by the caller (cr_chain_free). Nodes it
 * points to are borrowed from the graph, which must outlive the chain.
 * Edge and path views, and their strings, are borrowed from the chain.
 * Building a chain leaves the graph as it was: the helper nodes it creates
 * to evaluate local derivatives are removed before it returns.
 */
#ifndef CHAINRULE_CHAIN_H
#define CHAINRULE_CHAIN_H

#include "chainrule/graph.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cr_chain cr_chain;

/* Paths listed when cr_chain_options.max_paths is 0. */
#define CR_CHAIN_DEFAULT_PATHS 16

/* Flags of cr_chain_options. */
enum {
    /* Express the chain only through named nodes (plus output and wrt):
     * the unnamed intermediates between two kept nodes are collapsed into
     * one edge whose value is the derivative between the two (the sum over
     * the unnamed sub-paths), and so are several edges straight between the
     * same two kept nodes (z*z). Its formula writes the derivative out over
     * the sub-paths ("-0.5*2*(d - predicted)^(2-1)", "z + z"), unnamed
     * nodes as what they compute; through tensors, or beyond 120 bytes, it
     * reads "d(E)/d(predicted)". */
    CR_CHAIN_NAMED_ONLY = 1u << 0
};

/* How to build a chain. Initialise with cr_chain_options_init(); a NULL
 * options pointer means the defaults. */
typedef struct cr_chain_options {
    size_t max_paths; /* paths to list; the rest are counted (0: the default) */
    unsigned flags;   /* CR_CHAIN_NAMED_ONLY */
} cr_chain_options;

/* One edge of a path: parent consumes child. A read-only view owned by the
 * chain; several paths may share an edge. */
typedef struct cr_chain_edge {
    cr_node *parent;      /* the consumer, nearer the output (borrowed) */
    cr_node *child;       /* the input, nearer wrt (borrowed) */
    size_t input;         /* child is input number `input` of parent; for a
                           * collapsed edge, (size_t)-1 */
    const char *formula;  /* the local derivative's text with the nodes'
                           * labels for the op's roles: "predicted*(1-predicted)",
                           * "x1", "predicted-desired"; for a collapsed edge
                           * the derivative written out, or "d(E)/d(predicted)"
                           * (see CR_CHAIN_NAMED_ONLY); "" if the op gives none */
    const char *jacobian; /* "scalar" for scalar edges; otherwise the op's
                           * structure ("diagonal", ...), or "composite" for a
                           * collapsed edge */
    const char *shape;    /* the Jacobian's shape, parent's shape x child's:
                           * "[] x []", "[2,4] x [3,4]" */
    int scalar;           /* 1 if parent and child both hold one element */
    int collapsed;        /* 1 if the edge stands for unnamed intermediates */
    double value;         /* scalar edges: d(parent)/d(child); NaN otherwise */
    double flow_norm;     /* Frobenius norm of the gradient flowing along the
                           * edge: d(output)/d(parent) carried to child
                           * through this edge (|dE/dparent * value| for a
                           * scalar edge; for a collapsed edge, through all
                           * its unnamed sub-paths) */
} cr_chain_edge;

/* One path output -> ... -> wrt, edges in order from the output. A
 * read-only view owned by the chain. */
typedef struct cr_chain_path {
    size_t n_edges;
    const cr_chain_edge *const *edges; /* n_edges edges (borrowed) */
    double product; /* product of the edge values (the path's share of the
                     * derivative) when every edge is scalar; NaN otherwise */
    double norm;    /* Frobenius norm of the path's share of d(output)/d(wrt)
                     * (|product| for a scalar path; NaN for a path with
                     * both a tensor and a collapsed edge, whose share is
                     * not formed) */
} cr_chain_path;

/* Fills opts with the defaults: CR_CHAIN_DEFAULT_PATHS paths, no flags. */
CR_API void cr_chain_options_init(cr_chain_options *opts);

/* Computes the chain of d(output)/d(wrt) from the current values of the
 * graph (run cr_graph_forward first if inputs changed): counts every path
 * from output to wrt, lists the first max_paths of them (depth first,
 * inputs in order) with each edge's local derivative, and computes the
 * derivative itself (the sum over all paths, equal to what reverse mode
 * gives). No recursion: graphs may be arbitrarily deep. When wrt does not
 * influence output there are no paths and the derivative is zero; when wrt
 * is output there is one path with no edges and the derivative is one.
 * Returns a new chain (caller frees with cr_chain_free) or NULL with the
 * error in g: CR_EINVAL (a NULL argument, nodes of another graph),
 * CR_ESHAPE (output is not a scalar), CR_ENOTSUP (an op on a path has no
 * derivative), CR_ENOMEM. The graph is left unchanged either way. */
CR_API cr_chain *cr_chain_new(cr_graph *g, cr_node *output, cr_node *wrt,
                              const cr_chain_options *opts);

/* Frees a chain. NULL is accepted. */
CR_API void cr_chain_free(cr_chain *c);

/* The output and wrt nodes the chain was built for (borrowed); NULL for a
 * NULL chain. */
CR_API cr_node *cr_chain_output(const cr_chain *c);
CR_API cr_node *cr_chain_wrt(const cr_chain *c);

/* The number of paths from output to wrt (in the named-only view, of
 * collapsed paths), counted without enumerating them. A double: exact up
 * to 2^53, rounded above, infinite never. NaN for a NULL chain. */
CR_API double cr_chain_num_paths(const cr_chain *c);

/* The number of paths listed (at most max_paths), and path k of them
 * (borrowed; NULL if k is out of range). 0 and NULL for a NULL chain. */
CR_API size_t cr_chain_num_listed(const cr_chain *c);
CR_API const cr_chain_path *cr_chain_path_at(const cr_chain *c, size_t k);

/* The number of paths counted but not listed (num_paths - num_listed);
 * NaN for a NULL chain. */
CR_API double cr_chain_num_omitted(const cr_chain *c);

/* d(output)/d(wrt) for a scalar wrt (the sum over all paths); NaN when wrt
 * is a tensor (see cr_chain_gradient) or the chain is NULL. */
CR_API double cr_chain_value(const cr_chain *c);

/* The part of the derivative carried by the paths that were not listed:
 * cr_chain_value minus the listed products, for a scalar wrt; NaN
 * otherwise (and for a NULL chain). 0 when every path is listed. */
CR_API double cr_chain_omitted_value(const cr_chain *c);

/* d(output)/d(wrt) as a tensor shaped like wrt (borrowed from the chain),
 * for scalars and tensors alike; NULL for a NULL chain. */
CR_API const cr_tensor *cr_chain_gradient(const cr_chain *c);

/* Flags of cr_chain_print and cr_chain_format. */
enum {
    /* Unicode: "∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · ∂s/∂w1
     * = 0.844352143 × 0.109860473 × 0.1 = 0.009276093". */
    CR_CHAIN_PRINT_UNICODE = 1u << 0,
    /* After the chain, one line per distinct edge with its formula:
     * "  dpredicted/ds = predicted*(1-predicted) = 0.109860473". */
    CR_CHAIN_PRINT_FORMULAS = 1u << 1
};

/* Writes the chain in the article's form, with the nodes' labels (names,
 * or "op#index" for unnamed nodes; labels that are not plain identifiers
 * are parenthesised), ending with a newline:
 *
 *   dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = 0.844352143 * 0.109860473 * 0.1 =
 * 0.009276093
 *
 * Several paths are joined by " + "; paths not listed appear as
 * "[N more paths]" on the left and their summed value on the right.
 * Numbers: nine decimals with trailing zeros dropped ("0.1") for
 * magnitudes in [1e-4, 1e9), "%.9g" otherwise. A tensor edge appears as
 * "[jacobian shape]" and a tensor wrt's derivative as "[norm N]".
 * cr_chain_print writes to out and returns CR_OK, CR_EINVAL (NULL
 * argument), CR_ENOMEM or CR_EIO (a write failed). */
CR_API cr_status cr_chain_print(const cr_chain *c, FILE *out, unsigned flags);

/* The same text into buf (always NUL-terminated when size > 0, truncated
 * if needed; buf may be NULL: only the length is wanted); returns the
 * length the whole text needs, like snprintf, or -1 (and "") on CR_ENOMEM
 * or a NULL chain. */
CR_API int cr_chain_format(const cr_chain *c, unsigned flags, char *buf, size_t size);

/* The text of the local derivative of parent with respect to its input
 * number `input`, from the op table, with the op's role letters replaced
 * by the nodes' labels (x, a, b: the inputs; y: the node itself; c: the
 * op's constant), e.g. sigmoid's "y*(1-y)" -> "predicted*(1-predicted)".
 * Writes into buf (NUL-terminated when size > 0; buf may be NULL: only the
 * length is wanted) and returns the length it needs, like snprintf; 0 and
 * "" for leaves, an input out of range, or an op without derivative text;
 * -1 (and "") for a NULL parent or when out of memory. */
CR_API int cr_chain_local_text(const cr_node *parent, size_t input, char *buf, size_t size);

/* The value of the local derivative d(parent)/d(input number `input`) for
 * a scalar edge (parent and that input both hold one element), computed
 * generically from the op's vector-Jacobian product applied to 1. The
 * helper nodes are removed again: the graph is unchanged. Returns CR_OK,
 * CR_EINVAL (NULL, a leaf, input out of range), CR_ESHAPE (not a scalar
 * edge), CR_ENOTSUP (the op has no derivative) or CR_ENOMEM, with the
 * error in the node's graph (a NULL parent or value is recorded nowhere). */
CR_API cr_status cr_chain_local_value(cr_node *parent, size_t input, double *value);

#ifdef __cplusplus
}
#endif
#endif
