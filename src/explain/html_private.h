/*
 * html_private.h - what the two files of the step-through page share: the
 * page (html.c) and its steps (html_steps.c).
 */
#ifndef CR_HTML_PRIVATE_H
#define CR_HTML_PRIVATE_H

#include "explain/chain_private.h"
#include "chainrule/html.h"

/* Writes len bytes of text as a JSON string that is also safe inside a
 * <script> element: '<', '>', '&', control characters, U+2028 and U+2029
 * as \uXXXX escapes, bytes that are not UTF-8 as U+FFFD. */
void cr_html_json_string(cr_sink *s, const char *text, size_t len);

/* Computes the steps of the page for the scalar loss o->loss (which must
 * be of g) and writes the script's data to out: {"ops", "edges", "steps",
 * "chains"}. With stm (borrowed: the statements view of the loss, built by
 * cr_statements_build) the steps go through its nodes and edges, and in
 * the layers view (o->view) they point at the boxes that the picture of o
 * draws, name each statement's layer as it does (the program's group
 * names, or "layer N") and summarise the tensors; with NULL through every
 * op node and edge. final_lines gets the final state as
 * lines of plain text (each node's value and gradient) and final_chains the chains, one a
 * line. CR_OK, or CR_ERANGE (too many nodes), CR_ENOMEM and the chains' errors, recorded in
 * g. The graph is left unchanged. */
cr_status cr_html_steps(cr_graph *g, const cr_dot_options *o, const cr_statements *stm,
                        cr_sink *out, cr_sink *final_lines, cr_sink *final_chains);

#endif
