/*
 * gradcheck.c - the numerical gradient check (cr_gradcheck): reverse-mode
 * gradients against gsl_deriv_central element by element, or against
 * central differences along random directions (fast mode); detection of
 * kinks inside the perturbation interval; localisation of a wrong
 * vector-Jacobian product to the op node that computes it; the report and
 * its printer. Also the check of hand-derived values (cr_check_claims),
 * which compares them with the derivative chains of chain.c and names the
 * first wrong local factor.
 */
#include "core/internal.h"
#include "core/rng.h"

#include "chainrule/chain.h"

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEP_ELEMENT 1e-4 /* relative step of gsl_deriv_central's 5-point rule */
#define STEP_FAST 1e-5    /* relative step of the 2-point rule (about eps^(1/3)) */
#define LOCAL_MAX 1024    /* elements per input tested when localising an error */

struct cr_gradcheck_report {
    cr_gradcheck_entry *entries;
    size_t n, cap;
    size_t counts[3];
    cr_gradcheck_suspect *suspects;
    size_t n_suspects, cap_suspects;
    cr_gradcheck_options opts;
    char output[300];
};

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

typedef struct probe {
    cr_graph *g;
    cr_node *out;
    cr_node *const *list; /* if set: recompute only these nodes, not out's plan */
    size_t n_list;
    double *slot;  /* element mode: the perturbed element */
    size_t n_dims; /* fast mode: x0 + t v over these elements */
    double **slots;
    const double *x0, *v;
} probe;

static void probe_set(const probe *p, double t)
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
static double probe_eval(double t, void *params)
{
    const probe *p = params;
    probe_set(p, t);
    cr_status st =
        p->list ? cr_eval_nodes(p->g, p->list, p->n_list) : cr_graph_forward(p->g, p->out);
    return st == CR_OK ? p->out->value.data[0] : NAN;
}

/* ---- kinks: op nodes flagged CR_OP_KINK whose first input depends on the
 * perturbed values; the input reaching or crossing one of the op's kink
 * points (cr_op.kinks; 0 by default) means a kink ---- */

typedef struct kink_set {
    cr_node **nodes;
    size_t n;
    double *base, *lo; /* first inputs' values at x and at x - h */
    size_t total;
} kink_set;

static void kinks_free(kink_set *k)
{
    cr_free(k->nodes);
    cr_free(k->base);
    cr_free(k->lo);
    memset(k, 0, sizeof *k);
}

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
static unsigned char *mark_between(cr_graph *g, cr_node *out, cr_node *const *nodes,
                                   size_t n)
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

static cr_status kinks_collect(cr_graph *g, cr_node *out, cr_node *const *nodes, size_t n,
                               kink_set *k)
{
    memset(k, 0, sizeof *k);
    const size_t top = out->id;
    unsigned char *dep = mark_between(g, out, nodes, n);
    if (!dep)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory finding kinks");
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t id = 0; id <= top; id++) {
            cr_node *node = g->nodes[id];
            if (!g->marks[id] || node->kind != CR_NODE_OP ||
                !(node->op->flags & CR_OP_KINK) || node->n_inputs == 0 ||
                !dep[node->inputs[0]->id])
                continue;
            if (pass == 1) {
                k->nodes[k->n++] = node;
                k->total += node->inputs[0]->value.size;
            } else {
                count++;
            }
        }
        if (pass == 0 && count > 0) {
            k->nodes = cr_malloc(count * sizeof *k->nodes);
            if (!k->nodes)
                break;
        } else if (pass == 0) {
            break;
        }
    }
    cr_free(dep);
    if (count > 0 && k->nodes) {
        k->base = cr_malloc(k->total * sizeof *k->base);
        k->lo = cr_malloc(k->total * sizeof *k->lo);
    }
    if (count > 0 && (!k->nodes || !k->base || !k->lo)) {
        kinks_free(k);
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory finding kinks");
    }
    return CR_OK;
}

static void kinks_snapshot(const kink_set *k, double *buf)
{
    for (size_t j = 0, at = 0; j < k->n; j++) {
        const cr_tensor *t = &k->nodes[j]->inputs[0]->value;
        memcpy(buf + at, t->data, t->size * sizeof *buf);
        at += t->size;
    }
}

/* The values of input 0 where a CR_OP_KINK op has kinks: its own list, or
 * 0. */
static const double *kink_points(const cr_op *op, size_t *n)
{
    static const double at_zero = 0.0;
    *n = op->kinks ? op->n_kinks : 1;
    return op->kinks ? op->kinks : &at_zero;
}

/* With the values at x - h in k->lo, at x in k->base and the current ones
 * at x + h: writes the reason and returns 1 if a kink input reaches or
 * crosses one of its op's kink points on the way. */
static int kinks_hit(const kink_set *k, double h, char *reason, size_t size)
{
    for (size_t j = 0, at = 0; j < k->n; j++) {
        const cr_node *node = k->nodes[j];
        const cr_tensor *t = &node->inputs[0]->value;
        size_t n_points;
        const double *points = kink_points(node->op, &n_points);
        for (size_t e = 0; e < t->size; e++) {
            const double lo = k->lo[at + e], mid = k->base[at + e], hi = t->data[e];
            if (lo == mid && mid == hi)
                continue; /* not moved by this perturbation */
            for (size_t q = 0; q < n_points; q++) {
                const double c = points[q];
                if (mid != c && lo != c && hi != c && (lo < c) == (mid < c) &&
                    (mid < c) == (hi < c))
                    continue;
                char label[300];
                cr_node_label(node, label, sizeof label);
                if (mid == c)
                    snprintf(reason, size, "%.80s input is at its kink %.12g", label, c);
                else
                    snprintf(reason, size,
                             "%.80s input reaches its kink %.12g within x +- %.3g", label,
                             c, h);
                return 1;
            }
        }
        at += t->size;
    }
    return 0;
}

/* Whether n's op has kinks and an element of its first input lies within
 * two element steps of one: its local check would straddle the kink. */
static int near_kink(const cr_node *n)
{
    if (!(n->op->flags & CR_OP_KINK))
        return 0;
    size_t n_points;
    const double *points = kink_points(n->op, &n_points);
    const cr_tensor *t = &n->inputs[0]->value;
    for (size_t e = 0; e < t->size; e++)
        for (size_t q = 0; q < n_points; q++)
            if (fabs(t->data[e] - points[q]) <=
                2 * STEP_ELEMENT * fmax(1.0, fabs(t->data[e])))
                return 1;
    return 0;
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
static void judge_entry(const cr_gradcheck_options *o, cr_gradcheck_entry *e)
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

/* judge_entry with the report's options, counted in the report. */
static void judge(cr_gradcheck_report *r, cr_gradcheck_entry *e)
{
    judge_entry(&r->opts, e);
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

size_t cr_gradcheck_report_size(const cr_gradcheck_report *r)
{
    return r ? r->n : 0;
}

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
    for (size_t i = 0; i < r->n; i++) {
        const cr_gradcheck_entry *e = &r->entries[i];
        char label[320];
        entry_label(e, label, sizeof label);
        fprintf(f, "  %-20s %16.9g %16.9g %9.2g %9.2g %9.2g  %s%s%s\n", label, e->analytic,
                e->numerical, e->error_estimate, e->abs_err, e->rel_err,
                result_text(e->result), e->reason[0] ? ": " : "", e->reason);
    }
    const cr_gradcheck_entry *w = cr_gradcheck_report_worst(r);
    if (w) {
        char label[320];
        entry_label(w, label, sizeof label);
        fprintf(
            f,
            "  worst: %s: analytic %.9g, numerical %.9g, abs err %.3g (tolerance %.3g)\n",
            label, w->analytic, w->numerical, w->abs_err, w->tolerance);
    }
    for (size_t i = 0; i < r->n_suspects; i++) {
        const cr_gradcheck_suspect *s = &r->suspects[i];
        char label[300];
        cr_node_label(s->node, label, sizeof label);
        fprintf(f,
                "  suspect: %s (op %s), input %zu: its vector-Jacobian product gives %.9g "
                "where finite differences give %.9g (element %zu)\n",
                label, s->node->op->name, s->input, s->analytic, s->numerical, s->index);
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

/* ---- localisation: which op's vector-Jacobian product is wrong ---- */

/* Checks the vjp of op node n for input i on its own: with a fixed
 * pseudo-random upstream r, compares vjp(r) with the numerical gradient of
 * sum(n * r) with respect to input i, computed by re-running only n's
 * forward kernel. Adds a suspect if an element disagrees. */
static cr_status check_local(cr_graph *g, cr_gradcheck_report *r, cr_node *n, size_t i,
                             gsl_rng *rng)
{
    cr_node *up = cr_constant_fill(g, n->value.rank, n->value.shape, 0.0);
    if (!up)
        return g->err.status;
    for (size_t e = 0; e < up->value.size; e++)
        up->value.data[e] = 0.5 + gsl_rng_uniform(rng);
    cr_node *dx = NULL;
    cr_status st = n->op->vjp(g, n, i, up, &dx);
    if (st != CR_OK)
        return st;
    cr_node *in = n->inputs[i];
    double worst = -1.0;
    cr_gradcheck_suspect s = {.node = n, .input = i};
    const size_t size = in->value.size, count = size < LOCAL_MAX ? size : LOCAL_MAX;
    for (size_t k = 0; k < count; k++) {
        const size_t e = count == size ? k : k * size / count;
        double *slot = &in->value.data[e];
        const double save = *slot, h = STEP_ELEMENT * fmax(1.0, fabs(save));
        double f[2];
        for (int side = 0; side < 2; side++) {
            *slot = save + (side ? h : -h);
            n->op->forward(n);
            f[side] = 0.0;
            for (size_t j = 0; j < n->value.size; j++)
                f[side] += n->value.data[j] * up->value.data[j];
        }
        *slot = save;
        const double numerical = (f[1] - f[0]) / (2.0 * h);
        const double analytic = dx ? dx->value.data[e] : 0.0;
        const double err = fabs(analytic - numerical);
        const double tol = r->opts.atol + r->opts.rtol * fabs(numerical) +
                           1e3 * DBL_EPSILON * (fabs(f[0]) + fabs(f[1])) / h;
        if (err > tol && err - tol > worst) {
            worst = err - tol;
            s.index = e;
            s.analytic = analytic;
            s.numerical = numerical;
        }
    }
    n->op->forward(n);
    if (worst < 0)
        return CR_OK;
    if (cr_grow((void **)&r->suspects, &r->cap_suspects, r->n_suspects + 1,
                sizeof *r->suspects) != CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the report");
    r->suspects[r->n_suspects++] = s;
    return CR_OK;
}

/* After a failed check: tests the vjp of every op node between the checked
 * nodes and the output on its own, skipping kinks, and lists the ones that
 * disagree. */
static cr_status localise(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                          cr_node *const *nodes, size_t n_nodes)
{
    const size_t top = out->id;
    unsigned char *dep = mark_between(g, out, nodes, n_nodes);
    gsl_rng rng = {0};
    if (!dep)
        return cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory localising an error");
    cr_status st = CR_OK;
    if (cr_rng_open(&rng, r->opts.seed) != CR_OK)
        st = cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the generator");
    if (st == CR_OK) {
        for (size_t id = 0; id <= top && st == CR_OK; id++) {
            cr_node *n = g->nodes[id];
            if (!g->marks[id] || !dep[id] || n->kind != CR_NODE_OP || !n->op->vjp ||
                near_kink(n))
                continue;
            for (size_t i = 0; i < n->n_inputs && st == CR_OK; i++)
                if (dep[n->inputs[i]->id])
                    st = check_local(g, r, n, i, &rng);
        }
    }
    cr_rng_close(&rng);
    cr_free(dep);
    return st;
}

/* ---- the two modes ---- */

static cr_status check_elements(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                cr_node *x, cr_node *grad)
{
    kink_set kinks;
    cr_status st = kinks_collect(g, out, &x, 1, &kinks);
    if (st != CR_OK)
        return st;
    cr_graph_forward(g, out);
    kinks_snapshot(&kinks, kinks.base);
    const size_t size = x->value.size;
    const size_t count =
        r->opts.max_elements && r->opts.max_elements < size ? r->opts.max_elements : size;
    probe p = {.g = g, .out = out};
    gsl_function fn = {.function = probe_eval, .params = &p};
    for (size_t k = 0; k < count && st == CR_OK; k++) {
        const size_t idx = count == size ? k : k * size / count;
        double *slot = &x->value.data[idx];
        const double save = *slot;
        const double h =
            r->opts.step > 0 ? r->opts.step : STEP_ELEMENT * fmax(1.0, fabs(save));
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
            probe_eval(save - h, &p);
            kinks_snapshot(&kinks, kinks.lo);
            probe_eval(save + h, &p);
            if (kinks_hit(&kinks, h, e->reason, sizeof e->reason))
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
    kinks_free(&kinks);
    return st;
}

/* Fast mode: a direction v over every element of every node. */
static cr_status check_directions(cr_graph *g, cr_gradcheck_report *r, cr_node *out,
                                  cr_node *const *nodes, size_t n_nodes, cr_node **grads)
{
    size_t total = 0;
    for (size_t k = 0; k < n_nodes; k++)
        total += nodes[k]->value.size;
    kink_set kinks;
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
    if ((st = kinks_collect(g, out, nodes, n_nodes, &kinks)) != CR_OK)
        goto done;
    if (cr_rng_open(&rng, r->opts.seed) != CR_OK) {
        st = cr_graph_fail(g, CR_ENOMEM, "gradcheck: out of memory for the generator");
        goto done;
    }
    cr_graph_forward(g, out);
    kinks_snapshot(&kinks, kinks.base);
    probe p = {.g = g, .out = out, .n_dims = total, .slots = slots, .x0 = x0, .v = v};
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
        const double f_lo = probe_eval(-h, &p);
        kinks_snapshot(&kinks, kinks.lo);
        const double f_hi = probe_eval(h, &p);
        if (kinks_hit(&kinks, h, e->reason, sizeof e->reason))
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
    kinks_free(&kinks);
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
        st = cr_graph_forward(g, output); /* also caches the plan probe_eval uses */
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
        st = localise(g, r, output, nodes, n_nodes);
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

/* ---- hand-derived claims ---- */

#define NO_CULPRIT ((size_t)-1)

struct cr_claim_report {
    cr_claim_result *results;
    size_t n;
    size_t counts[2];
    double atol, rtol;
    char loss[300];
};

void cr_claim_report_free(cr_claim_report *r)
{
    if (!r)
        return;
    cr_free(r->results);
    cr_free(r);
}

size_t cr_claim_report_size(const cr_claim_report *r)
{
    return r ? r->n : 0;
}

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
        fprintf(f, "  %-18s %16.9g %16.9g %16.9g  %s\n", c->label, c->claimed, c->autodiff,
                c->numerical, c->result == CR_CHECK_PASS ? "right" : "WRONG");
    }
    for (size_t i = 0; i < r->n; i++) {
        const cr_claim_result *c = &r->results[i];
        if (c->explanation[0])
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
    unsigned char *dep = mark_between(g, of, &wrt, 1);
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
    const double save = *slot, h = STEP_ELEMENT * fmax(1.0, fabs(save));
    probe p = {.g = g, .out = of, .list = list, .n_list = n, .slot = slot};
    gsl_function fn = {.function = probe_eval, .params = &p};
    double result = NAN, abserr = 0.0;
    if (!isfinite(save) || gsl_deriv_central(&fn, save, h, &result, &abserr) != GSL_SUCCESS)
        result = NAN;
    *slot = save;
    cr_eval_nodes(g, list, n);
    cr_free(list);
    c->numerical = result;
    c->error_estimate = abserr;
    cr_gradcheck_entry e = {
        .analytic = c->autodiff, .numerical = result, .error_estimate = abserr};
    const cr_gradcheck_options defaults = cr_gradcheck_defaults();
    judge_entry(&defaults, &e);
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
    const int right =
        fabs(c->claimed - c->autodiff) <= r->atol + r->rtol * fabs(c->autodiff);
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
        snprintf(buf, size, "%.9g", c->autodiff);
    else
        snprintf(buf, size, "%s = %.9g", c->formula, c->autodiff);
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

static cr_status claim_explain(cr_graph *g, cr_claim_report *r, size_t i,
                               const cr_chain *chain)
{
    cr_claim_result *c = &r->results[i];
    char truth[200], more[200] = "";
    const size_t size = sizeof c->explanation;
    if (!c->numerical_agrees)
        snprintf(
            more, sizeof more,
            " (note: the numerical derivative %.9g disagrees with the chain rule: a kink, "
            "or an op with a wrong derivative; see cr_gradcheck)",
            c->numerical);
    if (c->result == CR_CHECK_PASS) {
        snprintf(c->explanation, size, "%s", more + (more[0] ? 1 : 0));
        return CR_OK;
    }
    value_text(c, truth, sizeof truth);
    if (c->local || cr_chain_num_paths(chain) == 0) {
        snprintf(c->explanation, size, "it is %s, not %.9g%s", truth, c->claimed, more);
        return CR_OK;
    }
    c->culprit = find_culprit(r, i, chain);
    if (c->culprit != NO_CULPRIT) {
        const cr_claim_result *w = &r->results[c->culprit];
        value_text(w, truth, sizeof truth);
        snprintf(
            c->explanation, size,
            "it is %.9g, not %.9g; the first local factor on its chain that differs is "
            "%s: you have %.9g, it is %s%s",
            c->autodiff, c->claimed, w->label, w->claimed, truth, more);
        return CR_OK;
    }
    char text[400];
    int len = cr_chain_format(chain, 0, text, sizeof text);
    if (len < 0)
        return cr_graph_fail(g, CR_ENOMEM, "claims: out of memory");
    while (len > 0 && (size_t)len <= sizeof text - 1 && text[len - 1] == '\n')
        text[--len] = '\0';
    snprintf(
        c->explanation, size,
        "it is %.9g, not %.9g; no factor you claimed on its chain is wrong; the chain rule "
        "gives %s%s",
        c->autodiff, c->claimed, text, more);
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
    if (r)
        r->results = cr_calloc(n ? n : 1, sizeof *r->results);
    if (!r || !chains || !r->results) {
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
