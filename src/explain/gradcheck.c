/*
 * gradcheck.c - the numerical gradient check (cr_gradcheck): reverse-mode
 * gradients against gsl_deriv_central element by element, or against
 * central differences along random directions (fast mode); the evaluation
 * of the output at perturbed values and the nodes a perturbation reaches
 * (shared with the kinks, the localisation and the claims); the report and
 * its printer. Kinks are found by gradcheck_kinks.c, wrong vector-Jacobian
 * products by gradcheck_localise.c.
 */
#include "core/rng.h"
#include "explain/gradcheck_private.h"

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <float.h>
#include <math.h>
#include <string.h>

#define STEP_FAST 1e-5 /* relative step of the 2-point rule (about eps^(1/3)) */

cr_gradcheck_options cr_gradcheck_defaults(void)
{
    return (cr_gradcheck_options){.atol = 1e-5,
                                  .rtol = 1e-3,
                                  .step = 0.0,
                                  .max_elements = 0,
                                  .fast = 0,
                                  .directions = 8,
                                  .seed = 42};
}

/* ---- evaluation of the output as a function of perturbed values ---- */

static void probe_set(const cr_probe *p, double t)
{
    if (p->slot) {
        *p->slot = t;
        return;
    }
    for (size_t k = 0; k < p->n_dims; k++)
        *p->slots[k] = p->x0[k] + t * p->v[k];
}

/* The plan for out was cached by the first forward, so this allocates
 * nothing; it fails only when the graph traps non-finite values
 * (CR_GRAPH_TRAP_NONFINITE), and then gives NaN. */
double cr_probe_eval(double t, void *params)
{
    const cr_probe *p = params;
    probe_set(p, t);
    cr_status st =
        p->list ? cr_eval_nodes(p->g, p->list, p->n_list) : cr_graph_forward(p->g, p->out);
    return st == CR_OK ? p->out->value.data[0] : NAN;
}

/* ---- the nodes between the perturbed ones and the output ---- */

/* Marks in dep (one byte per node up to top) the nodes that depend on one
 * of the given nodes, themselves included. */
static void mark_dependents(cr_graph *g, size_t top, cr_node *const *nodes, size_t n,
                            unsigned char *dep)
{
    memset(dep, 0, top + 1);
    for (size_t k = 0; k < n; k++)
        if (nodes[k]->id <= top)
            dep[nodes[k]->id] = 1;
    for (size_t id = 0; id <= top; id++) {
        const cr_node *node = g->nodes[id];
        for (size_t i = 0; i < node->n_inputs && !dep[id]; i++)
            dep[id] = dep[node->inputs[i]->id];
    }
}

/* The nodes between the given ones and out: g->marks flags out's ancestors
 * and the returned array (one byte per node up to out, cr_free it) those
 * depending on one of nodes. NULL when out of memory (nothing recorded). */
unsigned char *cr_mark_between(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n)
{
    unsigned char *dep = cr_malloc(out->id + 1);
    if (!dep || cr_graph_marks_reset(g) != CR_OK) {
        cr_free(dep);
        return NULL;
    }
    cr_graph_mark_ancestors(g, &out, 1);
    mark_dependents(g, out->id, nodes, n, dep);
    return dep;
}
/* ---- report ---- */

static cr_gradcheck_entry *report_add(cr_graph *g, cr_gradcheck_report *r)
{
    if (cr_grow((void **)&r->entries, &r->cap, r->n + 1, sizeof *r->entries) != CR_OK) {
        cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the report");
        return NULL;
    }
    cr_gradcheck_entry *e = &r->entries[r->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Fills the errors, the tolerance and the result of an entry whose
 * analytic, numerical and error_estimate are set (result is CR_CHECK_SKIP
 * already if a kink was found). */
void cr_judge_entry(const cr_gradcheck_options *o, cr_gradcheck_entry *e)
{
    e->abs_err = fabs(e->analytic - e->numerical);
    const double scale = fmax(fabs(e->analytic), fabs(e->numerical));
    e->rel_err = scale > 0 ? e->abs_err / scale : 0.0;
    e->tolerance = o->atol + o->rtol * fabs(e->numerical) + e->error_estimate;
    if (e->result != CR_CHECK_SKIP) {
        if (!isfinite(e->analytic) || !isfinite(e->numerical)) {
            e->result = CR_CHECK_FAIL;
            snprintf(e->reason, sizeof e->reason, "%s derivative is not finite",
                     isfinite(e->analytic) ? "numerical" : "analytic");
        } else if (e->abs_err <= e->tolerance) {
            e->result = CR_CHECK_PASS;
        } else {
            e->result = CR_CHECK_FAIL;
            snprintf(e->reason, sizeof e->reason, "differ by %.3g > tolerance %.3g",
                     e->abs_err, e->tolerance);
        }
    }
}

/* cr_judge_kink with the report's options and a rounding estimate of the
 * one-sided differences of f (value f0) with step h, counted. */
static void judge_kink(cr_gradcheck_report *r, cr_gradcheck_entry *e, double back,
                       double fwd, double f0, double h)
{
    cr_judge_kink(&r->opts, e, back, fwd, 4.0 * DBL_EPSILON * fmax(1.0, fabs(f0)) / h);
    r->counts[e->result]++;
}

/* cr_judge_entry with the report's options, counted in the report. */
static void judge(cr_gradcheck_report *r, cr_gradcheck_entry *e)
{
    cr_judge_entry(&r->opts, e);
    r->counts[e->result]++;
}

void cr_gradcheck_report_free(cr_gradcheck_report *r)
{
    if (!r)
        return;
    cr_free(r->entries);
    cr_free(r->suspects);
    cr_free(r);
}

size_t cr_gradcheck_report_size(const cr_gradcheck_report *r) { return r ? r->n : 0; }

const cr_gradcheck_entry *cr_gradcheck_report_entry(const cr_gradcheck_report *r, size_t i)
{
    return r && i < r->n ? &r->entries[i] : NULL;
}

size_t cr_gradcheck_report_count(const cr_gradcheck_report *r, cr_check_result result)
{
    if (!r || (unsigned)result > CR_CHECK_SKIP)
        return 0;
    return r->counts[result];
}

static double badness(const cr_gradcheck_entry *e)
{
    if (!isfinite(e->abs_err))
        return INFINITY;
    return e->tolerance > 0 ? e->abs_err / e->tolerance : e->abs_err;
}

const cr_gradcheck_entry *cr_gradcheck_report_worst(const cr_gradcheck_report *r)
{
    const cr_gradcheck_entry *worst = NULL;
    for (size_t i = 0; r && i < r->n; i++) {
        const cr_gradcheck_entry *e = &r->entries[i];
        if (e->result != CR_CHECK_SKIP && (!worst || badness(e) > badness(worst)))
            worst = e;
    }
    return worst;
}

size_t cr_gradcheck_report_num_suspects(const cr_gradcheck_report *r)
{
    return r ? r->n_suspects : 0;
}

const cr_gradcheck_suspect *cr_gradcheck_report_suspect(const cr_gradcheck_report *r,
                                                        size_t i)
{
    return r && i < r->n_suspects ? &r->suspects[i] : NULL;
}

static const char *result_text(cr_check_result result)
{
    return result == CR_CHECK_PASS ? "pass" : result == CR_CHECK_FAIL ? "FAIL" : "skipped";
}

static void entry_label(const cr_gradcheck_entry *e, char *buf, size_t size)
{
    char label[300];
    if (!e->node) {
        snprintf(buf, size, "direction %zu", e->index);
        return;
    }
    cr_node_label(e->node, label, sizeof label);
    snprintf(buf, size, "%s[%zu]", label, e->index);
}

static cr_status gradcheck_report_print_body(const cr_gradcheck_report *r, FILE *f)
{
    if (!r || !f)
        return CR_EINVAL;
    fprintf(f,
            "gradcheck of %s (%s mode): %zu checked, %zu passed, %zu failed, %zu skipped\n",
            r->output, r->opts.fast ? "directional" : "element", r->n,
            r->counts[CR_CHECK_PASS], r->counts[CR_CHECK_FAIL], r->counts[CR_CHECK_SKIP]);
    fprintf(f, "  tolerance: atol %g + rtol %g * |numerical| + GSL error estimate\n",
            r->opts.atol, r->opts.rtol);
    fprintf(f, "  %-20s %16s %16s %9s %9s %9s  %s\n", "element", "analytic", "numerical",
            "est.err", "abs err", "rel err", "result");
    /* "+ 0.0" prints -0 (a product with 0, such as -1*0) as 0 */
    for (size_t i = 0; i < r->n; i++) {
        const cr_gradcheck_entry *e = &r->entries[i];
        char label[320];
        entry_label(e, label, sizeof label);
        fprintf(f, "  %-20s %16.9g %16.9g %9.2g %9.2g %9.2g  %s%s%s\n", label,
                e->analytic + 0.0, e->numerical + 0.0, e->error_estimate, e->abs_err,
                e->rel_err, result_text(e->result), e->reason[0] ? ": " : "", e->reason);
    }
    const cr_gradcheck_entry *w = cr_gradcheck_report_worst(r);
    if (w) {
        char label[320];
        entry_label(w, label, sizeof label);
        fprintf(
            f,
            "  worst: %s: analytic %.9g, numerical %.9g, abs err %.3g (tolerance %.3g)\n",
            label, w->analytic + 0.0, w->numerical + 0.0, w->abs_err, w->tolerance);
    }
    for (size_t i = 0; i < r->n_suspects; i++) {
        const cr_gradcheck_suspect *s = &r->suspects[i];
        char label[300];
        cr_node_label(s->node, label, sizeof label);
        fprintf(f,
                "  suspect: %s (op %s), input %zu: its vector-Jacobian product gives %.9g "
                "where finite differences give %.9g (element %zu)\n",
                label, s->node->op->name, s->input, s->analytic + 0.0, s->numerical + 0.0,
                s->index);
    }
    return ferror(f) ? CR_EIO : CR_OK;
}

cr_status cr_gradcheck_report_print(const cr_gradcheck_report *r, FILE *f)
{
    cr_status result;
    CR_IN_C_LOCALE(result, gradcheck_report_print_body(r, f));
    return result;
}

/* ---- argument checks ---- */

static cr_status check_options(cr_graph *g, const cr_gradcheck_options *o)
{
    if (!(o->atol >= 0 && isfinite(o->atol)) || !(o->rtol >= 0 && isfinite(o->rtol)))
        return cr_graph_fail(
            g, CR_EINVAL,
            "gradcheck: tolerances must be finite and >= 0 (atol %g, rtol %g)", o->atol,
            o->rtol);
    if (!(o->step >= 0 && isfinite(o->step)))
        return cr_graph_fail(g, CR_EINVAL,
                             "gradcheck: step must be finite and >= 0, not %g", o->step);
    if (o->fast && o->directions == 0)
        return cr_graph_fail(g, CR_EINVAL,
                             "gradcheck: fast mode needs at least 1 direction");
    return CR_OK;
}

static cr_status check_nodes(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n)
{
    char label[300];
    if (out->graph != g)
        return cr_graph_fail(g, CR_EINVAL, "gradcheck: output belongs to another graph");
    if (out->value.size != 1) {
        cr_node_label(out, label, sizeof label);
        return cr_graph_fail(
            g, CR_ESHAPE,
            "gradcheck: output %s must be a scalar, got %s (reduce it, e.g. "
            "cr_sum of its product with a constant)",
            label, cr_shape_str(&out->value).text);
    }
    for (size_t k = 0; k < n; k++) {
        if (!nodes[k])
            return cr_graph_fail(g, CR_EINVAL, "gradcheck: node %zu is NULL", k + 1);
        if (nodes[k]->graph != g)
            return cr_graph_fail(g, CR_EINVAL,
                                 "gradcheck: node %zu belongs to another graph", k + 1);
        cr_node_label(nodes[k], label, sizeof label);
        if (nodes[k]->kind == CR_NODE_OP)
            return cr_graph_fail(
                g, CR_EINVAL,
                "gradcheck: %s is computed by an op; only inputs, parameters "
                "and constants can be perturbed",
                label);
        const cr_tensor *v = &nodes[k]->value;
        const size_t e = cr_first_nonfinite(v->data, v->size);
        if (e < v->size)
            return cr_graph_fail(g, CR_EDOMAIN, "gradcheck: %s[%zu] is %g", label, e,
                                 v->data[e]);
    }
    return CR_OK;
}

/* ---- the two modes ---- */

static cr_status check_elements(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                cr_node *x, cr_node *grad)
{
    cr_kink_set kinks;
    cr_status st = cr_kinks_collect(g, out, &x, 1, &kinks);
    if (st != CR_OK)
        return st;
    cr_graph_forward(g, out);
    cr_kinks_snapshot(&kinks, kinks.base);
    const size_t size = x->value.size;
    const size_t count =
        r->opts.max_elements && r->opts.max_elements < size ? r->opts.max_elements : size;
    cr_probe p = {.g = g, .out = out};
    gsl_function fn = {.function = cr_probe_eval, .params = &p};
    for (size_t k = 0; k < count && st == CR_OK; k++) {
        const size_t idx = count == size ? k : k * size / count;
        double *slot = &x->value.data[idx];
        const double save = *slot;
        const double h = r->opts.step > 0
                             ? r->opts.step
                             : CR_GRADCHECK_STEP_ELEMENT * fmax(1.0, fabs(save));
        if (save - h == save || save + h == save) {
            char label[300];
            cr_node_label(x, label, sizeof label);
            st = cr_graph_fail(g, CR_EINVAL,
                               "gradcheck: step %g is too small for %s[%zu] = %g", h, label,
                               idx, save);
            break;
        }
        cr_gradcheck_entry *e = report_add(g, r);
        if (!e) {
            st = g->err.status;
            break;
        }
        e->node = x;
        e->index = idx;
        e->analytic = grad->value.data[idx];
        p.slot = slot;
        if (kinks.n > 0) {
            const double f_lo = cr_probe_eval(save - h, &p);
            cr_kinks_snapshot(&kinks, kinks.lo);
            const double f_hi = cr_probe_eval(save + h, &p);
            const int hit = cr_kinks_hit(&kinks, h, e->reason, sizeof e->reason);
            if (hit == CR_KINK_AT) {
                const double f0 = cr_probe_eval(save, &p);
                judge_kink(r, e, (f0 - f_lo) / h, (f_hi - f0) / h, f0, h);
                continue;
            }
            if (hit == CR_KINK_NEAR)
                e->result = CR_CHECK_SKIP;
        }
        double result = NAN, abserr = 0.0;
        int gst = gsl_deriv_central(&fn, save, h, &result, &abserr);
        *slot = save;
        if (gst != GSL_SUCCESS) {
            result = NAN;
            snprintf(e->reason, sizeof e->reason, "gsl_deriv_central: %s",
                     gsl_strerror(gst));
        }
        e->numerical = result;
        e->error_estimate = abserr;
        judge(r, e);
    }
    cr_graph_forward(g, out);
    cr_kinks_free(&kinks);
    return st;
}

/* Fast mode: a direction v over every element of every node. */
static cr_status check_directions(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                  cr_node *const *nodes, size_t n_nodes, cr_node **grads)
{
    size_t total = 0;
    for (size_t k = 0; k < n_nodes; k++)
        total += nodes[k]->value.size;
    cr_kink_set kinks;
    gsl_rng rng = {0};
    double **slots = cr_malloc(total * sizeof *slots);
    double *x0 = cr_malloc(total * sizeof *x0), *v = cr_malloc(total * sizeof *v);
    const double **gr = cr_malloc(total * sizeof *gr);
    cr_status st = CR_OK;
    if (!slots || !x0 || !v || !gr) {
        cr_free(slots);
        cr_free(x0);
        cr_free(v);
        cr_free(gr);
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for %zu elements",
                             total);
    }
    double xmax = 0.0;
    for (size_t k = 0, at = 0; k < n_nodes; k++)
        for (size_t e = 0; e < nodes[k]->value.size; e++, at++) {
            slots[at] = &nodes[k]->value.data[e];
            x0[at] = *slots[at];
            gr[at] = &grads[k]->value.data[e];
            xmax = fmax(xmax, fabs(x0[at]));
        }
    const double h = r->opts.step > 0 ? r->opts.step : STEP_FAST * fmax(1.0, xmax);
    if ((st = cr_kinks_collect(g, out, nodes, n_nodes, &kinks)) != CR_OK)
        goto done;
    if (cr_rng_open(&rng, r->opts.seed) != CR_OK) {
        st = cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the generator");
        goto done;
    }
    cr_graph_forward(g, out);
    cr_kinks_snapshot(&kinks, kinks.base);
    cr_probe p = {.g = g, .out = out, .n_dims = total, .slots = slots, .x0 = x0, .v = v};
    for (size_t d = 0; d < r->opts.directions; d++) {
        double norm = 0.0;
        while (norm == 0.0) {
            for (size_t k = 0; k < total; k++) {
                v[k] = gsl_ran_ugaussian(&rng);
                norm += v[k] * v[k];
            }
        }
        norm = sqrt(norm);
        double analytic = 0.0;
        for (size_t k = 0; k < total; k++) {
            v[k] /= norm;
            analytic += *gr[k] * v[k];
        }
        cr_gradcheck_entry *e = report_add(g, r);
        if (!e) {
            st = g->err.status;
            break;
        }
        e->index = d;
        e->analytic = analytic;
        const double f_lo = cr_probe_eval(-h, &p);
        cr_kinks_snapshot(&kinks, kinks.lo);
        const double f_hi = cr_probe_eval(h, &p);
        const int hit = cr_kinks_hit(&kinks, h, e->reason, sizeof e->reason);
        if (hit == CR_KINK_AT) {
            const double f0 = cr_probe_eval(0.0, &p);
            judge_kink(r, e, (f0 - f_lo) / h, (f_hi - f0) / h, f0, h);
            continue;
        }
        if (hit == CR_KINK_NEAR)
            e->result = CR_CHECK_SKIP;
        e->numerical = (f_hi - f_lo) / (2.0 * h);
        e->error_estimate = DBL_EPSILON * (fabs(f_hi) + fabs(f_lo)) / h;
        judge(r, e);
    }
    for (size_t k = 0; k < total; k++)
        *slots[k] = x0[k];
    cr_graph_forward(g, out);
done:
    cr_rng_close(&rng);
    cr_kinks_free(&kinks);
    cr_free(slots);
    cr_free(x0);
    cr_free(v);
    cr_free(gr);
    return st;
}

static cr_status gradcheck_body(cr_graph *g, cr_node *output, cr_node *const *nodes,
                                size_t n_nodes, const cr_gradcheck_options *opts,
                                cr_gradcheck_report **report)
{
    if (report)
        *report = NULL;
    if (!g)
        return CR_EINVAL;
    if (!output || !report || (n_nodes > 0 && !nodes))
        return cr_graph_fail(g, CR_EINVAL, "gradcheck: %s is NULL",
                             !output   ? "output"
                             : !report ? "report"
                                       : "nodes");
    const cr_gradcheck_options o = opts ? *opts : cr_gradcheck_defaults();
    if (n_nodes == 0) {
        nodes = g->params;
        n_nodes = g->n_params;
    }
    cr_status st = check_options(g, &o);
    if (st == CR_OK)
        st = check_nodes(g, output, nodes, n_nodes);
    if (st == CR_OK)
        st = cr_graph_forward(g, output); /* also caches the plan cr_probe_eval uses */
    if (st != CR_OK)
        return st;
    if (!isfinite(output->value.data[0])) {
        char label[300];
        cr_node_label(output, label, sizeof label);
        return cr_graph_fail(g, CR_EDOMAIN, "gradcheck: output %s is %g at this point",
                             label, output->value.data[0]);
    }

    cr_gradcheck_report *r = cr_calloc(1, sizeof *r);
    cr_node **grads = cr_calloc(n_nodes ? n_nodes : 1, sizeof *grads);
    if (!r || !grads) {
        cr_free(grads);
        cr_free(r);
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory");
    }
    r->opts = o;
    cr_node_label(output, r->output, sizeof r->output);
    /* The nodes array may be g->params, which cr_grad does not change. */
    for (size_t k = 0; k < n_nodes && st == CR_OK; k++)
        if (!(grads[k] = cr_grad(g, output, nodes[k])))
            st = g->err.status;
    if (st == CR_OK && o.fast)
        st = check_directions(g, r, output, nodes, n_nodes, grads);
    for (size_t k = 0; k < n_nodes && st == CR_OK && !o.fast; k++)
        st = check_elements(g, r, output, nodes[k], grads[k]);
    if (st == CR_OK && r->counts[CR_CHECK_FAIL] > 0)
        st = cr_gradcheck_localise(g, r, output, nodes, n_nodes);
    cr_free(grads);
    if (st != CR_OK) {
        cr_gradcheck_report_free(r);
        return st;
    }
    *report = r;
    return r->counts[CR_CHECK_FAIL] > 0 ? CR_ECHECK : CR_OK;
}

cr_status cr_gradcheck(cr_graph *g, cr_node *output, cr_node *const *nodes, size_t n_nodes,
                       const cr_gradcheck_options *opts, cr_gradcheck_report **report)
{
    cr_status result;
    CR_IN_C_LOCALE(result, gradcheck_body(g, output, nodes, n_nodes, opts, report));
    return result;
}
