/*
 * chainrule/check.h - verifying gradients: the numerical check of reverse
 * mode against GSL's central differences (element by element, or along
 * random directions for large parameter sets, and on gradient nodes for
 * second derivatives), and the comparison of hand-derived gradients and
 * local derivatives with the library's (cr_check_claims), which names the
 * first wrong local factor of a chain.
 *
 * Ownership: reports are new objects that the caller frees with their
 * _free function; the nodes they point to are borrowed from the graph and
 * valid while the graph lives. The checks change the values of the leaves
 * they perturb only while they run: every value is restored exactly and the
 * output recomputed before they return. They add the gradient nodes they
 * need to the graph (graphs are append-only), so call them at set-up or in
 * tests, not once per training step. They never print (except the printers)
 * and never touch GSL's error handler.
 */
#ifndef CHAINRULE_CHECK_H
#define CHAINRULE_CHECK_H

#include "chainrule/graph.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Settings of cr_gradcheck. Start from cr_gradcheck_defaults() and change
 * the fields you need. */
typedef struct cr_gradcheck_options {
    double atol;         /* absolute tolerance (default 1e-5) */
    double rtol;         /* relative tolerance, times |numerical| (default 1e-3) */
    double step;         /* finite-difference step h; 0 (default) chooses
                            1e-4 * max(1, |x|) per element (1e-5 * max(1, max |x|)
                            in fast mode) */
    size_t max_elements; /* at most this many elements per node, evenly spread;
                            0 (default) checks every element */
    int fast;            /* nonzero: compare directional derivatives along random
                            directions instead of every element (default 0) */
    size_t directions;   /* fast mode: how many directions (default 8) */
    unsigned long seed;  /* fast mode: seed of the directions (default 42) */
} cr_gradcheck_options;

/* The default options: atol 1e-5, rtol 1e-3, automatic step, every element,
 * element mode, 8 directions, seed 42. */
CR_API cr_gradcheck_options cr_gradcheck_defaults(void);

/* Outcome of one checked element or direction. */
typedef enum cr_check_result {
    CR_CHECK_PASS = 0,
    CR_CHECK_FAIL = 1,
    CR_CHECK_SKIP = 2 /* a kink within the step: central differences straddle it */
} cr_check_result;

/* One line of a report: an element of a node (node and its row-major
 * index) or, in fast mode, a direction (node NULL, index = direction
 * number). The element passes when abs_err <= tolerance, with
 * tolerance = atol + rtol * |numerical| + error_estimate. */
typedef struct cr_gradcheck_entry {
    const cr_node *node;   /* borrowed; NULL for a direction */
    size_t index;          /* element index, or direction number */
    double analytic;       /* reverse mode (cr_grad) */
    double numerical;      /* gsl_deriv_central (central difference in fast mode) */
    double error_estimate; /* GSL's abserr (rounding estimate in fast mode) */
    double abs_err;        /* |analytic - numerical| */
    double rel_err;        /* abs_err / max(|analytic|, |numerical|); 0 if both 0 */
    double tolerance;      /* the bound abs_err was compared with */
    cr_check_result result;
    char reason[160]; /* why it was skipped or failed; "" when it passed */
} cr_gradcheck_entry;

typedef struct cr_gradcheck_report cr_gradcheck_report;

/* Compares reverse-mode gradients of the scalar node output with numerical
 * derivatives, for each element of each of the n_nodes leaf nodes in nodes
 * (inputs, parameters or constants; n_nodes == 0 checks every parameter of
 * the graph). Each element x is perturbed and the output recomputed with
 * cr_graph_forward; gsl_deriv_central gives the numerical derivative and its
 * error estimate, which widens the tolerance. An element for which some op
 * flagged as having a kink (relu, abs, sign, relu_bwd and custom ops
 * declared with CR_CUSTOM_KINK at 0; the probability clamp inside bce at
 * 1e-12 and 1 - 1e-12) has its first input exactly at a kink is judged
 * against the one-sided differences (f(x)-f(x-h))/h and (f(x+h)-f(x))/h:
 * it passes when the analytic value lies between them, within the
 * tolerances (a subgradient), and fails otherwise; numerical is their
 * mean, abs_err the distance from the interval, and the reason names the
 * op as the graph's names write it ("at a kink of relu(x): ..."). An
 * element whose perturbation makes such an input reach or cross a kink it
 * does not sit on is reported as skipped, with the reason, not failed.
 *
 * In fast mode (opts->fast) the gradient is checked along opts->directions
 * random unit directions v drawn from a gsl_rng seeded with opts->seed: the
 * analytic directional derivative grad.v (one reverse pass for all
 * directions) is compared with (f(x+hv) - f(x-hv)) / 2h (two forward passes
 * per direction).
 *
 * Second derivatives: output may itself be a gradient node (cr_grad),
 * e.g. cr_grad(g, y, x) for a scalar x, or cr_sum(g, cr_mul(g, cr_grad(g,
 * y, x), v)) for a tensor x and a constant v; then the check verifies the
 * derivatives of that gradient.
 *
 * opts may be NULL (defaults). On CR_OK (every element passed or was
 * skipped) and on CR_ECHECK (some element failed) *report is a new report
 * (caller frees with cr_gradcheck_report_free); on any other status
 * *report is NULL and the graph's error says what went wrong: CR_EINVAL
 * (NULL arguments, a node that is not a leaf or belongs to another graph,
 * bad options), CR_ESHAPE (output not a scalar), CR_EDOMAIN (the output or
 * a checked value is not finite), CR_ENOMEM, or the error of building the
 * gradient (CR_ENOTSUP for an op without a derivative). Values of every
 * perturbed leaf are restored exactly, and the output recomputed. */
CR_API cr_status cr_gradcheck(cr_graph *g, cr_node *output, cr_node *const *nodes,
                              size_t n_nodes, const cr_gradcheck_options *opts,
                              cr_gradcheck_report **report);

/* Frees a report. NULL is accepted. */
CR_API void cr_gradcheck_report_free(cr_gradcheck_report *r);

/* Number of entries in the report, and entry i in check order (borrowed,
 * valid until the report is freed; NULL if i is out of range). */
CR_API size_t cr_gradcheck_report_size(const cr_gradcheck_report *r);
CR_API const cr_gradcheck_entry *cr_gradcheck_report_entry(const cr_gradcheck_report *r,
                                                           size_t i);

/* Number of entries with the given result. */
CR_API size_t cr_gradcheck_report_count(const cr_gradcheck_report *r,
                                        cr_check_result result);

/* The worst checked entry: the one, among those not skipped, whose abs_err
 * is largest relative to its tolerance (borrowed), or NULL if every entry
 * was skipped. */
CR_API const cr_gradcheck_entry *cr_gradcheck_report_worst(const cr_gradcheck_report *r);

/* When some element failed, cr_gradcheck tests the vector-Jacobian product
 * of every op node between the checked nodes and the output on its own
 * (against central differences of that op's forward kernel, with a fixed
 * pseudo-random upstream gradient, on up to 1024 elements of each input
 * evenly spread; an op with kinks is not tested when an element of its
 * first input lies within two steps of one) and lists
 * the op nodes that disagree as suspects: the place of a wrong hand-written
 * derivative. Each suspect gives the node, which input, and the element
 * where the two disagree most. */
typedef struct cr_gradcheck_suspect {
    const cr_node *node; /* borrowed op node */
    size_t input;        /* which input's vjp is wrong */
    size_t index;        /* element of that input */
    double analytic;     /* what the vjp gives there */
    double numerical;    /* what finite differences give */
} cr_gradcheck_suspect;

/* Number of suspects, and suspect i (borrowed, NULL if out of range). */
CR_API size_t cr_gradcheck_report_num_suspects(const cr_gradcheck_report *r);
CR_API const cr_gradcheck_suspect *cr_gradcheck_report_suspect(const cr_gradcheck_report *r,
                                                               size_t i);

/* Writes the report for people to f: a summary line, one line per entry
 * (node label and index, analytic, numerical, error estimate, absolute and
 * relative error, result and reason), the worst entry and the suspects; values with
 * nine significant digits, negative zero as 0. Returns CR_OK or CR_EIO if writing
 * failed (CR_EINVAL for NULL arguments). */
CR_API cr_status cr_gradcheck_report_print(const cr_gradcheck_report *r, FILE *f);

/* ---- hand-derived gradients, factor by factor ---- */

/* One hand-derived value: d(of)/d(wrt), element index of wrt. Nodes are
 * named by their name or their label ("sigmoid#7", see cr_node_label). */
typedef struct cr_claim {
    const char *of;  /* the numerator, a scalar node; NULL: the loss */
    const char *wrt; /* the denominator: a parameter, input or any node */
    size_t index;    /* row-major element of wrt (0 for a scalar) */
    double value;    /* what was derived by hand */
} cr_claim;

/* The verdict on one claim. The claim is right (CR_CHECK_PASS) when
 * |claimed - autodiff| <= atol + rtol * |autodiff|, or when the derivative
 * has a kink there (relu or abs at 0) and the claimed value lies between
 * the one-sided derivatives: any value of the subdifferential is right,
 * and the explanation says so. */
typedef struct cr_claim_result {
    const cr_node *of, *wrt; /* borrowed */
    size_t index;
    double claimed;
    double autodiff;            /* the chain rule, summed over every path (cr_chain) */
    double numerical;           /* gsl_deriv_central, perturbing wrt alone */
    double error_estimate;      /* GSL's abserr */
    int numerical_agrees;       /* autodiff and numerical agree (cr_gradcheck's
                                   default tolerances) */
    int local;                  /* of is computed directly from wrt: a local factor */
    cr_check_result result;     /* CR_CHECK_PASS or CR_CHECK_FAIL */
    int at_kink;                /* the derivative has a kink here: the one-sided
                                   derivatives (GSL's forward and backward
                                   differences) differ; a claimed value between
                                   them (a subgradient) is right */
    double kink_low, kink_high; /* the one-sided derivatives, low first */
    size_t culprit;             /* for a wrong claim spanning several factors: the
                                   index (in the report) of the first claimed
                                   local factor on its chain, from the output,
                                   that is wrong; (size_t)-1 if none */
    char label[96];             /* "dpredicted/ds", "dE/dW[3]" */
    char formula[128];          /* local factors: the derivative's text with the
                                   nodes' labels, "predicted*(1-predicted)" */
    const char *explanation;    /* for people: what is wrong and what it should be,
                                   never truncated; "" for a right claim without
                                   a note. Borrowed from the report, valid until
                                   it is freed. A wrong total whose claimed factors
                                   are right shows its chain through the named
                                   nodes, each factor's formula on a line of its
                                   own. */
} cr_claim_result;

typedef struct cr_claim_report cr_claim_report;

/* Checks n hand-derived values against reverse mode and the numerical
 * derivative. For each claim: the true value d(of)/d(wrt) from the chain
 * of local derivatives (cr_chain_new; a node of wrt that is computed by an
 * op is treated as independent, as in the chain rule) and the numerical
 * one (wrt's element perturbed and the nodes between wrt and of
 * recomputed). For a wrong claim whose chain has several factors, the
 * report names the first local factor on the chain (from the output) that
 * the user also claimed and got wrong, with both values; if no claimed
 * factor is wrong it shows the whole chain with every factor's value.
 * Claims of local factors say the factor's formula and true value.
 *
 * The graph's values are recomputed first (cr_graph_forward on loss) and
 * left as they were. On CR_OK (all right) and CR_ECHECK (some claim wrong)
 * *report is a new report (caller frees with cr_claim_report_free);
 * otherwise *report is NULL and g's error says why: CR_EINVAL (NULL
 * arguments, negative or non-finite tolerances), CR_ENOTFOUND (no node
 * has that name), CR_ESHAPE (of is not a scalar), CR_ERANGE (index beyond
 * wrt's size), CR_ENOTSUP, CR_ENOMEM. */
CR_API cr_status cr_check_claims(cr_graph *g, cr_node *loss, const cr_claim *claims,
                                 size_t n, double atol, double rtol,
                                 cr_claim_report **report);

/* Frees a report. NULL is accepted. */
CR_API void cr_claim_report_free(cr_claim_report *r);

/* Number of results (one per claim, in order), and result i (borrowed;
 * NULL if out of range). */
CR_API size_t cr_claim_report_size(const cr_claim_report *r);
CR_API const cr_claim_result *cr_claim_report_entry(const cr_claim_report *r, size_t i);

/* Number of results with the given verdict. */
CR_API size_t cr_claim_report_count(const cr_claim_report *r, cr_check_result result);

/* Writes the report for people to f: a summary, one line per claim
 * (claimed, chain rule, numerical, verdict) and the explanation of each
 * wrong one; negative zero as 0. Returns CR_OK, CR_EINVAL (NULL argument)
 * or CR_EIO. */
CR_API cr_status cr_claim_report_print(const cr_claim_report *r, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
