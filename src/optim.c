/*
 * optim.c - optimizers over a graph's parameters (SGD with momentum,
 * Nesterov and weight decay, Adam, AdamW, RMSprop), gradient clipping by
 * global norm and learning-rate schedules. The update rules are written
 * out in include/chainrule/optim.h. State is one buffer allocated at
 * creation; a step allocates nothing and writes parameter values in place.
 */
#include "internal.h"

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
    if (opt->state)
        memset(opt->state, 0, opt->n_buffers * opt->n_elems * sizeof *opt->state);
    opt->steps = 0;
    opt->grad_norm = 0;
    opt->beta1_pow = 1;
    opt->beta2_pow = 1;
}

size_t cr_optim_steps(const cr_optim *opt)
{
    return opt->steps;
}
double cr_optim_grad_norm(const cr_optim *opt)
{
    return opt->grad_norm;
}
double cr_optim_lr(const cr_optim *opt)
{
    return cr_optim_lr_at(&opt->opts, opt->steps);
}
const cr_optim_options *cr_optim_get_options(const cr_optim *opt)
{
    return &opt->opts;
}

/* Checks that every parameter has a finite gradient of its size and
 * returns the global L2 norm in *norm. */
static cr_status check_grads(cr_optim *opt, double *norm)
{
    cr_graph *g = opt->graph;
    if (cr_graph_num_params(g) != opt->n_params)
        return cr_graph_fail(g, CR_ESTATE,
                             "optimizer step: the graph has %zu parameters, the optimizer "
                             "was created for %zu",
                             cr_graph_num_params(g), opt->n_params);
    double sum = 0;
    for (size_t p = 0; p < opt->n_params; p++) {
        cr_node *n = cr_graph_param(g, p);
        const cr_tensor *gr = cr_node_grad(n);
        char label[64];
        if (!gr || gr->size != n->value.size) {
            cr_node_label(n, label, sizeof label);
            return cr_graph_fail(g, CR_ESTATE,
                                 "optimizer step: parameter '%s' has no gradient; call "
                                 "cr_graph_backward first",
                                 label);
        }
        for (size_t i = 0; i < gr->size; i++) {
            double x = gr->data[i];
            if (!isfinite(x)) {
                cr_node_label(n, label, sizeof label);
                return cr_graph_fail(g, CR_EDOMAIN,
                                     "optimizer step: gradient of '%s' element %zu is %g",
                                     label, i, x);
            }
            sum += x * x;
        }
    }
    *norm = sqrt(sum);
    return CR_OK;
}

cr_status cr_optim_step(cr_optim *opt)
{
    double norm = 0;
    cr_status st = check_grads(opt, &norm);
    if (st != CR_OK)
        return st;
    const cr_optim_options *o = &opt->opts;
    double scale = 1.0;
    if (o->clip_norm > 0 && norm > o->clip_norm)
        scale = o->clip_norm / norm;
    double lr = cr_optim_lr(opt), wd = o->weight_decay, mu = o->momentum;
    double b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    double bc1 = 1, bc2 = 1;
    if (o->kind == CR_OPTIM_ADAM || o->kind == CR_OPTIM_ADAMW) {
        opt->beta1_pow *= b1;
        opt->beta2_pow *= b2;
        bc1 = 1 - opt->beta1_pow;
        bc2 = 1 - opt->beta2_pow;
    }
    double *buf0 = opt->state,
           *buf1 = opt->n_buffers > 1 ? opt->state + opt->n_elems : NULL;
    size_t k = 0; /* element offset into the state buffers */
    for (size_t p = 0; p < opt->n_params; p++) {
        cr_node *n = cr_graph_param(opt->graph, p);
        const double *grad = cr_node_grad(n)->data;
        double *w = n->value.data;
        for (size_t i = 0; i < n->value.size; i++, k++) {
            double gi = grad[i] * scale;
            switch (o->kind) {
            case CR_OPTIM_SGD:
                gi += wd * w[i];
                if (mu > 0) {
                    buf0[k] = mu * buf0[k] + gi;
                    gi = o->nesterov ? gi + mu * buf0[k] : buf0[k];
                }
                w[i] -= lr * gi;
                break;
            case CR_OPTIM_ADAM:
            case CR_OPTIM_ADAMW:
                if (o->kind == CR_OPTIM_ADAMW)
                    w[i] -= lr * wd * w[i]; /* decoupled: not in the moments */
                else
                    gi += wd * w[i];
                buf0[k] = b1 * buf0[k] + (1 - b1) * gi;
                buf1[k] = b2 * buf1[k] + (1 - b2) * gi * gi;
                w[i] -= lr * (buf0[k] / bc1) / (sqrt(buf1[k] / bc2) + eps);
                break;
            case CR_OPTIM_RMSPROP:
                gi += wd * w[i];
                buf0[k] = o->alpha * buf0[k] + (1 - o->alpha) * gi * gi;
                gi /= sqrt(buf0[k]) + eps;
                if (mu > 0) {
                    buf1[k] = mu * buf1[k] + gi;
                    gi = buf1[k];
                }
                w[i] -= lr * gi;
                break;
            }
        }
    }
    opt->grad_norm = norm;
    opt->steps++;
    return CR_OK;
}
