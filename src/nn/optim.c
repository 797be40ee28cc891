/*
 * optim.c - optimizers over a graph's parameters (SGD with momentum,
 * Nesterov and weight decay, Adam, AdamW, RMSprop), gradient clipping by
 * global norm and learning-rate schedules. The update rules are written
 * out in include/chainrule/optim.h. State is one buffer allocated at
 * creation; a step allocates nothing and writes parameter values in place.
 */
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct cr_optim {
    cr_graph *graph;
    cr_optim_options opts;
    size_t n_params;  /* parameters known at creation */
    size_t n_elems;   /* their total element count */
    size_t n_buffers; /* moment buffers per element (0, 1 or 2) */
    double *state;    /* n_buffers * n_elems numbers, buffer after buffer */
    size_t steps;
    double grad_norm;
    double beta1_pow, beta2_pow; /* beta1^t and beta2^t for Adam's bias correction */
};

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop"};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])
_Static_assert(N_KINDS == CR_OPTIM_COUNT, "kind_names and cr_optim_kind differ");

const char *cr_optim_kind_name(cr_optim_kind kind)
{
    return (unsigned)kind < N_KINDS ? kind_names[kind] : "unknown";
}

cr_status cr_optim_kind_parse(const char *name, cr_optim_kind *kind, cr_error *err)
{
    for (size_t i = 0; name && i < N_KINDS; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            if (kind)
                *kind = (cr_optim_kind)i;
            return CR_OK;
        }
    }
    return cr_error_set(err, CR_EINVAL, "optim",
                        "unknown optimizer '%s' (expected sgd, adam, adamw or rmsprop)",
                        name ? name : "(null)");
}

cr_optim_options cr_optim_defaults(cr_optim_kind kind)
{
    cr_optim_options o = {.kind = kind,
                          .lr = 0.01,
                          .beta1 = 0.9,
                          .beta2 = 0.999,
                          .eps = 1e-8,
                          .alpha = 0.99,
                          .schedule = CR_LR_CONSTANT,
                          .step_size = 1,
                          .gamma = 1.0,
                          .cosine_steps = 1};
    if (kind == CR_OPTIM_ADAM || kind == CR_OPTIM_ADAMW)
        o.lr = 0.001;
    if (kind == CR_OPTIM_ADAMW)
        o.weight_decay = 0.01;
    return o;
}

/* A number in [lo, hi) (hi_open) or [lo, hi]. */
static int in_range(double x, double lo, double hi, int hi_open)
{
    return isfinite(x) && x >= lo && (hi_open ? x < hi : x <= hi);
}

cr_status cr_optim_check_options(const cr_optim_options *o, cr_error *err)
{
    const char *w = "optim";
    if (!o)
        return cr_error_set(err, CR_EINVAL, w, "options are NULL");
    if ((unsigned)o->kind >= N_KINDS)
        return cr_error_set(err, CR_EINVAL, w, "unknown optimizer kind %d", (int)o->kind);
    if (!(isfinite(o->lr) && o->lr > 0))
        return cr_error_set(err, CR_EINVAL, w,
                            "learning rate must be positive and finite, got %g", o->lr);
    if (!in_range(o->momentum, 0, 1, 1))
        return cr_error_set(err, CR_EINVAL, w, "momentum must be in [0, 1), got %g",
                            o->momentum);
    if (o->nesterov && !(o->kind == CR_OPTIM_SGD && o->momentum > 0))
        return cr_error_set(err, CR_EINVAL, w,
                            "Nesterov momentum needs SGD with a momentum above 0");
    if (!(isfinite(o->weight_decay) && o->weight_decay >= 0))
        return cr_error_set(err, CR_EINVAL, w,
                            "weight decay must be finite and not negative, got %g",
                            o->weight_decay);
    if (!in_range(o->beta1, 0, 1, 1))
        return cr_error_set(err, CR_EINVAL, w, "beta1 must be in [0, 1), got %g", o->beta1);
    if (!in_range(o->beta2, 0, 1, 1))
        return cr_error_set(err, CR_EINVAL, w, "beta2 must be in [0, 1), got %g", o->beta2);
    if (!(isfinite(o->eps) && o->eps > 0))
        return cr_error_set(err, CR_EINVAL, w, "eps must be positive and finite, got %g",
                            o->eps);
    if (!in_range(o->alpha, 0, 1, 1))
        return cr_error_set(err, CR_EINVAL, w, "RMSprop alpha must be in [0, 1), got %g",
                            o->alpha);
    if (!(isfinite(o->clip_norm) && o->clip_norm >= 0))
        return cr_error_set(err, CR_EINVAL, w,
                            "clip norm must be finite and not negative (0: off), got %g",
                            o->clip_norm);
    switch (o->schedule) {
    case CR_LR_CONSTANT:
        break;
    case CR_LR_STEP:
        if (o->step_size < 1)
            return cr_error_set(err, CR_EINVAL, w, "step schedule: step_size must be >= 1");
        if (!(isfinite(o->gamma) && o->gamma > 0 && o->gamma <= 1))
            return cr_error_set(err, CR_EINVAL, w,
                                "step schedule: gamma must be in (0, 1], got %g", o->gamma);
        break;
    case CR_LR_COSINE:
        if (o->cosine_steps < 1)
            return cr_error_set(err, CR_EINVAL, w,
                                "cosine schedule: cosine_steps must be >= 1");
        if (!in_range(o->lr_min, 0, o->lr, 0))
            return cr_error_set(err, CR_EINVAL, w,
                                "cosine schedule: lr_min must be in [0, lr=%g], got %g",
                                o->lr, o->lr_min);
        break;
    default:
        return cr_error_set(err, CR_EINVAL, w, "unknown learning-rate schedule %d",
                            (int)o->schedule);
    }
    return CR_OK;
}

double cr_optim_lr_at(const cr_optim_options *o, size_t steps)
{
    if (!o)
        return NAN;
    switch (o->schedule) {
    case CR_LR_STEP:
        return o->lr * pow(o->gamma, (double)(steps / o->step_size));
    case CR_LR_COSINE: {
        double t = steps < o->cosine_steps ? (double)steps : (double)o->cosine_steps;
        double pi = acos(-1.0);
        return o->lr_min +
               (o->lr - o->lr_min) * 0.5 * (1.0 + cos(pi * t / (double)o->cosine_steps));
    }
    default:
        return o->lr;
    }
}

static size_t buffers_for(const cr_optim_options *o)
{
    switch (o->kind) {
    case CR_OPTIM_SGD:
        return o->momentum > 0 ? 1 : 0;
    case CR_OPTIM_RMSPROP:
        return o->momentum > 0 ? 2 : 1;
    default:
        return 2;
    }
}

cr_optim *cr_optim_new(cr_graph *g, const cr_optim_options *opts, cr_error *err)
{
    if (!g) {
        cr_error_set(err, CR_EINVAL, "optim", "graph is NULL");
        return NULL;
    }
    cr_optim_options o = opts ? *opts : cr_optim_defaults(CR_OPTIM_SGD);
    if (cr_optim_check_options(&o, err) != CR_OK)
        return NULL;
    size_t n_params = cr_graph_num_params(g), n_elems = 0;
    for (size_t i = 0; i < n_params; i++) {
        size_t size = cr_graph_param(g, i)->value.size;
        if (size > SIZE_MAX - n_elems) {
            cr_error_set(err, CR_ERANGE, "optim", "parameter sizes overflow");
            return NULL;
        }
        n_elems += size;
    }
    cr_optim *opt = cr_calloc(1, sizeof *opt);
    size_t n_buffers = buffers_for(&o);
    double *state = NULL;
    if (opt && n_buffers && n_elems) {
        state = cr_calloc(n_buffers * n_elems, sizeof *state);
        if (!state || n_elems > SIZE_MAX / n_buffers) {
            cr_free(state);
            cr_free(opt);
            opt = NULL;
        }
    }
    if (!opt) {
        cr_error_set(err, CR_ENOMEM, "optim",
                     "out of memory allocating optimizer state for %zu parameters",
                     n_elems);
        return NULL;
    }
    opt->graph = g;
    opt->opts = o;
    opt->n_params = n_params;
    opt->n_elems = n_elems;
    opt->n_buffers = state ? n_buffers : 0;
    opt->state = state;
    cr_optim_reset(opt);
    return opt;
}

void cr_optim_free(cr_optim *opt)
{
    if (!opt)
        return;
    cr_free(opt->state);
    cr_free(opt);
}

void cr_optim_reset(cr_optim *opt)
{
    if (!opt)
        return;
    if (opt->state)
        memset(opt->state, 0, opt->n_buffers * opt->n_elems * sizeof *opt->state);
    opt->steps = 0;
    opt->grad_norm = 0;
    opt->beta1_pow = 1;
    opt->beta2_pow = 1;
}

size_t cr_optim_steps(const cr_optim *opt) { return opt ? opt->steps : 0; }
double cr_optim_grad_norm(const cr_optim *opt) { return opt ? opt->grad_norm : NAN; }
double cr_optim_lr(const cr_optim *opt)
{
    return opt ? cr_optim_lr_at(&opt->opts, opt->steps) : NAN;
}
const cr_optim_options *cr_optim_get_options(const cr_optim *opt)
{
    return opt ? &opt->opts : NULL;
}

/* Checks that every parameter has a gradient of its size. *known_finite
 * says whether the last backward's trap already proved every one finite
 * (cr_grad_known_finite), so that nothing needs scanning for NaN. */
static cr_status check_grads_present(cr_optim *opt, int *known_finite)
{
    cr_graph *g = opt->graph;
    if (cr_graph_num_params(g) != opt->n_params)
        return cr_graph_fail(g, CR_ESTATE,
                             "optimizer step: the graph has %zu parameters, the optimizer "
                             "was created for %zu",
                             cr_graph_num_params(g), opt->n_params);
    *known_finite = 1;
    for (size_t p = 0; p < opt->n_params; p++) {
        cr_node *n = cr_graph_param(g, p);
        const cr_tensor *gr = cr_node_grad(n);
        if (!gr || gr->size != n->value.size) {
            char label[64];
            cr_node_label(n, label, sizeof label);
            return cr_graph_fail(g, CR_ESTATE,
                                 "optimizer step: parameter '%s' has no gradient; call "
                                 "cr_graph_backward first",
                                 label);
        }
        *known_finite = *known_finite && cr_grad_known_finite(n);
    }
    return CR_OK;
}

/* The global L2 norm of the gradients in *norm, refusing a NaN or an
 * infinity. A finite sum of squares proves every element finite; only a
 * sum that is not finite is searched for the offending element (none is
 * found when the squares merely overflowed). */
static cr_status grads_norm(cr_optim *opt, double *norm)
{
    cr_graph *g = opt->graph;
    double sum = 0;
    for (size_t p = 0; p < opt->n_params; p++) {
        cr_node *n = cr_graph_param(g, p);
        const cr_tensor *gr = cr_node_grad(n);
        const double part = cr_sum_squares(gr->data, gr->size);
        if (!isfinite(part)) {
            const size_t i = cr_first_nonfinite(gr->data, gr->size);
            if (i < gr->size) {
                char label[64];
                cr_node_label(n, label, sizeof label);
                return cr_graph_fail(g, CR_EDOMAIN,
                                     "optimizer step: gradient of '%s' element %zu is %g",
                                     label, i, gr->data[i]);
            }
        }
        sum += part;
    }
    *norm = sqrt(sum);
    return CR_OK;
}

/* The numbers one step uses, the same for every element. */
typedef struct step_coeffs {
    double scale; /* clipping factor applied to every gradient */
    double lr, wd, mu;
    double adam_step; /* Adam: lr / (1 - beta1^t) */
    double adam_rs2;  /* Adam: 1 / sqrt(1 - beta2^t) */
} step_coeffs;

/* One kernel per rule over one parameter's n elements: w the values, g the
 * gradient, b0 and b1 the parameter's slices of the moment buffers (NULL
 * when the rule does not use them).
 *
 * SGD, with momentum when v is not NULL, returns the sum of squares of g,
 * computed exactly as cr_sum_squares does, so a step whose gradients are
 * known finite gets its norm from this one pass. */
CR_AVX2_CLONE static double sgd_update(const cr_optim_options *o, const step_coeffs *c,
                                       double *restrict w, const double *restrict g,
                                       double *restrict v, size_t n)
{
    const double scale = c->scale, wd = c->wd, mu = c->mu, lr = c->lr;
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    if (!v) {
        for (; i + CR_BLOCK <= n; i += CR_BLOCK) {
            CR_UNROLL_BLOCK
            for (size_t j = 0; j < CR_BLOCK; j++) {
                acc[j] += g[i + j] * g[i + j];
                w[i + j] -= lr * (g[i + j] * scale + wd * w[i + j]);
            }
        }
        for (; i < n; i++) {
            acc[0] += g[i] * g[i];
            w[i] -= lr * (g[i] * scale + wd * w[i]);
        }
        return cr_sum_of_block(acc);
    }
    const int nesterov = o->nesterov;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK) {
        CR_UNROLL_BLOCK
        for (size_t j = 0; j < CR_BLOCK; j++) {
            const double gi = g[i + j] * scale + wd * w[i + j];
            acc[j] += g[i + j] * g[i + j];
            v[i + j] = mu * v[i + j] + gi;
            w[i + j] -= lr * (nesterov ? gi + mu * v[i + j] : v[i + j]);
        }
    }
    for (; i < n; i++) {
        const double gi = g[i] * scale + wd * w[i];
        acc[0] += g[i] * g[i];
        v[i] = mu * v[i] + gi;
        w[i] -= lr * (nesterov ? gi + mu * v[i] : v[i]);
    }
    return cr_sum_of_block(acc);
}

static void adam_update(const cr_optim_options *o, const step_coeffs *c, double *restrict w,
                        const double *restrict g, double *restrict m, double *restrict s,
                        size_t n)
{
    int decoupled = o->kind == CR_OPTIM_ADAMW;
    double b1 = o->beta1, b2 = o->beta2, eps = o->eps, shrink = 1 - c->lr * c->wd;
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] * c->scale;
        if (decoupled)
            w[i] *= shrink; /* w -= lr*wd*w, outside the moments */
        else
            gi += c->wd * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        s[i] = b2 * s[i] + (1 - b2) * gi * gi;
        /* lr * (m/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps) */
        w[i] -= c->adam_step * m[i] / (sqrt(s[i]) * c->adam_rs2 + eps);
    }
}

static void rmsprop_update(const cr_optim_options *o, const step_coeffs *c,
                           double *restrict w, const double *restrict g, double *restrict s,
                           double *restrict v, size_t n)
{
    double alpha = o->alpha, eps = o->eps;
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] * c->scale + c->wd * w[i];
        s[i] = alpha * s[i] + (1 - alpha) * gi * gi;
        gi /= sqrt(s[i]) + eps;
        if (v) {
            v[i] = c->mu * v[i] + gi;
            gi = v[i];
        }
        w[i] -= c->lr * gi;
    }
}

cr_status cr_optim_step(cr_optim *opt)
{
    if (!opt)
        return CR_EINVAL;
    const cr_optim_options *o = &opt->opts;
    int known_finite = 0;
    cr_status st = check_grads_present(opt, &known_finite);
    if (st != CR_OK)
        return st;
    /* Gradients the trap already scanned need no pass of their own unless
     * clipping needs their norm first: SGD's update pass then sums the
     * squares too. */
    const int norm_in_update =
        known_finite && o->kind == CR_OPTIM_SGD && !(o->clip_norm > 0);
    double norm = 0;
    if (!norm_in_update && (st = grads_norm(opt, &norm)) != CR_OK)
        return st;
    step_coeffs c = {
        .scale = 1.0, .lr = cr_optim_lr(opt), .wd = o->weight_decay, .mu = o->momentum};
    if (o->clip_norm > 0 && norm > o->clip_norm)
        c.scale = o->clip_norm / norm;
    if (o->kind == CR_OPTIM_ADAM || o->kind == CR_OPTIM_ADAMW) {
        opt->beta1_pow *= o->beta1;
        opt->beta2_pow *= o->beta2;
        c.adam_step = c.lr / (1 - opt->beta1_pow);
        c.adam_rs2 = 1 / sqrt(1 - opt->beta2_pow);
    }
    double *buf0 = opt->n_buffers > 0 ? opt->state : NULL,
           *buf1 = opt->n_buffers > 1 ? opt->state + opt->n_elems : NULL;
    size_t k = 0; /* element offset into the state buffers */
    double sum_squares = 0;
    for (size_t p = 0; p < opt->n_params; p++) {
        cr_node *n = cr_graph_param(opt->graph, p);
        const double *g = cr_node_grad(n)->data;
        double *w = n->value.data, *b0 = buf0 ? buf0 + k : NULL,
               *b1 = buf1 ? buf1 + k : NULL;
        size_t len = n->value.size;
        switch (o->kind) {
        case CR_OPTIM_SGD:
            sum_squares += sgd_update(o, &c, w, g, b0, len);
            break;
        case CR_OPTIM_ADAM:
        case CR_OPTIM_ADAMW:
            adam_update(o, &c, w, g, b0, b1, len);
            break;
        case CR_OPTIM_RMSPROP:
            rmsprop_update(o, &c, w, g, b0, b1, len);
            break;
        case CR_OPTIM_COUNT: /* not a kind; the options were validated */
            break;
        }
        k += len;
    }
    opt->grad_norm = norm_in_update ? sqrt(sum_squares) : norm;
    opt->steps++;
    return CR_OK;
}
