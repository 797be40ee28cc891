/*
 * nn.c - the MLP builder on the graph's ops (cr_sop for x W + b, the
 * activation ops, the loss ops), seeded initialisation, the one set of
 * batch nodes every batch size runs on (shrunk through core/rows.c), input
 * standardisation, prediction and evaluation.
 */
#include "nn/nn_internal.h"
#include "core/rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- names of the enums ---- */

/* Indexed by the enums; the static assertions fail when an enum grows
 * without its name. */
static const char *const act_names[] = {"linear",  "sigmoid",    "tanh",       "relu",
                                        "softmax", "leaky_relu", "elu",        "gelu",
                                        "silu",    "softplus",   "log_softmax"};
static const char *const init_names[] = {"xavier", "he", "uniform", "normal"};
static const char *const loss_names[] = {"sq_error", "mse", "bce", "xent", "xent_index"};
#define COUNT(a) (sizeof(a) / sizeof *(a))
_Static_assert(COUNT(act_names) == CR_ACT_COUNT, "act_names and cr_activation differ");
_Static_assert(COUNT(init_names) == CR_INIT_COUNT, "init_names and cr_init_kind differ");
_Static_assert(COUNT(loss_names) == CR_LOSS_COUNT, "loss_names and cr_loss_kind differ");

const char *cr_activation_name(cr_activation a)
{
    return (unsigned)a < COUNT(act_names) ? act_names[a] : "?";
}

const char *cr_init_name(cr_init_kind k)
{
    return (unsigned)k < COUNT(init_names) ? init_names[k] : "?";
}

const char *cr_loss_name(cr_loss_kind k)
{
    return (unsigned)k < COUNT(loss_names) ? loss_names[k] : "?";
}

static cr_status parse_name(const char *what, const char *const *names, size_t n,
                            const char *name, int *out, cr_error *err)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return CR_OK;
        }
    }
    char list[160] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 names[i]);
    return cr_error_set(err, CR_EINVAL, what, "unknown %s '%s' (expected one of: %s)", what,
                        name ? name : "(null)", list);
}

cr_status cr_activation_parse(const char *name, cr_activation *out, cr_error *err)
{
    int v;
    cr_status st = parse_name("activation", act_names, COUNT(act_names), name, &v, err);
    if (st == CR_OK && out)
        *out = (cr_activation)v;
    return st;
}

cr_status cr_init_parse(const char *name, cr_init_kind *out, cr_error *err)
{
    int v;
    if (name && strcmp(name, "glorot") == 0)
        name = "xavier";
    cr_status st =
        parse_name("initialisation", init_names, COUNT(init_names), name, &v, err);
    if (st == CR_OK && out)
        *out = (cr_init_kind)v;
    return st;
}

cr_status cr_loss_parse(const char *name, cr_loss_kind *out, cr_error *err)
{
    int v;
    cr_status st = parse_name("loss", loss_names, COUNT(loss_names), name, &v, err);
    if (st == CR_OK && out)
        *out = (cr_loss_kind)v;
    return st;
}

/* ---- spec ---- */

void cr_mlp_spec_init(cr_mlp_spec *spec, size_t n_inputs, size_t n_outputs)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof *spec);
    spec->n_inputs = n_inputs;
    spec->n_outputs = n_outputs;
    spec->hidden_act = CR_ACT_SIGMOID;
    spec->out_act = CR_ACT_SIGMOID;
    spec->loss = CR_LOSS_SQ_ERROR;
    spec->bias = 1;
    spec->init = CR_INIT_XAVIER;
    spec->init_lo = 0.0;
    spec->init_hi = 1.0;
    spec->init_std = 0.1;
    spec->seed = 1;
}

/* Widths are capped so that a layer's weight count and byte size fit. */
#define CR_MLP_MAX_WIDTH ((size_t)1 << 24)

cr_status cr_mlp_spec_check(const cr_mlp_spec *s, cr_error *err)
{
    const char *w = "mlp";
    if (!s)
        return cr_error_set(err, CR_EINVAL, w, "the spec is NULL");
    if (s->n_inputs < 1 || s->n_inputs > CR_MLP_MAX_WIDTH || s->n_outputs < 1 ||
        s->n_outputs > CR_MLP_MAX_WIDTH)
        return cr_error_set(err, CR_EINVAL, w,
                            "%zu inputs and %zu outputs: each must be 1 to %zu",
                            s->n_inputs, s->n_outputs, CR_MLP_MAX_WIDTH);
    if (s->n_hidden > CR_MLP_MAX_HIDDEN)
        return cr_error_set(err, CR_EINVAL, w, "%zu hidden layers; at most %d", s->n_hidden,
                            CR_MLP_MAX_HIDDEN);
    for (size_t l = 0; l < s->n_hidden; l++)
        if (s->hidden[l] < 1 || s->hidden[l] > CR_MLP_MAX_WIDTH)
            return cr_error_set(err, CR_EINVAL, w,
                                "hidden layer %zu has width %zu (1 to %zu)", l + 1,
                                s->hidden[l], CR_MLP_MAX_WIDTH);
    if ((unsigned)s->hidden_act >= COUNT(act_names) ||
        cr_activation_is_softmax(s->hidden_act))
        return cr_error_set(err, CR_EINVAL, w,
                            "hidden activation %d: any but softmax and log_softmax",
                            (int)s->hidden_act);
    if ((unsigned)s->out_act >= COUNT(act_names))
        return cr_error_set(err, CR_EINVAL, w, "output activation %d is unknown",
                            (int)s->out_act);
    if ((unsigned)s->loss >= COUNT(loss_names))
        return cr_error_set(err, CR_EINVAL, w, "loss %d is unknown", (int)s->loss);
    if (s->loss == CR_LOSS_XENT_INDEX)
        return cr_error_set(err, CR_EINVAL, w,
                            "the xent_index loss needs a model (cr_model_new), not an MLP");
    if ((unsigned)s->init >= COUNT(init_names))
        return cr_error_set(err, CR_EINVAL, w, "initialisation %d is unknown",
                            (int)s->init);
    if (s->loss == CR_LOSS_BCE && s->out_act != CR_ACT_SIGMOID)
        return cr_error_set(err, CR_EINVAL, w,
                            "the bce loss needs a sigmoid output, not %s",
                            cr_activation_name(s->out_act));
    if (s->loss == CR_LOSS_XENT && (s->out_act != CR_ACT_SOFTMAX || s->n_outputs < 2))
        return cr_error_set(err, CR_EINVAL, w,
                            "the xent loss needs a softmax output with at least 2 classes "
                            "(got %s with %zu outputs)",
                            cr_activation_name(s->out_act), s->n_outputs);
    if (s->out_act == CR_ACT_SOFTMAX && s->n_outputs < 2)
        return cr_error_set(err, CR_EINVAL, w, "a softmax output needs at least 2 units");
    if (!isfinite(s->init_lo) || !isfinite(s->init_hi) || s->init_lo > s->init_hi ||
        !isfinite(s->init_std) || s->init_std < 0)
        return cr_error_set(err, CR_EINVAL, w,
                            "initialisation range [%g, %g] or deviation %g is invalid",
                            s->init_lo, s->init_hi, s->init_std);
    return CR_OK;
}

int cr_mlp_spec_format(const cr_mlp_spec *s, char *buf, size_t size)
{
    if (!s)
        return cr_text_none(buf, size);
    if (!buf)
        size = 0; /* only the length is wanted */
    char widths[CR_MLP_MAX_HIDDEN * 12 + 32];
    int len = snprintf(widths, sizeof widths, "%zu", s->n_inputs);
    for (size_t l = 0; l < s->n_hidden && l < CR_MLP_MAX_HIDDEN; l++)
        len += snprintf(widths + len, sizeof widths - (size_t)len, "-%zu", s->hidden[l]);
    snprintf(widths + len, sizeof widths - (size_t)len, "-%zu", s->n_outputs);
    return snprintf(buf, size, "%s %s/%s %s %s", widths, cr_activation_name(s->hidden_act),
                    cr_activation_name(s->out_act), cr_loss_name(s->loss),
                    s->bias ? "bias" : "no-bias");
}

/* ---- building ---- */

static size_t layer_in(const cr_mlp_spec *s, size_t l)
{
    return l == 0 ? s->n_inputs : s->hidden[l - 1];
}

static size_t layer_out(const cr_mlp_spec *s, size_t l)
{
    return l == s->n_hidden ? s->n_outputs : s->hidden[l];
}

cr_status cr_mlp_graph_error(cr_mlp *m, cr_error *err)
{
    const cr_error *ge = cr_graph_error(m->g);
    return cr_error_set(err, ge->status != CR_OK ? ge->status : CR_ENOMEM, "mlp", "%s",
                        ge->message);
}

/* Adds parameter NAME of the given shape: values from *params (advanced
 * past them) when it is not NULL, else drawn by init with r, else zeros. */
static cr_node *add_param(cr_mlp *m, const char *name, int rank, const size_t *shape,
                          const double **params, gsl_rng *r, cr_error *err)
{
    cr_tensor *t = cr_tensor_new(rank, shape, err);
    if (!t)
        return NULL;
    double *d = cr_tensor_data_mut(t);
    const size_t n = cr_tensor_size(t);
    if (*params) {
        memcpy(d, *params, n * sizeof(double));
        *params += n;
    } else if (r) {
        cr_init_draw(r, m->spec.init, shape[0], shape[1],
                     m->spec.init == CR_INIT_NORMAL ? 0.0 : m->spec.init_lo,
                     m->spec.init == CR_INIT_NORMAL ? m->spec.init_std : m->spec.init_hi, d,
                     n);
    }
    cr_node *p = cr_param(m->g, name, t);
    cr_tensor_free(t);
    if (!p)
        cr_mlp_graph_error(m, err);
    return p;
}

static cr_status make_params(cr_mlp *m, const double *params, cr_error *err)
{
    const cr_mlp_spec *s = &m->spec;
    gsl_rng rng = {0};
    gsl_rng *r = params ? NULL : &rng;
    if (r && cr_rng_open(r, s->seed) != CR_OK)
        return cr_error_set(err, CR_ENOMEM, "mlp",
                            "out of memory for the random generator");
    cr_status st = CR_OK;
    for (size_t l = 0; l < m->n_layers && st == CR_OK; l++) {
        size_t shape[2] = {layer_in(s, l), layer_out(s, l)};
        char name[32];
        snprintf(name, sizeof name, "W%zu", l + 1);
        if (!(m->W[l] = add_param(m, name, 2, shape, &params, r, err)))
            st = err->status;
        snprintf(name, sizeof name, "b%zu", l + 1);
        if (st == CR_OK && s->bias &&
            !(m->b[l] = add_param(m, name, 1, &shape[1], &params, NULL, err)))
            st = err->status;
    }
    cr_rng_close(&rng);
    return st;
}

cr_mlp *cr_mlp_build(const cr_mlp_spec *spec, const double *params, cr_error *err)
{
    cr_mlp *m = cr_calloc(1, sizeof *m);
    if (!m) {
        cr_error_set(err, CR_ENOMEM, "mlp", "out of memory");
        return NULL;
    }
    m->spec = *spec;
    m->n_layers = spec->n_hidden + 1;
    m->g = cr_graph_new();
    if (!m->g) {
        cr_error_set(err, CR_ENOMEM, "mlp", "out of memory");
        cr_free(m);
        return NULL;
    }
    cr_error local;
    if (make_params(m, params, err ? err : &local) != CR_OK) {
        cr_mlp_free(m);
        return NULL;
    }
    return m;
}

cr_mlp *cr_mlp_new(const cr_mlp_spec *spec, cr_error *err)
{
    if (cr_mlp_spec_check(spec, err) != CR_OK)
        return NULL;
    return cr_mlp_build(spec, NULL, err);
}

void cr_mlp_free(cr_mlp *m)
{
    if (!m)
        return;
    cr_free(m->head);
    cr_free(m->mean);
    cr_free(m->std);
    cr_graph_free(m->g);
    cr_free(m);
}

const cr_mlp_spec *cr_mlp_get_spec(const cr_mlp *m) { return m ? &m->spec : NULL; }
cr_graph *cr_mlp_graph(cr_mlp *m) { return m ? m->g : NULL; }
size_t cr_mlp_num_layers(const cr_mlp *m) { return m ? m->n_layers : 0; }

cr_node *cr_mlp_weight(const cr_mlp *m, size_t layer)
{
    return m && layer >= 1 && layer <= m->n_layers ? m->W[layer - 1] : NULL;
}

cr_node *cr_mlp_bias(const cr_mlp *m, size_t layer)
{
    return m && layer >= 1 && layer <= m->n_layers ? m->b[layer - 1] : NULL;
}

size_t cr_mlp_num_weights(const cr_mlp *m)
{
    size_t n = 0;
    for (size_t l = 0; m && l < m->n_layers; l++)
        n += layer_in(&m->spec, l) * layer_out(&m->spec, l) +
             (m->spec.bias ? layer_out(&m->spec, l) : 0);
    return n;
}

size_t cr_mlp_num_classes(const cr_mlp *m)
{
    if (!m)
        return 0;
    if (m->spec.out_act == CR_ACT_SOFTMAX && m->spec.n_outputs >= 2)
        return m->spec.n_outputs;
    if (m->spec.out_act == CR_ACT_SIGMOID && m->spec.n_outputs == 1)
        return 2;
    return 0;
}

/* ---- input statistics ---- */

cr_status cr_nn_check_stats(const double *mean, const double *std, size_t n, cr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(mean[i]))
            return cr_error_set(err, CR_EDOMAIN, "mlp", "input mean %zu is not finite",
                                i + 1);
        if (std && isfinite(std[i]) && std[i] != 0.0 && !(std[i] >= DBL_MIN))
            return cr_error_set(err, CR_EDOMAIN, "mlp",
                                "input %zu's standard deviation %g is negative or "
                                "subnormal",
                                i + 1, std[i]);
    }
    return CR_OK;
}

void cr_nn_copy_stats(const double *mean, const double *std, size_t n, double *to_mean,
                      double *to_std)
{
    for (size_t i = 0; i < n; i++) {
        to_mean[i] = mean[i];
        to_std[i] = std && isfinite(std[i]) && std[i] != 0.0 ? std[i] : 1.0;
    }
}

cr_status cr_mlp_set_input_stats(cr_mlp *m, const double *mean, const double *std,
                                 cr_error *err)
{
    if (!m)
        return cr_error_set(err, CR_EINVAL, "mlp", "set_input_stats: the model is NULL");
    if (!mean) {
        cr_free(m->mean);
        cr_free(m->std);
        m->mean = m->std = NULL;
        return CR_OK;
    }
    const size_t n = m->spec.n_inputs;
    cr_status st = cr_nn_check_stats(mean, std, n, err);
    if (st != CR_OK)
        return st;
    double *nm = cr_malloc(n * sizeof *nm), *ns = cr_malloc(n * sizeof *ns);
    if (!nm || !ns) {
        cr_free(nm);
        cr_free(ns);
        return cr_error_set(err, CR_ENOMEM, "mlp", "out of memory for input statistics");
    }
    cr_nn_copy_stats(mean, std, n, nm, ns);
    cr_free(m->mean);
    cr_free(m->std);
    m->mean = nm;
    m->std = ns;
    return CR_OK;
}

const double *cr_mlp_input_mean(const cr_mlp *m) { return m ? m->mean : NULL; }
const double *cr_mlp_input_std(const cr_mlp *m) { return m ? m->std : NULL; }

/* ---- the nodes of one batch size ---- */

int cr_activation_is_softmax(cr_activation a)
{
    return a == CR_ACT_SOFTMAX || a == CR_ACT_LOG_SOFTMAX;
}

cr_node *cr_nn_activate(cr_graph *g, cr_activation a, double alpha, cr_node *s)
{
    switch (a) {
    case CR_ACT_SIGMOID:
        return cr_sigmoid(g, s);
    case CR_ACT_TANH:
        return cr_tanh(g, s);
    case CR_ACT_RELU:
        return cr_relu(g, s);
    case CR_ACT_SOFTMAX:
        return cr_softmax(g, s);
    case CR_ACT_LEAKY_RELU:
        return cr_leaky_relu(g, s, alpha);
    case CR_ACT_ELU:
        return cr_elu(g, s, alpha);
    case CR_ACT_GELU:
        return cr_gelu(g, s);
    case CR_ACT_SILU:
        return cr_silu(g, s);
    case CR_ACT_SOFTPLUS:
        return cr_softplus(g, s);
    case CR_ACT_LOG_SOFTMAX:
        return cr_log_softmax(g, s, -1);
    case CR_ACT_LINEAR:
    case CR_ACT_COUNT: /* not an activation; the spec was validated */
        break;
    }
    return s;
}

double cr_activation_default_alpha(cr_activation a)
{
    return a == CR_ACT_ELU ? CR_ELU_ALPHA : CR_LEAKY_RELU_SLOPE;
}

static cr_node *make_loss(cr_graph *g, const cr_mlp_spec *s, cr_mlp_batch_nodes *h)
{
    cr_node *logits = h->s[s->n_hidden];
    switch (s->loss) {
    case CR_LOSS_SQ_ERROR:
        return cr_sq_error(g, h->out, h->t);
    case CR_LOSS_MSE:
        return cr_mse(g, h->out, h->t);
    case CR_LOSS_BCE:
        return cr_bce_logits(g, logits, h->t);
    case CR_LOSS_XENT:
        return cr_softmax_xent(g, logits, h->t);
    case CR_LOSS_XENT_INDEX: /* refused by cr_mlp_spec_check */
    case CR_LOSS_COUNT:      /* not a loss; the spec was validated */
        break;
    }
    return NULL;
}

/* The batch nodes of h for rows rows (the batch leaves x and t are not
 * marked yet). On failure the nodes made stay in the graph, unreachable. */
static cr_status build_batch_nodes(cr_mlp *m, cr_mlp_batch_nodes *h, size_t rows)
{
    cr_graph *g = m->g;
    const cr_mlp_spec *s = &m->spec;
    size_t shape[2] = {rows, s->n_inputs};
    h->rows = rows;
    h->x = cr_input(g, NULL, 2, shape);
    shape[1] = s->n_outputs;
    h->t = cr_input(g, NULL, 2, shape);
    cr_node *a = h->x;
    for (size_t l = 0; l < m->n_layers; l++) {
        const int last = l + 1 == m->n_layers;
        h->s[l] = cr_sop(g, 1, &a, &m->W[l], m->b[l]);
        const cr_activation act = last ? s->out_act : s->hidden_act;
        a = h->a[l] = cr_nn_activate(g, act, cr_activation_default_alpha(act), h->s[l]);
    }
    h->out = a;
    h->loss = h->out ? make_loss(g, s, h) : NULL;
    if (!h->loss)
        return cr_graph_error(g)->status;
    const int fused = s->loss == CR_LOSS_BCE || s->loss == CR_LOSS_XENT;
    h->score = fused ? h->s[m->n_layers - 1] : h->out;
    h->threshold = fused ? 0.0 : 0.5;
    return CR_OK;
}

/* Room for a batch node's name: "s" or "a" and any size_t layer number
 * ("s18446744073709551615"), so no snprintf below can truncate. */
enum { BATCH_NAME_SIZE = 24 };

/* Lists b's nodes (x, y, loss, s1, a1, s2, ...) and their names; returns
 * how many. */
static size_t batch_node_list(const cr_mlp *m, const cr_mlp_batch_nodes *b, cr_node **nodes,
                              char (*names)[BATCH_NAME_SIZE])
{
    size_t n = 0;
    nodes[n] = b->x;
    snprintf(names[n++], BATCH_NAME_SIZE, "x");
    nodes[n] = b->t;
    snprintf(names[n++], BATCH_NAME_SIZE, "y");
    nodes[n] = b->loss;
    snprintf(names[n++], BATCH_NAME_SIZE, "loss");
    for (size_t l = 0; l < m->n_layers; l++) {
        nodes[n] = b->s[l];
        snprintf(names[n++], BATCH_NAME_SIZE, "s%zu", l + 1);
        nodes[n] = b->a[l];
        snprintf(names[n++], BATCH_NAME_SIZE, "a%zu", l + 1);
    }
    return n;
}

/* Gives h's nodes the names x, y, s1, a1, ..., loss, first renaming those
 * of the batch nodes it replaces (old, or NULL) NAME@ROWS. Names are a
 * convenience: a failure to name (out of memory) is not fatal. */
static void name_batch_nodes(const cr_mlp *m, const cr_mlp_batch_nodes *h,
                             const cr_mlp_batch_nodes *old)
{
    cr_node *nodes[2 * CR_MLP_MAX_LAYERS + 3];
    char names[2 * CR_MLP_MAX_LAYERS + 3][BATCH_NAME_SIZE], name[BATCH_NAME_SIZE + 24];
    size_t n = old ? batch_node_list(m, old, nodes, names) : 0;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i]->name && strcmp(nodes[i]->name, names[i]) == 0) {
            snprintf(name, sizeof name, "%.*s@%zu", BATCH_NAME_SIZE - 1, names[i],
                     old->rows);
            cr_node_set_name(nodes[i], name);
        }
    }
    n = batch_node_list(m, h, nodes, names);
    for (size_t i = 0; i < n; i++)
        if (!nodes[i]->name) /* an identity activation shares s's node */
            cr_node_set_name(nodes[i], names[i]);
}

cr_status cr_nn_build_grads(cr_graph *g, cr_node *loss)
{
    const size_t rows = cr_graph_rows(g), max = cr_graph_max_rows(g);
    const unsigned flags = cr_graph_flags(g);
    /* rows past the batch hold old values: no trap for them */
    cr_graph_set_flags(g, flags & ~(unsigned)CR_GRAPH_TRAP_NONFINITE);
    cr_status st = rows != max ? cr_graph_set_rows(g, max) : CR_OK;
    if (st == CR_OK)
        st = cr_graph_backward(g, loss, 0);
    if (rows != max) {
        const cr_status back = cr_graph_set_rows(g, rows);
        st = st != CR_OK ? st : back;
    }
    cr_graph_set_flags(g, flags);
    return st;
}

/* Builds the batch nodes for rows rows (at least an evaluation chunk) and
 * makes their x and t the graph's batch leaves. When the model has batch
 * nodes already (built for fewer rows), they are left in the graph,
 * unreachable from the new ones, renamed NAME@ROWS; the parameters stay
 * the same nodes. */
static cr_status grow_batch_nodes(cr_mlp *m, size_t rows, cr_error *err)
{
    cr_graph *g = m->g;
    cr_mlp_batch_nodes *old = m->head;
    if (rows < CR_MLP_EVAL_CHUNK)
        rows = CR_MLP_EVAL_CHUNK;
    /* the old nodes back as built, as rows.c wants every node it keeps */
    if (old && old->rows != cr_graph_max_rows(g)) {
        if (cr_graph_set_rows(g, cr_graph_max_rows(g)) != CR_OK)
            return cr_mlp_graph_error(m, err);
        old->rows = cr_graph_max_rows(g);
    }
    cr_mlp_batch_nodes *h = cr_calloc(1, sizeof *h);
    if (!h)
        return cr_error_set(err, CR_ENOMEM, "mlp", "out of memory for a batch of %zu rows",
                            rows);
    cr_graph_clear_error(g);
    if (build_batch_nodes(m, h, rows) != CR_OK) {
        cr_free(h);
        return cr_mlp_graph_error(m, err);
    }
    if (old)
        cr_rows_forget(g);
    /* only the first leaf of the graph can fail (out of memory for the rows
     * state), before it is marked: every leaf has rows rows */
    if (cr_node_mark_batch(h->x) != CR_OK || cr_node_mark_batch(h->t) != CR_OK) {
        cr_free(h);
        return cr_mlp_graph_error(m, err);
    }
    name_batch_nodes(m, h, old);
    cr_graph_clear_error(g);
    cr_free(old);
    m->head = h;
    m->grads_built = 0;
    return CR_OK;
}

cr_mlp_batch_nodes *cr_mlp_batch_nodes_get(cr_mlp *m, size_t rows, cr_error *err)
{
    if ((!m->head || rows > cr_graph_max_rows(m->g)) &&
        grow_batch_nodes(m, rows, err) != CR_OK)
        return NULL;
    cr_mlp_batch_nodes *h = m->head;
    if (rows != h->rows) {
        /* the gradient nodes are made at the full batch, before the first
         * smaller one */
        if (rows < cr_graph_max_rows(m->g) && !m->grads_built) {
            if (cr_nn_build_grads(m->g, h->loss) != CR_OK) {
                cr_mlp_graph_error(m, err);
                return NULL;
            }
            m->grads_built = 1;
        }
        if (cr_graph_set_rows(m->g, rows) != CR_OK) {
            cr_mlp_graph_error(m, err);
            return NULL;
        }
        h->rows = rows;
    }
    return h;
}

void cr_nn_load_rows(const cr_mlp_rows *x, const double *y, const size_t *idx, size_t first,
                     size_t count, size_t ni, size_t no, const double *mean,
                     const double *std, double *dx, double *dt, size_t cap_rows)
{
    for (size_t r = 0; r < count; r++) {
        const size_t src = idx ? idx[first + r] : first + r;
        double *to = dx + r * ni;
        if (x->u8) {
            const unsigned char *row = x->u8 + src * ni;
            for (size_t j = 0; j < ni; j++)
                to[j] = (double)row[j] * x->scale;
        } else {
            memcpy(to, x->f64 + src * ni, ni * sizeof(double));
        }
        if (mean)
            for (size_t j = 0; j < ni; j++)
                to[j] = (to[j] - mean[j]) / std[j];
        if (y)
            memcpy(dt + r * no, y + src * no, no * sizeof(double));
    }
    if (count < cap_rows) { /* padding rows of a prediction batch */
        memset(dx + count * ni, 0, (cap_rows - count) * ni * sizeof(double));
        memset(dt + count * no, 0, (cap_rows - count) * no * sizeof(double));
    }
}

void cr_mlp_batch_nodes_load(cr_mlp *m, cr_mlp_batch_nodes *h, const cr_mlp_rows *x,
                             const double *y, const size_t *idx, size_t first, size_t count)
{
    cr_nn_load_rows(x, y, idx, first, count, m->spec.n_inputs, m->spec.n_outputs, m->mean,
                    m->std, h->x->value.data, h->t->value.data, h->rows);
}

double cr_mlp_batch_nodes_loss_per_row(const cr_mlp *m, const cr_mlp_batch_nodes *h)
{
    const double v = cr_node_scalar(h->loss);
    return m->spec.loss == CR_LOSS_SQ_ERROR ? v / (double)h->rows : v;
}

size_t cr_nn_row_class(const double *row, size_t n, double threshold)
{
    if (n == 1)
        return row[0] >= threshold;
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

size_t cr_mlp_output_class(const cr_mlp *m, const double *row)
{
    if (!m || !row)
        return CR_MLP_NO_CLASS;
    const size_t no = m->spec.n_outputs;
    if (cr_first_nonfinite(row, no) != no)
        return CR_MLP_NO_CLASS;
    return cr_mlp_num_classes(m) ? cr_nn_row_class(row, no, 0.5) : 0;
}

size_t cr_mlp_batch_nodes_correct(const cr_mlp *m, const cr_mlp_batch_nodes *h,
                                  size_t *confusion)
{
    const size_t k = cr_mlp_num_classes(m), no = m->spec.n_outputs;
    if (k == 0)
        return 0;
    const double *score = h->score->value.data, *t = h->t->value.data;
    size_t correct = 0;
    for (size_t r = 0; r < h->rows; r++) {
        const size_t truth = cr_nn_row_class(t + r * no, no, 0.5);
        const size_t pred = cr_nn_row_class(score + r * no, no, h->threshold);
        correct += truth == pred;
        if (confusion)
            confusion[truth * k + pred]++;
    }
    return correct;
}

/* ---- predict and evaluate ---- */

/* CR_EDOMAIN naming the first of rows output rows (numbered from first + 1)
 * that holds a NaN or an infinity, or CR_OK: a model whose output is not
 * finite has no prediction to give. */
cr_status cr_nn_check_outputs(const char *what, const double *out, size_t first,
                              size_t rows, size_t n_outputs, cr_error *err)
{
    const size_t k = cr_first_nonfinite(out, rows * n_outputs);
    if (k == rows * n_outputs)
        return CR_OK;
    const double v = out[k];
    return cr_error_set(
        err, CR_EDOMAIN, what,
        "%s: row %zu gives %s as output %zu (an input or a weight too large "
        "or not finite)",
        what, first + k / n_outputs + 1,
        isnan(v) ? "nan"
        : v > 0  ? "inf"
                 : "-inf",
        k % n_outputs + 1);
}

cr_status cr_nn_check_data(const char *what, const void *x, const void *out, size_t rows,
                           cr_error *err)
{
    if (!x || !out)
        return cr_error_set(err, CR_EINVAL, what, "%s: a data pointer is NULL", what);
    if (rows == 0)
        return cr_error_set(err, CR_EINVAL, what, "%s: no rows", what);
    return CR_OK;
}

cr_status cr_learner_predict(const cr_learner *l, const double *x, size_t rows, double *out,
                             cr_error *err)
{
    cr_status st = cr_nn_check_data("predict", x, out, rows, err);
    const size_t no = l->n_outputs, chunk = l->eval_chunk;
    const int training = cr_graph_training(l->g);
    if (l->reset_state)
        l->reset_state(l->net); /* every window from a zero state */
    cr_graph_set_training(l->g, 0);
    for (size_t first = 0; st == CR_OK && first < rows; first += chunk) {
        const size_t n = rows - first < chunk ? rows - first : chunk;
        void *h = l->batch(l->net, n, err);
        if (!h) {
            st = err ? err->status : CR_ENOMEM;
            break;
        }
        l->load(l->net, h, &(cr_mlp_rows){.f64 = x}, NULL, NULL, first, n);
        cr_node *o = l->output(h);
        if ((st = cr_graph_forward(l->g, o)) != CR_OK) {
            const cr_error *ge = cr_graph_error(l->g);
            cr_error_set(err, ge->status, "predict", "%s", ge->message);
            break;
        }
        if ((st = cr_nn_check_outputs("predict", o->value.data, first, n, no, err)) !=
            CR_OK)
            break;
        memcpy(out + first * no, o->value.data, n * no * sizeof(double));
    }
    cr_graph_set_training(l->g, training);
    return st;
}

cr_status cr_mlp_predict(cr_mlp *m, const double *x, size_t rows, double *out,
                         cr_error *err)
{
    if (!m)
        return cr_error_set(err, CR_EINVAL, "predict", "predict: the model is NULL");
    cr_learner l;
    cr_mlp_learner(m, &l);
    return cr_learner_predict(&l, x, rows, out, err);
}

cr_status cr_learner_eval_rows(const cr_learner *l, const cr_mlp_rows *x, const double *y,
                               const size_t *idx, size_t rows, cr_eval_result *res,
                               cr_error *err)
{
    memset(res, 0, sizeof *res);
    res->accuracy = NAN;
    cr_status st =
        cr_nn_check_data("evaluate", x->f64 ? (const void *)x->f64 : x->u8, y, rows, err);
    if (st != CR_OK)
        return st;
    if (l->reset_state)
        l->reset_state(l->net); /* every window from a zero state */
    const size_t k = l->n_classes, chunk = l->eval_chunk;
    if (k) {
        res->n_classes = k;
        if (k <= CR_EVAL_CONFUSION_MAX &&
            !(res->confusion = cr_calloc(k * k, sizeof *res->confusion)))
            return cr_error_set(err, CR_ENOMEM, "evaluate", "out of memory");
    }
    const int training = cr_graph_training(l->g);
    cr_graph_set_training(l->g, 0);
    double total = 0.0;
    size_t correct = 0;
    for (size_t first = 0; first < rows; first += chunk) {
        const size_t n = rows - first < chunk ? rows - first : chunk;
        void *h = l->batch(l->net, n, err);
        if (!h) {
            st = err ? err->status : CR_ENOMEM;
            break;
        }
        l->load(l->net, h, x, y, idx, first, n);
        cr_node *loss = l->loss(h);
        if ((st = cr_graph_forward(l->g, loss)) != CR_OK) {
            const cr_error *ge = cr_graph_error(l->g);
            cr_error_set(err, ge->status, "evaluate", "%s", ge->message);
            break;
        }
        st = cr_nn_check_outputs("evaluate", l->output(h)->value.data, first, n,
                                 l->n_outputs, err);
        if (st == CR_OK && !isfinite(loss->value.data[0]))
            st = cr_error_set(err, CR_EDOMAIN, "evaluate",
                              "evaluate: the loss of rows %zu to %zu is not finite (a "
                              "target that is not finite, or outside the loss's domain)",
                              first + 1, first + n);
        if (st != CR_OK)
            break;
        total += l->loss_per_row(l->net, h) * (double)n;
        correct += l->correct(l->net, h, res->confusion);
    }
    cr_graph_set_training(l->g, training);
    if (st != CR_OK) {
        cr_eval_result_free(res);
        return st;
    }
    res->rows = rows;
    res->loss = total / (double)rows;
    if (k)
        res->accuracy = (double)correct / (double)(rows * l->positions);
    return CR_OK;
}

cr_status cr_mlp_evaluate(cr_mlp *m, const double *x, const double *y, size_t rows,
                          cr_eval_result *res, cr_error *err)
{
    if (!m || !res)
        return cr_error_set(err, CR_EINVAL, "evaluate",
                            "evaluate: the model or result is NULL");
    cr_learner l;
    cr_mlp_learner(m, &l);
    return cr_learner_eval_rows(&l, &(cr_mlp_rows){.f64 = x}, y, NULL, rows, res, err);
}

void cr_eval_result_free(cr_eval_result *res)
{
    if (!res)
        return;
    cr_free(res->confusion);
    memset(res, 0, sizeof *res);
}
