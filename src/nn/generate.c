/*
 * generate.c - sampling text from a next-symbol model (cr_model_generate,
 * chainrule/recurrent.h): the window of the last T symbols, the model run
 * on one row (a copy built for batch 1 with the same parameters when the
 * model's batch is larger), and a draw from the softmax of the last
 * position's output at a temperature, from a seeded generator.
 */
#include "nn/model_internal.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* What the sampler needs to know about m: T, V and where the logits of
 * the last position are in the output row; CR_EINVAL with the reason. */
typedef struct gen_shape {
    size_t steps, vocab, last; /* last: offset of the last position's V values */
    int probs;                 /* the output is a softmax: take its log */
    const unsigned char *symbols;
} gen_shape;

static cr_status gen_check(const cr_model *m, gen_shape *s, cr_error *err)
{
    s->symbols = cr_model_vocab(m, &s->vocab);
    if (!s->symbols)
        return cr_error_set(err, CR_EINVAL, "generate",
                            "the model has no vocabulary: it was not trained on text");
    size_t in[CR_MAX_RANK], out[CR_MAX_RANK];
    if (cr_model_layer_shape(m, (size_t)-1, in) != 1)
        return cr_error_set(err, CR_EINVAL, "generate",
                            "the model's input is not a window of symbol indices [T]");
    const int r = cr_model_layer_shape(m, m->n_layers - 1, out);
    if ((r != 1 && r != 2) || out[r - 1] != s->vocab || (r == 2 && out[0] != in[0]))
        return cr_error_set(err, CR_EINVAL, "generate",
                            "the model's output is not [%zu, %zu] or [%zu] (one score per "
                            "symbol of its vocabulary)",
                            in[0], s->vocab, s->vocab);
    s->steps = in[0];
    s->last = r == 2 ? (in[0] - 1) * s->vocab : 0;
    const cr_layer_spec *l = &m->layers[m->n_layers - 1].spec;
    s->probs = l->kind == CR_LAYER_ACTIVATION && l->act == CR_ACT_SOFTMAX;
    return CR_OK;
}

/* A copy of m built for one row, or NULL (m itself is used) when m's batch
 * is 1, it has batch norm (whose running statistics are not parameters),
 * or the copy cannot be built. */
static cr_model *one_row_copy(const cr_model *m)
{
    if (m->opts.batch == 1)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < m->n_layers; i++)
        if (m->layers[i].spec.kind == CR_LAYER_BATCHNORM)
            return NULL;
    for (size_t j = 0; j < m->n_params; j++)
        total += cr_tensor_size(cr_node_value(m->params[j]));
    double *values = cr_calloc(total ? total : 1, sizeof *values);
    if (!values)
        return NULL;
    double *p = values;
    for (size_t j = 0; j < m->n_params; j++) {
        const cr_tensor *t = cr_node_value(m->params[j]);
        memcpy(p, cr_tensor_data(t), cr_tensor_size(t) * sizeof *p);
        p += cr_tensor_size(t);
    }
    cr_layer_spec *specs = cr_calloc(m->n_layers, sizeof *specs);
    cr_model *c = NULL;
    if (specs) {
        for (size_t i = 0; i < m->n_layers; i++)
            specs[i] = m->layers[i].spec;
        cr_model_options o = m->opts;
        o.batch = 1;
        c = cr_model_build(specs, m->n_layers, m->in_rank, m->in_shape, &o, values, NULL);
    }
    if (c && ((m->mean && cr_model_set_input_stats(c, m->mean, m->std, NULL) != CR_OK) ||
              cr_model_set_vocab(c, m->vocab, m->n_vocab, NULL) != CR_OK)) {
        cr_model_free(c);
        c = NULL;
    }
    cr_free(specs);
    cr_free(values);
    return c;
}

/* Draws a symbol id from softmax(z / temperature) (z: log-probabilities
 * when probs). */
static size_t draw(const double *z, size_t v, int probs, double temperature, gsl_rng *r,
                   double *w)
{
    double top = -INFINITY, sum = 0;
    for (size_t k = 0; k < v; k++) {
        w[k] = (probs ? log(z[k]) : z[k]) / temperature;
        top = w[k] > top ? w[k] : top;
    }
    for (size_t k = 0; k < v; k++)
        sum += (w[k] = exp(w[k] - top));
    double u = gsl_rng_uniform(r) * sum;
    for (size_t k = 0; k < v; k++) {
        if (u < w[k])
            return k;
        u -= w[k];
    }
    return v - 1; /* rounding left u at the very end */
}

/* Pushes id at the end of the window of T ids. */
static void push(double *window, size_t steps, double id)
{
    memmove(window, window + 1, (steps - 1) * sizeof *window);
    window[steps - 1] = id;
}

/* The sampling loop on the model run (its one row), from the window. */
static cr_status sample(cr_model *run, const gen_shape *s, size_t length,
                        double temperature, unsigned char *out, double *window, double *w,
                        gsl_rng *r, cr_error *err)
{
    cr_model_head *h = cr_model_head_get(run, run->opts.batch, err);
    if (!h)
        return err->status;
    cr_node *y = h->out[run->n_layers - 1];
    for (size_t k = 0; k < length; k++) {
        cr_model_head_load(run, h, &(cr_mlp_rows){.f64 = window}, NULL, NULL, 0, 1);
        if (cr_graph_forward(run->g, y) != CR_OK)
            return cr_model_graph_error(run, err);
        const double *z = y->value.data + s->last;
        for (size_t j = 0; j < s->vocab; j++)
            if (!isfinite(z[j]))
                return cr_error_set(err, CR_EDOMAIN, "generate",
                                    "symbol %zu: the model's output %zu is %g", k + 1, j,
                                    z[j]);
        const size_t id = draw(z, s->vocab, s->probs, temperature, r, w);
        out[k] = s->symbols[id];
        push(window, s->steps, (double)id);
    }
    return CR_OK;
}

cr_status cr_model_generate(cr_model *m, size_t length, const cr_generate_options *o,
                            unsigned char *out, cr_error *err)
{
    const cr_generate_options none = {0};
    cr_error local;
    if (!err)
        err = &local;
    if (!o)
        o = &none;
    if (!m || (length > 0 && !out) || (o->prime_len > 0 && !o->prime))
        return cr_error_set(err, CR_EINVAL, "generate", "%s is NULL",
                            !m          ? "the model"
                            : !o->prime ? "the prime text"
                                        : "out");
    const double temperature = o->temperature == 0 ? 1.0 : o->temperature;
    if (!(temperature > 0) || !isfinite(temperature))
        return cr_error_set(err, CR_EINVAL, "generate",
                            "temperature %g: must be > 0 and finite", o->temperature);
    gen_shape s;
    cr_status st = gen_check(m, &s, err);
    if (st != CR_OK)
        return st;
    cr_vocab *v = cr_vocab_new(s.symbols, s.vocab, err);
    double *window = cr_calloc(s.steps, sizeof *window);
    double *w = cr_calloc(s.vocab, sizeof *w);
    double *prime = cr_calloc(o->prime_len ? o->prime_len : 1, sizeof *prime);
    gsl_rng r = {0};
    if (!v || !window || !w || !prime || cr_rng_open(&r, o->seed) != CR_OK) {
        st = v ? cr_error_set(err, CR_ENOMEM, "generate", "out of memory") : err->status;
        goto done;
    }
    const int nl = cr_vocab_id(v, '\n');
    for (size_t k = 0; k < s.steps; k++)
        window[k] = nl >= 0 ? nl : 0;
    st = cr_vocab_encode(v, o->prime, o->prime_len, prime, err);
    if (st != CR_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        cr_error_set(err, st, "generate", "prime text: %s", why);
        goto done;
    }
    for (size_t k = 0; k < o->prime_len; k++)
        push(window, s.steps, prime[k]);
    cr_model *copy = one_row_copy(m), *run = copy ? copy : m;
    const int training = cr_graph_training(run->g);
    cr_model_set_training(run, 0);
    st = sample(run, &s, length, temperature, out, window, w, &r, err);
    cr_model_set_training(run, training);
    cr_model_free(copy);
done:
    cr_rng_close(&r);
    cr_free(prime);
    cr_free(w);
    cr_free(window);
    cr_vocab_free(v);
    return st;
}
