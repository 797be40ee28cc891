/*
 * model_spec.c - the text form of a layer list, the SPEC of `chainrule
 * train --layers` ("conv2d:32,3x3,pad=1 relu maxpool:2 flatten dense:10"):
 * reading it into cr_layer_spec values (cr_model_spec_parse), and building
 * a model from it with errors that name the layer and its column
 * (cr_model_new_from_spec). The grammar is in docs/nn.md, "Layers as text".
 */
#include "core/internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof *(a))
#define KIND_MASK(k) (1u << (unsigned)(k))
#define KIND(k) KIND_MASK(CR_LAYER_##k)
#define CONV (KIND(CONV1D) | KIND(CONV2D))
#define POOL (KIND(MAXPOOL1D) | KIND(AVGPOOL1D) | KIND(MAXPOOL2D) | KIND(AVGPOOL2D))
#define RECURRENT (KIND(RNN) | KIND(GRU) | KIND(LSTM))
#define WEIGHTED (KIND(DENSE) | CONV | KIND(EMBED) | RECURRENT)
#define TWO_D (KIND(CONV2D) | KIND(MAXPOOL2D) | KIND(AVGPOOL2D))
_Static_assert(CR_LAYER_COUNT <= 32, "a layer kind mask is 32 bits");

/* What an argument's value is. */
typedef enum arg_type {
    ARG_SIZE,   /* a whole number; "V" is the vocabulary size */
    ARG_WINDOW, /* N, or HxW for the 2-D kinds */
    ARG_REAL,   /* a finite number */
    ARG_INIT,   /* an initialisation name */
    ARG_FLAG    /* no value: sets the int field to flag_value */
} arg_type;

/* The arguments a layer takes, as NAME=VALUE (or NAME alone for a flag),
 * each for the kinds of its mask, written into the spec at offset. */
typedef struct arg_def {
    const char *name;
    arg_type type;
    unsigned kinds;
    size_t offset;
    int flag_value;
} arg_def;

#define AT(field) offsetof(cr_layer_spec, field)
static const arg_def args[] = {
    {"units", ARG_SIZE, WEIGHTED, AT(units), 0},
    {"kernel", ARG_WINDOW, CONV | POOL, AT(kernel), 0},
    {"stride", ARG_WINDOW, CONV | POOL, AT(stride), 0},
    {"pad", ARG_WINDOW, CONV | POOL, AT(pad), 0},
    {"rate", ARG_REAL, KIND(DROPOUT), AT(rate), 0},
    {"alpha", ARG_REAL, KIND(ACTIVATION), AT(alpha), 0},
    {"vocab", ARG_SIZE, KIND(EMBED), AT(vocab), 0},
    {"eps", ARG_REAL, KIND(LAYERNORM) | KIND(BATCHNORM), AT(eps), 0},
    {"momentum", ARG_REAL, KIND(BATCHNORM), AT(momentum), 0},
    {"init", ARG_INIT, WEIGHTED, AT(init), 0},
    {"clip", ARG_REAL, WEIGHTED | KIND(LAYERNORM) | KIND(BATCHNORM), AT(clip), 0},
    {"bptt", ARG_SIZE, RECURRENT, AT(bptt), 0},
    {"nobias", ARG_FLAG, KIND(DENSE) | CONV | RECURRENT, AT(bias), 0},
    {"seq", ARG_FLAG, RECURRENT, AT(sequences), 1},
};
#undef AT

/* The arguments a kind takes by position, and how many of them it needs. */
typedef struct kind_syntax {
    unsigned kinds;
    const char *positional[2];
    size_t required;
    const char *example;
} kind_syntax;

static const kind_syntax syntaxes[] = {
    {KIND(DENSE) | KIND(EMBED) | RECURRENT, {"units"}, 1, "%s:128"},
    {CONV, {"units", "kernel"}, 2, "%s:32,3"},
    {POOL, {"kernel"}, 1, "%s:2"},
    {KIND(DROPOUT), {"rate"}, 1, "%s:0.3"},
    {KIND(ACTIVATION), {"alpha"}, 0, "%s:0.1"},
};

/* Where the reader is: the whole text (for columns), the layer being read
 * (1-based) and its text. */
typedef struct reader {
    const char *text;
    size_t layer;
    const char *tok;
    size_t len;
    size_t vocab;
    cr_error *err;
} reader;

/* Sets err->line and err->column (1-based) for the character at p. */
static void locate(const char *text, const char *p, cr_error *err)
{
    int line = 1, column = 1;
    for (const char *q = text; q < p; q++) {
        if (*q == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    if (err) {
        err->line = line;
        err->column = column;
    }
}

/* CR_EINVAL with "layer 3 'conv2d:32,3y3' at column 17: <what>". */
static cr_status fail(const reader *r, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cr_status fail(const reader *r, const char *at, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cr_error tmp;
    cr_error *err = r->err ? r->err : &tmp;
    locate(r->text, at, err);
    const int line = err->line, column = err->column;
    cr_error_set(err, CR_EINVAL, "layers", "layer %zu '%.*s' at column %d%s: %s", r->layer,
                 (int)(r->len > 60 ? 60 : r->len), r->tok, column,
                 line > 1 ? " of its line" : "", what);
    err->line = line;
    err->column = column;
    return CR_EINVAL;
}

/* Reads a whole number from [p, end): digits only. */
static int read_size(const char *p, const char *end, size_t *out)
{
    size_t v = 0;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    *out = v;
    return 0;
}

static cr_status read_value(const reader *r, cr_layer_spec *s, const arg_def *a,
                            const char *p, const char *end)
{
    char buf[64];
    const size_t n = (size_t)(end - p);
    void *field = (char *)s + a->offset;
    if (a->type == ARG_FLAG)
        return fail(r, p, "%s takes no value", a->name);
    if (n == 0)
        return fail(r, p, "%s has no value", a->name);
    if (n >= sizeof buf)
        return fail(r, p, "the value of %s is too long", a->name);
    memcpy(buf, p, n);
    buf[n] = '\0';
    switch (a->type) {
    case ARG_SIZE:
        if (n == 1 && *p == 'V') {
            if (!r->vocab)
                return fail(r, p,
                            "V stands for the vocabulary size, and there is none "
                            "(it comes from text data)");
            *(size_t *)field = r->vocab;
        } else if (read_size(p, end, field) != 0) {
            return fail(r, p, "%s '%s' is not a whole number", a->name, buf);
        }
        return CR_OK;
    case ARG_WINDOW: {
        size_t *w = field;
        const char *x = memchr(p, 'x', n);
        const int two = (KIND_MASK(s->kind) & TWO_D) != 0;
        if (x && !two)
            return fail(r, p, "%s '%s': a 1-D layer takes one number", a->name, buf);
        if (read_size(p, x ? x : end, &w[0]) != 0 ||
            (x && read_size(x + 1, end, &w[1]) != 0))
            return fail(r, p, "%s '%s' is not %s", a->name, buf,
                        two ? "N or HxW (3 or 3x3)" : "a whole number");
        if (!x)
            w[1] = w[0];
        return CR_OK;
    }
    case ARG_REAL: {
        char *stop;
        double v;
        CR_IN_C_LOCALE(v, strtod(buf, &stop));
        if (stop == buf || *stop || !isfinite(v))
            return fail(r, p, "%s '%s' is not a number", a->name, buf);
        *(double *)field = v;
        return CR_OK;
    }
    case ARG_INIT: {
        cr_error e;
        if (cr_init_parse(buf, field, &e) != CR_OK)
            return fail(r, p, "%s", e.message);
        return CR_OK;
    }
    default:
        return CR_OK;
    }
}

/* The spec of layer name NAME (activations by their own name; maxpool and
 * avgpool are the 2-D ones). */
static cr_status read_kind(const reader *r, const char *end, cr_layer_spec *s)
{
    char name[32];
    const size_t n = (size_t)(end - r->tok);
    cr_activation act;
    cr_layer_kind kind;
    if (n == 0)
        return fail(r, r->tok, "no layer name before ':'");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1),
             r->tok);
    if (n < sizeof name && cr_activation_parse(name, &act, NULL) == CR_OK) {
        cr_layer_spec_init(s, CR_LAYER_ACTIVATION);
        s->act = act;
        return CR_OK;
    }
    if (strcmp(name, "maxpool") == 0 || strcmp(name, "avgpool") == 0) {
        cr_layer_spec_init(s, name[0] == 'm' ? CR_LAYER_MAXPOOL2D : CR_LAYER_AVGPOOL2D);
        return CR_OK;
    }
    if (n < sizeof name && strcmp(name, "activation") != 0 &&
        cr_layer_kind_parse(name, &kind, NULL) == CR_OK) {
        cr_layer_spec_init(s, kind);
        return CR_OK;
    }
    char list[512] = "";
    for (int k = 0; k < CR_LAYER_COUNT; k++)
        if (k != CR_LAYER_ACTIVATION)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s ",
                     cr_layer_kind_name((cr_layer_kind)k));
    snprintf(list + strlen(list), sizeof list - strlen(list),
             "maxpool avgpool; and "
             "the activations");
    for (int a = 0; a < CR_ACT_COUNT; a++)
        snprintf(list + strlen(list), sizeof list - strlen(list), " %s",
                 cr_activation_name((cr_activation)a));
    return fail(r, r->tok, "unknown layer '%s' (layers: %s)", name, list);
}

static const arg_def *find_arg(const char *p, size_t n, unsigned kind_mask)
{
    for (size_t i = 0; i < COUNT(args); i++)
        if ((args[i].kinds & kind_mask) && strlen(args[i].name) == n &&
            memcmp(args[i].name, p, n) == 0)
            return &args[i];
    return NULL;
}

/* The layer's name in messages: an activation's own name, else its kind's. */
static const char *layer_name(const cr_layer_spec *s)
{
    return s->kind == CR_LAYER_ACTIVATION ? cr_activation_name(s->act)
                                          : cr_layer_kind_name(s->kind);
}

static int is_positional(const kind_syntax *syn, const char *name)
{
    for (size_t i = 0; syn && i < COUNT(syn->positional) && syn->positional[i]; i++)
        if (strcmp(syn->positional[i], name) == 0)
            return 1;
    return 0;
}

/* "units, kernel, stride=..., ...": what a kind takes, for messages. */
static void describe_args(const kind_syntax *syn, unsigned kind_mask, char *buf,
                          size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; syn && i < COUNT(syn->positional) && syn->positional[i]; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "",
                 syn->positional[i]);
    for (size_t i = 0; i < COUNT(args); i++)
        if ((args[i].kinds & kind_mask) && !is_positional(syn, args[i].name))
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s%s", buf[0] ? ", " : "",
                     args[i].name, args[i].type == ARG_FLAG ? "" : "=...");
    if (!buf[0])
        snprintf(buf, size, "nothing");
}

/* Reads one layer, r->tok[0..r->len). *init_given: whether init= was. */
static cr_status read_layer(const reader *r, cr_layer_spec *s, int *init_given)
{
    const char *end = r->tok + r->len, *colon = memchr(r->tok, ':', r->len);
    cr_status st = read_kind(r, colon ? colon : end, s);
    if (st != CR_OK)
        return st;
    /* of the activations, only leaky_relu and elu take a number */
    const unsigned mask = s->kind == CR_LAYER_ACTIVATION && s->act != CR_ACT_LEAKY_RELU &&
                                  s->act != CR_ACT_ELU
                              ? 0
                              : KIND_MASK(s->kind);
    const kind_syntax *syn = NULL;
    for (size_t i = 0; i < COUNT(syntaxes); i++)
        if (syntaxes[i].kinds & mask)
            syn = &syntaxes[i];
    if (s->kind == CR_LAYER_ACTIVATION && s->act == CR_ACT_ELU)
        s->alpha = CR_ELU_ALPHA;
    char takes[256];
    size_t positional = 0;
    unsigned seen = 0;
    *init_given = 0;
    if (colon && colon + 1 == end)
        return fail(r, colon, "nothing after ':'");
    for (const char *p = colon ? colon + 1 : end; p < end;) {
        const char *q = memchr(p, ',', (size_t)(end - p)), *eq;
        if (!q)
            q = end;
        if (q == p || (q + 1 == end && *q == ','))
            return fail(r, q, "an empty argument");
        eq = memchr(p, '=', (size_t)(q - p));
        const arg_def *a = find_arg(p, (size_t)((eq ? eq : q) - p), mask);
        if (eq || (a && a->type == ARG_FLAG)) {
            if (!a) {
                describe_args(syn, mask, takes, sizeof takes);
                return fail(r, p, "%s takes no argument '%.*s' (it takes: %s)",
                            layer_name(s), (int)((eq ? eq : q) - p), p, takes);
            }
        } else if (!syn || positional >= COUNT(syn->positional) ||
                   !syn->positional[positional]) {
            describe_args(syn, mask, takes, sizeof takes);
            return fail(r, p, "unexpected '%.*s' (%s takes: %s)", (int)(q - p), p,
                        layer_name(s), takes);
        } else {
            const char *name = syn->positional[positional++];
            a = find_arg(name, strlen(name), mask);
        }
        const unsigned bit = 1u << (a - args);
        if (seen & bit)
            return fail(r, p, "%s is given twice", a->name);
        seen |= bit;
        if (a->type == ARG_FLAG)
            *(int *)((char *)s + a->offset) = a->flag_value;
        else if ((st = read_value(r, s, a, eq ? eq + 1 : p, q)) != CR_OK)
            return st;
        if (a->type == ARG_INIT)
            *init_given = 1;
        p = q < end ? q + 1 : q;
    }
    if (s->kind == CR_LAYER_EMBED &&
        !(seen & (1u << (find_arg("vocab", 5, mask) - args)))) {
        if (!r->vocab)
            return fail(r, end, "embed needs the vocabulary size: vocab=N (or text data)");
        s->vocab = r->vocab;
    }
    for (size_t i = 0; syn && i < syn->required; i++) {
        const arg_def *a = find_arg(syn->positional[i], strlen(syn->positional[i]), mask);
        if (!(seen & (1u << (a - args)))) {
            char example[64];
            snprintf(example, sizeof example, syn->example, cr_layer_kind_name(s->kind));
            return fail(r, end, "%s needs its %s, e.g. %s", cr_layer_kind_name(s->kind),
                        a->name, example);
        }
    }
    return CR_OK;
}

/* Whether a layer of weights feeds a ReLU (looking past normalisation). */
static int feeds_relu(const cr_layer_spec *layers, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++) {
        const cr_layer_spec *s = &layers[j];
        if (s->kind == CR_LAYER_BATCHNORM || s->kind == CR_LAYER_LAYERNORM)
            continue;
        return s->kind == CR_LAYER_ACTIVATION &&
               (s->act == CR_ACT_RELU || s->act == CR_ACT_LEAKY_RELU);
    }
    return 0;
}

cr_status cr_model_spec_parse(const char *text, size_t vocab, cr_layer_spec *layers,
                              size_t max_layers, size_t *n_layers, size_t *offsets,
                              cr_error *err)
{
    if (n_layers)
        *n_layers = 0;
    if (!text || !layers || !n_layers)
        return cr_error_set(err, CR_EINVAL, "layers", "the text, layers or count is NULL");
    int init_given[CR_MODEL_MAX_LAYERS];
    reader r = {.text = text, .vocab = vocab, .err = err};
    size_t n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        r.tok = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        r.len = (size_t)(p - r.tok);
        r.layer = n + 1;
        if (n == max_layers || n == CR_MODEL_MAX_LAYERS)
            return fail(&r, r.tok, "more than %zu layers",
                        max_layers < CR_MODEL_MAX_LAYERS ? max_layers
                                                         : (size_t)CR_MODEL_MAX_LAYERS);
        cr_status st = read_layer(&r, &layers[n], &init_given[n]);
        if (st != CR_OK)
            return st;
        if (offsets)
            offsets[n] = (size_t)(r.tok - text);
        n++;
    }
    if (n == 0)
        return cr_error_set(err, CR_EINVAL, "layers", "no layers in '%s'", text);
    for (size_t i = 0; i < n; i++)
        if (!init_given[i] &&
            (layers[i].kind == CR_LAYER_DENSE || layers[i].kind == CR_LAYER_CONV1D ||
             layers[i].kind == CR_LAYER_CONV2D) &&
            feeds_relu(layers, n, i))
            layers[i].init = CR_INIT_HE;
    *n_layers = n;
    return CR_OK;
}

cr_model *cr_model_new_from_spec(const char *text, size_t vocab, int in_rank,
                                 const size_t *in_shape, const cr_model_options *opts,
                                 cr_error *err)
{
    cr_layer_spec layers[CR_MODEL_MAX_LAYERS];
    size_t n, offsets[CR_MODEL_MAX_LAYERS];
    if (cr_model_spec_parse(text, vocab, layers, CR_MODEL_MAX_LAYERS, &n, offsets, err) !=
        CR_OK)
        return NULL;
    cr_error e;
    cr_error_clear(&e);
    cr_model *m = cr_model_new(layers, n, in_rank, in_shape, opts, &e);
    size_t k = 0;
    /* the builder's messages about a layer start "layer K (kind)": add
     * where layer K is in the text */
    if (!m && sscanf(e.message, "layer %zu", &k) == 1 && k >= 1 && k <= n) {
        const char *tok = text + offsets[k - 1];
        size_t len = strcspn(tok, " \t\r\n");
        cr_error at;
        locate(text, tok, &at);
        cr_error_set(err, e.status, "layers", "'%.*s' at column %d%s: %s",
                     (int)(len > 60 ? 60 : len), tok, at.column,
                     at.line > 1 ? " of its line" : "", e.message);
        if (err) {
            err->line = at.line;
            err->column = at.column;
        }
    } else if (!m && err) {
        *err = e;
    }
    return m;
}
