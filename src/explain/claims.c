/*
 * claims.c - the check of hand-derived derivatives (cr_check_claims): each
 * claimed d(of)/d(wrt) against the derivative chain of chain.c and a
 * central difference, the first wrong local factor on a wrong claim's
 * chain named as its culprit, and the claim report with its printer.
 */
#include "explain/chain_private.h"
#include "explain/gradcheck_private.h"

#include "chainrule/chain.h"

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_CULPRIT ((size_t)-1)

struct cr_claim_report {
    cr_claim_result *results;
    char **texts; /* the explanations, one per result (cr_malloc'd) */
    size_t n;
    size_t counts[2];
    double atol, rtol;
    char loss[300];
};

void cr_claim_report_free(cr_claim_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->texts && i < r->n; i++)
        cr_free(r->texts[i]);
    cr_free(r->texts);
    cr_free(r->results);
    cr_free(r);
}

size_t cr_claim_report_size(const cr_claim_report *r) { return r ? r->n : 0; }

const cr_claim_result *cr_claim_report_entry(const cr_claim_report *r, size_t i)
{
    return r && i < r->n ? &r->results[i] : NULL;
}

size_t cr_claim_report_count(const cr_claim_report *r, cr_check_result result)
{
    return r && (unsigned)result <= CR_CHECK_FAIL ? r->counts[result] : 0;
}

static cr_status claim_report_print_body(const cr_claim_report *r, FILE *f)
{
    if (!r || !f)
        return CR_EINVAL;
    fprintf(f,
            "hand-derived derivatives of %s: %zu claimed, %zu right, %zu wrong "
            "(atol %g, rtol %g)\n",
            r->loss, r->n, r->counts[CR_CHECK_PASS], r->counts[CR_CHECK_FAIL], r->atol,
            r->rtol);
    fprintf(f, "  %-18s %16s %16s %16s  %s\n", "derivative", "claimed", "chain rule",
            "numerical", "verdict");
    for (size_t i = 0; i < r->n; i++) {
        const cr_claim_result *c = &r->results[i];
        /* "+ 0.0" prints -0 as 0, here and below */
        fprintf(f, "  %-18s %16.9g %16.9g %16.9g  %s\n", c->label, c->claimed + 0.0,
                c->autodiff + 0.0, c->numerical + 0.0,
                c->result == CR_CHECK_PASS ? "right" : "WRONG");
    }
    for (size_t i = 0; i < r->n; i++) {
        const cr_claim_result *c = &r->results[i];
        if (c->explanation && c->explanation[0])
            fprintf(f, "  %s: %s\n", c->label, c->explanation);
    }
    return ferror(f) ? CR_EIO : CR_OK;
}

cr_status cr_claim_report_print(const cr_claim_report *r, FILE *f)
{
    cr_status result;
    CR_IN_C_LOCALE(result, claim_report_print_body(r, f));
    return result;
}

/* A node by name, or by label "op#index". */
static cr_node *find_node(cr_graph *g, const char *name)
{
    cr_node *n = cr_graph_find(g, name);
    const char *hash = strrchr(name, '#');
    if (n || !hash || hash[1] < '0' || hash[1] > '9')
        return n;
    char *end;
    unsigned long long id = strtoull(hash + 1, &end, 10);
    n = *end ? NULL : cr_graph_node(g, (size_t)id);
    char label[300];
    if (n && cr_node_label(n, label, sizeof label) > 0 && strcmp(label, name) == 0)
        return n;
    return NULL;
}

/* The op nodes of (wrt, of] that depend on wrt and that of depends on, in
 * creation order: what to recompute after changing wrt's value. New array
 * (cr_free), possibly empty. */
static cr_status nodes_between(cr_graph *g, cr_node *of, cr_node *wrt, cr_node ***list,
                               size_t *n)
{
    const size_t top = of->id;
    unsigned char *dep = cr_mark_between(g, of, &wrt, 1);
    *list = dep ? cr_malloc((top + 1) * sizeof **list) : NULL;
    *n = 0;
    if (!*list) {
        cr_free(dep);
        return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
    }
    for (size_t id = wrt->id + 1; id <= top; id++)
        if (g->marks[id] && dep[id] && g->nodes[id]->kind == CR_NODE_OP)
            (*list)[(*n)++] = g->nodes[id];
    cr_free(dep);
    return CR_OK;
}

/* d(of)/d(wrt[index]) by gsl_deriv_central, wrt alone perturbed. */
static cr_status claim_numerical(cr_graph *g, cr_claim_result *c, cr_node *of, cr_node *wrt)
{
    cr_node **list;
    size_t n;
    cr_status st = nodes_between(g, of, wrt, &list, &n);
    if (st != CR_OK)
        return st;
    double *slot = &wrt->value.data[c->index];
    const double save = *slot, h = CR_GRADCHECK_STEP_ELEMENT * fmax(1.0, fabs(save));
    cr_probe p = {.g = g, .out = of, .list = list, .n_list = n, .slot = slot};
    gsl_function fn = {.function = cr_probe_eval, .params = &p};
    double result = NAN, abserr = 0.0;
    if (!isfinite(save) || gsl_deriv_central(&fn, save, h, &result, &abserr) != GSL_SUCCESS)
        result = NAN;
    /* one-sided derivatives, for a claim at a kink */
    double fwd = NAN, bwd = NAN, fwd_err = 0.0, bwd_err = 0.0;
    if (isfinite(save) && (gsl_deriv_forward(&fn, save, h, &fwd, &fwd_err) != GSL_SUCCESS ||
                           gsl_deriv_backward(&fn, save, h, &bwd, &bwd_err) != GSL_SUCCESS))
        fwd = bwd = NAN;
    *slot = save;
    cr_eval_nodes(g, list, n);
    cr_free(list);
    c->kink_low = fmin(fwd, bwd) + 0.0; /* + 0.0: no -0 in the text */
    c->kink_high = fmax(fwd, bwd) + 0.0;
    c->at_kink = isfinite(fwd) && isfinite(bwd) &&
                 c->kink_high - c->kink_low >
                     1e-4 * (1.0 + fabs(fwd) + fabs(bwd)) + fwd_err + bwd_err;
    c->numerical = result;
    c->error_estimate = abserr;
    cr_gradcheck_entry e = {
        .analytic = c->autodiff, .numerical = result, .error_estimate = abserr};
    const cr_gradcheck_options defaults = cr_gradcheck_defaults();
    cr_judge_entry(&defaults, &e);
    c->numerical_agrees = e.result == CR_CHECK_PASS;
    return CR_OK;
}

/* Looks up the claim's nodes, computes its chain and judges it. */
static cr_status claim_evaluate(cr_graph *g, cr_node *loss, const cr_claim *claim,
                                cr_claim_report *r, cr_claim_result *c, cr_chain **chain)
{
    if (!claim->wrt)
        return cr_graph_fail(g, CR_EINVAL, "claims: claim %zu has no wrt", r->n + 1);
    cr_node *of = claim->of ? find_node(g, claim->of) : loss;
    cr_node *wrt = find_node(g, claim->wrt);
    if (!of || !wrt)
        return cr_graph_fail(g, CR_ENOTFOUND, "claims: claim %zu: no node is called '%s'",
                             r->n + 1, !of ? claim->of : claim->wrt);
    char of_label[300], wrt_label[300];
    cr_node_label(of, of_label, sizeof of_label);
    cr_node_label(wrt, wrt_label, sizeof wrt_label);
    if (claim->index >= wrt->value.size)
        return cr_graph_fail(g, CR_ERANGE, "claims: d%s/d%s: element %zu of a %s node",
                             of_label, wrt_label, claim->index,
                             cr_shape_str(&wrt->value).text);
    c->of = of;
    c->wrt = wrt;
    c->index = claim->index;
    c->claimed = claim->value;
    c->culprit = NO_CULPRIT;
    if (wrt->value.size == 1)
        snprintf(c->label, sizeof c->label, "d%.40s/d%.40s", of_label, wrt_label);
    else
        snprintf(c->label, sizeof c->label, "d%.32s/d%.32s[%zu]", of_label, wrt_label,
                 claim->index);
    for (size_t i = 0; i < of->n_inputs && !c->local; i++) {
        if (of->inputs[i] == wrt) {
            c->local = 1;
            if (cr_chain_local_text(of, i, c->formula, sizeof c->formula) < 0)
                return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
        }
    }
    *chain = cr_chain_new(g, of, wrt, NULL);
    if (!*chain)
        return g->err.status;
    c->autodiff = cr_tensor_get(cr_chain_gradient(*chain), claim->index);
    cr_status st = claim_numerical(g, c, of, wrt);
    if (st != CR_OK)
        return st;
    int right = fabs(c->claimed - c->autodiff) <= r->atol + r->rtol * fabs(c->autodiff);
    const double slack = r->atol + r->rtol * fmax(fabs(c->kink_low), fabs(c->kink_high)) +
                         1e-6 * (1.0 + fabs(c->kink_low) + fabs(c->kink_high));
    /* at a kink any value between the one-sided derivatives is right */
    right = right || (c->at_kink && c->claimed >= c->kink_low - slack &&
                      c->claimed <= c->kink_high + slack);
    c->result = right ? CR_CHECK_PASS : CR_CHECK_FAIL;
    r->counts[c->result]++;
    return CR_OK;
}

/* "predicted*(1-predicted) = 0.109860473", or just the value when the
 * formula is empty or a plain number. */
static void value_text(const cr_claim_result *c, char *buf, size_t size)
{
    char *end;
    if (c->formula[0])
        strtod(c->formula, &end);
    if (!c->formula[0] || *end == '\0')
        snprintf(buf, size, "%.9g", c->autodiff + 0.0);
    else
        snprintf(buf, size, "%s = %.9g", c->formula, c->autodiff + 0.0);
}

/* Position of node in the path's node sequence (output first), or -1. */
static long path_position(const cr_chain_path *p, const cr_node *node)
{
    if (p->n_edges == 0)
        return -1;
    if (p->edges[0]->parent == node)
        return 0;
    for (size_t k = 0; k < p->n_edges; k++)
        if (p->edges[k]->child == node)
            return (long)k + 1;
    return -1;
}

/* The first wrong claim (other than self) lying on one of the chain's
 * listed paths, nearest the output. */
static size_t find_culprit(const cr_claim_report *r, size_t self, const cr_chain *chain)
{
    for (size_t k = 0; k < cr_chain_num_listed(chain); k++) {
        const cr_chain_path *p = cr_chain_path_at(chain, k);
        size_t best = NO_CULPRIT;
        long best_of = 0, best_wrt = 0;
        for (size_t j = 0; j < r->n; j++) {
            const cr_claim_result *o = &r->results[j];
            if (j == self || o->result != CR_CHECK_FAIL)
                continue;
            long po = path_position(p, o->of), pw = path_position(p, o->wrt);
            if (po < 0 || pw <= po)
                continue;
            if (best == NO_CULPRIT || po < best_of || (po == best_of && pw < best_wrt)) {
                best = j;
                best_of = po;
                best_wrt = pw;
            }
        }
        if (best != NO_CULPRIT)
            return best;
    }
    return NO_CULPRIT;
}

/* The chain of a wrong total through the named nodes only (the view
 * `chainrule chain` prints), each factor's formula on a line of its own,
 * indented, into s. */
static cr_status named_chain_text(cr_graph *g, const cr_claim_result *c, cr_sink *s)
{
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags |= CR_CHAIN_NAMED_ONLY;
    cr_chain *chain = cr_chain_new(g, (cr_node *)c->of, (cr_node *)c->wrt, &opts);
    if (!chain)
        return g->err.status;
    const int len = cr_chain_format(chain, CR_CHAIN_PRINT_FORMULAS, NULL, 0);
    char *text = len >= 0 ? cr_malloc((size_t)len + 1) : NULL;
    if (text &&
        cr_chain_format(chain, CR_CHAIN_PRINT_FORMULAS, text, (size_t)len + 1) < 0) {
        cr_free(text);
        text = NULL;
    }
    cr_chain_free(chain);
    if (!text)
        return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const size_t n = nl ? (size_t)(nl - line) : strlen(line);
        cr_sink_put(s, "\n    ", 5);
        cr_sink_put(s, line, n);
        line += n + (nl != NULL);
    }
    cr_free(text);
    return CR_OK;
}

static cr_status claim_explain(cr_graph *g, cr_claim_report *r, size_t i,
                               const cr_chain *chain)
{
    cr_claim_result *c = &r->results[i];
    char truth[200], more[200] = "";
    cr_sink s;
    cr_sink_init(&s, NULL);
    /* "+ 0.0" prints -0 as 0 (kink_low/high have had it when computed) */
    if (!c->numerical_agrees && !c->at_kink)
        snprintf(
            more, sizeof more,
            " (note: the numerical derivative %.9g disagrees with the chain rule: a kink, "
            "or an op with a wrong derivative; see cr_gradcheck)",
            c->numerical + 0.0);
    value_text(c, truth, sizeof truth);
    if (c->at_kink && c->result == CR_CHECK_PASS) {
        cr_sink_printf(
            &s,
            "right at a kink: the one-sided derivatives are %.9g and %.9g, and "
            "any value between them is a subgradient (the chain rule takes %.9g)",
            c->kink_low, c->kink_high, c->autodiff + 0.0);
    } else if (c->at_kink) {
        cr_sink_printf(
            &s,
            "not %.9g: at a kink the one-sided derivatives are %.9g and %.9g, and "
            "only values between them are right (subgradients; the chain rule "
            "takes %.9g)",
            c->claimed + 0.0, c->kink_low, c->kink_high, c->autodiff + 0.0);
    } else if (c->result == CR_CHECK_PASS) {
        cr_sink_printf(&s, "%s", more + (more[0] ? 1 : 0));
    } else if (c->local || cr_chain_num_paths(chain) == 0) {
        cr_sink_printf(&s, "it is %s, not %.9g%s", truth, c->claimed + 0.0, more);
    } else if ((c->culprit = find_culprit(r, i, chain)) != NO_CULPRIT) {
        const cr_claim_result *w = &r->results[c->culprit];
        value_text(w, truth, sizeof truth);
        cr_sink_printf(&s,
                       "it is %.9g, not %.9g; the first local factor on its chain that "
                       "differs is %s: you have %.9g, it is %s%s",
                       c->autodiff + 0.0, c->claimed + 0.0, w->label, w->claimed + 0.0,
                       truth, more);
    } else {
        cr_sink_printf(&s,
                       "it is %.9g, not %.9g%s; no factor you claimed on its chain is "
                       "wrong; the chain rule, through your named statements, gives:",
                       c->autodiff + 0.0, c->claimed + 0.0, more);
        cr_status st = named_chain_text(g, c, &s);
        if (st != CR_OK) {
            cr_sink_release(&s);
            return st;
        }
    }
    if (!(r->texts[i] = cr_sink_string(&s)))
        return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
    c->explanation = r->texts[i];
    return CR_OK;
}

static cr_status check_claims_body(cr_graph *g, cr_node *loss, const cr_claim *claims,
                                   size_t n, double atol, double rtol,
                                   cr_claim_report **report)
{
    if (report)
        *report = NULL;
    if (!g)
        return CR_EINVAL;
    if (!loss || !report || (n > 0 && !claims))
        return cr_graph_fail(g, CR_EINVAL, "claims: %s is NULL",
                             !loss     ? "loss"
                             : !report ? "report"
                                       : "claims");
    if (loss->graph != g)
        return cr_graph_fail(g, CR_EINVAL, "claims: loss belongs to another graph");
    if (!(atol >= 0 && isfinite(atol)) || !(rtol >= 0 && isfinite(rtol)))
        return cr_graph_fail(
            g, CR_EINVAL, "claims: tolerances must be finite and >= 0 (atol %g, rtol %g)",
            atol, rtol);
    cr_status st = cr_graph_forward(g, loss);
    if (st != CR_OK)
        return st;
    cr_claim_report *r = cr_calloc(1, sizeof *r);
    cr_chain **chains = cr_calloc(n ? n : 1, sizeof *chains);
    if (r) {
        r->results = cr_calloc(n ? n : 1, sizeof *r->results);
        r->texts = cr_calloc(n ? n : 1, sizeof *r->texts);
    }
    if (!r || !chains || !r->results || !r->texts) {
        cr_claim_report_free(r);
        cr_free(chains);
        return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
    }
    r->atol = atol;
    r->rtol = rtol;
    cr_node_label(loss, r->loss, sizeof r->loss);
    for (; r->n < n && st == CR_OK; r->n++)
        st = claim_evaluate(g, loss, &claims[r->n], r, &r->results[r->n], &chains[r->n]);
    for (size_t i = 0; i < r->n && st == CR_OK; i++)
        st = claim_explain(g, r, i, chains[i]);
    for (size_t i = 0; i < n; i++)
        cr_chain_free(chains[i]);
    cr_free(chains);
    if (st != CR_OK) {
        cr_claim_report_free(r);
        return st;
    }
    *report = r;
    return r->counts[CR_CHECK_FAIL] > 0 ? CR_ECHECK : CR_OK;
}

cr_status cr_check_claims(cr_graph *g, cr_node *loss, const cr_claim *claims, size_t n,
                          double atol, double rtol, cr_claim_report **report)
{
    cr_status result;
    CR_IN_C_LOCALE(result, check_claims_body(g, loss, claims, n, atol, rtol, report));
    return result;
}
