/*
 * chain_private.h - what the chain and DOT files of src/explain/ share and
 * nobody else needs: the text sink (textsink.c), labels and derivative text
 * (deriv_text.c), the analysis of the paths between two nodes (paths.c),
 * the chain's struct (chain.c, read by chain_print.c), the statements view
 * (chain.c, drawn by dot.c), the DOT text as a string (dot.c, for
 * render.c) and the rendered picture in memory (render.c, for html.c).
 */
#ifndef CR_CHAIN_PRIVATE_H
#define CR_CHAIN_PRIVATE_H

#include "core/internal.h"
#include "chainrule/dot.h"

#include <stdio.h>

/* ---- text sink (textsink.c) ---- */

/* Text goes to out when it is not NULL, else into data (cr_realloc'd,
 * always NUL-terminated once something was written). The first failure
 * sticks in status (CR_EIO or CR_ENOMEM) and later writes do nothing. */
typedef struct cr_sink {
    FILE *out;
    char *data;
    size_t len, cap;
    cr_status status;
} cr_sink;

/* An empty sink writing to out, or to memory when out is NULL. */
void cr_sink_init(cr_sink *s, FILE *out);
/* Writes printf-formatted text. */
void cr_sink_printf(cr_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes len bytes of text. */
void cr_sink_put(cr_sink *s, const char *text, size_t len);
/* Frees the buffer of a memory sink. */
void cr_sink_release(cr_sink *s);
/* Copies a memory sink's text into buf (size bytes, NUL-terminated,
 * truncated like snprintf) and releases the sink. The full length, or -1
 * when the sink failed. */
int cr_sink_to_buffer(cr_sink *s, char *buf, size_t size);
/* Hands a memory sink's text to the caller (new: cr_free it; "" when
 * nothing was written). NULL when the sink failed or out of memory; the
 * sink is then released. */
char *cr_sink_string(cr_sink *s);

/* A number as the chain printer writes it: nine decimals with trailing
 * zeros dropped for magnitudes in [1e-4, 1e9), "%.9g" otherwise. */
typedef struct {
    char text[40];
} cr_number_text;
cr_number_text cr_number_str(double v);

/* ---- labels and derivative text (deriv_text.c) ---- */

/* A node's label (name or "op#index") as chain text writes it: parenthesised
 * unless made of letters, digits, '_', '#', '.' and non-ASCII bytes. */
void cr_sink_label(cr_sink *s, const cr_node *n);
/* What n computes, in the user's names: "name = relu(s)" for a named op
 * node, else its op's expression of its inputs ("relu(x)", nested a few
 * levels deep), or its label. */
void cr_sink_definition(cr_sink *s, const cr_node *n);
/* The local derivative text of parent for input i (cr_chain_local_text):
 * the op's template with the role letters replaced by the nodes' labels. */
void cr_sink_local_text(cr_sink *s, const cr_node *p, size_t i);
/* The same with unnamed inputs written as what they compute (the text of
 * the edges that the named-only view collapses). */
void cr_sink_local_expr(cr_sink *s, const cr_node *p, size_t i);

/* A derivative written out while the named view collapses a region: the
 * sum over the paths it covers of the products of their local derivative
 * texts. Empty until a path reaches it; too_long once it outgrows
 * CHAIN_TEXT_MAX (deriv_text.c), when the edge falls back to "d(a)/d(b)". */
typedef struct cr_dtext {
    cr_sink s;
    int too_long;
} cr_dtext;

/* Appends to d the term left * right, where left is the text of the
 * derivative reaching a node (NULL or empty: the seed, 1) and right is a
 * local derivative text (none: a custom op's, which makes d too_long). */
void cr_dtext_add_term(cr_dtext *d, const cr_dtext *left, const char *right,
                       size_t right_len);
/* Empties d for reuse (its sink stays a memory sink). */
void cr_dtext_reset(cr_dtext *d);

/* ---- paths between two nodes (paths.c) ---- */

enum { CR_ON_PATH = 4 }; /* bit of cr_paths.marks: on a path output -> wrt */

/* The edges on the paths output -> ... -> wrt. For a node id in [lo, hi]
 * (wrt's and output's ids), marks[id - lo] has CR_ON_PATH when the node
 * lies on such a path; the edge (parent id, input i) is number
 * ebase[id - lo] + i, with local[e] its local derivative (NaN unless both
 * ends are scalars; computed only when asked) and flow[e] the gradient of
 * output carried by it (the signed value for a scalar edge, the norm
 * otherwise). grad[k] is d(output)/d(node lo + k) when all nodes on the
 * paths are scalars, and for the scalar nodes otherwise (NaN for the
 * others); gradient is d(output)/d(wrt) (new tensor). When some node on
 * the paths is a tensor, acc[k] is the node holding d(output)/d(node lo +
 * k) (or NULL): helper nodes that stay in the graph until
 * cr_paths_release, which removes them. */
typedef struct cr_paths {
    cr_graph *g;
    cr_node *output, *wrt;
    size_t lo, hi;
    int any; /* some path exists */
    int all_scalar;
    unsigned char *marks;
    size_t *ebase;
    double *local, *flow, *grad;
    cr_tensor *gradient;
    cr_node **acc;
    size_t n_before; /* the graph's size and arena mark to return to */
    cr_arena_mark mark;
} cr_paths;

/* Analyses the paths; a NULL wrt takes every ancestor of output (lo is 0,
 * every node output depends on is on a path, and gradient stays NULL).
 * CR_OK or an error recorded in g (everything is then released); the
 * graph is as before once cr_paths_release ran. */
cr_status cr_paths_build(cr_paths *p, cr_graph *g, cr_node *output, cr_node *wrt);
/* Frees what cr_paths_build made and removes its helper nodes. */
void cr_paths_release(cr_paths *p);
/* 1 if the edge (parent, input i) lies on a path, with e its number. */
int cr_paths_edge(const cr_paths *p, const cr_node *parent, size_t i, size_t *e);

/* 1 if node n lies on a path (inline: asked once per edge of large graphs). */
static inline int cr_paths_on_path(const cr_paths *p, const cr_node *n)
{
    return n->id >= p->lo && n->id <= p->hi && (p->marks[n->id - p->lo] & CR_ON_PATH);
}

/* Records "chain: out of memory" in g and returns CR_ENOMEM. */
cr_status cr_chain_oom(cr_graph *g);

/* ---- chains (chain.c) ---- */

/* A derivative chain: its paths and the distinct edges they use. */
struct cr_chain {
    cr_graph *g;
    cr_node *output, *wrt;
    double n_paths;
    size_t n_listed;
    cr_chain_path *paths;
    cr_chain_edge **edges; /* distinct edges of listed paths */
    size_t n_edges, cap_edges;
    double value, omitted_value;
    cr_tensor *gradient;
};

/* ---- the statements view of DOT (chain.c, for dot.c) ---- */

/* Everything output depends on, one node per statement: the kept nodes
 * are output, the named nodes, inputs and parameters; the unnamed nodes
 * between two kept nodes collapse into one edge, as in the named-only
 * chain (CR_CHAIN_NAMED_ONLY). For node ids below n, kept[id] is 1 for a
 * kept node and grad[id] is d(output)/d(node) (its Frobenius norm for a
 * tensor; NaN when output does not depend on the node). chain->edges
 * holds every edge between kept nodes (no paths are listed). */
typedef struct cr_statements {
    cr_chain *chain;
    size_t n;
    unsigned char *kept;
    double *grad;
} cr_statements;

/* Builds the view from the current values. CR_OK or an error recorded in
 * g (everything is then released); the graph is left unchanged. */
cr_status cr_statements_build(cr_statements *s, cr_graph *g, cr_node *output);
/* Frees what cr_statements_build made. */
void cr_statements_release(cr_statements *s);

/* ---- DOT (dot.c) ---- */

/* The groups of a picture as the DOT writer draws them with the same
 * options (the page's steps point at its nodes): for node ids below n,
 * rep[id] is the id of the DOT node that draws the node ("n<rep>": in the
 * layers view its layer's box, else itself), and name[id] the offset in
 * names.data of its box's or layer's name (NUL-terminated: "layer 2", or
 * a program's "# group: encoder"), or CR_DOT_NO_LAYER for a node in none
 * (the loss, and nodes only it uses, are in none). */
#define CR_DOT_NO_LAYER ((size_t)-1)
typedef struct cr_dot_layers {
    size_t n;
    size_t *rep;
    size_t *name;
    cr_sink names;
} cr_dot_layers;
/* Builds the map; CR_OK, or the DOT writer's errors (CR_EINVAL, CR_ESHAPE,
 * CR_ENOMEM) recorded in g, everything then released. */
cr_status cr_dot_layers_build(cr_dot_layers *m, cr_graph *g, const cr_dot_options *opts);
void cr_dot_layers_release(cr_dot_layers *m);

/* The whole DOT text of g into a new buffer (cr_free it). */
cr_status cr_dot_to_string(cr_graph *g, const cr_dot_options *opts, char **text,
                           size_t *len);

/* ---- rendering (render.c) ---- */

/* The picture of g in format ("svg", "png" or "pdf") laid out and rendered
 * by libgvc, into a new NUL-terminated buffer (*data, cr_free it; *len
 * bytes without the NUL). CR_ENOTSUP without libgvc, CR_EFORMAT, CR_ENOMEM
 * and the errors of cr_dot_to_string, recorded in g. */
cr_status cr_dot_render_data(cr_graph *g, const cr_dot_options *opts, const char *format,
                             char **data, size_t *len);

#endif
