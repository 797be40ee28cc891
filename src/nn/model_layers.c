/*
 * model_layers.c - the builders of the non-recurrent layer kinds (the
 * table is CR_LAYER_LIST, chainrule/model.h): each checks its spec's
 * fields against its input, makes (or finds again) its parameters with
 * cr_model_param, and builds its nodes from the existing ops.
 */
#include "nn/model_internal.h"

#include <math.h>
#include <stdio.h>

/* Widths are capped so that weight counts and byte sizes fit. */
#define MAX_UNITS ((size_t)1 << 24)

static cr_status bad(cr_error *err, cr_status st, const char *fmt, const char *a, size_t v)
{
    return cr_error_set(err, st, "model", fmt, a, v);
}

static cr_status need_units(const cr_layer_spec *s, cr_error *err)
{
    if (s->units < 1 || s->units > MAX_UNITS)
        return bad(err, CR_EINVAL, "%s %zu: must be 1 to 2^24", "units", s->units);
    return CR_OK;
}

/* The input's rank per sample (the node's rank less the batch axis). */
static int sample_rank(const cr_node *in) { return cr_tensor_rank(cr_node_value(in)) - 1; }
static size_t dim(const cr_node *in, int axis)
{
    return cr_tensor_dim(cr_node_value(in), axis);
}

static cr_status done(cr_model *m, cr_node *n, cr_node **out, cr_error *err)
{
    if (!n)
        return cr_model_graph_error(m, err);
    *out = n;
    return CR_OK;
}

/* The bias of a layer with `units` outputs (parameter j), or NULL without. */
static cr_status bias_param(cr_model *m, size_t i, size_t j, size_t units, cr_node **b,
                            cr_error *err)
{
    *b = NULL;
    if (!m->layers[i].spec.bias)
        return CR_OK;
    *b = cr_model_param(m, i, j, "b", 1, &units, CR_INIT_CONST, 1, 1, 0.0, 0.0, err);
    return *b ? CR_OK : err->status;
}

cr_status cr_layer_build_dense(cr_model *m, size_t i, cr_node *in, cr_node **out,
                               cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    cr_status st = need_units(s, err);
    if (st != CR_OK)
        return st;
    const int r = sample_rank(in);
    if (r < 1)
        return cr_error_set(err, CR_ESHAPE, "model",
                            "dense needs at least one feature axis");
    const size_t shape[2] = {dim(in, r), s->units};
    cr_node *w =
        cr_model_param(m, i, 0, "W", 2, shape, s->init, shape[0], shape[1], 0.0, 0.0, err);
    cr_node *b;
    if (!w || bias_param(m, i, 1, s->units, &b, err) != CR_OK)
        return err->status;
    if (r == 1) /* x W + b as the MLP computes it */
        return done(m, cr_sop(m->g, 1, &in, &w, b), out, err);
    cr_node *y = cr_matmul(m->g, in, w, 0);
    return done(m, b ? cr_add(m->g, y, b) : y, out, err);
}

/* Checks a window of n axes (kernel >= 1, padding at most half the kernel
 * for pooling) and fills the pooling stride's default. */
static cr_status window(const cr_layer_spec *s, int n, int pool, size_t stride[2],
                        cr_error *err)
{
    for (int a = 0; a < n; a++) {
        if (s->kernel[a] < 1 || s->kernel[a] > MAX_UNITS)
            return bad(err, CR_EINVAL, "%s %zu: must be at least 1", "kernel",
                       s->kernel[a]);
        stride[a] = s->stride[a] ? s->stride[a] : pool ? s->kernel[a] : 1;
        if (pool && 2 * s->pad[a] > s->kernel[a])
            return bad(err, CR_EINVAL, "%s %zu: at most half the kernel", "padding",
                       s->pad[a]);
    }
    return CR_OK;
}

static cr_status conv(cr_model *m, size_t i, cr_node *in, cr_node **out, int n,
                      cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    size_t stride[2];
    cr_status st = need_units(s, err);
    if (st == CR_OK)
        st = window(s, n, 0, stride, err);
    if (st != CR_OK)
        return st;
    if (sample_rank(in) != n + 1)
        return cr_error_set(err, CR_ESHAPE, "model", "%s needs a [channels, %s] input",
                            cr_layer_kind_name(s->kind),
                            n == 1 ? "length" : "height, width");
    const size_t c = dim(in, 1);
    size_t shape[4] = {s->units, c, s->kernel[0], s->kernel[1]}, k = s->kernel[0];
    if (n == 2)
        k *= s->kernel[1];
    cr_node *w = cr_model_param(m, i, 0, "W", n + 2, shape, s->init, c * k, s->units * k,
                                0.0, 0.0, err);
    cr_node *b;
    if (!w || bias_param(m, i, 1, s->units, &b, err) != CR_OK)
        return err->status;
    const size_t one[2] = {1, 1};
    if (n == 1)
        return done(m, cr_conv1d(m->g, in, w, b, stride[0], s->pad[0], 1, 1), out, err);
    return done(m, cr_conv2d(m->g, in, w, b, stride, s->pad, one, 1), out, err);
}

cr_status cr_layer_build_conv1d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                cr_error *err)
{
    return conv(m, i, in, out, 1, err);
}

cr_status cr_layer_build_conv2d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                cr_error *err)
{
    return conv(m, i, in, out, 2, err);
}

static cr_status pool(cr_model *m, size_t i, cr_node *in, cr_node **out, int n, int max,
                      cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    size_t stride[2];
    cr_status st = window(s, n, 1, stride, err);
    if (st != CR_OK)
        return st;
    if (sample_rank(in) != n + 1)
        return cr_error_set(err, CR_ESHAPE, "model", "%s needs a [channels, %s] input",
                            cr_layer_kind_name(s->kind),
                            n == 1 ? "length" : "height, width");
    cr_graph *g = m->g;
    cr_node *y;
    if (n == 1)
        y = max ? cr_max_pool1d(g, in, s->kernel[0], stride[0], s->pad[0])
                : cr_avg_pool1d(g, in, s->kernel[0], stride[0], s->pad[0]);
    else
        y = max ? cr_max_pool2d(g, in, s->kernel, stride, s->pad)
                : cr_avg_pool2d(g, in, s->kernel, stride, s->pad);
    return done(m, y, out, err);
}

cr_status cr_layer_build_maxpool1d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    return pool(m, i, in, out, 1, 1, err);
}

cr_status cr_layer_build_avgpool1d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    return pool(m, i, in, out, 1, 0, err);
}

cr_status cr_layer_build_maxpool2d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    return pool(m, i, in, out, 2, 1, err);
}

cr_status cr_layer_build_avgpool2d(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    return pool(m, i, in, out, 2, 0, err);
}

cr_status cr_layer_build_flatten(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                 cr_error *err)
{
    (void)i;
    if (sample_rank(in) == 1) { /* already flat */
        *out = in;
        return CR_OK;
    }
    return done(m, cr_flatten(m->g, in, 1), out, err);
}

cr_status cr_layer_build_dropout(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                 cr_error *err)
{
    const double p = m->layers[i].spec.rate;
    if (!(p >= 0.0 && p < 1.0))
        return cr_error_set(err, CR_EINVAL, "model", "rate %g: must be in [0, 1)", p);
    return done(m, cr_dropout(m->g, in, p), out, err);
}

static cr_status check_eps(const cr_layer_spec *s, cr_error *err)
{
    if (!(s->eps >= 0.0) || !isfinite(s->eps))
        return cr_error_set(err, CR_EINVAL, "model", "eps %g: must be finite and >= 0",
                            s->eps);
    return CR_OK;
}

/* A normalisation's gain (ones) and bias (zeros), both [n]. */
static cr_status gain_bias(cr_model *m, size_t i, size_t n, cr_node **gamma, cr_node **beta,
                           cr_error *err)
{
    *gamma = cr_model_param(m, i, 0, "gamma", 1, &n, CR_INIT_CONST, 1, 1, 1.0, 0, err);
    *beta = *gamma
                ? cr_model_param(m, i, 1, "beta", 1, &n, CR_INIT_CONST, 1, 1, 0.0, 0, err)
                : NULL;
    return *beta ? CR_OK : err->status;
}

cr_status cr_layer_build_layernorm(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    cr_status st = check_eps(s, err);
    if (st != CR_OK)
        return st;
    const int r = sample_rank(in);
    if (r < 1)
        return cr_error_set(err, CR_ESHAPE, "model", "layernorm needs a feature axis");
    const size_t d = dim(in, r);
    cr_node *gamma, *beta;
    if (gain_bias(m, i, d, &gamma, &beta, err) != CR_OK)
        return err->status;
    return done(m, cr_layer_norm(m->g, in, 1, gamma, beta, s->eps), out, err);
}

cr_status cr_layer_build_batchnorm(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                   cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    cr_status st = check_eps(s, err);
    if (st != CR_OK)
        return st;
    if (!(s->momentum >= 0.0 && s->momentum <= 1.0))
        return cr_error_set(err, CR_EINVAL, "model", "momentum %g: must be in [0, 1]",
                            s->momentum);
    if (sample_rank(in) < 1)
        return cr_error_set(err, CR_ESHAPE, "model", "batchnorm needs a channel axis");
    const size_t c = dim(in, 1);
    cr_node *gamma, *beta;
    if (gain_bias(m, i, c, &gamma, &beta, err) != CR_OK)
        return err->status;
    return done(m, cr_batch_norm(m->g, in, gamma, beta, s->momentum, s->eps), out, err);
}

cr_status cr_layer_build_embed(cr_model *m, size_t i, cr_node *in, cr_node **out,
                               cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    cr_status st = need_units(s, err);
    if (st != CR_OK)
        return st;
    if (s->vocab < 1 || s->vocab > MAX_UNITS)
        return bad(err, CR_EINVAL, "%s %zu: must be 1 to 2^24", "vocab", s->vocab);
    if (sample_rank(in) > 1)
        return cr_error_set(err, CR_ESHAPE, "model",
                            "embed needs indices: one per sample or a [steps] sequence");
    const size_t shape[2] = {s->vocab, s->units};
    cr_node *e =
        cr_model_param(m, i, 0, "E", 2, shape, s->init, s->vocab, s->units, 0.0, 0.0, err);
    if (!e)
        return err->status;
    return done(m, cr_index_select(m->g, e, 0, in), out, err);
}

cr_status cr_layer_build_activation(cr_model *m, size_t i, cr_node *in, cr_node **out,
                                    cr_error *err)
{
    const cr_layer_spec *s = &m->layers[i].spec;
    if ((unsigned)s->act >= CR_ACT_COUNT)
        return cr_error_set(err, CR_EINVAL, "model", "activation %d is unknown",
                            (int)s->act);
    if ((s->act == CR_ACT_LEAKY_RELU || s->act == CR_ACT_ELU) && !isfinite(s->alpha))
        return cr_error_set(err, CR_EINVAL, "model", "alpha %g is not finite", s->alpha);
    const double alpha = s->alpha != 0.0 ? s->alpha : cr_activation_default_alpha(s->act);
    return done(m, cr_nn_activate(m->g, s->act, alpha, in), out, err);
}
