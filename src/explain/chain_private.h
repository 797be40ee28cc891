/*
 * chain_private.h - what chain.c, dot.c and render.c share and nobody else
 * needs: a text sink (to a FILE * or a growable buffer), number and label
 * formatting, the analysis of the paths between two nodes (which edges lie
 * on a path, the local derivative and the gradient flowing along each) and
 * the DOT text as a string (for render.c).
 */
#ifndef CR_CHAIN_PRIVATE_H
#define CR_CHAIN_PRIVATE_H

#include "core/internal.h"
#include "chainrule/dot.h"

#include <stdio.h>

/* ---- text sink (chain.c) ---- */

/* Text goes to out when it is not NULL, else into data (cr_realloc'd,
 * always NUL-terminated once something was written). The first failure
 * sticks in status (CR_EIO or CR_ENOMEM) and later writes do nothing. */
typedef struct cr_sink {
    FILE *out;
    char *data;
    size_t len, cap;
    cr_status status;
} cr_sink;

void cr_sink_init(cr_sink *s, FILE *out);
void cr_sink_printf(cr_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cr_sink_put(cr_sink *s, const char *text, size_t len);
/* Frees the buffer of a memory sink. */
void cr_sink_release(cr_sink *s);

/* A number as the chain printer writes it: nine decimals with trailing
 * zeros dropped for magnitudes in [1e-4, 1e9), "%.9g" otherwise. */
typedef struct {
    char text[40];
} cr_number_text;
cr_number_text cr_number_str(double v);

/* A node's label (name or "op#index") as chain text writes it: parenthesised
 * unless made of letters, digits, '_', '#', '.' and non-ASCII bytes. */
void cr_sink_label(cr_sink *s, const cr_node *n);
/* The local derivative text of parent for input i (cr_chain_local_text). */
void cr_sink_local_text(cr_sink *s, const cr_node *p, size_t i);

/* ---- paths between two nodes (chain.c) ---- */

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

/* Analyses the paths. CR_OK or an error recorded in g (everything is then
 * released); the graph is as before once cr_paths_release ran. */
cr_status cr_paths_build(cr_paths *p, cr_graph *g, cr_node *output, cr_node *wrt);
void cr_paths_release(cr_paths *p);
/* 1 if the edge (parent, input i) lies on a path, with e its number. */
int cr_paths_edge(const cr_paths *p, const cr_node *parent, size_t i, size_t *e);

/* The whole DOT text of g into a new buffer (dot.c; cr_free it). */
cr_status cr_dot_to_string(cr_graph *g, const cr_dot_options *opts, char **text,
                           size_t *len);

#endif
