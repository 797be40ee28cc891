/*
 * chainrule/dot.h - Graphviz output: a graph as DOT text (always built in)
 * and rendered in process to SVG, PNG or PDF through libgvc (when the
 * library was configured with Graphviz).
 *
 * The DOT shows the forward graph: one node per graph node, labelled with
 * its name (or op), its op, its value (scalars) or shape (tensors) and its
 * gradient once a backward has computed one; parameters, inputs,
 * constants, the loss and ops are styled distinctly. Each edge runs from
 * an input to its consumer and is labelled with the local derivative
 * (d(consumer)/d(input): formula and value for scalars; Jacobian structure
 * and shape for tensors). Output is deterministic: the same graph and
 * options give byte-identical text. Every name is escaped, so dot accepts
 * whatever the user named a node (quotes, backslashes, newlines, control
 * characters and invalid UTF-8 are escaped; valid UTF-8 passes through).
 */
#ifndef CHAINRULE_DOT_H
#define CHAINRULE_DOT_H

#include "chainrule/graph.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layout direction of the drawing. */
typedef enum cr_dot_rankdir {
    CR_DOT_LR = 0, /* inputs on the left, the loss on the right */
    CR_DOT_TB = 1  /* inputs at the top, the loss at the bottom */
} cr_dot_rankdir;

/* What one drawn node stands for. */
typedef enum cr_dot_view {
    /* One node per graph node (every op, constant and leaf); each edge is
     * one op's local derivative. */
    CR_DOT_VIEW_OPS = 0,
    /* One node per named statement, input or parameter that the loss
     * depends on, with the loss: the unnamed nodes between two of them
     * collapse into one edge labelled with the composed local derivative
     * (formula and value, as the named-only chain writes it, see
     * CR_CHAIN_NAMED_ONLY), and every node shows its value and
     * d(loss)/d(node), computed by the writer. Needs loss. */
    CR_DOT_VIEW_STATEMENTS = 1,
    /* The statements view with the nodes whose names end in the same
     * number (W1, b1, s1, a1: the MLP's layer 1), or whose names have
     * the same number before a '.' (the model builder's L1.W, L1.b and
     * L1, chainrule/model.h), drawn as one node,
     * "layer 1", one line per statement with its shape (or value) and
     * gradient; every edge between two layers shows its Jacobian and the
     * gradient flowing along it. max_nodes does not apply. Needs loss. */
    CR_DOT_VIEW_LAYERS = 2
} cr_dot_view;

/* Options of the DOT writer. Initialise with cr_dot_options_init(); a NULL
 * options pointer means the defaults. */
typedef struct cr_dot_options {
    /* The loss (borrowed; may be NULL): styled as the loss, and the start
     * of the highlighted chain. NULL styles every scalar forward node that
     * no other forward node consumes as a loss. */
    cr_node *loss;
    /* Highlight the paths loss -> ... -> highlight, with the gradient
     * flowing along each highlighted edge: the strongest path (the largest
     * share of the gradient, |product of the local derivatives|) bold and
     * red, the other paths thin and pale red. NULL highlights nothing.
     * Needs loss. */
    cr_node *highlight;
    /* 1: also draw the backward nodes that cr_graph_backward and cr_grad
     * built (dashed, grey). Default 0. */
    int include_backward;
    /* 0: edges show the formula only, not the value (cheaper for huge
     * graphs). Default 1. */
    int edge_values;
    cr_dot_rankdir rankdir; /* default CR_DOT_LR */
    /* At most this many graph nodes are drawn (0: no cap, the default),
     * except that the loss, the highlighted node and the strongest path
     * between them are always drawn whole. Then come the other highlighted
     * paths and the nodes nearest the output (latest created); the rest are
     * summarised per group (see group_of: given groups, the numbered
     * layers with clusters, else each named statement with the ops and
     * inputs it takes in): one summary node per group, "layer 2: 118 nodes
     * not drawn" with how many of each kind, joined by dashed edges to the
     * drawn nodes and other summaries its hidden nodes feed or use; nodes
     * of no group share one summary, "N more nodes not drawn". */
    size_t max_nodes;
    /* A title drawn above the graph (borrowed, escaped; NULL: none). */
    const char *title;
    cr_dot_view view; /* default CR_DOT_VIEW_OPS */
    /* 0: nodes do not show their values. Default 1. */
    int values;
    /* 0: nodes do not show their gradients (in the ops view those that a
     * backward computed; in the statements view d(loss)/d(node) for every
     * node). Default 1. */
    int grads;
    /* 1: draw the nodes of each group in one box (a Graphviz cluster)
     * labelled with the group's name: the groups group_of gives, or
     * when it gives none the nodes whose names end in the same number,
     * "layer N" (or the number before the first '.').
     * Default 0. */
    int clusters;
    /* The group of a node (NULL: none), called with group_ctx for every
     * forward node; groups are told apart by name and drawn in the order
     * first met. A node without a group joins its earliest grouped
     * consumer's, so a group given for the statements of a program takes
     * in their ops and the inputs they use first. The groups make the
     * clusters, the layers of the layers view and, under max_nodes, the
     * summaries. The loss is in none of them (nor are the nodes only it
     * takes in) unless its given group holds no other named node.
     * cr_expr_node_group with its program as group_ctx gives a program's
     * statement groups ("# layer 1" markers). NULL (the default): no
     * given groups. */
    const char *(*group_of)(const cr_node *node, void *group_ctx);
    void *group_ctx;
} cr_dot_options;

/* Fills opts with the defaults (no loss, no highlight, forward nodes only,
 * edge values on, left to right, no cap, no title, the ops view, node
 * values and gradients shown, no clusters, no given groups). */
CR_API void cr_dot_options_init(cr_dot_options *opts);

/* Writes g as DOT text to out. Evaluating the edge values creates helper
 * nodes that are removed again: the graph is unchanged. Returns CR_OK,
 * CR_EINVAL (NULL g or out, highlight or the statements or layers view
 * without loss, nodes of another graph, an unknown view), CR_ESHAPE (highlighting
 * or the statements view from a loss that is not a scalar), CR_ENOTSUP
 * (the statements view through an op without derivative),
 * CR_ENOMEM, or CR_EIO if a write to out failed; details in g's error. */
CR_API cr_status cr_dot_write(cr_graph *g, FILE *out, const cr_dot_options *opts);

/* Writes the same text to the file at path, atomically: into a temporary
 * file in the same directory, flushed to disk, then renamed over path, so
 * path holds either its old content or the whole new text, never part of
 * it, and no temporary file is left behind on failure. Errors as
 * cr_dot_write, plus CR_ENOTFOUND when the directory does not exist and
 * CR_EIO when the file cannot be created, written or renamed (the message
 * names the path and the system's reason). The temporary file is
 * PATH.tmp-XXXXXX; every file chainrule writes goes through the same
 * writer (docs/reliability.md). */
CR_API cr_status cr_dot_write_file(cr_graph *g, const char *path,
                                   const cr_dot_options *opts);

/* Lays g out with Graphviz's dot layout in process (libgvc) and renders it
 * to the file at path in format "svg", "png" or "pdf", atomically as
 * cr_dot_write_file does. Returns CR_OK; CR_ENOTSUP with the message
 * "built without Graphviz rendering" when chainrule was configured without
 * libgvc; CR_EINVAL for a NULL argument or another format; CR_EFORMAT if
 * Graphviz rejects the graph or cannot lay it out or render it (its
 * message is kept); CR_ENOTFOUND, CR_EIO, CR_ENOMEM as cr_dot_write_file. Graphviz's
 * messages never reach stderr. */
CR_API cr_status cr_dot_render(cr_graph *g, const cr_dot_options *opts, const char *path,
                               const char *format);

/* 1 if this build of chainrule renders in process (cr_dot_render works),
 * 0 if it was configured without libgvc. */
CR_API int cr_dot_can_render(void);

#ifdef __cplusplus
}
#endif
#endif
