/*
 * chainrule/html.h - the step-through page: one self-contained HTML file
 * (no network access, no other file) that shows a graph as inline SVG,
 * laid out by Graphviz's libgvc, and steps through its forward pass node by
 * node and its backward pass edge by edge with Previous/Next buttons and
 * the arrow keys. Each backward step shows the upstream gradient, the local
 * derivative (formula and value) and their product, accumulating at each
 * node, and once a node's gradient is complete its chain in the article's
 * form (dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = ...). The URL
 * fragment #step=N opens the page at step N; with scripts off the page
 * shows the final state. docs/dot.md, "The step-through page", describes
 * the page.
 */
#ifndef CHAINRULE_HTML_H
#define CHAINRULE_HTML_H

#include "chainrule/dot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A graph with more nodes of the view than this behind the loss (forward
 * nodes, or statements and inputs in the statements view) is refused by
 * cr_explain_html (CR_ERANGE): a page is for reading, step by step. */
#define CR_HTML_MAX_NODES 1000

/* Writes the step-through page of g to the file at path, atomically (as
 * cr_dot_write_file). opts->loss (required, a scalar node) is the output
 * whose forward and backward passes are stepped through; the picture is
 * the one cr_dot_render draws with the same options (view, highlight,
 * rankdir, title, max_nodes; the title is also the page's). The steps
 * follow the view: CR_DOT_VIEW_OPS goes op by op and along every edge,
 * CR_DOT_VIEW_STATEMENTS statement by statement and along the view's
 * edges, each with its local derivative composed through the unnamed
 * nodes between two statements; CR_DOT_VIEW_LAYERS takes the same steps
 * on the layer boxes of its picture, with each tensor summarised (shape,
 * smallest, mean and largest element) and each gradient by its norm
 * (a model builder's graph: layer by layer). The steps use the
 * graph's current values (run cr_graph_forward first if inputs changed);
 * gradients are computed for the page and the graph is left unchanged.
 * Every name is escaped, in the HTML and in the script's data.
 * Returns CR_OK; CR_ENOTSUP "built without Graphviz rendering" when
 * chainrule was configured without libgvc (cr_dot_can_render() is 0);
 * CR_EINVAL for a NULL argument, a missing loss, nodes of another graph or
 * an unknown view;
 * CR_ESHAPE for a loss that is not a scalar; CR_ERANGE for more than
 * CR_HTML_MAX_NODES nodes behind the loss; CR_EFORMAT when Graphviz cannot
 * lay the graph out; CR_ENOTFOUND, CR_EIO, CR_ENOMEM as cr_dot_write_file.
 * Details in cr_graph_error(g). */
CR_API cr_status cr_explain_html(cr_graph *g, const cr_dot_options *opts, const char *path);

#ifdef __cplusplus
}
#endif
#endif
